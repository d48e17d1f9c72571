"""Whole transformer models built from the same source with ``nngraph.nn`` and ``torch.nn``: torch's weights are
loaded through ``state_dict`` and the outputs must agree.

* an encoder classifier: Embedding + TransformerEncoder (+ final LayerNorm) + masked mean pool + Linear;
* a small seq2seq ``nn.Transformer`` with token embeddings, sinusoidal positions, causal target masks, padding masks
  and greedy decoding.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nngraph
import nngraph.nn as nn

TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}
TOL = {np.float32: dict(atol=2e-4, rtol=2e-4), np.float64: dict(atol=1e-9, rtol=1e-7)}


def _sinusoids(max_len: int, d: int) -> np.ndarray:
    pos = np.arange(max_len)[:, None]
    div = np.exp(np.arange(0, d, 2) * (-math.log(10000.0) / d))
    pe = np.zeros((max_len, d), dtype=np.float32)
    pe[:, 0::2] = np.sin(pos * div)
    pe[:, 1::2] = np.cos(pos * div)
    return pe


def build_classifier(lib: Any, vocab: int = 23, d: int = 16, heads: int = 4, layers: int = 2,
                     classes: int = 5) -> Any:
    """``lib`` is ``nngraph.nn`` or ``torch.nn``; the model code is the same for both."""

    class EncoderClassifier(lib.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = lib.Embedding(vocab, d, padding_idx=0)
            layer = lib.TransformerEncoderLayer(d, heads, dim_feedforward=32, dropout=0.1, batch_first=True)
            self.encoder = lib.TransformerEncoder(layer, layers, lib.LayerNorm(d))
            self.head = lib.Linear(d, classes)

        def forward(self, tokens: Any, pad: Any, keep: Any) -> Any:
            # pad: bool (N, S), True at padding; keep: float (N, S), 1 at real tokens.
            x = self.encoder(self.embed(tokens) * math.sqrt(d), src_key_padding_mask=pad)
            pooled = (x * keep[:, :, None]).sum(1) / keep.sum(1)[:, None]
            return self.head(pooled)

    return EncoderClassifier()


def build_seq2seq(lib: Any, src_vocab: int = 19, tgt_vocab: int = 17, d: int = 16, heads: int = 2,
                  max_len: int = 32) -> Any:

    class Seq2Seq(lib.Module):
        def __init__(self) -> None:
            super().__init__()
            self.src_embed = lib.Embedding(src_vocab, d)
            self.tgt_embed = lib.Embedding(tgt_vocab, d)
            self.transformer = lib.Transformer(d, heads, num_encoder_layers=2, num_decoder_layers=2,
                                               dim_feedforward=32, dropout=0.1)
            self.generator = lib.Linear(d, tgt_vocab)
            pe = _sinusoids(max_len, d)[:, None, :]  # (max_len, 1, d): sequence-first
            self.register_buffer("pe", pe if lib is nn else torch.from_numpy(pe), persistent=False)

        def embed(self, emb: Any, tokens: Any) -> Any:
            return emb(tokens) * math.sqrt(d) + self.pe[: tokens.shape[0]]

        def forward(self, src: Any, tgt: Any, tgt_mask: Any, src_pad: Any, tgt_pad: Any) -> Any:
            out = self.transformer(self.embed(self.src_embed, src), self.embed(self.tgt_embed, tgt),
                                   tgt_mask=tgt_mask, src_key_padding_mask=src_pad, tgt_key_padding_mask=tgt_pad,
                                   memory_key_padding_mask=src_pad)
            return self.generator(out)

    return Seq2Seq()


def _pair(build: Any, dtype: Any) -> tuple[Any, Any]:
    torch.manual_seed(0)
    tm = build(torch.nn).to(TORCH_DTYPE[dtype]).eval()
    nngraph.manual_seed(0)
    om = build(nn).to(dtype).eval()
    sd = {k: v.detach().numpy().copy() for k, v in tm.state_dict().items()}
    assert list(om.state_dict()) == list(sd)
    om.load_state_dict(sd)
    return om, tm


def _tokens(rng: np.random.Generator, n: int, s: int, vocab: int, lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    tokens = rng.integers(1, vocab, size=(n, s))
    pad = np.arange(s)[None, :] >= np.asarray(lengths)[:, None]
    tokens[pad] = 0
    return tokens, pad


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("grad", [False, True], ids=["nested-fastpath", "reference-path"])
def test_encoder_classifier_matches_torch(dtype: Any, grad: bool) -> None:
    # torch under no_grad takes its nested-tensor fast path (zeros at padded positions, excluded by the pooling);
    # with grad enabled it takes the reference path. Both must match.
    om, tm = _pair(build_classifier, dtype)
    rng = np.random.default_rng(0)
    tokens, pad = _tokens(rng, 4, 7, 23, [7, 5, 3, 1])
    keep = (~pad).astype(dtype)
    with torch.set_grad_enabled(grad):
        ref = tm(torch.from_numpy(tokens), torch.from_numpy(pad), torch.from_numpy(keep)).detach().numpy()
    ours = om(tokens, pad, keep)
    assert ours.dtype == dtype and ours.shape == (4, 5)
    np.testing.assert_allclose(ours, ref, **TOL[dtype])


def test_encoder_classifier_train_mode_is_random_but_shaped() -> None:
    om, _ = _pair(build_classifier, np.float32)
    om.train()
    rng = np.random.default_rng(1)
    tokens, pad = _tokens(rng, 3, 6, 23, [6, 4, 2])
    keep = (~pad).astype(np.float32)
    a, b = om(tokens, pad, keep), om(tokens, pad, keep)
    assert a.shape == (3, 5) and a.dtype == np.float32
    assert not np.allclose(a, b)  # dropout differs between calls
    om.eval()
    np.testing.assert_array_equal(om(tokens, pad, keep), om(tokens, pad, keep))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_seq2seq_transformer_matches_torch(dtype: Any) -> None:
    om, tm = _pair(build_seq2seq, dtype)
    rng = np.random.default_rng(2)
    src, src_pad = _tokens(rng, 3, 9, 19, [9, 6, 4])
    tgt, tgt_pad = _tokens(rng, 3, 6, 17, [6, 6, 3])
    src, src_pad, tgt, tgt_pad = src.T.copy(), src_pad, tgt.T.copy(), tgt_pad  # sequence-first tokens
    ours_mask = nn.Transformer.generate_square_subsequent_mask(6, dtype=dtype)
    ref_mask = torch.nn.Transformer.generate_square_subsequent_mask(6, dtype=TORCH_DTYPE[dtype])
    np.testing.assert_array_equal(ours_mask, ref_mask.numpy())
    with torch.no_grad():
        ref = tm(*(torch.from_numpy(a) for a in (src, tgt)), ref_mask, torch.from_numpy(src_pad),
                 torch.from_numpy(tgt_pad)).numpy()
    ours = om(src, tgt, ours_mask, src_pad, tgt_pad)
    assert ours.dtype == dtype and ours.shape == (6, 3, 17)
    # Padded target rows attend only to earlier real tokens, so every row is finite and comparable.
    np.testing.assert_allclose(ours, ref, **TOL[dtype])


def _greedy(model: Any, src: Any, steps: int, cat: Any, mask: Any) -> list[list[int]]:
    n = src.shape[1]
    src_pad = (src == 0).T
    tgt = src[:1] * 0 + 1  # BOS = 1, shape (1, N)
    for _ in range(steps):
        t = tgt.shape[0]
        logits = model(src, tgt, mask(t), src_pad, (tgt == 0).T)
        nxt = logits[-1].argmax(-1)[None, :]
        tgt = cat(tgt, nxt)
    return [[int(tgt[i, j]) for i in range(tgt.shape[0])] for j in range(n)]


def test_seq2seq_greedy_decoding_matches_torch() -> None:
    om, tm = _pair(build_seq2seq, np.float64)
    rng = np.random.default_rng(3)
    src, _ = _tokens(rng, 2, 7, 19, [7, 5])
    src = src.T.copy()
    with torch.no_grad():
        ref = _greedy(tm, torch.from_numpy(src), 5, lambda a, b: torch.cat([a, b]),
                      lambda t: torch.nn.Transformer.generate_square_subsequent_mask(t, dtype=torch.float64))
    ours = _greedy(om, src, 5, lambda a, b: np.concatenate([a, b]),
                   lambda t: nn.Transformer.generate_square_subsequent_mask(t, dtype=np.float64))
    assert ours == ref


def test_generate_square_subsequent_mask() -> None:
    m = nn.Transformer.generate_square_subsequent_mask(4)
    assert m.dtype == np.float32 and m.shape == (4, 4)
    np.testing.assert_array_equal(m, torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    assert nn.Transformer.generate_square_subsequent_mask(0).shape == (0, 0)


def test_unbatched_matches_batched_row() -> None:
    # An unbatched (S, E) input equals row 0 of the batched computation.
    nngraph.manual_seed(4)
    model = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0).eval()
    rng = np.random.default_rng(4)
    src, tgt = rng.standard_normal((5, 8)).astype(np.float32), rng.standard_normal((3, 8)).astype(np.float32)
    mask = nn.Transformer.generate_square_subsequent_mask(3)
    one = model(src, tgt, tgt_mask=mask)
    batched = model(src[:, None], tgt[:, None], tgt_mask=mask)
    np.testing.assert_allclose(one, batched[:, 0], atol=1e-6)


def test_inputs_and_weights_unchanged() -> None:
    nngraph.manual_seed(5)
    model = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True), 2).eval()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    x = np.random.default_rng(5).standard_normal((2, 4, 8)).astype(np.float32)
    pad = np.array([[False, False, True, True], [False, False, False, False]])
    x0, pad0 = x.copy(), pad.copy()
    model(x, src_key_padding_mask=pad, mask=nn.Transformer.generate_square_subsequent_mask(4) < 0)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(pad, pad0)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_default_init_statistics() -> None:
    # MultiheadAttention: xavier_uniform_ in_proj, zero biases; Transformer re-initializes every matrix with
    # xavier_uniform_ (bound sqrt(6 / (fan_in + fan_out))).
    nngraph.manual_seed(6)
    mha = nn.MultiheadAttention(64, 4, add_bias_kv=True)
    bound = math.sqrt(6.0 / (64 + 3 * 64))
    assert np.abs(mha.in_proj_weight).max() <= bound and np.abs(mha.in_proj_weight).max() > 0.9 * bound
    assert not mha.in_proj_bias.any() and not mha.out_proj.bias.any()
    assert mha.bias_k.shape == (1, 1, 64) and 0.1 < mha.bias_k.std() < 0.3  # xavier_normal_: std sqrt(2/65)
    t = nn.Transformer(32, 4, 1, 1, 64)
    w = t.encoder.layers[0].linear1.weight
    assert np.abs(w).max() <= math.sqrt(6.0 / (32 + 64))
    assert t.encoder.layers[0].linear1.weight.dtype == np.float32
    assert nn.Transformer(16, 2, 1, 1, 32, dtype=np.float64).decoder.norm.weight.dtype == np.float64
