"""Normalization kernels of the CPU backend (lowered by ``lower_norm.py``).

As the numpy references (ops/normalization.py): statistics in float64 (two-pass mean and biased variance), the
normalized value and the affine in float64, one rounding to the output dtype at the end; eval BatchNorm folds
(C,) scale/shift in float64, rounds them to the input dtype and computes ``x * scale + shift`` in that dtype.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .kernels.launch import standalone

BLOCK = 4096  # elements per partial sum in blocked summation
COLS = 4096  # spatial positions per task in local response normalization

_FLAGS = dict(cache=True, nogil=True, error_model="numpy")
_REASSOC = dict(nogil=True, error_model="numpy", fastmath={"reassoc"})

MODE_MEAN_VAR, MODE_RMS = 0, 1


# --------------------------------------------------------------------------------------------- float64 statistics
@njit(**_REASSOC)
def sum64(xs, n):  # noqa: ANN001, ANN201
    total = 0.0
    for b0 in range(0, n, BLOCK):
        blk = xs[b0:min(b0 + BLOCK, n)]
        s = 0.0
        for j in range(blk.shape[0]):
            s += blk[j]
        total += s
    return total


@njit(**_REASSOC)
def sqdev64(xs, n, mean):  # noqa: ANN001, ANN201
    total = 0.0
    for b0 in range(0, n, BLOCK):
        blk = xs[b0:min(b0 + BLOCK, n)]
        s = 0.0
        for j in range(blk.shape[0]):
            d = blk[j] - mean
            s += d * d
        total += s
    return total


@njit(**_REASSOC)
def sumsq64(xs, n):  # noqa: ANN001, ANN201
    total = 0.0
    for b0 in range(0, n, BLOCK):
        blk = xs[b0:min(b0 + BLOCK, n)]
        s = 0.0
        for j in range(blk.shape[0]):
            v = np.float64(blk[j])
            s += v * v
        total += s
    return total


# --------------------------------------------------------------------------------------------- layer/group/instance/RMS
@njit(nogil=True, error_model="numpy")
def _norm_row(mode, x, xo, out, oo, w, wo, b, bo, groups, cpg, hw, eps, per_elem, has_w, has_b,  # noqa: ANN001, ANN201
              r):
    n = cpg * hw
    xs = x[xo + r * n:xo + r * n + n]
    os = out[oo + r * n:oo + r * n + n]
    if mode == MODE_MEAN_VAR:
        mean = sum64(xs, n) / n
        var = sqdev64(xs, n, mean) / n
    else:
        mean = 0.0
        var = sumsq64(xs, n) / n
    rstd = 1.0 / np.sqrt(var + eps)
    if per_elem:  # layer/RMS norm: weight and bias have the row's shape
        ws = w[wo:wo + n]
        bs = b[bo:bo + n]
        if has_w and has_b:
            for j in range(n):
                os[j] = ((xs[j] - mean) * rstd) * np.float64(ws[j]) + np.float64(bs[j])
        elif has_w:
            for j in range(n):
                os[j] = ((xs[j] - mean) * rstd) * np.float64(ws[j])
        elif has_b:
            for j in range(n):
                os[j] = ((xs[j] - mean) * rstd) + np.float64(bs[j])
        else:
            for j in range(n):
                os[j] = (xs[j] - mean) * rstd
        return
    g = r % groups  # group/instance norm: (C,) weight and bias along the channel axis
    for c in range(cpg):
        ch = g * cpg + c
        scale = rstd * np.float64(w[wo + ch]) if has_w else rstd
        shift = np.float64(b[bo + ch]) if has_b else 0.0
        xc = xs[c * hw:c * hw + hw]
        oc = os[c * hw:c * hw + hw]
        for j in range(hw):
            oc[j] = (xc[j] - mean) * scale + shift


@standalone
@njit(parallel=True, **_FLAGS)
def norm_rows(mode, x, xo, out, oo, w, wo, b, bo, rows, groups, cpg, hw, eps, per_elem, has_w,  # noqa: ANN001, ANN201
              has_b, par):
    """Normalize each of ``rows`` dense rows of ``cpg * hw`` values (mean/variance or RMS), then the affine:
    ``per_elem``: weight/bias of the row's length (layer/RMS norm); else per channel ``(r % groups) * cpg + c``
    of ``hw`` values each (group norm; instance norm is ``groups = C, cpg = 1``)."""
    if par:
        for r in prange(rows):
            _norm_row(mode, x, xo, out, oo, w, wo, b, bo, groups, cpg, hw, eps, per_elem, has_w, has_b, r)
    else:
        for r in range(rows):
            _norm_row(mode, x, xo, out, oo, w, wo, b, bo, groups, cpg, hw, eps, per_elem, has_w, has_b, r)


# --------------------------------------------------------------------------------------------- batch norm (eval)
@njit(parallel=True, **_FLAGS)
def batch_norm(x, xo, out, oo, mean, mo, var, vo, w, wo, b, bo, coef, co, n, c, hw, eps, has_w,  # noqa: ANN001, ANN201
               has_b, par):
    """``out = x * scale[c] + shift[c]`` over a dense (n, c, hw) array, with ``scale = weight / sqrt(var + eps)``
    and ``shift = bias - mean * scale`` folded in float64 and rounded to x's dtype (into ``coef``: 2 * c values)."""
    for k in range(c):
        scale = 1.0 / np.sqrt(np.float64(var[vo + k]) + eps)
        if has_w:
            scale = scale * np.float64(w[wo + k])
        shift = -np.float64(mean[mo + k]) * scale
        if has_b:
            shift = shift + np.float64(b[bo + k])
        coef[co + k] = scale
        coef[co + c + k] = shift
    sc = coef[co:co + c]
    sh = coef[co + c:co + 2 * c]
    if hw == 1:
        if par:
            for i in prange(n):
                _affine_row(x[xo + i * c:xo + i * c + c], out[oo + i * c:oo + i * c + c], sc, sh, c)
        else:
            for i in range(n):
                _affine_row(x[xo + i * c:xo + i * c + c], out[oo + i * c:oo + i * c + c], sc, sh, c)
        return
    if par:
        for t in prange(n * c):
            k = t % c
            _affine_run(x[xo + t * hw:xo + t * hw + hw], out[oo + t * hw:oo + t * hw + hw], sc[k], sh[k], hw)
    else:
        for t in range(n * c):
            k = t % c
            _affine_run(x[xo + t * hw:xo + t * hw + hw], out[oo + t * hw:oo + t * hw + hw], sc[k], sh[k], hw)


@njit(nogil=True)
def _affine_row(xs, os, sc, sh, n):  # noqa: ANN001, ANN201
    for j in range(n):
        os[j] = xs[j] * sc[j] + sh[j]


@njit(nogil=True)
def _affine_run(xs, os, s, h, n):  # noqa: ANN001, ANN201
    for j in range(n):
        os[j] = xs[j] * s + h


# --------------------------------------------------------------------------------------------- local response norm
@njit(nogil=True, error_model="numpy")
def _lrn_task(x, xo, out, oo, c, hw, size, alpha_over_size, beta, k, nb, t):  # noqa: ANN001, ANN201
    blk = t % nb
    q = t // nb  # q = sample * c + channel
    ch = q % c
    j0 = blk * COLS
    jn = min(COLS, hw - j0)
    before = size // 2
    win = np.empty(jn)
    for j in range(jn):
        win[j] = 0.0
    for tap in range(size):  # taps in order, as the reference sums them (padding taps add nothing)
        cc = ch + tap - before
        if 0 <= cc < c:
            o = xo + (q - ch + cc) * hw + j0
            xs = x[o:o + jn]
            for j in range(jn):
                v = np.float64(xs[j])
                win[j] += v * v
    xs = x[xo + q * hw + j0:xo + q * hw + j0 + jn]
    os = out[oo + q * hw + j0:oo + q * hw + j0 + jn]
    if beta == 0.75:  # the usual exponent (AlexNet, GoogLeNet): two square roots (within 2 ulp of pow)
        for j in range(jn):
            v = win[j] * alpha_over_size + k
            r = np.sqrt(v)
            os[j] = np.float64(xs[j]) / (r * np.sqrt(r))
    else:
        for j in range(jn):
            os[j] = np.float64(xs[j]) / (win[j] * alpha_over_size + k) ** beta


@njit(parallel=True, **_FLAGS)
def local_response_norm(x, xo, out, oo, n, c, hw, size, alpha_over_size, beta, k, par):  # noqa: ANN001, ANN201
    """Across-channel LRN of a dense (n, c, hw) array (window zero-padded by size // 2 before, (size-1) // 2 after)."""
    nb = (hw + COLS - 1) // COLS
    n_tasks = n * c * nb
    if par:
        for t in prange(n_tasks):
            _lrn_task(x, xo, out, oo, c, hw, size, alpha_over_size, beta, k, nb, t)
    else:
        for t in range(n_tasks):
            _lrn_task(x, xo, out, oo, c, hw, size, alpha_over_size, beta, k, nb, t)
