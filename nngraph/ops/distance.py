"""Primitive ops of norms and distances: ``pairwise_distance``, ``cosine_similarity``, ``pdist``, ``normalize``."""
from __future__ import annotations

import math

import numpy as np

from .registry import Fusion, TensorSpec, defop, same_as_first

__all__ = ["vector_norm", "pairwise_distance", "cosine_similarity", "pdist", "normalize"]


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)


def vector_norm(x: np.ndarray, p: float, axis: int | tuple[int, ...], keepdims: bool = False) -> np.ndarray:
    """torch's ``linalg.vector_norm`` (numpy helper, not an op): p = 0 counts non-zeros, +-inf is the max/min of
    ``|x|``, other p give ``(sum |x|^p)^(1/p)``.

    Finite non-zero slices are scaled by their largest magnitude first, so the sum of powers neither overflows nor
    underflows (torch sums the raw powers; results agree wherever torch's do not overflow).
    """
    a = np.abs(x)
    if p == 0:
        return np.count_nonzero(a, axis=axis, keepdims=keepdims).astype(x.dtype)
    if p == math.inf:
        return a.max(axis=axis, keepdims=keepdims, initial=0)  # |x| >= 0, so 0 only matters for empty slices
    if p == -math.inf:
        return a.min(axis=axis, keepdims=keepdims)
    if p == 1:
        return a.sum(axis=axis, keepdims=keepdims)
    m = a.max(axis=axis, keepdims=True, initial=0)
    scale = np.where(np.isfinite(m) & (m > 0), m, 1).astype(x.dtype)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        s = a / scale
        if p == 2:
            out = np.sqrt(np.square(s).sum(axis=axis, keepdims=True))
        else:
            out = np.power(np.power(s, p).sum(axis=axis, keepdims=True), 1.0 / p)
    out = (out * scale).astype(x.dtype, copy=False)
    return out if keepdims else np.squeeze(out, axis=axis)


def _pairwise_shape(x1: TensorSpec, x2: TensorSpec, *, p: float, eps: float, keepdim: bool) -> TensorSpec:
    shape = np.broadcast_shapes(x1.shape, x2.shape)
    if len(shape) == 0:
        return TensorSpec((), np.result_type(x1.dtype, x2.dtype))
    out = shape[:-1] + ((1,) if keepdim else ())
    return TensorSpec(out, np.result_type(x1.dtype, x2.dtype))


@defop("pairwise_distance", fusion=Fusion.REDUCTION, shape=_pairwise_shape)
def pairwise_distance(x1: np.ndarray, x2: np.ndarray, *, p: float, eps: float, keepdim: bool) -> np.ndarray:
    """p-norm of ``x1 - x2 + eps`` over the last dimension of the broadcast shape (0-d inputs give a 0-d result)."""
    dtype = np.result_type(x1.dtype, x2.dtype)
    ct = _compute_dtype(dtype)
    d = x1.astype(ct, copy=False) - x2.astype(ct, copy=False) + ct.type(eps)
    if d.ndim == 0:
        return vector_norm(d.reshape(1), p, axis=0).astype(dtype)
    return vector_norm(d, p, axis=-1, keepdims=keepdim).astype(dtype, copy=False)


def _cosine_shape(x1: TensorSpec, x2: TensorSpec, *, dim: int, eps: float) -> TensorSpec:
    shape = np.broadcast_shapes(x1.shape, x2.shape)
    out = shape[:dim] + shape[dim + 1:] if shape else ()
    return TensorSpec(out, np.result_type(x1.dtype, x2.dtype))


@defop("cosine_similarity", fusion=Fusion.REDUCTION, shape=_cosine_shape)
def cosine_similarity(x1: np.ndarray, x2: np.ndarray, *, dim: int, eps: float) -> np.ndarray:
    """``sum(x1/max(|x1|, eps) * x2/max(|x2|, eps))`` along non-negative ``dim`` of the broadcast shape.

    Each input is divided by its own (clamped) norm before the product, which keeps the result within [-1, 1] and
    avoids overflow of ``|x1| * |x2|``.
    """
    dtype = np.result_type(x1.dtype, x2.dtype)
    ct = _compute_dtype(dtype)
    a, b = np.broadcast_arrays(x1.astype(ct, copy=False), x2.astype(ct, copy=False))
    scalar = a.ndim == 0
    if scalar:
        a, b = a.reshape(1), b.reshape(1)
    na = np.maximum(vector_norm(a, 2, axis=dim, keepdims=True), ct.type(eps))
    nb = np.maximum(vector_norm(b, 2, axis=dim, keepdims=True), ct.type(eps))
    with np.errstate(divide="ignore", invalid="ignore"):  # eps=0 with a zero vector gives nan, as in torch
        out = ((a / na) * (b / nb)).sum(axis=dim)
    return (out.reshape(()) if scalar else out).astype(dtype, copy=False)


def _pdist_shape(x: TensorSpec, *, p: float) -> TensorSpec:
    n = x.shape[0]
    return TensorSpec((n * (n - 1) // 2,), x.dtype)


@defop("pdist", fusion=Fusion.OPAQUE, shape=_pdist_shape)
def pdist(x: np.ndarray, *, p: float) -> np.ndarray:
    """p-norm distance between every pair of rows ``i < j`` of the ``(N, M)`` input, in row-major pair order."""
    dtype = x.dtype
    ct = _compute_dtype(dtype)
    i, j = np.triu_indices(x.shape[0], k=1)
    xc = x.astype(ct, copy=False)
    # Differences rather than the Gram-matrix expansion: no cancellation for nearby rows.
    return vector_norm(xc[i] - xc[j], p, axis=1).astype(dtype, copy=False)


@defop("normalize", fusion=Fusion.REDUCTION, shape=same_as_first)
def normalize(x: np.ndarray, *, p: float, dim: int | tuple[int, ...], eps: float) -> np.ndarray:
    """``x / max(||x||_p, eps)`` with the norm taken over ``dim`` (non-negative int or tuple of them)."""
    dtype = x.dtype
    ct = _compute_dtype(dtype)
    xc = x.astype(ct, copy=False)
    scalar = xc.ndim == 0
    if scalar:
        xc = xc.reshape(1)
    denom = np.maximum(vector_norm(xc, p, axis=dim, keepdims=True), ct.type(eps))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = xc / denom
    return (out.reshape(()) if scalar else out).astype(dtype, copy=False)
