"""CUDA lowering rules: attention (SDPA and MultiheadAttention's helper ops), recurrent layers and cells, pad,
transposed convolution, upsampling, two-operand einsum. The losses are in ``lower_loss.py``.

SDPA is one kernel (``rows.attention_rows``: a block per query row, online softmax, the output written in the layout
a transposing user wants) up to ``FUSED_MAX_SCORES`` scores per head; longer sequences, ``attention_weights`` and
``attention_context`` use the batched GEMM ``q @ k^T`` (``gemm.batched_matmul``) into the weights buffer, a masked
softmax in place (``rows.attn_softmax``: a block per row), then the GEMM ``weights @ v``. A recurrent layer is one
launch (one block per batch row looping over time; or, with ``NNGRAPH_CUDA_RECURRENCE=grid``, the units spread over a
co-resident grid with a grid barrier per step) after the input projection the graph already computes; a cell is a
GEMM and the block kernel with T = 1. Upsampling gathers through index/weight tables computed on the host by the numpy
reference's own helpers (constants in the weight arena)."""
from __future__ import annotations

import os
from typing import Any

import networkx as nx
import numpy as np

from ...ir.node import Node
from ...ops.registry import register_lowering
from ..cpu.buffers import Buf, collapse
from . import kernels_seq as K
from . import rows as R
from .codegen import Arena, CudaEmitter, Launch
from .gemm import batched_matmul
from .kernels_basic import emit_copy, fill, strided_args


def _float(*dtypes: np.dtype) -> bool:
    return all(np.dtype(d) in (np.float32, np.float64) for d in dtypes)


# ------------------------------------------------------------------------------------------------------- attention
def _weights(em: CudaEmitter, q_name: str, k_name: str, mask_name: str | None, attrs: dict, out: Buf,
             zero_rows: bool) -> bool:
    """Attention probabilities into ``out`` (dense, (lead..., L, S))."""
    q, k = em.buf(q_name), em.buf(k_name)
    if q.ndim < 2 or k.ndim < 2 or not _float(q.dtype, k.dtype, out.dtype) or q.dtype != k.dtype:
        return False
    groups = _gqa_groups(attrs, q, k)
    if groups is None:
        return False
    if out.size == 0:
        return True
    if q.shape[-1] == 0:
        return False
    kt = k.transpose(tuple(range(k.ndim - 2)) + (k.ndim - 1, k.ndim - 2))
    scores = out
    if groups > 1:  # see _gqa_groups: the group's query heads as one taller matrix per k/v head
        q = em.dense(q_name)
        q = q.reshape(q.shape[:-3] + (k.shape[-3], groups * q.shape[-2], q.shape[-1]))
        scores = out.reshape(out.shape[:-3] + (k.shape[-3], groups * out.shape[-2], out.shape[-1]))
    if not batched_matmul(em, q, kt, scores):
        return False
    L, S = out.shape[-2], out.shape[-1]
    rows = out.size // S if S else 0
    mask_kind, mask, ms, b1 = 0, out, (0, 0, 0, 0), 1
    if mask_name is not None:
        mb = em.buf(mask_name)
        if mb.dtype == np.bool_:
            mask_kind = 1
        elif _float(mb.dtype):
            mask_kind = 2
        else:
            return False
        mb = mb.broadcast_to(out.shape)
        lead, (lst,) = collapse(out.shape[:-2], mb.strides[:-2])
        if len(lead) > 2:
            return False
        lead, lst = (1,) * (2 - len(lead)) + lead, (0,) * (2 - len(lst)) + lst
        mask, ms, b1 = mb, (lst[0], lst[1], mb.strides[-2], mb.strides[-1]), lead[1]
    if rows and S:
        em.launch_grid(R.attn_softmax, R.row_grid(rows), (R.row_threads(S),), rows, L, S, b1, out, mask, ms,
                       mask_kind, bool(attrs["is_causal"]), float(attrs["scale"]), zero_rows)
    return True


def _gqa_groups(attrs: dict, q: Buf, kv: Buf) -> int | None:
    """Query heads per k/v head (1 without grouped-query attention; None when they do not divide). Head h reads k/v
    head h // groups, and those heads are adjacent: with dense queries, (heads, L) rows regroup as (k/v heads,
    groups * L), so attention is the ordinary batched GEMMs over the k/v heads -- no copy of k or v."""
    if not attrs.get("enable_gqa") or q.ndim < 3 or kv.ndim < 3 or q.shape[-3] == kv.shape[-3]:
        return 1
    if kv.shape[-3] == 0 or q.shape[-3] % kv.shape[-3]:
        return None
    return q.shape[-3] // kv.shape[-3]


def _gqa_context(em: CudaEmitter, w: Buf, v: Buf, out: Buf, groups: int) -> bool:
    """``out = w @ v`` with ``groups`` query heads per v head (``w`` and ``out`` dense)."""
    if groups > 1:
        w = w.reshape(w.shape[:-3] + (v.shape[-3], groups * w.shape[-2], w.shape[-1]))
        out = out.reshape(out.shape[:-3] + (v.shape[-3], groups * out.shape[-2], out.shape[-1]))
    return batched_matmul(em, w, v, out)


@register_lowering("attention_weights", "cuda")
def _attention_weights(em: CudaEmitter, node: Node) -> bool:
    q, k, mask = node.args
    return _weights(em, q, k, mask, node.attrs, em.out(node), node.attrs.get("masked_rows", "zero") == "zero")


# ``attention_rows`` reads every key and value once per query row: above this many scores per (batch, head) the
# tiled GEMMs' reuse should win (a guess, not yet timed on a GPU; vit_tiny has 197 x 197, bert_tiny 128 x 128)
FUSED_MAX_SCORES = 256 * 256


def _sdpa_fused(em: CudaEmitter, node: Node) -> bool:
    """SDPA as one ``rows.attention_rows`` launch (see there), written straight into the layout its transposing
    user wants (``out_for_transpose``: MultiheadAttention's head merge becomes a view)."""
    q, k, v = (em.buf(a) for a in node.args[:3])
    dt = node.spec.dtype
    if not _float(dt) or any(b.dtype != dt for b in (q, k, v)) or min(q.ndim, k.ndim, v.ndim) < 2:
        return False
    lead, (L, S, D, Dv) = node.spec.shape[:-2], (q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1])
    if len(lead) > 2 or not (0 < D <= R.ATT_DMAX and 0 < Dv <= R.ATT_DMAX and S > 0 and 0 < L * S <= FUSED_MAX_SCORES):
        return False
    groups = _gqa_groups(node.attrs, q, k)
    if groups is None or _gqa_groups(node.attrs, q, v) != groups:
        return False
    kv_lead = lead[:-1] + (lead[-1] // groups,) if lead else lead
    q, k, v = q.broadcast_to(lead + (L, D)), k.broadcast_to(kv_lead + (S, D)), v.broadcast_to(kv_lead + (S, Dv))
    mask_kind, mask, pad = 0, None, (0,) * (2 - len(lead))
    if node.args[3] is not None:
        mask = em.buf(node.args[3])
        mask_kind = 1 if mask.dtype == np.bool_ else 2 if _float(mask.dtype) else 0
        if not mask_kind:
            return False
        mask = mask.broadcast_to(lead + (L, S))
    out = em.out_for_transpose(node)
    rows = int(np.prod(lead, dtype=np.int64)) * L
    em.launch_grid(R.attention_rows, R.row_grid(rows), (R.row_threads(max(S, Dv)),), rows, L, S, D, Dv,
                   lead[-1] if lead else 1, groups, q, pad + q.strides, k, pad + k.strides, v, pad + v.strides,
                   mask if mask is not None else out, pad + mask.strides if mask is not None else (0, 0, 0, 0),
                   mask_kind, bool(node.attrs["is_causal"]), float(node.attrs["scale"]), out, pad + out.strides)
    return True


@register_lowering("scaled_dot_product_attention", "cuda")
def _sdpa(em: CudaEmitter, node: Node) -> bool:
    if _sdpa_fused(em, node):
        return True
    q, k, v, mask = node.args
    vb = em.buf(v)
    if vb.dtype != node.spec.dtype or vb.ndim < 2:
        return False
    groups = _gqa_groups(node.attrs, em.buf(q), vb)
    if groups is None:
        return False
    lead = node.spec.shape[:-2]
    wshape = lead + (node.spec.shape[-2], vb.shape[-2])
    w = em.scratch(wshape, node.spec.dtype)
    if not _weights(em, q, k, mask, node.attrs, w, True):
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    if vb.shape[-2] == 0:
        return False
    return _gqa_context(em, w, vb, out, groups)


@register_lowering("attention_context", "cuda")
def _attention_context(em: CudaEmitter, node: Node) -> bool:
    w, v = em.buf(node.args[0]), em.buf(node.args[1])
    if not _float(w.dtype, v.dtype) or w.dtype != v.dtype or w.dtype != node.spec.dtype:
        return False
    groups = _gqa_groups(node.attrs, w, v)
    if groups is None:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    if groups > 1:
        w = em.dense(node.args[0])
    return _gqa_context(em, w, v, out, groups)


@register_lowering("attention_mask_bias", "cuda")
def _attention_mask_bias(em: CudaEmitter, node: Node) -> bool:
    if em.buf(node.args[0]).dtype != np.bool_ or not _float(node.spec.dtype):
        return False
    out = em.out(node)
    if out.size:
        em.launch(K.mask_bias, out.size, out.size, em.dense(node.args[0]), out)
    return True


def emit_fill(em: CudaEmitter, dst: Buf, value: float) -> None:
    if dst.size == 0:
        return
    shape, ost, _ = strided_args(dst)
    em.launch(K.fill_strided, dst.size, dst.size, shape, dst, ost, float(value))


def _slice(out: Buf, axis: int, start: int, stop: int) -> Buf:
    return out.index(tuple(("s", start, stop, None) if d == axis else ("s", None, None, None)
                           for d in range(out.ndim)))


@register_lowering("attention_append", "cuda")
def _attention_append(em: CudaEmitter, node: Node) -> bool:
    x_name, extra = node.args
    axis = node.attrs["axis"] % node.spec.ndim
    out = em.out(node)
    x = em.buf(x_name)
    n = x.shape[axis]
    emit_copy(em, x, _slice(out, axis, 0, n))
    tail = _slice(out, axis, n, out.shape[axis])
    if extra is None:
        emit_fill(em, tail, 0.0)
    else:
        emit_copy(em, em.buf(extra).broadcast_to(tail.shape), tail)
    return True


@register_lowering("attention_average_heads", "cuda")
def _attention_average_heads(em: CudaEmitter, node: Node) -> bool:
    from .lower_misc import emit_reduce

    return emit_reduce(em, em.buf(node.args[0]), (1,), em.out(node), 1)


# ------------------------------------------------------------------------------------------------------- recurrence
def _outputs(em: CudaEmitter, node: Node) -> tuple[Buf, ...]:
    bufs = tuple(em.scratch(s.shape, s.dtype) for s in node.spec)
    em.bufs[node.name] = bufs
    return bufs


def _recurrence(em: CudaEmitter, node: Node, mode: int, xw: str, w_hh: str, b_hh: str | None, h0: str | None,
                c0: str | None, w_hr: str | None = None) -> bool:
    names = [a for a in (xw, w_hh, b_hh, h0, c0, w_hr) if a is not None]
    dt = em.buf(xw).dtype
    if not _float(dt) or any(em.buf(a).dtype != dt for a in names) or em.buf(xw).ndim != 3:
        return False
    T, N, _ = em.buf(xw).shape
    H = em.buf(w_hh).shape[0] // (4 if mode == 2 else 3 if mode == 3 else 1)
    if T == 0 or N == 0 or H == 0 or em.buf(w_hh).shape[1] == 0:
        return False
    outs = _outputs(em, node)
    cT = outs[2] if mode == 2 else em.scratch((N, H), dt)
    _launch_recurrence(em, mode, em.dense(xw), w_hh, b_hh, h0, c0, outs[0], outs[1], cT, bool(node.attrs["reverse"]),
                       w_hr)
    _merge_directions(em)
    return True


_LAYERS = ("lstm_layer", "gru_layer", "rnn_layer")


def _merge_directions(em: CudaEmitter) -> None:
    """Run the ``recurrence`` launch just emitted and the previous layer's in one launch (``blockIdx.y`` picks the
    layer, see ``kernels_seq.recurrence``) when the two layers are independent and alike: the two directions of a
    bidirectional layer then run side by side instead of one after the other.

    Safe to reorder: only launches of the current node (copies into fresh scratch) may lie between the two, and a
    layer writes only fresh scratch (``_outputs``), so neither launch touches what the other reads or writes."""
    prog = em.program
    cur, i = prog[-1], len(prog) - 2
    while i >= 0 and isinstance(prog[i], Launch) and prog[i].node == cur.node:
        i -= 1
    prev = prog[i] if i >= 0 else None
    if not isinstance(prev, Launch) or prev.kernel is not K.recurrence or prev.grid != cur.grid or \
            prev.block != cur.block or em.graph[prev.node].target not in _LAYERS or any(prev.args[-1]) or \
            prev.node in nx.ancestors(em.graph.nx, cur.node):
        return
    deltas: list[int] = []
    for k, (a, b) in enumerate(zip(prev.args[:-2], cur.args[:-2])):
        if k and isinstance(prev.args[k - 1], Arena):
            deltas.append(int(b) - int(a))  # the offset after an arena
        elif a != b:
            return  # another arena, shape or flag
    merged = Launch(K.recurrence, prev.grid + (2,), prev.block, prev.args[:-1] + [tuple(deltas) + (int(cur.args[-2]),)],
                    prev.node)
    del prog[i]
    prog[-1] = merged


def _transposed(em: CudaEmitter, name: str) -> Buf:
    """The 2-d value ``name`` transposed, dense: a derived weight (made when weights change) for a weight, else a
    copy per call."""
    from .codegen import _is_weight

    b = em.buf(name)
    rows, cols = b.shape
    if _is_weight(em.graph[name]):
        flat = em.derived_weight(name, lambda w: np.ascontiguousarray(np.asarray(w).T).reshape(-1), rows * cols, "T")
        return flat.reshape((cols, rows))
    dst = em.scratch((cols, rows), b.dtype)
    emit_copy(em, b.transpose((1, 0)), dst)
    return dst


def recurrence_mode() -> str:
    """``NNGRAPH_CUDA_RECURRENCE``: ``block`` (default: ``recurrence``, one block per batch row) or ``grid``
    (``recurrence_grid``: the units spread over a co-resident grid with a grid barrier per step; not yet timed on a
    GPU, hence opt-in). Read when a specialization is planned."""
    mode = os.environ.get("NNGRAPH_CUDA_RECURRENCE", "block")
    if mode not in ("block", "grid"):
        raise ValueError(f"NNGRAPH_CUDA_RECURRENCE must be 'block' or 'grid', got {mode!r}")
    return mode


def _grid_layout(N: int, G: int, H: int) -> tuple[int, int, int]:
    """(U, virtual blocks, threads) for ``recurrence_grid``: at least 4 units per virtual block and at most 64
    virtual blocks (the barrier's cost grows with the grid), about 8 terms of each dot product per thread."""
    U = max(4, _ceil(H, 64))
    threads = _ceil(N * G * U * _ceil(H, 8), 32) * 32  # a thread per gate row and 8 terms, in whole warps
    return U, _ceil(H, U), min(K.GRID_THREADS, threads)


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _launch_recurrence(em: CudaEmitter, mode: int, x: Buf, w_hh: str, b_hh: str | None, h0: str | None,
                       c0: str | None, out: Buf, hT: Buf, cT: Buf, reverse: bool, w_hr: str | None = None) -> None:
    T, N, GH = x.shape
    P = em.buf(w_hh).shape[1]  # the state size: H, or the projection size
    H = cT.shape[1]
    wt = _transposed(em, w_hh)
    wrt = _transposed(em, w_hr) if w_hr is not None else wt
    b = em.dense(b_hh) if b_hh is not None else out
    h = em.dense(h0) if h0 is not None else out
    c = em.dense(c0) if c0 is not None else out
    acc = em.scratch((N, GH), np.dtype(np.float64))
    if w_hr is None and recurrence_mode() == "grid":
        U, nvb, threads = _grid_layout(N, GH // H, H)
        bar = em.scratch((2,), np.dtype(np.int64))
        em.launch(fill, 2, 2, bar, 0)
        em.launch_grid(K.recurrence_grid, (nvb,), (threads,), T, N, H, mode, U, nvb, x, wt, b, b_hh is not None,
                       h, h0 is not None, c, c0 is not None, acc, out, hT, cT, reverse, bar, cooperative=True)
        return
    hf = em.scratch((N, H), np.dtype(np.float64)) if w_hr is not None else acc
    # 256 threads: the block size the first kernel ran with on the H100 (a larger block risks exceeding the register
    # file with this many float64 live values)
    threads = int(min(256, max(32, (GH + 31) // 32 * 32)))
    em.launch_grid(K.recurrence, (N,), (threads,), T, N, H, P, mode, x, wt, b, b_hh is not None, h, h0 is not None,
                   c, c0 is not None, wrt, w_hr is not None, acc, hf, out, hT, cT, reverse, (0,) * 12)


def _cell(em: CudaEmitter, node: Node, mode: int, x_name: str, h_name: str | None, c_name: str | None, w_ih: str,
          w_hh: str, b_ih: str | None, b_hh: str | None) -> bool:
    """One step: ``gx = x W_ih^T + b_ih`` (GEMM), then the recurrence kernel with T = 1."""
    from .gemm import linear_into

    names = [a for a in (x_name, h_name, c_name, w_ih, w_hh, b_ih, b_hh) if a is not None]
    x = em.buf(x_name)
    dt = x.dtype
    if not _float(dt) or any(em.buf(a).dtype != dt for a in names) or x.ndim != 2:
        return False
    n, g = x.shape[0], em.buf(w_ih).shape[0]
    hidden = em.buf(w_hh).shape[1]
    if n == 0 or hidden == 0 or x.shape[1] == 0:
        return False
    gx = em.scratch((1, n, g), dt)
    if not linear_into(em, x, em.buf(w_ih), em.buf(b_ih) if b_ih is not None else None, gx.reshape((n, g))):
        return False
    if mode == 2:
        h_out, c_out = _outputs(em, node)
    else:
        h_out, c_out = em.out(node), em.scratch((n, hidden), dt)
    _launch_recurrence(em, mode, gx, w_hh, b_hh, h_name, c_name, h_out.reshape((1, n, hidden)),
                       em.scratch((n, hidden), dt), c_out, False)
    return True


@register_lowering("lstm_cell", "cuda")
def _lstm_cell(em: CudaEmitter, node: Node) -> bool:
    x, h, c, w_ih, w_hh, b_ih, b_hh = node.args
    return _cell(em, node, 2, x, h, c, w_ih, w_hh, b_ih, b_hh)


@register_lowering("gru_cell", "cuda")
def _gru_cell(em: CudaEmitter, node: Node) -> bool:
    x, h, w_ih, w_hh, b_ih, b_hh = node.args
    return _cell(em, node, 3, x, h, None, w_ih, w_hh, b_ih, b_hh)


@register_lowering("rnn_cell", "cuda")
def _rnn_cell(em: CudaEmitter, node: Node) -> bool:
    x, h, w_ih, w_hh, b_ih, b_hh = node.args
    act = node.attrs["nonlinearity"]
    if act not in ("tanh", "relu"):
        return False
    return _cell(em, node, 0 if act == "tanh" else 1, x, h, None, w_ih, w_hh, b_ih, b_hh)


@register_lowering("lstm_layer", "cuda")
def _lstm_layer(em: CudaEmitter, node: Node) -> bool:
    xw, w_hh, b_hh, w_hr, h0, c0 = node.args
    return _recurrence(em, node, 2, xw, w_hh, b_hh, h0, c0, w_hr)


@register_lowering("gru_layer", "cuda")
def _gru_layer(em: CudaEmitter, node: Node) -> bool:
    xw, w_hh, b_hh, h0 = node.args
    return _recurrence(em, node, 3, xw, w_hh, b_hh, h0, None)


@register_lowering("rnn_layer", "cuda")
def _rnn_layer(em: CudaEmitter, node: Node) -> bool:
    xw, w_hh, b_hh, h0 = node.args
    act = node.attrs["nonlinearity"]
    if act not in ("tanh", "relu"):
        return False
    return _recurrence(em, node, 0 if act == "tanh" else 1, xw, w_hh, b_hh, h0, None)


# ------------------------------------------------------------------------------------------------ pad / conv_transpose
_PAD_MODES = {"constant": 0, "reflect": 1, "replicate": 2, "circular": 3}


@register_lowering("pad", "cuda")
def _pad(em: CudaEmitter, node: Node) -> bool:
    x = em.buf(node.args[0])
    mode = _PAD_MODES.get(node.attrs["mode"])
    if mode is None or x.ndim > 6 or x.dtype.kind == "b":
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    if x.size == 0:
        if mode != 0:
            return False
        emit_fill(em, out, node.attrs["value"] or 0.0)
        return True
    pads = list(node.attrs["pads"])
    k = 6 - x.ndim
    lo = (0,) * k + tuple(p[0] for p in pads)
    ishape = (1,) * k + x.shape
    oshape = (1,) * k + out.shape
    xs = (0,) * k + x.strides
    start = tuple(max(-p[0], 0) for p in pads)
    kept = tuple(n - s - max(-p[1], 0) for n, s, p in zip(x.shape, start, pads))
    if mode == 3 and any(v <= 0 for v in kept):
        return False
    cstart, ckept = (0,) * k + start, (1,) * k + kept
    value = float(node.attrs["value"]) if node.attrs["value"] is not None else 0.0
    em.launch(K.pad6, out.size, out.size, oshape, x, xs, ishape, lo, mode, cstart, ckept, value, out)
    return True


@register_lowering("conv_transpose", "cuda")
def _conv_transpose(em: CudaEmitter, node: Node) -> bool:
    x_name, w_name, b_name = node.args
    x, w = em.buf(x_name), em.dense(w_name)
    if not _float(x.dtype, w.dtype, node.spec.dtype) or x.dtype != w.dtype:
        return False
    a = node.attrs
    nd = x.ndim - 2
    if nd not in (1, 2, 3):
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    lead = 3 - nd  # 1-d and 2-d as 3-d with leading spatial dims of size 1
    x = Buf(x.arena, x.offset, x.shape[:2] + (1,) * lead + x.shape[2:], x.strides[:2] + (0,) * lead + x.strides[2:],
            x.dtype)
    w = w.reshape(w.shape[:2] + (1,) * lead + w.shape[2:])
    ones, zeros = (1,) * lead, (0,) * lead
    stride, pad, dil = ones + tuple(a["stride"]), zeros + tuple(a["padding"]), ones + tuple(a["dilation"])
    g = a["groups"]
    bias = (em.buf(b_name), True) if b_name is not None else (out, False)
    em.launch(K.conv_transpose3d, out.size, out.size, g, w.shape[1], x.shape[1] // g, *((1,) * lead + out.shape[2:]),
              *w.shape[2:], x.strides, *x.shape[2:], *stride, *pad, *dil, w, x, out, *bias)
    return True


# ------------------------------------------------------------------------------------------------------- resampling
def _resample(em: CudaEmitter, node: Node, table: Any) -> bool:
    """``table(n_in, n_out, scale) -> (index (n_out, taps), weight (n_out, taps))`` per spatial axis, computed on
    the host as the numpy reference does and uploaded as constants (axes padded to the most taps with weight 0)."""
    x = em.buf(node.args[0])
    nd = x.ndim - 2
    if nd not in (1, 2, 3) or not _float(x.dtype, node.spec.dtype):
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    if x.size == 0:
        return False
    size, scales = tuple(node.attrs["size"]), tuple(node.attrs["scales"] or (None,) * nd)
    tables = []
    for n_in, n_out, s in zip(x.shape[2:], size, scales):
        i, w = table(n_in, n_out, s)
        tables.append((np.asarray(i, np.int64).reshape(n_out, -1), np.asarray(w, np.float64).reshape(n_out, -1)))
    taps = max(i.shape[1] for i, _ in tables)
    idx, wts, offs = [np.zeros(taps, np.int64)], [np.eye(1, taps, dtype=np.float64).reshape(-1)], []
    off = taps  # the first entry: a unit axis (index 0, weight 1 on the first tap) for the leading padded axes
    for i, w in tables:
        pad = ((0, 0), (0, taps - i.shape[1]))
        idx.append(np.pad(i, pad).reshape(-1))
        wts.append(np.pad(w, pad).reshape(-1))
        offs.append(off)
        off += i.size // i.shape[1] * taps
    lead = 3 - nd
    it = em.constant(np.concatenate(idx), "resample_index")
    wt = em.constant(np.concatenate(wts), "resample_weight")
    xs = x.strides[:2] + (0,) * lead + x.strides[2:]
    osz = (1,) * lead + out.shape[2:]
    em.launch(K.resample3, out.size, out.size, x.shape[1], osz[0], osz[1], osz[2], xs, it, wt, (0,) * lead +
              tuple(offs), taps, x, out)
    return True


def _copy_table(o: int) -> tuple:
    return np.arange(o)[:, None], np.ones((o, 1))


@register_lowering("upsample_nearest", "cuda")
def _upsample_nearest(em: CudaEmitter, node: Node) -> bool:
    from ...ops.vision import nearest_indices

    exact = bool(node.attrs["exact"])
    shortcuts = not exact and len(node.attrs["size"]) == 2
    return _resample(em, node, lambda n, o, s: (nearest_indices(n, o, s, exact, shortcuts), np.ones(o)))


@register_lowering("upsample_linear", "cuda")
def _upsample_linear(em: CudaEmitter, node: Node) -> bool:
    from ...ops.vision import _compute_dtype, _linear_taps

    dt = _compute_dtype(em.buf(node.args[0]).dtype)
    ac = bool(node.attrs["align_corners"])

    return _resample(em, node, lambda n, o, s: _copy_table(o) if n == o else _linear_taps(n, o, ac, s, dt))


@register_lowering("upsample_bicubic", "cuda")
def _upsample_bicubic(em: CudaEmitter, node: Node) -> bool:
    from ...ops.vision import _compute_dtype, _cubic_taps

    dt = _compute_dtype(em.buf(node.args[0]).dtype)
    ac = bool(node.attrs["align_corners"])
    return _resample(em, node, lambda n, o, s: _cubic_taps(n, o, ac, s, dt))


@register_lowering("upsample_antialias", "cuda")
def _upsample_antialias(em: CudaEmitter, node: Node) -> bool:
    from ...ops.vision import _aa_taps, _compute_dtype

    dt = _compute_dtype(em.buf(node.args[0]).dtype)
    ac, kind = bool(node.attrs["align_corners"]), node.attrs["kind"]
    return _resample(em, node, lambda n, o, s: _copy_table(o) if n == o else _aa_taps(n, o, ac, s, kind, dt))


# ------------------------------------------------------------------------------------------------------------ einsum
def _as3(em: CudaEmitter, b: Buf, perm: tuple[int, ...], shape3: tuple[int, int, int]) -> Buf:
    v = b.transpose(perm)
    r = v.reshape(shape3)
    if r is None:
        r = em.copy_dense(v).reshape(shape3)
    return r


@register_lowering("einsum", "cuda")
def _einsum(em: CudaEmitter, node: Node) -> bool:
    """Two-operand contractions without ellipsis or repeated/one-sided summed indices: both operands as
    (batch, rows, K) and (batch, K, cols) views (copied when they do not collapse), one batched GEMM."""
    eq = node.attrs["equation"].replace(" ", "")
    if len(node.args) != 2 or "->" not in eq or "." in eq:
        return False
    lhs, o = eq.split("->")
    if lhs.count(",") != 1:
        return False
    a_s, b_s = lhs.split(",")
    a, b = em.buf(node.args[0]), em.buf(node.args[1])
    if not _float(a.dtype, b.dtype, node.spec.dtype) or a.dtype != b.dtype or a.dtype != node.spec.dtype:
        return False
    if any(len(set(s)) != len(s) for s in (a_s, b_s, o)) or len(a_s) != a.ndim or len(b_s) != b.ndim:
        return False
    if any(c not in b_s and c not in o for c in a_s) or any(c not in a_s and c not in o for c in b_s):
        return False
    size = {c: n for c, n in zip(a_s, a.shape)}
    if any(size.get(c, n) != n for c, n in zip(b_s, b.shape)):
        return False
    size.update(zip(b_s, b.shape))
    batch = [c for c in o if c in a_s and c in b_s]
    left = [c for c in o if c in a_s and c not in b_s]
    right = [c for c in o if c in b_s and c not in a_s]
    contr = [c for c in a_s if c in b_s and c not in o]
    nb, nl, nr, nk = (int(np.prod([size[c] for c in g], dtype=np.int64)) for g in (batch, left, right, contr))
    out = em.out(node)
    if out.size == 0:
        return True
    if nk == 0:
        return False
    a3 = _as3(em, a, tuple(a_s.index(c) for c in batch + left + contr), (nb, nl, nk))
    b3 = _as3(em, b, tuple(b_s.index(c) for c in batch + contr + right), (nb, nk, nr))
    order = batch + left + right
    direct = "".join(order) == o
    res = out.reshape((nb, nl, nr)) if direct else em.scratch((nb, nl, nr), out.dtype)
    if not batched_matmul(em, a3, b3, res):
        return False
    if not direct:
        full = res.reshape(tuple(size[c] for c in order))
        emit_copy(em, full.transpose(tuple(order.index(c) for c in o)), out)
    return True
