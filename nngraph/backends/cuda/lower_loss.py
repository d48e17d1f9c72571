"""CUDA lowering rules of the losses (``ops/loss.py``); kernels in ``kernels_loss.py``. Same semantics and cases
as the CPU lowering (``backends/cpu/lower_loss.py``):

* The pointwise losses are elementwise formulas (``elementwise.lower_loop``). ``binary_cross_entropy`` and
  ``gaussian_nll_loss`` first launch a value check (probabilities in [0, 1]; variances not negative), then their
  formula under the CPU backend's private name (``cpu.lower_loss.CHECKED``).
* ``loss_reduction`` (one block, ``rows.block_reduce``) and NLL / cross entropy (a thread per position, then one
  block for the reduction) over dense operands.
* The per-row losses (multilabel soft margin, cosine embedding, triplet margin, multi margin, multilabel margin):
  one thread per output row; operands are read through their (broadcast) strides when each group of dims (rows,
  classes or features) merges into one stride, else copied dense first.
* ``ctc_loss``: one block per sample, threads over the blank-extended targets, then a one-thread reduction.

A value the reference rejects (a class index or length out of range, ...) sets a flag (``em.value_check``): the call
then fails with the reference's located error. float16 and other dtypes run on the host, as on the CPU.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ...ir.node import Node
from ...ops.registry import TensorSpec, register_lowering
from ..cpu import lower_loss as cpu_loss  # registers the private formulas of the checked losses
from ..cpu.buffers import Buf, collapse, pad_dims
from . import elementwise
from . import kernels_loss as K
from .codegen import CudaEmitter
from .kernels_basic import emit_copy, strided_args
from .rows import row_threads

_MODES = {"none": 0, "sum": 1, "mean": 2}


def _float(*dtypes: np.dtype) -> bool:
    return all(np.dtype(d) in (np.float32, np.float64) for d in dtypes)


def _prod(shape: Sequence[int]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _floats_ok(em: CudaEmitter, node: Node, *names: str | None) -> bool:
    """The output and every given floating operand are float32/float64."""
    return _float(node.spec.dtype) and all(_float(em.graph[a].spec.dtype) for a in names
                                           if a is not None and em.graph[a].spec.dtype.kind == "f")


def _group_strides(b: Buf, cuts: Sequence[int]) -> tuple[int, ...] | None:
    """One stride per group of dims ``b.shape[cuts[k]:cuts[k + 1]]``, or None when a group does not merge."""
    out = []
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        shape, (st,) = collapse(b.shape[lo:hi], b.strides[lo:hi])
        if len(shape) > 1:
            return None
        out.append(st[0])
    return tuple(out)


def _grouped(em: CudaEmitter, name: str, shape: tuple[int, ...], cuts: Sequence[int]
             ) -> tuple[Buf, tuple[int, ...]] | None:
    """``name`` broadcast to ``shape`` and its group strides (see ``_group_strides``): the view itself when every
    group merges, else a dense copy; None when the copy is not possible (over 6 unmergeable dims)."""
    b = em.buf(name).broadcast_to(tuple(shape))
    st = _group_strides(b, cuts)
    if st is not None:
        return b, st
    dst = em.scratch(tuple(shape), b.dtype)
    if strided_args(dst, b) is None:
        return None
    emit_copy(em, b, dst)
    return dst, _group_strides(dst, cuts)  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------------------- reduction
@register_lowering("loss_reduction", "cuda")
def _loss_reduction(em: CudaEmitter, node: Node) -> bool:
    loss_name, w_name = node.args
    mode = {"sum": 0, "mean": 1, "batchmean": 2}.get(node.attrs["reduction"])
    x = em.buf(loss_name)
    if mode is None or not _float(x.dtype, node.spec.dtype) or \
            (w_name is not None and not _float(em.buf(w_name).dtype)):
        return False
    out = em.out(node)
    xd = em.dense(loss_name)
    w = em.dense(w_name) if w_name is not None else xd
    batch = x.shape[0] if x.ndim else 1
    em.launch_grid(K.loss_reduce, (1,), (row_threads(xd.size),), xd.size, xd, w, w.size, w_name is not None, mode,
                   batch, out)
    return True


# ---------------------------------------------------------------------------------------------- nll / cross entropy
@register_lowering("nll_loss", "cuda")
@register_lowering("cross_entropy", "cuda")
def _class_loss(em: CudaEmitter, node: Node) -> bool:
    """NLL / cross entropy against class indices (an index out of range is a value check: the reference raises) or,
    for cross entropy, class probabilities shaped like the input."""
    x_name, t_name, w_name = node.args
    xs, ts = em.graph[x_name].spec, em.graph[t_name].spec
    probs = node.target == "cross_entropy" and ts.dtype.kind == "f"
    if not _float(xs.dtype, node.spec.dtype) or (w_name is not None and not _float(em.graph[w_name].spec.dtype)) \
            or xs.ndim < 1 or not (ts.dtype.kind in "iu" or (probs and ts.shape == xs.shape and _float(ts.dtype))):
        return False
    outer, n_classes, inner = (1, xs.shape[0], 1) if xs.ndim == 1 else \
        (xs.shape[0], xs.shape[1], int(np.prod(xs.shape[2:], dtype=np.int64)))
    n = outer * inner
    mode = _MODES.get(node.attrs["reduction"])
    if n_classes == 0 or n == 0 or mode is None or (not probs and int(np.prod(ts.shape, dtype=np.int64)) != n):
        return False  # the reference raises or returns an empty/NaN result: the host reports it
    logits = node.target == "cross_entropy"
    eps = max(float(node.attrs.get("label_smoothing", 0.0)), 0.0) if logits else 0.0
    out = em.out(node)
    x, t = em.dense(x_name), em.dense(t_name)
    w = em.dense(w_name) if w_name is not None else x
    acc = em.scratch((3 * n,), np.dtype(np.float64))
    if probs:
        em.launch(K.class_prob_rows, n, n, x, t, w, w_name is not None, n_classes, inner, eps, mode == 0, out, acc)
        if mode:
            em.launch_grid(K.class_loss_total, (1,), (row_threads(n),), n, acc, mode == 2, False, eps, n_classes,
                           out)
        return True
    with em.value_check(f"{node.target}: a target class outside [0, {n_classes})") as flag:
        em.launch(K.class_index_rows, n, n, bool(logits), x, t, w, w_name is not None, n_classes, inner,
                  int(node.attrs["ignore_index"]), eps, flag, mode == 0, logits and eps > 0, out, acc)
    if mode:
        em.launch_grid(K.class_loss_total, (1,), (row_threads(n),), n, acc, mode == 2, logits and eps > 0, eps,
                       n_classes, out)
    return True


# ---------------------------------------------------------------------------------------------- checked pointwise
@register_lowering("binary_cross_entropy", "cuda")
@register_lowering("gaussian_nll_loss", "cuda")
def _checked(em: CudaEmitter, node: Node) -> bool:
    """Check the values the reference rejects (BCE: input and target in [0, 1]; Gaussian NLL: var >= 0), then the
    CPU backend's private formula as an elementwise loop."""
    if not _floats_ok(em, node, *node.args):
        return False
    nonneg = node.target == "gaussian_nll_loss"
    checks = []
    for name in (node.args[2],) if nonneg else node.args[:2]:
        b = em.buf(name)
        if b.size:
            shape, (st,) = collapse(b.shape, b.strides)
            if len(shape) > 6:
                return False
            shape, (st,) = pad_dims(shape, [st])
            checks.append((b, shape, st))
    what = "var with a negative entry" if nonneg else "a probability outside [0, 1]"
    with em.value_check(f"{node.target}: {what}") as flag:
        for b, shape, st in checks:
            em.launch(K.check_values, b.size, b.size, shape, b, st, nonneg, flag)
    steps = [(cpu_loss.CHECKED[node.target][0], dict(node.attrs),
              tuple(("none", 0) if a is None else ("in", i) for i, a in enumerate(node.args)))]
    return elementwise.lower_loop(em, node, [em.buf(a) for a in node.args], steps)


# ------------------------------------------------------------------------------------------------------ row losses
@register_lowering("multilabel_soft_margin_loss", "cuda")
def _multilabel_soft_margin(em: CudaEmitter, node: Node) -> bool:
    x_name, y_name, w_name = node.args
    x_spec: TensorSpec = em.graph[x_name].spec
    if not _floats_ok(em, node, *node.args) or x_spec.ndim < 1 or x_spec.shape[-1] == 0:
        return False  # over zero classes the reference divides 0 by 0: the host reports it
    full = tuple(np.broadcast_shapes(*(em.graph[a].spec.shape for a in node.args if a is not None)))
    axis = x_spec.ndim - 1
    out = em.out(node)
    if out.size == 0:
        return True
    cuts = (0, axis, axis + 1, len(full))
    views = [_grouped(em, a, full, cuts) for a in (x_name, y_name) + ((w_name,) if w_name is not None else ())]
    if any(v is None for v in views):
        return False
    (x, xs), (y, ys) = views[:2]
    w, ws = views[2] if w_name is not None else (x, xs)
    em.launch(K.multilabel_soft_margin, out.size, out.size, full[axis], _prod(full[axis + 1:]), x, xs, y, ys, w, ws,
              w_name is not None, float(x_spec.shape[-1]), out)
    return True


@register_lowering("cosine_embedding_loss", "cuda")
def _cosine_embedding(em: CudaEmitter, node: Node) -> bool:
    a_name, b_name, y_name = node.args
    if not _floats_ok(em, node, a_name, b_name):
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    d = np.broadcast_shapes(em.graph[a_name].spec.shape, em.graph[b_name].spec.shape)[-1]
    full = out.shape + (d,)
    cuts = (0, out.ndim, out.ndim + 1)
    views = [_grouped(em, a_name, full, cuts), _grouped(em, b_name, full, cuts),
             _grouped(em, y_name, out.shape, (0, out.ndim))]
    if any(v is None for v in views):
        return False
    (a, sa), (b, sb), (y, (ys,)) = views
    em.launch(K.cosine_embedding, out.size, out.size, d, a, sa, b, sb, y, ys, float(node.attrs["margin"]), out)
    return True


def _norm_code(p: float) -> int:
    if p == math.inf:
        return K.NORM_INF
    if p == -math.inf:
        return K.NORM_NEG_INF
    return {0.0: K.NORM_0, 1.0: K.NORM_1, 2.0: K.NORM_2}.get(p, K.NORM_P)


@register_lowering("triplet_margin_loss", "cuda")
def _triplet_margin(em: CudaEmitter, node: Node) -> bool:
    if not _floats_ok(em, node, *node.args):
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    d = np.broadcast_shapes(*(em.graph[a].spec.shape for a in node.args))[-1]
    full = out.shape + (d,)
    views = [_grouped(em, a, full, (0, out.ndim, out.ndim + 1)) for a in node.args]
    if any(v is None for v in views):
        return False
    (a, sa), (q, sq), (g, sg) = views
    p = float(node.attrs["norm"])
    em.launch(K.triplet_margin, out.size, out.size, d, a, sa, q, sq, g, sg, float(node.attrs["margin"]),
              float(node.attrs["eps"]), _norm_code(p), p, bool(node.attrs["swap"]), out)
    return True


def _class_rows(em: CudaEmitter, name: str) -> tuple[int, int, Buf, tuple[int, ...]] | None:
    """(rows, C, view, (row stride, class stride)) of a (N, C), (C,) or 0-d (C = 1) operand."""
    spec: TensorSpec = em.graph[name].spec
    n_classes = spec.shape[-1] if spec.ndim else 1
    v = _grouped(em, name, spec.shape, (0, max(spec.ndim - 1, 0), spec.ndim))
    return None if v is None or n_classes == 0 else (_prod(spec.shape) // n_classes, n_classes, *v)


@register_lowering("multi_margin_loss", "cuda")
def _multi_margin(em: CudaEmitter, node: Node) -> bool:
    x_name, t_name, w_name = node.args
    t_spec: TensorSpec = em.graph[t_name].spec
    if not _floats_ok(em, node, x_name, w_name) or t_spec.dtype.kind not in "iu":
        return False
    xr = _class_rows(em, x_name)
    if xr is None or _prod(t_spec.shape) != xr[0]:
        return False
    rows, n_classes, x, xs = xr
    out = em.out(node)
    if rows == 0:
        return True
    tv = _grouped(em, t_name, t_spec.shape, (0, t_spec.ndim))
    wv = _grouped(em, w_name, em.graph[w_name].spec.shape, (0, em.graph[w_name].spec.ndim)) \
        if w_name is not None else (x, (0,))
    if tv is None or wv is None:
        return False
    (t, (ts,)), (w, (ws,)) = tv, wv
    with em.value_check(f"multi_margin_loss: a target class outside [0, {n_classes})") as flag:
        em.launch(K.multi_margin, rows, rows, n_classes, x, xs, t, ts, w, ws, w_name is not None,
                  int(node.attrs["p"]), float(node.attrs["margin"]), flag, out)
    return True


@register_lowering("multilabel_margin_loss", "cuda")
def _multilabel_margin(em: CudaEmitter, node: Node) -> bool:
    x_name, t_name = node.args
    x_spec, t_spec = em.graph[x_name].spec, em.graph[t_name].spec
    if not _floats_ok(em, node, x_name) or t_spec.dtype.kind not in "iu" or t_spec.shape != x_spec.shape:
        return False
    xr, tr = _class_rows(em, x_name), _class_rows(em, t_name)
    if xr is None or tr is None:
        return False
    rows, n_classes, x, xs = xr
    out = em.out(node)
    if rows == 0:
        return True
    with em.value_check(f"multilabel_margin_loss: a target outside [-1, {n_classes})") as flag:
        em.launch(K.multilabel_margin, rows, rows, n_classes, x, xs, tr[2], tr[3], flag, out)
    return True


# ------------------------------------------------------------------------------------------------------------- CTC
@register_lowering("ctc_loss", "cuda")
def _ctc(em: CudaEmitter, node: Node) -> bool:
    """One block per sample (``ctc_alpha``), then ``ctc_finish``; lengths and targets are checked on the device."""
    lp_name, tg_name, il_name, tl_name = node.args
    lp_spec: TensorSpec = em.graph[lp_name].spec
    specs = [em.graph[a].spec for a in (tg_name, il_name, tl_name)]
    mode = _MODES.get(node.attrs["reduction"])
    if not _floats_ok(em, node, lp_name) or lp_spec.ndim != 3 or any(s.dtype.kind not in "iu" for s in specs) \
            or mode is None:
        return False
    tg_spec, il_spec, tl_spec = specs
    T, n, n_classes = lp_spec.shape
    blank = int(node.attrs["blank"])
    padded = tg_spec.ndim == 2
    if _prod(il_spec.shape) != n or _prod(tl_spec.shape) != n or tg_spec.ndim not in (1, 2) or n == 0 \
            or (padded and tg_spec.shape[0] != n) or not 0 <= blank < n_classes:
        return False  # the reference reports the mismatch
    lp = em.buf(lp_name)
    views = [_grouped(em, a, em.graph[a].spec.shape, (0, em.graph[a].spec.ndim)) for a in (il_name, tl_name)]
    if views[0] is None or views[1] is None:
        return False
    if padded:
        views.append(_grouped(em, tg_name, tg_spec.shape, (0, 1, 2)))
    elif tg_spec.shape[0]:
        views.append(_grouped(em, tg_name, tg_spec.shape, (0, 1)))
    else:  # no targets at all: never read (an integer placeholder keeps the kernel's typing)
        views.append((views[0][0], (0,)))
    if views[2] is None:
        return False
    (il, (ils,)), (tl, (tls,)), (tg, tst) = views
    width = tg_spec.shape[-1]  # padded: the columns; concatenated: the targets in all (a bound on each length)
    row, step = (tst[0], tst[1]) if padded else (0, tst[0])
    M = 2 * width + 1
    out = em.out(node)
    alpha = em.scratch((n * 2 * M,), np.dtype(np.float64))
    loss = em.scratch((n,), np.dtype(np.float64))
    threads = min(256, 32 * ((M + 31) // 32))
    with em.value_check("ctc_loss: a length or target class out of range") as flag:
        em.launch_grid(K.ctc_alpha, (n,), (threads,), T, n_classes, M, lp, lp.strides, tg, row, step, padded,
                       width, il, ils, tl, tls, blank, alpha, loss, flag)
        em.launch_grid(K.ctc_finish, (1,), (1,), n, loss, tl, tls, padded, tg_spec.shape[0],
                       bool(node.attrs["zero_infinity"]), mode, flag, out)
    return True
