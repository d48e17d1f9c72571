"""Module semantics, replaying torch.nn.Module's documented behaviour (../shared/seed/torch-nn-notes.md) against torch."""
from __future__ import annotations

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nngraph
import nngraph.nn as nn
from nngraph.nn.modules import hooks as global_hooks


def both(build):
    """The same construction in torch.nn and nngraph.nn, with torch's weights copied into ours."""
    torch.manual_seed(0)
    t = build(torch.nn)
    o = build(nn)
    o.load_state_dict({k: v.detach().numpy().copy() for k, v in t.state_dict().items()})
    return o, t


def _make_model_class(lib):
    """A small custom model written for both libraries (module-level classes, so instances pickle)."""
    if True:
        class Model(lib.Module):
            def __init__(self):
                super().__init__()
                self.conv = lib.Conv2d(1, 4, 3)
                self.bn = lib.BatchNorm2d(4)
                self.head = lib.Sequential(lib.Flatten(), lib.Linear(4 * 6 * 6, 3))
                self.register_buffer("scale", torch.ones(1) if lib is torch.nn else np.ones(1, np.float32))
                self.register_buffer("tmp", torch.zeros(2) if lib is torch.nn else np.zeros(2, np.float32),
                                     persistent=False)

            def forward(self, x):
                return self.head(self.bn(self.conv(x))) * self.scale

    return Model


OurModel = _make_model_class(nn)
OurModel.__qualname__ = "OurModel"  # pickle finds it by qualified name; repr says "Model"
TorchModel = _make_model_class(torch.nn)
TorchModel.__qualname__ = "TorchModel"


class Net:
    @staticmethod
    def build(lib):
        return TorchModel() if lib is torch.nn else OurModel()


# ---------------------------------------------------------------- traversal

def test_modules_deduplicates_shared_module():
    l = nn.Linear(2, 2)
    net = nn.Sequential(l, l)
    mods = list(net.modules())
    assert len(mods) == 2 and mods[0] is net and mods[1] is l
    named = list(net.named_modules())
    assert [n for n, _ in named] == ["", "0"]
    assert [n for n, _ in net.named_modules(remove_duplicate=False)] == ["", "0", "1"]
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias"]
    # state_dict lists a shared module under every name, as torch does
    assert list(net.state_dict()) == list(torch.nn.Sequential(*[torch.nn.Linear(2, 2)] * 2).state_dict())


def test_named_members_match_torch():
    o, t = both(Net.build)
    assert [n for n, _ in o.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in o.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in o.named_children()] == [n for n, _ in t.named_children()]
    assert [n for n, _ in o.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in o.named_parameters(prefix="m", recurse=False)] == \
        [n for n, _ in t.named_parameters(prefix="m", recurse=False)]
    assert list(o.state_dict()) == list(t.state_dict())
    assert "tmp" not in o.state_dict()


def test_apply_visits_children_first_then_self():
    order = []
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(2, 2)))
    assert net.apply(lambda m: order.append(type(m).__name__)) is net
    assert order == ["Linear", "ReLU", "Linear", "Sequential", "Sequential"]

    def init_weights(m):
        if type(m) is nn.Linear:
            m.weight.data.fill(1.0)
    net.apply(init_weights)
    np.testing.assert_array_equal(net[0].weight, np.ones((2, 2)))


def test_get_submodule_parameter_buffer():
    o, _ = both(Net.build)
    assert o.get_submodule("head.1") is o.head[1]
    assert o.get_parameter("head.1.weight") is o.head[1].weight
    assert o.get_buffer("bn.running_mean") is o.bn.running_mean
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        o.get_submodule("head.nope")
    with pytest.raises(AttributeError, match="not an nn.Parameter"):
        o.get_parameter("bn.running_mean")


# ---------------------------------------------------------------- hooks

def test_forward_pre_hook_replaces_input_and_wraps_non_tuple():
    lin = nn.Linear(2, 2)
    x = np.ones((1, 2), np.float32)
    seen = []
    h = lin.register_forward_pre_hook(lambda m, args: args[0] * 0)  # non-tuple: wrapped
    out = lin(x)
    np.testing.assert_allclose(out, np.broadcast_to(lin.bias, (1, 2)))
    h.remove()
    np.testing.assert_allclose(lin(x), x @ lin.weight.T + lin.bias, rtol=1e-6)
    with lin.register_forward_pre_hook(lambda m, args: seen.append(args) or None):
        lin(x)
    lin(x)
    assert len(seen) == 1


def test_forward_hook_replaces_output_and_order_prepend():
    relu = nn.ReLU()
    calls = []
    relu.register_forward_hook(lambda m, a, o: calls.append("first"))
    relu.register_forward_hook(lambda m, a, o: calls.append("prepended"), prepend=True)
    relu.register_forward_hook(lambda m, a, o: o + 1)
    out = relu(np.array([-1.0, 2.0]))
    np.testing.assert_array_equal(out, [1.0, 3.0])
    assert calls == ["prepended", "first"]


def test_hooks_with_kwargs():
    class M(nn.Module):
        def forward(self, x, scale=1.0):
            return x * scale

    m = M()
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"scale": 3.0}), with_kwargs=True)
    got = {}
    m.register_forward_hook(lambda mod, args, kwargs, out: got.update(kwargs), with_kwargs=True)
    np.testing.assert_array_equal(m(np.ones(2), scale=2.0), [3.0, 3.0])
    assert got == {"scale": 3.0}


def test_hooks_match_torch_order_on_nested_model():
    o, t = both(Net.build)
    logs = {"o": [], "t": []}
    for key, model in (("o", o), ("t", t)):
        for name, mod in model.named_modules():
            mod.register_forward_pre_hook(lambda m, a, n=name, k=key: logs[k].append(("pre", n)))
            mod.register_forward_hook(lambda m, a, out, n=name, k=key: logs[k].append(("post", n, tuple(out.shape))))
    o.eval(), t.eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    o(x)
    with torch.no_grad():
        t(torch.from_numpy(x))
    assert logs["o"] == logs["t"]


def test_always_call_hook_runs_when_forward_raises():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    m, called = Boom(), []
    m.register_forward_hook(lambda mod, a, out: called.append(out), always_call=True)
    with pytest.raises(ValueError, match="boom"):
        m(1)
    assert called == [None]


def test_global_hooks_fire_for_every_module_and_remove():
    seen = []
    h1 = global_hooks.register_module_forward_pre_hook(lambda m, a: seen.append(("pre", type(m).__name__)))
    h2 = global_hooks.register_module_forward_hook(lambda m, a, o: seen.append(("post", type(m).__name__)))
    try:
        nn.Sequential(nn.ReLU())(np.ones(2))
    finally:
        h1.remove()
        h2.remove()
    assert seen == [("pre", "Sequential"), ("pre", "ReLU"), ("post", "ReLU"), ("post", "Sequential")]
    nn.ReLU()(np.ones(1))
    assert len(seen) == 4


def test_backward_hooks_are_refused_clearly():
    lin = nn.Linear(2, 2)
    for register in (lin.register_full_backward_hook, lin.register_backward_hook,
                     lin.register_full_backward_pre_hook, global_hooks.register_module_full_backward_hook):
        with pytest.raises(NotImplementedError, match="no autograd"):
            register(lambda *a: None)


def test_hook_version_changes_on_register_and_remove():
    lin = nn.Linear(2, 2)
    v0 = lin._hook_version
    h = lin.register_forward_hook(lambda *a: None)
    assert lin._hook_version == v0 + 1
    h.remove()
    assert lin._hook_version == v0 + 2
    h.remove()  # removing twice is a no-op
    assert lin._hook_version == v0 + 2


# ---------------------------------------------------------------- state_dict

def test_state_dict_values_share_memory_and_keep_vars():
    lin = nn.Linear(2, 3)
    sd = lin.state_dict()
    assert type(sd) is OrderedDict and list(sd) == ["weight", "bias"]
    assert type(sd["weight"]) is np.ndarray and np.shares_memory(sd["weight"], lin.weight)
    assert lin.state_dict(keep_vars=True)["weight"] is lin.weight
    assert list(lin.state_dict(prefix="p.")) == ["p.weight", "p.bias"]


def test_load_state_dict_strict_error_lists_every_key_and_changes_nothing():
    o, t = both(Net.build)
    before = {k: v.copy() for k, v in o.state_dict().items()}
    sd = {k: np.zeros_like(v) for k, v in o.state_dict().items()}
    del sd["conv.weight"], sd["bn.running_var"]
    sd["extra.weight"] = np.zeros(1)
    sd["bn.weight"] = np.zeros(7)  # wrong shape
    with pytest.raises(RuntimeError) as info:
        o.load_state_dict(sd)
    msg = str(info.value)
    for needle in ('"conv.weight"', '"bn.running_var"', '"extra.weight"', "size mismatch for bn.weight",
                   "(7,)", "(4,)", "Missing key(s)", "Unexpected key(s)"):
        assert needle in msg
    for k, v in o.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=f"{k} changed by a failed load")


def test_load_state_dict_non_strict_returns_keys_like_torch():
    o, t = both(Net.build)
    sd = {k: v for k, v in t.state_dict().items() if not k.startswith("bn.")}
    sd["junk"] = torch.zeros(1)
    ours = o.load_state_dict(sd, strict=False)
    ref = t.load_state_dict(sd, strict=False)
    assert ours.missing_keys == ref.missing_keys
    assert ours.unexpected_keys == ref.unexpected_keys
    missing, unexpected = ours
    assert missing == ref.missing_keys


def test_load_state_dict_accepts_torch_tensors_casts_and_keeps_identity():
    o, t = both(Net.build)
    w = o.conv.weight
    t.double()
    o.load_state_dict(t.state_dict())  # torch float64 tensors -> our float32 parameters, in place
    assert o.conv.weight is w and w.dtype == np.float32
    np.testing.assert_allclose(w, t.conv.weight.detach().numpy(), rtol=1e-6)
    assert o.bn.num_batches_tracked.dtype == np.int64


def test_load_state_dict_assign_replaces_arrays():
    lin = nn.Linear(2, 2)
    new = {"weight": np.full((2, 2), 3.0, np.float64), "bias": np.zeros(2, np.float64)}
    lin.load_state_dict(new, assign=True)
    assert isinstance(lin.weight, nn.Parameter) and lin.weight.dtype == np.float64
    np.testing.assert_array_equal(lin.weight, new["weight"])


def test_failed_load_leaves_user_dict_untouched():
    lin = nn.Linear(2, 2)
    sd = {"weight": np.ones((2, 2)), "bias": np.ones(2)}
    lin.load_state_dict(sd)
    lin.weight.data[...] = 5
    assert sd["weight"][0, 0] == 1  # copied, not aliased


# ---------------------------------------------------------------- attributes

def test_setattr_registration_rules():
    m = nn.Module()
    m.w = nn.Parameter(np.ones(2))
    m.register_buffer("b", np.zeros(2))
    m.child = nn.ReLU()
    assert list(m._parameters) == ["w"] and list(m._buffers) == ["b"] and list(m._modules) == ["child"]
    m.b = np.full(2, 7.0)  # assigning an array to a registered buffer updates it
    np.testing.assert_array_equal(m.state_dict()["b"], [7.0, 7.0])
    with pytest.raises(TypeError, match="Parameter or None expected"):
        m.w = np.zeros(2)
    m.w = None
    assert "w" not in m.state_dict()
    m.buf2 = nn.Buffer(np.ones(1), persistent=False)
    assert "buf2" in dict(m.named_buffers()) and "buf2" not in m.state_dict()
    assert {"b", "child", "buf2"} <= set(dir(m))
    del m.child
    assert "child" not in m._modules
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        m.nope
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("training", np.zeros(1))
    with pytest.raises(KeyError, match="contain"):
        m.add_module("a.b", nn.ReLU())


def test_train_eval_recursive():
    o, _ = both(Net.build)
    o.eval()
    assert not any(m.training for m in o.modules())
    assert o.train() is o and all(m.training for m in o.modules())
    with pytest.raises(ValueError, match="boolean"):
        o.train("yes")


def test_zero_grad_and_requires_grad():
    lin = nn.Linear(2, 2)
    lin.weight.grad = np.ones((2, 2))
    lin.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(lin.weight.grad, 0)
    lin.zero_grad()
    assert lin.weight.grad is None
    assert lin.requires_grad_(False) is lin and not any(p.requires_grad for p in lin.parameters())


# ---------------------------------------------------------------- dtype and device

@pytest.mark.parametrize("convert,dtype", [(lambda m: m.double(), np.float64), (lambda m: m.half(), np.float16),
                                           (lambda m: m.float(), np.float32), (lambda m: m.to(np.float64), np.float64),
                                           (lambda m: m.to("float16"), np.float16),
                                           (lambda m: m.to(dtype=np.float64), np.float64),
                                           (lambda m: m.to("cpu", np.float64), np.float64),
                                           (lambda m: m.type(np.float64), np.float64)])
def test_dtype_conversion_keeps_integer_buffers(convert, dtype):
    o, _ = both(Net.build)
    assert convert(o) is o
    for name, a in o.state_dict().items():
        expected = np.int64 if name.endswith("num_batches_tracked") else dtype
        assert a.dtype == expected, name
    assert all(isinstance(p, nn.Parameter) for p in o.parameters())


def test_devices():
    lin = nn.Linear(2, 2)
    assert lin.cpu() is lin and lin.to("cpu") is lin
    with pytest.raises(RuntimeError, match="target='cuda'"):
        lin.to("cuda")
    with pytest.raises(RuntimeError, match="target='cuda'"):
        lin.cuda()
    with pytest.raises(TypeError, match="floating"):
        lin.to(np.int32)


# ---------------------------------------------------------------- repr, pickle, copy

def test_repr_matches_torch():
    for build in (lambda lib: lib.Linear(2, 2),
                  lambda lib: lib.Sequential(lib.Linear(2, 2), lib.ReLU()),
                  lambda lib: lib.Sequential(OrderedDict([("conv1", lib.Conv2d(1, 20, 5)), ("relu1", lib.ReLU())])),
                  lambda lib: lib.ModuleList([lib.Linear(2, 2), lib.Linear(2, 2), lib.ReLU()]),
                  lambda lib: lib.ModuleDict({"a": lib.ReLU(), "b": lib.Sequential(lib.Linear(1, 1))}),
                  Net.build):
        assert repr(build(nn)) == repr(build(torch.nn))


def test_pickle_and_deepcopy_roundtrip():
    o, _ = both(Net.build)
    o.eval()
    x = np.random.default_rng(0).standard_normal((1, 1, 8, 8)).astype(np.float32)
    for clone in (pickle.loads(pickle.dumps(o)), copy.deepcopy(o)):
        np.testing.assert_array_equal(clone(x), o(x))
        assert clone.conv.weight is not o.conv.weight
        assert isinstance(clone.conv.weight, nn.Parameter)
        assert list(clone.state_dict()) == list(o.state_dict())


def test_parameter_behaviour():
    p = nn.Parameter(np.ones((2, 2), np.float32))
    assert p.requires_grad and p.grad is None
    assert repr(p).startswith("Parameter containing:\narray(")
    assert type(p * 2) is np.ndarray and type(p[0]) is np.ndarray and type(p.reshape(4)) is np.ndarray
    assert type(p.data) is np.ndarray and np.shares_memory(p.data, p)
    p.data = np.zeros((2, 2))
    np.testing.assert_array_equal(p, 0)
    with pytest.raises(ValueError, match="shape"):
        p.data = np.zeros(3)
    assert not nn.Parameter(np.ones(1), requires_grad=False).requires_grad


# ---------------------------------------------------------------- containers

def test_sequential_list_operations():
    a, b, c = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    s = nn.Sequential(a, b)
    assert s[-1] is b and len(s) == 2 and list(s) == [a, b]
    assert isinstance(s[0:1], nn.Sequential) and list(s[0:1]) == [a]
    s.append(c)
    s.insert(0, nn.Identity())
    assert [type(m).__name__ for m in s] == ["Identity", "ReLU", "Tanh", "Sigmoid"]
    assert s.pop(1) is a
    del s[0]
    assert list(s._modules) == ["0", "1"]
    s.extend([nn.ReLU()])
    s[0] = nn.ReLU6()
    assert [type(m).__name__ for m in s] == ["ReLU6", "Sigmoid", "ReLU"]
    with pytest.raises(IndexError):
        s[5]


def test_container_key_layouts_match_torch():
    def build(lib):
        class Holder(lib.Module):
            def __init__(self):
                super().__init__()
                ones = (lambda *s: torch.ones(*s)) if lib is torch.nn else (lambda *s: np.ones(s, np.float32))
                self.blocks = lib.ModuleList([lib.Linear(2, 2), lib.Sequential(lib.Linear(2, 3), lib.ReLU())])
                self.heads = lib.ModuleDict({"cls": lib.Linear(3, 4), "box": lib.Linear(3, 2)})
                self.plist = lib.ParameterList([lib.Parameter(ones(2)), lib.Parameter(ones(3))])
                self.pdict = lib.ParameterDict({"a": lib.Parameter(ones(1)), "b": lib.Parameter(ones(2, 2))})
                self.seq = lib.Sequential(OrderedDict([("fc", lib.Linear(2, 2))]))
        return Holder()

    o, t = build(nn), build(torch.nn)
    assert [(k, tuple(v.shape)) for k, v in o.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in t.state_dict().items()]
    assert len(o.plist) == 2 and o.pdict["b"].shape == (2, 2) and list(o.pdict.keys()) == ["a", "b"]
    assert list(o.heads.keys()) == ["cls", "box"] and "cls" in o.heads


# ---------------------------------------------------------------- seeding and files

def test_manual_seed_reproduces_initialization():
    nngraph.manual_seed(123)
    a = nn.Linear(4, 4).weight.copy()
    nngraph.manual_seed(123)
    b = nn.Linear(4, 4).weight.copy()
    nngraph.manual_seed(124)
    c = nn.Linear(4, 4).weight.copy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("ext", ["npz", "safetensors"])
def test_save_load_roundtrip(tmp_path, ext):
    o, _ = both(Net.build)
    path = tmp_path / f"w.{ext}"
    nngraph.save(o.state_dict(), path)
    loaded = nngraph.load(path)
    assert list(loaded) == list(o.state_dict()) or set(loaded) == set(o.state_dict())
    for k, v in o.state_dict().items():
        assert loaded[k].dtype == v.dtype
        np.testing.assert_array_equal(loaded[k], v)


def test_loads_safetensors_exported_from_pytorch(tmp_path):
    st = pytest.importorskip("safetensors.torch")
    o, t = both(Net.build)
    with torch.no_grad():
        for p in t.parameters():
            p.add_(1.0)
    path = tmp_path / "torch.safetensors"
    st.save_file(t.state_dict(), str(path))
    o.load_state_dict(nngraph.load(path))
    o.eval(), t.eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    with torch.no_grad():
        ref = t(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(o(x), ref, rtol=1e-4, atol=1e-5)
    # and our files load in the safetensors package
    ours = tmp_path / "ours.safetensors"
    nngraph.save(o.state_dict(), ours)
    back = st.load_file(str(ours))
    for k, v in o.state_dict().items():
        np.testing.assert_array_equal(back[k].numpy(), v)


def test_unknown_weight_format_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"\.npz or \.safetensors"):
        nngraph.save({}, tmp_path / "w.pt")
