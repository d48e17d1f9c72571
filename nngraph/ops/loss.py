"""Loss primitives.

Pointwise losses (``l1_loss``, ``bce_with_logits``, ...) return the unreduced loss in the input's dtype and are
followed by ``loss_reduction``; losses whose reduction is not a plain sum or mean (``nll_loss``, ``cross_entropy``,
``ctc_loss``) take ``reduction`` as an attribute. Value-dependent checks (class indices in range, probabilities in
[0, 1], sequence lengths) happen here, since ``F`` only sees shapes under the tracer.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import InputError, shape_str
from .registry import Fusion, TensorSpec, defop

# --------------------------------------------------------------------------------------------------------- helpers


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    """float16 computes in float32 and is cast back."""
    return np.dtype(np.float32) if np.dtype(dtype) == np.float16 else np.dtype(dtype)


def _f(x: Any, dtype: np.dtype) -> np.ndarray | None:
    """``x`` as an array of the compute dtype (``None`` stays ``None``)."""
    return None if x is None else np.asarray(x, dtype=_compute_dtype(dtype))


def _out(x: Any, dtype: np.dtype) -> np.ndarray:
    return np.asarray(x).astype(dtype, copy=False)


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): no overflow for any finite x."""
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) without overflow."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _safe_div(num: np.ndarray, den: Any) -> np.ndarray:
    """num / den where 0 / 0 is nan without a warning (torch's mean over nothing)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.divide(num, den)


def _pointwise_spec(*specs: TensorSpec | None, **_: Any) -> TensorSpec:
    present = [s for s in specs if s is not None]
    return TensorSpec(np.broadcast_shapes(*(s.shape for s in present)), specs[0].dtype)


def _scalar_spec(x: TensorSpec, *_: Any, **__: Any) -> TensorSpec:
    return TensorSpec((), x.dtype)


def _check_classes(who: str, target: np.ndarray, n_classes: int, ignore_index: int | None = None) -> None:
    """Raise unless every (non-ignored) target index lies in [0, n_classes)."""
    bad = (target < 0) | (target >= n_classes)
    if ignore_index is not None:
        bad &= target != ignore_index
    if np.any(bad):
        extra = f" or ignore_index {ignore_index}" if ignore_index is not None else ""
        raise InputError(who, f"class indices in [0, {n_classes - 1}]{extra}", f"target value {int(target[bad][0])}")


# ------------------------------------------------------------------------------------------------------- reduction


@defop("loss_reduction", fusion=Fusion.REDUCTION, shape=_scalar_spec)
def loss_reduction(loss: np.ndarray, weight: np.ndarray | None, *, reduction: str) -> np.ndarray:
    """Reduce an unreduced loss to a 0-d array.

    ``'sum'``; ``'mean'``: sum / number of elements, or sum / sum(weight) when ``weight`` is given (torch's weighted
    mean); ``'batchmean'``: sum / loss.shape[0]. The mean over nothing is nan.
    """
    x = _f(loss, loss.dtype)
    total = np.sum(x)
    if reduction == "sum":
        return _out(total, loss.dtype)
    if reduction == "mean":
        den = x.size if weight is None else np.sum(_f(weight, loss.dtype))
    elif reduction == "batchmean":
        den = x.shape[0] if x.ndim else 1
    else:
        raise ValueError(f"unknown reduction {reduction!r}")
    return _out(_safe_div(total, den), loss.dtype)


# ------------------------------------------------------------------------------------------------------- regression


@defop("l1_loss", fusion=Fusion.BROADCAST, shape=_pointwise_spec)
def l1_loss(input: np.ndarray, target: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """|input - target| (times ``weight``)."""
    dt = input.dtype
    loss = np.abs(_f(input, dt) - _f(target, dt))
    return _out(loss if weight is None else loss * _f(weight, dt), dt)


@defop("mse_loss", fusion=Fusion.BROADCAST, shape=_pointwise_spec)
def mse_loss(input: np.ndarray, target: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """(input - target)^2 (times ``weight``)."""
    dt = input.dtype
    d = _f(input, dt) - _f(target, dt)
    loss = d * d
    return _out(loss if weight is None else loss * _f(weight, dt), dt)


@defop("huber_loss", fusion=Fusion.BROADCAST, shape=_pointwise_spec)
def huber_loss(input: np.ndarray, target: np.ndarray, weight: np.ndarray | None, *, delta: float) -> np.ndarray:
    """0.5 z^2 for z = |input - target| < delta, else delta (z - delta / 2) (times ``weight``)."""
    dt = input.dtype
    z = np.abs(_f(input, dt) - _f(target, dt))
    loss = np.where(z < delta, 0.5 * z * z, delta * (z - 0.5 * delta))
    return _out(loss if weight is None else loss * _f(weight, dt), dt)


@defop("smooth_l1_loss", fusion=Fusion.BROADCAST, shape=_pointwise_spec)
def smooth_l1_loss(input: np.ndarray, target: np.ndarray, *, beta: float) -> np.ndarray:
    """0.5 z^2 / beta for z = |input - target| < beta, else z - beta / 2 (plain |z| when beta is 0)."""
    dt = input.dtype
    z = np.abs(_f(input, dt) - _f(target, dt))
    if beta == 0:
        return _out(z, dt)
    return _out(np.where(z < beta, 0.5 * z * z / beta, z - 0.5 * beta), dt)


@defop("poisson_nll_loss", fusion=Fusion.BROADCAST, shape=_pointwise_spec)
def poisson_nll_loss(input: np.ndarray, target: np.ndarray, *, log_input: bool, full: bool, eps: float) -> np.ndarray:
    """exp(input) - target * input (log_input) or input - target * log(input + eps); ``full`` adds Stirling's term."""
    dt = input.dtype
    x, y = _f(input, dt), _f(target, dt)
    if log_input:
        loss = np.exp(x) - y * x
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            loss = x - y * np.log(x + eps)
    if full:
        # Stirling approximation of log(target!), only counted for target > 1.
        big = y > 1
        ys = np.where(big, y, 1)
        loss = loss + np.where(big, ys * np.log(ys) - ys + 0.5 * np.log(2 * math.pi * ys), 0)
    return _out(loss, dt)


@defop("gaussian_nll_loss", fusion=Fusion.BROADCAST, shape=_pointwise_spec)
def gaussian_nll_loss(input: np.ndarray, target: np.ndarray, var: np.ndarray, *, full: bool, eps: float) -> np.ndarray:
    """0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ 0.5 log(2 pi) when ``full``)."""
    dt = input.dtype
    v = _f(var, dt)
    if np.any(v < 0):
        raise InputError("gaussian_nll_loss", "var with non-negative entries", f"min(var) = {float(np.min(v))}")
    v = np.maximum(v, eps)
    d = _f(input, dt) - _f(target, dt)
    loss = 0.5 * (np.log(v) + d * d / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _out(loss, dt)


@defop("kl_div", fusion=Fusion.BROADCAST, shape=_pointwise_spec)
def kl_div(input: np.ndarray, target: np.ndarray, *, log_target: bool) -> np.ndarray:
    """target * (log(target) - input) with 0 log 0 = 0; target given as log-probabilities when ``log_target``."""
    dt = input.dtype
    x, y = _f(input, dt), _f(target, dt)
    if log_target:
        return _out(np.exp(y) * (y - x), dt)
    with np.errstate(invalid="ignore", divide="ignore"):  # negative targets give nan, as in torch
        ylogy = np.where(y == 0, 0, y * np.log(np.where(y == 0, 1, y)))
    return _out(ylogy - y * x, dt)


# ------------------------------------------------------------------------------------------------- binary / margin


@defop("binary_cross_entropy", fusion=Fusion.BROADCAST, shape=_pointwise_spec)
def binary_cross_entropy(input: np.ndarray, target: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """-(target log(input) + (1 - target) log(1 - input)), each log clamped at -100 as in torch."""
    dt = input.dtype
    x, y = _f(input, dt), _f(target, dt)
    for name, a in (("input", x), ("target", y)):
        if not np.all((a >= 0) & (a <= 1)):
            bad = a[~((a >= 0) & (a <= 1))][0]
            raise InputError("binary_cross_entropy", f"{name} values in [0, 1]", f"{name} value {float(bad)}")
    with np.errstate(divide="ignore"):
        log_x = np.maximum(np.log(x), -100)
        log_1mx = np.maximum(np.log1p(-x), -100)
    loss = (y - 1) * log_1mx - y * log_x
    return _out(loss if weight is None else loss * _f(weight, dt), dt)


@defop("binary_cross_entropy_with_logits", fusion=Fusion.BROADCAST, shape=_pointwise_spec)
def binary_cross_entropy_with_logits(input: np.ndarray, target: np.ndarray, weight: np.ndarray | None,
                                     pos_weight: np.ndarray | None) -> np.ndarray:
    """(1 - target) x - (1 + (pos_weight - 1) target) log_sigmoid(x) (times ``weight``)."""
    dt = input.dtype
    x, y = _f(input, dt), _f(target, dt)
    log_sig = _log_sigmoid(x)
    if pos_weight is not None:
        log_sig = log_sig * ((_f(pos_weight, dt) - 1) * y + 1)
    loss = (1 - y) * x - log_sig
    return _out(loss if weight is None else loss * _f(weight, dt), dt)


@defop("soft_margin_loss", fusion=Fusion.BROADCAST, shape=_pointwise_spec)
def soft_margin_loss(input: np.ndarray, target: np.ndarray) -> np.ndarray:
    """log(1 + exp(-target * input))."""
    dt = input.dtype
    return _out(_softplus(-_f(target, dt) * _f(input, dt)), dt)


@defop("hinge_embedding_loss", fusion=Fusion.BROADCAST, shape=_pointwise_spec)
def hinge_embedding_loss(input: np.ndarray, target: np.ndarray, *, margin: float) -> np.ndarray:
    """input where target is 1, max(0, margin - input) where target is -1 (both terms for other targets)."""
    dt = input.dtype
    x, y = _f(input, dt), np.asarray(target)
    loss = np.where(y != 1, np.maximum(margin - x, 0), 0) + np.where(y != -1, x, 0)
    return _out(loss, dt)


@defop("margin_ranking_loss", fusion=Fusion.BROADCAST, shape=_pointwise_spec)
def margin_ranking_loss(input1: np.ndarray, input2: np.ndarray, target: np.ndarray, *, margin: float) -> np.ndarray:
    """max(0, -target (input1 - input2) + margin)."""
    dt = input1.dtype
    return _out(np.maximum(-_f(target, dt) * (_f(input1, dt) - _f(input2, dt)) + margin, 0), dt)


def _cosine_spec(x1: TensorSpec, x2: TensorSpec, target: TensorSpec, **_: Any) -> TensorSpec:
    return TensorSpec(np.broadcast_shapes(np.broadcast_shapes(x1.shape, x2.shape)[:-1], target.shape), x1.dtype)


@defop("cosine_embedding_loss", fusion=Fusion.REDUCTION, shape=_cosine_spec)
def cosine_embedding_loss(input1: np.ndarray, input2: np.ndarray, target: np.ndarray, *, margin: float) -> np.ndarray:
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where target is -1, 0 elsewhere."""
    dt = input1.dtype
    x1, x2, y = _f(input1, dt), _f(input2, dt), np.asarray(target)
    eps = 1e-12  # torch's EPSILON, added to each squared norm
    cos = np.sum(x1 * x2, axis=-1) / np.sqrt((np.sum(x1 * x1, axis=-1) + eps) * (np.sum(x2 * x2, axis=-1) + eps))
    loss = np.where(y == 1, 1 - cos, 0) + np.where(y == -1, np.maximum(cos - margin, 0), 0)
    return _out(loss, dt)


def _mlsm_spec(x: TensorSpec, target: TensorSpec, weight: TensorSpec | None, **_: Any) -> TensorSpec:
    full = _pointwise_spec(x, target, weight).shape
    axis = x.ndim - 1
    return TensorSpec(full[:axis] + full[axis + 1:], x.dtype)


@defop("multilabel_soft_margin_loss", fusion=Fusion.REDUCTION, shape=_mlsm_spec)
def multilabel_soft_margin_loss(input: np.ndarray, target: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """Mean over the class (last) axis of -(y log_sigmoid(x) + (1 - y) log_sigmoid(-x)) (times ``weight``)."""
    dt = input.dtype
    x, y = _f(input, dt), _f(target, dt)
    loss = -(y * _log_sigmoid(x) + (1 - y) * _log_sigmoid(-x))
    if weight is not None:
        loss = loss * _f(weight, dt)
    return _out(np.sum(loss, axis=input.ndim - 1) / input.shape[-1], dt)


def _frames_spec(x: TensorSpec, target: TensorSpec, *_: Any, **__: Any) -> TensorSpec:
    return TensorSpec((x.shape[0],) if x.ndim == 2 else (), x.dtype)


@defop("multilabel_margin_loss", fusion=Fusion.OPAQUE, shape=_frames_spec)
def multilabel_margin_loss(input: np.ndarray, target: np.ndarray) -> np.ndarray:
    """sum_{j in targets, i not in targets} max(0, 1 - (x[j] - x[i])) / C per sample.

    ``target`` holds class indices, ended by the first -1; loss shape (N,) for (N, C) input, () otherwise.
    """
    dt = input.dtype
    n_classes = input.shape[-1] if input.ndim else 1
    x = _f(input, dt).reshape(-1, n_classes)
    t = np.asarray(target).reshape(-1, n_classes)
    bad = (t < -1) | (t >= n_classes)
    if np.any(bad):
        raise InputError("multilabel_margin_loss", f"target values in [-1, {n_classes - 1}]",
                         f"target value {int(t[bad][0])}")
    listed = np.cumsum(t < 0, axis=1) == 0  # the entries before the first -1
    idx = np.where(listed, t, 0)
    is_target = np.any((idx[:, :, None] == np.arange(n_classes)) & listed[:, :, None], axis=1)  # (N, C)
    x_target = np.take_along_axis(x, idx, axis=1)  # (N, J)
    hinge = np.maximum(1 - x_target[:, :, None] + x[:, None, :], 0)  # (N, J, C)
    hinge = np.where(listed[:, :, None] & ~is_target[:, None, :], hinge, 0)
    loss = np.sum(hinge, axis=(1, 2)) / n_classes
    return _out(loss if input.ndim == 2 else loss.reshape(()), dt)


def _mm_spec(x: TensorSpec, target: TensorSpec, *_: Any, **__: Any) -> TensorSpec:
    return TensorSpec((x.shape[0] if x.ndim == 2 else 1,) if target.ndim else (), x.dtype)


@defop("multi_margin_loss", fusion=Fusion.OPAQUE, shape=_mm_spec)
def multi_margin_loss(input: np.ndarray, target: np.ndarray, weight: np.ndarray | None, *, p: int,
                      margin: float) -> np.ndarray:
    """sum_{i != y} w[y] max(0, margin - x[y] + x[i])^p / C per sample; shape (N,) unless ``target`` is 0-d."""
    dt = input.dtype
    n_classes = input.shape[-1] if input.ndim else 1
    x = _f(input, dt).reshape(-1, n_classes)
    t = np.asarray(target).reshape(-1)
    _check_classes("multi_margin_loss", t, n_classes)
    x_target = np.take_along_axis(x, t[:, None], axis=1)
    hinge = np.maximum(margin - x_target + x, 0)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * _f(weight, dt)[t][:, None]
    hinge = np.where(np.arange(n_classes) == t[:, None], 0, hinge)
    loss = np.sum(hinge, axis=1) / n_classes
    return _out(loss if target.ndim else loss.reshape(()), dt)


def _vector_norm(d: np.ndarray, p: float) -> np.ndarray:
    """||d||_p over the last axis, with torch.norm's conventions for p = 0 and p = +-inf."""
    a = np.abs(d)
    if p == math.inf:
        return np.max(a, axis=-1)
    if p == -math.inf:
        return np.min(a, axis=-1)
    if p == 0:
        return np.sum(a != 0, axis=-1).astype(d.dtype)
    if p == 1:
        return np.sum(a, axis=-1)
    if p == 2:
        return np.sqrt(np.sum(a * a, axis=-1))
    with np.errstate(divide="ignore"):
        return np.sum(a ** p, axis=-1) ** (1.0 / p)


def _triplet_spec(a: TensorSpec, p: TensorSpec, n: TensorSpec, **_: Any) -> TensorSpec:
    return TensorSpec(np.broadcast_shapes(a.shape, p.shape, n.shape)[:-1], a.dtype)


@defop("triplet_margin_loss", fusion=Fusion.REDUCTION, shape=_triplet_spec)
def triplet_margin_loss(anchor: np.ndarray, positive: np.ndarray, negative: np.ndarray, *, margin: float,
                        norm: float, eps: float, swap: bool) -> np.ndarray:
    """max(0, margin + d(a, p) - d(a, n)) with d(x, y) = ||x - y + eps||_norm over the last axis."""
    dt = anchor.dtype
    a, pos, neg = _f(anchor, dt), _f(positive, dt), _f(negative, dt)
    d_pos = _vector_norm(a - pos + eps, norm)
    d_neg = _vector_norm(a - neg + eps, norm)
    if swap:
        d_neg = np.minimum(d_neg, _vector_norm(pos - neg + eps, norm))
    return _out(np.maximum(margin + d_pos - d_neg, 0), dt)


@defop("triplet_hinge", fusion=Fusion.BROADCAST, shape=_pointwise_spec)
def triplet_hinge(dist_pos: np.ndarray, dist_neg: np.ndarray, dist_swap: np.ndarray | None, *,
                  margin: float) -> np.ndarray:
    """max(0, margin + dist_pos - min(dist_neg, dist_swap)): the triplet loss from precomputed distances."""
    dt = dist_pos.dtype
    d_neg = _f(dist_neg, dt) if dist_swap is None else np.minimum(_f(dist_neg, dt), _f(dist_swap, dt))
    return _out(np.maximum(margin + _f(dist_pos, dt) - d_neg, 0), dt)


# ------------------------------------------------------------------------------------------------ classification


def _class_last(x: np.ndarray) -> np.ndarray:
    """(C,) -> (1, C); (N, C, d1, ...) -> (N, d1, ..., C)."""
    return x[None] if x.ndim == 1 else np.moveaxis(x, 1, -1)


def _nll_terms(who: str, logp: np.ndarray, target: np.ndarray, weight: np.ndarray | None,
               ignore_index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-element -w[t] logp[t] (0 where ignored), the per-element weights w[t] (0 where ignored), the ignore mask.

    ``logp`` has its class axis last; ``target`` has ``logp``'s shape without it.
    """
    n_classes = logp.shape[-1]
    _check_classes(who, target, n_classes, ignore_index)
    ignored = target == ignore_index
    idx = np.where(ignored, 0, target)
    picked = np.take_along_axis(logp, idx[..., None], axis=-1)[..., 0]
    w = np.ones_like(picked) if weight is None else weight[idx]
    w = np.where(ignored, 0, w)
    return np.where(ignored, 0, -picked * w), w, ignored


def _nll_reduce(loss: np.ndarray, w: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return np.sum(loss)
    return _safe_div(np.sum(loss), np.sum(w))


def _nll_spec(x: TensorSpec, target: TensorSpec, weight: TensorSpec | None, *, reduction: str,
              **_: Any) -> TensorSpec:
    if reduction != "none" or x.ndim == 1:
        return TensorSpec((), x.dtype)
    return TensorSpec(x.shape[:1] + x.shape[2:], x.dtype)


@defop("nll_loss", fusion=Fusion.OPAQUE, shape=_nll_spec)
def nll_loss(input: np.ndarray, target: np.ndarray, weight: np.ndarray | None, *, ignore_index: int,
             reduction: str) -> np.ndarray:
    """-w[t] input[t] per element of ``target`` (class axis 1, or 0 for (C,) input); 'mean' divides by sum(w[t])."""
    dt = input.dtype
    logp = _class_last(_f(input, dt))
    t = np.asarray(target).reshape(logp.shape[:-1])
    loss, w, _ = _nll_terms("nll_loss", logp, t, _f(weight, dt), ignore_index)
    out = _nll_reduce(loss, w, reduction)
    return _out(out.reshape(()) if input.ndim == 1 else out, dt)


@defop("cross_entropy", fusion=Fusion.OPAQUE, shape=_nll_spec)
def cross_entropy(input: np.ndarray, target: np.ndarray, weight: np.ndarray | None, *, ignore_index: int,
                  label_smoothing: float, reduction: str) -> np.ndarray:
    """Cross entropy of logits ``input`` (class axis 1, or 0 for (C,) input).

    ``target`` holds class indices (integer dtype, ``input``'s shape without the class axis) or class probabilities
    (floating dtype, ``input``'s shape). ``label_smoothing`` mixes the target with the uniform distribution.
    """
    dt = input.dtype
    logp = _log_softmax(_class_last(_f(input, dt)), axis=-1)
    n_classes = logp.shape[-1]
    w = _f(weight, dt)
    eps = max(float(label_smoothing), 0.0)
    if np.asarray(target).dtype.kind == "f":
        y = _class_last(_f(target, dt))
        if eps > 0:
            y = y * (1 - eps) + eps / n_classes
        terms = -logp * y if w is None else -logp * y * w
        if reduction == "none":
            out = np.sum(terms, axis=-1)
        elif reduction == "sum":
            out = np.sum(terms)
        else:  # the mean over samples: nan when there are none
            out = _safe_div(np.sum(terms), terms.size // n_classes if n_classes else 0)
        return _out(out.reshape(()) if input.ndim == 1 else out, dt)

    t = np.asarray(target).reshape(logp.shape[:-1])
    loss, w_t, ignored = _nll_terms("cross_entropy", logp, t, w, ignore_index)
    out = _nll_reduce(loss, w_t, reduction)
    if eps > 0:
        smooth = -np.sum(logp if w is None else logp * w, axis=-1)
        smooth = np.where(ignored, 0, smooth)
        if reduction == "mean":
            # normalized like the nll term: by the summed weights of the non-ignored targets
            smooth_red = _safe_div(np.sum(smooth), np.sum(w_t))
        else:
            smooth_red = _nll_reduce(smooth, w_t, reduction)
        out = (1 - eps) * out + smooth_red * (eps / n_classes)
    return _out(out.reshape(()) if input.ndim == 1 else out, dt)


# ---------------------------------------------------------------------------------------------------------- CTC


def _ctc_spec(log_probs: TensorSpec, *_: Any, reduction: str, **__: Any) -> TensorSpec:
    return TensorSpec((log_probs.shape[1],) if reduction == "none" else (), log_probs.dtype)


def _ctc_padded_targets(targets: np.ndarray, target_lengths: np.ndarray, n: int) -> np.ndarray:
    """(N, S) targets from padded (N, S) or concatenated (sum(target_lengths),) layout, after checking sizes."""
    if targets.ndim == 2:
        if targets.shape[0] != n:
            raise InputError("ctc_loss", f"targets of shape ({n}, S) (batch size {n})", shape_str(targets.shape))
        if np.any(target_lengths > targets.shape[1]):
            raise InputError("ctc_loss", f"target_lengths at most the padded target length {targets.shape[1]}",
                             f"target length {int(np.max(target_lengths))}")
        return targets
    total = int(np.sum(target_lengths))
    if targets.shape[0] != total:
        raise InputError("ctc_loss", f"concatenated targets of shape ({total},) = sum(target_lengths)",
                         shape_str(targets.shape))
    width = int(np.max(target_lengths)) if n else 0
    starts = np.cumsum(target_lengths) - target_lengths
    pos = starts[:, None] + np.arange(width)
    inside = np.arange(width) < target_lengths[:, None]
    return np.where(inside, targets[np.where(inside, pos, 0)] if total else 0, 0)


@defop("ctc_loss", fusion=Fusion.OPAQUE, shape=_ctc_spec)
def ctc_loss(log_probs: np.ndarray, targets: np.ndarray, input_lengths: np.ndarray, target_lengths: np.ndarray, *,
             blank: int, reduction: str, zero_infinity: bool) -> np.ndarray:
    """Connectionist temporal classification loss of (T, N, C) ``log_probs``.

    Log-space forward algorithm over the blank-extended targets, vectorized over the batch and the extended
    positions; the loop runs over time. 'mean' divides each loss by its target length (at least 1), then averages.
    """
    dt = log_probs.dtype
    lp = _f(log_probs, dt)
    T, n, n_classes = lp.shape
    in_len = np.asarray(input_lengths).astype(np.int64).reshape(-1)
    tg_len = np.asarray(target_lengths).astype(np.int64).reshape(-1)
    for name, lengths, top in (("input_lengths", in_len, T), ("target_lengths", tg_len, None)):
        if lengths.shape[0] != n:
            raise InputError("ctc_loss", f"{name} of size batch_size {n}", f"size {lengths.shape[0]}")
        if np.any(lengths < 0) or (top is not None and np.any(lengths > top)):
            bad = lengths[(lengths < 0) | (lengths > (top if top is not None else np.inf))][0]
            limit = f"[0, {top}]" if top is not None else ">= 0"
            raise InputError("ctc_loss", f"{name} in {limit}", f"value {int(bad)}")
    tg = _ctc_padded_targets(np.asarray(targets).astype(np.int64), tg_len, n)
    used = np.arange(tg.shape[1]) < tg_len[:, None]
    tg = np.where(used, tg, blank)
    _check_classes("ctc_loss", tg, n_classes)

    # Extended label sequence: blank, l1, blank, l2, ..., blank.
    S = tg.shape[1]
    ext = np.full((n, 2 * S + 1), blank, dtype=np.int64)
    ext[:, 1::2] = tg
    lp_ext = np.take_along_axis(lp, np.broadcast_to(ext[None], (T, n, 2 * S + 1)), axis=2)  # (T, N, 2S+1)
    can_skip = np.zeros(ext.shape, dtype=bool)
    can_skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])

    neg_inf = np.array(-np.inf, dtype=lp.dtype)
    alpha = np.full(ext.shape, neg_inf)
    if T:
        alpha[:, :2] = lp_ext[0, :, :2]
    for t in range(1, T):
        prev1 = np.concatenate([np.full((n, 1), neg_inf), alpha[:, :-1]], axis=1)
        prev2 = np.concatenate([np.full((n, 2), neg_inf), alpha[:, :-2]], axis=1)
        new = np.logaddexp(np.logaddexp(alpha, prev1), np.where(can_skip, prev2, neg_inf)) + lp_ext[t]
        alpha = np.where((t < in_len)[:, None], new, alpha)  # sequences that ended keep their final alpha

    rows = np.arange(n)
    end_blank = alpha[rows, 2 * tg_len]
    end_label = np.where(tg_len > 0, alpha[rows, np.maximum(2 * tg_len - 1, 0)], neg_inf)
    log_lik = np.logaddexp(end_blank, end_label)
    log_lik = np.where(in_len == 0, np.where(tg_len == 0, 0, neg_inf), log_lik)
    loss = -log_lik
    if zero_infinity:
        loss = np.where(loss == np.inf, 0, loss)
    if reduction == "sum":
        return _out(np.sum(loss), dt)
    if reduction == "mean":
        return _out(_safe_div(np.sum(loss / np.maximum(tg_len, 1)), n), dt)
    return _out(loss, dt)
