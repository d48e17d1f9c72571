"""Convolution primitives shared by 1d/2d/3d: ``conv`` and ``conv_transpose``.

Both take a batched channels-first input ``(N, C, *spatial)``; the number of spatial dims is the length of the
per-dim attributes. ``F`` normalizes every argument (tuples, explicit padding, batched input) before calling them.

* ``conv``: zero padding ``((before, after), ...)`` per spatial dim (asymmetric for ``padding='same'``), then
  im2col through a strided view and one GEMM batched over samples and groups.
* ``conv_transpose``: one batched GEMM ``weight^T @ input`` gives every kernel tap's contribution, which is then
  scattered into the output by strided slice-adds (col2im), one per tap; the cropping of ``padding`` is folded into
  the slice bounds. Depthwise (one input channel per group) skips the GEMM: each tap is one broadcast multiply.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from .registry import Fusion, TensorSpec, defop

__all__ = ["conv", "conv_transpose", "conv_output_size", "conv_transpose_output_size"]


def conv_output_size(size: int, kernel: int, stride: int, before: int, after: int, dilation: int) -> int:
    return (size + before + after - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_output_size(size: int, kernel: int, stride: int, padding: int, output_padding: int,
                               dilation: int) -> int:
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def _conv_shape(x: TensorSpec, w: TensorSpec, b: TensorSpec | None, *, stride: tuple, padding: tuple,
                dilation: tuple, groups: int) -> TensorSpec:
    spatial = tuple(conv_output_size(n, k, s, lo, hi, d)
                    for n, k, s, (lo, hi), d in zip(x.shape[2:], w.shape[2:], stride, padding, dilation))
    return TensorSpec((x.shape[0], w.shape[0], *spatial), x.dtype)


def _conv_transpose_shape(x: TensorSpec, w: TensorSpec, b: TensorSpec | None, *, stride: tuple, padding: tuple,
                          output_padding: tuple, dilation: tuple, groups: int) -> TensorSpec:
    spatial = tuple(conv_transpose_output_size(n, k, s, p, op, d)
                    for n, k, s, p, op, d in zip(x.shape[2:], w.shape[2:], stride, padding, output_padding, dilation))
    return TensorSpec((x.shape[0], w.shape[1] * groups, *spatial), x.dtype)


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    # BLAS has no float16 GEMM: compute in float32 and cast back.
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _zero_pad(x: np.ndarray, padding: tuple) -> np.ndarray:
    if not any(lo or hi for lo, hi in padding):
        return x
    out = np.zeros(x.shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], padding)), dtype=x.dtype)
    out[(slice(None), slice(None)) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape[2:], padding))] = x
    return out


def _im2col(xp: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple, out: tuple) -> np.ndarray:
    """Strided view ``(N, C, *kernel, *out)`` of the padded input (no copy)."""
    nd = len(kernel)
    axes = tuple(range(2, 2 + nd))
    window = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    view = np.lib.stride_tricks.sliding_window_view(xp, window, axis=axes)  # (N, C, *positions, *window)
    view = view[(slice(None), slice(None)) + tuple(slice(0, s * (o - 1) + 1, s) for s, o in zip(stride, out))
                + tuple(slice(None, None, d) for d in dilation)]
    return view.transpose((0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + axes)


@defop("conv", fusion=Fusion.HEAVY, shape=_conv_shape)
def conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, *, stride: tuple, padding: tuple, dilation: tuple,
         groups: int) -> np.ndarray:
    """N-d cross-correlation of ``x (N, C, *S)`` with ``w (O, C/groups, *K)`` plus optional bias ``b (O,)``."""
    dtype = x.dtype
    ct = _compute_dtype(dtype)
    x, w = x.astype(ct, copy=False), w.astype(ct, copy=False)
    n, c = x.shape[:2]
    o, cg = w.shape[:2]
    kernel = w.shape[2:]
    g, og = groups, o // groups
    out_sp = tuple(conv_output_size(s, k, st, lo, hi, d)
                   for s, k, st, (lo, hi), d in zip(x.shape[2:], kernel, stride, padding, dilation))
    xp = _zero_pad(x, padding)
    # Grouped and depthwise convolutions are one GEMM too: matmul batches over samples and groups (this beats a
    # per-tap multiply-add loop even for depthwise).
    cols = _im2col(xp, kernel, stride, dilation, out_sp).reshape(n, g, cg * math.prod(kernel), math.prod(out_sp))
    out = np.matmul(w.reshape(g, og, -1), cols).reshape((n, o) + out_sp)
    if b is not None:
        out += b.astype(ct, copy=False).reshape((o,) + (1,) * len(out_sp))
    return out.astype(dtype, copy=False)


def _scatter_range(tap: int, stride: int, dilation: int, padding: int, size_in: int, size_out: int
                   ) -> tuple[slice, slice] | None:
    """For one kernel tap along one dim: input positions j whose output ``j*stride + tap*dilation - padding`` lands
    in ``[0, size_out)``, as (input slice, output slice), or None when none does."""
    offset = tap * dilation - padding
    first = max(0, -(offset // stride))  # smallest j with j*stride + offset >= 0
    last = min(size_in - 1, (size_out - 1 - offset) // stride)
    if last < first:
        return None
    return slice(first, last + 1), slice(first * stride + offset, last * stride + offset + 1, stride)


@defop("conv_transpose", fusion=Fusion.HEAVY, shape=_conv_transpose_shape)
def conv_transpose(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, *, stride: tuple, padding: tuple,
                   output_padding: tuple, dilation: tuple, groups: int) -> np.ndarray:
    """N-d transposed convolution of ``x (N, C, *S)`` with ``w (C, O/groups, *K)`` plus optional bias ``b (O,)``."""
    dtype = x.dtype
    ct = _compute_dtype(dtype)
    x, w = x.astype(ct, copy=False), w.astype(ct, copy=False)
    n, c = x.shape[:2]
    og = w.shape[1]
    kernel = w.shape[2:]
    in_sp = x.shape[2:]
    g = groups
    cg, o, taps = c // g, og * g, math.prod(kernel)
    out_sp = tuple(conv_transpose_output_size(s, k, st, p, op, d)
                   for s, k, st, p, op, d in zip(in_sp, kernel, stride, padding, output_padding, dilation))
    out = np.zeros((n, g, og) + out_sp, dtype=ct)
    xg = x.reshape((n, g, cg) + in_sp)
    wg = w.reshape(g, cg, og, taps)
    depthwise = cg == 1
    if not depthwise:
        # contrib[n, g, t, m, *in] = sum_c w[g, c, m, t] * x[n, g, c, *in]: every tap's contribution in one GEMM.
        wt = wg.transpose(0, 3, 2, 1).reshape(g, taps * og, cg)
        contrib = np.matmul(wt, xg.reshape(n, g, cg, math.prod(in_sp))).reshape((n, g, taps, og) + in_sp)
    bshape = (g, og) + (1,) * len(in_sp)
    lead = (slice(None),) * 3
    for t, tap in enumerate(itertools.product(*(range(k) for k in kernel))):
        ranges = [_scatter_range(*args) for args in zip(tap, stride, dilation, padding, in_sp, out_sp)]
        if any(r is None for r in ranges):
            continue
        src = lead + tuple(r[0] for r in ranges)
        dst = lead + tuple(r[1] for r in ranges)
        if depthwise:
            out[dst] += xg[src] * wg[:, 0, :, t].reshape(bshape)
        else:
            out[dst] += contrib[:, :, t][src]
    out = out.reshape((n, o) + out_sp)
    if b is not None:
        out += b.astype(ct, copy=False).reshape((o,) + (1,) * len(out_sp))
    return out.astype(dtype, copy=False)
