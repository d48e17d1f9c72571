"""Numba kernels of the pooling ops (``nngraph/ops/pooling.py``) over the executor's flat arenas.

Every kernel sees its input as ``planes`` C-contiguous ``(D, H, W)`` volumes (1-d and 2-d pooling pad the spatial
shape with leading 1s), so one compiled kernel per dtype serves every rank, shape and attribute combination.

``window_pool`` does max / average / LP pooling one output row at a time: the row is initialised, then every
in-bounds window tap folds one (strided) input row into it, in the reference's tap order. The in-bounds output range
of each tap column is precomputed once per call, and inner loops index with unsigned integers (Numba adds no
negative-index wraparound then), so they vectorize. Adaptive average pooling is separable and runs as resampling
passes (``kernels_vision.resample_axis``).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64
from numba.extending import overload

PAR_MIN = 1 << 15  # work items (output elements x window taps) below which kernels stay single-threaded
PAR_CHUNKS = 64  # parallel tasks of a row-chunked kernel (load balance for up to ~16 threads)

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
def valid_ranges(n_taps, dil, pad, stride, n_in, n_out):  # noqa: ANN001, ANN201
    """Per tap ``j``: the output range ``[lo[j], hi[j])`` whose input position ``o * stride + j * dil - pad`` lies in
    ``[0, n_in)`` (``lo <= hi``, both within ``[0, n_out]``)."""
    lo = np.empty(n_taps, np.int64)
    hi = np.empty(n_taps, np.int64)
    for j in range(n_taps):
        off = j * dil - pad
        a = 0 if off >= 0 else (-off + stride - 1) // stride
        last = n_in - 1 - off
        b = last // stride + 1 if last >= 0 else 0
        a = min(a, n_out)
        lo[j] = a
        hi[j] = max(min(b, n_out), a)
    return lo, hi


@njit(cache=True, nogil=True)
def clipped_lengths(n_out, k, s, p, n, include_pad):  # noqa: ANN001, ANN201
    """Window length of every output clipped to the padded input (``include_pad``) or to the input
    (ops/pooling.py ``_divisors``)."""
    out = np.empty(n_out, np.int64)
    for o in range(n_out):
        start = o * s - p
        end = min(start + k, n + p)
        if not include_pad:
            start = max(start, 0)
            end = min(end, n)
        out[o] = end - start
    return out


# ---------------------------------------------------------------------------------------------------- row updates
@njit(cache=True, nogil=True)
def _row_max(x, xb, st, y, yb, n):  # noqa: ANN001, ANN202
    """``y[yb + o] = max(y[yb + o], x[xb + o * st])`` for ``o < n``, NaN propagating (unsigned indexing)."""
    ux, uy = uint64(xb), uint64(yb)
    if st == 1:
        for o in range(uint64(n)):
            v = x[ux + o]
            a = y[uy + o]
            y[uy + o] = v if ((v > a) | (v != v)) else a
    else:
        us = uint64(st)
        for o in range(uint64(n)):
            v = x[ux + o * us]
            a = y[uy + o]
            y[uy + o] = v if ((v > a) | (v != v)) else a


@njit(cache=True, nogil=True)
def _row_sum(x, xb, st, y, yb, n):  # noqa: ANN001, ANN202
    ux, uy = uint64(xb), uint64(yb)
    if st == 1:
        for o in range(uint64(n)):
            y[uy + o] += x[ux + o]
    else:
        us = uint64(st)
        for o in range(uint64(n)):
            y[uy + o] += x[ux + o * us]


@njit(cache=True, nogil=True)
def _row_pow_sum(x, xb, st, y, yb, n, pw):  # noqa: ANN001, ANN202
    ux, uy, us = uint64(xb), uint64(yb), uint64(st)
    if pw == 2:
        for o in range(uint64(n)):
            v = x[ux + o * us]
            y[uy + o] += v * v
    else:
        for o in range(uint64(n)):
            y[uy + o] += x[ux + o * us] ** pw


@njit(cache=True, nogil=True)
def _row_abs_max(x, xb, st, y, yb, n, sign):  # noqa: ANN001, ANN202
    """``y = max(y, sign * |x|)`` NaN propagating (min |x| is -max(-|x|), as the reference computes it)."""
    ux, uy, us = uint64(xb), uint64(yb), uint64(st)
    for o in range(uint64(n)):
        v = sign * abs(x[ux + o * us])
        a = y[uy + o]
        y[uy + o] = v if ((v > a) | (v != v)) else a


# ---------------------------------------------------------------------------------------------------- window pooling
@njit(cache=True, nogil=True)
def _window_row(kind, x, xo, y, yo, t, ishape, oshape, k, s, p, d, lo_w, hi_w, div_w, div_h, div_d, ip, fp,
                tmp):  # noqa: ANN001, ANN202
    """Output row ``t`` (plane, od, oh). Sums fold the taps in the reference's row-major order; the max kinds first
    reduce the window's input rows into ``tmp`` (contiguous, vectorized), then its columns (strided)."""
    n_d, n_h, n_w = ishape
    o_d, o_h, o_w = oshape
    plane = t // (o_d * o_h)
    r = t - plane * (o_d * o_h)
    od = r // o_h
    oh = r - od * o_h
    yb = yo + t * o_w
    xb = xo + plane * (n_d * n_h * n_w)
    uy = uint64(yb)
    is_max = kind == MAX or kind == LP_MAX_ABS or kind == LP_MIN_ABS
    init = like(y, -np.inf) if is_max else like(y, 0.0)
    for o in range(uint64(o_w)):
        y[uy + o] = init
    pw = like(y, fp[0])
    sign = like(y, -1.0 if kind == LP_MIN_ABS else 1.0)
    rows = 0
    for kd in range(k[0]):
        i_d = od * s[0] - p[0] + kd * d[0]
        if i_d < 0 or i_d >= n_d:
            continue
        for kh in range(k[1]):
            i_h = oh * s[1] - p[1] + kh * d[1]
            if i_h < 0 or i_h >= n_h:
                continue
            xr = xb + (i_d * n_h + i_h) * n_w
            if is_max:
                ux = uint64(xr)
                if kind == MAX:
                    if rows == 0:
                        for i in range(uint64(n_w)):
                            tmp[i] = x[ux + i]
                    else:
                        _row_max(x, xr, 1, tmp, 0, n_w)
                else:
                    if rows == 0:
                        for i in range(uint64(n_w)):
                            tmp[i] = sign * abs(x[ux + i])
                    else:
                        _row_abs_max(x, xr, 1, tmp, 0, n_w, sign)
                rows += 1
                continue
            for kw in range(k[2]):
                lo = lo_w[kw]
                n = hi_w[kw] - lo
                if n <= 0:
                    continue
                xs = xr + lo * s[2] + kw * d[2] - p[2]
                if kind == AVG:
                    _row_sum(x, xs, s[2], y, yb + lo, n)
                else:
                    _row_pow_sum(x, xs, s[2], y, yb + lo, n, pw)
    if is_max and rows > 0:
        for kw in range(k[2]):
            lo = lo_w[kw]
            n = hi_w[kw] - lo
            if n > 0:
                _row_max(tmp, lo * s[2] + kw * d[2] - p[2], s[2], y, yb + lo, n)
    if kind == AVG:
        # ip = (count_include_pad, divisor_override or 0); the divisor is converted to y's dtype before dividing
        if ip[1] != 0:
            div = like(y, ip[1])
            for o in range(uint64(o_w)):
                y[uy + o] = y[uy + o] / div
        else:
            outer = div_d[od] * div_h[oh]
            for o in range(o_w):
                y[yb + o] = y[yb + o] / like(y, outer * div_w[o])
    elif kind == LP:
        # fp = (p, 1/p, prod(kernel)); ip[0]: a window is cut short by ceil mode, so every total is rescaled
        inv = like(y, fp[1])
        half = like(y, 0.5)
        if ip[0] != 0:
            full = like(y, fp[2])
            outer = div_d[od] * div_h[oh]
            for o in range(o_w):
                y[yb + o] = y[yb + o] / like(y, outer * div_w[o]) * full
        if inv == half:
            for o in range(uint64(o_w)):
                y[uy + o] = np.sqrt(y[uy + o])
        else:
            for o in range(uint64(o_w)):
                y[uy + o] = y[uy + o] ** inv
    elif kind == LP_MIN_ABS:
        for o in range(uint64(o_w)):
            y[uy + o] = -y[uy + o]


@njit(cache=True, nogil=True)
def _window_rows(kind, x, xo, y, yo, c, chunks, rows, ishape, oshape, k, s, p, d, lo_w, hi_w, div_w, div_h, div_d,
                 ip, fp):  # noqa: ANN001, ANN202
    """Rows ``[c * rows // chunks, (c + 1) * rows // chunks)`` sharing one scratch row."""
    tmp = np.empty(ishape[2], y.dtype)
    for t in range(c * rows // chunks, (c + 1) * rows // chunks):
        _window_row(kind, x, xo, y, yo, t, ishape, oshape, k, s, p, d, lo_w, hi_w, div_w, div_h, div_d, ip, fp, tmp)


@njit(cache=True, nogil=True, parallel=True)
def window_pool(kind, x, xo, y, yo, planes, ishape, oshape, k, s, p, d, ip, fp):  # noqa: ANN001, ANN201
    """Max/avg/LP pooling of ``planes`` (D, H, W) volumes; ``kind`` selects the reduction (module constants);
    ``k, s, p, d``: kernel, stride, padding, dilation 3-tuples; ``ip``/``fp``: int/float parameters of the kind."""
    lo_w, hi_w = valid_ranges(k[2], d[2], p[2], s[2], ishape[2], oshape[2])
    include = ip[0] != 0 or kind == LP  # LP rescales by the window clipped to the (unpadded) input
    div_d = clipped_lengths(oshape[0], k[0], s[0], p[0], ishape[0], include)
    div_h = clipped_lengths(oshape[1], k[1], s[1], p[1], ishape[1], include)
    div_w = clipped_lengths(oshape[2], k[2], s[2], p[2], ishape[2], include)
    rows = planes * oshape[0] * oshape[1]
    if rows * oshape[2] * k[0] * k[1] * k[2] < PAR_MIN:
        _window_rows(kind, x, xo, y, yo, 0, 1, rows, ishape, oshape, k, s, p, d, lo_w, hi_w, div_w, div_h, div_d,
                     ip, fp)
    else:
        chunks = min(rows, PAR_CHUNKS)
        for c in prange(chunks):
            _window_rows(kind, x, xo, y, yo, np.int64(c), chunks, rows, ishape, oshape, k, s, p, d, lo_w, hi_w,
                         div_w, div_h, div_d, ip, fp)


# ---------------------------------------------------------------------------------------------------- with indices
@njit(cache=True, nogil=True)
def window_bounds(adaptive, n_out, n_in, k, s, p, d):  # noqa: ANN001, ANN201
    """Per output: first tap position, tap count and tap step -- sliding windows, or torch's adaptive bins."""
    start = np.empty(n_out, np.int64)
    count = np.empty(n_out, np.int64)
    for o in range(n_out):
        if adaptive:
            start[o] = (o * n_in) // n_out
            count[o] = ((o + 1) * n_in + n_out - 1) // n_out - start[o]
        else:
            start[o] = o * s - p
            count[o] = k
    return start, count, (1 if adaptive else d)


@njit(cache=True, nogil=True)
def _first_inside(start, step):  # noqa: ANN001, ANN202
    """The first tap position >= 0 (``start`` plus a whole number of steps)."""
    return start if start >= 0 else start + ((-start + step - 1) // step) * step


@njit(cache=True, nogil=True)
def _argmax_row(x, xo, y, yo, ix, ixo, t, ishape, oshape, b_d, b_h, b_w):  # noqa: ANN001, ANN202
    """One output row of max pooling with torch's indices: a scan of each window's taps in row-major order that
    takes ``val > max or isnan(val)`` starting from the lowest value at the first tap inside the input -- the first
    maximum, the last NaN; a window wholly in padding keeps the lowest value and that first tap."""
    n_d, n_h, n_w = ishape
    o_d, o_h, o_w = oshape
    plane = t // (o_d * o_h)
    r = t - plane * (o_d * o_h)
    od = r // o_h
    oh = r - od * o_h
    xb = xo + plane * (n_d * n_h * n_w)
    s_d, c_d, st_d = b_d[0][od], b_d[1][od], b_d[2]
    s_h, c_h, st_h = b_h[0][oh], b_h[1][oh], b_h[2]
    st_w = b_w[2]
    low = like(y, -np.inf)
    for o in range(o_w):
        s_w, c_w = b_w[0][o], b_w[1][o]
        best = low
        bi = (_first_inside(s_d, st_d) * n_h + _first_inside(s_h, st_h)) * n_w + _first_inside(s_w, st_w)
        for a in range(c_d):
            i_d = s_d + a * st_d
            if i_d < 0 or i_d >= n_d:
                continue
            for b in range(c_h):
                i_h = s_h + b * st_h
                if i_h < 0 or i_h >= n_h:
                    continue
                rr = (i_d * n_h + i_h) * n_w
                for c in range(c_w):
                    i_w = s_w + c * st_w
                    if i_w < 0 or i_w >= n_w:
                        continue
                    v = x[xb + rr + i_w]
                    if v > best or v != v:
                        best = v
                        bi = rr + i_w
        y[yo + t * o_w + o] = best
        ix[ixo + t * o_w + o] = bi


@njit(cache=True, nogil=True, parallel=True)
def argmax_pool(adaptive, x, xo, y, yo, ix, ixo, planes, ishape, oshape, k, s, p, d):  # noqa: ANN001, ANN201
    """Max pooling with torch's flat per-plane indices (int64 ``ix``): sliding windows (``k, s, p, d``) or, when
    ``adaptive``, torch's adaptive bins (``k`` then only sizes the parallel threshold)."""
    b_d = window_bounds(adaptive, oshape[0], ishape[0], k[0], s[0], p[0], d[0])
    b_h = window_bounds(adaptive, oshape[1], ishape[1], k[1], s[1], p[1], d[1])
    b_w = window_bounds(adaptive, oshape[2], ishape[2], k[2], s[2], p[2], d[2])
    rows = planes * oshape[0] * oshape[1]
    if rows * oshape[2] * k[0] * k[1] * k[2] < PAR_MIN:
        for t in range(rows):
            _argmax_row(x, xo, y, yo, ix, ixo, t, ishape, oshape, b_d, b_h, b_w)
    else:
        for t in prange(rows):
            _argmax_row(x, xo, y, yo, ix, ixo, np.int64(t), ishape, oshape, b_d, b_h, b_w)


__all__ = ["window_pool", "argmax_pool", "like", "valid_ranges", "MAX", "AVG", "LP", "LP_MAX_ABS", "LP_MIN_ABS",
           "PAR_MIN"]
