"""Loss functions (torch.nn.functional's loss API): validation and normalization, then ``nngraph.ops.loss``."""
from __future__ import annotations

import math
import warnings
from typing import Callable, Sequence

import numpy as np

from ...errors import InputError, check_float, check_int, shape_str
from ...ops import loss as _ops

__all__ = [
    "l1_loss", "mse_loss", "huber_loss", "smooth_l1_loss", "kl_div", "poisson_nll_loss", "gaussian_nll_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "soft_margin_loss", "hinge_embedding_loss",
    "margin_ranking_loss", "cosine_embedding_loss", "multilabel_soft_margin_loss", "multilabel_margin_loss",
    "multi_margin_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss", "nll_loss", "cross_entropy",
    "ctc_loss",
]

Array = np.ndarray


# ------------------------------------------------------------------------------------------------------- helpers


def _legacy_reduction(size_average: bool | None, reduce: bool | None, stacklevel: int = 4) -> str:
    """torch's mapping of the deprecated ``size_average``/``reduce`` flags to a reduction string (with its warning)."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = ("mean" if size_average else "sum") if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
                  stacklevel=stacklevel)
    return ret


def _reduction(who: str, reduction: str, size_average: bool | None = None, reduce: bool | None = None,
               extra: tuple[str, ...] = ()) -> str:
    if size_average is not None or reduce is not None:
        return _legacy_reduction(size_average, reduce)
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
                      stacklevel=4)
        return "mean"
    allowed = ("none", "mean", "sum") + extra
    if reduction not in allowed:
        raise InputError(who, "reduction " + ", ".join(repr(r) for r in allowed), repr(reduction))
    return reduction


def _reduce(loss: Array, reduction: str, weight: Array | None = None) -> Array:
    return loss if reduction == "none" else _ops.loss_reduction(loss, weight, reduction=reduction)


def _broadcast_shapes(who: str, **shapes: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*shapes.values()))
    except ValueError:
        got = ", ".join(f"{k} {shape_str(v)}" for k, v in shapes.items())
        raise InputError(who, f"broadcastable shapes for {', '.join(shapes)}", got) from None


def _broadcast(who: str, **arrays: Array | None) -> tuple[int, ...]:
    return _broadcast_shapes(who, **{k: v.shape for k, v in arrays.items() if v is not None})


def _broadcast_to(who: str, name: str, a: Array | None, shape: tuple[int, ...]) -> None:
    """Raise unless ``a`` broadcasts to exactly ``shape`` (torch multiplies it into the loss in place)."""
    if a is None:
        return
    try:
        ok = tuple(np.broadcast_shapes(a.shape, shape)) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise InputError(who, f"{name} broadcastable to {shape_str(shape)}", shape_str(a.shape))


def _warn_size(input: Array, target: Array) -> None:
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({shape_str(target.shape)}) that is different to the input size "
                      f"({shape_str(input.shape)}). This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", stacklevel=4)


def _check_weight_like_input(who: str, weight: Array | None, input: Array) -> None:
    if weight is not None and weight.shape != input.shape:
        raise InputError(who, f"weight of the input's shape {shape_str(input.shape)}", shape_str(weight.shape))


def _check_class_weight(who: str, weight: Array | None, n_classes: int) -> None:
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != n_classes):
        raise InputError(who, f"weight of shape ({n_classes},) (one per class)", shape_str(weight.shape))


def _regression_inputs(who: str, input: Array, target: Array) -> None:
    check_float(who, input)
    _warn_size(input, target)
    _broadcast(who, input=input, target=target)


# ---------------------------------------------------------------------------------------------------- regression


def l1_loss(input: Array, target: Array, size_average: bool | None = None, reduce: bool | None = None,
            reduction: str = "mean", weight: Array | None = None) -> Array:
    """Mean absolute error; with ``weight``, 'mean' is sum(w |x - y|) / sum(w)."""
    reduction = _reduction("l1_loss", reduction, size_average, reduce)
    _regression_inputs("l1_loss", input, target)
    _check_weight_like_input("l1_loss", weight, input)
    return _reduce(_ops.l1_loss(input, target, weight), reduction, weight)


def mse_loss(input: Array, target: Array, size_average: bool | None = None, reduce: bool | None = None,
             reduction: str = "mean", weight: Array | None = None) -> Array:
    """Mean squared error; with ``weight``, 'mean' is sum(w (x - y)^2) / sum(w)."""
    reduction = _reduction("mse_loss", reduction, size_average, reduce)
    _regression_inputs("mse_loss", input, target)
    _check_weight_like_input("mse_loss", weight, input)
    return _reduce(_ops.mse_loss(input, target, weight), reduction, weight)


def huber_loss(input: Array, target: Array, reduction: str = "mean", delta: float = 1.0,
               weight: Array | None = None) -> Array:
    """Huber loss; with ``weight``, 'mean' is the plain mean of the weighted losses (as in torch)."""
    reduction = _reduction("huber_loss", reduction)
    _regression_inputs("huber_loss", input, target)
    if delta <= 0:
        raise InputError("huber_loss", "delta > 0", delta)
    _check_weight_like_input("huber_loss", weight, input)
    return _reduce(_ops.huber_loss(input, target, weight, delta=float(delta)), reduction)


def smooth_l1_loss(input: Array, target: Array, size_average: bool | None = None, reduce: bool | None = None,
                   reduction: str = "mean", beta: float = 1.0) -> Array:
    """Smooth L1 loss (quadratic below ``beta``); ``beta=0`` is the L1 loss."""
    reduction = _reduction("smooth_l1_loss", reduction, size_average, reduce)
    _regression_inputs("smooth_l1_loss", input, target)
    if beta < 0:
        raise InputError("smooth_l1_loss", "beta >= 0", beta)
    if beta == 0:
        return _reduce(_ops.l1_loss(input, target, None), reduction)
    return _reduce(_ops.smooth_l1_loss(input, target, beta=float(beta)), reduction)


def kl_div(input: Array, target: Array, size_average: bool | None = None, reduce: bool | None = None,
           reduction: str = "mean", log_target: bool = False) -> Array:
    """KL divergence of ``target`` from the log-probabilities ``input``; 'batchmean' divides the sum by N."""
    reduction = _reduction("kl_div", reduction, size_average, reduce, extra=("batchmean",))
    check_float("kl_div", input)
    check_float("kl_div", target, "target")
    _broadcast("kl_div", input=input, target=target)
    loss = _ops.kl_div(input, target, log_target=bool(log_target))
    if reduction == "batchmean" and input.ndim == 0:
        reduction = "sum"
    return _reduce(loss, reduction)


def poisson_nll_loss(input: Array, target: Array, log_input: bool = True, full: bool = False,
                     size_average: bool | None = None, eps: float = 1e-8, reduce: bool | None = None,
                     reduction: str = "mean") -> Array:
    """Negative log likelihood of a Poisson target (``input`` is the log-rate when ``log_input``)."""
    reduction = _reduction("poisson_nll_loss", reduction, size_average, reduce)
    check_float("poisson_nll_loss", input)
    _broadcast("poisson_nll_loss", input=input, target=target)
    loss = _ops.poisson_nll_loss(input, target, log_input=bool(log_input), full=bool(full), eps=float(eps))
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Array, target: Array, var: Array | float, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Array:
    """Gaussian negative log likelihood; ``var`` is a float, input-shaped, input-shaped without its last dimension,
    or input-shaped with one dimension of size 1."""
    who = "gaussian_nll_loss"
    check_float(who, input)
    if isinstance(var, (int, float)):
        if var < 0:
            raise InputError(who, "var with non-negative entries", var)
        var = np.asarray(var, dtype=input.dtype)
    else:
        check_float(who, var, "var")
        if var.shape != input.shape:
            if var.shape == input.shape[:-1]:
                var = np.expand_dims(var, -1)  # homoscedastic: one variance per sample
            elif not (var.ndim == input.ndim
                      and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1):
                raise InputError(who, f"var of shape {shape_str(input.shape)}, {shape_str(input.shape[:-1])} or "
                                      f"{shape_str(input.shape)} with one dimension of size 1", shape_str(var.shape))
    reduction = _reduction(who, reduction)
    _broadcast(who, input=input, target=target, var=var)
    return _reduce(_ops.gaussian_nll_loss(input, target, var, full=bool(full), eps=float(eps)), reduction)


# ------------------------------------------------------------------------------------------------- binary / margin


def binary_cross_entropy(input: Array, target: Array, weight: Array | None = None, size_average: bool | None = None,
                         reduce: bool | None = None, reduction: str = "mean") -> Array:
    """Binary cross entropy of probabilities ``input`` in [0, 1] (logs clamped at -100)."""
    who = "binary_cross_entropy"
    reduction = _reduction(who, reduction, size_average, reduce)
    check_float(who, input)
    check_float(who, target, "target")
    if target.shape != input.shape:
        raise InputError(who, f"target of the input's shape {shape_str(input.shape)}", shape_str(target.shape))
    _broadcast_to(who, "weight", weight, target.shape)
    return _reduce(_ops.binary_cross_entropy(input, target, weight), reduction)


def binary_cross_entropy_with_logits(input: Array, target: Array, weight: Array | None = None,
                                     size_average: bool | None = None, reduce: bool | None = None,
                                     reduction: str = "mean", pos_weight: Array | None = None) -> Array:
    """Sigmoid + binary cross entropy in one numerically stable step; ``pos_weight`` weighs positive targets."""
    who = "binary_cross_entropy_with_logits"
    reduction = _reduction(who, reduction, size_average, reduce)
    check_float(who, input)
    check_float(who, target, "target")
    if target.shape != input.shape:
        raise InputError(who, f"target of the input's shape {shape_str(input.shape)}", shape_str(target.shape))
    _broadcast_to(who, "weight", weight, input.shape)
    _broadcast_to(who, "pos_weight", pos_weight, input.shape)
    return _reduce(_ops.binary_cross_entropy_with_logits(input, target, weight, pos_weight), reduction)


def soft_margin_loss(input: Array, target: Array, size_average: bool | None = None, reduce: bool | None = None,
                     reduction: str = "mean") -> Array:
    """log(1 + exp(-y x)) for targets y in {1, -1}."""
    reduction = _reduction("soft_margin_loss", reduction, size_average, reduce)
    check_float("soft_margin_loss", input)
    _broadcast("soft_margin_loss", input=input, target=target)
    return _reduce(_ops.soft_margin_loss(input, target), reduction)


def hinge_embedding_loss(input: Array, target: Array, margin: float = 1.0, size_average: bool | None = None,
                         reduce: bool | None = None, reduction: str = "mean") -> Array:
    """x for target 1, max(0, margin - x) for target -1."""
    reduction = _reduction("hinge_embedding_loss", reduction, size_average, reduce)
    check_float("hinge_embedding_loss", input)
    _broadcast("hinge_embedding_loss", input=input, target=target)
    return _reduce(_ops.hinge_embedding_loss(input, target, margin=float(margin)), reduction)


def margin_ranking_loss(input1: Array, input2: Array, target: Array, margin: float = 0,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Array:
    """max(0, -y (x1 - x2) + margin)."""
    who = "margin_ranking_loss"
    reduction = _reduction(who, reduction, size_average, reduce)
    check_float(who, input1, "input1")
    if not input1.ndim == input2.ndim == target.ndim:
        raise InputError(who, "input1, input2 and target with the same number of dimensions",
                         f"input1 {shape_str(input1.shape)}, input2 {shape_str(input2.shape)}, "
                         f"target {shape_str(target.shape)}")
    _broadcast(who, input1=input1, input2=input2, target=target)
    return _reduce(_ops.margin_ranking_loss(input1, input2, target, margin=float(margin)), reduction)


def cosine_embedding_loss(input1: Array, input2: Array, target: Array, margin: float = 0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Array:
    """1 - cos(x1, x2) for target 1, max(0, cos(x1, x2) - margin) for target -1; cosine over the last dimension."""
    who = "cosine_embedding_loss"
    reduction = _reduction(who, reduction, size_average, reduce)
    check_float(who, input1, "input1")
    check_float(who, input2, "input2")
    if target.ndim not in (0, 1):
        raise InputError(who, "target of shape (N,) or ()", shape_str(target.shape))
    want = target.ndim + 1
    if input1.ndim != want or input2.ndim != want:
        pattern = "(N, D)" if want == 2 else "(D,)"
        raise InputError(who, f"input1 and input2 of shape {pattern} for target of shape {shape_str(target.shape)}",
                         f"input1 {shape_str(input1.shape)}, input2 {shape_str(input2.shape)}")
    rows = _broadcast(who, input1=input1, input2=input2)[:-1]
    _broadcast_shapes(who, samples=rows, target=target.shape)
    return _reduce(_ops.cosine_embedding_loss(input1, input2, target, margin=float(margin)), reduction)


def multilabel_soft_margin_loss(input: Array, target: Array, weight: Array | None = None,
                                size_average: bool | None = None, reduce: bool | None = None,
                                reduction: str = "mean") -> Array:
    """Per-class logistic loss averaged over the class (last) dimension: one value per sample."""
    who = "multilabel_soft_margin_loss"
    reduction = _reduction(who, reduction, size_average, reduce)
    check_float(who, input)
    if input.ndim < 1:
        raise InputError(who, "input of shape (N, C) or (C,)", shape_str(input.shape))
    _broadcast(who, input=input, target=target, weight=weight)
    return _reduce(_ops.multilabel_soft_margin_loss(input, target, weight), reduction)


def _check_margin_input(who: str, input: Array) -> None:
    check_float(who, input)
    if not (input.ndim == 0 or (input.ndim in (1, 2) and input.shape[-1] > 0)):
        raise InputError(who, "input of shape (N, C) or (C,) with C > 0", shape_str(input.shape))


def multilabel_margin_loss(input: Array, target: Array, size_average: bool | None = None, reduce: bool | None = None,
                           reduction: str = "mean") -> Array:
    """Multi-class multi-label hinge loss; ``target`` lists class indices, ended by -1, in an input-shaped array."""
    who = "multilabel_margin_loss"
    reduction = _reduction(who, reduction, size_average, reduce)
    _check_margin_input(who, input)
    check_int(who, target, "class-index target")
    if target.shape != input.shape:
        raise InputError(who, f"target of the input's shape {shape_str(input.shape)}", shape_str(target.shape))
    return _reduce(_ops.multilabel_margin_loss(input, target), reduction)


def multi_margin_loss(input: Array, target: Array, p: int = 1, margin: float = 1.0, weight: Array | None = None,
                      size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean") -> Array:
    """Multi-class hinge loss: sum over wrong classes i of w[y] max(0, margin - x[y] + x[i])^p / C."""
    who = "multi_margin_loss"
    reduction = _reduction(who, reduction, size_average, reduce)
    if p not in (1, 2):
        raise InputError(who, "p of 1 or 2", p)
    _check_margin_input(who, input)
    check_int(who, target, "class-index target")
    frames = input.shape[0] if input.ndim == 2 else 1
    if target.ndim > 1 or target.size != frames:
        raise InputError(who, f"target of shape ({frames},) (one class index per sample)", shape_str(target.shape))
    if weight is not None and weight.ndim != 1:
        raise InputError(who, "a 1-D weight", shape_str(weight.shape))
    _check_class_weight(who, weight, input.shape[-1] if input.ndim else 1)
    return _reduce(_ops.multi_margin_loss(input, target, weight, p=int(p), margin=float(margin)), reduction)


def _check_triplet(who: str, anchor: Array, positive: Array, negative: Array, margin: float) -> None:
    if margin <= 0:
        raise InputError(who, "margin > 0", margin)
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise InputError(who, "anchor, positive and negative with the same number of dimensions",
                         f"anchor {anchor.ndim}D, positive {positive.ndim}D and negative {negative.ndim}D")


def triplet_margin_loss(anchor: Array, positive: Array, negative: Array, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average: bool | None = None,
                        reduce: bool | None = None, reduction: str = "mean") -> Array:
    """max(0, margin + d(a, p) - d(a, n)) with the p-norm pairwise distance over the last dimension."""
    who = "triplet_margin_loss"
    reduction = _reduction(who, reduction, size_average, reduce)
    check_float(who, anchor, "anchor")
    _check_triplet(who, anchor, positive, negative, margin)
    if anchor.ndim < 1:
        raise InputError(who, "inputs of shape (N, D) or (D,)", shape_str(anchor.shape))
    shape = _broadcast(who, anchor=anchor, positive=positive, negative=negative)
    if math.isinf(p) and shape[-1] == 0:
        raise InputError(who, f"a non-empty last dimension for the p={p} norm", f"shape {shape_str(shape)}")
    loss = _ops.triplet_margin_loss(anchor, positive, negative, margin=float(margin), norm=float(p),
                                    eps=float(eps), swap=bool(swap))
    return _reduce(loss, reduction)


def triplet_margin_with_distance_loss(anchor: Array, positive: Array, negative: Array, *,
                                      distance_function: Callable[[Array, Array], Array] | None = None,
                                      margin: float = 1.0, swap: bool = False, reduction: str = "mean") -> Array:
    """Triplet loss with a custom ``distance_function`` (default: Euclidean pairwise distance)."""
    who = "triplet_margin_with_distance_loss"
    reduction = _reduction(who, reduction)
    _check_triplet(who, anchor, positive, negative, margin)
    if distance_function is None:
        check_float(who, anchor, "anchor")
        if anchor.ndim < 1:
            raise InputError(who, "inputs of shape (N, D) or (D,)", shape_str(anchor.shape))
        _broadcast(who, anchor=anchor, positive=positive, negative=negative)
        loss = _ops.triplet_margin_loss(anchor, positive, negative, margin=float(margin), norm=2.0, eps=1e-6,
                                        swap=bool(swap))
    else:
        d_pos = distance_function(anchor, positive)
        d_neg = distance_function(anchor, negative)
        d_swap = distance_function(positive, negative) if swap else None
        loss = _ops.triplet_hinge(d_pos, d_neg, d_swap, margin=float(margin))
    return _reduce(loss, reduction)


# ------------------------------------------------------------------------------------------------ classification


def _class_index_target(who: str, input: Array, target: Array) -> None:
    """Shape/dtype checks of a class-index target for (C,), (N, C) or (N, C, d1, ...) input."""
    check_int(who, target, "class-index target")
    if input.ndim == 1:
        if not (target.ndim == 0 or target.shape == (1,)):
            raise InputError(who, "target of shape () for input of shape (C,)", shape_str(target.shape))
    elif target.shape != input.shape[:1] + input.shape[2:]:
        raise InputError(who, f"target of shape {shape_str(input.shape[:1] + input.shape[2:])}",
                         shape_str(target.shape))


def _check_class_input(who: str, input: Array) -> int:
    check_float(who, input)
    if input.ndim < 1:
        raise InputError(who, "input of shape (C,), (N, C) or (N, C, d1, ...)", shape_str(input.shape))
    return input.shape[0] if input.ndim == 1 else input.shape[1]


def nll_loss(input: Array, target: Array, weight: Array | None = None, size_average: bool | None = None,
             ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean") -> Array:
    """Negative log likelihood of class indices under log-probabilities ``input`` (class dimension 1)."""
    who = "nll_loss"
    reduction = _reduction(who, reduction, size_average, reduce)
    n_classes = _check_class_input(who, input)
    _class_index_target(who, input, target)
    _check_class_weight(who, weight, n_classes)
    return _ops.nll_loss(input, target, weight, ignore_index=int(ignore_index), reduction=reduction)


def cross_entropy(input: Array, target: Array, weight: Array | None = None, size_average: bool | None = None,
                  ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Array:
    """Cross entropy of logits ``input`` (class dimension 1) against class indices or class probabilities."""
    who = "cross_entropy"
    reduction = _reduction(who, reduction, size_average, reduce)
    n_classes = _check_class_input(who, input)
    if target.shape == input.shape:  # class probabilities
        check_float(who, target, "class-probability target (a target of the input's shape)")
        if ignore_index >= 0:
            raise InputError(who, "ignore_index < 0 with class-probability targets", ignore_index)
    elif getattr(target, "dtype", None) is not None and target.dtype.kind == "f":
        idx_shape = () if input.ndim == 1 else input.shape[:1] + input.shape[2:]
        raise InputError(who, f"class probabilities of shape {shape_str(input.shape)} or integer class indices of "
                              f"shape {shape_str(idx_shape)}", f"a floating-point target of shape "
                                                                f"{shape_str(target.shape)}")
    else:
        _class_index_target(who, input, target)
    if label_smoothing > 1.0:
        raise InputError(who, "label_smoothing in [0.0, 1.0]", label_smoothing)
    _check_class_weight(who, weight, n_classes)
    return _ops.cross_entropy(input, target, weight, ignore_index=int(ignore_index),
                              label_smoothing=float(label_smoothing), reduction=reduction)


def _lengths(who: str, name: str, lengths: Array | Sequence[int] | int) -> Array:
    if hasattr(lengths, "dtype"):  # an array (or a traced array)
        check_int(who, lengths, name)
        return lengths
    arr = np.asarray(lengths)
    if arr.dtype.kind not in "iu":
        raise InputError(who, f"integer {name}", f"{lengths!r}")
    return arr.astype(np.int64)


def ctc_loss(log_probs: Array, targets: Array, input_lengths: Array | Sequence[int],
             target_lengths: Array | Sequence[int], blank: int = 0, reduction: str = "mean",
             zero_infinity: bool = False) -> Array:
    """Connectionist temporal classification loss of (T, N, C) or unbatched (T, C) log-probabilities.

    ``targets`` are padded (N, S) or concatenated (sum(target_lengths),) class indices.
    """
    who = "ctc_loss"
    reduction = _reduction(who, reduction)
    check_float(who, log_probs, "log_probs")
    if log_probs.ndim not in (2, 3) or log_probs.size == 0:
        raise InputError(who, "non-empty log_probs of shape (T, N, C) or (T, C)", shape_str(log_probs.shape))
    check_int(who, targets, "targets")
    if targets.ndim not in (1, 2):
        raise InputError(who, "targets of shape (N, S) or (sum(target_lengths),)", shape_str(targets.shape))
    n_classes = log_probs.shape[-1]
    if not 0 <= blank < n_classes:
        raise InputError(who, f"blank in [0, {n_classes - 1}]", blank)
    input_lengths = _lengths(who, "input_lengths", input_lengths)
    target_lengths = _lengths(who, "target_lengths", target_lengths)
    batched = log_probs.ndim == 3
    if not batched:
        log_probs = log_probs[:, None, :]
        input_lengths = input_lengths.reshape(-1)
        target_lengths = target_lengths.reshape(-1)
    n = log_probs.shape[1]
    for name, lengths in (("input_lengths", input_lengths), ("target_lengths", target_lengths)):
        if lengths.ndim != 1 or lengths.shape[0] != n:
            raise InputError(who, f"{name} of shape ({n},) (batch size)", shape_str(lengths.shape))
    loss = _ops.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=int(blank), reduction=reduction,
                         zero_infinity=bool(zero_infinity))
    return loss.reshape(()) if not batched and reduction == "none" else loss

