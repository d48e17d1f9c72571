"""Pooling beyond the op table: shape rules, NaN/-inf/tie index semantics, integer inputs, a config sweep."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nngraph.nn.functional as F
from nngraph.ops import get_op
from nngraph.ops.registry import TensorSpec

TF = torch.nn.functional


def _torch(fn, *args, **kwargs):
    out = fn(*(torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a for a in args), **kwargs)
    return tuple(o.numpy() for o in out) if isinstance(out, tuple) else out.numpy()


def _same(ours, ref):
    ours, ref = (ours if isinstance(ours, tuple) else (ours,)), (ref if isinstance(ref, tuple) else (ref,))
    assert len(ours) == len(ref)
    for o, r in zip(ours, ref):
        assert o.shape == r.shape and o.dtype == r.dtype
        np.testing.assert_allclose(o, r, rtol=1e-6, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_pool_indices_with_nan_inf_and_ties(nd):
    rng = np.random.default_rng(nd)
    shape = (2, 2) + (7, 6, 5)[:nd]
    for trial in range(4):
        x = rng.integers(-2, 3, shape).astype(np.float64)
        x[rng.random(shape) < 0.1] = np.nan
        x[rng.random(shape) < 0.2] = -np.inf
        for k, s, p, d, ceil in [(2, 1, 1, 1, False), (3, 2, 1, 1, True), (3, 1, 1, 2, False), (2, 2, 0, 1, True)]:
            name = f"max_pool{nd}d"
            _same(getattr(F, name)(x, k, s, p, d, ceil, True), _torch(getattr(TF, name), x, k, s, p, d, ceil, True))
        for size in (2, 3, 4):
            name = f"adaptive_max_pool{nd}d"
            _same(getattr(F, name)(x, size, True), _torch(getattr(TF, name), x, size, True))


def test_max_pool_window_entirely_in_padding_reports_torch_index():
    # kernel 2, dilation 2, padding 1 on a length-1 input: both taps fall outside the input
    x = np.array([[[3.0]]])
    _same(F.max_pool1d(x, 2, 1, 1, 2, return_indices=True), _torch(TF.max_pool1d, x, 2, 1, 1, 2, return_indices=True))


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8])
def test_max_pool_integer_input(dtype):
    rng = np.random.default_rng(0)
    x = rng.integers(0 if dtype == np.uint8 else -50, 50, (2, 3, 6, 7)).astype(dtype)
    ours = F.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)
    assert ours[0].dtype == dtype
    _same(ours, _torch(TF.max_pool2d, x, 3, 2, 1, ceil_mode=True, return_indices=True))


def test_avg_pool_int64_truncates_like_torch():
    x = np.random.default_rng(0).integers(-20, 20, (2, 2, 7, 6))
    for cip in (True, False):
        _same(F.avg_pool2d(x, 3, 2, 1, True, cip), _torch(TF.avg_pool2d, x, 3, 2, 1, True, cip))


def test_float16_keeps_dtype():
    x = np.random.default_rng(0).standard_normal((1, 2, 6, 6)).astype(np.float16)
    for y in (F.max_pool2d(x, 2), F.avg_pool2d(x, 3, 1, 1), F.lp_pool2d(x, 2, 2), F.adaptive_avg_pool2d(x, 4),
              F.adaptive_max_pool2d(x, 4)):
        assert y.dtype == np.float16
    ref = F.avg_pool2d(x.astype(np.float32), 3, 1, 1)
    np.testing.assert_allclose(F.avg_pool2d(x, 3, 1, 1).astype(np.float32), ref, atol=2e-3)


def test_config_sweep_against_torch():
    """Every kernel/stride/padding/dilation/ceil combination on awkward sizes, 2-d, float64."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 2, 7, 6))
    for k, s, p, d, ceil in itertools.product([1, 2, 3], [1, 2, 3], [0, 1], [1, 2], [False, True]):
        if p > k // 2 or any((n + 2 * p - d * (k - 1) - 1) < 0 for n in x.shape[2:]):
            continue
        _same(F.max_pool2d(x, k, s, p, d, ceil, True), _torch(TF.max_pool2d, x, k, s, p, d, ceil, True))
        if d == 1:
            for cip in (False, True):
                _same(F.avg_pool2d(x, k, s, p, ceil, cip), _torch(TF.avg_pool2d, x, k, s, p, ceil, cip))
        if p == 0 and d == 1:
            for norm in (1, 2, 3, float("inf")):
                _same(F.lp_pool2d(x, norm, k, s, ceil), _torch(TF.lp_pool2d, x, norm, k, s, ceil))


CASES = [
    ("max_pool", dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), ceil_mode=True)),
    ("max_pool_with_indices", dict(kernel_size=(2,), stride=(2,), padding=(1,), dilation=(1,), ceil_mode=True)),
    ("avg_pool", dict(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), ceil_mode=True, count_include_pad=False,
                      divisor_override=None)),
    ("lp_pool", dict(norm_type=2.0, kernel_size=(2, 3), stride=(2, 2), ceil_mode=True)),
    ("adaptive_avg_pool", dict(output_size=(3, 4))),
    ("adaptive_max_pool", dict(output_size=(5, 2))),
]


@pytest.mark.parametrize("name,attrs", CASES, ids=[c[0] for c in CASES])
def test_shape_rule_matches_impl(name, attrs):
    op = get_op(name)
    nd = len(attrs.get("kernel_size", attrs.get("output_size")))
    x = np.random.default_rng(0).standard_normal((2, 3) + (7, 6)[:nd]).astype(np.float32)
    out = op(x, **attrs)
    spec = op.infer(TensorSpec.of(x), **attrs)
    outs, specs = (out, spec) if op.n_outputs > 1 else ((out,), (spec,))
    assert [(o.shape, o.dtype) for o in outs] == [(s.shape, s.dtype) for s in specs]


def test_max_unpool_shape_rule_and_roundtrip():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 8))
    values, indices = F.max_pool2d(x, 2, return_indices=True)
    op = get_op("max_unpool")
    out = op(values, indices, output_size=(6, 8))
    assert op.infer(TensorSpec.of(values), TensorSpec.of(indices), output_size=(6, 8)) == TensorSpec.of(out)
    # every pooled maximum lands back where it came from; the rest is zero
    picked = np.take_along_axis(out.reshape(2, 3, -1), indices.reshape(2, 3, -1), axis=-1)
    np.testing.assert_array_equal(picked.reshape(values.shape), values)
    assert np.count_nonzero(out) == values.size
