"""CPU lowering of the sequence-model ops: matmul and 2-operand einsum contractions (ops/linalg.py), attention
(scaled_dot_product_attention, attention_weights, attention_context, and MultiheadAttention's helpers
attention_average_heads and attention_mask_bias from ops/attention.py) and the recurrences (rnn/lstm/gru layers and
cells from ops/rnn.py). Kernels are in ``kernels_sequence.py``.

Operands are read in place through their strides (transposed, sliced and broadcast views cost no copy), and SDPA
writes its output in the layout a transposing user wants (``Emitter.out_for_transpose``: MultiheadAttention's head
merge is a view, as on CUDA); float16, mixed dtypes and non-float operands stay on the host (numpy reference).
Recurrent weights that are graph weights are packed for the register tile once per weight change
(``Emitter.derived_weight``), other ones per call.
"""
from __future__ import annotations

import math
import re

import numpy as np

from ...ir.node import Node
from ...ir.symbolic import prod as sym_prod
from ...ops.registry import TensorSpec, register_lowering
from . import kernels_sequence as K
from .buffers import Buf, c_strides, collapse, pad_dims
from .codegen import Emitter
from .kernels_basic import emit_copy

#: Below this many flops a call runs on one thread (a parallel region costs microseconds).
PAR_MIN_FLOPS = 2_000_000
#: Recurrences: groups of batch rows (independent sequences) go to the threads for the whole sequence (one parallel
#: region, no synchronization) when the layer costs PAR_MIN_FLOPS. A single row group splits each time step's hidden
#: units instead (one parallel region per step; each thread keeps its share of the recurrent weights in its cache)
#: only when a step costs PAR_MIN_STEP_FLOPS: on a busy machine waking a worker thread can take a scheduler tick
#: (milliseconds were measured here), which per-step regions pay at every step.
PAR_MIN_STEP_FLOPS = 16_000_000
STEP_SPLIT_MIN_WEIGHT_BYTES = 256 * 1024
LEAD_DIMS = 4  # broadcast batch/head dims the kernels iterate over (after merging contiguous ones)

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _float(*dtypes: np.dtype) -> bool:
    """All the same dtype, float32 or float64."""
    return all(np.dtype(d) == np.dtype(dtypes[0]) for d in dtypes) and np.dtype(dtypes[0]) in _FLOATS


def _spec(em: Emitter, name: str | None) -> TensorSpec | None:
    return None if name is None else em.graph[name].spec


def _prod(shape: tuple[int, ...]) -> int:
    return sym_prod(shape)


def _lead_strides(buf: Buf, lead: tuple[int, ...]) -> tuple[int, ...]:
    """Element strides of ``buf``'s leading dims (all but the last two) right-aligned to ``lead``; 0 where the
    operand broadcasts (missing or size-1 dims)."""
    own = buf.shape[:-2]
    strides = buf.strides[:-2]
    pad = len(lead) - len(own)
    return tuple(0 if d < pad or own[d - pad] == 1 else strides[d - pad] for d in range(len(lead)))


def _lead_dims(lead: tuple[int, ...], stride_sets: list[tuple[int, ...]], merge: bool
               ) -> tuple[tuple[int, ...], list[tuple[int, ...]]] | None:
    """The lead dims as exactly LEAD_DIMS dims (merged where contiguous in every operand when ``merge``), or None
    when there are too many."""
    if merge:
        shape, strides = collapse(lead, *stride_sets)
    else:
        shape, strides = tuple(lead), list(stride_sets)
    if len(shape) > LEAD_DIMS:
        return None
    shape, strides = pad_dims(tuple(shape), [tuple(s) for s in strides], LEAD_DIMS)
    return shape, strides


# --------------------------------------------------------------------------------------------- batched matmul
def emit_bmm(em: Emitter, a: Buf, b: Buf, out: Buf, bgroup: int = 1) -> bool:
    """Emit ``out = a @ b`` with numpy batch broadcasting: ``a`` (..., M, K), ``b`` (..., K, N) strided views,
    ``out`` dense (..., M, N). ``bgroup`` > 1: b's last batch dim is indexed by (out's index) // bgroup."""
    lead = out.shape[:-2]
    m, n = out.shape[-2:]
    k = a.shape[-1]
    if out.size == 0:
        return True
    ast, bst = _lead_strides(a, lead), _lead_strides(b, lead)
    if bgroup > 1:
        bst = bst[:-1] + (b.strides[-3] if b.shape[-3] != 1 else 0,)
    nb = _prod(lead)
    ars, acs = a.strides[-2], a.strides[-1]
    if nb > 1 and bgroup == 1 and not any(bst):
        # b is shared by every batch item: fold the batch into A's rows when they are evenly spaced.
        rows, (rst, ost) = collapse(lead + (m,), ast + (ars,), c_strides(lead + (m,)))
        if len(rows) == 1:
            lead, ast, bst, m, ars = (), (), (), rows[0], rst[0]
    dims = _lead_dims(lead, [ast, bst, c_strides(lead)], merge=bgroup == 1)
    if dims is None:
        return False
    bshape, (ast4, bst4, _) = dims
    par = 2.0 * _prod(bshape) * m * n * k >= PAR_MIN_FLOPS
    em.call(K.bmm, bshape, m, n, k, a, ast4, ars, acs, b, bst4, b.strides[-2], b.strides[-1], bgroup, out, par)
    return True


@register_lowering("matmul", "cpu")
def _matmul(em: Emitter, node: Node) -> bool:
    sa, sb = _spec(em, node.args[0]), _spec(em, node.args[1])
    if not _float(sa.dtype, sb.dtype, node.spec.dtype) or sa.ndim == 0 or sb.ndim == 0:
        return False
    a, b = em.buf(node.args[0]), em.buf(node.args[1])
    if a.ndim == 1:
        a = Buf(a.arena, a.offset, (1, a.shape[0]), (0, a.strides[0]), a.dtype)
    if b.ndim == 1:
        b = Buf(b.arena, b.offset, (b.shape[0], 1), (b.strides[0], 0), b.dtype)
    out = em.out(node)
    lead = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    view = out.reshape(lead + (a.shape[-2], b.shape[-1]))
    return emit_bmm(em, a, b, view)


# --------------------------------------------------------------------------------------------- einsum
def _einsum_plan(equation: str, shapes: list[tuple[int, ...]]) -> tuple | None:
    """(letters of a, letters of b, output letters) with the ellipsis expanded, or None for what the kernels do
    not cover (repeated letters in one operand, letters summed out of a single operand)."""
    eq = equation.replace(" ", "")
    if "->" in eq:
        ins, out = eq.split("->")
    else:
        ins, out = eq, None
    terms = ins.split(",")
    if len(terms) != 2 or len(shapes) != 2:
        return None
    used = set(re.sub(r"[^A-Za-z]", "", eq))
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used]
    ell_n = 0
    expanded = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            n = len(shape) - (len(term) - 3)
            if n < 0:
                return None
            ell_n = max(ell_n, n)
            expanded.append((term, n))
        else:
            if len(term) != len(shape):
                return None
            expanded.append((term, 0))
    ell = spare[:ell_n]
    if len(ell) < ell_n:
        return None
    letters = []
    for term, n in expanded:
        letters.append(term.replace("...", "".join(ell[ell_n - n:])) if "..." in term else term)
    if out is None:
        counts = {c: (letters[0] + letters[1]).count(c) for c in set(letters[0] + letters[1])}
        out = "".join(ell) + "".join(sorted(c for c in counts if counts[c] == 1 and c not in ell))
    else:
        if "..." in out:
            out = out.replace("...", "".join(ell))
        elif ell_n:
            return None  # ellipsis dims summed away: not a plain contraction
    for t in letters + [out]:
        if len(set(t)) != len(t) or not all(c.isalpha() for c in t):
            return None
    if any(c not in letters[0] + letters[1] for c in out):
        return None
    for c in set(letters[0]) | set(letters[1]):
        if c not in out and not (c in letters[0] and c in letters[1]):
            return None  # summed over one operand only
    return letters[0], letters[1], out


@register_lowering("einsum", "cpu")
def _einsum(em: Emitter, node: Node) -> bool:
    if len(node.args) != 2:
        return False
    sa, sb = _spec(em, node.args[0]), _spec(em, node.args[1])
    if not _float(sa.dtype, sb.dtype, node.spec.dtype):
        return False
    plan = _einsum_plan(node.attrs["equation"], [sa.shape, sb.shape])
    if plan is None:
        return False
    la, lb, lo = plan
    sizes: dict[str, int] = {}
    for t, shape in ((la, sa.shape), (lb, sb.shape)):
        for c, s in zip(t, shape):
            if c in sizes and sizes[c] != s and 1 not in (sizes[c], s):
                return False
            sizes[c] = max(sizes.get(c, s), s)
    batch = [c for c in lo if c in la and c in lb]
    mfree = [c for c in lo if c in la and c not in lb]
    nfree = [c for c in lo if c in lb and c not in la]
    contr = [c for c in la if c in lb and c not in lo]
    if any(sizes[c] != s for t, shape in ((la, sa.shape), (lb, sb.shape)) for c, s in zip(t, shape)
           if c in contr + mfree + nfree):
        return False  # broadcasting of non-batch dims
    a, b = em.buf(node.args[0]), em.buf(node.args[1])
    out = em.out(node)
    if out.size == 0:
        return True

    def operand(buf: Buf, letters: str, rows: list[str], cols: list[str]) -> Buf | None:
        """``buf`` as (batch..., rows, cols): batch dims kept (broadcast where absent), rows/cols merged."""
        st = dict(zip(letters, buf.strides))
        sh = dict(zip(letters, buf.shape))
        bshape = tuple(sizes[c] for c in batch)
        bstr = tuple(st[c] if c in st and sh[c] != 1 else 0 for c in batch)
        merged = []
        for group in (rows, cols):
            if not group:
                merged.append((1, 0))
                continue
            shape_g, (st_g,) = collapse(tuple(sh[c] for c in group), tuple(st[c] for c in group))
            if len(shape_g) != 1:
                return None
            merged.append((_prod(tuple(sh[c] for c in group)), st_g[0] if shape_g[0] != 1 else 0))
        (r, rs), (cc, cs) = merged
        return Buf(buf.arena, buf.offset, bshape + (r, cc), bstr + (rs, cs), buf.dtype)

    def dense_operand(buf: Buf, letters: str, rows: list[str], cols: list[str]) -> Buf:
        """``operand`` of a dense copy in (batch, rows, cols) order, for dims that do not merge in place."""
        order = [c for c in batch + rows + cols if c in letters]
        view = buf.transpose(tuple(letters.index(c) for c in order))
        tmp = em.scratch(view.shape, view.dtype)
        emit_copy(em, view, tmp)
        return operand(tmp, "".join(order), rows, cols)

    natural = batch + mfree + nfree
    swapped = batch + nfree + mfree
    if list(lo) == swapped and list(lo) != natural:  # out^T = B^T A^T: the kernel writes this order directly
        (x, lx, rx, cx), (y, ly, ry, cy) = (b, lb, nfree, contr), (a, la, contr, mfree)
        order = swapped
    else:
        (x, lx, rx, cx), (y, ly, ry, cy) = (a, la, mfree, contr), (b, lb, contr, nfree)
        order = natural
    av = operand(x, lx, rx, cx) or dense_operand(x, lx, rx, cx)
    bv = operand(y, ly, ry, cy) or dense_operand(y, ly, ry, cy)
    m = av.shape[-2]
    n = bv.shape[-1]
    bshape = tuple(sizes[c] for c in batch)
    if list(lo) == order:
        return emit_bmm(em, av, bv, out.reshape(bshape + (m, n)))
    tmp = em.scratch(bshape + (m, n), out.dtype)
    if not emit_bmm(em, av, bv, tmp):
        return False
    # scatter the (batch, rows, cols) result into the requested output order
    full = tmp.reshape(tuple(sizes[c] for c in order))
    emit_copy(em, full.transpose(tuple(order.index(c) for c in lo)), out)
    return True


# --------------------------------------------------------------------------------------------- attention
def _gqa_group(q: TensorSpec, x: TensorSpec, enable_gqa: bool) -> int | None:
    """Head repetition of k/v for grouped-query attention (1: none), None when not expressible."""
    if not enable_gqa or q.ndim < 3 or x.ndim < 3 or x.shape[-3] == q.shape[-3] or x.shape[-3] == 1:
        return 1
    hq, hk = q.shape[-3], x.shape[-3]
    if hk == 0 or hq % hk:
        return None
    return hq // hk


def _attention(em: Emitter, node: Node, mode: int, q_name: str, k_name: str, v_name: str | None,
               mask_name: str | None) -> bool:
    attrs = node.attrs
    sq, sk = _spec(em, q_name), _spec(em, k_name)
    sv = _spec(em, v_name)
    sm = _spec(em, mask_name)
    if not _float(sq.dtype, sk.dtype, node.spec.dtype, *([sv.dtype] if sv is not None else [])):
        return False
    if min(sq.ndim, sk.ndim, sv.ndim if sv is not None else 2) < 2:
        return False
    if sm is not None and sm.dtype != np.bool_ and sm.dtype != sq.dtype:
        return False
    scale = float(attrs["scale"])
    if not math.isfinite(scale):
        return False
    gqa = bool(attrs["enable_gqa"])
    kgroup = _gqa_group(sq, sk, gqa)
    vgroup = _gqa_group(sq, sv, gqa) if sv is not None else 1
    if kgroup is None or vgroup is None:
        return False
    out = em.out_for_transpose(node) if mode == K.ATT_CONTEXT else em.out(node)
    lead = node.spec.shape[:-2]
    if out.size == 0:
        return True
    if (kgroup > 1 or vgroup > 1) and (not lead or lead[-1] != sq.shape[-3]):
        return False
    L, E = sq.shape[-2:]
    S = sk.shape[-2]
    q, k = em.buf(q_name), em.buf(k_name)
    v = em.buf(v_name) if v_name is not None else q
    ev = sv.shape[-1] if sv is not None else 0
    stride_sets = [_lead_strides(q, lead), _lead_strides(k, lead), _lead_strides(v, lead) if sv is not None
                   else (0,) * len(lead)]
    if kgroup > 1:
        stride_sets[1] = stride_sets[1][:-1] + (k.strides[-3],)
    if vgroup > 1:
        stride_sets[2] = stride_sets[2][:-1] + (v.strides[-3],)
    bool_holder = em.scratch((1,), np.dtype(np.bool_))
    if mask_name is not None:
        mb = em.buf(mask_name).broadcast_to(tuple(lead) + (L, S))
        mkind = K.MASK_BOOL if sm.dtype == np.bool_ else K.MASK_FLOAT
        mrs, mcs = mb.strides[-2], mb.strides[-1]
        stride_sets.append(mb.strides[:-2])
        fmask, bmask = (q, mb) if mkind == K.MASK_BOOL else (mb, bool_holder)
    else:
        mkind, mrs, mcs = K.MASK_NONE, 0, 0
        stride_sets.append((0,) * len(lead))
        fmask, bmask, mb = q, bool_holder, q
    stride_sets.append(out.strides[:-2])
    dims = _lead_dims(tuple(lead), stride_sets, merge=kgroup == 1 and vgroup == 1)
    if dims is None:
        return False
    lshape, (qst, kst, vst, mst, ost) = dims
    nl = _prod(lshape)
    par = 2.0 * nl * L * S * (E + ev) >= PAR_MIN_FLOPS and nl * L > K.MR
    em.call(K.attention, mode, lshape, L, S, E, ev, q, qst, q.strides[-2], q.strides[-1], k, kst, k.strides[-2],
            k.strides[-1], kgroup, v, vst, v.strides[-2], v.strides[-1], vgroup, "@" + fmask.arena, "@" + bmask.arena,
            mb.offset, mst, mrs, mcs, mkind, bool(attrs["is_causal"]), scale, out, ost, out.strides[-2],
            out.strides[-1], par)
    return True


@register_lowering("scaled_dot_product_attention", "cpu")
def _sdpa(em: Emitter, node: Node) -> bool:
    q, k, v, mask = node.args
    return _attention(em, node, K.ATT_CONTEXT, q, k, v, mask)


@register_lowering("attention_weights", "cpu")
def _attention_weights(em: Emitter, node: Node) -> bool:
    q, k, mask = node.args
    mode = K.ATT_WEIGHTS_NAN if node.attrs.get("masked_rows", "zero") == "nan" else K.ATT_WEIGHTS_ZERO
    return _attention(em, node, mode, q, k, None, mask)


@register_lowering("attention_context", "cpu")
def _attention_context(em: Emitter, node: Node) -> bool:
    sw, sv = _spec(em, node.args[0]), _spec(em, node.args[1])
    if not _float(sw.dtype, sv.dtype, node.spec.dtype) or sw.ndim < 2 or sv.ndim < 2:
        return False
    group = _gqa_group(sw, sv, bool(node.attrs["enable_gqa"]))
    out = em.out(node)
    if group is None or (group > 1 and out.shape[-3] != sw.shape[-3]):
        return False
    return emit_bmm(em, em.buf(node.args[0]), em.buf(node.args[1]), out, group)


# --------------------------------------------------------------------------------------------- recurrences
def _packed_weight(em: Emitter, name: str, ng: int) -> tuple[Buf, bool]:
    """(Buf, already packed): a weight's gate-blocked packing, refreshed with the weights, else the raw array
    (packed by the kernel per call)."""
    spec = _spec(em, name)
    if hasattr(em, "derived_weight") and hasattr(em, "is_weight") and em.is_weight(name):
        rows, k = spec.shape[0] // ng, spec.shape[1]
        size = K.packed_gates_size(ng, rows, k, spec.dtype)
        return em.derived_weight(name, lambda w, ng=ng: K.pack_gates_host(w, ng), max(size, 1),
                                 f"seq_gates{ng}"), True
    return em.dense(name), False


def _recurrence(em: Emitter, node: Node, mode: int, xw: Buf, w_name: str, b_name: str | None, r_name: str | None,
                h0_name: str | None, c0_name: str | None, outs: tuple[Buf, ...], bx_name: str | None = None,
                reverse: bool = False) -> bool:
    t, n, g = xw.shape
    ng = 4 if mode == K.MODE_LSTM else 3 if mode == K.MODE_GRU else 1
    w_spec = _spec(em, w_name)
    hidden = g // ng
    p = w_spec.shape[1]
    if w_spec.shape[0] != g or g % ng or hidden == 0 or p == 0:
        return False
    if r_name is not None and _spec(em, r_name).shape != (p, hidden):
        return False
    if r_name is None and p != hidden:
        return False
    out, h_t = outs[0], outs[1]
    c_t = outs[2] if len(outs) > 2 else out
    if n == 0:
        return True
    wp, w_packed = _packed_weight(em, w_name, ng)
    rp, r_packed = _packed_weight(em, r_name, 1) if r_name is not None else (wp, True)
    b = em.dense(b_name) if b_name is not None else xw
    bx = em.dense(bx_name) if bx_name is not None else xw
    h0 = em.dense(h0_name) if h0_name is not None else xw
    c0 = em.dense(c0_name) if c0_name is not None else xw
    step_flops = 2.0 * n * p * g + (2.0 * n * hidden * p if r_name is not None else 0.0)
    weight_bytes = (g * p + (hidden * p if r_name is not None else 0)) * xw.dtype.itemsize
    if t > 0 and step_flops >= PAR_MIN_STEP_FLOPS and (n <= K.MR or weight_bytes >= STEP_SPLIT_MIN_WEIGHT_BYTES):
        split = K.SPLIT_STEP
    elif n > K.MR and t * step_flops >= PAR_MIN_FLOPS:
        split = K.SPLIT_BATCH
    else:
        split = K.SPLIT_NONE
    em.call(K.recurrent, mode, t, n, hidden, p, bool(reverse), xw, bx, bx_name is not None, wp, w_packed, b,
            b_name is not None, rp, r_packed, r_name is not None, h0, h0_name is not None, c0, c0_name is not None,
            out, h_t, c_t, split)
    return True


def _outputs(em: Emitter, node: Node) -> tuple[Buf, ...]:
    bufs = tuple(em.scratch(s.shape, s.dtype) for s in node.spec)
    em.bufs[node.name] = bufs
    return bufs


def _layer_ok(em: Emitter, node: Node) -> bool:
    specs = [_spec(em, a) for a in node.args if a is not None]
    return _float(*(s.dtype for s in specs)) and specs[0].ndim == 3 and specs[1].ndim == 2


@register_lowering("rnn_layer", "cpu")
def _rnn_layer(em: Emitter, node: Node) -> bool:
    xw, w_hh, b_hh, h0 = node.args
    act = node.attrs["nonlinearity"]
    if not _layer_ok(em, node) or act not in ("tanh", "relu"):
        return False
    mode = K.MODE_RNN_TANH if act == "tanh" else K.MODE_RNN_RELU
    return _recurrence(em, node, mode, em.dense(xw), w_hh, b_hh, None, h0, None, _outputs(em, node),
                       reverse=node.attrs["reverse"])


@register_lowering("lstm_layer", "cpu")
def _lstm_layer(em: Emitter, node: Node) -> bool:
    xw, w_hh, b_hh, w_hr, h0, c0 = node.args
    if not _layer_ok(em, node):
        return False
    return _recurrence(em, node, K.MODE_LSTM, em.dense(xw), w_hh, b_hh, w_hr, h0, c0, _outputs(em, node),
                       reverse=node.attrs["reverse"])


@register_lowering("gru_layer", "cpu")
def _gru_layer(em: Emitter, node: Node) -> bool:
    xw, w_hh, b_hh, h0 = node.args
    if not _layer_ok(em, node):
        return False
    return _recurrence(em, node, K.MODE_GRU, em.dense(xw), w_hh, b_hh, None, h0, None, _outputs(em, node),
                       reverse=node.attrs["reverse"])


def _cell(em: Emitter, node: Node, mode: int, x_name: str, h_name: str | None, c_name: str | None, w_ih: str,
          w_hh: str, b_ih: str | None, b_hh: str | None) -> bool:
    """One step: ``gx = x W_ih^T`` (batched GEMM), then the recurrence kernel with T = 1 adds ``b_ih``."""
    specs = [_spec(em, a) for a in (x_name, h_name, c_name, w_ih, w_hh, b_ih, b_hh) if a is not None]
    if not _float(*(s.dtype for s in specs)):
        return False
    sx, swi = _spec(em, x_name), _spec(em, w_ih)
    if sx.ndim != 2 or swi.ndim != 2:
        return False
    n = sx.shape[0]
    g = swi.shape[0]
    gx = em.scratch((1, n, g), sx.dtype)
    if n and g and not emit_bmm(em, em.buf(x_name), em.buf(w_ih).transpose((1, 0)), gx.reshape((n, g))):
        return False
    if isinstance(node.spec, tuple):
        h_out, c_out = _outputs(em, node)
    else:
        h_out, c_out = em.out(node), None
    hidden = h_out.shape[-1]
    out3 = h_out.reshape((1, n, hidden))
    outs = (out3, h_out) if c_out is None else (out3, h_out, c_out)
    return _recurrence(em, node, mode, gx, w_hh, b_hh, None, h_name, c_name, outs, bx_name=b_ih)


@register_lowering("rnn_cell", "cpu")
def _rnn_cell(em: Emitter, node: Node) -> bool:
    x, h, w_ih, w_hh, b_ih, b_hh = node.args
    act = node.attrs["nonlinearity"]
    if act not in ("tanh", "relu"):
        return False
    mode = K.MODE_RNN_TANH if act == "tanh" else K.MODE_RNN_RELU
    return _cell(em, node, mode, x, h, None, w_ih, w_hh, b_ih, b_hh)


@register_lowering("lstm_cell", "cpu")
def _lstm_cell(em: Emitter, node: Node) -> bool:
    x, h, c, w_ih, w_hh, b_ih, b_hh = node.args
    return _cell(em, node, K.MODE_LSTM, x, h, c, w_ih, w_hh, b_ih, b_hh)


@register_lowering("gru_cell", "cpu")
def _gru_cell(em: Emitter, node: Node) -> bool:
    x, h, w_ih, w_hh, b_ih, b_hh = node.args
    return _cell(em, node, K.MODE_GRU, x, h, None, w_ih, w_hh, b_ih, b_hh)


# --------------------------------------------------------------------------------------------- attention helpers
@register_lowering("attention_average_heads", "cpu")
def _attention_average_heads(em: Emitter, node: Node) -> bool:
    sw = _spec(em, node.args[0])
    if not _float(sw.dtype, node.spec.dtype) or sw.ndim < 2:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    w = em.dense(node.args[0])
    em.call(K.mean_axis1, sw.shape[0], sw.shape[1], _prod(sw.shape[2:]), w, out)
    return True


@register_lowering("attention_mask_bias", "cpu")
def _attention_mask_bias(em: Emitter, node: Node) -> bool:
    sm = _spec(em, node.args[0])
    if sm.dtype != np.bool_ or node.spec.dtype not in _FLOATS:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    em.call(K.mask_bias, out.size, em.dense(node.args[0]), out)
    return True
