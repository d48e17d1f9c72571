"""Normalization functions: torch.nn.functional's batch_norm, instance_norm, layer_norm, group_norm, rms_norm and
local_response_norm.

Running statistics (``batch_norm``/``instance_norm`` in training mode) are updated in place in numpy, as torch does;
the normalization itself and the batch statistics are primitive ops.
"""
from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from nngraph.errors import InputError, check_float, shape_str
from nngraph.ops import normalization as prims

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm", "local_response_norm"]


def _prod(values: Sequence[int]) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def _check_array(who: str, x: Any, what: str, shape: tuple[int, ...]) -> None:
    """``x`` (a weight, bias or running statistic) must be a floating-point array of ``shape``."""
    if not (hasattr(x, "shape") and getattr(x, "dtype", None) is not None and np.dtype(x.dtype).kind == "f"):
        got = f"dtype {x.dtype}" if hasattr(x, "dtype") else type(x).__name__
        raise InputError(who, f"{what} as a floating-point array", got)
    if tuple(x.shape) != tuple(shape):
        raise InputError(who, f"{what} of shape {shape_str(shape)}", shape_str(x.shape))


def _check_dtypes(who: str, input: np.ndarray, **arrays: np.ndarray | None) -> None:
    """Weights and statistics share the input's dtype, or are float32 next to float16 input (as torch allows)."""
    allowed = {input.dtype}
    if input.dtype.itemsize < 4:  # torch's mixed precision: half input with float32 parameters
        allowed.add(np.dtype(np.float32))
    for what, a in arrays.items():
        if a is not None and a.dtype not in allowed:
            raise InputError(who, f"{what} of dtype {input.dtype} (the input's dtype)", f"dtype {a.dtype}")


def _check_input(who: str, input: Any, min_ndim: int, pattern: str) -> None:
    check_float(who, input)
    if input.ndim < min_ndim:
        raise InputError(who, f"input of shape {pattern}", shape_str(input.shape))


def _check_channel_vectors(who: str, input: np.ndarray, **arrays: np.ndarray | None) -> None:
    channels = input.shape[1]
    for what, a in arrays.items():
        if a is not None:
            _check_array(who, a, what, (channels,))
    _check_dtypes(who, input, **arrays)


def _update_running(running: np.ndarray, batch: np.ndarray, momentum: float) -> None:
    """``running <- (1 - momentum) * running + momentum * batch``, in place, in ``running``'s dtype."""
    new = (1.0 - momentum) * running.astype(np.float64) + momentum * np.asarray(batch, dtype=np.float64)
    running[...] = new.astype(running.dtype)


def batch_norm(input: np.ndarray, running_mean: np.ndarray | None, running_var: np.ndarray | None,
               weight: np.ndarray | None = None, bias: np.ndarray | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> np.ndarray:
    """Batch normalization over every axis of ``input`` (N, C, *) but the channel axis 1.

    In training mode the batch statistics normalize the input and, when given, ``running_mean`` and ``running_var``
    are updated in place with ``momentum`` (``running_var`` with the unbiased batch variance). Otherwise the running
    statistics are used.
    """
    who = "batch_norm"
    _check_input(who, input, 2, "(N, C, *)")
    if training and _prod(input.shape[:1] + input.shape[2:]) == 1:
        raise InputError(who, "more than 1 value per channel when training", f"input of shape {shape_str(input.shape)}")
    if training and eps <= 0.0:
        raise InputError(who, "a positive eps during training", eps)
    if eps < 0.0:
        raise InputError(who, "a non-negative eps", eps)
    if (running_mean is None) != (running_var is None):
        raise InputError(who, "running_mean and running_var both None or both arrays",
                         f"running_mean={type(running_mean).__name__}, running_var={type(running_var).__name__}")
    _check_channel_vectors(who, input, weight=weight, bias=bias, running_mean=running_mean, running_var=running_var)
    if not training:
        if running_mean is None:
            raise InputError(who, "running_mean and running_var in evaluation mode", "None")
        return prims.batch_norm(input, running_mean, running_var, weight, bias, eps=float(eps))
    mean, var = prims.batch_norm_stats(input)
    out = prims.batch_norm(input, mean, var, weight, bias, eps=float(eps))
    count = _prod(input.shape[:1] + input.shape[2:]) if input.shape[1] else 0
    if running_mean is not None and count > 0:  # torch leaves the running statistics alone for empty batches
        _update_running(running_mean, mean, momentum)
        _update_running(running_var, np.asarray(var, dtype=np.float64) * (count / (count - 1)), momentum)
    return out


def instance_norm(input: np.ndarray, running_mean: np.ndarray | None = None, running_var: np.ndarray | None = None,
                  weight: np.ndarray | None = None, bias: np.ndarray | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> np.ndarray:
    """Instance normalization of ``input`` (N, C, *): each (sample, channel) slice over its spatial axes.

    With ``use_input_stats`` and running statistics given, those are updated in place with the batch average of the
    per-instance mean and unbiased variance; without ``use_input_stats`` the running statistics normalize.
    """
    who = "instance_norm"
    _check_input(who, input, 2, "(N, C, *)")
    if use_input_stats and _prod(input.shape[2:]) == 1:
        raise InputError(who, "more than 1 spatial element when training", f"input of shape {shape_str(input.shape)}")
    if (running_mean is None) != (running_var is None):
        raise InputError(who, "running_mean and running_var both None or both arrays",
                         f"running_mean={type(running_mean).__name__}, running_var={type(running_var).__name__}")
    _check_channel_vectors(who, input, weight=weight, bias=bias, running_mean=running_mean, running_var=running_var)
    if not use_input_stats:
        if running_mean is None:
            raise InputError(who, "running_mean and running_var when use_input_stats is False", "None")
        return prims.batch_norm(input, running_mean, running_var, weight, bias, eps=float(eps))
    out = prims.instance_norm(input, weight, bias, eps=float(eps))
    if running_mean is not None and input.shape[0] == 0:
        # torch averages the per-instance statistics over an empty batch: NaN.
        running_mean[...] = np.nan
        running_var[...] = np.nan
    elif running_mean is not None and _prod(input.shape) > 0:  # empty spatial axes leave the statistics alone
        n, c = input.shape[:2]
        count = _prod(input.shape[2:])
        # Per-instance statistics: the input seen as one sample of N * C channels.
        mean, var = prims.batch_norm_stats(input.reshape((1, n * c) + input.shape[2:]))
        unbiased = np.asarray(var, dtype=np.float64) * (count / (count - 1))
        _update_running(running_mean, np.asarray(mean, dtype=np.float64).reshape(n, c).mean(axis=0), momentum)
        _update_running(running_var, unbiased.reshape(n, c).mean(axis=0), momentum)
    return out


def _normalized_shape(who: str, input: np.ndarray, normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    shape = tuple(int(s) for s in normalized_shape)
    if not shape:
        raise InputError(who, "a normalized_shape with at least one dimension", "()")
    if input.ndim < len(shape) or tuple(input.shape[input.ndim - len(shape):]) != shape:
        raise InputError(who, f"input of shape (*, {', '.join(map(str, shape))})", shape_str(input.shape))
    return shape


def layer_norm(input: np.ndarray, normalized_shape: int | Sequence[int], weight: np.ndarray | None = None,
               bias: np.ndarray | None = None, eps: float = 1e-5) -> np.ndarray:
    """Layer normalization over the trailing ``normalized_shape`` axes of ``input``."""
    who = "layer_norm"
    check_float(who, input)
    shape = _normalized_shape(who, input, normalized_shape)
    for what, a in (("weight", weight), ("bias", bias)):
        if a is not None:
            _check_array(who, a, what, shape)
    _check_dtypes(who, input, weight=weight, bias=bias)
    return prims.layer_norm(input, weight, bias, normalized_shape=shape, eps=float(eps))


def rms_norm(input: np.ndarray, normalized_shape: int | Sequence[int], weight: np.ndarray | None = None,
             eps: float | None = None) -> np.ndarray:
    """Root-mean-square normalization over the trailing ``normalized_shape`` axes; ``eps=None`` is the machine
    epsilon of the computation dtype (float32 for float16 input, as torch)."""
    who = "rms_norm"
    check_float(who, input)
    shape = _normalized_shape(who, input, normalized_shape)
    if weight is not None:
        _check_array(who, weight, "weight", shape)
    _check_dtypes(who, input, weight=weight)
    if eps is None:
        eps = float(np.finfo(np.float32 if input.dtype.itemsize < 4 else input.dtype).eps)
    return prims.rms_norm(input, weight, normalized_shape=shape, eps=float(eps))


def group_norm(input: np.ndarray, num_groups: int, weight: np.ndarray | None = None, bias: np.ndarray | None = None,
               eps: float = 1e-5) -> np.ndarray:
    """Group normalization of ``input`` (N, C, *): channels split into ``num_groups`` groups per sample."""
    who = "group_norm"
    _check_input(who, input, 2, "(N, C, *)")
    n, c = input.shape[:2]
    num_groups = int(num_groups)
    if num_groups <= 0 or c % num_groups:
        raise InputError(who, f"a number of channels divisible by num_groups={num_groups}",
                         f"input of shape {shape_str(input.shape)}")
    if _prod((n * c // num_groups,) + input.shape[2:]) == 1:  # torch checks the values per group and sample
        raise InputError(who, "more than 1 value per channel", f"input of shape {shape_str(input.shape)}")
    _check_channel_vectors(who, input, weight=weight, bias=bias)
    return prims.group_norm(input, weight, bias, num_groups=num_groups, eps=float(eps))


def local_response_norm(input: np.ndarray, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> np.ndarray:
    """Local response normalization across channels (axis 1) of ``input`` (N, C, *) with at least one spatial axis."""
    who = "local_response_norm"
    _check_input(who, input, 3, "(N, C, *) with at least 3 dimensions")
    if int(size) <= 0:
        raise InputError(who, "a positive size", size)
    return prims.local_response_norm(input, size=int(size), alpha=float(alpha), beta=float(beta),
                                                 k=float(k))
