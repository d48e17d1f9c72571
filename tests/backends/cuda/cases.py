"""Op cases shared by the simulator parity tests (``test_seq.py``) and the PTX compile check (``ptx_check.py``).

``OP_CASES``: (name, make) with ``make(dtype) -> (model, inputs)`` on tiny shapes; float32 and float64 both run."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

import nngraph.nn.functional as F
from nngraph import nn

try:
    from .helpers import Fn
except ImportError:  # run as a script by ptx_check.py
    from helpers import Fn  # type: ignore[no-redef]


def _r(rng: np.random.Generator, dtype: Any, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


def _module(m: nn.Module, dtype: Any) -> nn.Module:
    return m.double() if np.dtype(dtype) == np.float64 else m


def sdpa(dtype: Any) -> tuple:
    rng = np.random.default_rng(1)
    q, k, v = _r(rng, dtype, 1, 2, 3, 4), _r(rng, dtype, 1, 2, 5, 4), _r(rng, dtype, 1, 2, 5, 6)
    keep = rng.random((3, 5)) > 0.3
    keep[1] = False  # a fully masked query row gives zeros
    add = _r(rng, dtype, 1, 1, 3, 5)
    q6 = _r(rng, dtype, 1, 6, 3, 4)  # grouped-query attention: 3 query heads per k/v head

    def f(m, q, k, v, add, q6):  # noqa: ANN001, ANN202
        return (F.scaled_dot_product_attention(q, k, v),
                F.scaled_dot_product_attention(q, k, v, attn_mask=keep),
                F.scaled_dot_product_attention(q, k, v, attn_mask=add, scale=0.3),
                F.scaled_dot_product_attention(q, k[:, :, :3], v[:, :, :3], is_causal=True),
                F.scaled_dot_product_attention(q6, k, v, enable_gqa=True),
                F.scaled_dot_product_attention(q6.transpose(0, 2, 1, 3).transpose(0, 2, 1, 3), k[:, :, :3], v[:, :, :3],
                                               attn_mask=add[..., :3], is_causal=False, enable_gqa=True),
                F.scaled_dot_product_attention(q6, k[:, :, :3], v[:, :, :3], is_causal=True, enable_gqa=True))
    return Fn(f), (q, k, v, add, q6)


def mha(dtype: Any) -> tuple:
    rng = np.random.default_rng(2)
    a = _module(nn.MultiheadAttention(8, 2, batch_first=True), dtype)
    b = _module(nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True), dtype)
    x, y = _r(rng, dtype, 2, 4, 8), _r(rng, dtype, 3, 2, 8)
    pad = np.array([[False, False, True, False], [False, False, False, True]])

    def f(m, x, y, pad):  # noqa: ANN001, ANN202
        o1, w1 = m.a(x, x, x, key_padding_mask=pad)
        o2, w2 = m.b(y, y, y, average_attn_weights=False)
        return o1, w1, o2, w2
    return Fn(f, a=a, b=b), (x, y, pad)


def recurrent(dtype: Any) -> tuple:
    rng = np.random.default_rng(3)
    lstm = _module(nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True), dtype)
    gru = _module(nn.GRU(3, 4), dtype)
    rnn = _module(nn.RNN(3, 4, nonlinearity="relu"), dtype)
    proj = _module(nn.LSTM(3, 5, num_layers=2, proj_size=2, bidirectional=True), dtype)  # h_t = (o * tanh c_t) W_hr^T
    x, h0, c0 = _r(rng, dtype, 2, 4, 3), _r(rng, dtype, 4, 2, 5), _r(rng, dtype, 4, 2, 5)

    def f(m, x, h0, c0):  # noqa: ANN001, ANN202
        out, (h, c) = m.lstm(x, (h0, c0))
        g, gh = m.gru(x.transpose(1, 0, 2))
        r, rh = m.rnn(x.transpose(1, 0, 2), h0[:1, :, :4])
        p, (ph, pc) = m.proj(x.transpose(1, 0, 2))
        p2, (ph2, pc2) = m.proj(x.transpose(1, 0, 2), (h0[..., :2], c0))
        return out, h, c, g, gh, r, rh, p, ph, pc, p2, ph2, pc2
    return Fn(f, lstm=lstm, gru=gru, rnn=rnn, proj=proj), (x, h0, c0)


def pad(dtype: Any) -> tuple:
    rng = np.random.default_rng(4)

    def f(m, x):  # noqa: ANN001, ANN202
        return (F.pad(x, (1, 2, 0, 1), value=0.5), F.pad(x, (2, 1, 1, 2), mode="reflect"),
                F.pad(x, (1, 2, 2, 0), mode="replicate"), F.pad(x, (1, 2, 1, 1), mode="circular"),
                F.pad(x, (-1, 2, 1, -1)), F.pad(x[:, :, 0], (2, 1), mode="reflect"))
    return Fn(f), (_r(rng, dtype, 2, 2, 4, 5),)


def conv_transpose(dtype: Any) -> tuple:
    rng = np.random.default_rng(5)
    a = _module(nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=1), dtype)
    b = _module(nn.ConvTranspose2d(3, 2, (2, 3), stride=(2, 1), padding=(0, 1), dilation=(1, 2), bias=False), dtype)
    c = _module(nn.ConvTranspose1d(3, 4, 3, stride=3, padding=1), dtype)
    d = _module(nn.ConvTranspose3d(4, 4, (2, 3, 2), stride=(2, 1, 2), padding=(0, 1, 1), output_padding=(1, 0, 1),
                                   groups=2, dilation=(1, 2, 1)), dtype)
    x, y = _r(rng, dtype, 2, 4, 3, 4), _r(rng, dtype, 1, 3, 3, 3)
    z = _r(rng, dtype, 1, 4, 2, 3, 3)

    def f(m, x, y, z):  # noqa: ANN001, ANN202
        return F.relu(m.a(x)) + 1.0, m.b(y), m.c(y[:, :, 0]), m.d(z)
    return Fn(f, a=a, b=b, c=c, d=d), (x, y, z)


def max_pool_padding(dtype: Any) -> tuple:
    rng = np.random.default_rng(6)

    def f(m, x):  # noqa: ANN001, ANN202
        # dilation 3, padding 1 over 2 rows: the window's taps (rows -1 and 2) are both in the padding -> -inf
        return F.max_pool2d(x, (2, 1), stride=1, padding=(1, 0), dilation=(3, 1)), F.max_pool2d(x, 2, 1, 1) * 2.0
    return Fn(f), (_r(rng, dtype, 1, 2, 2, 3),)


def pool_indices(dtype: Any) -> tuple:
    rng = np.random.default_rng(13)
    x = _r(rng, dtype, 2, 2, 5, 6)
    x[0, 0, 1, 1] = np.nan
    x[1, 1, 2] = x[1, 1, 3]  # ties: the first maximum

    def f(m, x):  # noqa: ANN001, ANN202
        return (F.max_pool2d(x, 3, 2, 1, return_indices=True), F.max_pool2d(x, 2, 1, 1, dilation=2, ceil_mode=True,
                                                                             return_indices=True),
                F.adaptive_max_pool2d(x, (2, 4), return_indices=True), F.max_pool1d(x[:, :, 0], 3, 2, 1,
                                                                                    return_indices=True),
                F.max_pool2d(x[:, :, :2, :3], (2, 1), stride=1, padding=(1, 0), dilation=(3, 1), return_indices=True),
                F.max_pool3d(x[None], (2, 3, 2), (1, 2, 2), (1, 1, 0), dilation=(1, 1, 2), return_indices=True),
                F.adaptive_max_pool3d(x[None], (2, 2, 3), return_indices=True))
    return Fn(f), (x,)


def norms(dtype: Any) -> tuple:
    rng = np.random.default_rng(7)
    gn = _module(nn.GroupNorm(2, 4), dtype)
    gn.weight[...] = _r(rng, dtype, 4)
    inorm = _module(nn.InstanceNorm2d(4, affine=True), dtype)
    inorm.bias[...] = _r(rng, dtype, 4)
    rms = _module(nn.RMSNorm((3, 5)), dtype)
    rms.weight[...] = _r(rng, dtype, 3, 5)

    def f(m, x):  # noqa: ANN001, ANN202
        return m.gn(x), m.inorm(x), F.instance_norm(x), m.rms(x[:, 1:]), F.group_norm(x[:, :, 0], 4)
    return Fn(f, gn=gn, inorm=inorm, rms=rms), (_r(rng, dtype, 2, 4, 3, 5),)


def reductions(dtype: Any) -> tuple:
    rng = np.random.default_rng(8)
    x = _r(rng, dtype, 3, 4, 5)
    x[1, 2, 3] = np.nan
    x[2, 0] = 0

    def f(m, x):  # noqa: ANN001, ANN202
        return (np.var(x, axis=(0, 2)), np.std(x, axis=-1, ddof=1, keepdims=True), np.prod(x[:, :2], axis=1),
                np.any(x > 1.0, axis=0), np.all(x[2] == 0, axis=-1), np.all(x != 0),
                np.argmax(x, axis=1), np.argmin(x.transpose(2, 0, 1), axis=2), np.argmax(x[0]),
                # >= 64 elements into few outputs: a block per output (rows.reduce_block)
                np.mean(np.concatenate([x, x], axis=0)), np.max(np.concatenate([x, x], axis=0)),
                np.min(np.concatenate([x[0], x[2]] * 4, axis=0).T, axis=1), np.std(np.concatenate([x[2]] * 4), ddof=1))
    return Fn(f), (x,)


def gemm_paths(dtype: Any) -> tuple:
    """Small M takes the warp-per-output kernel (``gemm.use_gemv``), larger M the 64x64 tiles; both with a fused
    epilogue reading a residual."""
    rng = np.random.default_rng(9)
    fc = _module(nn.Linear(40, 9), dtype)

    def f(m, x, y, a, b):  # noqa: ANN001, ANN202
        return F.relu(m.fc(x)) + y, F.gelu(m.fc(x[0, :1])), a @ b, np.swapaxes(a, -1, -2)[:, :3] @ a
    return Fn(f, fc=fc), (_r(rng, dtype, 3, 7, 40), _r(rng, dtype, 3, 7, 9), _r(rng, dtype, 2, 18, 5),
                          _r(rng, dtype, 5, 6))


def resample(dtype: Any) -> tuple:
    rng = np.random.default_rng(10)

    def f(m, x):  # noqa: ANN001, ANN202
        return (F.interpolate(x, scale_factor=2, mode="nearest"), F.interpolate(x, size=(5, 7), mode="nearest-exact"),
                F.interpolate(x, size=(6, 3), mode="bilinear", align_corners=False),
                F.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=True),
                F.interpolate(x[:, :, 0], size=7, mode="linear"), F.interpolate(x[:, :, None], size=(2, 5, 6),
                                                                                 mode="trilinear"),
                F.interpolate(x, size=(5, 3), mode="bicubic", align_corners=False),
                F.interpolate(x, size=(2, 3), mode="bilinear", antialias=True),
                F.interpolate(x, size=(3, 2), mode="bicubic", antialias=True))
    return Fn(f), (_r(rng, dtype, 2, 3, 3, 4),)


def cells(dtype: Any) -> tuple:
    rng = np.random.default_rng(11)
    lc = _module(nn.LSTMCell(3, 4), dtype)
    gc = _module(nn.GRUCell(3, 4, bias=False), dtype)
    rc = _module(nn.RNNCell(3, 4), dtype)
    x, h, c = _r(rng, dtype, 2, 3), _r(rng, dtype, 2, 4), _r(rng, dtype, 2, 4)

    def f(m, x, h, c):  # noqa: ANN001, ANN202
        h1, c1 = m.lc(x, (h, c))
        return h1, c1, m.lc(x)[1], m.gc(x, h), m.rc(x), m.rc(x, h1)
    return Fn(f, lc=lc, gc=gc, rc=rc), (x, h, c)


def movement(dtype: Any) -> tuple:
    rng = np.random.default_rng(12)

    def f(m, x):  # noqa: ANN001, ANN202
        return (np.repeat(x, 2, axis=1), np.repeat(x[0, :, 1], 3), np.tile(x[0], (2, 1, 3)), np.tile(x[:, 0], 2),
                F.channel_shuffle(x, 2), F.pixel_unshuffle(x, 2), np.tile(x.transpose(0, 2, 1, 3), (1, 2, 1, 1, 1)))
    return Fn(f), (_r(rng, dtype, 2, 4, 2, 4),)


def three_d(dtype: Any) -> tuple:
    rng = np.random.default_rng(14)
    conv = _module(nn.Conv3d(4, 6, (2, 3, 3), stride=(1, 2, 1), padding=(1, 1, 0), dilation=(1, 1, 2), groups=2),
                   dtype)

    def f(m, x, y):  # noqa: ANN001, ANN202
        return (F.relu(m.conv(x)) + 1.0, F.max_pool3d(x, 2, 2, 1), F.avg_pool3d(x, 3, 2, 1, count_include_pad=False),
                F.avg_pool3d(x, 2, 1, 1), F.adaptive_avg_pool3d(x, (2, 3, 2)), F.adaptive_max_pool3d(x, 2), y)
    return Fn(f, conv=conv), (_r(rng, dtype, 2, 4, 3, 5, 6), _r(rng, dtype, 2))


def losses(dtype: Any) -> tuple:
    rng = np.random.default_rng(15)
    x, y = _r(rng, dtype, 3, 4), _r(rng, dtype, 3, 4)
    p = (rng.random((3, 4)) * 0.8 + 0.1).astype(dtype)

    def f(m, x, y, p):  # noqa: ANN001, ANN202
        return (F.mse_loss(x, y), F.l1_loss(x, y, reduction="sum"), F.smooth_l1_loss(x, y, beta=0.5),
                F.huber_loss(x, y, delta=0.7), F.kl_div(F.log_softmax(x, dim=1), p, reduction="batchmean"),
                F.binary_cross_entropy_with_logits(x, p, pos_weight=p[0]), F.soft_margin_loss(x, np.sign(y)))
    return Fn(f), (x, y, p)


def class_losses(dtype: Any) -> tuple:
    rng = np.random.default_rng(43)
    x, xs = _r(rng, dtype, 4, 5), _r(rng, dtype, 2, 5, 3)
    t, ts = np.array([1, 4, -100, 0]), np.array([[0, 2, 4], [3, -100, 1]])
    w = (rng.random(5) + 0.5).astype(dtype)

    def f(m, x, xs, t, ts, w):  # noqa: ANN001, ANN202
        lp = F.log_softmax(x, dim=1)
        lp3 = lp[:3]
        return (F.nll_loss(lp, t), F.nll_loss(lp, t, weight=w, reduction="sum"), F.nll_loss(lp, t, reduction="none"),
                F.cross_entropy(x, t), F.cross_entropy(x, t, weight=w, label_smoothing=0.2),
                F.cross_entropy(xs, ts, reduction="none", label_smoothing=0.1), F.cross_entropy(xs, ts, weight=w),
                F.cross_entropy(x[0], t[1]), F.nll_loss(lp3, t[[0, 1, 3]], ignore_index=4, reduction="sum"),
                F.cross_entropy(x, F.softmax(x * 0.5, dim=1)), F.cross_entropy(xs, F.softmax(xs, dim=1), weight=w,
                                                                              reduction="sum", label_smoothing=0.3),
                F.cross_entropy(x, F.softmax(x, dim=1), reduction="none"))
    return Fn(f), (x, xs, t, ts, w)


def einsum(dtype: Any) -> tuple:
    rng = np.random.default_rng(16)
    a, b, c = _r(rng, dtype, 2, 3, 4), _r(rng, dtype, 2, 4, 5), _r(rng, dtype, 5, 3)

    def f(m, a, b, c):  # noqa: ANN001, ANN202
        return (np.einsum("bij,bjk->bik", a, b), np.einsum("bij,kb->ikj", a, c[:, :2]), np.einsum("bij,bjk->kbi", a, b),
                np.einsum("ij,jk->ik", a[0], b[1]), np.einsum("bij,bij->b", a, a),
                # decompose_einsum: three operands, ellipsis, a diagonal, a one-sided sum, one operand, a trace
                np.einsum("bij,bjk,kl->bil", a, b, c), np.einsum("...ij,...jk", a, b),
                np.einsum("bii->bi", a[:, :, :3]),
                np.einsum("bij,jk->k", a, b[0]), np.einsum("bij->jb", a), np.trace(a[0, :, :3]))
    return Fn(f), (a, b, c)


def split_k(dtype: Any) -> tuple:
    """Few output tiles and K = 16 * 3 * 3 = 144: the split-K convolution (``gemm.use_split_k``), with and without
    a fused epilogue and bias."""
    rng = np.random.default_rng(17)
    a = _module(nn.Conv2d(16, 20, 3, padding=1), dtype)
    b = _module(nn.Conv2d(16, 18, 3, stride=2, bias=False), dtype)

    def f(m, x, y):  # noqa: ANN001, ANN202
        return F.relu(m.a(x)) + y, m.b(x)
    return Fn(f, a=a, b=b), (_r(rng, dtype, 1, 16, 5, 6), _r(rng, dtype, 1, 20, 5, 6))


def vector_norms(dtype: Any) -> tuple:
    rng = np.random.default_rng(18)
    x, y = _r(rng, dtype, 3, 4, 5), _r(rng, dtype, 4, 5)
    x[0, 1] = 0

    def f(m, x, y):  # noqa: ANN001, ANN202
        return (F.pdist(x[0]), F.pdist(y, p=1.0), F.pdist(x[:, 1].T, p=np.inf), F.pdist(y[:, :3], p=0.5),
                F.normalize(x, dim=1), F.normalize(x, p=1, dim=-1), F.normalize(x, p=np.inf, dim=(0, 2)),
                F.normalize(x, p=3.5, dim=2), F.pairwise_distance(x, y), F.pairwise_distance(x[:, 0], y[0], p=1.5,
                                                                                             keepdim=True),
                F.cosine_similarity(x, y, dim=1), F.cosine_similarity(x, y, dim=2, eps=0.5),
                F.local_response_norm(x, 3), F.local_response_norm(x[:, :, None], 2, alpha=0.1, beta=0.5, k=2.0))
    return Fn(f), (x, y)


def misc(dtype: Any) -> tuple:
    rng = np.random.default_rng(19)
    x, mean, var = _r(rng, dtype, 2, 3, 4), _r(rng, dtype, 3), (rng.random(3) + 0.5).astype(dtype)
    ind = rng.integers(0, 5, (2, 3))

    def f(m, x, mean, var, ind):  # noqa: ANN001, ANN202
        y = x * 1.0
        y[:, 1:, ::2] = mean[:2, None]
        z = x + 0.0
        z[0, ..., 1] = 7.0
        return (F.batch_norm(x, mean, var, weight=var, bias=mean, eps=1e-3), F.batch_norm(x[:, :, 0], mean, var),
                F.batch_norm(x, None, None, training=True), F.batch_norm(x[:, :, 1:], None, None, var, mean, True),
                y, z, F.one_hot(ind, 5))
    return Fn(f), (x, mean, var, ind)


def bilinear(dtype: Any) -> tuple:
    rng = np.random.default_rng(29)
    layer = _module(nn.Bilinear(4, 3, 5), dtype)
    x1, x2, w = _r(rng, dtype, 2, 3, 4), _r(rng, dtype, 2, 3, 3), _r(rng, dtype, 2, 3, 4)

    def f(m, x1, x2, w):  # noqa: ANN001, ANN202
        return m.bl(x1, x2), F.bilinear(x1[0, :, :3], x1[1], w), np.maximum(m.bl(x1, x2) * 2.0, 0.1)
    return Fn(f, bl=layer), (x1, x2, w)


def lp_pool(dtype: Any) -> tuple:
    rng = np.random.default_rng(31)
    x = np.abs(_r(rng, dtype, 2, 3, 7, 8)) + 0.1
    y = _r(rng, dtype, 2, 3, 9)
    y[0, 0, 1] = np.nan

    def f(m, x, y):  # noqa: ANN001, ANN202
        return (F.lp_pool2d(x, 2, 3), F.lp_pool2d(x, 1.5, (2, 3), stride=(2, 2), ceil_mode=True),
                F.lp_pool1d(y, 3, 2), F.lp_pool1d(y, np.inf, 3, ceil_mode=True), F.lp_pool1d(y, -np.inf, 2),
                F.lp_pool1d(y, 0.5, 2))
    return Fn(f), (x, y)


def embedding_bag(dtype: Any) -> tuple:
    rng = np.random.default_rng(37)
    w = _r(rng, dtype, 7, 4)
    ind = np.array([1, 3, 0, 6, 6, 2, 5, 3, 1], dtype=np.int64)
    off = np.array([0, 2, 2, 5], dtype=np.int64)
    psw = _r(rng, dtype, 9)
    bags = np.array([[1, 2, 0], [4, 4, 4]], dtype=np.int64)

    def f(m, w, ind, off, psw, bags):  # noqa: ANN001, ANN202
        return (F.embedding_bag(ind, w, off, mode="sum"), F.embedding_bag(ind, w, off, padding_idx=6),
                F.embedding_bag(ind, w, off, mode="max"), F.embedding_bag(ind, w, off, include_last_offset=True),
                F.embedding_bag(ind, w, off, mode="sum", per_sample_weights=psw), F.embedding_bag(bags, w, mode="max",
                                                                                     padding_idx=4))
    return Fn(f), (w, ind, off, psw, bags)


def take(dtype: Any) -> tuple:
    rng = np.random.default_rng(41)
    x = _r(rng, dtype, 3, 5, 4)
    idx = np.array([[0, -1], [4, 2]], dtype=np.int64)

    def f(m, x, idx):  # noqa: ANN001, ANN202
        return np.take(x, idx, axis=1), x[:, idx[0]], np.take(x, idx[0], axis=2) * 2.0, np.take(x[0], idx, axis=0)
    return Fn(f), (x, idx)


def fold_unfold(dtype: Any) -> tuple:
    rng = np.random.default_rng(23)
    x, cols = _r(rng, dtype, 2, 3, 7, 6), _r(rng, dtype, 2, 3 * 6, 6)

    def f(m, x, cols):  # noqa: ANN001, ANN202
        return (F.unfold(x, 3), F.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=(2, 1)),
                F.fold(cols, (5, 6), (2, 3), padding=(1, 0), stride=(2, 1), dilation=(1, 2)),
                F.fold(F.unfold(x, 3, padding=1), (7, 6), 3, padding=1))
    return Fn(f), (x, cols)


# cases whose float64 kernels are generated from templates (compiled to PTX in both dtypes, the rest in float32)
TEMPLATED = ("gemm_paths", "three_d", "conv_transpose", "split_k")

OP_CASES: list[tuple[str, Callable[..., tuple]]] = [
    ("sdpa", sdpa), ("mha", mha), ("recurrent", recurrent), ("pad", pad), ("conv_transpose", conv_transpose),
    ("max_pool_padding", max_pool_padding), ("norms", norms), ("reductions", reductions),
    ("gemm_paths", gemm_paths), ("resample", resample), ("cells", cells), ("movement", movement),
    ("pool_indices", pool_indices),
    ("three_d", three_d), ("losses", losses), ("einsum", einsum),
    ("split_k", split_k), ("vector_norms", vector_norms), ("misc", misc), ("fold_unfold", fold_unfold),
    ("bilinear", bilinear), ("lp_pool", lp_pool), ("embedding_bag", embedding_bag), ("take", take),
    ("class_losses", class_losses),
]
