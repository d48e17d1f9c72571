"""Attention primitives: shape rules against the implementations, numerical stability, dropout statistics and
behaviour the op table cannot express (identity of shared inputs, float16)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
import nngraph.nn.functional as F
from nngraph.ops import attention as ops
from nngraph.ops.registry import Fusion, TensorSpec, get_op


def _spec(a: np.ndarray | None) -> TensorSpec | None:
    return None if a is None else TensorSpec.of(a)


def _check_rule(op, *args, **attrs) -> None:
    out = op(*args, **attrs)
    assert op.infer(*(_spec(a) for a in args), **attrs) == TensorSpec.of(out)


RNG = np.random.default_rng(0)


def _r(*shape: int, dtype=np.float32) -> np.ndarray:
    return RNG.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("q,k,v,mask,gqa", [
    ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), None, False),
    ((4, 5), (6, 5), (6, 2), (4, 6), False),
    ((2, 1, 4, 5), (1, 3, 6, 5), (1, 3, 6, 2), (2, 1, 1, 6), False),
    ((2, 4, 3, 5), (2, 2, 6, 5), (2, 1, 6, 3), (4, 3, 6), True),
    ((0, 2, 3, 4), (0, 2, 5, 4), (0, 2, 5, 4), None, False),
    ((1, 2, 3, 4), (1, 2, 0, 4), (1, 2, 0, 6), None, False),
])
def test_shape_rules_match_impl(q, k, v, mask, gqa) -> None:
    qa, ka, va = _r(*q), _r(*k), _r(*v)
    m = None if mask is None else _r(*mask)
    _check_rule(ops.scaled_dot_product_attention, qa, ka, va, m, scale=0.5, is_causal=False, enable_gqa=gqa)
    _check_rule(ops.attention_weights, qa, ka, m, scale=0.5, is_causal=False, enable_gqa=gqa, masked_rows="nan")
    w = ops.attention_weights(qa, ka, m, scale=0.5, is_causal=False, enable_gqa=gqa)
    _check_rule(ops.attention_context, w, va, enable_gqa=gqa)


def test_helper_shape_rules() -> None:
    x = _r(3, 2, 8)
    _check_rule(ops.attention_append, x, _r(1, 1, 8), axis=0)
    _check_rule(ops.attention_append, x, None, axis=1)
    _check_rule(ops.attention_mask_bias, np.zeros((2, 3), dtype=bool), dtype="float64")
    _check_rule(ops.attention_average_heads, _r(2, 4, 3, 5))


def test_registration() -> None:
    assert get_op("scaled_dot_product_attention").fusion in (Fusion.OPAQUE, Fusion.REDUCTION)
    assert get_op("attention_append").fusion is Fusion.INJECTIVE


def test_softmax_is_stable_for_huge_scores() -> None:
    q, k, v = _r(2, 3, 4, 8) * 1e3, _r(2, 3, 5, 8) * 1e3, _r(2, 3, 5, 4)
    out = F.scaled_dot_product_attention(q, k, v)
    assert np.isfinite(out).all()
    s = q.astype(np.float64) @ np.swapaxes(k, -1, -2).astype(np.float64) / math.sqrt(8)
    w = np.exp(s - s.max(-1, keepdims=True))
    ref = (w / w.sum(-1, keepdims=True)) @ v
    np.testing.assert_allclose(out, ref, atol=1e-4, rtol=1e-3)


def test_fully_masked_rows() -> None:
    q, k, v = _r(1, 1, 3, 4), _r(1, 1, 5, 4), _r(1, 1, 5, 2)
    keep = np.ones((3, 5), dtype=bool)
    keep[1] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
    np.testing.assert_array_equal(out[0, 0, 1], 0.0)
    assert np.isfinite(out).all()
    w = ops.attention_weights(q, k, keep, scale=0.5, is_causal=False, enable_gqa=False, masked_rows="nan")
    assert np.isnan(w[0, 0, 1]).all() and np.isfinite(w[0, 0, [0, 2]]).all()


def test_float16_close_to_float64() -> None:
    q, k, v = _r(2, 2, 4, 8, dtype=np.float64), _r(2, 2, 6, 8, dtype=np.float64), _r(2, 2, 6, 8, dtype=np.float64)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    half = F.scaled_dot_product_attention(q.astype(np.float16), k.astype(np.float16), v.astype(np.float16),
                                          is_causal=True)
    assert half.dtype == np.float16
    np.testing.assert_allclose(half, ref, atol=2e-2, rtol=2e-2)
    nngraph.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2).half()
    x = q[0].astype(np.float16)
    kpm = np.array([[False, False], [False, True], [False, False], [True, False]])  # (N=4, S=2)
    out, w = mha(x, x, x, key_padding_mask=kpm)
    assert out.dtype == np.float16 and w.dtype == np.float16


def test_sdpa_dropout_statistics() -> None:
    # Uniform attention over S keys with v = identity: each output row is the dropped-out weight row.
    nngraph.manual_seed(0)
    n, s, p = 400, 10, 0.3
    q, k = np.zeros((n, 1, s, 4), np.float64), np.zeros((n, 1, s, 4), np.float64)
    v = np.broadcast_to(np.eye(s), (n, 1, s, s)).copy()
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
    kept = out != 0
    assert abs(1 - kept.mean() - p) < 0.02
    np.testing.assert_allclose(out[kept], 1 / s / (1 - p))
    assert abs(out.mean() - 1 / s) < 2e-3
    # dropout_p is applied regardless of any training flag, as in torch; eval-mode MHA turns it off.
    assert not np.array_equal(out, F.scaled_dot_product_attention(q, k, v, dropout_p=p))


def test_mha_train_dropout_on_returned_weights() -> None:
    nngraph.manual_seed(1)
    mha = nn.MultiheadAttention(8, 2, dropout=0.5)
    x = _r(6, 50, 8)
    _, w = mha(x, x, x, average_attn_weights=False)
    assert abs((w == 0).mean() - 0.5) < 0.03
    mha.eval()
    _, w = mha(x, x, x, average_attn_weights=False)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)


def test_shared_inputs_equal_separate_copies() -> None:
    # Self-attention with one array takes the packed single-matmul projection; copies take three matmuls.
    nngraph.manual_seed(2)
    mha = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    x = _r(2, 5, 8)
    a = mha(x, x, x)
    b = mha(x.copy(), x.copy(), x.copy())
    c = mha(x, x.copy(), x.copy())
    for other in (b, c):
        np.testing.assert_allclose(a[0], other[0], atol=1e-6)
        np.testing.assert_allclose(a[1], other[1], atol=1e-6)


def test_mha_constructor_errors() -> None:
    with pytest.raises(ValueError, match="embed_dim and num_heads must be greater than 0"):
        nn.MultiheadAttention(0, 2)
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(6, 4)


def test_activation_string_and_errors() -> None:
    layer = nn.TransformerEncoderLayer(8, 2, 16, activation="gelu")
    assert layer.activation is F.gelu and layer.activation_relu_or_gelu == 2
    assert nn.TransformerEncoderLayer(8, 2, 16).activation_relu_or_gelu == 1
    assert nn.TransformerEncoderLayer(8, 2, 16, activation=lambda x: x).activation_relu_or_gelu == 0
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerDecoderLayer(8, 2, 16, activation="tanh")


def test_attention_modules_trace_fully() -> None:
    # The layers use only primitives and tracer-understood plumbing: fullgraph tracing works and the interpreter
    # reproduces eager execution.
    from tests.trace.util import check_trace

    nngraph.manual_seed(3)
    x = _r(4, 2, 8)
    kpm = np.array([[False] * 4, [False, False, True, True]])
    mha = nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True, kdim=5, vdim=3).eval()
    check_trace(mha, x, _r(3, 2, 5), _r(3, 2, 3), key_padding_mask=kpm[:, :3], average_attn_weights=False)
    model = nn.Transformer(8, 2, 1, 1, 16, batch_first=True, norm_first=True).eval()
    g = check_trace(model, _r(2, 5, 8), _r(2, 3, 8), tgt_mask=nn.Transformer.generate_square_subsequent_mask(3),
                    src_key_padding_mask=np.zeros((2, 5), dtype=bool), tgt_is_causal=True, atol=1e-5)
    assert "scaled_dot_product_attention" in {str(n.target) for n in g.nodes() if n.kind == "op"}
