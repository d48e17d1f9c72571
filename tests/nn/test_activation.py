"""Activations beyond the op table: 0-d and float16/integer input, overflow safety, in-place semantics, RReLU and
gumbel_softmax statistics, torch's implicit softmax dim, argument errors, signatures and the primitive registry."""
from __future__ import annotations

import inspect
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nngraph
import nngraph.nn as nn
import nngraph.nn.functional as F
from nngraph.errors import InputError
from nngraph.ops import Fusion, get_op

# name -> constructor arguments, for every activation module with a plain (input) -> output forward.
LAYERS = {
    "ReLU": (), "ReLU6": (), "LeakyReLU": (0.2,), "ELU": (0.5,), "CELU": (1.5,), "SELU": (), "GELU": (),
    "SiLU": (), "Mish": (), "Sigmoid": (), "LogSigmoid": (), "Tanh": (), "Hardtanh": (-0.5, 2.0), "Hardswish": (),
    "Hardsigmoid": (), "Hardshrink": (0.3,), "Softshrink": (0.3,), "Tanhshrink": (), "Softplus": (2.0, 3.0),
    "Softsign": (), "Threshold": (0.1, 5.0), "RReLU": (), "PReLU": (), "Softmax": (0,), "LogSoftmax": (-1,),
    "Softmin": (0,),
}


def _torch_out(layer, x):
    with torch.no_grad():
        return layer(torch.from_numpy(np.array(x, copy=True))).numpy()


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_zero_dim_input(name):
    args = LAYERS[name]
    x = np.array(-0.7)
    ours = getattr(nn, name)(*args).eval().double()(x)
    ref = _torch_out(getattr(torch.nn, name)(*args).eval().double(), x)
    assert isinstance(ours, np.ndarray) and ours.shape == () and ours.dtype == np.float64
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)


def test_zero_dim_functionals():
    x, w = np.array(-1.5), np.array([0.3])
    np.testing.assert_allclose(F.prelu(x, w), -0.45)
    assert F.prelu(x, w).shape == ()
    assert F.softmax(np.array(3.0), -1) == 1.0 and F.log_softmax(np.array(3.0), 0) == 0.0
    assert F.gumbel_softmax(np.array(0.2)).shape == ()


@pytest.mark.parametrize("name", sorted(set(LAYERS) - {"RReLU"}))
def test_float16_matches_torch(name):
    args = LAYERS[name]
    x = np.concatenate([np.linspace(-8, 8, 41), [-100.0, 100.0, 6e4, -6e4]]).astype(np.float16)
    ours = getattr(nn, name)(*args).half()(x)
    ref = _torch_out(getattr(torch.nn, name)(*args).half(), x)
    assert ours.dtype == np.float16
    np.testing.assert_allclose(ours.astype(np.float64), ref.astype(np.float64), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8])
@pytest.mark.parametrize("fn", [lambda F, x: F.relu(x), lambda F, x: F.relu6(x), lambda F, x: F.hardtanh(x),
                                lambda F, x: F.hardtanh(x, -3, 4), lambda F, x: F.threshold(x, 2, 7)])
def test_integer_input_keeps_dtype(fn, dtype):
    x = np.arange(-9, 10).astype(dtype) if np.dtype(dtype).kind == "i" else np.arange(0, 19, dtype=dtype)
    try:
        ref = fn(torch.nn.functional, torch.from_numpy(x.copy())).numpy()
    except RuntimeError as e:  # hardtanh: "cannot do hardtanh on an unsigned type with negative limits"
        with pytest.raises(InputError, match="non-negative limits for an unsigned input"):
            fn(F, x)
        assert "unsigned" in str(e)
        return
    ours = fn(F, x)
    assert ours.dtype == x.dtype
    np.testing.assert_array_equal(ours, ref)


OVERFLOW_PRONE = ["sigmoid", "logsigmoid", "softplus", "silu", "mish", "elu", "celu", "selu", "gelu", "tanh",
                  "softsign", "tanhshrink", "hardswish", "leaky_relu"]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("name", OVERFLOW_PRONE + ["softmax", "log_softmax", "softmin", "gelu_tanh"])
def test_large_inputs_do_not_overflow(name, dtype):
    x = np.array([-6e4, -1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4, 6e4], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow/invalid warnings
        if name in ("softmax", "log_softmax", "softmin"):
            ours = getattr(F, name)(x, 0)
            ref = getattr(torch.nn.functional, name)(torch.from_numpy(x.copy()), 0).numpy()
        elif name == "gelu_tanh":
            ours = F.gelu(x, approximate="tanh")
            ref = torch.nn.functional.gelu(torch.from_numpy(x.copy()), approximate="tanh").numpy()
        else:
            ours = getattr(F, name)(x)
            ref = getattr(torch.nn.functional, name)(torch.from_numpy(x.copy())).numpy()
    assert np.isfinite(ours).all() or name == "log_softmax"
    np.testing.assert_allclose(ours.astype(np.float64), ref.astype(np.float64), rtol=1e-3, atol=1e-3)


def test_log_softmax_is_exact_for_far_apart_logits():
    x = np.array([[1e4, -1e4, 0.0]], dtype=np.float32)
    np.testing.assert_array_equal(F.log_softmax(x, 1), [[0.0, -2e4, -1e4]])
    np.testing.assert_array_equal(F.softmax(x, 1), [[1.0, 0.0, 0.0]])


def test_gelu_exact_erf_accuracy():
    """numpy has no erf: the series / continued-fraction erfc must hold float64 accuracy over the whole range."""
    import math
    x = np.linspace(-40, 40, 80001)
    ref = np.array([v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in x])
    np.testing.assert_allclose(F.gelu(x), ref, rtol=1e-12, atol=1e-300)


INPLACE = [
    ("relu", lambda x, ip: F.relu(x, inplace=ip)), ("relu6", lambda x, ip: F.relu6(x, ip)),
    ("hardtanh", lambda x, ip: F.hardtanh(x, -0.2, 0.4, ip)), ("threshold", lambda x, ip: F.threshold(x, 0, 3, ip)),
    ("leaky_relu", lambda x, ip: F.leaky_relu(x, 0.1, ip)), ("elu", lambda x, ip: F.elu(x, 1.0, ip)),
    ("celu", lambda x, ip: F.celu(x, 1.0, ip)), ("selu", lambda x, ip: F.selu(x, ip)),
    ("silu", lambda x, ip: F.silu(x, ip)), ("mish", lambda x, ip: F.mish(x, ip)),
    ("hardswish", lambda x, ip: F.hardswish(x, ip)), ("hardsigmoid", lambda x, ip: F.hardsigmoid(x, ip)),
    ("rrelu", lambda x, ip: F.rrelu(x, 0.1, 0.3, False, ip)),
]


@pytest.mark.parametrize("name,fn", INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace_writes_into_input_only_when_asked(name, fn):
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    before = x.copy()
    out = fn(x, False)
    assert out is not x
    np.testing.assert_array_equal(x, before)
    same = fn(x, True)
    assert same is x
    np.testing.assert_array_equal(x, out)


@pytest.mark.parametrize("fn", [F.relu_, lambda x: F.elu_(x, 0.5), lambda x: F.hardtanh_(x), F.selu_,
                                lambda x: F.celu_(x), lambda x: F.leaky_relu_(x, 0.3), lambda x: F.rrelu_(x),
                                lambda x: F.threshold_(x, 0.1, 2.0)])
def test_underscore_variants_are_inplace(fn):
    x = np.linspace(-2, 2, 9)
    assert fn(x) is x
    assert not np.array_equal(x, np.linspace(-2, 2, 9))


def test_inplace_module_and_rrelu_train_inplace():
    x = np.linspace(-2, 2, 9)
    assert nn.ReLU(inplace=True)(x) is x and (x >= 0).all()
    nngraph.manual_seed(0)
    y = np.linspace(-2, 2, 9)
    assert nn.RReLU(inplace=True)(y) is y


def test_rrelu_training_slopes():
    nngraph.manual_seed(0)
    lower, upper = 0.1, 0.4
    x = -np.ones(100_000)
    y = F.rrelu(x, lower, upper, training=True)
    slopes = -y
    assert slopes.min() >= lower and slopes.max() <= upper
    assert abs(slopes.mean() - (lower + upper) / 2) < 2e-3
    assert abs(slopes.var() - (upper - lower) ** 2 / 12) < 1e-3
    pos = np.abs(np.random.default_rng(0).standard_normal(50))
    np.testing.assert_array_equal(F.rrelu(pos, training=True), pos)
    # eval mode: the fixed mean slope
    np.testing.assert_allclose(nn.RReLU(lower, upper).eval()(x), -(lower + upper) / 2)


def test_rrelu_reproducible_under_manual_seed():
    m = nn.RReLU()
    x = np.random.default_rng(0).standard_normal((20, 20))
    nngraph.manual_seed(5)
    a, b = m(x), m(x)
    nngraph.manual_seed(5)
    np.testing.assert_array_equal(a, m(x))
    assert not np.array_equal(a, b)


def test_gumbel_softmax_samples():
    nngraph.manual_seed(0)
    logits = np.log(np.array([0.1, 0.2, 0.7]))
    batch = np.broadcast_to(logits, (20000, 3)).copy()
    soft = F.gumbel_softmax(batch, tau=0.5)
    np.testing.assert_allclose(soft.sum(-1), 1.0, rtol=1e-12)
    hard = F.gumbel_softmax(batch, hard=True)
    assert set(np.unique(hard)) == {0.0, 1.0} and (hard.sum(-1) == 1).all()
    # The argmax of logits + Gumbel noise is a sample of softmax(logits).
    np.testing.assert_allclose(hard.mean(0), [0.1, 0.2, 0.7], atol=0.015)
    nngraph.manual_seed(3)
    a = F.gumbel_softmax(logits)
    nngraph.manual_seed(3)
    np.testing.assert_array_equal(a, F.gumbel_softmax(logits))
    one_hot_dim0 = F.gumbel_softmax(np.zeros((4, 2), dtype=np.float32), hard=True, dim=0)
    assert one_hot_dim0.dtype == np.float32 and (one_hot_dim0.sum(0) == 1).all()


@pytest.mark.parametrize("ndim", [0, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
def test_implicit_softmax_dim_follows_torch(name, ndim):
    x = np.random.default_rng(ndim).standard_normal((2, 3, 4, 2, 3)[:ndim])
    with pytest.warns(UserWarning, match=f"Implicit dimension choice for {name}"):
        ours = getattr(F, name)(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(torch.nn.functional, name)(torch.from_numpy(x.copy())).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)


def test_implicit_dim_warning_points_at_the_caller():
    with pytest.warns(UserWarning) as record:
        nn.Softmax()(np.ones((2, 3)))
        F.softmax(np.ones((2, 3)))
    assert all(r.filename == __file__ for r in record)


def test_softmax_dtype_argument():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert F.softmax(x, 1, dtype=np.float64).dtype == np.float64
    assert F.log_softmax(x, 1, dtype="float16").dtype == np.float16
    assert F.softmin(np.arange(3), 0, dtype=np.float32).dtype == np.float32


def test_argument_errors_like_torch():
    with pytest.raises(AssertionError, match=r"max_val \(1.0\) must be greater than min_val \(2.0\)"):
        nn.Hardtanh(2.0, 1.0)
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(np.ones(3), 1.0, 0.0)
    with pytest.raises(ValueError, match="lambda must be greater or equal to 0"):
        F.softshrink(np.ones(3), -0.1)
    with pytest.raises(ValueError, match="alpha cannot be 0 for CELU"):
        F.celu(np.ones(3), 0.0)
    with pytest.raises(ValueError, match="approximate argument must be either none or tanh"):
        nn.GELU("erf")(np.ones(3))
    with pytest.raises(ValueError, match="Lower bound should be less than or equal to the upper bound"):
        F.rrelu(np.ones(3), 0.5, 0.1)
    with pytest.warns(FutureWarning, match="min_value"):
        m = nn.Hardtanh(min_value=-2.0)
    assert repr(m) == "Hardtanh(min_val=-2.0, max_val=1.0)"


def test_prelu_module_parameters():
    m = nn.PReLU(4, init=0.1, dtype=np.float64)
    assert m.weight.dtype == np.float64 and m.weight.shape == (4,)
    np.testing.assert_array_equal(m.weight, 0.1)
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    assert nn.PReLU().weight.dtype == np.float32
    m.weight[...] = 0.5
    m.reset_parameters()
    np.testing.assert_array_equal(m.weight, 0.1)


def test_reprs_match_torch_for_all_arguments():
    cases = [("ReLU", (True,)), ("RReLU", (0.1, 0.2, True)), ("Hardtanh", (-2, 2, True)), ("ReLU6", (True,)),
             ("SiLU", (True,)), ("Mish", (True,)), ("Hardswish", (True,)), ("Hardsigmoid", (True,)),
             ("ELU", (0.5, True)), ("CELU", (2.0, True)), ("SELU", (True,)), ("GLU", (1,)), ("GELU", ("tanh",)),
             ("Hardshrink", (1,)), ("LeakyReLU", (0.3, True)), ("Softplus", (2, 4)), ("Softshrink", (0.1,)),
             ("PReLU", (3, 0.5)), ("Softmin", ()), ("Softmax", (-1,)), ("LogSoftmax", (2,)), ("Softmax2d", ()),
             ("Threshold", (0.1, 20, True)), ("Softsign", ()), ("Tanhshrink", ()), ("LogSigmoid", ())]
    for name, args in cases:
        assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args)), name


def _params(fn):
    return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]


def test_functional_signatures_match_torch():
    # ``F.dropout`` is the function: the submodules are reached through sys.modules.
    names = [name for area in ("activation", "dropout") for name in sys.modules[f"nngraph.nn.functional.{area}"].__all__]
    for name in names:
        ref = getattr(torch.nn.functional, name)
        try:
            expected = _params(ref)
        except (TypeError, ValueError):  # C builtins without a Python signature
            continue
        assert _params(getattr(F, name)) == expected, name


def test_module_constructor_signatures_match_torch():
    from nngraph.nn.modules import activation, dropout
    for name in activation.__all__ + dropout.__all__:
        if not any("__init__" in vars(c) for c in getattr(torch.nn, name).__mro__
                   if c not in (torch.nn.Module, object)):
            continue  # torch inherits Module.__init__(*args, **kwargs): no arguments of its own
        assert _params(getattr(nn, name).__init__) == _params(getattr(torch.nn, name).__init__), name


ELEMENTWISE_PRIMS = ["relu", "leaky_relu", "hardtanh", "threshold", "elu", "celu", "selu", "sigmoid", "log_sigmoid",
                     "tanh", "silu", "mish", "gelu", "gelu_tanh", "softplus", "softsign", "hardsigmoid", "hardswish",
                     "hardshrink", "softshrink", "tanhshrink"]


def test_primitive_registry():
    for name in ELEMENTWISE_PRIMS:
        assert get_op(name).fusion is Fusion.ELEMENTWISE, name
    assert get_op("prelu").fusion is Fusion.BROADCAST
    for name in ("softmax", "log_softmax"):
        assert get_op(name).fusion is Fusion.REDUCTION
    for name in ("rrelu", "gumbel_softmax"):
        assert get_op(name).fusion is Fusion.OPAQUE  # random
    x = np.linspace(-2, 2, 5, dtype=np.float32)
    np.testing.assert_allclose(get_op("leaky_relu")(x, negative_slope=0.5), [-1, -0.5, 0, 1, 2])
    spec = get_op("softmax").infer(nngraph.ops.TensorSpec((2, 3), np.float32), axis=1, dtype="float64")
    assert spec.shape == (2, 3) and spec.dtype == np.float64


def test_layers_never_modify_inputs_or_weights():
    x = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    before = x.copy()
    m = nn.PReLU(3)
    w = m.weight.copy()
    for layer in [m, nn.GELU(), nn.Softmax(1), nn.GLU(-1), nn.Softplus(), nn.RReLU()]:
        layer(x)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_array_equal(m.weight, w)
