"""Compiled sequence ops (matmul, einsum, attention, recurrences) against eager execution (the numpy references).

Several variants share one module (one compiled graph) where they can: every distinct graph costs a compile."""
from __future__ import annotations

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
import nngraph.nn.functional as F
from nngraph.ops import attention as attn_ops
from nngraph.ops import linalg as linalg_ops
from nngraph.ops import rnn as rnn_ops

DTYPES = [np.float32, np.float64]
SEQ_OPS = {"matmul", "einsum", "scaled_dot_product_attention", "attention_weights", "attention_context",
           "rnn_layer", "lstm_layer", "gru_layer", "rnn_cell", "lstm_cell", "gru_cell"}


def tol_of(dtype):
    return 2e-5 if np.dtype(dtype) == np.float32 else 1e-11


def host_ops(c):
    exe = c.specializations[0].executable
    return [s.host.target for s in exe.steps if not callable(s)]


def check(model, *inputs, tol=None, host=()):
    """Compiled == eager (NaN positions included); exactly the ``host`` ops ran on the host (None: any ops but the
    sequence ops)."""
    model.eval()
    c = nngraph.compile(model)
    got = c(*inputs)
    ref = model(*inputs)
    got = got if isinstance(got, tuple) else (got,)
    ref = ref if isinstance(ref, tuple) else (ref,)
    assert len(got) == len(ref)
    for i, (g, r) in enumerate(zip(got, ref)):
        r = np.asarray(r)
        t = tol or tol_of(r.dtype)
        assert g.shape == r.shape and g.dtype == r.dtype, (i, g.shape, r.shape, g.dtype, r.dtype)
        np.testing.assert_allclose(g, r, rtol=t, atol=t, err_msg=f"output {i}")
    if host is None:
        assert not SEQ_OPS & set(host_ops(c)), host_ops(c)
    else:
        assert sorted(host_ops(c)) == sorted(host), host_ops(c)
    return c


def rand(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


class Fn(nn.Module):
    """A module around a function of its inputs."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


# --------------------------------------------------------------------------------------------- matmul / einsum
@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_variants(dtype):
    rng = np.random.default_rng(0)

    def fn(a, b, c, v, w):
        return (a @ b,                      # 2-D, odd sizes
                c @ b,                      # batch (2, 3) with a shared B: folded into the rows
                c @ c.transpose(0, 1, 3, 2)[:, :, :, :5],  # batched, transposed + sliced B
                a[None, None] @ c.transpose(0, 1, 3, 2)[..., :53, :],  # broadcast A against batched B
                v @ b, a @ w, v @ v,         # 1-D operands (vector, scalar results)
                a[:, :0] @ b[:0],            # K = 0: zeros
                a[:0] @ b,                   # M = 0
                a.T[:7] @ a[:, :1],          # transposed A, N = 1
                w @ a.T)                     # (53,) @ (53, 37)

    a = rand(rng, (37, 53), dtype)
    b = rand(rng, (53, 41), dtype)
    c = rand(rng, (2, 3, 11, 53), dtype)
    v = rand(rng, (53,), dtype)
    w = rand(rng, (53,), dtype)
    check(Fn(fn), a, b, c, v, w)


def test_matmul_large_parallel_and_fallbacks():
    rng = np.random.default_rng(1)

    def fn(a, b, x, y, i, j):
        return a @ b, np.maximum(x @ y, 0), i @ j

    a = rand(rng, (4, 67, 130), np.float32)   # parallel over the batch
    b = rand(rng, (4, 130, 150), np.float32)
    x = rand(rng, (300, 200), np.float64)     # one item, split over threads, with a fused epilogue
    y = rand(rng, (200, 150), np.float64)
    i = rng.integers(-5, 5, (3, 4))           # integer matmul: host
    j = rng.integers(-5, 5, (4, 2))
    check(Fn(fn), a, b, x, y, i, j, tol=1e-4, host=["matmul"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_einsum_patterns(dtype):
    rng = np.random.default_rng(2)
    eqs = ["ij,jk->ik", "ij,kj->ik", "bij,bjk->bik", "bhqd,bhkd->bhqk", "bqhd,bkhd->bhqk", "i,i->", "ij,j->i",
           "...ij,...jk->...ik", "bij,bjk->bki", "bij,bjk->ibk", "ij,jk", "bn,anm->bam", "ijk,jkl->il"]

    def fn(a, b, q, k, x3, y3, p, r):
        ins = {"ij,jk->ik": (a, b), "ij,kj->ik": (a, b.T), "bij,bjk->bik": (x3, y3),
               "bhqd,bhkd->bhqk": (q, k), "bqhd,bkhd->bhqk": (q.transpose(0, 2, 1, 3), k.transpose(0, 2, 1, 3)),
               "i,i->": (a[0], a[1]), "ij,j->i": (a, b[:, 0]), "...ij,...jk->...ik": (x3, y3),
               "bij,bjk->bki": (x3, y3), "bij,bjk->ibk": (x3, y3), "ij,jk": (a, b),
               "bn,anm->bam": (a[:, :4], p), "ijk,jkl->il": (x3, r)}
        return tuple(linalg_ops.einsum(*ins[e], equation=e) for e in eqs) + (
            linalg_ops.einsum(a[:5, :5], b[:5], equation="ii,ij->j"),)  # repeated index: host

    a = rand(rng, (5, 7), dtype)
    b = rand(rng, (7, 6), dtype)
    q = rand(rng, (2, 3, 9, 8), dtype)
    k = rand(rng, (2, 3, 10, 8), dtype)
    x3 = rand(rng, (3, 4, 7), dtype)
    y3 = rand(rng, (3, 7, 2), dtype)
    p = rand(rng, (3, 4, 6), dtype)
    r = rand(rng, (4, 7, 5), dtype)
    check(Fn(fn), a, b, q, k, x3, y3, p, r, host=["einsum"])


# --------------------------------------------------------------------------------------------- attention
@pytest.mark.parametrize("dtype", DTYPES)
def test_sdpa_variants(dtype):
    rng = np.random.default_rng(3)
    B, H, L, S, E, Ev = 2, 3, 37, 45, 16, 24

    def fn(q, k, v, bmask, fmask, kpm, qt, kt, vt, kg, vg):
        return (F.scaled_dot_product_attention(q, k, v),
                F.scaled_dot_product_attention(q, k[:, :, :L], v[:, :, :L, :16], is_causal=True, scale=0.3),
                F.scaled_dot_product_attention(q, k, v, attn_mask=bmask),          # row 3 fully masked
                F.scaled_dot_product_attention(q, k, v, attn_mask=fmask),          # float mask, a -inf row
                F.scaled_dot_product_attention(q, k, v, attn_mask=kpm),            # (B, 1, 1, S) padding mask
                # (B, L, H, E) layouts viewed as (B, H, L, E): strided operands, no copies
                F.scaled_dot_product_attention(qt.transpose(0, 2, 1, 3), kt.transpose(0, 2, 1, 3),
                                               vt.transpose(0, 2, 1, 3)),
                F.scaled_dot_product_attention(q[0], k[0], v[0]),                  # no batch dim
                F.scaled_dot_product_attention(q[:, :, :1], k, v),                 # one query
                F.scaled_dot_product_attention(q[:, :, :, :0], k[:, :, :, :0], v, scale=1.0),  # E = 0
                F.scaled_dot_product_attention(q, kg, vg, enable_gqa=True))        # k/v heads broadcast

    q = rand(rng, (B, H, L, E), dtype)
    k = rand(rng, (B, H, S, E), dtype)
    v = rand(rng, (B, H, S, Ev), dtype)
    bmask = rng.random((L, S)) > 0.4
    bmask[3] = False
    fmask = rand(rng, (1, H, L, S), dtype)
    fmask[0, 1, 5] = -np.inf
    kpm = rng.random((B, 1, 1, S)) > 0.3
    qt = rand(rng, (B, L, H, E), dtype)
    kt = rand(rng, (B, S, H, E), dtype)
    vt = rand(rng, (B, S, H, Ev), dtype)
    kg = rand(rng, (B, 1, S, E), dtype)  # one k/v head shared by the query heads
    vg = rand(rng, (B, 1, S, Ev), dtype)
    q6 = rand(rng, (B, 6, L, E), dtype)
    check(Fn(fn), q, k, v, bmask, fmask, kpm, qt, kt, vt, kg, vg)
    # grouped-query attention with 2 k/v heads for 6 query heads
    kg2, vg2 = rand(rng, (B, 2, S, E), dtype), rand(rng, (B, 2, S, Ev), dtype)
    check(Fn(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True)), q6, kg2, vg2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_attention_weights_and_context(dtype):
    rng = np.random.default_rng(4)
    B, H, L, S, E = 2, 2, 19, 23, 8
    q, k = rand(rng, (B, H, L, E), dtype), rand(rng, (B, H, S, E), dtype)
    v = rand(rng, (B, 1, S, 5), dtype)
    mask = rng.random((L, S)) > 0.5
    mask[2] = False
    fmask = np.where(mask, 0.0, -np.inf).astype(dtype)
    q[0, 1, 4, 0] = np.nan  # a NaN score row

    def fn(q, k, v, mask, fmask):
        w_nan = attn_ops.attention_weights(q, k, mask, scale=0.35, is_causal=False, enable_gqa=False,
                                           masked_rows="nan")
        w_zero = attn_ops.attention_weights(q, k, fmask, scale=0.35, is_causal=False, enable_gqa=False)
        w_causal = attn_ops.attention_weights(q, k, None, scale=0.2, is_causal=True, enable_gqa=False)
        ctx = attn_ops.attention_context(w_zero, v, enable_gqa=True)
        return w_nan, w_zero, w_causal, ctx

    check(Fn(fn), q, k, v, mask, fmask)


def test_multihead_attention_module():
    rng = np.random.default_rng(5)
    nngraph.manual_seed(0)
    mha = nn.MultiheadAttention(32, 4)
    x = rand(rng, (13, 2, 32), np.float32)
    kpm = rng.random((2, 13)) > 0.8
    # need_weights=True: attention_weights ('nan' rows) + attention_context; the head average and the bool ->
    # float mask conversion are not sequence ops
    check(Fn(lambda x, m: mha(x, x, x, key_padding_mask=m)), x, kpm, tol=1e-5, host=None)
    check(Fn(lambda x, m: mha(x, x, x, key_padding_mask=m, need_weights=False)[0]), x, kpm, tol=1e-5, host=None)


# --------------------------------------------------------------------------------------------- recurrences
class Layer(nn.Module):
    """One recurrence op with its recurrent weights as parameters; ``xw`` (the input projection) is an input."""

    def __init__(self, kind, hidden, dtype, proj=0, bias=True, nonlinearity="tanh", reverse=False, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        ng = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
        p = proj or hidden
        self.kind, self.nonlinearity, self.reverse = kind, nonlinearity, reverse
        self.w_hh = nn.Parameter(rand(rng, (ng * hidden, p), dtype, 0.3))
        self.b_hh = nn.Parameter(rand(rng, (ng * hidden,), dtype)) if bias else None
        self.w_hr = nn.Parameter(rand(rng, (p, hidden), dtype, 0.3)) if proj else None

    def forward(self, xw, h0=None, c0=None):
        if self.kind == "lstm":
            return rnn_ops.lstm_layer(xw, self.w_hh, self.b_hh, self.w_hr, h0, c0, reverse=self.reverse)
        if self.kind == "gru":
            return rnn_ops.gru_layer(xw, self.w_hh, self.b_hh, h0, reverse=self.reverse)
        return rnn_ops.rnn_layer(xw, self.w_hh, self.b_hh, h0, nonlinearity=self.nonlinearity, reverse=self.reverse)


class Layers(nn.Module):
    """Several recurrence ops in one graph."""

    def __init__(self, layers, strided):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.strided = strided

    def forward(self, *args):
        outs = []
        for layer, strided, (xw, h0, c0) in zip(self.layers, self.strided, zip(args[0::3], args[1::3], args[2::3])):
            if strided:  # batch-major input viewed time-major: the kernel reads a dense copy
                xw = xw.transpose(1, 0, 2)
            outs.extend(layer(xw, h0, c0 if layer.kind == "lstm" else None))
        return tuple(outs)


def _layer_inputs(rng, layer, t, n, dtype, strided, states):
    hidden = layer.w_hh.shape[0] // {"rnn": 1, "lstm": 4, "gru": 3}[layer.kind]
    p = layer.w_hh.shape[1]
    xw = rand(rng, (n, t, layer.w_hh.shape[0]) if strided else (t, n, layer.w_hh.shape[0]), dtype)
    h0 = rand(rng, (n, p), dtype) if states else None
    c0 = rand(rng, (n, hidden), dtype) if states else None
    return [xw, h0, c0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_recurrent_layers(dtype):
    rng = np.random.default_rng(6)
    cases = [  # (layer, T, N, strided xw, initial states)
        (Layer("rnn", 37, dtype), 5, 3, False, True),
        (Layer("rnn", 20, dtype, nonlinearity="relu", reverse=True, bias=False), 4, 1, True, False),
        (Layer("lstm", 37, dtype), 5, 3, False, True),
        (Layer("lstm", 20, dtype, reverse=True, bias=False), 6, 9, True, False),   # N > MR: two row panels
        (Layer("lstm", 21, dtype, proj=13), 4, 9, False, True),                   # projection
        (Layer("gru", 37, dtype), 5, 3, False, True),
        (Layer("gru", 70, dtype, reverse=True), 3, 17, False, False),             # per-step threads
        (Layer("lstm", 70, dtype, proj=40), 3, 17, True, True),                   # threads, 2 phases per step
        (Layer("lstm", 5, dtype), 3, 1, False, True),                             # hidden < one vector
        (Layer("gru", 6, dtype), 0, 2, False, True),                              # T = 0: the states pass through
        (Layer("rnn", 6, dtype), 3, 0, False, False),                             # N = 0
    ]
    model = Layers([c[0] for c in cases], [c[3] for c in cases])
    inputs = []
    for layer, t, n, strided, states in cases:
        inputs += _layer_inputs(rng, layer, t, n, dtype, strided, states)
    c = check(model, *inputs)
    # new weights are repacked
    for layer in model.layers:
        layer.w_hh[...] = layer.w_hh * 0.5
    c.refresh()
    got, ref = c(*inputs), model(*inputs)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=tol_of(dtype), atol=tol_of(dtype))


def test_recurrent_weights_as_inputs_and_nonfinite():
    """Recurrent weights that are not graph weights are packed per call; NaN/inf propagate like numpy."""
    rng = np.random.default_rng(7)

    def fn(xw, w, b, xw2, w2):
        return rnn_ops.gru_layer(xw, w, b, None, reverse=False) + rnn_ops.lstm_layer(xw2, w2, None, None, None, None,
                                                                                       reverse=True)

    xw = rand(rng, (4, 3, 3 * 10), np.float32)
    xw[1, 0, 2] = np.nan
    xw[2, 1, 5] = np.inf
    xw2 = rand(rng, (3, 2, 4 * 9), np.float32) * 30  # saturating gates
    xw2[0, 1, 0] = -np.inf
    check(Fn(fn), xw, rand(rng, (30, 10), np.float32, 0.3), rand(rng, (30,), np.float32), xw2,
          rand(rng, (36, 9), np.float32, 0.3))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cells(dtype):
    rng = np.random.default_rng(8)
    nngraph.manual_seed(1)
    lstm, gru = nn.LSTMCell(11, 20).to(dtype), nn.GRUCell(11, 20).to(dtype)
    rnn_t, rnn_r = nn.RNNCell(11, 20).to(dtype), nn.RNNCell(11, 20, bias=False, nonlinearity="relu").to(dtype)

    def fn(x, h, c, xu):
        return (lstm(x, (h, c)) + lstm(x) + (gru(x, h), gru(xu), rnn_t(x, h), rnn_r(x)))

    x = rand(rng, (5, 11), dtype)
    check(Fn(fn), x, rand(rng, (5, 20), dtype), rand(rng, (5, 20), dtype), rand(rng, (11,), dtype))


def test_lstm_gru_modules_end_to_end():
    rng = np.random.default_rng(9)
    nngraph.manual_seed(2)
    lstm = nn.LSTM(10, 24, num_layers=2, bidirectional=True, proj_size=12, batch_first=True)
    gru = nn.GRU(10, 16)
    x = rand(rng, (3, 7, 10), np.float32)

    def fn(x):
        out, (h, c) = lstm(x)
        out2, h2 = gru(x.transpose(1, 0, 2))
        return out, h, c, out2, h2

    model = Fn(fn).eval()
    c = nngraph.compile(model)
    got, ref = c(x), model(x)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-5)
    assert not SEQ_OPS & set(host_ops(c))
