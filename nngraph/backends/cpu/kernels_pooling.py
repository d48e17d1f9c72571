"""Numba kernels of the pooling ops (``nngraph/ops/pooling.py``) over the executor's flat arenas.

Every kernel sees its input as ``planes`` C-contiguous ``(D, H, W)`` volumes (1-d and 2-d pooling pad the spatial
shape with leading 1s), so one compiled kernel per dtype serves every rank, shape and attribute combination.

``window_pool`` does max / average / LP pooling one output row at a time: the row is initialised, then every
in-bounds window tap adds one (strided) input row to it -- contiguous stores, no per-element bounds tests, loops the
vectorizer handles. Adaptive average pooling is separable and runs as resampling passes (``kernels_vision``).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange
from numba.extending import overload

PAR_MIN = 1 << 15  # work items (output elements x window taps) below which kernels stay single-threaded

# window_pool kinds
MAX, AVG, LP, LP_MAX_ABS, LP_MIN_ABS = 0, 1, 2, 3, 4


def like(a, v):  # noqa: ANN001, ANN201
    """``v`` converted to the element type of array ``a`` (jitted code only)."""
    raise NotImplementedError("like() is for jitted code")


@overload(like)
def _like(a, v):  # noqa: ANN001, ANN202
    dt = a.dtype

    def impl(a, v):  # noqa: ANN001, ANN202
        return dt(v)

    return impl


@njit(cache=True, nogil=True)
def _valid_range(off, stride, n_in, n_out):  # noqa: ANN001, ANN202
    """Output positions ``o`` in ``[0, n_out)`` with ``0 <= o * stride + off < n_in``."""
    lo = 0 if off >= 0 else (-off + stride - 1) // stride
    last = n_in - 1 - off
    hi = last // stride + 1 if last >= 0 else 0
    return lo, min(hi, n_out)


@njit(cache=True, nogil=True)
def _row_max(x, xb, st, y, yb, lo, hi):  # noqa: ANN001, ANN202
    if st == 1:
        for o in range(lo, hi):
            v = x[xb + o]
            a = y[yb + o]
            y[yb + o] = v if (v > a or v != v) else a
    else:
        for o in range(lo, hi):
            v = x[xb + o * st]
            a = y[yb + o]
            y[yb + o] = v if (v > a or v != v) else a


@njit(cache=True, nogil=True)
def _row_sum(x, xb, st, y, yb, lo, hi):  # noqa: ANN001, ANN202
    if st == 1:
        for o in range(lo, hi):
            y[yb + o] += x[xb + o]
    else:
        for o in range(lo, hi):
            y[yb + o] += x[xb + o * st]


@njit(cache=True, nogil=True)
def _row_pow_sum(x, xb, st, y, yb, lo, hi, pw):  # noqa: ANN001, ANN202
    for o in range(lo, hi):
        y[yb + o] += x[xb + o * st] ** pw


@njit(cache=True, nogil=True)
def _row_abs_max(x, xb, st, y, yb, lo, hi):  # noqa: ANN001, ANN202
    for o in range(lo, hi):
        v = abs(x[xb + o * st])
        a = y[yb + o]
        y[yb + o] = v if (v > a or v != v) else a


@njit(cache=True, nogil=True)
def _row_abs_min(x, xb, st, y, yb, lo, hi):  # noqa: ANN001, ANN202
    for o in range(lo, hi):
        v = abs(x[xb + o * st])
        a = y[yb + o]
        y[yb + o] = v if (v < a or v != v) else a


@njit(cache=True, nogil=True)
def _clipped(o, k, s, p, n, include_pad):  # noqa: ANN001, ANN202
    """Window length of output ``o`` clipped to the padded input (``include_pad``) or to the input (ops/pooling.py
    ``_divisors``)."""
    start = o * s - p
    end = min(start + k, n + p)
    if not include_pad:
        start = max(start, 0)
        end = min(end, n)
    return end - start


@njit(cache=True, nogil=True)
def _window_row(kind, x, xo, y, yo, t, ishape, oshape, k, s, p, d, ip, fp):  # noqa: ANN001, ANN202
    n_d, n_h, n_w = ishape
    o_d, o_h, o_w = oshape
    plane = t // (o_d * o_h)
    r = t - plane * (o_d * o_h)
    od = r // o_h
    oh = r - od * o_h
    yb = yo + t * o_w
    xb = xo + plane * (n_d * n_h * n_w)
    if kind == MAX or kind == LP_MAX_ABS:
        init = like(y, -np.inf)
    elif kind == LP_MIN_ABS:
        init = like(y, np.inf)
    else:
        init = like(y, 0.0)
    for o in range(o_w):
        y[yb + o] = init
    pw = like(y, fp[0])
    for kd in range(k[0]):
        i_d = od * s[0] - p[0] + kd * d[0]
        if i_d < 0 or i_d >= n_d:
            continue
        for kh in range(k[1]):
            i_h = oh * s[1] - p[1] + kh * d[1]
            if i_h < 0 or i_h >= n_h:
                continue
            xr = xb + (i_d * n_h + i_h) * n_w
            for kw in range(k[2]):
                off = kw * d[2] - p[2]
                lo, hi = _valid_range(off, s[2], n_w, o_w)
                if kind == MAX:
                    _row_max(x, xr + off, s[2], y, yb, lo, hi)
                elif kind == AVG:
                    _row_sum(x, xr + off, s[2], y, yb, lo, hi)
                elif kind == LP:
                    _row_pow_sum(x, xr + off, s[2], y, yb, lo, hi, pw)
                elif kind == LP_MAX_ABS:
                    _row_abs_max(x, xr + off, s[2], y, yb, lo, hi)
                else:
                    _row_abs_min(x, xr + off, s[2], y, yb, lo, hi)
    if kind == AVG:
        # ip = (count_include_pad, divisor_override or 0); the divisor is converted to y's dtype before dividing
        if ip[1] != 0:
            div = like(y, ip[1])
            for o in range(o_w):
                y[yb + o] = y[yb + o] / div
        else:
            outer = _clipped(od, k[0], s[0], p[0], n_d, ip[0] != 0) * _clipped(oh, k[1], s[1], p[1], n_h, ip[0] != 0)
            for o in range(o_w):
                y[yb + o] = y[yb + o] / like(y, outer * _clipped(o, k[2], s[2], p[2], n_w, ip[0] != 0))
    elif kind == LP:
        # fp = (p, 1/p, prod(kernel)); ip[0]: some window is cut short by ceil mode -> every total is rescaled
        inv = like(y, fp[1])
        if ip[0] != 0:
            full = like(y, fp[2])
            outer = _clipped(od, k[0], s[0], 0, n_d, True) * _clipped(oh, k[1], s[1], 0, n_h, True)
            for o in range(o_w):
                cnt = like(y, outer * _clipped(o, k[2], s[2], 0, n_w, True))
                y[yb + o] = (y[yb + o] / cnt * full) ** inv
        else:
            for o in range(o_w):
                y[yb + o] = y[yb + o] ** inv


@njit(cache=True, nogil=True, parallel=True)
def window_pool(kind, x, xo, y, yo, planes, ishape, oshape, k, s, p, d, ip, fp):  # noqa: ANN001, ANN201
    """Max/avg/LP pooling of ``planes`` (D, H, W) volumes; ``kind`` selects the reduction (module constants);
    ``k, s, p, d``: kernel, stride, padding, dilation 3-tuples; ``ip``/``fp``: int/float parameters of the kind."""
    rows = planes * oshape[0] * oshape[1]
    if rows * oshape[2] * k[0] * k[1] * k[2] < PAR_MIN:
        for t in range(rows):
            _window_row(kind, x, xo, y, yo, t, ishape, oshape, k, s, p, d, ip, fp)
    else:
        for t in prange(rows):
            _window_row(kind, x, xo, y, yo, np.int64(t), ishape, oshape, k, s, p, d, ip, fp)


# ---------------------------------------------------------------------------------------------------- with indices
@njit(cache=True, nogil=True)
def _argmax_out(x, xb, y, yb, ix, ixb, o, ishape, wstart, wlen, step):  # noqa: ANN001, ANN202
    """One output of max pooling with torch's indices: taps ``wstart[a] + j * step[a]`` for ``j < wlen[a]`` along
    each axis ``a``; a tap outside the input is padding. First maximum among valid taps in window order (torch's scan
    ``val > max or isnan(val)``), so the last NaN if any; a window without a valid tap gives the lowest value and its
    first tap past the left padding."""
    n_d, n_h, n_w = ishape
    best = like(y, -np.inf)
    bi = -1
    for a in range(wlen[0]):
        i_d = wstart[0] + a * step[0]
        if i_d < 0 or i_d >= n_d:
            continue
        for b in range(wlen[1]):
            i_h = wstart[1] + b * step[1]
            if i_h < 0 or i_h >= n_h:
                continue
            r = (i_d * n_h + i_h) * n_w
            for c in range(wlen[2]):
                i_w = wstart[2] + c * step[2]
                if i_w < 0 or i_w >= n_w:
                    continue
                v = x[xb + r + i_w]
                if bi < 0 or v > best or v != v:
                    if not (best != best):
                        best = v
                        bi = r + i_w
                    elif v != v:
                        bi = r + i_w
    if bi < 0:  # no tap inside the input: torch reports the first tap past the left padding
        bi = 0
        for a in range(3):
            pa = wstart[a]
            if pa < 0:
                pa += ((-pa + step[a] - 1) // step[a]) * step[a]
            bi = bi * ishape[a] + pa
    y[yb + o] = best
    ix[ixb + o] = bi


@njit(cache=True, nogil=True)
def _argmax_row(adaptive, x, xo, y, yo, ix, ixo, t, ishape, oshape, k, s, p, d):  # noqa: ANN001, ANN202
    n_d, n_h, n_w = ishape
    o_d, o_h, o_w = oshape
    plane = t // (o_d * o_h)
    r = t - plane * (o_d * o_h)
    od = r // o_h
    oh = r - od * o_h
    xb = xo + plane * (n_d * n_h * n_w)
    wstart = np.empty(3, np.int64)
    wlen = np.empty(3, np.int64)
    step = np.empty(3, np.int64)
    ov = (od, oh, 0)
    for a in range(2):
        if adaptive:
            wstart[a] = (ov[a] * ishape[a]) // oshape[a]
            wlen[a] = ((ov[a] + 1) * ishape[a] + oshape[a] - 1) // oshape[a] - wstart[a]
            step[a] = 1
        else:
            wstart[a] = ov[a] * s[a] - p[a]
            wlen[a] = k[a]
            step[a] = d[a]
    for o in range(o_w):
        if adaptive:
            wstart[2] = (o * n_w) // o_w
            wlen[2] = ((o + 1) * n_w + o_w - 1) // o_w - wstart[2]
            step[2] = 1
        else:
            wstart[2] = o * s[2] - p[2]
            wlen[2] = k[2]
            step[2] = d[2]
        _argmax_out(x, xb, y, yo + t * o_w, ix, ixo + t * o_w, o, ishape, wstart, wlen, step)


@njit(cache=True, nogil=True, parallel=True)
def argmax_pool(adaptive, x, xo, y, yo, ix, ixo, planes, ishape, oshape, k, s, p, d):  # noqa: ANN001, ANN201
    """Max pooling with torch's flat per-plane indices (int64 ``ix``): sliding windows (``k, s, p, d``) or, when
    ``adaptive``, torch's adaptive bins."""
    rows = planes * oshape[0] * oshape[1]
    if rows * oshape[2] * k[0] * k[1] * k[2] < PAR_MIN:
        for t in range(rows):
            _argmax_row(adaptive, x, xo, y, yo, ix, ixo, t, ishape, oshape, k, s, p, d)
    else:
        for t in prange(rows):
            _argmax_row(adaptive, x, xo, y, yo, ix, ixo, np.int64(t), ishape, oshape, k, s, p, d)


__all__ = ["window_pool", "argmax_pool", "like", "MAX", "AVG", "LP", "LP_MAX_ABS", "LP_MIN_ABS", "PAR_MIN"]
