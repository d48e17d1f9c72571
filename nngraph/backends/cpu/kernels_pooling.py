"""Numba kernels of the pooling ops (``nngraph/ops/pooling.py``) over the executor's flat arenas.

Every kernel sees its input as ``planes`` C-contiguous ``(D, H, W)`` volumes (1-d and 2-d pooling pad the spatial
shape with leading 1s), so one compiled kernel per dtype serves every rank, shape and attribute combination.

``window_pool`` does max / average / LP pooling one output plane at a time: each input slice is scattered into the
``s_h * s_w`` polyphase components of its padded image (padding = the reduction's identity), after which every
window tap is one contiguous loop over the whole output plane, applied in the reference's tap order (so sums are
bit-identical to it). ``argmax_pool`` scans windows for max pooling with torch's indices. Inner loops index with
unsigned integers: Numba then adds no negative-index wraparound and LLVM vectorizes them. Max pooling runs
separably instead (``_max_rows``: the max of the window's rows, then of the taps along that row, in vectors), and
output planes of a few values (global pooling, strides as large as the window) are read window by window, many
planes side by side (``_window_direct``). Adaptive average pooling with unequal bins runs as separable resampling passes
(``kernels_vision.resample_axis``).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64
from numba.extending import overload

from .kernels.gemm import num_threads
from .kernels.launch import standalone
from .kernels.leaf import leaf
from .kernels.simd import vec_width, veven, vgather_n, vload, vload_n, vmax_taps, vsplat, vstore, vstore_n

PAR_MIN = 1 << 15  # work items (output elements x window taps) below which kernels stay single-threaded
PAR_CHUNKS = 64  # parallel tasks of a chunked kernel (load balance for up to ~16 threads)

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
def _clipped(o, k, s, p, n, include_pad):  # noqa: ANN001, ANN202
    start = o * s - p
    end = min(start + k, n + p)
    if not include_pad:
        start = max(start, 0)
        end = min(end, n)
    return end - start


@njit(cache=True, nogil=True)
def divisor_table(ishape, oshape, k, s, p, include_pad, override, y):  # noqa: ANN001, ANN201
    """Per output (od, oh, ow): the window size clipped to the padded input (``include_pad``) or to the input
    (ops/pooling.py ``_divisors``), or ``override`` when non-zero -- in y's dtype, like the reference's divisor."""
    o_d, o_h, o_w = oshape
    out = np.empty(o_d * o_h * o_w, y.dtype)
    for od in range(o_d):
        cd = _clipped(od, k[0], s[0], p[0], ishape[0], include_pad)
        for oh in range(o_h):
            ch = _clipped(oh, k[1], s[1], p[1], ishape[1], include_pad)
            for ow in range(o_w):
                cw = _clipped(ow, k[2], s[2], p[2], ishape[2], include_pad)
                out[(od * o_h + oh) * o_w + ow] = like(y, override if override != 0 else cd * ch * cw)
    return out


@njit(cache=True, nogil=True)
def _finish(kind, y, yb, n, dv, dvb, ip, fp):  # noqa: ANN001, ANN202
    """Turn ``n`` reduced outputs at ``yb`` into results: divisors ``dv[dvb:]`` (avg), the root (LP), the sign
    (min |x|)."""
    uy, ud, un = uint64(yb), uint64(dvb), uint64(n)
    if kind == AVG:
        for o in range(un):
            y[uy + o] = y[uy + o] / dv[ud + o]
    elif kind == LP:
        # fp = (p, 1/p, prod(kernel)); ip[0]: a window is cut short by ceil mode, so every total is rescaled
        inv = like(y, fp[1])
        if ip[0] != 0:
            full = like(y, fp[2])
            for o in range(un):
                y[uy + o] = y[uy + o] / dv[ud + o] * full
        if inv == like(y, 0.5):
            for o in range(un):
                y[uy + o] = np.sqrt(y[uy + o])
        else:
            for o in range(un):
                y[uy + o] = y[uy + o] ** inv
    elif kind == LP_MIN_ABS:
        for o in range(un):
            y[uy + o] = -y[uy + o]


@njit(cache=True, nogil=True)
def _window_plane(kind, x, xo, y, yo, t, ishape, oshape, k, s, p, d, geo, dv, ip, fp, ph,
                  acc):  # noqa: ANN001, ANN202
    """Output plane ``t`` = (plane, od). Each input depth slice of the window is transformed (LP power, |x|) and
    scattered into ``ph``: the ``s_h * s_w`` polyphase components of the padded slice (``geo``: their rows, pitch
    and size), whose border keeps the reduction's identity. Tap (kh, kw) then reads one component at a fixed offset,
    so it is one contiguous loop over the whole accumulator plane (pitch ``w2``), in the reference's tap order. When
    ``w2`` equals the output width, the output plane itself is the accumulator."""
    n_d, n_h, n_w = ishape
    o_d, o_h, o_w = oshape
    h2, w2, size = geo
    plane = t // o_d
    od = t - plane * o_d
    yb = yo + t * o_h * o_w
    if w2 == o_w:
        acc = y[yb:yb + o_h * o_w]
    is_max = kind == MAX or kind == LP_MAX_ABS or kind == LP_MIN_ABS
    pw = like(y, fp[0])
    sign = like(y, -1.0 if kind == LP_MIN_ABS else 1.0)
    n_acc = uint64(o_h * w2)
    ident = like(y, -np.inf) if is_max else like(y, 0.0)
    for f in range(n_acc):
        acc[f] = ident
    for kd in range(k[0]):
        i_d = od * s[0] - p[0] + kd * d[0]
        if i_d < 0 or i_d >= n_d:
            continue
        xb = xo + (plane * n_d + i_d) * n_h * n_w
        for h in range(n_h):
            hh = h + p[1]
            for b in range(s[2]):
                # input columns w with (w + p_w) % s_w == b go to component (hh % s_h, b), row hh // s_h
                w0 = (b - p[2]) % s[2]
                if w0 >= n_w:
                    continue
                cnt = uint64((n_w - w0 + s[2] - 1) // s[2])
                ux = uint64(xb + h * n_w + w0)
                us = uint64(s[2])
                up = uint64(((hh % s[1]) * s[2] + b) * size + (hh // s[1]) * w2 + (w0 + p[2]) // s[2])
                if kind == MAX or kind == AVG:
                    for j in range(cnt):
                        ph[up + j] = x[ux + j * us]
                elif kind == LP:
                    if pw == 2:
                        for j in range(cnt):
                            v = x[ux + j * us]
                            ph[up + j] = v * v
                    else:
                        for j in range(cnt):
                            ph[up + j] = x[ux + j * us] ** pw
                else:
                    for j in range(cnt):
                        ph[up + j] = sign * abs(x[ux + j * us])
        for kh in range(k[1]):
            r = kh * d[1]
            for kw in range(k[2]):
                c = kw * d[2]
                off = uint64(((r % s[1]) * s[2] + c % s[2]) * size + (r // s[1]) * w2 + c // s[2])
                if is_max:
                    for f in range(n_acc):
                        v = ph[off + f]
                        a = acc[f]
                        acc[f] = v if ((v > a) | (v != v)) else a
                else:
                    for f in range(n_acc):
                        acc[f] += ph[off + f]
    if w2 != o_w:
        for oh in range(o_h):
            uy = uint64(yb + oh * o_w)
            ua = uint64(oh * w2)
            for o in range(uint64(o_w)):
                y[uy + o] = acc[ua + o]
    _finish(kind, y, yb, o_h * o_w, dv, od * o_h * o_w, ip, fp)


@njit(inline="always")
def _direct_tap(kind, x, xb, nv, at, acc, a0, npl, pw, sign):  # noqa: ANN001, ANN202
    """One tap of the direct path: ``acc[a0 + j*npl] (op)= x[xb[j] + at]`` for the planes j < nv (a loop per kind,
    so the inner loop has no branch on it)."""
    ua, un, us = uint64(at), uint64(npl), uint64(a0)
    if kind == AVG:
        for j in range(uint64(nv)):
            acc[us + j * un] += x[uint64(xb[j]) + ua]
    elif kind == MAX:
        for j in range(uint64(nv)):
            v = x[uint64(xb[j]) + ua]
            a = acc[us + j * un]
            acc[us + j * un] = v if ((v > a) | (v != v)) else a
    elif kind == LP:
        for j in range(uint64(nv)):
            v = x[uint64(xb[j]) + ua]
            acc[us + j * un] += v * v if pw == 2 else v ** pw
    else:
        for j in range(uint64(nv)):
            v = sign * abs(x[uint64(xb[j]) + ua])
            a = acc[us + j * un]
            acc[us + j * un] = v if ((v > a) | (v != v)) else a


@leaf
def _window_direct(kind, x, xo, y, yo, t0, t1, ishape, oshape, k, s, p, d, dv, ip, fp, acc, xb,
                   tmp):  # noqa: ANN001, ANN202
    """Output planes ``t0 <= t < t1`` read window by window, for output planes too small for the polyphase scatter
    to pay (a global pooling has one output per plane: the scatter would touch every input once per tap). Taps run
    in the reference's order; the innermost loop runs across the planes, so their sums are independent chains."""
    n_d, n_h, n_w = ishape
    o_d, o_h, o_w = oshape
    npl = o_h * o_w
    g = t1 - t0
    is_max = kind == MAX or kind == LP_MAX_ABS or kind == LP_MIN_ABS
    pw = like(y, fp[0])
    sign = like(y, -1.0 if kind == LP_MIN_ABS else 1.0)
    ident = like(y, -np.inf) if is_max else like(y, 0.0)
    for f in range(g * npl):
        acc[f] = ident
    for kd in range(k[0]):
        nv = 0  # the planes whose depth slice kd lies inside the input
        plane = t0 // o_d
        od = t0 - plane * o_d
        for j in range(g):
            i_d = od * s[0] - p[0] + kd * d[0]
            if 0 <= i_d < n_d:
                xb[nv] = xo + (plane * n_d + i_d) * n_h * n_w
                tmp[nv] = j
                nv += 1
            od += 1
            if od == o_d:
                od = 0
                plane += 1
        if nv < g:  # (depth padding only) gather the valid planes' accumulators to the front
            for q in range(nv):
                for f in range(npl):
                    acc[g * npl + q * npl + f] = acc[tmp[q] * npl + f]
        base = g * npl if nv < g else 0
        for kh in range(k[1]):
            for kw in range(k[2]):
                for oh in range(o_h):
                    ih = oh * s[1] - p[1] + kh * d[1]
                    if ih < 0 or ih >= n_h:
                        continue
                    for ow in range(o_w):
                        iw = ow * s[2] - p[2] + kw * d[2]
                        if 0 <= iw < n_w:
                            _direct_tap(kind, x, xb, nv, ih * n_w + iw, acc, base + oh * o_w + ow, npl, pw, sign)
        if nv < g:
            for q in range(nv):
                for f in range(npl):
                    acc[tmp[q] * npl + f] = acc[g * npl + q * npl + f]
    od = t0 - (t0 // o_d) * o_d
    for j in range(g):
        yb = yo + (t0 + j) * npl
        if kind == AVG:  # (_finish inline: one call per output plane would cost as much as its sum)
            for f in range(npl):
                y[yb + f] = acc[j * npl + f] / dv[od * npl + f]
        else:
            for f in range(npl):
                y[yb + f] = acc[j * npl + f]
            _finish(kind, y, yb, npl, dv, od * npl, ip, fp)
        od = od + 1 if od + 1 < o_d else 0


@njit(inline="always")
def _row_taps(row, i, step):  # noqa: ANN001, ANN202
    """Lanes j: ``row[i + j*step]`` (full-width loads: the row has a vector's slack per unit of step)."""
    if step == 1:
        return vload(row, i)
    if step == 2:
        return veven(vload(row, i), vload(row, i + vec_width(row)))
    return vgather_n(row, i, step, vec_width(row))


@leaf
def _max_rows(x, xo, y, yo, t, ishape, oshape, k, s, p, d, row, rows):  # noqa: ANN001, ANN202
    """Max pooling of output plane ``t`` = (plane, od), separably: each output row takes the max of its window's
    input rows, a vector at a time in registers, into ``row`` (-inf outside the input), then a vector of outputs
    the max of its k_w taps along it (stride-s_w loads). Max does not depend on the order of its operands (NaN
    propagates either way), so this is the reference's result (up to which of +0 / -0 a tie keeps), in
    k_d*k_h + k_w loads per vector instead of k_d*k_h*k_w. ``rows``: scratch for k_d*k_h row offsets."""
    n_d, n_h, n_w = ishape
    o_d, o_h, o_w = oshape
    plane = t // o_d
    od = t - plane * o_d
    w = vec_width(y)
    ninf = vsplat(like(y, -np.inf))
    sw = s[2]
    for oh in range(o_h):
        nr = 0
        for kd in range(k[0]):
            i_d = od * s[0] - p[0] + kd * d[0]
            if i_d < 0 or i_d >= n_d:
                continue
            for kh in range(k[1]):
                ih = oh * s[1] - p[1] + kh * d[1]
                if 0 <= ih < n_h:
                    rows[nr] = xo + ((plane * n_d + i_d) * n_h + ih) * n_w
                    nr += 1
        full = n_w - n_w % w
        for c in range(0, full, w):
            acc = ninf
            for r in range(nr):
                acc = vmax_taps(acc, vload(x, rows[r] + c))
            vstore(row, p[2] + c, acc)
        if full < n_w:
            n = n_w - full
            acc = ninf
            for r in range(nr):
                acc = vmax_taps(acc, vload_n(x, rows[r] + full, n))
            vstore_n(row, p[2] + full, acc, n)
        yb = yo + (t * o_h + oh) * o_w
        for ow in range(0, o_w, w):
            acc = _row_taps(row, ow * sw, sw)
            for kw in range(1, k[2]):
                acc = vmax_taps(acc, _row_taps(row, ow * sw + kw * d[2], sw))
            if ow + w <= o_w:
                vstore(y, yb + ow, acc)
            else:
                vstore_n(y, yb + ow, acc, o_w - ow)


DIRECT_ACC = 16  # polyphase accumulator rows (output rows x pitch) below which windows are read directly
DIRECT_PLANES = 128  # planes summed side by side by the direct path (per tap: a loop this long)


@njit(cache=True, nogil=True)
def _window_planes(kind, x, xo, y, yo, c, chunks, tasks, ishape, oshape, k, s, p, d, geo, dv, ip,
                   fp):  # noqa: ANN001, ANN202
    """Planes ``[c * tasks // chunks, (c + 1) * tasks // chunks)`` sharing the scratch (whose padding border is
    filled once: the scatter of every slice rewrites the same interior)."""
    h2, w2, size = geo
    t_lo, t_hi = c * tasks // chunks, (c + 1) * tasks // chunks
    if kind == MAX and oshape[1] * w2 >= DIRECT_ACC:
        wp = max(ishape[2] + 2 * p[2], (oshape[2] - 1) * s[2] + d[2] * (k[2] - 1) + 1)
        row = np.empty(wp + vec_width(y) * max(s[2], 2), y.dtype)
        for w in range(row.size):  # the padding stays -inf: the rows only rewrite the interior
            row[w] = like(y, -np.inf)
        rows = np.empty(k[0] * k[1], np.int64)
        for t in range(t_lo, t_hi):
            _max_rows(x, xo, y, yo, t, ishape, oshape, k, s, p, d, row, rows)
        return
    if oshape[1] * w2 < DIRECT_ACC:
        g = min(DIRECT_PLANES, t_hi - t_lo)
        acc = np.empty(2 * g * oshape[1] * oshape[2], y.dtype)
        xb = np.empty(2 * g, np.int64)
        for t in range(t_lo, t_hi, g):
            _window_direct(kind, x, xo, y, yo, t, min(t + g, t_hi), ishape, oshape, k, s, p, d, dv, ip, fp, acc,
                           xb[:g], xb[g:])
        return
    ph = np.empty(s[1] * s[2] * size, y.dtype)
    ident = like(y, -np.inf) if (kind == MAX or kind == LP_MAX_ABS or kind == LP_MIN_ABS) else like(y, 0.0)
    for f in range(uint64(ph.shape[0])):
        ph[f] = ident
    acc = np.empty(oshape[1] * w2, y.dtype)
    for t in range(t_lo, t_hi):
        _window_plane(kind, x, xo, y, yo, t, ishape, oshape, k, s, p, d, geo, dv, ip, fp, ph, acc)


@standalone
@njit(cache=True, nogil=True, parallel=True)
def window_pool(kind, x, xo, y, yo, planes, ishape, oshape, k, s, p, d, ip, fp):  # noqa: ANN001, ANN201
    """Max/avg/LP pooling of ``planes`` (D, H, W) volumes; ``kind`` selects the reduction (module constants);
    ``k, s, p, d``: kernel, stride, padding, dilation 3-tuples; ``ip``/``fp``: int/float parameters of the kind."""
    # avg: ip = (count_include_pad, divisor_override or 0); LP rescales by the window clipped to the input
    if kind == AVG or (kind == LP and ip[0] != 0):
        dv = divisor_table(ishape, oshape, k, s, p, ip[0] != 0 or kind == LP, ip[1] if kind == AVG else 0, y)
    else:
        dv = np.empty(0, y.dtype)
    # polyphase components of the padded slice, extended on the right/bottom for ceil mode
    hp = max(ishape[1] + 2 * p[1], (oshape[1] - 1) * s[1] + d[1] * (k[1] - 1) + 1)
    wp = max(ishape[2] + 2 * p[2], (oshape[2] - 1) * s[2] + d[2] * (k[2] - 1) + 1)
    h2 = (hp + s[1] - 1) // s[1]
    w2 = (wp + s[2] - 1) // s[2]
    geo = (h2, w2, h2 * w2 + (d[2] * (k[2] - 1)) // s[2] + 1)
    tasks = planes * oshape[0]
    if tasks * oshape[1] * oshape[2] * k[0] * k[1] * k[2] < PAR_MIN:
        _window_planes(kind, x, xo, y, yo, 0, 1, tasks, ishape, oshape, k, s, p, d, geo, dv, ip, fp)
    else:
        # the direct path's planes cost the same: one chunk per thread saves each chunk's set-up
        chunks = min(tasks, num_threads() if oshape[1] * w2 < DIRECT_ACC else PAR_CHUNKS)
        for c in prange(chunks):
            _window_planes(kind, x, xo, y, yo, np.int64(c), chunks, tasks, ishape, oshape, k, s, p, d, geo, dv, ip,
                           fp)


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


@standalone
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
