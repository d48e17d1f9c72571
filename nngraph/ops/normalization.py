"""Normalization primitives: batch/instance/layer/group/RMS normalization and local response normalization.

Statistics are accumulated in float64 for float16/float32 input (two-pass mean and variance), and results are cast
back to the input dtype. Channel axis is 1 (NCHW layout) wherever a per-channel weight applies.
"""
from __future__ import annotations

import numpy as np

from nngraph.ops.registry import Fusion, TensorSpec, defop, same_as_first

__all__ = ["batch_norm", "batch_norm_stats", "instance_norm", "layer_norm", "group_norm", "rms_norm",
           "local_response_norm"]


def _stat_dtype(dtype: np.dtype) -> np.dtype:
    """dtype of returned statistics: float16/bfloat16 statistics are kept in float32 (torch's opmath type)."""
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if dtype.itemsize < 4 else dtype


def _moments(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and biased variance over ``axes`` (kept as size-1 axes), in float64; NaN for an empty reduction."""
    xd = x.astype(np.float64, copy=False)
    count = int(np.prod([x.shape[a] for a in axes]))
    if count == 0:
        shape = tuple(1 if i in axes else s for i, s in enumerate(x.shape))
        nan = np.full(shape, np.nan)
        return nan, nan.copy()
    mean = xd.mean(axis=axes, keepdims=True)
    centered = xd - mean
    var = np.mean(centered * centered, axis=axes, keepdims=True)
    return mean, var


def _channel_shape(x: np.ndarray) -> tuple[int, ...]:
    """Shape that broadcasts a (C,) vector along axis 1 of ``x``."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _affine(y: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    if weight is not None:
        y = y * np.asarray(weight, dtype=np.float64).reshape(shape)
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float64).reshape(shape)
    return y


# ---------------------------------------------------------------------------------------------------- batch norm
def _batch_norm_stats_shape(x: TensorSpec) -> tuple[TensorSpec, TensorSpec]:
    spec = TensorSpec((x.shape[1],), _stat_dtype(x.dtype))
    return spec, spec


@defop("batch_norm_stats", fusion=Fusion.REDUCTION, shape=_batch_norm_stats_shape, n_outputs=2)
def batch_norm_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and biased variance of ``x`` (N, C, *) over every axis but 1; NaN when N * prod(*) == 0.

    Float16 input gives float32 statistics; otherwise the statistics have ``x``'s dtype.
    """
    axes = (0,) + tuple(range(2, x.ndim))
    mean, var = _moments(x, axes)
    dtype = _stat_dtype(x.dtype)
    return mean.reshape(-1).astype(dtype), var.reshape(-1).astype(dtype)


@defop("batch_norm", fusion=Fusion.BROADCAST, shape=same_as_first)
def batch_norm(x: np.ndarray, mean: np.ndarray, var: np.ndarray, weight: np.ndarray | None,
               bias: np.ndarray | None, *, eps: float) -> np.ndarray:
    """``(x - mean) / sqrt(var + eps) * weight + bias`` with (C,) vectors broadcast along axis 1 of ``x`` (N, C, *).

    Evaluated as ``x * scale + shift`` with per-channel ``scale``/``shift`` folded in float64 (as torch's CPU kernel,
    and the form a compiler folds into a preceding convolution).
    """
    scale = 1.0 / np.sqrt(np.asarray(var, dtype=np.float64) + eps)
    if weight is not None:
        scale = scale * np.asarray(weight, dtype=np.float64)
    shift = -np.asarray(mean, dtype=np.float64) * scale
    if bias is not None:
        shift = shift + np.asarray(bias, dtype=np.float64)
    compute = _stat_dtype(x.dtype)
    shape = _channel_shape(x)
    y = x.astype(compute, copy=False) * scale.astype(compute).reshape(shape) + shift.astype(compute).reshape(shape)
    return y.astype(x.dtype, copy=False)


# ------------------------------------------------------------------------------------------------- instance norm
@defop("instance_norm", fusion=Fusion.REDUCTION, shape=same_as_first)
def instance_norm(x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None, *, eps: float) -> np.ndarray:
    """Normalize each (sample, channel) slice of ``x`` (N, C, *) over its spatial axes; (C,) affine along axis 1."""
    mean, var = _moments(x, tuple(range(2, x.ndim)))
    y = (x.astype(np.float64) - mean) / np.sqrt(var + eps)
    return _affine(y, weight, bias, _channel_shape(x)).astype(x.dtype)


# ---------------------------------------------------------------------------------------------------- layer norm
@defop("layer_norm", fusion=Fusion.REDUCTION, shape=same_as_first)
def layer_norm(x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None, *,
               normalized_shape: tuple[int, ...], eps: float) -> np.ndarray:
    """Normalize over the trailing ``len(normalized_shape)`` axes; weight and bias have shape ``normalized_shape``."""
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    mean, var = _moments(x, axes)
    y = (x.astype(np.float64) - mean) / np.sqrt(var + eps)
    return _affine(y, weight, bias, tuple(normalized_shape)).astype(x.dtype)


# ---------------------------------------------------------------------------------------------------- group norm
@defop("group_norm", fusion=Fusion.REDUCTION, shape=same_as_first)
def group_norm(x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None, *, num_groups: int,
               eps: float) -> np.ndarray:
    """Normalize each sample of ``x`` (N, C, *) over groups of ``C // num_groups`` channels; (C,) affine on axis 1."""
    per_group = (x.shape[1] // num_groups) * int(np.prod(x.shape[2:], dtype=np.int64))
    grouped = x.reshape(x.shape[0], num_groups, per_group)
    mean, var = _moments(grouped, (2,))
    y = ((grouped.astype(np.float64) - mean) / np.sqrt(var + eps)).reshape(x.shape)
    return _affine(y, weight, bias, _channel_shape(x)).astype(x.dtype)


# ------------------------------------------------------------------------------------------------------ RMS norm
@defop("rms_norm", fusion=Fusion.REDUCTION, shape=same_as_first)
def rms_norm(x: np.ndarray, weight: np.ndarray | None, *, normalized_shape: tuple[int, ...], eps: float) -> np.ndarray:
    """``x / sqrt(mean(x**2) + eps) * weight`` over the trailing ``len(normalized_shape)`` axes."""
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    xd = x.astype(np.float64)
    if x.size:
        ms = np.mean(xd * xd, axis=axes, keepdims=True)
    else:  # every reduction is empty or there is nothing to reduce for
        ms = np.full(tuple(1 if i in axes else s for i, s in enumerate(x.shape)), np.nan)
    y = xd / np.sqrt(ms + eps)
    return _affine(y, weight, None, tuple(normalized_shape)).astype(x.dtype)


# ---------------------------------------------------------------------------------------- local response norm
@defop("local_response_norm", fusion=Fusion.REDUCTION, shape=same_as_first)
def local_response_norm(x: np.ndarray, *, size: int, alpha: float, beta: float, k: float) -> np.ndarray:
    """``x / (k + alpha * avg(x**2 over a window of `size` channels)) ** beta``; the window is zero-padded by
    ``size // 2`` channels before and ``(size - 1) // 2`` after, and the average always divides by ``size``."""
    xd = x.astype(np.float64)
    sq = xd * xd
    before, after = size // 2, (size - 1) // 2
    pad = [(0, 0)] * x.ndim
    pad[1] = (before, after)
    padded = np.pad(sq, pad)
    channels = x.shape[1]
    window = np.zeros_like(sq)
    for tap in range(size):  # loop over window taps, not over elements
        window += padded[:, tap:tap + channels]
    div = (window * (alpha / size) + k) ** beta
    return (xd / div).astype(x.dtype)
