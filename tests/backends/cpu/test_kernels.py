"""CPU GEMM / convolution kernels with fused epilogues, against numpy references.

Compile cost is what makes this file slow, so tests reuse few kernel specialisations: every ``*_std`` entry point
compiles one worker per dtype (epilogue choice is a runtime argument), and only one test uses a custom epilogue.
"""
from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from numba import njit

from nngraph.backends.cpu.kernels import conv as K
from nngraph.backends.cpu.kernels import gemm as G
from nngraph.backends.cpu.kernels.epilogue import ACTIVATIONS, chain, epi_std, reference_epilogue, std_args
from nngraph.backends.cpu.kernels.depthwise_rows import rows_pay
from nngraph.backends.cpu.kernels.simd import MR, nr_of, width_of
from nngraph.ops.conv import conv as ref_conv
from nngraph.ops.conv import conv_transpose as ref_conv_transpose

DTYPES = [np.float32, np.float64]


def _tol(dtype: type, k: int) -> dict:
    if dtype == np.float32:
        return {"rtol": 2e-4, "atol": 2e-5 * max(1.0, math.sqrt(k))}
    return {"rtol": 1e-10, "atol": 1e-11 * max(1.0, math.sqrt(k))}


def _ref(y64: np.ndarray, args: tuple, dtype: type) -> np.ndarray:
    with np.errstate(all="ignore"):
        return reference_epilogue(y64, args).astype(dtype)


@pytest.fixture
def threads():
    """Run a test body under a given numba thread count, restoring it afterwards."""
    old = numba.get_num_threads()
    yield numba.set_num_threads
    numba.set_num_threads(old)


# --------------------------------------------------------------------------------------------- GEMM

NR32 = nr_of(np.float32)
GEMM_SHAPES = [(1, 1, 1), (0, 5, 7), (5, 0, 7), (5, 7, 0), (1, 512, 784), (3, 5, 2), (MR + 1, NR32 + 1, 17),
               (2 * MR - 1, 3 * NR32 - 1, 700), (64, 300, 576), (130, 70, 1300), (17, 1000, 33)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_shapes(dtype):
    rng = np.random.default_rng(0)
    for m, n, k in GEMM_SHAPES:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        c = np.full((m, n), np.nan, dtype)
        args = std_args(dtype, bias=rng.standard_normal(n), bias_axis=1, act="relu")
        G.gemm_std(a, b, c, args)
        np.testing.assert_allclose(c, _ref(a.astype(np.float64) @ b, args, dtype), **_tol(dtype, k),
                                   err_msg=str((m, n, k)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_epilogues(dtype):
    """Every activation, with and without bias (per row / per column) and residual."""
    rng = np.random.default_rng(1)
    m, n, k = 19, 45, 37
    a = rng.standard_normal((m, k)).astype(dtype)
    b = (rng.standard_normal((k, n)) * 0.7).astype(dtype)
    y64 = a.astype(np.float64) @ b
    res = rng.standard_normal((m, n)).astype(dtype)
    for act in ACTIVATIONS:
        for bias_axis, bias in ((0, None), (0, rng.standard_normal(m)), (1, rng.standard_normal(n))):
            for residual in (None, res):
                args = std_args(dtype, bias=bias, bias_axis=bias_axis, residual=residual, act=act)
                c = np.empty((m, n), dtype)
                G.gemm_std(a, b, c, args)
                np.testing.assert_allclose(c, _ref(y64, args, dtype), **_tol(dtype, k),
                                           err_msg=f"{act} bias_axis={bias_axis} {bias is None} {residual is None}")


def test_activation_extremes():
    """The float32 vector math at large magnitudes, tiny values and NaN."""
    x = np.array([-200, -100, -88, -20, -5, -1e-3, -1e-6, 0, 1e-6, 1e-3, 0.3, 0.7, 5, 20, 88, 100, 200, np.nan],
                 np.float32)
    a = x.reshape(-1, 1)
    b = np.ones((1, 2 * NR32 + 3), np.float32)  # whole vectors and a masked tail in each row
    cases = [(act, None, None) for act in ACTIVATIONS] + [("clamp", np.nan, 1.0), ("clamp", -1.0, np.nan)]
    for act, alpha, beta in cases:
        args = std_args(np.float32, act=act, alpha=alpha, beta=beta)
        c = np.empty((x.size, b.shape[1]), np.float32)
        G.gemm_std(a, b, c, args)
        ref = _ref(x.astype(np.float64).reshape(-1, 1) @ b, args, np.float32)
        np.testing.assert_allclose(c, ref, rtol=2e-6, atol=1e-7, equal_nan=True, err_msg=f"{act} {alpha} {beta}")


def test_gemm_threads(threads):
    """Single- and two-thread runs (N split, M split, batch-free) give the same result."""
    rng = np.random.default_rng(2)
    for m, n, k in ((256, 1024, 128), (512, 40, 256)):
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        out = []
        for nt in (1, 2):
            threads(nt)
            c = np.empty((m, n), np.float32)
            G.gemm_std(a, b, c, std_args(np.float32, act="silu"))
            out.append(c)
        np.testing.assert_allclose(out[0], out[1], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(out[0], _ref(a.astype(np.float64) @ b, std_args(np.float32, act="silu"),
                                                np.float32), **_tol(np.float32, k))


def test_gemm_bt_and_packed():
    """Linear layers: y = x @ W.T with W read directly and with W pre-packed; also pack_b for plain B."""
    rng = np.random.default_rng(3)
    for m, n, k in ((1, 512, 784), (64, 512, 784), (7, 33, 5), (0, 3, 4), (3, 1, 1)):
        x = rng.standard_normal((m, k)).astype(np.float32)
        w = rng.standard_normal((n, k)).astype(np.float32)
        bias = rng.standard_normal(n)
        args = std_args(np.float32, bias=bias, bias_axis=1, act="gelu")
        ref = _ref(x.astype(np.float64) @ w.T, args, np.float32)
        c1 = np.empty((m, n), np.float32)
        G.gemm_bt_std(x, w, c1, args)
        c2 = np.empty((m, n), np.float32)
        bp = G.pack_bt(w)
        assert bp.size == G.packed_b_size(n, k, np.float32)
        G.gemm_packed_std(x, bp, c2, args)
        np.testing.assert_allclose(c1, ref, **_tol(np.float32, k))
        np.testing.assert_allclose(c2, ref, **_tol(np.float32, k))
    a = rng.standard_normal((9, 300))
    b = rng.standard_normal((300, 20))
    c = np.empty((9, 20))
    G.gemm_packed_std(a, G.pack_b(b), c, std_args(np.float64))
    np.testing.assert_allclose(c, a @ b, rtol=1e-12, atol=1e-12)


@njit
def _scale_cols(c, b, r0, r1, c0, c1, args):  # noqa: ANN001, ANN202
    (scale,) = args
    for i in range(r0, r1):
        for j in range(c0, c1):
            c[i, j] *= scale[j]


def test_custom_epilogue():
    """A code-generator style epilogue chained after the standard one (one worker compile: custom epilogues are
    not disk-cached)."""
    rng = np.random.default_rng(4)
    m, n, k = 70, 90, 50
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    scale = rng.standard_normal(n).astype(np.float32)
    y64 = a.astype(np.float64) @ b
    c = np.empty((m, n), np.float32)
    both = chain(epi_std, _scale_cols)
    args = std_args(np.float32, bias=rng.standard_normal(n), bias_axis=1, act="relu")
    G.gemm(a, b, c, both, (args, (scale,)))
    np.testing.assert_allclose(c, _ref(y64, args, np.float32) * scale, **_tol(np.float32, k))


# --------------------------------------------------------------------------------------------- convolution

# (B, C, H, W, O, kh, kw, stride, padding (t, b, l, r), dilation, groups)
CONV_CASES = [
    (1, 3, 9, 11, 5, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (2, 8, 7, 6, 16, 3, 3, (2, 2), (1, 0, 0, 1), (1, 1), 1),
    (1, 4, 10, 10, 6, 3, 2, (1, 2), (2, 1, 0, 3), (2, 1), 2),
    (2, 16, 5, 5, 40, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),
    (1, 6, 12, 9, 12, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 6),
    (2, 4, 11, 13, 8, 5, 5, (2, 2), (2, 2, 2, 2), (1, 1), 4),
    (1, 4, 9, 9, 4, 3, 3, (2, 1), (0, 1, 2, 0), (1, 2), 4),
    (3, 2, 1, 1, 3, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),
    (1, 20, 3, 40, 70, 1, 3, (1, 1), (0, 0, 1, 1), (1, 1), 1),
    (2, 8, 9, 11, 16, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 2),  # grouped 1x1, few rows: its input read in place
    (2, 12, 9, 11, 40, 1, 1, (2, 2), (0, 0, 0, 0), (1, 1), 1),  # strided 1x1 (odd sizes): subsampled for ALGO_1X1
    (1, 8, 10, 7, 48, 1, 1, (3, 1), (0, 0, 0, 0), (1, 1), 2),  # grouped, uneven strides
]


def _conv_ref(x, w, bias, res, act, st, pad, dil, g):  # noqa: ANN001, ANN202
    y = ref_conv(x.astype(np.float64), w.astype(np.float64), None, stride=st,
                 padding=((pad[0], pad[1]), (pad[2], pad[3])), dilation=dil, groups=g)
    args = std_args(x.dtype, bias=bias, bias_axis=0, residual=res, act=act)
    return args, _ref(y.reshape(y.shape[0], y.shape[1], -1), args, x.dtype).reshape(y.shape)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_algorithms(dtype):
    """Every applicable algorithm on every case: im2col GEMM (plain, strided, dilated, grouped), shifted-window GEMM
    (ungrouped), 1x1, depthwise."""
    rng = np.random.default_rng(5)
    for case in CONV_CASES:
        bsz, c, h, wd, o, kh, kw, st, pad, dil, g = case
        x = rng.standard_normal((bsz, c, h, wd)).astype(dtype)
        w = rng.standard_normal((o, c // g, kh, kw)).astype(dtype)
        p = K.conv_params(w.shape, x.shape, st, pad, dil, g)
        res = rng.standard_normal((bsz, o, p[9], p[10])).astype(dtype)
        args, ref = _conv_ref(x, w, rng.standard_normal(o), res, "silu", st, pad, dil, g)
        algos = [K.ALGO_IM2COL]
        if g == 1:
            algos += [K.ALGO_SHIFT, K.ALGO_SHIFT_OC]
        if kh == kw == 1 and not any(pad):
            algos.append(K.ALGO_1X1)
        if g == c:
            algos.append(K.ALGO_DEPTHWISE)
        if dtype == np.float64:
            algos = algos[-1:]  # float64: one path per case keeps compile time down
        for algo in algos:
            out = K.conv2d(x, w, args, stride=st, padding=pad, dilation=dil, groups=g, algo=algo)
            np.testing.assert_allclose(out, ref, **_tol(dtype, c // g * kh * kw), err_msg=f"{case} {algo}")


def test_conv_threads_and_batch(threads):
    """Threaded splits (over images, pixels, output channels) agree with one thread."""
    rng = np.random.default_rng(6)
    for xs, ws, g, st in (((4, 16, 20, 20), (32, 16, 3, 3), 1, (1, 1)), ((1, 64, 4, 4), (256, 64, 3, 3), 1, (1, 1)),
                          ((1, 32, 30, 30), (32, 1, 3, 3), 32, (1, 1)), ((2, 8, 31, 9), (16, 8, 1, 1), 1, (1, 1)),
                          ((1, 24, 41, 37), (40, 24, 3, 3), 1, (2, 2)), ((3, 16, 12, 12), (24, 16, 3, 3), 1, (2, 1)),
                          ((6, 16, 7, 7), (72, 16, 3, 3), 1, (1, 1)), ((1, 64, 14, 14), (96, 64, 3, 3), 1, (1, 1)),
                          # depthwise with a channel multiplier, the thread split falling inside an image
                          ((3, 5, 9, 9), (10, 1, 3, 3), 5, (1, 1))):
        x = rng.standard_normal(xs).astype(np.float32)
        w = rng.standard_normal(ws).astype(np.float32)
        pad = (0, 0, 0, 0) if ws[2] == 1 else (1, 1, 1, 1)
        args, ref = _conv_ref(x, w, None, None, "relu", st, pad, (1, 1), g)
        for nt in (1, 2):
            threads(nt)
            out = K.conv2d(x, w, args, stride=st, padding=pad, groups=g)
            np.testing.assert_allclose(out, ref, **_tol(np.float32, ws[1] * 9), err_msg=f"{xs} {ws} nt={nt}")


def _draw_window(draw) -> tuple:
    """Kernel, stride, dilation, asymmetric padding (up to one more than the kernel's reach) and a plane size down
    to narrower than the kernel; ``wide`` rows are long enough for several row bands per depthwise plane."""
    kh, kw = draw(hst.integers(1, 5)), draw(hst.integers(1, 5))
    sh, sw = draw(hst.integers(1, 3)), draw(hst.integers(1, 3))
    dh, dw = draw(hst.integers(1, 2)), draw(hst.integers(1, 2))
    pad = tuple(draw(hst.integers(0, (k - 1) * d + 1)) for k, d in ((kh, dh), (kh, dh), (kw, dw), (kw, dw)))
    h_min = max(1, (kh - 1) * dh + 1 - pad[0] - pad[1])
    w_min = max(1, (kw - 1) * dw + 1 - pad[2] - pad[3])
    wide = draw(hst.booleans())
    h = draw(hst.integers(h_min, h_min + 12))
    wd = draw(hst.integers(w_min + 60, w_min + 200) if wide else hst.integers(w_min, w_min + 12))
    return h, wd, kh, kw, (sh, sw), pad, (dh, dw)


@hst.composite
def _depthwise_cases(draw) -> tuple:
    """Depthwise geometry: channel multiplier (1, the channel-lane kernel, in half the cases), window (see
    :func:`_draw_window`), channels split into chunks or W-lane blocks."""
    c, mult = draw(hst.integers(1, 70)), draw(hst.sampled_from([1, 1, 1, 2, 3]))
    h, wd, kh, kw, stride, pad, dil = _draw_window(draw)
    return draw(hst.integers(1, 3)), c, mult, h, wd, kh, kw, stride, pad, dil


@hst.composite
def _shift_cases(draw) -> tuple:
    """Shifted-window GEMM geometry: batch (padded per image by each thread, or the whole batch up front), channels
    in (up to several K slices) and out (MR and MC tile edges), window (see :func:`_draw_window`; one case in four
    unpadded, half of those 1x1 -- ALGO_SHIFT_OC reads unpadded convs in place, at any stride); about half the
    cases are large enough to run on two threads."""
    bsz, c, o = draw(hst.integers(1, 5)), draw(hst.integers(1, 30)), draw(hst.integers(1, 70))
    h, wd, kh, kw, stride, pad, dil = _draw_window(draw)
    if draw(hst.integers(0, 3)) == 0:
        pad = (0, 0, 0, 0)
        if draw(hst.booleans()):
            kh, kw = 1, 1
        h, wd = max(h, (kh - 1) * dil[0] + 1), max(wd, (kw - 1) * dil[1] + 1)
    return bsz, c, o, h, wd, kh, kw, stride, pad, dil


@settings(max_examples=60, deadline=None)
@given(case=_shift_cases())
def test_phase_split_fill(case):
    """The phase-split copy of an input plane (data runs + zero gaps, the shift and depthwise convolutions' layout)
    against numpy: pad, then slice every (row, column) stride phase; every position is written (the buffer starts
    as NaN)."""
    _, _, _, h, wd, kh, kw, stride, pad, dil = case
    x = np.arange(1, h * wd + 1, dtype=np.float32).reshape(1, 1, h, wd)
    p = K.conv_params((1, 1, kh, kw), x.shape, stride, pad, dil, 1)
    hq, wq, size = K._shift_dims(x, p)
    sh, sw = stride
    xpad = np.zeros((max(hq * sh, pad[0] + h), max(wq * sw, pad[2] + wd)), np.float32)
    xpad[pad[0]:pad[0] + h, pad[2]:pad[2] + wd] = x[0, 0]
    ref = np.stack([xpad[ry::sh, rx::sw][:hq, :wq] for ry in range(sh) for rx in range(sw)]).reshape(-1)
    runs = K._phase_runs(h, wd, p, hq, wq)
    gaps = K._phase_gaps(runs, sw, size)
    dst = np.full(size + 3, np.nan, np.float32)
    K._fill_phases(x.reshape(-1), 0, runs, gaps, sw, dst, 3)
    np.testing.assert_array_equal(dst[3:], ref, err_msg=str(case))
    assert np.isnan(dst[:3]).all()


@settings(max_examples=60, deadline=None)
@given(case=_shift_cases(), dtype=hst.sampled_from(DTYPES), nt=hst.sampled_from([1, 2]), seed=hst.integers(0, 99),
       algo=hst.sampled_from([K.ALGO_SHIFT, K.ALGO_SHIFT_OC]), act=hst.sampled_from(["none", "relu", "relu6", "silu"]),
       bias=hst.booleans(), residual=hst.booleans())
def test_shift_geometry(case, dtype, nt, seed, algo, act, bias, residual):
    """Both shifted-window GEMM convolutions (phase-split planes, tap offsets; pixels in the lanes with the junk
    columns dropped, or output channels in the lanes with the tile stored transposed; images padded per thread or
    up front; threads split over images, channels or pixels) against the reference convolution, with bias,
    residual and activation each on or off (without a residual, channels-in-lanes finishes float32 epilogues in
    registers before its transposed store)."""
    bsz, c, o, h, wd, kh, kw, stride, pad, dil = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((bsz, c, h, wd)).astype(dtype)
    w = rng.standard_normal((o, c, kh, kw)).astype(dtype)
    p = K.conv_params(w.shape, x.shape, stride, pad, dil, 1)
    res = rng.standard_normal((bsz, o, p[9], p[10])).astype(dtype) if residual else None
    args, ref = _conv_ref(x, w, rng.standard_normal(o) if bias else None, res, act, stride, pad, dil, 1)
    x0 = x.copy()
    old = numba.get_num_threads()
    numba.set_num_threads(nt)
    try:
        out = K.conv2d(x, w, args, stride=stride, padding=pad, dilation=dil, algo=algo)
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_allclose(out, ref, **_tol(dtype, c * kh * kw), err_msg=f"{case} {K.ALGO_NAMES[algo]}")


@pytest.mark.parametrize("act", ["none", "relu", "relu6", "silu"])
def test_shift_oc_epilogue_in_registers(act):
    """Channels in lanes, float32, no residual: bias and activation are applied to the tile before its transposed
    store (whole and partial W x W blocks: 40 channels, 81 and 9 pixels); with a residual they run on the output."""
    rng = np.random.default_rng(7)
    for xs, st in (((1, 20, 9, 9), (1, 1)), ((2, 20, 6, 5), (2, 2))):
        x = rng.standard_normal(xs).astype(np.float32)
        w = rng.standard_normal((40, 20, 1, 1)).astype(np.float32)
        p = K.conv_params(w.shape, x.shape, st, (0, 0, 0, 0), (1, 1), 1)
        for bias in (None, rng.standard_normal(40)):
            for res in (None, rng.standard_normal((xs[0], 40, p[9], p[10])).astype(np.float32)):
                args, ref = _conv_ref(x, w, bias, res, act, st, (0, 0, 0, 0), (1, 1), 1)
                out = K.conv2d(x, w, args, stride=st, algo=K.ALGO_SHIFT_OC)
                np.testing.assert_allclose(out, ref, **_tol(np.float32, 20),
                                           err_msg=f"{xs} bias={bias is not None} res={res is not None}")


def _check_depthwise(x, w, args, ref, stride, pad, dil, nt, msg) -> None:  # noqa: ANN001
    """ALGO_DEPTHWISE on ``nt`` threads matches ``ref`` and leaves its input unchanged."""
    x0 = x.copy()
    old = numba.get_num_threads()
    numba.set_num_threads(nt)
    try:
        out = K.conv2d(x, w, args, stride=stride, padding=pad, dilation=dil, groups=x.shape[1],
                       algo=K.ALGO_DEPTHWISE)
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_allclose(out, ref, **_tol(x.dtype.type, w.shape[2] * w.shape[3]), err_msg=msg)


@settings(max_examples=60, deadline=None)
@given(case=_depthwise_cases(), dtype=hst.sampled_from(DTYPES), nt=hst.sampled_from([1, 2]), seed=hst.integers(0, 99),
       act=hst.sampled_from(["none", "relu", "relu6", "silu"]), bias=hst.booleans(), residual=hst.booleans())
def test_depthwise_geometry(case, dtype, nt, seed, act, bias, residual):
    """The depthwise kernels against the reference convolution, on one and two threads: pixels in the lanes
    (multiplier > 1: phase-split planes, tap offsets on the output grid, chunks and bands), channels in the lanes
    (multiplier 1 on narrow rows or strides above 2: W-plane blocks transposed into a padded buffer, in bands of
    output rows when planes are large or threads need the work; bias and activation in registers when there is no
    residual, else the epilogue on the stored output) and, on wide planes, pixels in the lanes on NCHW directly
    (``depthwise_rows``; see also :func:`test_depthwise_rows`). The input is left unchanged."""
    bsz, c, mult, h, wd, kh, kw, stride, pad, dil = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((bsz, c, h, wd)).astype(dtype)
    w = rng.standard_normal((c * mult, 1, kh, kw)).astype(dtype)
    p = K.conv_params(w.shape, x.shape, stride, pad, dil, c)
    res = rng.standard_normal((bsz, c * mult, p[9], p[10])).astype(dtype) if residual else None
    b = rng.standard_normal(c * mult) if bias else None
    args, ref = _conv_ref(x, w, b, res, act, stride, pad, dil, c)
    _check_depthwise(x, w, args, ref, stride, pad, dil, nt, str(case))


DW_ROWS_CASES = [
    # batch, channels, h, w, kh, kw, stride, padding (t, b, l, r), dilation, act, bias, residual, dtype
    (1, 5, 112, 112, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), "relu6", True, False, np.float32),  # 4-vector rows, bands
    (2, 3, 57, 61, 3, 3, (2, 2), (1, 1, 1, 1), (1, 1), "relu", True, False, np.float32),  # stride 2, 2-vector rows
    (1, 4, 40, 70, 5, 4, (2, 1), (2, 0, 1, 3), (1, 2), "silu", False, False, np.float32),  # asymmetric padding
    (1, 3, 30, 80, 3, 3, (1, 2), (0, 2, 3, 1), (2, 3), "none", True, False, np.float32),  # odd and even taps at s2
    (2, 6, 19, 16, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), "relu6", True, False, np.float32),  # 16 wide: 1-vector rows
    (1, 4, 33, 47, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), "relu", True, True, np.float32),  # residual: stored epilogue
    (1, 3, 29, 45, 3, 3, (2, 2), (1, 1, 1, 1), (1, 1), "relu6", True, False, np.float64),
]


@pytest.mark.parametrize("case", DW_ROWS_CASES)
@pytest.mark.parametrize("nt", [1, 2])
def test_depthwise_rows(case, nt):
    """The pixel-lane depthwise kernel (multiplier 1, rows of at least one vector, column stride 1 or 2) against
    the reference convolution: every block shape (4, 2, 1 vectors per row), both strides with odd and even tap
    offsets, dilation, asymmetric padding, row bands, fused and stored epilogues, float64; the input unchanged."""
    bsz, c, h, wd, kh, kw, stride, pad, dil, act, bias, residual, dtype = case
    rng = np.random.default_rng(11)
    x = rng.standard_normal((bsz, c, h, wd)).astype(dtype)
    w = rng.standard_normal((c, 1, kh, kw)).astype(dtype)
    p = K.conv_params(w.shape, x.shape, stride, pad, dil, c)
    assert rows_pay(p[10], stride[1], width_of(dtype))
    res = rng.standard_normal((bsz, c, p[9], p[10])).astype(dtype) if residual else None
    args, ref = _conv_ref(x, w, rng.standard_normal(c) if bias else None, res, act, stride, pad, dil, c)
    _check_depthwise(x, w, args, ref, stride, pad, dil, nt, str(case))


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_transpose(dtype):
    rng = np.random.default_rng(7)
    for bsz, c, h, wd, og, kh, kw, st, pad, opad, dil, g in (
            (1, 4, 5, 6, 3, 3, 3, (2, 2), (1, 1), (1, 0), (1, 1), 1),
            (2, 6, 4, 4, 2, 2, 3, (1, 2), (0, 1), (0, 1), (2, 1), 3),
            (1, 3, 7, 3, 5, 1, 1, (1, 1), (0, 0), (0, 0), (1, 1), 1)):
        x = rng.standard_normal((bsz, c, h, wd)).astype(dtype)
        w = rng.standard_normal((c, og, kh, kw)).astype(dtype)
        bias = rng.standard_normal(og * g)
        y = ref_conv_transpose(x.astype(np.float64), w.astype(np.float64), None, stride=st, padding=pad,
                               output_padding=opad, dilation=dil, groups=g)
        args = std_args(dtype, bias=bias, bias_axis=0, act="leaky_relu", alpha=0.1)
        ref = _ref(y.reshape(bsz, og * g, -1), args, dtype).reshape(y.shape)
        p = K.conv_transpose_params(w.shape, x.shape, y.shape[2:], st, pad, dil, g)
        wp = K.prepare_conv_transpose_weight(w, g)
        out = np.empty(y.shape, dtype)
        K.conv_transpose2d_std(x, wp, out, p, args)
        np.testing.assert_allclose(out, ref, **_tol(dtype, c // g * kh * kw))


@settings(max_examples=300, deadline=None)
@given(hst.integers(0, 2), hst.integers(1, 64), hst.integers(1, 64), hst.sampled_from([1, 3]), hst.integers(1, 2),
       hst.booleans(), hst.sampled_from([0, 1, 7, 14, 28, 56]), hst.integers(1, 8))
def test_chosen_conv_algo_is_applicable(glog, cg, og, k, s, padded, hw, batch):
    """The cost model only picks an algorithm that can run the conv (a grouped 1x1 conv on a 7x7 plane had been
    handed to the ungrouped channels-in-lanes kernel: NaN)."""
    g = 2 ** glog
    pad = (k // 2 if padded else 0,) * 4
    algo = K.choose_conv_algo(g * cg, g * og, k, k, (s, s), pad, (1, 1), g, hw, hw, batch)
    assert algo in K.applicable_algos(g * cg, g * og, k, k, (s, s), pad, g)


def test_choose_conv_algo():
    assert K.choose_conv_algo(64, 64, 3, 3, (1, 1), (1, 1, 1, 1)) == K.ALGO_SHIFT
    assert K.choose_conv_algo(64, 128, 3, 3, (2, 2), (1, 1, 1, 1)) == K.ALGO_SHIFT
    assert K.choose_conv_algo(64, 256, 1, 1) == K.ALGO_1X1
    assert K.choose_conv_algo(64, 256, 1, 1, (2, 2)) == K.ALGO_1X1  # on its subsampled input
    assert K.choose_conv_algo(32, 32, 3, 3, (2, 2), (1, 1, 1, 1), groups=32) == K.ALGO_DEPTHWISE
    assert K.choose_conv_algo(32, 64, 3, 3, groups=32) == K.ALGO_DEPTHWISE
    assert K.choose_conv_algo(32, 64, 3, 3, groups=8) == K.ALGO_IM2COL
    # with the input size: the form that wastes less of the register tile (see shift_waste, shift_oc_waste)
    same = (1, 1), (1, 1, 1, 1), (1, 1), 1
    assert K.choose_conv_algo(64, 64, 3, 3, *same, 56, 56) == K.ALGO_SHIFT_OC  # 58-column grid: 3.6 % junk
    assert K.choose_conv_algo(512, 512, 3, 3, *same, 7, 7) == K.ALGO_SHIFT_OC  # 49 pixels in 64 grid columns
    assert K.choose_conv_algo(NR32 // 2, NR32 // 2, 3, 3, *same, 7, 7) == K.ALGO_SHIFT  # half an NR-wide tile
    assert K.choose_conv_algo(3, 32, 3, 3, (2, 2), (1, 1, 1, 1), h=224, w=224) == K.ALGO_SHIFT  # K = 27
    assert K.choose_conv_algo(24, 144, 1, 1, h=56, w=56) == K.ALGO_1X1  # 3136 pixels fill 98 tiles
    assert K.choose_conv_algo(960, 320, 1, 1, h=7, w=7) == K.ALGO_SHIFT_OC  # 49 pixels in 64 tile columns
    assert K.choose_conv_algo(1024, 2048, 1, 1, (2, 2), h=14, w=14) == K.ALGO_SHIFT_OC
    assert K.choose_conv_algo(64, 128, 1, 1, (2, 2), h=56, w=56) == K.ALGO_1X1  # 28x28 outputs fill the tiles
    assert K.choose_conv_algo(256, 512, 1, 1, (2, 2), h=14, w=14) == K.ALGO_SHIFT_OC  # 49 pixels in 64 columns
    assert K.choose_conv_algo(64, 128, 1, 1, (2, 2), (1, 1, 1, 1), h=56, w=56) == K.ALGO_IM2COL  # phase copies
