"""torch.nn.functional's distances and norms: pairwise_distance, cosine_similarity, pdist, normalize."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ...errors import InputError, check_float, shape_str
from ...ops import distance as _ops

__all__ = ["pairwise_distance", "cosine_similarity", "pdist", "normalize"]


def _broadcast_shape(who: str, x1: Any, x2: Any) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape)))
    except ValueError:
        raise InputError(who, f"x2 of a shape broadcastable with x1 {shape_str(x1.shape)}",
                         shape_str(x2.shape)) from None


def _wrap_dim(who: str, dim: int, shape: tuple[int, ...]) -> int:
    rank = max(len(shape), 1)  # torch lets a 0-d input use dim 0 or -1
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not -rank <= dim < rank:
        raise InputError(who, f"dim in range [{-rank}, {rank - 1}] for shape {shape_str(shape)}", dim)
    return int(dim) % rank


def _check_inf_norm(who: str, p: float, shape: tuple[int, ...], dims: Sequence[int]) -> None:
    if math.isinf(p) and shape and any(shape[d] == 0 for d in dims):
        raise InputError(who, f"a non-empty reduced dimension for the p={p} norm (it has no identity)",
                         f"shape {shape_str(shape)}")


def pairwise_distance(x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Any:
    """p-norm of ``x1 - x2 + eps`` over the last dimension of their broadcast shape."""
    who = "pairwise_distance"
    check_float(who, x1, "x1")
    check_float(who, x2, "x2")
    shape = _broadcast_shape(who, x1, x2)
    _check_inf_norm(who, p, shape, [len(shape) - 1])
    return _ops.pairwise_distance(x1, x2, p=float(p), eps=float(eps), keepdim=bool(keepdim))


def cosine_similarity(x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> Any:
    """Cosine similarity along ``dim`` of the broadcast shape of ``x1`` and ``x2``; ``dim`` is removed."""
    who = "cosine_similarity"
    check_float(who, x1, "x1")
    check_float(who, x2, "x2")
    shape = _broadcast_shape(who, x1, x2)
    return _ops.cosine_similarity(x1, x2, dim=_wrap_dim(who, dim, shape), eps=float(eps))


def pdist(input: Any, p: float = 2) -> Any:
    """p-norm distances between all pairs of rows of an ``(N, M)`` input: ``N (N - 1) / 2`` values."""
    who = "pdist"
    check_float(who, input)
    if input.ndim != 2:
        raise InputError(who, "input of shape (N, M)", shape_str(input.shape))
    if not p >= 0:
        raise InputError(who, "a non-negative p", p)
    return _ops.pdist(input, p=float(p))


def normalize(input: Any, p: float = 2.0, dim: int | Sequence[int] = 1, eps: float = 1e-12,
              out: np.ndarray | None = None) -> Any:
    """``input / max(||input||_p, eps)`` with the norm over ``dim`` (an int or a sequence of ints)."""
    who = "normalize"
    check_float(who, input)
    shape = tuple(input.shape)
    if isinstance(dim, (tuple, list)):
        dims: int | tuple[int, ...] = tuple(_wrap_dim(who, d, shape) for d in dim)
        if len(set(dims)) != len(dims):
            raise InputError(who, "distinct dims", tuple(dim))
    else:
        dims = _wrap_dim(who, dim, shape)
    _check_inf_norm(who, p, shape, dims if isinstance(dims, tuple) else [dims])
    result = _ops.normalize(input, p=float(p), dim=dims, eps=float(eps))
    if out is None:
        return result
    if tuple(out.shape) != shape:
        raise InputError(who, f"out of shape {shape_str(shape)}", shape_str(out.shape))
    out[...] = result
    return out
