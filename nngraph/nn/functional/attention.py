"""torch.nn.functional's attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward``."""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ...errors import InputError, check_float, shape_str
from ...ops import attention as _ops
from . import dropout as _dropout
from .linear import linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _check_mask_dtype(who: str, mask: Any, name: str, dtype: np.dtype) -> None:
    if mask.dtype != np.bool_ and mask.dtype != dtype:
        raise InputError(who, f"a bool or {dtype} {name}", f"dtype {mask.dtype}")


def _broadcastable(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    return len(shape) <= len(target) and all(s in (1, t) for s, t in zip(shape[::-1], target[::-1]))


def _attention(q: Any, k: Any, v: Any, mask: Any, dropout_p: float, is_causal: bool, scale: float,
               enable_gqa: bool, masked_rows: str = "zero") -> tuple[Any, Any]:
    """Attention core on validated inputs. Returns ``(output, weights)``; ``weights`` is only computed (and not
    None) when it is needed: dropout, or ``masked_rows='nan'`` (MultiheadAttention with ``need_weights``)."""
    if dropout_p <= 0.0 and masked_rows == "zero":
        return _ops.scaled_dot_product_attention(q, k, v, mask, scale=scale, is_causal=is_causal,
                                                 enable_gqa=enable_gqa), None
    w = _ops.attention_weights(q, k, mask, scale=scale, is_causal=is_causal, enable_gqa=enable_gqa,
                               masked_rows=masked_rows)
    if dropout_p > 0.0:
        w = _dropout.dropout(w, p=min(float(dropout_p), 1.0), training=True)
    return _ops.attention_context(w, v, enable_gqa=enable_gqa), w


def _check_sdpa_inputs(who: str, query: Any, key: Any, value: Any, attn_mask: Any | None, is_causal: bool,
                       enable_gqa: bool) -> None:
    """Dtypes, ranks, matching sizes, head broadcasting (or GQA grouping) and the mask's shape and dtype."""
    for name, x in (("query", query), ("key", key), ("value", value)):
        check_float(who, x, name)
        if x.ndim < 2:
            raise InputError(who, f"{name} of at least 2 dimensions (..., L, E)", shape_str(x.shape))
    for name, x in (("key", key), ("value", value)):
        if x.dtype != query.dtype:
            raise InputError(who, f"{name} of the query's dtype {query.dtype}", f"dtype {x.dtype}")
    e = query.shape[-1]
    if key.shape[-1] != e:
        raise InputError(who, f"key of shape (..., S, {e}) (the query's embedding size)", shape_str(key.shape))
    if value.shape[-2] != key.shape[-2]:
        raise InputError(who, f"value of shape (..., {key.shape[-2]}, Ev) (the key's length)", shape_str(value.shape))
    heads = query.shape[-3] if query.ndim >= 3 else 1
    for name, x in (("key", key), ("value", value)):
        if enable_gqa and x.ndim >= 3 and (x.shape[-3] == 0 or heads % x.shape[-3]):
            raise InputError(who, f"{name} heads dividing the query's {heads} heads (enable_gqa=True)",
                             shape_str(x.shape))
        lead = x.shape[:-3] + ((heads,) if enable_gqa and x.ndim >= 3 else x.shape[-3:-2])
        try:
            np.broadcast_shapes(query.shape[:-2], lead)
        except ValueError:
            raise InputError(who, f"{name} batch and head dimensions broadcastable with the query's "
                                  f"{shape_str(query.shape)}", shape_str(x.shape)) from None
    if attn_mask is not None:
        if is_causal:
            raise InputError(who, "attn_mask=None when is_causal=True",
                             f"attn_mask of shape {shape_str(attn_mask.shape)}")
        _check_mask_dtype(who, attn_mask, "attn_mask", query.dtype)
        target = tuple(np.broadcast_shapes(query.shape[:-3], key.shape[:-3])) + (heads, query.shape[-2],
                                                                                 key.shape[-2])
        target = target[-max(query.ndim, key.ndim):]
        if not _broadcastable(tuple(attn_mask.shape), target):
            raise InputError(who, f"attn_mask broadcastable to the attention weights' shape {shape_str(target)}",
                             shape_str(attn_mask.shape))


def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, *, scale: float | None = None,
                                 enable_gqa: bool = False) -> Any:
    """``softmax(query @ key^T * scale + mask) @ value`` over ``(N, ..., H, L, E)`` inputs.

    A boolean ``attn_mask`` marks the positions that take part (``True``); a float mask is added to the scores.
    Query rows with every key masked give zeros. Dropout (``dropout_p``) is always applied, as in torch.
    """
    _check_sdpa_inputs("scaled_dot_product_attention", query, key, value, attn_mask, is_causal, enable_gqa)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    out, _ = _attention(query, key, value, attn_mask, float(dropout_p), bool(is_causal), scale,
                        bool(enable_gqa))
    return out


def _canonical_mask(mask: Any | None, mask_name: str, other_type: Any | None, other_name: str, target_type: Any,
                    check_other: bool = True, who: str = "multi_head_attention_forward") -> Any | None:
    """A boolean mask (``True`` = masked out) becomes an additive float mask of ``target_type``; float masks pass
    through. Warns, like torch, when a mask's dtype differs from the other mask's."""
    if mask is None:
        return None
    target = np.dtype(target_type)
    _check_mask_dtype(who, mask, mask_name, target)
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same type for both "
                      "instead.", stacklevel=3)
    if mask.dtype == np.bool_:
        return _ops.attention_mask_bias(mask, dtype=str(target))
    return mask


def _none_or_dtype(x: Any | None) -> np.dtype | None:
    return None if x is None else x.dtype


def _check_shape(who: str, x: Any, expected: tuple[int | str, ...], name: str) -> None:
    if len(x.shape) != len(expected) or any(isinstance(d, int) and s != d for s, d in zip(x.shape, expected)):
        pattern = "(" + ", ".join(str(d) for d in expected) + ")"
        raise InputError(who, f"{name} of shape {pattern}", shape_str(x.shape))


def multi_head_attention_forward(query: Any, key: Any, value: Any, embed_dim_to_check: int, num_heads: int,
                                 in_proj_weight: Any | None, in_proj_bias: Any | None, bias_k: Any | None,
                                 bias_v: Any | None, add_zero_attn: bool, dropout_p: float, out_proj_weight: Any,
                                 out_proj_bias: Any | None, training: bool = True,
                                 key_padding_mask: Any | None = None, need_weights: bool = True,
                                 attn_mask: Any | None = None, use_separate_proj_weight: bool = False,
                                 q_proj_weight: Any | None = None, k_proj_weight: Any | None = None,
                                 v_proj_weight: Any | None = None, static_k: Any | None = None,
                                 static_v: Any | None = None, average_attn_weights: bool = True,
                                 is_causal: bool = False) -> tuple[Any, Any | None]:
    """Multi-head attention over sequence-first inputs ``(L, N, E)`` (or unbatched ``(L, E)``).

    Returns ``(attn_output, attn_weights)``; ``attn_weights`` is None unless ``need_weights``, averaged over the
    heads ``(N, L, S)`` or per head ``(N, num_heads, L, S)``. Boolean masks mark positions that are masked out.
    """
    who = "multi_head_attention_forward"
    batched = _mha_check_ranks(who, query, key, value, attn_mask)
    if not batched:
        query, key, value = query[:, None], key[:, None], value[:, None]
        if key_padding_mask is not None:
            if key_padding_mask.ndim != 1:
                raise InputError(who, "key_padding_mask of shape (S,) for an unbatched query",
                                 shape_str(key_padding_mask.shape))
            key_padding_mask = key_padding_mask[None]
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    seq = "(S, N, E)" if batched else "(S, E)"
    if embed_dim != embed_dim_to_check:
        raise InputError(who, f"query of shape (L, N, {embed_dim_to_check})" if batched
                         else f"query of shape (L, {embed_dim_to_check})", shape_str(query.shape))
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise InputError(who, f"embed_dim divisible by num_heads={num_heads}", f"embed_dim={embed_dim}")
    if key_padding_mask is not None and static_k is None:
        _check_shape(who, key_padding_mask, (bsz, src_len), "key_padding_mask")

    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", _none_or_dtype(attn_mask), "attn_mask",
                                       query.dtype)
    if is_causal and attn_mask is None:
        raise InputError(who, "an attn_mask with is_causal=True (see Transformer.generate_square_subsequent_mask)",
                         "attn_mask=None")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the causal hint replaces the mask (torch hands is_causal to SDPA)
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)
        if key_padding_mask is not None:
            is_causal = False  # the merged mask is no longer causal

    # In-projection.
    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise InputError(who, "in_proj_weight when use_separate_proj_weight=False", "None")
        if key.shape[-1] != embed_dim or value.shape[-1] != embed_dim:
            raise InputError(who, f"key and value of shape {seq[:-2]}{embed_dim}) (packed in-projection)",
                             f"{shape_str(key.shape)} and {shape_str(value.shape)}")
        q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias, embed_dim)
    else:
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise InputError(who, "q_proj_weight, k_proj_weight and v_proj_weight when use_separate_proj_weight=True",
                             "None")
        for name, x, w in (("key", key, k_proj_weight), ("value", value, v_proj_weight)):
            if x.shape[-1] != w.shape[-1]:
                raise InputError(who, f"{name} of shape {seq[:-2]}{w.shape[-1]})", shape_str(x.shape))
        b = [None] * 3 if in_proj_bias is None else [in_proj_bias[i * embed_dim:(i + 1) * embed_dim] for i in range(3)]
        q = linear(query, q_proj_weight, b[0])
        k = linear(key, k_proj_weight, b[1])
        v = linear(value, v_proj_weight, b[2])

    # Masks in the 4-D layout (N or 1, num_heads or 1, L, S) of the attention weights.
    if attn_mask is not None:
        if attn_mask.ndim == 2:
            _check_shape(who, attn_mask, (tgt_len, src_len), "2-D attn_mask")
            attn_mask = attn_mask[None, None]
        else:
            _check_shape(who, attn_mask, (bsz * num_heads, tgt_len, src_len), "3-D attn_mask")
            attn_mask = attn_mask.reshape(bsz, num_heads, tgt_len, src_len)
    if key_padding_mask is not None:
        key_padding_mask = key_padding_mask.reshape(bsz, 1, 1, key_padding_mask.shape[-1])

    if (bias_k is None) != (bias_v is None):
        given = "bias_v" if bias_k is None else "bias_k"
        raise InputError(who, "bias_k and bias_v both set or both None", f"only {given}")
    if bias_k is not None:
        if static_k is not None or static_v is not None:
            raise InputError(who, "no static_k/static_v together with bias_k/bias_v", "both")
        k = _ops.attention_append(k, bias_k, axis=0)
        v = _ops.attention_append(v, bias_v, axis=0)
        attn_mask, key_padding_mask = _pad_masks(attn_mask, key_padding_mask)

    # (S, N, E) -> (N, num_heads, S, head_dim)
    q = q.reshape(tgt_len, bsz, num_heads, head_dim).transpose(1, 2, 0, 3)
    k = _split_heads(who, k, static_k, bsz, num_heads, head_dim, "static_k")
    v = _split_heads(who, v, static_v, bsz, num_heads, head_dim, "static_v")
    if add_zero_attn:
        k = _ops.attention_append(k, None, axis=2)
        v = _ops.attention_append(v, None, axis=2)
        attn_mask, key_padding_mask = _pad_masks(attn_mask, key_padding_mask)
    if k.shape[2] != v.shape[2]:
        raise InputError(who, f"static_v of length {k.shape[2]} (the key's)", f"length {v.shape[2]}")
    if key_padding_mask is not None:
        if key_padding_mask.shape[-1] != k.shape[2]:
            raise InputError(who, f"key_padding_mask of shape ({bsz}, {k.shape[2]})",
                             shape_str((bsz, key_padding_mask.shape[-1])))
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    if attn_mask is not None and attn_mask.shape[-1] != k.shape[2]:
        raise InputError(who, f"attn_mask with {k.shape[2]} source positions (static_k's)",
                         f"{attn_mask.shape[-1]}")

    if not training:
        dropout_p = 0.0
    scale = 1.0 / math.sqrt(head_dim)
    out, weights = _attention(q, k, v, attn_mask, float(dropout_p), bool(is_causal) and not need_weights,
                              scale, False, masked_rows="nan" if need_weights else "zero")
    out = out.transpose(2, 0, 1, 3).reshape(tgt_len, bsz, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias)
    if not need_weights:
        return (out if batched else out[:, 0]), None
    if average_attn_weights:
        weights = _ops.attention_average_heads(weights)
    if not batched:
        return out[:, 0], weights[0]
    return out, weights


def _mha_check_ranks(who: str, query: Any, key: Any, value: Any, attn_mask: Any | None) -> bool:
    """Validate dtypes and ranks of multi-head attention inputs; returns whether the input is batched."""
    for name, x in (("query", query), ("key", key), ("value", value)):
        check_float(who, x, name)
    if query.ndim not in (2, 3):
        raise InputError(who, "query of shape (L, N, E) or (L, E)", shape_str(query.shape))
    batched = query.ndim == 3
    for name, x in (("key", key), ("value", value)):
        if x.ndim != query.ndim:
            raise InputError(who, f"{name} of shape {'(S, N, E)' if batched else '(S, E)'} for a {query.ndim}-D "
                                  "query", shape_str(x.shape))
        if batched and x.shape[1] != query.shape[1]:
            raise InputError(who, f"{name} of shape (S, {query.shape[1]}, E) (the query's batch size)",
                             shape_str(x.shape))
    if key.shape[0] != value.shape[0]:
        raise InputError(who, f"value of shape ({key.shape[0]}, ...) (the key's length)", shape_str(value.shape))
    if attn_mask is not None and attn_mask.ndim not in (2, 3):
        raise InputError(who, "attn_mask of shape (L, S) or (N*num_heads, L, S)", shape_str(attn_mask.shape))
    return batched


def _in_projection_packed(query: Any, key: Any, value: Any, w: Any, b: Any | None, e: int) -> tuple[Any, Any, Any]:
    """q, k, v projections with the packed ``(3E, E)`` weight; self-attention needs a single matmul."""
    def part(x: Any, i: int) -> Any:
        return x[i * e:(i + 1) * e] if x is not None else None

    if query is key and key is value:
        proj = linear(query, w, b)
        return proj[..., :e], proj[..., e:2 * e], proj[..., 2 * e:]
    if key is value:
        kv = linear(key, w[e:], None if b is None else b[e:])
        return linear(query, part(w, 0), part(b, 0)), kv[..., :e], kv[..., e:]
    return (linear(query, part(w, 0), part(b, 0)), linear(key, part(w, 1), part(b, 1)),
            linear(value, part(w, 2), part(b, 2)))


def _split_heads(who: str, x: Any, static: Any | None, bsz: int, num_heads: int, head_dim: int, name: str) -> Any:
    if static is None:
        return x.reshape(x.shape[0], bsz, num_heads, head_dim).transpose(1, 2, 0, 3)
    if static.ndim != 3 or static.shape[0] != bsz * num_heads or static.shape[2] != head_dim:
        raise InputError(who, f"{name} of shape ({bsz * num_heads}, S, {head_dim})", shape_str(static.shape))
    return static.reshape(bsz, num_heads, static.shape[1], head_dim)


def _pad_masks(attn_mask: Any | None, key_padding_mask: Any | None) -> tuple[Any | None, Any | None]:
    """One more (unmasked) source position for an appended bias_k/bias_v or zero-attention slot."""
    if attn_mask is not None:
        attn_mask = _ops.attention_append(attn_mask, None, axis=-1)
    if key_padding_mask is not None:
        key_padding_mask = _ops.attention_append(key_padding_mask, None, axis=-1)
    return attn_mask, key_padding_mask
