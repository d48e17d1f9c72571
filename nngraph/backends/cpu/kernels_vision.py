"""Numba kernels of the vision ops (``nngraph/ops/vision.py``), padding (``ops/padding.py``) and adaptive average
pooling over the executor's flat arenas.

* ``resample_axis``: one separable resampling pass along one axis of a C-contiguous ``(outer, n_in, inner)`` array:
  ``y[p, o, i] = sum_t w[o, t] * x[p, idx[o, t], i]``. The taps (linear, cubic, antialiased linear/cubic, adaptive
  average bins) are computed in the kernel with the reference's arithmetic, in the array's dtype.
* ``nearest``: nearest-neighbour gather of ``planes`` (D, H, W) volumes with torch's float32 index arithmetic.
* ``unfold`` / ``fold``: im2col / col2im of ``planes`` (D, H, W) volumes, one block row at a time.
* ``pad``: constant / reflect / replicate / circular padding (and cropping) of a strided 6-d view.

Shapes and attributes are runtime ints/tuples of fixed length: one compiled kernel per dtype.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange, uint64

from .kernels_pooling import PAR_CHUNKS, PAR_MIN, like, valid_ranges

# resample_axis kinds
LINEAR, CUBIC, AA_LINEAR, AA_CUBIC, ADAPTIVE_AVG = 0, 1, 2, 3, 4
# nearest index modes per dim
NEAREST_SAME, NEAREST_HALF, NEAREST_FLOOR, NEAREST_EXACT = 0, 1, 2, 3
# pad modes
PAD_CONSTANT, PAD_REFLECT, PAD_REPLICATE, PAD_CIRCULAR = 0, 1, 2, 3


# ---------------------------------------------------------------------------------------------------- resampling
@njit(cache=True, nogil=True)
def _ratio(y, n_in, n_out, align, scale):  # noqa: ANN001, ANN202
    """ops/vision.py ``_area_scale`` in y's dtype."""
    if align:
        if n_out > 1:
            return like(y, n_in - 1) / like(y, n_out - 1)
        return like(y, 0.0)
    if scale > 0:
        return like(y, 1.0 / scale)
    return like(y, n_in) / like(y, n_out)


@njit(cache=True, nogil=True)
def _aa_filter(cubic, u):  # noqa: ANN001, ANN202
    u = abs(u)
    if not cubic:
        return max(1.0 - u, 0.0)
    a = -0.5
    if u < 1.0:
        return ((a + 2.0) * u - (a + 3.0)) * u * u + 1.0
    if u < 2.0:
        return (((u - 5.0) * u + 8.0) * u - 4.0) * a
    return 0.0


@njit(cache=True, nogil=True)
def resample_taps(kind, n_in, n_out, align, scale, y):  # noqa: ANN001, ANN201
    """``(idx, w)`` of shape ``(n_out, taps)``: source positions and weights (y's dtype) of every output position,
    as ops/vision.py ``_linear_taps`` / ``_cubic_taps`` / ``_aa_taps`` and ops/pooling.py ``adaptive_bins``."""
    if kind == LINEAR or kind == CUBIC:
        cubic = kind == CUBIC
        nt = 4 if cubic else 2
        idx = np.empty((n_out, nt), np.int64)
        w = np.empty((n_out, nt), y.dtype)
        ratio = _ratio(y, n_in, n_out, align, scale)
        half, zero, one = like(y, 0.5), like(y, 0.0), like(y, 1.0)
        a = like(y, -0.75)
        a2, a3, a5, a8, a4 = a + like(y, 2.0), a + like(y, 3.0), like(y, 5.0) * a, like(y, 8.0) * a, like(y, 4.0) * a
        two = like(y, 2.0)
        for o in range(n_out):
            dst = like(y, o)
            if align:
                src = ratio * dst
            else:
                src = ratio * (dst + half) - half
                if not cubic and src < zero:
                    src = zero
            i0 = min(int(np.floor(src)), n_in - 1)
            t = src - like(y, i0)
            t = zero if t < zero else (one if t > one else t)
            if cubic:
                u = t + one
                w[o, 0] = ((a * u - a5) * u + a8) * u - a4
                w[o, 1] = (a2 * t - a3) * t * t + one
                u = one - t
                w[o, 2] = (a2 * u - a3) * u * u + one
                u = two - t
                w[o, 3] = ((a * u - a5) * u + a8) * u - a4
                for j in range(4):
                    idx[o, j] = min(max(i0 - 1 + j, 0), n_in - 1)
            else:
                w[o, 0] = one - t
                w[o, 1] = t
                idx[o, 0] = i0
                idx[o, 1] = i0 + 1 if i0 < n_in - 1 else i0
        return idx, w
    if kind == ADAPTIVE_AVG:
        nt = 0
        for o in range(n_out):
            nt = max(nt, ((o + 1) * n_in + n_out - 1) // n_out - (o * n_in) // n_out)
        idx = np.empty((n_out, nt), np.int64)
        w = np.empty((n_out, nt), y.dtype)
        for o in range(n_out):
            start = (o * n_in) // n_out
            end = ((o + 1) * n_in + n_out - 1) // n_out
            wv = like(y, 1.0 / (end - start))
            for j in range(nt):
                idx[o, j] = min(start + j, end - 1)
                w[o, j] = wv if start + j < end else like(y, 0.0)
        return idx, w
    # antialiased: float64 arithmetic on the dtype-rounded ratio, weights renormalized, then cast
    cubic = kind == AA_CUBIC
    ratio = float(_ratio(y, n_in, n_out, align, scale))
    half = 2.0 if cubic else 1.0
    support = half * ratio if ratio >= 1.0 else half
    inv = 1.0 / ratio if ratio >= 1.0 else 1.0
    nt = int(math.ceil(support)) * 2 + 1
    idx = np.empty((n_out, nt), np.int64)
    w = np.empty((n_out, nt), y.dtype)
    ww = np.empty(nt, np.float64)
    for o in range(n_out):
        center = ratio * (o + 0.5)
        xmin = max(int(center - support + 0.5), 0)
        xsize = min(max(min(int(center + support + 0.5), n_in) - xmin, 0), nt)
        total = 0.0
        for j in range(nt):
            ww[j] = _aa_filter(cubic, (j + xmin - center + 0.5) * inv) if j < xsize else 0.0
            total += ww[j]
        for j in range(nt):
            w[o, j] = ww[j] / total if total != 0.0 else ww[j]
            idx[o, j] = min(xmin + j, n_in - 1)
    return idx, w


@njit(cache=True, nogil=True)
def _resample_rows(x, xo, y, yo, r0, r1, n_in, n_out, inner, idx, w):  # noqa: ANN001, ANN202
    """Output rows ``[r0, r1)`` (row ``r = p * n_out + o``) of a pass along a non-last axis (rows of ``inner``
    contiguous elements)."""
    p = r0 // n_out
    o = r0 - p * n_out
    nt = idx.shape[1]
    un = uint64(inner)
    for r in range(r0, r1):
        uy = uint64(yo + r * inner)
        xb = xo + p * n_in * inner
        ux = uint64(xb + idx[o, 0] * inner)
        w0 = w[o, 0]
        for i in range(un):
            y[uy + i] = w0 * x[ux + i]
        for j in range(1, nt):
            ux = uint64(xb + idx[o, j] * inner)
            wj = w[o, j]
            for i in range(un):
                y[uy + i] += wj * x[ux + i]
        o += 1
        if o == n_out:
            o = 0
            p += 1


@njit(cache=True, nogil=True)
def _resample_last(x, xo, y, yo, p, n_in, n_out, idx, w):  # noqa: ANN001, ANN202
    """Row ``p`` of a pass along the last axis: a gather per output (taps flattened: ``idx``/``w`` are 1-d)."""
    uy = uint64(yo + p * n_out)
    ux = uint64(xo + p * n_in)
    nt = idx.shape[0] // n_out
    if nt == 2:
        for o in range(uint64(n_out)):
            q = o * uint64(2)
            y[uy + o] = w[q] * x[ux + uint64(idx[q])] + w[q + uint64(1)] * x[ux + uint64(idx[q + uint64(1)])]
    elif nt == 4:
        for o in range(uint64(n_out)):
            q = o * uint64(4)
            acc = w[q] * x[ux + uint64(idx[q])] + w[q + uint64(1)] * x[ux + uint64(idx[q + uint64(1)])]
            acc += w[q + uint64(2)] * x[ux + uint64(idx[q + uint64(2)])]
            y[uy + o] = acc + w[q + uint64(3)] * x[ux + uint64(idx[q + uint64(3)])]
    else:
        for o in range(n_out):
            q = o * nt
            acc = w[q] * x[ux + uint64(idx[q])]
            for j in range(1, nt):
                acc += w[q + j] * x[ux + uint64(idx[q + j])]
            y[uy + uint64(o)] = acc


@njit(cache=True, nogil=True)
def _resample_chunk(x, xo, y, yo, c, chunks, outer, n_in, n_out, inner, idx, w):  # noqa: ANN001, ANN202
    """Chunk ``c`` of ``chunks``: rows of ``outer`` (last axis) or of ``outer * n_out`` (other axes)."""
    if inner == 1:
        idx_f = idx.reshape(-1)
        w_f = w.reshape(-1)
        for p in range(c * outer // chunks, (c + 1) * outer // chunks):
            _resample_last(x, xo, y, yo, p, n_in, n_out, idx_f, w_f)
    else:
        rows = outer * n_out
        _resample_rows(x, xo, y, yo, c * rows // chunks, (c + 1) * rows // chunks, n_in, n_out, inner, idx, w)


@njit(cache=True, nogil=True, parallel=True)
def resample_axis(kind, x, xo, y, yo, outer, n_in, n_out, inner, align, scale):  # noqa: ANN001, ANN201
    """One separable pass: ``(outer, n_in, inner) -> (outer, n_out, inner)`` with the taps of ``kind``;
    ``align``: align_corners (0/1), ``scale``: the user's scale factor for this axis (0.0: none)."""
    idx, w = resample_taps(kind, n_in, n_out, align, scale, y)
    if outer * n_out * inner * idx.shape[1] < PAR_MIN:
        _resample_chunk(x, xo, y, yo, 0, 1, outer, n_in, n_out, inner, idx, w)
    else:
        chunks = min(outer * (n_out if inner > 1 else 1), PAR_CHUNKS)
        for c in prange(chunks):
            _resample_chunk(x, xo, y, yo, np.int64(c), chunks, outer, n_in, n_out, inner, idx, w)


# ---------------------------------------------------------------------------------------------------- nearest
@njit(cache=True, nogil=True)
def _nearest_index(n_in, n_out, mode, ratio):  # noqa: ANN001, ANN202
    """ops/vision.py ``nearest_indices``; ``ratio`` is the float32 output-to-input ratio."""
    idx = np.empty(n_out, np.int64)
    r32 = np.float32(ratio)
    r64 = np.float64(r32)
    for o in range(n_out):
        if mode == NEAREST_SAME:
            s = o
        elif mode == NEAREST_HALF:
            s = o >> 1
        elif mode == NEAREST_FLOOR:
            s = int(np.floor(np.float32(o) * r32))
        else:
            s = int(np.floor(np.float32((o + 0.5) * r64)))
        idx[o] = min(s, n_in - 1)
    return idx


@njit(cache=True, nogil=True)
def _nearest_volume(x, xo, y, yo, t, ishape, oshape, i_d, i_h, i_w, mode_w):  # noqa: ANN001, ANN202
    """Output rows of (plane, od) = divmod(t, o_d); a row whose source row repeats the previous one is copied."""
    n_d, n_h, n_w = ishape
    o_d, o_h, o_w = oshape
    plane = t // o_d
    od = t - plane * o_d
    xb = xo + plane * (n_d * n_h * n_w) + i_d[od] * n_h * n_w
    yb = yo + t * o_h * o_w
    for oh in range(o_h):
        uy = uint64(yb + oh * o_w)
        if oh > 0 and i_h[oh] == i_h[oh - 1]:
            up = uint64(yb + (oh - 1) * o_w)
            for o in range(uint64(o_w)):
                y[uy + o] = y[up + o]
            continue
        ux = uint64(xb + i_h[oh] * n_w)
        if mode_w == NEAREST_SAME:
            for o in range(uint64(o_w)):
                y[uy + o] = x[ux + o]
        else:
            for o in range(uint64(o_w)):
                y[uy + o] = x[ux + uint64(i_w[o])]


@njit(cache=True, nogil=True, parallel=True)
def nearest(x, xo, y, yo, planes, ishape, oshape, modes, ratios):  # noqa: ANN001, ANN201
    """Nearest-neighbour resize of ``planes`` (D, H, W) volumes; ``modes``/``ratios`` per dim (module constants)."""
    i_d = _nearest_index(ishape[0], oshape[0], modes[0], ratios[0])
    i_h = _nearest_index(ishape[1], oshape[1], modes[1], ratios[1])
    i_w = _nearest_index(ishape[2], oshape[2], modes[2], ratios[2])
    mode_w = modes[2]
    tasks = planes * oshape[0]
    if tasks * oshape[1] * oshape[2] < PAR_MIN:
        for t in range(tasks):
            _nearest_volume(x, xo, y, yo, t, ishape, oshape, i_d, i_h, i_w, mode_w)
    else:
        for t in prange(tasks):
            _nearest_volume(x, xo, y, yo, np.int64(t), ishape, oshape, i_d, i_h, i_w, mode_w)


# ---------------------------------------------------------------------------------------------------- im2col / col2im
@njit(cache=True, nogil=True)
def _unfold_tap(x, xo, y, yo, t, ishape, blocks, k, s, p, d, lo_w, hi_w):  # noqa: ANN001, ANN202
    """The ``b_d * b_h`` output rows of (plane, tap) = divmod(t, prod(k)): row ``t`` of the (planes * prod(k), L)
    output."""
    n_d, n_h, n_w = ishape
    b_d, b_h, b_w = blocks
    kk = k[0] * k[1] * k[2]
    plane = t // kk
    tap = t - plane * kk
    kd = tap // (k[1] * k[2])
    kh = (tap // k[2]) % k[1]
    kw = tap % k[2]
    lo, hi = lo_w[kw], hi_w[kw]
    st = s[2]
    zero = like(y, 0.0)
    xp = xo + plane * (n_d * n_h * n_w) + kw * d[2] - p[2]
    yb = yo + t * (b_d * b_h * b_w)
    for bd in range(b_d):
        i_d = bd * s[0] - p[0] + kd * d[0]
        for bh in range(b_h):
            i_h = bh * s[1] - p[1] + kh * d[1]
            uy = uint64(yb + (bd * b_h + bh) * b_w)
            if i_d < 0 or i_d >= n_d or i_h < 0 or i_h >= n_h:
                for o in range(uint64(b_w)):
                    y[uy + o] = zero
                continue
            for o in range(uint64(lo)):
                y[uy + o] = zero
            ux = uint64(xp + (i_d * n_h + i_h) * n_w + lo * st)
            uy2 = uy + uint64(lo)
            if st == 1:
                for o in range(uint64(hi - lo)):
                    y[uy2 + o] = x[ux + o]
            else:
                us = uint64(st)
                for o in range(uint64(hi - lo)):
                    y[uy2 + o] = x[ux + o * us]
            for o in range(uint64(hi), uint64(b_w)):
                y[uy + o] = zero


@njit(cache=True, nogil=True, parallel=True)
def unfold(x, xo, y, yo, planes, ishape, blocks, k, s, p, d):  # noqa: ANN001, ANN201
    """im2col of ``planes`` (D, H, W) volumes into ``(planes * prod(k), prod(blocks))`` rows."""
    lo_w, hi_w = valid_ranges(k[2], d[2], p[2], s[2], ishape[2], blocks[2])
    tasks = planes * k[0] * k[1] * k[2]
    if tasks * blocks[0] * blocks[1] * blocks[2] < PAR_MIN:
        for t in range(tasks):
            _unfold_tap(x, xo, y, yo, t, ishape, blocks, k, s, p, d, lo_w, hi_w)
    else:
        for t in prange(tasks):
            _unfold_tap(x, xo, y, yo, np.int64(t), ishape, blocks, k, s, p, d, lo_w, hi_w)


@njit(cache=True, nogil=True)
def _fold_plane(x, xo, y, yo, plane, oshape, blocks, k, s, p, d, lo_w, hi_w):  # noqa: ANN001, ANN202
    n_d, n_h, n_w = oshape
    b_d, b_h, b_w = blocks
    kk = k[0] * k[1] * k[2]
    nb = b_d * b_h * b_w
    yb = yo + plane * (n_d * n_h * n_w)
    zero = like(y, 0.0)
    uy = uint64(yb)
    for i in range(uint64(n_d * n_h * n_w)):
        y[uy + i] = zero
    st = s[2]
    us = uint64(st)
    for tap in range(kk):  # taps in row-major order, as the reference accumulates them
        kd = tap // (k[1] * k[2])
        kh = (tap // k[2]) % k[1]
        kw = tap % k[2]
        lo, hi = lo_w[kw], hi_w[kw]
        if hi <= lo:
            continue
        off = kw * d[2] - p[2] + lo * st
        xt = xo + (plane * kk + tap) * nb + lo
        for bd in range(b_d):
            i_d = bd * s[0] - p[0] + kd * d[0]
            if i_d < 0 or i_d >= n_d:
                continue
            for bh in range(b_h):
                i_h = bh * s[1] - p[1] + kh * d[1]
                if i_h < 0 or i_h >= n_h:
                    continue
                uyr = uint64(yb + (i_d * n_h + i_h) * n_w + off)
                uxr = uint64(xt + (bd * b_h + bh) * b_w)
                if st == 1:
                    for o in range(uint64(hi - lo)):
                        y[uyr + o] += x[uxr + o]
                else:
                    for o in range(uint64(hi - lo)):
                        y[uyr + o * us] += x[uxr + o]


@njit(cache=True, nogil=True, parallel=True)
def fold(x, xo, y, yo, planes, oshape, blocks, k, s, p, d):  # noqa: ANN001, ANN201
    """col2im: sums ``(planes * prod(k), prod(blocks))`` columns into ``planes`` (D, H, W) volumes."""
    lo_w, hi_w = valid_ranges(k[2], d[2], p[2], s[2], oshape[2], blocks[2])
    work = planes * k[0] * k[1] * k[2] * blocks[0] * blocks[1] * blocks[2]
    if work < PAR_MIN or planes == 1:
        for q in range(planes):
            _fold_plane(x, xo, y, yo, q, oshape, blocks, k, s, p, d, lo_w, hi_w)
    else:
        for q in prange(planes):
            _fold_plane(x, xo, y, yo, np.int64(q), oshape, blocks, k, s, p, d, lo_w, hi_w)


# ---------------------------------------------------------------------------------------------------- permutation
@njit(cache=True, nogil=True)
def _permute_rows(x, xo, xs, y, yo, ys, t, shape):  # noqa: ANN001, ANN202
    """The ``shape[4]`` rows below index ``t`` of the first four dims; the innermost loop has one unit stride."""
    r = t
    xb = xo
    yb = yo
    for a in range(3, -1, -1):
        i = r % shape[a]
        r //= shape[a]
        xb += i * xs[a]
        yb += i * ys[a]
    n = uint64(shape[5])
    sx, sy = uint64(xs[5]), uint64(ys[5])
    for q in range(shape[4]):
        ux = uint64(xb + q * xs[4])
        uy = uint64(yb + q * ys[4])
        if sx == 1:
            for i in range(n):
                y[uy + i * sy] = x[ux + i]
        elif sy == 1:
            for i in range(n):
                y[uy + i] = x[ux + i * sx]
        else:
            for i in range(n):
                y[uy + i * sy] = x[ux + i * sx]


@njit(cache=True, nogil=True, parallel=True)
def permute(x, xo, xs, y, yo, ys, shape):  # noqa: ANN001, ANN201
    """``y[...] = x[...]`` over a 6-d index space with any element strides on both sides (a negative stride wraps in
    the unsigned index arithmetic and lands on the right element)."""
    tasks = shape[0] * shape[1] * shape[2] * shape[3]
    if tasks * shape[4] * shape[5] < PAR_MIN:
        for t in range(tasks):
            _permute_rows(x, xo, xs, y, yo, ys, t, shape)
    else:
        for t in prange(tasks):
            _permute_rows(x, xo, xs, y, yo, ys, np.int64(t), shape)


# ---------------------------------------------------------------------------------------------------- padding
@njit(cache=True, nogil=True)
def _pad_src(o, n, lo, hi, mode):  # noqa: ANN001, ANN202
    """ops/padding.py ``pad_index``: source position of output position ``o`` (-1: the constant)."""
    pos = o - lo
    if mode == PAD_CONSTANT:
        return pos if 0 <= pos < n else -1
    if mode == PAD_REFLECT:
        i = abs(pos)
        return 2 * (n - 1) - i if i > n - 1 else i
    if mode == PAD_REPLICATE:
        return min(max(pos, 0), n - 1)
    start = max(-lo, 0)
    kept = n - start - max(-hi, 0)
    return start + (o - max(lo, 0)) % kept


@njit(cache=True, nogil=True)
def _pad_rows(x, xo, xs, y, yo, t, ishape, oshape, lo, hi, mode, fill):  # noqa: ANN001, ANN202
    """The ``oshape[4]`` output rows below index ``t`` of the first four dims."""
    n_o = oshape[5]
    rows = oshape[4]
    yb = yo + t * rows * n_o
    xb = xo
    r = t
    constant = False
    for a in range(3, -1, -1):
        o = r % oshape[a]
        r //= oshape[a]
        i = _pad_src(o, ishape[a], lo[a], hi[a], mode)
        if i < 0:
            constant = True
        xb += i * xs[a]
    if constant:
        uy = uint64(yb)
        for o in range(uint64(rows * n_o)):
            y[uy + o] = fill
        return
    n, l5, h5, st = ishape[5], lo[5], hi[5], xs[5]
    a0 = min(max(l5, 0), n_o)  # interior: 0 <= o - l5 < n
    a1 = min(max(l5 + n, a0), n_o)
    for q in range(rows):
        yr = yb + q * n_o
        uy = uint64(yr)
        i4 = _pad_src(q, ishape[4], lo[4], hi[4], mode)
        if i4 < 0:
            for o in range(uint64(n_o)):
                y[uy + o] = fill
            continue
        xr = xb + i4 * xs[4]
        if mode == PAD_CONSTANT:
            for o in range(uint64(a0)):
                y[uy + o] = fill
            for o in range(uint64(a1), uint64(n_o)):
                y[uy + o] = fill
        else:
            for o in range(a0):
                y[yr + o] = x[xr + _pad_src(o, n, l5, h5, mode) * st]
            for o in range(a1, n_o):
                y[yr + o] = x[xr + _pad_src(o, n, l5, h5, mode) * st]
        if a1 > a0:
            ux = uint64(xr + (a0 - l5) * st)
            uy2 = uint64(yr + a0)
            if st == 1:
                for o in range(uint64(a1 - a0)):
                    y[uy2 + o] = x[ux + o]
            else:
                us = uint64(st)
                for o in range(uint64(a1 - a0)):
                    y[uy2 + o] = x[ux + o * us]


@njit(cache=True, nogil=True, parallel=True)
def pad(x, xo, xs, y, yo, ishape, oshape, lo, hi, mode, value):  # noqa: ANN001, ANN201
    """Pad/crop a strided 6-d view (element strides ``xs``, negative ones too) into a dense output; ``lo``/``hi``
    per dim; ``value``: the constant (converted to y's dtype)."""
    fill = like(y, value)
    tasks = oshape[0] * oshape[1] * oshape[2] * oshape[3]
    if tasks * oshape[4] * oshape[5] < PAR_MIN:
        for t in range(tasks):
            _pad_rows(x, xo, xs, y, yo, t, ishape, oshape, lo, hi, mode, fill)
    else:
        for t in prange(tasks):
            _pad_rows(x, xo, xs, y, yo, np.int64(t), ishape, oshape, lo, hi, mode, fill)


__all__ = ["resample_axis", "resample_taps", "nearest", "unfold", "fold", "pad", "permute", "LINEAR", "CUBIC",
           "AA_LINEAR", "AA_CUBIC", "ADAPTIVE_AVG", "NEAREST_SAME", "NEAREST_HALF", "NEAREST_FLOOR", "NEAREST_EXACT",
           "PAD_CONSTANT", "PAD_REFLECT", "PAD_REPLICATE", "PAD_CIRCULAR"]
