"""Kernels of the miscellaneous CPU lowerings (``lower_misc.py``) and the scalar helpers of elementwise formulas.

Scalar helpers (``floordiv``, ``mod``) are typed per operand kind at compile time (``@overload``), so
one formula serves integer, bool and float operands with numpy's semantics: integer division by zero gives 0,
``MIN // -1`` wraps, float results follow numpy's ``npy_divmod`` (sign of the divisor, ``inf // x`` is NaN).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from .kernels.epilogue import ACT_NONE
from .kernels.gemm import gemm_std
from .kernels.launch import standalone

PARALLEL_MIN = 1 << 15  # elements (or multiply-adds) below which kernels run serially


# ------------------------------------------------------------------------------------------------ scalar helpers
def floordiv(a, b):  # noqa: ANN001, ANN201
    """numpy.floor_divide of two scalars (nopython code only)."""
    raise NotImplementedError


def mod(a, b):  # noqa: ANN001, ANN201
    """numpy.remainder of two scalars (nopython code only)."""
    raise NotImplementedError


def _is_int(t) -> bool:  # noqa: ANN001
    return isinstance(t, (types.Integer, types.Boolean))


@njit(inline="always")
def _float_divmod(a, b):  # noqa: ANN001, ANN202
    """numpy's ``npy_divmod`` for a non-zero divisor: (floor quotient, remainder with the divisor's sign)."""
    m = np.fmod(a, b)
    div = (a - m) / b
    if m != 0 or m != m:
        if (b < 0) != (m < 0):
            m += b
            div -= 1
    else:
        m = np.copysign(m, b)  # m is +-0
    if div != 0 or div != div:
        q = np.floor(div)
        if div - q > 0.5:
            q += 1
    else:
        q = np.copysign(div, a / b)
    return q, m


@overload(floordiv, inline="always")
def _floordiv_impl(a, b):  # noqa: ANN001, ANN202
    if _is_int(a) and _is_int(b):
        def impl(a, b):  # noqa: ANN001, ANN202
            x, y = a + 0, b + 0  # bool -> int
            if y == 0:
                return x - x
            if y == -1:  # MIN // -1 wraps (and must not trap)
                return -x
            return x // y
        return impl

    def impl_float(a, b):  # noqa: ANN001, ANN202
        if b == 0:
            return a / b
        return _float_divmod(a, b)[0]
    return impl_float


@overload(mod, inline="always")
def _mod_impl(a, b):  # noqa: ANN001, ANN202
    if _is_int(a) and _is_int(b):
        def impl(a, b):  # noqa: ANN001, ANN202
            x, y = a + 0, b + 0
            if y == 0 or y == -1:
                return x - x
            return x % y
        return impl

    def impl_float(a, b):  # noqa: ANN001, ANN202
        if b == 0:
            return np.fmod(a, b)  # NaN
        return _float_divmod(a, b)[1]
    return impl_float


# ---------------------------------------------------------------------------------------------------- fill
@njit(cache=True, nogil=True)
def fill(y, yo, ys, shape, value):  # noqa: ANN001, ANN201
    """``y[...] = value`` over a 6-d index space with element strides ``ys``."""
    for a in range(shape[0]):
        for b in range(shape[1]):
            for c in range(shape[2]):
                for d in range(shape[3]):
                    base = yo + a * ys[0] + b * ys[1] + c * ys[2] + d * ys[3]
                    for e in range(shape[4]):
                        row = base + e * ys[4]
                        for f in range(shape[5]):
                            y[row + f * ys[5]] = value


# ---------------------------------------------------------------------------------------------------- p-norms
@njit(cache=True, nogil=True, inline="always")
def vnorm(t, n, p):  # noqa: ANN001, ANN201
    """ops/distance.py ``vector_norm`` of ``t[:n]`` in float64: p = 0 counts non-zeros, +-inf is the max/min of
    ``|t|``, p = 1 the sum; other p scale by the largest finite magnitude first (as the reference)."""
    if p == 0:
        c = 0.0
        for k in range(n):
            if t[k] != 0:
                c += 1.0
        return c
    if p == math.inf or p == -math.inf:
        m = 0.0 if p > 0 else math.inf
        for k in range(n):
            a = abs(np.float64(t[k]))
            if a != a:
                return a
            m = max(m, a) if p > 0 else min(m, a)
        return m
    if p == 1:
        s = 0.0
        for k in range(n):
            s += abs(np.float64(t[k]))
        return s
    m = 0.0
    for k in range(n):
        a = abs(np.float64(t[k]))
        if a != a:
            m = a
            break
        m = max(m, a)
    scale = m if (m == m and m != math.inf and m > 0) else 1.0
    s = 0.0
    if p == 2:
        for k in range(n):
            v = abs(np.float64(t[k])) / scale
            s += v * v
        return math.sqrt(s) * scale
    for k in range(n):
        s += (abs(np.float64(t[k])) / scale) ** p
    return s ** (1.0 / p) * scale


@njit(cache=True, nogil=True)
def _normalize_rows(x, xo, y, yo, r, inner, p, eps, r0, r1):  # noqa: ANN001, ANN202
    t = np.empty(r, x.dtype)
    e = x.dtype.type(eps)
    for row in range(r0, r1):
        base = (row // inner) * r * inner + row % inner
        for k in range(r):
            t[k] = x[xo + base + k * inner]
        d = x.dtype.type(vnorm(t, r, p))
        d = d if (d > e or d != d) else e
        for k in range(r):
            y[yo + base + k * inner] = t[k] / d


@njit(cache=True, nogil=True, parallel=True)
def normalize(x, xo, y, yo, outer, r, inner, p, eps):  # noqa: ANN001, ANN201
    """y = x / max(||x||_p, eps) over the middle axis of a dense (outer, r, inner) block."""
    rows = outer * inner
    chunks = min(rows, max(1, rows * r // PARALLEL_MIN))
    if chunks == 1:
        _normalize_rows(x, xo, y, yo, r, inner, p, eps, 0, rows)
    else:
        for c in prange(chunks):
            _normalize_rows(x, xo, y, yo, r, inner, p, eps, c * rows // chunks, (c + 1) * rows // chunks)


@njit(cache=True, nogil=True)
def _cosine_rows(a, ao, b, bo, y, yo, r, inner, eps, r0, r1):  # noqa: ANN001, ANN202
    ta = np.empty(r, a.dtype)
    tb = np.empty(r, a.dtype)
    e = a.dtype.type(eps)
    for row in range(r0, r1):
        base = (row // inner) * r * inner + row % inner
        for k in range(r):
            ta[k] = a[ao + base + k * inner]
            tb[k] = b[bo + base + k * inner]
        na = a.dtype.type(vnorm(ta, r, 2.0))
        nb = a.dtype.type(vnorm(tb, r, 2.0))
        na = na if (na > e or na != na) else e
        nb = nb if (nb > e or nb != nb) else e
        s = 0.0
        for k in range(r):
            s += (ta[k] / na) * (tb[k] / nb)
        y[yo + row] = s


@njit(cache=True, nogil=True, parallel=True)
def cosine(a, ao, b, bo, y, yo, outer, r, inner, eps):  # noqa: ANN001, ANN201
    """y = sum(a/max(|a|, eps) * b/max(|b|, eps)) over the middle axis of dense (outer, r, inner) blocks."""
    rows = outer * inner
    chunks = min(rows, max(1, rows * r // PARALLEL_MIN))
    if chunks == 1:
        _cosine_rows(a, ao, b, bo, y, yo, r, inner, eps, 0, rows)
    else:
        for c in prange(chunks):
            _cosine_rows(a, ao, b, bo, y, yo, r, inner, eps, c * rows // chunks, (c + 1) * rows // chunks)


@njit(cache=True, nogil=True)
def _pairwise_rows(a, ao, b, bo, y, yo, r, p, eps, r0, r1):  # noqa: ANN001, ANN202
    t = np.empty(r, a.dtype)
    e = a.dtype.type(eps)
    for row in range(r0, r1):
        for k in range(r):
            t[k] = a[ao + row * r + k] - b[bo + row * r + k] + e
        y[yo + row] = vnorm(t, r, p)


@njit(cache=True, nogil=True, parallel=True)
def pairwise(a, ao, b, bo, y, yo, rows, r, p, eps):  # noqa: ANN001, ANN201
    """y[i] = ||a[i] - b[i] + eps||_p over the last axis of dense (rows, r) blocks."""
    chunks = min(rows, max(1, rows * r // PARALLEL_MIN))
    if chunks == 1:
        _pairwise_rows(a, ao, b, bo, y, yo, r, p, eps, 0, rows)
    else:
        for c in prange(chunks):
            _pairwise_rows(a, ao, b, bo, y, yo, r, p, eps, c * rows // chunks, (c + 1) * rows // chunks)


@njit(cache=True, nogil=True)
def _pdist_rows(x, xo, y, yo, n, m, p, i0, i1):  # noqa: ANN001, ANN202
    t = np.empty(m, x.dtype)
    for i in range(i0, i1):
        first = i * (2 * n - i - 1) // 2  # pairs before row i
        for j in range(i + 1, n):
            for k in range(m):
                t[k] = x[xo + i * m + k] - x[xo + j * m + k]
            y[yo + first + j - i - 1] = vnorm(t, m, p)


@njit(cache=True, nogil=True, parallel=True)
def pdist(x, xo, y, yo, n, m, p):  # noqa: ANN001, ANN201
    """y[pair(i, j)] = ||x[i] - x[j]||_p for rows i < j of a dense (n, m) block, pairs in row-major order."""
    chunks = min(n, max(1, n * n * m // (2 * PARALLEL_MIN)))
    if chunks == 1:
        _pdist_rows(x, xo, y, yo, n, m, p, 0, n)
    else:
        for c in prange(chunks):
            _pdist_rows(x, xo, y, yo, n, m, p, c * n // chunks, (c + 1) * n // chunks)


# ---------------------------------------------------------------------------------------------------- statistics
@njit(cache=True, nogil=True)
def _moments_channel(x, xo, mean, mo, var, vo, n, c, s, ch):  # noqa: ANN001, ANN202
    count = n * s
    if count == 0:
        mean[mo + ch] = np.nan
        var[vo + ch] = np.nan
        return
    acc = 0.0
    for b in range(n):
        base = xo + (b * c + ch) * s
        for k in range(s):
            acc += x[base + k]
    mu = acc / count
    acc2 = 0.0
    for b in range(n):
        base = xo + (b * c + ch) * s
        for k in range(s):
            d = x[base + k] - mu
            acc2 += d * d
    mean[mo + ch] = mu
    var[vo + ch] = acc2 / count


@njit(cache=True, nogil=True, parallel=True)
def channel_moments(x, xo, mean, mo, var, vo, n, c, s):  # noqa: ANN001, ANN201
    """Per-channel mean and biased variance of a dense (n, c, s) block, two passes in float64; NaN when n*s == 0."""
    if n * c * s < PARALLEL_MIN:
        for ch in range(c):
            _moments_channel(x, xo, mean, mo, var, vo, n, c, s, ch)
    else:
        for ch in prange(c):
            _moments_channel(x, xo, mean, mo, var, vo, n, c, s, ch)


# ---------------------------------------------------------------------------------------------------- bilinear
@njit(cache=True, nogil=True)
def _bilinear_rows(t, to, x2, x2o, b, bo, nb, y, yo, n_out, n_in2, i0, i1):  # noqa: ANN001, ANN202
    for i in range(i0, i1):
        for o in range(n_out):
            base = to + (i * n_out + o) * n_in2
            s = y.dtype.type(0)
            for j in range(n_in2):
                s += t[base + j] * x2[x2o + i * n_in2 + j]
            if nb:
                s += b[bo + o]
            y[yo + i * n_out + o] = s


@njit(cache=True, nogil=True, parallel=True)
def bilinear_contract(t, to, x2, x2o, b, bo, nb, y, yo, n, n_out, n_in2):  # noqa: ANN001, ANN201
    """y[i, o] = sum_j t[i, o, j] * x2[i, j] (+ b[o]) for dense t (n, n_out, n_in2), x2 (n, n_in2)."""
    chunks = min(n, max(1, n * n_out * n_in2 // PARALLEL_MIN))
    if chunks == 1:
        _bilinear_rows(t, to, x2, x2o, b, bo, nb, y, yo, n_out, n_in2, 0, n)
    else:
        for c in prange(chunks):
            _bilinear_rows(t, to, x2, x2o, b, bo, nb, y, yo, n_out, n_in2, c * n // chunks, (c + 1) * n // chunks)


# ---------------------------------------------------------------------------------------------------- max unpool
@njit(cache=True, nogil=True)
def _unpool_planes(x, xo, idx, io, y, yo, n_in, plane, p0, p1):  # noqa: ANN001, ANN202
    for pl in range(p0, p1):
        for k in range(plane):
            y[yo + pl * plane + k] = 0
        for k in range(n_in):
            y[yo + pl * plane + idx[io + pl * n_in + k]] = x[xo + pl * n_in + k]


@njit(cache=True, nogil=True, parallel=True)
def max_unpool(x, xo, idx, io, y, yo, planes, n_in, plane):  # noqa: ANN001, ANN201
    """y[p, idx[p, k]] = x[p, k] into zeros (later k win on duplicates) for dense (planes, n_in) x and idx."""
    for q in range(planes * n_in):
        v = idx[io + q]
        if v < 0 or v >= plane:
            raise ValueError("max_unpool: an index is outside the output plane")
    chunks = min(planes, max(1, planes * (plane + n_in) // PARALLEL_MIN))
    if chunks == 1:
        _unpool_planes(x, xo, idx, io, y, yo, n_in, plane, 0, planes)
    else:
        for c in prange(chunks):
            _unpool_planes(x, xo, idx, io, y, yo, n_in, plane, c * planes // chunks, (c + 1) * planes // chunks)


# ---------------------------------------------------------------------------------------------------- conv_transpose
@njit(cache=True, nogil=True)
def _tap_range(k, s, d, p, n_in, n_out):  # noqa: ANN001, ANN202
    """Input positions [first, last) whose output ``i*s + k*d - p`` lies in [0, n_out), and that offset."""
    off = k * d - p
    first = 0 if off >= 0 else (-off + s - 1) // s
    last = min(n_in, (n_out - 1 - off) // s + 1) if n_out - 1 - off >= 0 else 0
    return first, max(first, last), off


@njit(cache=True, nogil=True, parallel=True)
def col2im3(cb, y, yo, og, ishape, oshape, k, st, dl, pd, ba, bo, nb, bch):  # noqa: ANN001, ANN201
    """y[m, o] = bias[bch + m] + sum over taps t and inputs i landing on o of cb[t*og + m, i] (3-d spatial)."""
    pin = ishape[0] * ishape[1] * ishape[2]
    pout = oshape[0] * oshape[1] * oshape[2]
    taps = k[0] * k[1] * k[2]
    if og * taps * pin >= PARALLEL_MIN:
        for m in prange(og):
            _col2im_channel(cb, y, yo, og, ishape, oshape, k, st, dl, pd, ba, bo, nb, bch, m, pin, pout)
    else:
        for m in range(og):
            _col2im_channel(cb, y, yo, og, ishape, oshape, k, st, dl, pd, ba, bo, nb, bch, m, pin, pout)


@njit(cache=True, nogil=True)
def _disjoint_taps(ishape, oshape, k, st, dl, pd) -> bool:  # noqa: ANN001
    """Every output position receives exactly one tap (stride == kernel, no dilation, padding or output padding:
    U-Net's 2x2 stride-2 upsampling)."""
    for d in range(3):
        if st[d] != k[d] or dl[d] != 1 or pd[d] != 0 or oshape[d] != ishape[d] * k[d]:
            return False
    return True


@njit(cache=True, nogil=True, parallel=True)
def col2im3_disjoint(cb, y, yo, og, ishape, oshape, k, ba, bo, nb, bch):  # noqa: ANN001, ANN201
    """:func:`col2im3` when :func:`_disjoint_taps`: one pass writing each output once, in order, the bias added in
    it (the general path zero-fills, scatter-adds per tap, then adds the bias)."""
    pin = ishape[0] * ishape[1] * ishape[2]
    pout = oshape[0] * oshape[1] * oshape[2]
    if og * pout >= PARALLEL_MIN:
        for m in prange(og):
            _col2im_disjoint(cb, y, yo, og, ishape, oshape, k, ba, bo, nb, bch, m, pin, pout)
    else:
        for m in range(og):
            _col2im_disjoint(cb, y, yo, og, ishape, oshape, k, ba, bo, nb, bch, m, pin, pout)


@njit(cache=True, nogil=True)
def _col2im_disjoint(cb, y, yo, og, ishape, oshape, k, ba, bo, nb, bch, m, pin, pout):  # noqa: ANN001, ANN202
    """:func:`_col2im_channel` when each output position receives exactly one tap: one pass writing every output
    in order, the bias added in it (the zero fill, the scatter-add and the bias pass were three)."""
    base = yo + m * pout
    b0 = ba[bo + bch + m] if nb else ba.dtype.type(0)  # ba is y's dtype (a placeholder when nb == 0)
    zero = y.dtype.type(0)
    for i in range(ishape[0]):
        for kd in range(k[0]):
            for j in range(ishape[1]):
                for kh in range(k[1]):
                    orow = base + ((i * k[0] + kd) * oshape[1] + j * k[1] + kh) * oshape[2]
                    irow = (i * ishape[1] + j) * ishape[2]
                    t0 = (kd * k[1] + kh) * k[2]
                    # (0 + v) + b: the sum the general path forms (its zero fill turns -0.0 into +0.0)
                    if k[2] == 2:  # two sequential source rows into one interleaved output row
                        s0 = (t0 * og + m) * pin + irow
                        s1 = ((t0 + 1) * og + m) * pin + irow
                        for ix in range(ishape[2]):
                            y[orow + 2 * ix] = (zero + cb[s0 + ix]) + b0
                            y[orow + 2 * ix + 1] = (zero + cb[s1 + ix]) + b0
                        continue
                    for ix in range(ishape[2]):
                        for kw in range(k[2]):
                            y[orow + ix * k[2] + kw] = (zero + cb[((t0 + kw) * og + m) * pin + irow + ix]) + b0


@njit(cache=True, nogil=True)
def _col2im_channel(cb, y, yo, og, ishape, oshape, k, st, dl, pd, ba, bo, nb, bch, m, pin, pout):  # noqa: ANN001, ANN202, E501
    base = yo + m * pout
    for q in range(pout):
        y[base + q] = 0
    t = 0
    for kd in range(k[0]):
        d0, d1, offd = _tap_range(kd, st[0], dl[0], pd[0], ishape[0], oshape[0])
        for kh in range(k[1]):
            h0, h1, offh = _tap_range(kh, st[1], dl[1], pd[1], ishape[1], oshape[1])
            for kw in range(k[2]):
                w0, w1, offw = _tap_range(kw, st[2], dl[2], pd[2], ishape[2], oshape[2])
                src = (t * og + m) * pin
                t += 1
                for i in range(d0, d1):
                    od = i * st[0] + offd
                    for j in range(h0, h1):
                        orow = base + (od * oshape[1] + j * st[1] + offh) * oshape[2] + offw
                        irow = src + (i * ishape[1] + j) * ishape[2]
                        for l in range(w0, w1):
                            y[orow + l * st[2]] += cb[irow + l]
    if nb:  # the bias last, as the reference adds it
        b0 = ba[bo + bch + m]
        for q in range(pout):
            y[base + q] += b0


@standalone
@njit(cache=True, nogil=True)
def conv_transpose(x, xo, w, wo, ba, bo, nb, y, yo, n, c, og, g, ishape, oshape, k, st, dl, pd, wta, wto, prepared,  # noqa: ANN001, ANN201, E501
                   cba, cbo):
    """Transposed convolution of dense x (n, c, *ishape) with w (c, og, *k) (+ bias) into y (n, g*og, *oshape):
    per (image, group) one GEMM ``W_g^T (taps*og, c/g) @ x_g (c/g, pixels)`` into ``cb``, then col2im.
    ``wt`` (g * taps * og * c/g) holds the transposed weight when ``prepared`` (a derived weight), else is scratch
    that receives it."""
    cg = c // g
    taps = k[0] * k[1] * k[2]
    pin = ishape[0] * ishape[1] * ishape[2]
    pout = oshape[0] * oshape[1] * oshape[2]
    wt = wta[wto:wto + g * taps * og * cg]
    cb = cba[cbo:cbo + taps * og * pin]
    if not prepared:
        for gi in range(g):  # wt[gi, t*og + m, ci] = w[gi*cg + ci, m, t]
            for ci in range(cg):
                for m in range(og):
                    src = wo + ((gi * cg + ci) * og + m) * taps
                    for t in range(taps):
                        wt[(gi * taps * og + t * og + m) * cg + ci] = w[src + t]
    cmat = cb.reshape((taps * og, pin))
    epi = (wt[0:0], 0, wt[0:0].reshape((0, 0, 0)), ACT_NONE, 0.0, 0.0)
    disjoint = _disjoint_taps(ishape, oshape, k, st, dl, pd)
    for b in range(n):
        for gi in range(g):
            a = wt[gi * taps * og * cg:(gi + 1) * taps * og * cg].reshape((taps * og, cg))
            x0 = xo + (b * c + gi * cg) * pin
            xm = x[x0:x0 + cg * pin].reshape((cg, pin))
            gemm_std(a, xm, cmat, epi)
            if disjoint:
                col2im3_disjoint(cb, y, yo + (b * g * og + gi * og) * pout, og, ishape, oshape, k, ba, bo, nb, gi * og)
            else:
                col2im3(cb, y, yo + (b * g * og + gi * og) * pout, og, ishape, oshape, k, st, dl, pd, ba, bo, nb,
                        gi * og)
