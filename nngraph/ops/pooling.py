"""Pooling primitives: max/avg/LP pooling over sliding windows, adaptive pooling, max unpooling.

Every op works on ``(N, C, *spatial)`` arrays with any number of spatial dims; the functional layer normalizes
arguments (tuples, explicit padding, batched input). Windows are strided views of the (padded) input, reduced by a
loop over the kernel taps, each step a whole-array operation: no per-pixel loops.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import InputError
from .registry import Fusion, TensorSpec, defop

Ints = tuple[int, ...]


def pool_output_size(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool) -> int:
    """torch's pooling output length; in ceil mode the last window must start inside the input or left padding."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _out_sizes(spatial: Ints, kernel: Ints, stride: Ints, padding: Ints, dilation: Ints, ceil_mode: bool) -> Ints:
    return tuple(pool_output_size(*a, ceil_mode) for a in zip(spatial, kernel, stride, padding, dilation))


def sliding_windows(x: np.ndarray, out: Ints, kernel: Ints, stride: Ints, padding: Ints, dilation: Ints,
                    fill: float | int) -> np.ndarray:
    """View of shape ``(N, C, *out, *kernel)``: the pooling windows of ``x`` padded with ``fill``.

    The right side is padded further when ceil mode lets the last window run past the padded input.
    """
    nd = len(kernel)
    pads = [(0, 0), (0, 0)]
    for n, o, k, s, p, d in zip(x.shape[2:], out, kernel, stride, padding, dilation):
        need = (o - 1) * s + d * (k - 1) + 1
        pads.append((p, max(p, need - n - p)))
    xp = np.pad(x, pads, constant_values=fill) if any(a or b for a, b in pads) else x
    view = sliding_window_view(xp, [d * (k - 1) + 1 for k, d in zip(kernel, dilation)], axis=tuple(range(2, 2 + nd)))
    index = (slice(None),) * 2 + tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(out, stride))
    index += tuple(slice(None, None, d) for d in dilation)
    return view[index]


def _lowest(dtype: np.dtype) -> float | int:
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _taps(win: np.ndarray, nd: int) -> Iterator[tuple[tuple[int, ...], np.ndarray]]:
    """Each tap of the trailing ``nd`` window axes, as a strided view of the output's shape."""
    for tap in np.ndindex(*win.shape[-nd:]):
        yield tap, win[(Ellipsis,) + tap]


def _tap_max(win: np.ndarray, nd: int) -> np.ndarray:
    """Max over the trailing ``nd`` window axes; NaN propagates."""
    taps = _taps(win, nd)
    acc = next(taps)[1].copy()
    for _, v in taps:
        np.maximum(acc, v, out=acc)
    return acc


def _tap_sum(win: np.ndarray, nd: int, dtype: np.dtype) -> np.ndarray:
    acc = np.zeros(win.shape[:-nd], dtype=dtype)
    for _, v in _taps(win, nd):
        acc += v
    return acc


def _flat(coords: list[np.ndarray], spatial: Ints) -> np.ndarray:
    """Flat per-plane index from per-dim coordinates (``coords[d]`` of shape ``(out_d,)``), shaped ``(*out)``."""
    nd = len(coords)
    flat = np.zeros((1,) * nd, dtype=np.int64)
    plane_stride = 1
    for d in reversed(range(nd)):
        flat = flat + coords[d].reshape((-1,) + (1,) * (nd - 1 - d)) * plane_stride
        plane_stride *= spatial[d]
    return flat


def _has_nan(x: np.ndarray) -> bool:
    return x.dtype.kind == "f" and bool(np.isnan(x).any())


def _scan_argmax(win: np.ndarray, nd: int, position: Callable[[tuple[int, ...]], np.ndarray], start: np.ndarray,
                 has_nan: bool) -> tuple[np.ndarray, np.ndarray]:
    """torch's max scan over window taps in row-major order: ``if val > max or isnan(val): take it``.

    It starts from the dtype's lowest value and index ``start``, so ties keep the first maximum, a NaN window reports
    its last NaN, and padding (the lowest value) never wins. ``position(tap)`` is the flat input index of ``tap`` in
    every window, broadcastable to the output; ``has_nan`` says whether the input holds any NaN.
    """
    best = np.full(win.shape[:-nd], _lowest(win.dtype), dtype=win.dtype)
    index = np.array(np.broadcast_to(start, best.shape), dtype=np.int64)
    for tap, v in _taps(win, nd):
        take = v > best
        if has_nan:
            take |= np.isnan(v)
        np.copyto(best, v, where=take)
        np.copyto(index, position(tap), where=take)
    return best, index


# ---------------------------------------------------------------------------------------------------- max pooling
def _max_pool_shape(x: TensorSpec, *, kernel_size: Ints, stride: Ints, padding: Ints, dilation: Ints,
                    ceil_mode: bool) -> TensorSpec:
    out = _out_sizes(x.shape[2:], kernel_size, stride, padding, dilation, ceil_mode)
    return TensorSpec(x.shape[:2] + out, x.dtype)


def _with_indices(shape: Callable[..., TensorSpec]) -> Callable[..., tuple[TensorSpec, TensorSpec]]:
    def rule(x: TensorSpec, **attrs: object) -> tuple[TensorSpec, TensorSpec]:
        values = shape(x, **attrs)
        return values, TensorSpec(values.shape, np.int64)
    return rule


@defop("max_pool", fusion=Fusion.REDUCTION, shape=_max_pool_shape)
def max_pool(x: np.ndarray, *, kernel_size: Ints, stride: Ints, padding: Ints, dilation: Ints,
             ceil_mode: bool) -> np.ndarray:
    """N-d max pooling of ``(N, C, *spatial)``; padding never wins (it is the dtype's lowest value); NaN propagates."""
    out = _out_sizes(x.shape[2:], kernel_size, stride, padding, dilation, ceil_mode)
    win = sliding_windows(x, out, kernel_size, stride, padding, dilation, _lowest(x.dtype))
    return _tap_max(win, len(kernel_size))


@defop("max_pool_with_indices", fusion=Fusion.REDUCTION, shape=_with_indices(_max_pool_shape), n_outputs=2)
def max_pool_with_indices(x: np.ndarray, *, kernel_size: Ints, stride: Ints, padding: Ints, dilation: Ints,
                          ceil_mode: bool) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling plus torch's indices: the flat per-plane input position of each maximum (int64).

    A window lying wholly in padding reports its first tap past the left padding, as torch does.
    """
    spatial = x.shape[2:]
    out = _out_sizes(spatial, kernel_size, stride, padding, dilation, ceil_mode)
    win = sliding_windows(x, out, kernel_size, stride, padding, dilation, _lowest(x.dtype))
    origin = [np.arange(o) * s - p for o, s, p in zip(out, stride, padding)]
    # torch starts each scan at the first tap inside the input from the left
    first = [o0 + -(np.minimum(o0, 0) // d) * d for o0, d in zip(origin, dilation)]

    def position(tap: tuple[int, ...]) -> np.ndarray:
        return _flat([o0 + t * d for o0, t, d in zip(origin, tap, dilation)], spatial)

    return _scan_argmax(win, len(kernel_size), position, _flat(first, spatial), _has_nan(x))


# ---------------------------------------------------------------------------------------------------- avg / LP pooling
def _divisors(spatial: Ints, out: Ints, kernel: Ints, stride: Ints, padding: Ints,
              count_include_pad: bool) -> np.ndarray:
    """Per-window divisor, shape ``out``: the window size clipped to the padded input (count_include_pad) or to the
    input itself."""
    total = np.ones((1,) * len(out), dtype=np.int64)
    for i, (n, o, k, s, p) in enumerate(zip(spatial, out, kernel, stride, padding)):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        shape = [1] * len(out)
        shape[i] = o
        total = total * (end - start).reshape(shape)
    return total


def _avg_pool_shape(x: TensorSpec, *, kernel_size: Ints, stride: Ints, padding: Ints, ceil_mode: bool,
                    count_include_pad: bool, divisor_override: int | None) -> TensorSpec:
    ones = (1,) * len(kernel_size)
    return TensorSpec(x.shape[:2] + _out_sizes(x.shape[2:], kernel_size, stride, padding, ones, ceil_mode), x.dtype)


@defop("avg_pool", fusion=Fusion.REDUCTION, shape=_avg_pool_shape)
def avg_pool(x: np.ndarray, *, kernel_size: Ints, stride: Ints, padding: Ints, ceil_mode: bool,
             count_include_pad: bool, divisor_override: int | None) -> np.ndarray:
    """N-d average pooling with torch's divisor rules; integer input divides with truncation, like torch."""
    nd = len(kernel_size)
    ones = (1,) * nd
    spatial = x.shape[2:]
    out = _out_sizes(spatial, kernel_size, stride, padding, ones, ceil_mode)
    win = sliding_windows(x, out, kernel_size, stride, padding, ones, 0)
    acc = np.dtype(np.int64) if x.dtype.kind in "iu" else np.dtype(np.float32) if x.dtype == np.float16 else x.dtype
    total = _tap_sum(win, nd, acc)
    if divisor_override is not None:
        div = np.full(out, divisor_override, dtype=np.int64)
    else:
        div = _divisors(spatial, out, kernel_size, stride, padding, count_include_pad)
    if x.dtype.kind == "f":
        return (total / div.astype(acc)).astype(x.dtype, copy=False)
    return (np.sign(total) * (np.abs(total) // div)).astype(x.dtype)


def _lp_pool_shape(x: TensorSpec, *, norm_type: float, kernel_size: Ints, stride: Ints, ceil_mode: bool) -> TensorSpec:
    nd = len(kernel_size)
    return TensorSpec(x.shape[:2] + _out_sizes(x.shape[2:], kernel_size, stride, (0,) * nd, (1,) * nd, ceil_mode),
                      x.dtype)


@defop("lp_pool", fusion=Fusion.REDUCTION, shape=_lp_pool_shape)
def lp_pool(x: np.ndarray, *, norm_type: float, kernel_size: Ints, stride: Ints, ceil_mode: bool) -> np.ndarray:
    """Power-average pooling ``(sum x^p)^(1/p)`` (max |x| for p=inf, min |x| for p=-inf).

    As in torch, a window cut short by ceil mode is rescaled to the full kernel: ``(mean x^p * prod(k))^(1/p)``;
    a negative power sum gives NaN for fractional 1/p.
    """
    nd = len(kernel_size)
    ones, zeros = (1,) * nd, (0,) * nd
    spatial = x.shape[2:]
    out = _out_sizes(spatial, kernel_size, stride, zeros, ones, ceil_mode)
    if np.isinf(norm_type):
        sign = 1 if norm_type > 0 else -1  # min |x| = -max(-|x|)
        win = sliding_windows(sign * np.abs(x), out, kernel_size, stride, zeros, ones, -np.inf)
        return (sign * _tap_max(win, nd)).astype(x.dtype, copy=False)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        powered = np.power(x, x.dtype.type(norm_type))
        total = _tap_sum(sliding_windows(powered, out, kernel_size, stride, zeros, ones, 0), nd, x.dtype)
        full = int(np.prod(kernel_size))
        counts = _divisors(spatial, out, kernel_size, stride, zeros, True)
        if not np.all(counts == full):
            total = total / counts.astype(x.dtype) * x.dtype.type(full)
        return np.power(total, x.dtype.type(1.0 / norm_type)).astype(x.dtype, copy=False)


# ---------------------------------------------------------------------------------------------------- adaptive pooling
def adaptive_bins(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """torch's adaptive bins along one dim: ``idx[o, l]`` (positions, the last repeated past the bin end) and the
    mask of real positions; bin ``o`` covers ``[floor(o*size/out), ceil((o+1)*size/out))``."""
    o = np.arange(out)
    start = (o * size) // out
    end = ((o + 1) * size + out - 1) // out
    length = int((end - start).max()) if out else 0
    idx = start[:, None] + np.arange(length)[None, :]
    mask = idx < end[:, None]
    return np.minimum(idx, end[:, None] - 1), mask


def _adaptive_shape(x: TensorSpec, *, output_size: Ints) -> TensorSpec:
    return TensorSpec(x.shape[:2] + tuple(output_size), x.dtype)


@defop("adaptive_avg_pool", fusion=Fusion.REDUCTION, shape=_adaptive_shape)
def adaptive_avg_pool(x: np.ndarray, *, output_size: Ints) -> np.ndarray:
    """Adaptive average pooling of ``(N, C, *spatial)``; separable, one spatial dim at a time."""
    acc = np.float32 if x.dtype == np.float16 else x.dtype
    y = x.astype(acc, copy=False)
    for axis, out in zip(range(2, x.ndim), output_size):
        idx, mask = adaptive_bins(x.shape[axis], out)
        w = (mask / np.maximum(mask.sum(axis=1, keepdims=True), 1)).astype(acc)
        trailing = (1,) * (y.ndim - axis - 1)
        total = np.zeros(y.shape[:axis] + (out,) + y.shape[axis + 1:], dtype=acc)
        for t in range(idx.shape[1]):  # a loop over bin taps (the longest bin), not pixels
            total += np.take(y, idx[:, t], axis=axis) * w[:, t].reshape((out,) + trailing)
        y = total
    return y.astype(x.dtype, copy=False)


def _adaptive_windows(x: np.ndarray, output_size: Ints) -> tuple[np.ndarray, list[np.ndarray]]:
    """Gathered bins ``(N, C, *out, *L)`` (positions past a bin's end repeat its last one) and per-dim bin
    positions ``idx[d]`` of shape ``(out_d, L_d)``."""
    nd = x.ndim - 2
    bins = [adaptive_bins(n, o)[0] for n, o in zip(x.shape[2:], output_size)]
    grid = []
    for d, idx in enumerate(bins):
        shape = [1] * (2 * nd)
        shape[2 * d], shape[2 * d + 1] = idx.shape
        grid.append(idx.reshape(shape))
    win = x[(slice(None), slice(None)) + tuple(grid)]  # (N, C, o1, L1, o2, L2, ...)
    order = (0, 1) + tuple(2 + 2 * d for d in range(nd)) + tuple(3 + 2 * d for d in range(nd))
    return win.transpose(order), bins


@defop("adaptive_max_pool", fusion=Fusion.REDUCTION, shape=_adaptive_shape)
def adaptive_max_pool(x: np.ndarray, *, output_size: Ints) -> np.ndarray:
    """Adaptive max pooling of ``(N, C, *spatial)``; NaN propagates."""
    if 0 in output_size:
        return np.empty(x.shape[:2] + tuple(output_size), dtype=x.dtype)
    y = x
    for axis, out in zip(range(2, x.ndim), output_size):  # max is separable
        idx, _ = adaptive_bins(x.shape[axis], out)
        acc = np.take(y, idx[:, 0], axis=axis)
        for t in range(1, idx.shape[1]):
            np.maximum(acc, np.take(y, idx[:, t], axis=axis), out=acc)
        y = acc
    return y


@defop("adaptive_max_pool_with_indices", fusion=Fusion.REDUCTION, shape=_with_indices(_adaptive_shape), n_outputs=2)
def adaptive_max_pool_with_indices(x: np.ndarray, *, output_size: Ints) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive max pooling with flat per-plane indices (first maximum in row-major order; last NaN if any)."""
    shape = x.shape[:2] + tuple(output_size)
    if 0 in output_size:
        return np.empty(shape, dtype=x.dtype), np.empty(shape, dtype=np.int64)
    win, bins = _adaptive_windows(x, output_size)
    spatial = x.shape[2:]

    def position(tap: tuple[int, ...]) -> np.ndarray:
        return _flat([idx[:, t] for idx, t in zip(bins, tap)], spatial)

    return _scan_argmax(win, x.ndim - 2, position, position((0,) * (x.ndim - 2)), _has_nan(x))


# ---------------------------------------------------------------------------------------------------- max unpooling
def _max_unpool_shape(x: TensorSpec, indices: TensorSpec, *, output_size: Ints) -> TensorSpec:
    return TensorSpec(x.shape[:2] + tuple(output_size), x.dtype)


@defop("max_unpool", fusion=Fusion.OPAQUE, shape=_max_unpool_shape)
def max_unpool(x: np.ndarray, indices: np.ndarray, *, output_size: Ints) -> np.ndarray:
    """Scatter ``x`` into zeros of spatial shape ``output_size`` at flat per-plane ``indices``."""
    n, c = x.shape[:2]
    plane = int(np.prod(output_size))
    if indices.size and (indices.min() < 0 or indices.max() >= plane):
        bad = int(indices.min() if indices.min() < 0 else indices.max())
        raise InputError("max_unpool", f"indices in [0, {plane}) for output size {tuple(output_size)}", f"index {bad}")
    out = np.zeros((n, c, plane), dtype=x.dtype)
    np.put_along_axis(out, indices.reshape(n, c, -1), x.reshape(n, c, -1), axis=-1)
    return out.reshape((n, c) + tuple(output_size))
