"""CPU compute kernels: packed GEMM and 2-D convolutions with fused epilogues (float32 fast path, float64 too).

Every kernel is an @njit function callable from nopython code (the generated graph executor) and from Python.
Shapes are runtime arguments, so one compiled kernel serves every node of its kind and dtype.

GEMM (``gemm.py``; C-contiguous 2-D arrays of one dtype)::

    gemm_std(a, b, c, epi_args)             c = act(a @ b + bias + residual)       a (M, K), b (K, N), c (M, N)
    gemm_bt_std(a, w, c, epi_args)          c = act(a @ w.T + ...)                 w (N, K): a linear weight
    gemm_packed_std(a, bp, c, epi_args)     bp = pack_bt(w) or pack_b(b), packed once for constant weights
    gemm.gemm / gemm_bt / gemm_packed(..., epi, epi_args)  the same with any @njit epilogue ``epi``

Convolution (``conv.py``; NCHW; ``p = conv_params(...)``; ``wp = prepare_conv_weight(w, groups, algo)``)::

    algo = choose_conv_algo(C, O, kh, kw, stride, padding, dilation, groups)
    conv2d_shift_std / conv2d_shift_oc_std / conv2d_im2col_std / conv2d_1x1_std / conv2d_depthwise_std(x, wp, out, p,
                                                                                                  epi_args)
    conv_transpose2d_std(x, wp, out, p, epi_args)         wp = prepare_conv_transpose_weight(w, groups)
    conv2d_im2col / conv2d_1x1 / conv2d_depthwise / conv_transpose2d(x, wp, out, p, epi, epi_args)

Epilogues (``epilogue.py``): ``epi_args = std_args(dtype, bias, bias_axis, residual, act, alpha, beta)`` is the
tuple ``(bias, bias_axis, residual, act_code, alpha, beta)``; a custom epilogue is any
``@njit def epi(c, b, r0, r1, c0, c1, args)`` finishing ``c[r0:r1, c0:c1]`` of batch item ``b`` in place;
``chain(epi1, epi2)`` composes two. The ``*_std`` kernels compile one worker per dtype (disk-cached, see
``launch.py``); custom epilogues compile one worker each.
"""
from __future__ import annotations

import numpy as np

from .conv import (ALGO_1X1, ALGO_DEPTHWISE, ALGO_IM2COL, ALGO_SHIFT, ALGO_SHIFT_OC, choose_conv_algo, conv2d,
                   conv2d_1x1, conv2d_1x1_std, conv2d_depthwise, conv2d_depthwise_std, conv2d_im2col,
                   conv2d_im2col_std, conv2d_shift, conv2d_shift_oc, conv2d_shift_oc_std, conv2d_shift_std, conv_params,
                   conv_transpose2d, conv_transpose2d_std, conv_transpose_params, prepare_conv_transpose_weight,
                   prepare_conv_weight)
from .epilogue import (ACTIVATIONS, act_scalar, chain, epi_none, epi_std, reference_epilogue, std_args,
                       std_args_none)
# (gemm.gemm itself is not re-exported here: the name would shadow the ``gemm`` submodule.)
from .gemm import (gemm_bt, gemm_bt_std, gemm_packed, gemm_packed_std, gemm_std, pack_a, pack_b, pack_bt,
                   packed_a_size, packed_b_size)
from .simd import HAS_AVX512, MR, nr_of

__all__ = [
    "ACTIVATIONS", "ALGO_1X1", "ALGO_DEPTHWISE", "ALGO_IM2COL", "ALGO_SHIFT", "ALGO_SHIFT_OC", "HAS_AVX512", "MR",
    "act_scalar", "chain",
    "choose_conv_algo", "conv2d", "conv2d_1x1", "conv2d_1x1_std", "conv2d_depthwise", "conv2d_depthwise_std",
    "conv2d_im2col", "conv2d_im2col_std", "conv2d_shift", "conv2d_shift_oc", "conv2d_shift_oc_std",
    "conv2d_shift_std", "conv_params", "conv_transpose2d", "conv_transpose2d_std",
    "conv_transpose_params", "epi_none", "epi_std", "gemm_bt", "gemm_bt_std", "gemm_packed",
    "gemm_packed_std", "gemm_std", "nr_of", "pack_a", "pack_b", "pack_bt", "packed_a_size", "packed_b_size",
    "prepare_conv_transpose_weight", "prepare_conv_weight", "preload", "reference_epilogue", "std_args",
    "std_args_none",
]


def preload(dtypes: tuple = (np.float32,)) -> None:
    """Compile (or load from Numba's disk cache) every ``*_std`` kernel for ``dtypes`` by running each once on tiny
    inputs -- e.g. before timing, so no first call pays a compile. Not needed for correctness."""
    for dt in dtypes:
        args = std_args(dt, bias=np.zeros(2), bias_axis=1)
        a = np.ones((2, 3), dt)
        c = np.empty((2, 2), dt)
        gemm_std(a, np.ones((3, 2), dt), c, args)
        gemm_bt_std(a, np.ones((2, 3), dt), c, args)
        gemm_packed_std(a, pack_bt(np.ones((2, 3), dt)), c, args)
        x = np.ones((1, 2, 3, 3), dt)
        cargs = std_args(dt)
        for algo, w, g in ((ALGO_IM2COL, np.ones((2, 2, 3, 3), dt), 1), (ALGO_1X1, np.ones((2, 2, 1, 1), dt), 1),
                           (ALGO_DEPTHWISE, np.ones((2, 1, 3, 3), dt), 2), (ALGO_SHIFT, np.ones((2, 2, 3, 3), dt), 1),
                           (ALGO_SHIFT_OC, np.ones((2, 2, 3, 3), dt), 1)):
            conv2d(x, w, cargs, algo=algo, groups=g)
        wt = np.ones((2, 2, 2, 2), dt)
        p = conv_transpose_params(wt.shape, x.shape, (4, 4))
        conv_transpose2d_std(x, prepare_conv_transpose_weight(wt, 1), np.empty((1, 2, 4, 4), dt), p, cargs)
