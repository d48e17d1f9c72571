"""Arena-ABI wrappers around the GEMM kernels (``kernels/gemm.py``): each builds 2-D views from ``(arena, offset)``
pairs and calls the packed GEMM with the standard epilogue ``act(c + bias + residual)``."""
from __future__ import annotations

import numpy as np
from numba import njit

from .kernels.gemm import gemm_bt_std, gemm_packed_std, gemm_std, pack_bt, packed_b_size


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
