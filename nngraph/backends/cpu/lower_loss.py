"""CPU lowering of the losses (ops/loss.py). Kernels are in ``kernels_loss.py``.

* Pointwise losses (l1, mse, huber, smooth_l1, poisson_nll, kl_div, bce_with_logits, soft_margin, hinge_embedding,
  margin_ranking, triplet_hinge) are scalar formulas added to the elementwise table (``elementwise.SCALAR``): they
  lower to one generated loop and also work inside fused elementwise nodes.
* ``binary_cross_entropy`` and ``gaussian_nll_loss`` check values first (probabilities in [0, 1], variances not
  negative: the reference raises), then run their formula as a loop. A formula cannot raise, so their formulas are
  in the table under private names only: a *fused* elementwise node containing one of them runs on the host.
* Per-row losses (cross_entropy, nll_loss, multilabel_soft_margin, cosine_embedding, triplet_margin, multi_margin,
  multilabel_margin, ctc) and ``loss_reduction`` are kernels over dense operands, summing in float64.

float16 stays on the host (the reference computes it in float32 and rounds); so do cross entropy and NLL over
zero classes (the reference raises: the host reports it).
"""
from __future__ import annotations

import math

import numpy as np

from ...ir.node import Node
from ...ops.registry import TensorSpec, register_lowering
from . import elementwise
from . import kernels_loss as K
from .buffers import Buf, collapse, pad_dims
from .codegen import Emitter
from .kernels_basic import emit_copy

PARALLEL_MIN = 1 << 15  # elements of work below which kernels run serially
_MODES = {"none": K.NONE, "sum": K.SUM, "mean": K.MEAN, "batchmean": K.BATCHMEAN}


def _float(dtype: np.dtype) -> bool:
    return np.dtype(dtype) in (np.float32, np.float64)


def _prod(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _floats_ok(em: Emitter, node: Node, *names: str | None) -> bool:
    """The output and every given floating operand are float32/float64."""
    if not _float(node.spec.dtype):
        return False
    for a in names:
        if a is not None:
            dt = em.graph[a].spec.dtype
            if dt.kind == "f" and not _float(dt):
                return False
    return True


def _full(em: Emitter, name: str, shape: tuple[int, ...]) -> Buf:
    """``name`` broadcast to ``shape`` as a dense buffer (copied into scratch unless it already is one)."""
    b = em.buf(name)
    if b.shape == tuple(shape) and b.contiguous:
        return b
    dst = em.scratch(shape, b.dtype)
    emit_copy(em, b.broadcast_to(tuple(shape)), dst)
    return dst


def _optional(em: Emitter, name: str | None, like: Buf, shape: tuple[int, ...] | None = None) -> tuple[Buf, bool]:
    """A dense Buf for an optional operand (broadcast to ``shape`` if given), or ``like`` as a never-read
    placeholder and False."""
    if name is None:
        return like, False
    return (em.dense(name) if shape is None else _full(em, name, shape)), True


# ---------------------------------------------------------------------------------------------- pointwise losses
def _max_nan(e: str, z: str) -> str:
    """np.maximum(e, z) for a scalar expression e: NaN propagates."""
    return f"({e} if ({e} > {z} or {e} != {e}) else {z})"


def _min_nan(e: str, z: str) -> str:
    return f"({e} if ({e} < {z} or {e} != {e}) else {z})"


def _weighted(expr: str, w: str | None) -> str:
    return expr if w is None else f"({expr} * {w})"


def _huber(a: list, k: dict, L) -> str:  # noqa: ANN001
    z, d = f"abs({a[0]} - {a[1]})", k["delta"]
    return _weighted(f"({L(0.5)} * {z} * {z} if {z} < {L(d)} else {L(d)} * ({z} - {L(0.5 * d)}))", a[2])


def _smooth_l1(a: list, k: dict, L) -> str:  # noqa: ANN001
    z, b = f"abs({a[0]} - {a[1]})", k["beta"]
    if b == 0:
        return z
    return f"({L(0.5)} * {z} * {z} / {L(b)} if {z} < {L(b)} else {z} - {L(0.5 * b)})"


def _poisson(a: list, k: dict, L) -> str:  # noqa: ANN001
    x, y = a[0], a[1]
    loss = f"(math.exp({x}) - {y} * {x})" if k["log_input"] else f"({x} - {y} * np.log({x} + {L(k['eps'])}))"
    if k["full"]:  # Stirling's approximation of log(target!), counted for target > 1
        loss = f"({loss} + ({y} * np.log({y}) - {y} + {L(0.5)} * np.log({L(2 * math.pi)} * {y}) " \
               f"if {y} > {L(1)} else {L(0)}))"
    return loss


def _gaussian(a: list, k: dict, L) -> str:  # noqa: ANN001
    v = _max_nan(a[2], L(k["eps"]))
    loss = f"({L(0.5)} * (np.log({v}) + ({a[0]} - {a[1]}) * ({a[0]} - {a[1]}) / {v}))"
    return f"({loss} + {L(0.5 * math.log(2 * math.pi))})" if k["full"] else loss


def _kl_div(a: list, k: dict, L) -> str:  # noqa: ANN001
    x, y = a[0], a[1]
    if k["log_target"]:
        return f"(math.exp({y}) * ({y} - {x}))"
    return f"(({L(0)} if {y} == {L(0)} else {y} * np.log({y})) - {y} * {x})"


def _bce(a: list, k: dict, L) -> str:  # noqa: ANN001
    x, y = a[0], a[1]
    loss = f"(({y} - {L(1)}) * max(np.log1p(-{x}), {L(-100)}) - {y} * max(np.log({x}), {L(-100)}))"
    return _weighted(loss, a[2])


def _log_sigmoid(x: str, L) -> str:  # noqa: ANN001
    return f"(min({x}, {L(0)}) - np.log1p(math.exp(-abs({x}))))"


def _bce_logits(a: list, k: dict, L) -> str:  # noqa: ANN001
    x, y, w, pw = a
    log_sig = _log_sigmoid(x, L)
    if pw is not None:
        log_sig = f"({log_sig} * (({pw} - {L(1)}) * {y} + {L(1)}))"
    return _weighted(f"(({L(1)} - {y}) * {x} - {log_sig})", w)


def _soft_margin(a: list, k: dict, L) -> str:  # noqa: ANN001
    z = f"(-{a[1]} * {a[0]})"
    return f"(max({z}, {L(0)}) + np.log1p(math.exp(-abs({z}))))"


def _hinge_embedding(a: list, k: dict, L) -> str:  # noqa: ANN001
    x, y = a[0], a[1]
    hinge = _max_nan(f"({L(k['margin'])} - {x})", L(0))
    return f"(({hinge} if {y} != 1 else {L(0)}) + ({x} if {y} != -1 else {L(0)}))"


def _margin_ranking(a: list, k: dict, L) -> str:  # noqa: ANN001
    return _max_nan(f"(-{a[2]} * ({a[0]} - {a[1]}) + {L(k['margin'])})", L(0))


def _triplet_hinge(a: list, k: dict, L) -> str:  # noqa: ANN001
    d_neg = a[1] if a[2] is None else _min_nan(a[1], a[2])
    return _max_nan(f"({L(k['margin'])} + {a[0]} - {d_neg})", L(0))


POINTWISE = {
    "l1_loss": lambda a, k, L: _weighted(f"abs({a[0]} - {a[1]})", a[2]),
    "mse_loss": lambda a, k, L: _weighted(f"(({a[0]} - {a[1]}) * ({a[0]} - {a[1]}))", a[2]),
    "huber_loss": _huber,
    "smooth_l1_loss": _smooth_l1,
    "poisson_nll_loss": _poisson,
    "kl_div": _kl_div,
    "binary_cross_entropy_with_logits": _bce_logits,
    "soft_margin_loss": _soft_margin,
    "hinge_embedding_loss": _hinge_embedding,
    "margin_ranking_loss": _margin_ranking,
    "triplet_hinge": _triplet_hinge,
}
# Formulas whose op checks values first (see the module docstring): private names, never a fused step.
CHECKED = {"binary_cross_entropy": ("binary_cross_entropy:unchecked", _bce),
           "gaussian_nll_loss": ("gaussian_nll_loss:unchecked", _gaussian)}

elementwise.SCALAR.update(POINTWISE)
elementwise.SCALAR.update(dict(CHECKED.values()))
elementwise.register()  # lowers the new table entries (idempotent; the package calls it again)


def _check_values(em: Emitter, name: str, mode: int) -> bool:
    b = em.buf(name)
    if b.size == 0:
        return True
    shape, (st,) = collapse(b.shape, b.strides)
    if len(shape) > 6:
        return False
    shape, (st,) = pad_dims(shape, [st])
    em.call(K.check_values, mode, b, shape, st)
    return True


def _checked(em: Emitter, node: Node) -> bool:
    """binary_cross_entropy / gaussian_nll_loss: check values, then the formula's loop."""
    if not _floats_ok(em, node, *node.args):
        return False
    checks = ((node.args[0], K.CHECK_UNIT), (node.args[1], K.CHECK_UNIT)) \
        if node.target == "binary_cross_entropy" else ((node.args[2], K.CHECK_NONNEG),)
    for name, mode in checks:
        if not _check_values(em, name, mode):
            return False
    steps = [(CHECKED[node.target][0], dict(node.attrs),
              tuple(("none", 0) if a is None else ("in", i) for i, a in enumerate(node.args)))]
    return elementwise.lower_loop(em, node, [em.buf(a) for a in node.args], steps)


for _name in CHECKED:
    register_lowering(_name, "cpu")(_checked)


# --------------------------------------------------------------------------------------------------- reduction
@register_lowering("loss_reduction", "cpu")
def _loss_reduction(em: Emitter, node: Node) -> bool:
    loss, weight = node.args
    if not _floats_ok(em, node, loss, weight) or em.graph[loss].spec.dtype.kind != "f":
        return False
    x = em.dense(loss)
    w, has_w = _optional(em, weight, x)
    count = x.shape[0] if x.ndim else 1
    em.call(K.reduce_loss, x, x.size, w, w.size, has_w, _MODES[node.attrs["reduction"]], count, em.out(node),
            x.size >= PARALLEL_MIN)
    return True


# ------------------------------------------------------------------------------------------ nll / cross entropy
def _class_layout(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(outer, C, inner) of a (C,) or (N, C, d1, ...) input."""
    if len(shape) == 1:
        return 1, shape[0], 1
    return shape[0], shape[1], _prod(shape[2:])


def _class_loss(em: Emitter, node: Node) -> bool:
    x_name, t_name, w_name = node.args
    t_spec: TensorSpec = em.graph[t_name].spec
    x_spec: TensorSpec = em.graph[x_name].spec
    if not _floats_ok(em, node, x_name, t_name, w_name) or x_spec.ndim < 1 or t_spec.dtype.kind not in "iuf":
        return False
    outer, n_classes, inner = _class_layout(x_spec.shape)
    if n_classes == 0:
        return False  # the reference raises (max / take over no classes): the host reports it
    x = em.dense(x_name)
    t = em.dense(t_name)
    w, has_w = _optional(em, w_name, x)
    mode = _MODES[node.attrs["reduction"]]
    par = x.size >= PARALLEL_MIN and outer * inner >= 2
    out = em.out(node)
    if t_spec.dtype.kind == "f":  # class probabilities (cross_entropy only)
        if t.shape != x.shape:
            return False
        em.call(K.class_prob_loss, x, t, w, has_w, outer, n_classes, inner,
                max(float(node.attrs["label_smoothing"]), 0.0), mode, out, par)
        return True
    if t.size != outer * inner:
        return False
    logits = node.target == "cross_entropy"
    eps = max(float(node.attrs["label_smoothing"]), 0.0) if logits else 0.0
    em.call(K.class_index_loss, logits, x, t, w, has_w, outer, n_classes, inner, int(node.attrs["ignore_index"]), eps,
            mode, out, par)
    return True


register_lowering("nll_loss", "cpu")(_class_loss)
register_lowering("cross_entropy", "cpu")(_class_loss)


# ------------------------------------------------------------------------------------------------- row losses
@register_lowering("multilabel_soft_margin_loss", "cpu")
def _multilabel_soft_margin(em: Emitter, node: Node) -> bool:
    x_name, y_name, w_name = node.args
    if not _floats_ok(em, node, *node.args):
        return False
    x_spec: TensorSpec = em.graph[x_name].spec
    full = tuple(np.broadcast_shapes(*(em.graph[a].spec.shape for a in node.args if a is not None)))
    axis = x_spec.ndim - 1
    if axis < 0 or x_spec.shape[-1] == 0:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    x, y = _full(em, x_name, full), _full(em, y_name, full)
    w, has_w = _optional(em, w_name, x, full)
    em.call(K.multilabel_soft_margin, x, y, w, has_w, _prod(full[:axis]), full[axis], _prod(full[axis + 1:]),
            float(x_spec.shape[-1]), out)
    return True


@register_lowering("cosine_embedding_loss", "cpu")
def _cosine_embedding(em: Emitter, node: Node) -> bool:
    a, b, y_name = node.args
    if not _floats_ok(em, node, a, b):
        return False
    out = em.out(node)
    d = np.broadcast_shapes(em.graph[a].spec.shape, em.graph[b].spec.shape)[-1]
    full = out.shape + (d,)
    if out.size == 0:
        return True
    em.call(K.cosine_embedding, _full(em, a, full), _full(em, b, full), _full(em, y_name, out.shape), out.size, d,
            float(node.attrs["margin"]), out)
    return True


def _norm_code(p: float) -> tuple[int, float]:
    if p == math.inf:
        return K.NORM_INF, p
    if p == -math.inf:
        return K.NORM_NEG_INF, p
    return {0.0: K.NORM_0, 1.0: K.NORM_1, 2.0: K.NORM_2}.get(p, K.NORM_P), p


@register_lowering("triplet_margin_loss", "cpu")
def _triplet_margin(em: Emitter, node: Node) -> bool:
    if not _floats_ok(em, node, *node.args):
        return False
    out = em.out(node)
    d = np.broadcast_shapes(*(em.graph[a].spec.shape for a in node.args))[-1]
    if out.size == 0:
        return True
    full = out.shape + (d,)
    anchor, pos, neg = (_full(em, a, full) for a in node.args)
    norm, p = _norm_code(float(node.attrs["norm"]))
    em.call(K.triplet_margin, anchor, pos, neg, out.size, d, float(node.attrs["margin"]), float(node.attrs["eps"]),
            norm, p, bool(node.attrs["swap"]), out)
    return True


@register_lowering("multi_margin_loss", "cpu")
def _multi_margin(em: Emitter, node: Node) -> bool:
    x_name, t_name, w_name = node.args
    x_spec: TensorSpec = em.graph[x_name].spec
    if not _floats_ok(em, node, x_name, w_name) or em.graph[t_name].spec.dtype.kind not in "iu":
        return False
    n_classes = x_spec.shape[-1] if x_spec.ndim else 1
    rows = _prod(x_spec.shape) // n_classes if n_classes else 0
    out = em.out(node)
    if n_classes == 0 or _prod(em.graph[t_name].spec.shape) != rows:
        return False
    x = em.dense(x_name)
    w, has_w = _optional(em, w_name, x)
    em.call(K.multi_margin, x, em.dense(t_name), w, has_w, rows, n_classes, int(node.attrs["p"]),
            float(node.attrs["margin"]), out)
    return True


@register_lowering("multilabel_margin_loss", "cpu")
def _multilabel_margin(em: Emitter, node: Node) -> bool:
    x_name, t_name = node.args
    x_spec: TensorSpec = em.graph[x_name].spec
    t_spec: TensorSpec = em.graph[t_name].spec
    if not _floats_ok(em, node, x_name) or t_spec.dtype.kind not in "iu" or _prod(t_spec.shape) != _prod(x_spec.shape):
        return False
    n_classes = x_spec.shape[-1] if x_spec.ndim else 1
    if n_classes == 0:
        return False
    rows = _prod(x_spec.shape) // n_classes
    out = em.out(node)
    if rows == 0:
        return True
    is_target = em.scratch((rows * n_classes,), np.uint8)
    em.call(K.multilabel_margin, em.dense(x_name), em.dense(t_name), is_target, rows, n_classes, out)
    return True


# ---------------------------------------------------------------------------------------------------------- CTC
@register_lowering("ctc_loss", "cpu")
def _ctc(em: Emitter, node: Node) -> bool:
    lp_name, tg_name, il_name, tl_name = node.args
    lp_spec: TensorSpec = em.graph[lp_name].spec
    specs = [em.graph[a].spec for a in (tg_name, il_name, tl_name)]
    if not _floats_ok(em, node, lp_name) or lp_spec.ndim != 3 or any(s.dtype.kind not in "iu" for s in specs):
        return False
    tg_spec, il_spec, tl_spec = specs
    T, n, n_classes = lp_spec.shape
    if _prod(il_spec.shape) != n or _prod(tl_spec.shape) != n or tg_spec.ndim not in (1, 2) or n == 0:
        return False  # the reference reports the mismatch
    if tg_spec.ndim == 2 and tg_spec.shape[0] != n:
        return False
    padded = tg_spec.ndim == 2
    width = tg_spec.shape[1] if padded else 0
    par = n >= 2 and T * n * max(width, 1) >= PARALLEL_MIN
    em.call(K.ctc, em.dense(lp_name), T, n, n_classes, em.dense(tg_name), padded, width, _prod(tg_spec.shape),
            em.dense(il_name), em.dense(tl_name), int(node.attrs["blank"]), bool(node.attrs["zero_infinity"]),
            _MODES[node.attrs["reduction"]], em.out(node), par)
    return True
