"""Every sample of the op table against PyTorch 2.13 (see tests/nn/opinfo/__init__.py)."""
from __future__ import annotations

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nngraph
import nngraph.nn as nn
import nngraph.nn.functional as F
from nngraph.errors import InputError
from tests.nn.opinfo import load

MODULE_SAMPLES = load("MODULE_SAMPLES")
FUNC_SAMPLES = load("FUNC_SAMPLES")
ERROR_SAMPLES = load("ERROR_SAMPLES")

TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64,
               np.dtype(np.float16): torch.float16}


def _cast(a, dtype):
    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
        return a.astype(dtype)
    return a


def to_torch(v):
    if isinstance(v, np.ndarray):
        return torch.from_numpy(np.array(v, order="C", copy=True))
    if isinstance(v, (tuple, list)):
        return type(v)(to_torch(x) for x in v)
    if isinstance(v, dict):
        return {k: to_torch(x) for k, x in v.items()}
    return v


def to_numpy(v):
    if isinstance(v, torch.Tensor):
        return v.detach().numpy()
    if isinstance(v, (tuple, list)):
        return type(v)(to_numpy(x) for x in v)
    return v


def assert_close(ours, ref, atol, rtol, where, shape_only=False):
    if ref is None:
        assert ours is None, f"{where}: expected None"
        return
    if isinstance(ref, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(ref), f"{where}: expected {len(ref)} outputs"
        for i, (o, r) in enumerate(zip(ours, ref)):
            assert_close(o, r, atol, rtol, f"{where}[{i}]", shape_only)
        return
    ref = np.asarray(ref)
    assert isinstance(ours, (np.ndarray, np.generic)), f"{where}: expected an ndarray, got {type(ours).__name__}"
    ours = np.asarray(ours)
    assert ours.shape == ref.shape, f"{where}: shape {ours.shape} != torch {ref.shape}"
    if ref.dtype.kind == "f":
        assert ours.dtype == ref.dtype, f"{where}: dtype {ours.dtype} != torch {ref.dtype}"
    if shape_only:
        return
    np.testing.assert_allclose(ours, ref, atol=atol, rtol=rtol, err_msg=where, equal_nan=True)


def build_pair(sample, dtype, mode):
    torch.manual_seed(0)
    tm = sample.make(torch.nn)
    nngraph.manual_seed(0)
    om = sample.make(nn)
    tm = tm.to(TORCH_DTYPE[np.dtype(dtype)])
    om = om.to(dtype)
    om.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    tm.train(mode == "train")
    om.train(mode == "train")
    return om, tm


@pytest.mark.parametrize("mode", ["eval", "train"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("area,sample", MODULE_SAMPLES, ids=[f"{a}-{s.id}" for a, s in MODULE_SAMPLES])
def test_module_matches_torch(area, sample, dtype, mode):
    if np.dtype(dtype) not in [np.dtype(d) for d in sample.dtypes] or mode not in sample.modes:
        pytest.skip("not in this sample's dtypes/modes")
    rng = np.random.default_rng(1)
    inputs = tuple(_cast(a, dtype) for a in sample.inputs(rng))
    kwargs = {k: _cast(v, dtype) for k, v in (sample.kwargs(rng) if sample.kwargs else {}).items()}
    om, tm = build_pair(sample, dtype, mode)
    snapshot = [a.copy() if isinstance(a, np.ndarray) else a for a in inputs]
    call = sample.call or (lambda m, *a, **k: m(*a, **k))
    with torch.no_grad():
        ref = to_numpy(call(tm, *to_torch(inputs), **to_torch(kwargs)))
    ours = call(om, *inputs, **kwargs)
    atol, rtol = sample.tolerance(dtype)
    assert_close(ours, ref, atol, rtol, f"{sample.id} output", shape_only=(mode == "train" and sample.random_in_train))
    for a, b in zip(inputs, snapshot):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg="the layer modified its input")
    # State after the call (BatchNorm running statistics, num_batches_tracked, ...).
    ref_sd = {k: v.detach().numpy() for k, v in tm.state_dict().items()}
    our_sd = om.state_dict()
    assert list(our_sd) == list(ref_sd)
    for k in ref_sd:
        np.testing.assert_allclose(np.asarray(our_sd[k]), ref_sd[k], atol=atol, rtol=rtol, err_msg=f"state {k}")


@pytest.mark.parametrize("area,sample", MODULE_SAMPLES, ids=[f"{a}-{s.id}" for a, s in MODULE_SAMPLES])
def test_state_dict_layout_matches_torch(area, sample):
    tm = sample.make(torch.nn)
    om = sample.make(nn)
    ref = [(k, tuple(v.shape), str(v.dtype).replace("torch.", "")) for k, v in tm.state_dict().items()]
    ours = [(k, tuple(np.shape(v)), str(np.asarray(v).dtype)) for k, v in om.state_dict().items()]
    assert ours == ref
    assert [n for n, _ in om.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert repr(om) == repr(tm)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("area,sample", FUNC_SAMPLES, ids=[f"{a}-{s.id}" for a, s in FUNC_SAMPLES])
def test_functional_matches_torch(area, sample, dtype):
    if np.dtype(dtype) not in [np.dtype(d) for d in sample.dtypes]:
        pytest.skip("not in this sample's dtypes")
    rng = np.random.default_rng(2)
    inputs = tuple(_cast(a, dtype) for a in sample.inputs(rng))
    snapshot = [a.copy() if isinstance(a, np.ndarray) else a for a in inputs]
    ref = to_numpy(sample.fn(torch.nn.functional, *to_torch(inputs)))
    ours = sample.fn(F, *inputs)
    atol, rtol = sample.tolerance(dtype)
    assert_close(ours, ref, atol, rtol, f"{sample.id}", shape_only=sample.random)
    for a, b in zip(inputs, snapshot):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg="the op modified its input")


@pytest.mark.parametrize("area,sample", ERROR_SAMPLES, ids=[f"{a}-{s.id}" for a, s in ERROR_SAMPLES])
def test_bad_input_raises_clear_error(area, sample):
    target = sample.make(nn)
    inputs = sample.inputs(np.random.default_rng(3))
    with pytest.raises(InputError) as info:
        target(*inputs)
    assert re.search(sample.match, str(info.value)), f"message {str(info.value)!r} does not match {sample.match!r}"
