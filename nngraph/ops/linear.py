"""Primitive ops of fully connected layers: ``linear`` and ``bilinear``."""
from __future__ import annotations

import math

import numpy as np

from .registry import Fusion, TensorSpec, defop

__all__ = ["linear", "bilinear"]


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    # numpy's float16 matmul is slow and accumulates in float16; compute in float32 and cast back.
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _linear_shape(x: TensorSpec, w: TensorSpec, b: TensorSpec | None) -> TensorSpec:
    return TensorSpec(x.shape[:-1] + (w.shape[0],), x.dtype)


@defop("linear", fusion=Fusion.HEAVY, shape=_linear_shape)
def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``x @ w.T + b`` for ``x`` of shape ``(*, in)``, ``w`` ``(out, in)``, ``b`` ``(out,)`` or None.

    All leading dimensions are folded into one so that the product is a single BLAS matmul.
    """
    dtype = x.dtype
    ct = _compute_dtype(dtype)
    lead = x.shape[:-1]
    x2 = x.reshape(math.prod(lead), x.shape[-1]).astype(ct, copy=False)
    out = x2 @ w.astype(ct, copy=False).T
    if b is not None:
        out += b.astype(ct, copy=False)
    return out.reshape(lead + (w.shape[0],)).astype(dtype, copy=False)


def _bilinear_shape(x1: TensorSpec, x2: TensorSpec, w: TensorSpec, b: TensorSpec | None) -> TensorSpec:
    return TensorSpec(x1.shape[:-1] + (w.shape[0],), x1.dtype)


@defop("bilinear", fusion=Fusion.HEAVY, shape=_bilinear_shape)
def bilinear(x1: np.ndarray, x2: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``y[..., o] = sum_ij x1[..., i] w[o, i, j] x2[..., j] + b[o]``; ``x1`` and ``x2`` share leading dims."""
    dtype = x1.dtype
    ct = _compute_dtype(dtype)
    n_out, n_in1, n_in2 = w.shape
    lead = x1.shape[:-1]
    n = math.prod(lead)
    a = x1.reshape(n, n_in1).astype(ct, copy=False)
    c = x2.reshape(n, n_in2).astype(ct, copy=False)
    # (N, in1) @ (in1, out*in2) -> (N, out, in2), then contract in2 with x2 as a batched matrix-vector product.
    wt = w.astype(ct, copy=False).transpose(1, 0, 2).reshape(n_in1, n_out * n_in2)
    t = (a @ wt).reshape(n, n_out, n_in2)
    out = (t @ c[:, :, None])[:, :, 0]
    if b is not None:
        out += b.astype(ct, copy=False)
    return out.reshape(lead + (n_out,)).astype(dtype, copy=False)
