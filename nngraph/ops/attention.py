"""Attention primitives: the fused attention core and the pieces multi-head attention is built from.

Shapes follow torch's SDPA: ``q`` is ``(..., Hq, L, E)``, ``k`` is ``(..., Hk, S, E)``, ``v`` is ``(..., Hv, S, Ev)``;
leading dimensions broadcast. An attention mask broadcasts to ``(..., Hq, L, S)`` and is either boolean (``True``
= the position takes part, SDPA's convention) or floating (added to the scores).
"""
from __future__ import annotations

import numpy as np

from .registry import Fusion, TensorSpec, defop

_NEG_INF = -np.inf


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    # float16 is computed in float32 and cast back.
    return np.dtype(np.float32) if np.dtype(dtype) == np.float16 else np.dtype(dtype)


def _repeat_heads(x: np.ndarray, hq: int, enable_gqa: bool) -> np.ndarray:
    """Grouped-query attention: repeat each key/value head so that head ``h`` of q reads head ``h // group``."""
    if not enable_gqa or x.ndim < 3 or x.shape[-3] == hq:
        return x
    return np.repeat(x, hq // x.shape[-3], axis=-3)


def _masked_scores(q: np.ndarray, k: np.ndarray, mask: np.ndarray | None, scale: float, is_causal: bool,
                   enable_gqa: bool) -> np.ndarray:
    """``q @ k^T * scale`` with the causal and explicit masks applied (masked entries are ``-inf``)."""
    ct = _compute_dtype(q.dtype)
    k = _repeat_heads(k, q.shape[-3] if q.ndim >= 3 else 1, enable_gqa)
    scores = np.matmul(q.astype(ct, copy=False), np.swapaxes(k.astype(ct, copy=False), -1, -2))
    scores = scores * ct.type(scale)
    length, source = scores.shape[-2], scores.shape[-1]
    keep = None
    if is_causal:  # upper-left aligned: query i sees keys j <= i
        keep = np.tril(np.ones((length, source), dtype=bool))
    if mask is not None:
        if mask.dtype == np.bool_:
            keep = mask if keep is None else keep & mask
        else:
            scores = scores + mask.astype(ct, copy=False)
    if keep is not None:
        scores = np.where(keep, scores, ct.type(_NEG_INF))
    return scores


def _softmax_rows(scores: np.ndarray, masked_rows: str) -> np.ndarray:
    """Stable softmax over the last axis. Rows whose scores are all ``-inf`` give zeros (``masked_rows='zero'``,
    torch's SDPA) or NaN (``'nan'``, torch's plain softmax as used by MultiheadAttention with ``need_weights``)."""
    if scores.shape[-1] == 0:
        return scores.copy()
    row_max = np.max(scores, axis=-1, keepdims=True)
    finite = np.isfinite(row_max)
    e = np.exp(scores - np.where(finite, row_max, 0))
    total = np.sum(e, axis=-1, keepdims=True)
    if masked_rows == "zero":
        return e / np.where(total > 0, total, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return e / total


def _lead_shape(a: TensorSpec, b: TensorSpec, enable_gqa: bool) -> tuple[int, ...]:
    """Broadcast leading (batch and head) dims of ``a`` and ``b``; with GQA ``b``'s head count follows ``a``'s."""
    b_lead = b.shape[:-2]
    if enable_gqa and a.ndim >= 3 and b.ndim >= 3:
        b_lead = b_lead[:-1] + (a.shape[-3],)
    return tuple(np.broadcast_shapes(a.shape[:-2], b_lead))


def _weights_shape(q: TensorSpec, k: TensorSpec, mask: TensorSpec | None, *, scale: float, is_causal: bool,
                   enable_gqa: bool, masked_rows: str = "zero") -> TensorSpec:
    shape = _lead_shape(q, k, enable_gqa) + (q.shape[-2], k.shape[-2])
    if mask is not None:
        shape = tuple(np.broadcast_shapes(shape, mask.shape))
    return TensorSpec(shape, q.dtype)


def _context_shape(w: TensorSpec, v: TensorSpec, *, enable_gqa: bool) -> TensorSpec:
    return TensorSpec(_lead_shape(w, v, enable_gqa) + (w.shape[-2], v.shape[-1]), w.dtype)


def _sdpa_shape(q: TensorSpec, k: TensorSpec, v: TensorSpec, mask: TensorSpec | None, *, scale: float,
                is_causal: bool, enable_gqa: bool) -> TensorSpec:
    w = _weights_shape(q, k, mask, scale=scale, is_causal=is_causal, enable_gqa=enable_gqa)
    return _context_shape(w, v, enable_gqa=enable_gqa)


def _context(w: np.ndarray, v: np.ndarray, enable_gqa: bool) -> np.ndarray:
    v = _repeat_heads(v, w.shape[-3] if w.ndim >= 3 else 1, enable_gqa)
    return np.matmul(w, v.astype(w.dtype, copy=False))


@defop("scaled_dot_product_attention", fusion=Fusion.OPAQUE, shape=_sdpa_shape)
def scaled_dot_product_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None, *,
                                 scale: float, is_causal: bool, enable_gqa: bool) -> np.ndarray:
    """``softmax(q @ k^T * scale + mask) @ v`` without dropout; fully masked query rows give zeros (as torch)."""
    w = _softmax_rows(_masked_scores(q, k, mask, scale, is_causal, enable_gqa), "zero")
    return _context(w, v, enable_gqa).astype(q.dtype, copy=False)


@defop("attention_weights", fusion=Fusion.OPAQUE, shape=_weights_shape)
def attention_weights(q: np.ndarray, k: np.ndarray, mask: np.ndarray | None, *, scale: float, is_causal: bool,
                      enable_gqa: bool, masked_rows: str = "zero") -> np.ndarray:
    """Attention probabilities ``softmax(q @ k^T * scale + mask)`` of shape ``(..., Hq, L, S)``."""
    scores = _masked_scores(q, k, mask, scale, is_causal, enable_gqa)
    return _softmax_rows(scores, masked_rows).astype(q.dtype, copy=False)


@defop("attention_context", fusion=Fusion.HEAVY, shape=_context_shape)
def attention_context(w: np.ndarray, v: np.ndarray, *, enable_gqa: bool) -> np.ndarray:
    """Weighted sum of the values: ``w @ v`` (``v``'s heads repeated for grouped-query attention)."""
    return _context(w.astype(_compute_dtype(w.dtype), copy=False), v, enable_gqa).astype(w.dtype, copy=False)


def _mask_bias_shape(mask: TensorSpec, *, dtype: str) -> TensorSpec:
    return TensorSpec(mask.shape, np.dtype(dtype))


@defop("attention_mask_bias", fusion=Fusion.ELEMENTWISE, shape=_mask_bias_shape)
def attention_mask_bias(mask: np.ndarray, *, dtype: str) -> np.ndarray:
    """Boolean mask in MultiheadAttention's convention (``True`` = masked out) -> additive float mask of ``dtype``
    (``-inf`` where masked, ``0`` elsewhere)."""
    return np.where(mask, np.dtype(dtype).type(_NEG_INF), np.dtype(dtype).type(0))


def _append_shape(x: TensorSpec, extra: TensorSpec | None, *, axis: int) -> TensorSpec:
    shape = list(x.shape)
    shape[axis] += 1 if extra is None else extra.shape[axis]
    return TensorSpec(tuple(shape), x.dtype)


@defop("attention_append", fusion=Fusion.INJECTIVE, shape=_append_shape)
def attention_append(x: np.ndarray, extra: np.ndarray | None, *, axis: int) -> np.ndarray:
    """Concatenate ``extra`` after ``x`` along ``axis``; ``extra`` is broadcast over the other axes of ``x``.
    With ``extra=None`` one slice of zeros is appended (MultiheadAttention's ``bias_k``/``add_zero_attn`` and the
    matching mask padding)."""
    if extra is None:
        shape = list(x.shape)
        shape[axis] = 1
        tail = np.zeros(shape, dtype=x.dtype)
    else:
        shape = list(x.shape)
        shape[axis] = extra.shape[axis]
        tail = np.broadcast_to(extra.astype(x.dtype, copy=False), shape)
    return np.concatenate([x, tail], axis=axis)


def _average_heads_shape(w: TensorSpec) -> TensorSpec:
    return TensorSpec(w.shape[:1] + w.shape[2:], w.dtype)


@defop("attention_average_heads", fusion=Fusion.REDUCTION, shape=_average_heads_shape)
def attention_average_heads(w: np.ndarray) -> np.ndarray:
    """Mean of per-head attention weights ``(N, H, L, S)`` over the heads -> ``(N, L, S)``."""
    return np.mean(w, axis=1, dtype=_compute_dtype(w.dtype)).astype(w.dtype, copy=False)
