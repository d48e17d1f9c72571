"""torch.nn.functional's lookup-table ops: embedding, embedding_bag, one_hot."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import InputError, check_float, check_int, shape_str
from ...ops import sparse as _ops

__all__ = ["embedding", "embedding_bag", "one_hot"]


def _check_weight(who: str, weight: Any) -> int:
    if weight.ndim != 2:
        raise InputError(who, "weight of shape (num_embeddings, embedding_dim)", shape_str(weight.shape))
    return int(weight.shape[0])


def _padding_idx(who: str, padding_idx: int | None, num_embeddings: int) -> int | None:
    """Validate ``padding_idx`` and make it non-negative (torch counts a negative one from the end)."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise InputError(who, f"padding_idx in [{-num_embeddings}, {num_embeddings})", padding_idx)
    return int(padding_idx) % num_embeddings


def _check_indices(who: str, indices: Any, num_embeddings: int) -> None:
    check_int(who, indices)
    if isinstance(indices, np.ndarray) and indices.size:  # values are known only eagerly, not while tracing
        lo, hi = int(indices.min()), int(indices.max())
        if lo < 0 or hi >= num_embeddings:
            raise InputError(who, f"indices in [0, {num_embeddings})", lo if lo < 0 else hi)


def _renorm_in_place(weight: Any, indices: Any, max_norm: float, norm_type: float) -> Any:
    """torch's ``max_norm``: rows looked up are rescaled IN PLACE in ``weight`` (the documented exception to ops
    never modifying their inputs). Returns the renormalized weight to gather from."""
    if not isinstance(weight, np.ndarray):
        _graph_break("max_norm renormalizes the embedding weight in place")
    new = _ops.embedding_renorm(weight, indices, max_norm=float(max_norm), norm_type=float(norm_type))
    weight[...] = new
    return new


def _graph_break(reason: str) -> None:
    """Leave the calling module to eager execution when tracing meets what a graph cannot express."""
    from ...trace.proxy import GraphBreak  # imported lazily: the tracer imports the op library

    raise GraphBreak(reason)


def embedding(input: Any, weight: Any, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Any:
    """Rows of ``weight`` at the integer ``input`` indices: shape ``input.shape + (embedding_dim,)``.

    ``padding_idx``, ``scale_grad_by_freq`` and ``sparse`` only affect gradients in torch; they are validated and
    otherwise ignored. With ``max_norm``, looked-up rows whose ``norm_type``-norm exceeds it are rescaled in place.
    """
    who = "embedding"
    num_embeddings = _check_weight(who, weight)
    _padding_idx(who, padding_idx, num_embeddings)
    _check_indices(who, input, num_embeddings)
    if max_norm is not None:
        weight = _renorm_in_place(weight, input, max_norm, norm_type)
    return _ops.embedding(weight, input)


def _check_offsets(who: str, offsets: Any, n: int) -> None:
    check_int(who, offsets, "offsets")
    if offsets.ndim != 1:
        raise InputError(who, "1-D offsets", f"shape {shape_str(offsets.shape)}")
    if not isinstance(offsets, np.ndarray) or offsets.size == 0:
        return
    if offsets[0] != 0:
        raise InputError(who, "offsets[0] == 0 (the first bag starts at position 0)", int(offsets[0]))
    if np.any(offsets[1:] < offsets[:-1]):
        shown = offsets.tolist() if offsets.size <= 10 else "decreasing offsets"
        raise InputError(who, "non-decreasing offsets", shown)
    if offsets[-1] > n:
        raise InputError(who, f"offsets[-1] <= the input's length {n}", int(offsets[-1]))


def embedding_bag(input: Any, weight: Any, offsets: Any | None = None, max_norm: float | None = None,
                  norm_type: float = 2, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Any | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Any:
    """Sum, mean or max of the embedding rows of each bag, without materializing the lookups per bag.

    A 2-D ``input`` is a batch of equal-length bags (``offsets`` must be None); a 1-D ``input`` is split into bags
    by ``offsets``. Entries equal to ``padding_idx`` are skipped; empty bags give zeros.
    """
    who = "embedding_bag"
    num_embeddings = _check_weight(who, weight)
    check_int(who, input)
    if per_sample_weights is not None:
        check_float(who, per_sample_weights, "per_sample_weights")
        if per_sample_weights.dtype != weight.dtype:
            raise InputError(who, f"per_sample_weights of the weight's dtype {weight.dtype}",
                             f"dtype {per_sample_weights.dtype}")
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise InputError(who, f"per_sample_weights of the input's shape {shape_str(input.shape)}",
                             shape_str(per_sample_weights.shape))
    if input.ndim == 2:
        if offsets is not None:
            raise InputError(who, "offsets=None with a 2-D input (a batch of equal-length bags)",
                             f"offsets of shape {shape_str(offsets.shape)}")
        n_bags, length = (int(s) for s in input.shape)
        # Bags of length 0 (which torch rejects) all start at 0 and come out as zeros.
        offsets = np.arange(n_bags, dtype=np.int64) * length
        include_last_offset = False
        input = input.reshape(n_bags * length)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(n_bags * length)
    elif input.ndim == 1:
        if offsets is None:
            raise InputError(who, "offsets with a 1-D input", "offsets=None")
        _check_offsets(who, offsets, int(input.shape[0]))
        if include_last_offset and offsets.shape[0] == 0:
            raise InputError(who, "at least one offset with include_last_offset=True", "empty offsets")
    else:
        raise InputError(who, "input of shape (B, L) or (N,)", shape_str(input.shape))
    if mode not in ("sum", "mean", "max"):
        raise InputError(who, "mode 'sum', 'mean' or 'max'", repr(mode))
    if mode == "max" and (scale_grad_by_freq or sparse):
        raise InputError(who, "scale_grad_by_freq=False and sparse=False with mode='max'",
                         f"scale_grad_by_freq={scale_grad_by_freq}, sparse={sparse}")
    if per_sample_weights is not None and mode != "sum":
        raise InputError(who, "per_sample_weights only with mode='sum'", f"mode={mode!r}")
    padding_idx = _padding_idx(who, padding_idx, num_embeddings)
    _check_indices(who, input, num_embeddings)
    if max_norm is not None:
        weight = _renorm_in_place(weight, input, max_norm, norm_type)
    return _ops.embedding_bag(weight, input, offsets, per_sample_weights, mode=mode,
                              include_last_offset=bool(include_last_offset), padding_idx=padding_idx)


def one_hot(tensor: Any, num_classes: int = -1) -> Any:
    """int64 one-hot encoding with a new last dimension of ``num_classes`` (-1: ``max(tensor) + 1``)."""
    who = "one_hot"
    check_int(who, tensor, "class indices")
    if num_classes < -1:
        raise InputError(who, "num_classes >= 0, or -1 to infer it", num_classes)
    if isinstance(tensor, np.ndarray):
        if tensor.size == 0:
            if num_classes <= 0:  # torch reads 0 like -1 here
                raise InputError(who, "num_classes given explicitly for an empty input", f"num_classes={num_classes}")
        else:
            lo, hi = int(tensor.min()), int(tensor.max())
            if lo < 0:
                raise InputError(who, "non-negative class values", lo)
            if num_classes == -1:
                num_classes = hi + 1
            elif hi >= num_classes:
                raise InputError(who, f"class values smaller than num_classes={num_classes}", hi)
    elif num_classes == -1:
        _graph_break("one_hot with num_classes=-1 (the output shape depends on the values)")
    return _ops.one_hot(tensor, num_classes=int(num_classes))
