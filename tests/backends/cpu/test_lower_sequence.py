"""Compiled sequence ops (matmul, einsum, attention, recurrences) against eager execution (the numpy references).

Each test compiles one graph holding many variants (one output each): every distinct graph and kernel signature
costs a compile, so the variants of a family share one module per dtype."""
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
           "attention_average_heads", "attention_mask_bias", "rnn_layer", "lstm_layer", "gru_layer", "rnn_cell",
           "lstm_cell", "gru_cell"}


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
EINSUMS = ["ij,jk->ik", "ij,kj->ik", "bij,bjk->bik", "bhqd,bhkd->bhqk", "bqhd,bkhd->bhqk", "i,i->", "ij,j->i",
           "...ij,...jk->...ik", "bij,bjk->bki", "bij,bjk->ibk", "ij,jk", "bn,anm->bam", "ijk,jkl->il"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_and_einsum(dtype):
    rng = np.random.default_rng(0)

    def fn(a, b, c, v, w, q, k, x3, y3, p, r, big_a, big_b, i, j):
        mm = (a @ b,                      # 2-D, odd sizes
              c @ b,                      # batch (2, 3) with a shared B: folded into the rows
              c @ c.transpose(0, 1, 3, 2)[:, :, :, :5],  # batched, transposed + sliced B
              a[None, None] @ c.transpose(0, 1, 3, 2)[..., :53, :],  # broadcast A against batched B
              v @ b, a @ w, v @ v,         # 1-D operands (vector, scalar results)
              a[:, :0] @ b[:0],            # K = 0: zeros
              a[:0] @ b,                   # M = 0
              a.T[:7] @ a[:, :1],          # transposed A, N = 1
              w @ a.T,                     # (53,) @ (53, 37)
              big_a @ big_b,               # threads over the batch
              np.maximum(big_a[0] @ big_b[1], 0),  # one item split over threads, fused epilogue
              i @ j)                       # integer matmul: host
        ins = {"ij,jk->ik": (a[:5, :7], b[:7, :6]), "ij,kj->ik": (a[:5, :7], b[:6, :7]), "bij,bjk->bik": (x3, y3),
               "bhqd,bhkd->bhqk": (q, k), "bqhd,bkhd->bhqk": (q.transpose(0, 2, 1, 3), k.transpose(0, 2, 1, 3)),
               "i,i->": (a[0], a[1]), "ij,j->i": (a, w), "...ij,...jk->...ik": (x3, y3),
               "bij,bjk->bki": (x3, y3), "bij,bjk->ibk": (x3, y3), "ij,jk": (a, b),
               "bn,anm->bam": (a[:, :4], p), "ijk,jkl->il": (x3, r)}
        es = tuple(linalg_ops.einsum(*ins[e], equation=e) for e in EINSUMS)
        return mm + es + (linalg_ops.einsum(a[:5, :5], b[:5], equation="ii,ij->j"),)  # repeated index: decompose_einsum

    inputs = [rand(rng, s, dtype) for s in [(37, 53), (53, 41), (2, 3, 11, 53), (53,), (53,), (2, 3, 9, 8),
                                            (2, 3, 10, 8), (3, 4, 7), (3, 7, 2), (3, 4, 6), (4, 7, 5),
                                            (4, 67, 130), (4, 130, 150)]]
    inputs += [rng.integers(-5, 5, (3, 4)), rng.integers(-5, 5, (4, 2))]
    check(Fn(fn), *inputs, tol=2e-4 if dtype == np.float32 else None, host=["matmul"])


# --------------------------------------------------------------------------------------------- attention
@pytest.mark.parametrize("dtype", DTYPES)
def test_attention(dtype):
    rng = np.random.default_rng(3)
    B, H, L, S, E, Ev = 2, 3, 37, 45, 16, 24
    sdpa = F.scaled_dot_product_attention

    def fn(q, k, v, bmask, fmask, kpm, qt, kt, vt, kg, vg, q6, kg2, vg2, wq, wk, wv, wmask, wfmask):
        out = (sdpa(q, k, v),
               sdpa(q, k[:, :, :L], v[:, :, :L, :16], is_causal=True, scale=0.3),
               sdpa(q, k, v, attn_mask=bmask),           # row 3 fully masked: zeros
               sdpa(q, k, v, attn_mask=fmask),           # float mask with a -inf row
               sdpa(q, k, v, attn_mask=kpm),             # (B, 1, 1, S) padding mask
               # (B, L, H, E) layouts viewed as (B, H, L, E): strided operands, no copies
               sdpa(qt.transpose(0, 2, 1, 3), kt.transpose(0, 2, 1, 3), vt.transpose(0, 2, 1, 3)),
               sdpa(q[0], k[0], v[0]),                   # no batch dim
               sdpa(q[:, :, :1], k, v),                  # one query
               sdpa(q[:, :, :, :0], k[:, :, :, :0], v, scale=1.0),  # E = 0
               sdpa(q[:, :, :, :3], k[:, :, :0, :3], v[:, :, :0]),  # S = 0: zeros
               sdpa(q, kg, vg, enable_gqa=True),         # one k/v head, broadcast
               sdpa(q6, kg2, vg2, enable_gqa=True),      # 3 query heads per k/v head
               sdpa(q6[:, :, :1], kg2, vg2, enable_gqa=True))
        w_nan = attn_ops.attention_weights(wq, wk, wmask, scale=0.35, is_causal=False, enable_gqa=False,
                                           masked_rows="nan")
        w_zero = attn_ops.attention_weights(wq, wk, wfmask, scale=0.35, is_causal=False, enable_gqa=False)
        w_causal = attn_ops.attention_weights(wq, wk, None, scale=0.2, is_causal=True, enable_gqa=False)
        ctx = attn_ops.attention_context(w_zero, wv, enable_gqa=True)
        avg = attn_ops.attention_average_heads(w_causal)
        bias = attn_ops.attention_mask_bias(wmask.T, dtype=np.dtype(dtype).name)  # strided bool input
        return out + (w_nan, w_zero, w_causal, ctx, avg, bias)

    q, k, v = rand(rng, (B, H, L, E), dtype), rand(rng, (B, H, S, E), dtype), rand(rng, (B, H, S, Ev), dtype)
    bmask = rng.random((L, S)) > 0.4
    bmask[3] = False
    fmask = rand(rng, (1, H, L, S), dtype)
    fmask[0, 1, 5] = -np.inf
    kpm = rng.random((B, 1, 1, S)) > 0.3
    qt, kt, vt = rand(rng, (B, L, H, E), dtype), rand(rng, (B, S, H, E), dtype), rand(rng, (B, S, H, Ev), dtype)
    kg, vg = rand(rng, (B, 1, S, E), dtype), rand(rng, (B, 1, S, Ev), dtype)
    q6, kg2, vg2 = rand(rng, (B, 6, L, E), dtype), rand(rng, (B, 2, S, E), dtype), rand(rng, (B, 2, S, Ev), dtype)
    wq, wk, wv = rand(rng, (2, 2, 19, 8), dtype), rand(rng, (2, 2, 23, 8), dtype), rand(rng, (2, 1, 23, 5), dtype)
    wq[0, 1, 4, 0] = np.nan  # a NaN score row
    wmask = rng.random((19, 23)) > 0.5
    wmask[2] = False
    wfmask = np.where(wmask, 0.0, -np.inf).astype(dtype)
    check(Fn(fn), q, k, v, bmask, fmask, kpm, qt, kt, vt, kg, vg, q6, kg2, vg2, wq, wk, wv, wmask, wfmask)


# --------------------------------------------------------------------------------------------- recurrences
class Layer(nn.Module):
    """One recurrence op with its recurrent weights as parameters; ``xw`` (the input projection) is an input."""

    def __init__(self, kind, hidden, dtype, proj=0, bias=True, nonlinearity="tanh", reverse=False, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        ng = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
        p = proj or hidden
        self.kind, self.hidden, self.nonlinearity, self.reverse = kind, hidden, nonlinearity, reverse
        self.w_hh = nn.Parameter(rand(rng, (ng * hidden, p), dtype, 1.3 / np.sqrt(p)))  # pre-activations ~ 1
        self.b_hh = nn.Parameter(rand(rng, (ng * hidden,), dtype)) if bias else None
        self.w_hr = nn.Parameter(rand(rng, (p, hidden), dtype, 1.3 / np.sqrt(hidden))) if proj else None

    def forward(self, xw, h0=None, c0=None):
        if self.kind == "lstm":
            return rnn_ops.lstm_layer(xw, self.w_hh, self.b_hh, self.w_hr, h0, c0, reverse=self.reverse)
        if self.kind == "gru":
            return rnn_ops.gru_layer(xw, self.w_hh, self.b_hh, h0, reverse=self.reverse)
        return rnn_ops.rnn_layer(xw, self.w_hh, self.b_hh, h0, nonlinearity=self.nonlinearity, reverse=self.reverse)


class Recurrences(nn.Module):
    """Recurrence ops (layers with given ``xw``, cells, layers with weights given as inputs) in one graph."""

    def __init__(self, layers, strided, dtype):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.strided = strided
        self.lstm, self.gru = nn.LSTMCell(11, 20).to(dtype), nn.GRUCell(11, 20).to(dtype)
        self.rnn_t = nn.RNNCell(11, 20).to(dtype)
        self.rnn_r = nn.RNNCell(11, 20, bias=False, nonlinearity="relu").to(dtype)

    def forward(self, x, h, c, xu, xw_in, w_in, b_in, xw2_in, w2_in, *args):
        outs = []
        for layer, strided, (xw, h0, c0) in zip(self.layers, self.strided, zip(args[0::3], args[1::3], args[2::3])):
            if strided:  # batch-major input viewed time-major: the kernel reads a dense copy
                xw = xw.transpose(1, 0, 2)
            outs.extend(layer(xw, h0, c0 if layer.kind == "lstm" else None))
        outs.extend(self.lstm(x, (h, c)) + self.lstm(x))
        outs.extend([self.gru(x, h), self.gru(xu), self.rnn_t(x, h), self.rnn_r(x)])
        # recurrent weights that are not graph weights: packed by the kernel per call
        outs.extend(rnn_ops.gru_layer(xw_in, w_in, b_in, None, reverse=False))
        outs.extend(rnn_ops.lstm_layer(xw2_in, w2_in, None, None, None, None, reverse=True))
        return tuple(outs)


@pytest.mark.parametrize("dtype", DTYPES)
def test_recurrences(dtype):
    rng = np.random.default_rng(6)
    nngraph.manual_seed(1)
    cases = [  # (layer, T, N, strided xw, initial states)
        (Layer("rnn", 37, dtype), 5, 3, False, True),
        (Layer("rnn", 20, dtype, nonlinearity="relu", reverse=True, bias=False), 4, 1, True, False),
        (Layer("lstm", 37, dtype), 5, 3, False, True),
        (Layer("lstm", 20, dtype, reverse=True, bias=False), 6, 9, True, False),   # N > MR: two row panels
        (Layer("lstm", 21, dtype, proj=13), 4, 9, False, True),                   # projection
        (Layer("gru", 37, dtype), 5, 3, False, True),
        (Layer("gru", 70, dtype, reverse=True), 5, 17, False, False),             # threads take row groups
        (Layer("lstm", 70, dtype, proj=40), 5, 17, True, True),                   # same, with the projection
        (Layer("rnn", 1420, dtype, seed=1), 2, 4, False, True),                   # threads split every step
        (Layer("lstm", 1024, dtype, proj=512), 2, 4, False, True),                # same, 2 phases per step
        (Layer("lstm", 5, dtype), 3, 1, False, True),                             # hidden < one vector
        (Layer("gru", 6, dtype), 0, 2, False, True),                              # T = 0: the states pass through
        (Layer("rnn", 6, dtype), 3, 0, False, False),                             # N = 0
    ]
    model = Recurrences([c[0] for c in cases], [c[3] for c in cases], dtype)
    xw_in = rand(rng, (4, 3, 3 * 10), dtype)
    xw_in[1, 0, 2] = np.nan   # NaN and inf propagate like numpy
    xw_in[2, 1, 5] = np.inf
    xw2_in = rand(rng, (3, 2, 4 * 9), dtype, 30)  # saturating gates
    xw2_in[0, 1, 0] = -np.inf
    inputs = [rand(rng, (5, 11), dtype), rand(rng, (5, 20), dtype), rand(rng, (5, 20), dtype),
              rand(rng, (11,), dtype), xw_in, rand(rng, (30, 10), dtype, 0.3), rand(rng, (30,), dtype), xw2_in,
              rand(rng, (36, 9), dtype, 0.3)]
    for layer, t, n, strided, states in cases:
        p = layer.w_hh.shape[1]
        inputs += [rand(rng, (n, t, layer.w_hh.shape[0]) if strided else (t, n, layer.w_hh.shape[0]), dtype),
                   rand(rng, (n, p), dtype) if states else None,
                   rand(rng, (n, layer.hidden), dtype) if states else None]
    c = check(model, *inputs)
    # changed weights are packed again
    for layer in model.layers:
        layer.w_hh[...] = layer.w_hh * 0.5
    c.refresh()
    for g, r in zip(c(*inputs), model(*inputs)):
        np.testing.assert_allclose(g, r, rtol=tol_of(dtype), atol=tol_of(dtype))


# --------------------------------------------------------------------------------------------- modules
def test_modules_end_to_end():
    """nn.MultiheadAttention (attention weights and context), nn.LSTM with projection, two layers, both directions,
    batch first, nn.GRU: no sequence op runs on the host."""
    rng = np.random.default_rng(9)
    nngraph.manual_seed(2)
    mha = nn.MultiheadAttention(32, 4)
    lstm = nn.LSTM(10, 24, num_layers=2, bidirectional=True, proj_size=12, batch_first=True)
    gru = nn.GRU(10, 16)

    def fn(x, m, s):
        a, w = mha(x, x, x, key_padding_mask=m)                       # need_weights: 'nan' rows, head average
        a2, _ = mha(x, x, x, key_padding_mask=m, need_weights=False)  # fused attention
        out, (h, c) = lstm(s)
        out2, h2 = gru(s.transpose(1, 0, 2))
        return a, w, a2, out, h, c, out2, h2

    x = rand(rng, (13, 2, 32), np.float32)
    m = rng.random((2, 13)) > 0.8
    s = rand(rng, (3, 7, 10), np.float32)
    check(Fn(fn), x, m, s, tol=1e-4, host=None)


# --------------------------------------------------------------------------------------------- benchmark
def _bench(reps: int = 30) -> None:
    """Compiled vs eager (numpy references) on BERT-tiny attention sizes and LSTM/GRU layers; minimum times.
    ``PYTHONPATH=. python tests/backends/cpu/test_lower_sequence.py`` (set NUMBA_NUM_THREADS / OPENBLAS_NUM_THREADS
    to compare at equal thread counts)."""
    import time

    def bench(name, model, *inputs):
        model.eval()
        c = nngraph.compile(model)
        c(*inputs)
        tc, te = [], []
        for fn, ts in ((c, tc), (model, te)):  # not interleaved: BLAS and Numba thread pools spin after a call
            fn(*inputs)
            for _ in range(reps):
                t = time.perf_counter()
                fn(*inputs)
                ts.append(time.perf_counter() - t)
        print(f"{name:44s} compiled {min(tc) * 1e6:9.1f} us   numpy {min(te) * 1e6:9.1f} us   "
              f"x{min(te) / min(tc):5.2f}   host steps {host_ops(c)}")

    rng = np.random.default_rng(0)
    q, k, v = (rand(rng, (1, 2, 128, 64), np.float32) for _ in range(3))
    bench("sdpa (1, 2, 128, 64)", Fn(lambda q, k, v: F.scaled_dot_product_attention(q, k, v)), q, k, v)
    bench("sdpa (1, 2, 128, 64) causal",
          Fn(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)), q, k, v)
    bench("matmul q @ k^T (1, 2, 128, 64)", Fn(lambda q, k: q @ k.transpose(0, 1, 3, 2)), q, k)
    bench("einsum bhqd,bhkd->bhqk", Fn(lambda q, k: linalg_ops.einsum(q, k, equation="bhqd,bhkd->bhqk")), q, k)
    nngraph.manual_seed(0)
    x = rand(rng, (1, 128, 128), np.float32)
    bench("TransformerEncoderLayer(128, 2, 512) seq 128",
          nn.TransformerEncoderLayer(128, 2, 512, dropout=0.0, batch_first=True), x)
    mha = nn.MultiheadAttention(128, 2, batch_first=True)
    bench("MultiheadAttention(128, 2) need_weights", Fn(lambda x: mha(x, x, x)), x)
    for batch in (1, 16):
        nngraph.manual_seed(0)
        lstm, gru = nn.LSTM(256, 256), nn.GRU(256, 256)
        x = rand(rng, (64, batch, 256), np.float32)
        xw = rand(rng, (64, batch, 1024), np.float32)
        bench(f"nn.LSTM(256, 256) seq 64 batch {batch}", lstm, x)
        bench(f"lstm_layer op H 256 T 64 N {batch}", Fn(lambda xw: rnn_ops.lstm_layer(
            xw, lstm.weight_hh_l0, lstm.bias_hh_l0, None, None, None, reverse=False)), xw)
        bench(f"nn.GRU(256, 256) seq 64 batch {batch}", gru, x)


if __name__ == "__main__":
    _bench()


@pytest.mark.parametrize("batch_first,shape", [(True, (1, 5, 16)), (False, (5, 2, 16))])
def test_attention_writes_the_merged_heads_layout(batch_first, shape):
    """SDPA's output is laid out as its transposing user wants (``Emitter.out_for_transpose``): MultiheadAttention's
    head merge ``out.transpose(2, 0, 1, 3).reshape(L, N, E)`` is a view, and the batch-1 / sequence-first encoder
    layer copies nothing."""
    layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0, batch_first=batch_first).eval()
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    compiled = nngraph.compile(layer)
    np.testing.assert_allclose(compiled(x), layer(x), rtol=1e-5, atol=1e-5)
    source = compiled.specializations[0].executable.source
    assert "copy_flat(" not in source and "copy_strided(" not in source, source
