"""CPU lowering of pooling (max/avg/LP, adaptive avg/max, max with indices): compiled results against the eager
module, every op compiled (no host step).

Many ops share one compiled graph (a function returning a tuple) so that each kernel compiles once per dtype."""
from __future__ import annotations

import numpy as np
import pytest

import nngraph
import nngraph.nn.functional as F
from tests.trace.util import Fn, assert_same

FLOATS = [np.float32, np.float64]


def _tol(dtype: type) -> dict:
    return dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-13)


def check(fn, *inputs, dtype: type = np.float64, host_steps: int = 0) -> None:
    """Compile ``fn``, compare with eager execution, check that everything compiled."""
    model = Fn(fn).eval()
    want = model(*inputs)
    compiled = nngraph.compile(model)
    got = compiled(*inputs)
    assert compiled.specializations[0].executable.n_host_steps == host_steps
    assert_same(got, want, **_tol(dtype))


def _rand(shape: tuple, dtype: type, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _positive(shape: tuple, dtype: type, seed: int = 4) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) + 0.1).astype(dtype)


def _ties(shape: tuple, dtype: type, seed: int = 1) -> np.ndarray:
    """Small integers: many equal maxima (index tie-breaking), with a few NaNs and infinities."""
    x = np.random.default_rng(seed).integers(-2, 3, shape).astype(dtype)
    flat = x.reshape(-1)
    flat[5::37] = np.nan
    flat[11::41] = -np.inf
    flat[17::43] = np.inf
    return x


# ---------------------------------------------------------------------------------------------------- 2-d pooling
def _pool2d(x, xp):  # noqa: ANN001, ANN202
    """``xp``: positive (fractional LP norms of negative power sums are NaN)."""
    xt = x.transpose(0, 1, 3, 2)  # strided input
    return (
        F.max_pool2d(x, 3, 2, 1),  # ResNet stem
        F.max_pool2d(x, 2),
        F.max_pool2d(x, (3, 2), (2, 1), (1, 0), dilation=(1, 2), ceil_mode=True),
        F.max_pool2d(xt, 3, 1, 1),
        F.max_pool2d(x, 1),
        F.avg_pool2d(x, 2),
        F.avg_pool2d(x, 3, 2, 1),
        F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        F.avg_pool2d(xt, (3, 1), 1, (1, 0), divisor_override=5),
        F.avg_pool2d(x, (2, 3), (3, 2), ceil_mode=True),
        F.lp_pool2d(xp, 2, 2),
        F.lp_pool2d(xp, 3.0, (3, 2), (2, 2), ceil_mode=True),
        F.lp_pool2d(x, float("inf"), 3, 2),
        F.lp_pool2d(x, float("-inf"), 2, ceil_mode=True),
        F.lp_pool2d(xt, 1, 2),
        F.adaptive_avg_pool2d(x, 1),  # global average pooling
        F.adaptive_avg_pool2d(x, (3, 4)),
        F.adaptive_avg_pool2d(xt, (9, 2)),  # bins overlap: output larger than the input along one dim
        F.adaptive_avg_pool2d(x, (None, 1)),
        F.adaptive_max_pool2d(x, 1),
        F.adaptive_max_pool2d(x, (3, 4)),
        F.adaptive_max_pool2d(x, (7, 3)),  # equal bins: the window kernel
    )


def test_pool2d_large_parallel() -> None:
    # large enough for the multi-threaded paths
    x = _rand((2, 16, 40, 48), np.float32, seed=3)
    check(lambda x: (F.max_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 3, 1, 1), F.adaptive_avg_pool2d(x, (5, 7)),
                     F.adaptive_max_pool2d(x, (6, 7), return_indices=True), F.lp_pool2d(x, 2, 2),
                     F.max_pool2d(x, 2, return_indices=True)), x, dtype=np.float32)


# ---------------------------------------------------------------------------------------------------- 1-d and 3-d
def _pool13d(x1, x3, p1, p3):  # noqa: ANN001, ANN202
    return (
        F.max_pool1d(x1, 3, 2, 1, dilation=2),
        F.max_pool1d(x1, 2, ceil_mode=True),
        F.max_pool1d(x1[0], 4, 3),  # unbatched
        F.avg_pool1d(x1, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        F.avg_pool1d(x1, 1),
        F.lp_pool1d(p1, 2.5, 3, 2, ceil_mode=True),
        F.adaptive_avg_pool1d(x1, 4),
        F.adaptive_max_pool1d(x1, 5),
        F.max_pool3d(x3, 2),
        F.max_pool3d(x3, (3, 2, 3), (2, 1, 2), (1, 0, 1), ceil_mode=True),
        F.avg_pool3d(x3, (2, 3, 2), 1, (1, 1, 0), count_include_pad=False),
        F.avg_pool3d(x3, 2, divisor_override=3),
        F.lp_pool3d(p3, 2, 2),
        F.adaptive_avg_pool3d(x3, (2, 3, 1)),
        F.adaptive_max_pool3d(x3, (3, 2, 2)),
        F.adaptive_max_pool3d(x3, (1, 5, 3), return_indices=True),
        F.max_pool3d(x3, 2, 1, 1, return_indices=True),
    )


# ---------------------------------------------------------------------------------------------------- indices
def _indices(x):  # noqa: ANN001, ANN202
    return (
        F.max_pool2d(x, 2, return_indices=True),
        F.max_pool2d(x, 3, 2, 1, return_indices=True),
        F.max_pool2d(x, 3, 1, 1, dilation=2, ceil_mode=True, return_indices=True),
        F.max_pool2d(x, (2, 3), (3, 2), (1, 1), ceil_mode=True, return_indices=True),
        F.max_pool1d(x[:, :, 0], 3, 2, 1, return_indices=True),
        F.adaptive_max_pool2d(x, (3, 4), return_indices=True),
        F.adaptive_max_pool2d(x, (8, 11), return_indices=True),
        F.max_pool2d(x, 3, 2, 1),
        F.adaptive_max_pool2d(x, (4, 5)),
    )


def _dilated(x):  # noqa: ANN001, ANN202
    # windows that start in the left padding / run past the right edge (ceil mode) with large dilation
    return (F.max_pool2d(x, 3, 2, 1, dilation=3, ceil_mode=True, return_indices=True),
            F.max_pool2d(x, (2, 3), 3, 1, dilation=(4, 2), ceil_mode=True),
            F.avg_pool2d(x, 3, 2, 1, ceil_mode=True), F.lp_pool2d(x, float("inf"), 2, 3, ceil_mode=True))


@pytest.mark.parametrize("dtype", FLOATS)
def test_pooling(dtype: type) -> None:
    """Every pooling op and attribute variant, 1-3 spatial dims, strided inputs, ties/NaN/inf: one graph."""
    inputs = (_rand((2, 3, 7, 9), dtype), _positive((2, 3, 7, 9), dtype), _rand((2, 3, 11), dtype),
              _rand((1, 2, 5, 4, 6), dtype, seed=2), _positive((2, 3, 11), dtype), _positive((1, 2, 5, 4, 6), dtype),
              _ties((2, 3, 7, 10), dtype), _rand((1, 2, 6, 5), dtype, seed=5))
    check(lambda x, xp, x1, x3, p1, p3, xn, xd: _pool2d(x, xp) + _pool13d(x1, x3, p1, p3) + _indices(xn) +
          _dilated(xd), *inputs, dtype=dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_small_output_planes(dtype: type) -> None:
    """Output planes of a few values (global pooling, large strides) read their windows directly, many planes side
    by side: padding, dilation, ceil mode, depth padding, every kind, ties and NaN, more planes than one group."""
    x, xp = _rand((2, 300, 7, 7), dtype), _positive((2, 300, 7, 7), dtype)
    xn, x3 = _ties((1, 150, 6, 5), dtype), _rand((2, 40, 5, 4, 6), dtype, seed=2)
    check(lambda x, xp, xn, x3: (
        F.adaptive_avg_pool2d(x, 1), F.avg_pool2d(x, 7), F.adaptive_max_pool2d(x, 1), F.adaptive_avg_pool2d(x, (1, 7)),
        F.avg_pool2d(x, 3, 3, 1, ceil_mode=True), F.avg_pool2d(x, 4, 4, 2, count_include_pad=False),
        F.avg_pool2d(x, 5, 5, 1, divisor_override=7), F.max_pool2d(x, 3, 4, 1, dilation=2, ceil_mode=True),
        F.lp_pool2d(xp, 2, 7), F.lp_pool2d(xp, 1.5, 4, 3, ceil_mode=True), F.lp_pool2d(x, float("inf"), 5, 4),
        F.lp_pool2d(x, float("-inf"), 6, 5, ceil_mode=True), F.max_pool2d(xn, 3, 3, 1), F.adaptive_max_pool2d(xn, 1),
        F.max_pool3d(x3, 3, 2, 1), F.avg_pool3d(x3, 3, 3, 1, ceil_mode=True, count_include_pad=False),
        F.adaptive_avg_pool3d(x3, 1), F.avg_pool3d(x3, 2, 2, 1)), x, xp, xn, x3, dtype=dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_max_pool_rows(dtype: type) -> None:
    """Max pooling of larger planes runs separably (window rows, then taps along the row, whole vectors): strides 1,
    2 (deinterleaving loads) and 3 (gathers), dilation, padding, ceil mode, depth windows, ties, NaN and inf."""
    x, xn = _rand((2, 5, 23, 37), dtype, seed=6), _ties((1, 4, 29, 41), dtype, seed=7)
    x3 = _ties((1, 3, 6, 19, 21), dtype, seed=8)
    check(lambda x, xn, x3: (
        F.max_pool2d(x, 3, 2, 1), F.max_pool2d(x, 3, 1, 1), F.max_pool2d(x, (2, 4), (1, 3), (1, 2)),
        F.max_pool2d(x, 3, 2, 1, dilation=(2, 3), ceil_mode=True), F.max_pool2d(x, (5, 1), (3, 1)),
        F.max_pool2d(xn, 3, 2, 1), F.max_pool2d(xn, 2, 1), F.max_pool2d(xn, (1, 5), (2, 3), (0, 2), ceil_mode=True),
        F.adaptive_max_pool2d(xn, (29, 1)), F.max_pool3d(x3, 3, 2, 1), F.max_pool3d(x3, (2, 3, 3), 1, (1, 1, 0))),
        x, xn, x3, dtype=dtype)


def test_size0_and_size1() -> None:
    x0 = _rand((0, 3, 6, 6), np.float32)
    check(lambda x: (F.max_pool2d(x, 2), F.avg_pool2d(x, 3, 1, 1), F.adaptive_avg_pool2d(x, 2),
                     F.adaptive_max_pool2d(x, 3, return_indices=True), F.lp_pool2d(x, 2, 2)), x0, dtype=np.float32)
    x1 = _rand((1, 1, 1, 1), np.float32)
    check(lambda x: (F.max_pool2d(x, 1), F.avg_pool2d(x, 1), F.adaptive_avg_pool2d(x, (2, 3)),
                     F.adaptive_avg_pool2d(x, (0, 2)), F.adaptive_max_pool2d(x, 1, return_indices=True),
                     F.max_pool2d(x, 3, 1, 1, return_indices=True)), x1, dtype=np.float32)


def test_float16_and_int_stay_on_host() -> None:
    x = _rand((1, 2, 4, 4), np.float16)
    check(lambda x: F.max_pool2d(x, 2), x, dtype=np.float32, host_steps=1)
    xi = np.arange(32, dtype=np.int64).reshape(1, 2, 4, 4)
    check(lambda x: F.max_pool2d(x, 2), xi, host_steps=1)
