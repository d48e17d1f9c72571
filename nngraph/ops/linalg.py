"""Matrix products (fusion class HEAVY)."""
from __future__ import annotations

import numpy as np

from .registry import Fusion, TensorSpec, defop


def _matmul_shape(a: TensorSpec, b: TensorSpec) -> TensorSpec:
    out = np.matmul(np.empty(a.shape, a.dtype), np.empty(b.shape, b.dtype)) if 0 in a.shape + b.shape else None
    if out is not None:
        return TensorSpec(out.shape, out.dtype)
    probe = np.matmul(np.zeros(a.shape[-2:] if a.ndim > 1 else a.shape, a.dtype),
                      np.zeros(b.shape[-2:] if b.ndim > 1 else b.shape, b.dtype))
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return TensorSpec(batch + probe.shape, probe.dtype)


@defop("matmul", fusion=Fusion.HEAVY, shape=_matmul_shape)
def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """numpy.matmul (``a @ b``)."""
    return np.asarray(np.matmul(a, b))


def _einsum_shape(*xs: TensorSpec, equation: str) -> TensorSpec:
    out = np.einsum(equation, *(np.zeros(x.shape, x.dtype) for x in xs))
    return TensorSpec(np.shape(out), np.asarray(out).dtype)


@defop("einsum", fusion=Fusion.HEAVY, shape=_einsum_shape)
def einsum(*xs: np.ndarray, equation: str) -> np.ndarray:
    """numpy.einsum with BLAS-backed contraction order."""
    return np.asarray(np.einsum(equation, *xs, optimize=True))
