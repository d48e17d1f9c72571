"""Primitive ops of lookup tables: ``embedding``, ``embedding_renorm``, ``embedding_bag``, ``one_hot``."""
from __future__ import annotations

import numpy as np

from .distance import vector_norm
from .registry import Fusion, TensorSpec, defop, same_as_first

__all__ = ["embedding", "embedding_renorm", "embedding_bag", "one_hot"]


def _embedding_shape(weight: TensorSpec, indices: TensorSpec) -> TensorSpec:
    return TensorSpec(indices.shape + weight.shape[1:], weight.dtype)


@defop("embedding", fusion=Fusion.INJECTIVE, shape=_embedding_shape, checks_values=True)
def embedding(weight: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Rows of ``weight`` gathered at integer ``indices`` (all in range): shape ``indices.shape + (dim,)``."""
    return np.asarray(weight).take(indices, axis=0)  # asarray: a plain result, not a Parameter


# No CPU lowering on purpose: nn.Embedding(max_norm=...) writes the result into the user's weight, which a compiled
# graph (holding a copy of it) cannot, so F.embedding graph-breaks and this op only runs eagerly (docs/backend-cpu.md).
@defop("embedding_renorm", fusion=Fusion.OPAQUE, shape=same_as_first)
def embedding_renorm(weight: np.ndarray, indices: np.ndarray, *, max_norm: float, norm_type: float) -> np.ndarray:
    """A copy of ``weight`` whose rows referenced by ``indices`` with p-norm above ``max_norm`` are rescaled by
    ``max_norm / (norm + 1e-7)`` (torch's ``embedding_renorm_``, without the in-place write)."""
    out = np.array(weight, copy=True)
    rows = np.unique(indices)
    norms = vector_norm(out[rows], norm_type, axis=1).astype(np.float64)
    big = norms > max_norm
    rows, norms = rows[big], norms[big]
    # torch computes the scale in double and multiplies the row in the weight's dtype.
    scale = (max_norm / (norms + 1e-7)).astype(out.dtype)
    out[rows] = out[rows] * scale[:, None]
    return out


def _bag_shape(weight: TensorSpec, indices: TensorSpec, offsets: TensorSpec, per_sample_weights: TensorSpec | None,
               *, mode: str, include_last_offset: bool, padding_idx: int | None) -> TensorSpec:
    n_bags = offsets.shape[0] - 1 if include_last_offset else offsets.shape[0]
    return TensorSpec((max(n_bags, 0), weight.shape[1]), weight.dtype)


@defop("embedding_bag", fusion=Fusion.OPAQUE, shape=_bag_shape)
def embedding_bag(weight: np.ndarray, indices: np.ndarray, offsets: np.ndarray, per_sample_weights: np.ndarray | None,
                  *, mode: str, include_last_offset: bool, padding_idx: int | None) -> np.ndarray:
    """Sum, mean or max of the embedding rows of each bag ``indices[offsets[b]:offsets[b + 1]]``.

    ``indices`` is 1-D and in range; ``offsets`` is 1-D, starts at 0 and is non-decreasing. With
    ``include_last_offset`` the last offset ends the last bag, otherwise the last bag runs to the end. Entries equal
    to ``padding_idx`` are left out (and not counted by ``mean``); empty bags give zeros. ``per_sample_weights``
    (mode ``sum`` only) scales each row.
    """
    n = indices.shape[0]
    dim = weight.shape[1]
    if include_last_offset:
        starts, end = offsets[:-1], (int(offsets[-1]) if offsets.shape[0] else 0)
    else:
        starts, end = offsets, n
    n_bags = starts.shape[0]
    out = np.zeros((n_bags, dim), dtype=weight.dtype)
    if n_bags == 0:
        return out
    pos = np.arange(n)
    # Positions are sorted, so bag ids are non-decreasing and each bag's rows are contiguous after filtering.
    bag = np.searchsorted(starts, pos, side="right") - 1
    keep = pos < end
    if padding_idx is not None:
        keep &= indices != padding_idx
    bag, idx = bag[keep], indices[keep]
    counts = np.bincount(bag, minlength=n_bags)
    filled = counts > 0
    if not filled.any():
        return out
    rows = np.asarray(weight).take(idx, axis=0)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights[keep].astype(weight.dtype, copy=False)[:, None]
    seg_starts = (np.cumsum(counts) - counts)[filled]
    if mode == "max":
        out[filled] = np.maximum.reduceat(rows, seg_starts, axis=0)
    else:
        out[filled] = np.add.reduceat(rows, seg_starts, axis=0)
        if mode == "mean":
            out[filled] /= counts[filled].astype(weight.dtype)[:, None]
    return out


def _one_hot_shape(indices: TensorSpec, *, num_classes: int) -> TensorSpec:
    return TensorSpec(indices.shape + (num_classes,), np.int64)


@defop("one_hot", fusion=Fusion.INJECTIVE, shape=_one_hot_shape, checks_values=True)
def one_hot(indices: np.ndarray, *, num_classes: int) -> np.ndarray:
    """int64 array of shape ``indices.shape + (num_classes,)``, 1 where the last index equals the class."""
    return (indices[..., None] == np.arange(num_classes)).astype(np.int64)
