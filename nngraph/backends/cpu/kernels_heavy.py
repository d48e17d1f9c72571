"""Arena-ABI wrappers around the GEMM kernels (``kernels/gemm.py``): each builds 2-D views from ``(arena, offset)``
pairs and calls the packed GEMM with the standard epilogue ``act(c + bias + residual)``."""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .kernels.epilogue import act_scalar
from .kernels.conv import (conv2d_1x1_std, conv2d_depthwise_std, conv2d_im2col_std, conv2d_shift_oc_std,
                           conv2d_shift_std)
from .kernels.gemm import gemm_bt_std, gemm_packed_std, gemm_std, pack_bt, packed_b_size
from .kernels.launch import standalone


@njit(cache=True, nogil=True)
def _epi(ba, bo, nb, bias_axis, ra, ro, nres, act, alpha, beta, m, n):  # noqa: ANN001, ANN202
    bias = ba[bo:bo + nb]
    res = ra[ro:ro + nres].reshape((1 if nres else 0, m if nres else 0, n if nres else 0))
    return (bias, bias_axis, res, act, alpha, beta)


@njit(cache=True, nogil=True)
def linear_packed(m, k, n, xa, xo, pa, po, psize, ba, bo, nb, ra, ro, nres, act, alpha, beta, oa, oo):  # noqa: ANN001, ANN201
    """out(m, n) = act(x(m, k) @ W.T + bias + residual) with W pre-packed (``pack_linear_weight``)."""
    x = xa[xo:xo + m * k].reshape((m, k))
    c = oa[oo:oo + m * n].reshape((m, n))
    gemm_packed_std(x, pa[po:po + psize], c, _epi(ba, bo, nb, 1, ra, ro, nres, act, alpha, beta, m, n))


@njit(cache=True, nogil=True)
def linear_raw(m, k, n, xa, xo, wa, wo, ba, bo, nb, ra, ro, nres, act, alpha, beta, oa, oo):  # noqa: ANN001, ANN201
    """out(m, n) = act(x(m, k) @ W(n, k).T + bias + residual), W read as is."""
    x = xa[xo:xo + m * k].reshape((m, k))
    w = wa[wo:wo + n * k].reshape((n, k))
    c = oa[oo:oo + m * n].reshape((m, n))
    gemm_bt_std(x, w, c, _epi(ba, bo, nb, 1, ra, ro, nres, act, alpha, beta, m, n))


@njit(cache=True, nogil=True)
def matmul_2d(m, k, n, aa, ao, ba_, bo_, ra, ro, nres, act, alpha, beta, oa, oo):  # noqa: ANN001, ANN201
    """out(m, n) = act(a(m, k) @ b(k, n) + residual)."""
    a = aa[ao:ao + m * k].reshape((m, k))
    b = ba_[bo_:bo_ + k * n].reshape((k, n))
    c = oa[oo:oo + m * n].reshape((m, n))
    gemm_std(a, b, c, _epi(aa, 0, 0, 1, ra, ro, nres, act, alpha, beta, m, n))


def pack_linear_weight(w: np.ndarray) -> np.ndarray:
    """The packed GEMM operand of a linear weight (out, in), as a flat array."""
    return pack_bt(np.ascontiguousarray(w)).reshape(-1)


def packed_size(n: int, k: int, dtype: np.dtype) -> int:
    return int(packed_b_size(n, k, dtype))


# --------------------------------------------------------------------------------------------- convolution (2-D)
# Shapes: x (N, C, H, W), w (O, C/G, KH, KW), out (N, O, OH, OW); 1-D convolutions run with H = KH = 1.


@njit(cache=True, nogil=True)
def im2col(xa, xo, c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, ca, co):  # noqa: ANN001, ANN201
    """cols[(ci*kh + i)*kw + j, y*ow + x] = input[ci, y*sh - pt + i*dh, x*sw - pl + j*dw] (zero outside).

    Per (tap, output row) the valid x range is computed once, so the interior is a plain (unit-stride when
    sw == 1, vectorizable) copy without bounds checks."""
    p = oh * ow
    for ci in range(c):
        for i in range(kh):
            for j in range(kw):
                base = co + ((ci * kh + i) * kw + j) * p
                off = j * dw - pl
                x0 = 0 if off >= 0 else min(ow, (-off + sw - 1) // sw)
                x1 = min(ow, (w - 1 - off) // sw + 1) if w - 1 - off >= 0 else 0
                x1 = max(x1, x0)
                for y in range(oh):
                    iy = y * sh - pt + i * dh
                    row = base + y * ow
                    if iy < 0 or iy >= h:
                        for x in range(ow):
                            ca[row + x] = 0.0
                        continue
                    for x in range(x0):
                        ca[row + x] = 0.0
                    src = xo + (ci * h + iy) * w + off
                    if sw == 1:
                        for x in range(x0, x1):
                            ca[row + x] = xa[src + x]
                    else:
                        for x in range(x0, x1):
                            ca[row + x] = xa[src + x * sw]
                    for x in range(x1, ow):
                        ca[row + x] = 0.0


@standalone
@njit(cache=True, nogil=True)
def conv_gemm(n, c, h, w, o, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, g, xa, xo, wa, wo, ba, bo, nb, ra, ro, nres,  # noqa: ANN001, ANN201
              act, alpha, beta, oa, oo, sa, so):
    """Grouped convolution as one GEMM per (image, group): W_g (O/G, C/G*KH*KW) @ cols, epilogue fused."""
    cg, og = c // g, o // g
    k = cg * kh * kw
    p = oh * ow
    direct = kh == 1 and kw == 1 and sh == 1 and sw == 1 and pt == 0 and pl == 0 and oh == h and ow == w
    for b in range(n):
        for gi in range(g):
            if direct:
                start = xo + (b * c + gi * cg) * h * w
                cols = xa[start:start + k * p].reshape((k, p))
            else:
                im2col(xa, xo + (b * c + gi * cg) * h * w, cg, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, sa, so)
                cols = sa[so:so + k * p].reshape((k, p))
            wg = wa[wo + gi * og * k:wo + (gi + 1) * og * k].reshape((og, k))
            out0 = oo + (b * o + gi * og) * p
            cmat = oa[out0:out0 + og * p].reshape((og, p))
            bias = ba[bo + gi * og:bo + gi * og + og] if nb else ba[bo:bo]
            r0 = ro + (b * o + gi * og) * p
            res = ra[r0:r0 + og * p].reshape((1, og, p)) if nres else ra[ro:ro].reshape((0, 0, 0))
            gemm_std(wg, cols, cmat, (bias, 0, res, act, alpha, beta))


@standalone
@njit(cache=True, nogil=True, parallel=True)
def conv_depthwise(n, c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, mult, xa, xo, wa, wo, ba, bo, nb, ra, ro,  # noqa: ANN001, ANN201
                   nres, act, alpha, beta, oa, oo):
    """Depthwise convolution (groups == C, O = C * mult): a direct kernel, parallel over (image, channel)."""
    o = c * mult
    for t in prange(n * o):
        b, oc = t // o, t % o
        ci = oc // mult
        xbase = xo + (b * c + ci) * h * w
        wbase = wo + oc * kh * kw
        obase = oo + (b * o + oc) * oh * ow
        bias = ba[bo + oc] if nb else 0.0
        for y in range(oh):
            row = obase + y * ow
            for x in range(ow):
                oa[row + x] = bias
            for i in range(kh):
                iy = y * sh - pt + i * dh
                if iy < 0 or iy >= h:
                    continue
                src = xbase + iy * w
                for j in range(kw):
                    wv = wa[wbase + i * kw + j]
                    off = j * dw - pl
                    x0 = 0
                    while x0 < ow and x0 * sw + off < 0:
                        x0 += 1
                    x1 = ow
                    while x1 > x0 and (x1 - 1) * sw + off >= w:
                        x1 -= 1
                    for x in range(x0, x1):
                        oa[row + x] += wv * xa[src + x * sw + off]
            for x in range(ow):
                v = oa[row + x]
                if nres:
                    v += ra[ro + (b * o + oc) * oh * ow + y * ow + x]
                oa[row + x] = act_scalar(v, act, alpha, beta)


# --------------------------------------------------------------------------------------------- tuned conv kernels
# Implicit-im2col GEMM / 1x1 GEMM / vectorised depthwise from ``kernels/conv.py`` (weights prepared once, as derived
# weights). ``algo`` selects the kernel (ALGO_* of kernels/conv.py).


@standalone
@njit(cache=True, nogil=True)
def conv_tuned(algo, n, c, h, w, o, p, xa, xo, wa, wo, wsize, ba, bo, nb, ra, ro, nres, act, alpha, beta, oa, oo):  # noqa: ANN001, ANN201
    x = xa[xo:xo + n * c * h * w].reshape((n, c, h, w))
    oh, ow = p[9], p[10]
    out = oa[oo:oo + n * o * oh * ow].reshape((n, o, oh, ow))
    bias = ba[bo:bo + nb]
    res = ra[ro:ro + nres].reshape((n if nres else 0, o if nres else 0, oh * ow if nres else 0))
    args = (bias, 0, res, act, alpha, beta)
    wp = wa[wo:wo + wsize]
    if algo == 4:
        conv2d_shift_oc_std(x, wp, out, p, args)
    elif algo == 3:
        conv2d_shift_std(x, wp, out, p, args)
    elif algo == 2:
        conv2d_depthwise_std(x, wp.reshape((o, -1)), out, p, args)
    elif algo == 1:
        conv2d_1x1_std(x, wp, out, p, args)
    else:
        conv2d_im2col_std(x, wp, out, p, args)
