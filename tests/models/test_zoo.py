"""Every ``nngraph.models`` entry against its hand-written torch equivalent (``torch_reference.py``): identical
state_dict layouts, torch weights loaded (via state_dict, ``.safetensors`` and ``.npz`` files), eval-mode outputs
equal; each forward traces to a full graph; the ``ZOO`` registry's specs and example inputs."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nngraph  # noqa: E402
from nngraph import models  # noqa: E402
from nngraph.ir import Interpreter  # noqa: E402

from . import torch_reference as ref  # noqa: E402
from .helpers import assert_close, assert_same_state_layout, perturb_batchnorm, torch_state  # noqa: E402

torch.set_num_threads(1)  # tests run in parallel on 2 cores; more threads only contend


def _images(c: int, h: int, w: int | None = None, n: int = 2) -> Callable[[np.random.Generator], tuple]:
    return lambda rng: (rng.standard_normal((n, c, h, w or h), dtype=np.float32),)


def _tokens(high: int, t: int, n: int = 2) -> Callable[[np.random.Generator], tuple]:
    return lambda rng: (rng.integers(1, high, size=(n, t)).astype(np.int64),)


@dataclass
class Case:
    """A zoo model at a small configuration: factory kwargs and an input maker."""

    name: str
    make_inputs: Callable[[np.random.Generator], tuple]
    kwargs: dict = field(default_factory=dict)
    factory: str | None = None  # nngraph.models function name when it differs from ``name``

    def build(self) -> tuple[Any, Any]:
        torch.manual_seed(0)
        theirs = perturb_batchnorm(ref.FACTORIES[self.name](**self.kwargs)).eval()
        ours = getattr(models, self.factory or self.name)(**self.kwargs).eval()
        return ours, theirs


CASES = [
    Case("mlp", lambda rng: (rng.standard_normal((3, 784), dtype=np.float32),)),
    Case("lenet5", _images(1, 28)),
    Case("resnet18", _images(3, 64), {"num_classes": 10}),
    Case("resnet34", _images(3, 64), {"num_classes": 10}),
    Case("resnet50", _images(3, 64), {"num_classes": 10}),
    Case("mobilenet_v2", _images(3, 64), {"num_classes": 10}),
    Case("vgg11_small", _images(3, 32), {"num_classes": 10, "small_input": True}, factory="vgg11"),
    Case("unet", _images(3, 36)),  # 36 -> 18 -> 9 -> 4: the decoder pads 8 -> 9
    Case("lstm_classifier", _tokens(10000, 12)),
    Case("gru_speech", lambda rng: (rng.standard_normal((2, 40, 30), dtype=np.float32),)),
    Case("bert_tiny", _tokens(30522, 16)),
    Case("vit_tiny", _images(3, 64), {"image_size": 64, "num_classes": 10}),
]
IDS = [c.name for c in CASES]


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def built(request: Any) -> tuple[Case, Any, Any]:
    case = request.param
    ours, theirs = case.build()
    return case, ours, theirs


def _torch_out(model: Any, inputs: tuple) -> Any:
    with torch.no_grad():
        return model(*(torch.from_numpy(a) for a in inputs))


def test_state_dict_layout(built: tuple) -> None:
    case, ours, theirs = built
    assert_same_state_layout(ours, theirs)
    n_ours = sum(p.size for p in ours.parameters())
    assert n_ours == sum(p.numel() for p in theirs.parameters())


def test_matches_torch_eval(built: tuple) -> None:
    case, ours, theirs = built
    ours.load_state_dict(torch_state(theirs))
    inputs = case.make_inputs(np.random.default_rng(1))
    assert_close(ours(*inputs), _torch_out(theirs, inputs), what=case.name)


def test_forward_traces_to_full_graph(built: tuple) -> None:
    case, ours, theirs = built
    ours.load_state_dict(torch_state(theirs))
    inputs = case.make_inputs(np.random.default_rng(2))
    want = ours(*inputs)
    graph = nngraph.trace(ours, *inputs, fullgraph=True)
    got = Interpreter(graph, ours).run(*inputs)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max()))


@pytest.mark.parametrize("name", ["resnet18", "bert_tiny"])
def test_pretrained_from_safetensors(name: str, tmp_path: Any) -> None:
    """Weights written by ``safetensors.torch.save_file`` load through ``pretrained=path`` (``nngraph.load``)."""
    save_file = pytest.importorskip("safetensors.torch").save_file
    case = CASES[IDS.index(name)]
    _, theirs = case.build()
    path = tmp_path / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in theirs.state_dict().items()}, str(path))
    loaded = nngraph.load(path)
    assert list(loaded) == list(theirs.state_dict()) or set(loaded) == set(theirs.state_dict())
    ours = getattr(models, name)(pretrained=path, **case.kwargs).eval()
    for k, v in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[k], v.numpy(), err_msg=k)
    inputs = case.make_inputs(np.random.default_rng(3))
    assert_close(ours(*inputs), _torch_out(theirs, inputs), what=name)


def test_pretrained_from_npz_and_mapping(tmp_path: Any) -> None:
    case = CASES[IDS.index("lenet5")]
    _, theirs = case.build()
    state = torch_state(theirs)
    nngraph.save(state, tmp_path / "lenet5.npz")
    x = case.make_inputs(np.random.default_rng(4))
    want = _torch_out(theirs, x)
    assert_close(models.lenet5(pretrained=tmp_path / "lenet5.npz").eval()(*x), want)
    assert_close(models.lenet5(pretrained=state).eval()(*x), want)
    with pytest.raises(RuntimeError, match="Missing key"):
        models.lenet5(pretrained={k: v for k, v in state.items() if k != "fc3.bias"})


@pytest.mark.parametrize("ext", ["npz", "safetensors"])
def test_nngraph_save_round_trip_keeps_batchnorm_counters(ext: str, tmp_path: Any) -> None:
    """``nngraph.save`` of a BatchNorm model reloads strictly (0-d ``num_batches_tracked`` keeps its shape)."""
    nngraph.manual_seed(0)
    source = models.gru_speech()
    path = tmp_path / f"gru.{ext}"
    nngraph.save(source.state_dict(), path)
    loaded = models.gru_speech(pretrained=path)
    for k, v in source.state_dict().items():
        got = loaded.state_dict()[k]
        assert got.shape == v.shape and got.dtype == v.dtype, k
        np.testing.assert_array_equal(got, v, err_msg=k)

def test_bert_masks_and_token_types() -> None:
    """Padding (attention_mask) and token types go through the same path as in torch."""
    case = CASES[IDS.index("bert_tiny")]
    ours, theirs = case.build()
    ours.load_state_dict(torch_state(theirs))
    (ids,) = case.make_inputs(np.random.default_rng(5))
    mask = np.ones_like(ids)
    mask[1, 10:] = 0
    types = np.zeros_like(ids)
    types[:, 8:] = 1
    want = _torch_out(theirs, (ids, mask, types))
    assert_close(ours(ids, mask, types), want)


def test_mlp_accepts_image_shaped_input() -> None:
    case = CASES[IDS.index("mlp")]
    ours, theirs = case.build()
    ours.load_state_dict(torch_state(theirs))
    x = np.random.default_rng(6).standard_normal((2, 1, 28, 28), dtype=np.float32)
    assert_close(ours(x), _torch_out(theirs, (x,)))


# ---------------------------------------------------------------------------------------------- registry
REQUIRED = ["mlp", "lenet5", "resnet18", "resnet34", "resnet50", "mobilenet_v2", "vgg11", "unet", "lstm_classifier",
            "gru_speech", "bert_tiny", "vit_tiny"]


def test_zoo_registry() -> None:
    assert set(REQUIRED) <= set(models.ZOO)
    for name, spec in models.ZOO.items():
        assert spec.name == name and callable(spec.factory) and spec.description
        x = spec.example_input(3, np.random.default_rng(0))
        assert x.shape == (3, *spec.input_shape) and x.dtype == spec.dtype
        if spec.token_range is not None:
            lo, hi = spec.token_range
            assert x.dtype == np.int64 and x.min() >= lo and x.max() < hi
        else:
            assert x.dtype == np.float32
        np.testing.assert_array_equal(spec.example_input(2, 7), spec.example_input(2, 7))
    with pytest.raises(KeyError, match="available"):
        models.get_spec("nope")


@pytest.mark.parametrize("name", ["mlp", "lenet5", "vgg11_small", "lstm_classifier", "gru_speech"])
def test_zoo_default_specs_run(name: str) -> None:
    """The cheap entries run at their default configuration and input spec."""
    spec = models.ZOO[name]
    model = spec.build().eval()
    out = model(spec.example_input(2, 0))
    assert out.shape[0] == 2 and out.dtype == np.float32 and np.isfinite(out).all()
