"""Pooling primitives: max/avg/LP pooling over sliding windows, adaptive pooling, max unpooling.

Every op works on ``(N, C, *spatial)`` arrays with any number of spatial dims; the functional layer normalizes
arguments (tuples, explicit padding, batched input). Sliding windows are strided views, so no per-pixel loops.
"""
from __future__ import annotations

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


def _windows(x: np.ndarray, out: Ints, kernel: Ints, stride: Ints, padding: Ints, dilation: Ints,
             fill: float | int) -> np.ndarray:
    """View of shape ``(N, C, *out, *kernel)``: the pooling windows of ``x`` padded with ``fill``.

    The right side is padded further when ceil mode lets the last window run past the padded input.
    """
    nd = len(kernel)
    spatial = x.shape[2:]
    pads = [(0, 0), (0, 0)]
    for n, o, k, s, p, d in zip(spatial, out, kernel, stride, padding, dilation):
        need = (o - 1) * s + d * (k - 1) + 1
        pads.append((p, max(p, need - n - p)))
    xp = np.pad(x, pads, constant_values=fill) if any(a or b for a, b in pads) else x
    view = sliding_window_view(xp, [d * (k - 1) + 1 for k, d in zip(kernel, dilation)], axis=tuple(range(2, 2 + nd)))
    index = (slice(None),) * 2 + tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(out, stride))
    index += tuple(slice(None, None, d) for d in dilation)
    return view[index]


def _tap_positions(spatial: Ints, out: Ints, kernel: Ints, stride: Ints, padding: Ints,
                   dilation: Ints) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat per-plane input index of every window tap, its in-bounds mask and its not-in-left-padding mask, each of
    shape ``(*out, prod(kernel))``."""
    nd = len(kernel)
    flat = np.zeros((1,) * (2 * nd), dtype=np.int64)
    valid = np.ones((1,) * (2 * nd), dtype=bool)
    nonneg = np.ones((1,) * (2 * nd), dtype=bool)
    plane_stride = 1
    for i in reversed(range(nd)):
        pos = (np.arange(out[i])[:, None] * stride[i] - padding[i] + np.arange(kernel[i])[None, :] * dilation[i])
        shape = [1] * (2 * nd)
        shape[i], shape[nd + i] = out[i], kernel[i]
        pos = pos.reshape(shape)
        flat = flat + pos * plane_stride
        valid = valid & (pos >= 0) & (pos < spatial[i])
        nonneg = nonneg & (pos >= 0)
        plane_stride *= spatial[i]
    full = tuple(out) + tuple(kernel)
    k = int(np.prod(kernel))
    return tuple(np.broadcast_to(a, full).reshape(tuple(out) + (k,)) for a in (flat, valid, nonneg))  # type: ignore


def _lowest(dtype: np.dtype) -> float | int:
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _torch_argmax(flat: np.ndarray, values: np.ndarray, taps: np.ndarray, valid: np.ndarray | None = None,
                  nonneg: np.ndarray | None = None) -> np.ndarray:
    """torch's index of each window maximum: ``flat`` is ``(N, C, *out, K)``, ``taps``/``valid``/``nonneg`` are
    ``(*out, K)``.

    Ties go to the first valid tap in row-major window order; a window holding NaN reports its last NaN (torch scans
    with ``val > max || isnan(val)``); a window with no tap inside the input reports its first tap past the left
    padding, as torch does.
    """
    hit = flat == values[..., None]
    is_float = flat.dtype.kind == "f"
    if is_float:
        hit |= np.isnan(flat)
    if valid is not None:
        hit &= valid
    pick = np.argmax(hit, axis=-1)
    if is_float:
        last = hit.shape[-1] - 1 - np.argmax(hit[..., ::-1], axis=-1)
        pick = np.where(np.isnan(values), last, pick)
    if valid is not None and nonneg is not None and not valid.any(axis=-1).all():
        pick = np.where(valid.any(axis=-1), pick, np.argmax(nonneg, axis=-1))
    return np.take_along_axis(taps[None, None], pick[..., None], axis=-1)[..., 0].astype(np.int64)


# ---------------------------------------------------------------------------------------------------- max pooling
def _max_pool_shape(x: TensorSpec, *, kernel_size: Ints, stride: Ints, padding: Ints, dilation: Ints,
                    ceil_mode: bool) -> TensorSpec:
    out = _out_sizes(x.shape[2:], kernel_size, stride, padding, dilation, ceil_mode)
    return TensorSpec(x.shape[:2] + out, x.dtype)


def _max_pool_indices_shape(x: TensorSpec, **attrs: object) -> tuple[TensorSpec, TensorSpec]:
    values = _max_pool_shape(x, **attrs)  # type: ignore[arg-type]
    return values, TensorSpec(values.shape, np.int64)


@defop("max_pool", fusion=Fusion.REDUCTION, shape=_max_pool_shape)
def max_pool(x: np.ndarray, *, kernel_size: Ints, stride: Ints, padding: Ints, dilation: Ints,
             ceil_mode: bool) -> np.ndarray:
    """N-d max pooling of ``(N, C, *spatial)``; padding never wins (it is the dtype's lowest value); NaN propagates."""
    nd = len(kernel_size)
    out = _out_sizes(x.shape[2:], kernel_size, stride, padding, dilation, ceil_mode)
    win = _windows(x, out, kernel_size, stride, padding, dilation, _lowest(x.dtype))
    return win.max(axis=tuple(range(-nd, 0)))


@defop("max_pool_with_indices", fusion=Fusion.REDUCTION, shape=_max_pool_indices_shape, n_outputs=2)
def max_pool_with_indices(x: np.ndarray, *, kernel_size: Ints, stride: Ints, padding: Ints, dilation: Ints,
                          ceil_mode: bool) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling plus torch's indices: the flat per-plane input position of each maximum (int64)."""
    nd = len(kernel_size)
    spatial = x.shape[2:]
    out = _out_sizes(spatial, kernel_size, stride, padding, dilation, ceil_mode)
    win = _windows(x, out, kernel_size, stride, padding, dilation, _lowest(x.dtype))
    flat = win.reshape(win.shape[:2 + nd] + (int(np.prod(kernel_size)),))
    values = flat.max(axis=-1)
    taps, valid, nonneg = _tap_positions(spatial, out, kernel_size, stride, padding, dilation)
    return values, _torch_argmax(flat, values, taps, valid, nonneg)


# ---------------------------------------------------------------------------------------------------- avg / LP pooling
def _divisors(spatial: Ints, out: Ints, kernel: Ints, stride: Ints, padding: Ints, count_include_pad: bool) -> np.ndarray:
    """Per-window divisor, shape ``out``: the window size clipped to the padded input (count_include_pad) or to the
    input itself."""
    total = np.ones((1,) * len(out))
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
    win = _windows(x, out, kernel_size, stride, padding, ones, 0)
    if x.dtype.kind == "f":
        total = win.sum(axis=tuple(range(-nd, 0)), dtype=np.float32 if x.dtype == np.float16 else x.dtype)
    else:
        total = win.sum(axis=tuple(range(-nd, 0)), dtype=np.int64)
    if divisor_override is not None:
        div = np.full(out, divisor_override)
    else:
        div = _divisors(spatial, out, kernel_size, stride, padding, count_include_pad)
    if x.dtype.kind == "f":
        return (total / div.astype(total.dtype)).astype(x.dtype)
    div = div.astype(np.int64)
    return (np.sign(total) * (np.abs(total) // div)).astype(x.dtype)


def _lp_pool_shape(x: TensorSpec, *, norm_type: float, kernel_size: Ints, stride: Ints, ceil_mode: bool) -> TensorSpec:
    ones = (1,) * len(kernel_size)
    zeros = (0,) * len(kernel_size)
    return TensorSpec(x.shape[:2] + _out_sizes(x.shape[2:], kernel_size, stride, zeros, ones, ceil_mode), x.dtype)


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
    axes = tuple(range(-nd, 0))
    if np.isinf(norm_type):
        win = _windows(np.abs(x), out, kernel_size, stride, zeros, ones, np.inf if norm_type < 0 else -np.inf)
        return (win.max(axis=axes) if norm_type > 0 else win.min(axis=axes)).astype(x.dtype)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        powered = np.power(x, x.dtype.type(norm_type))
        win = _windows(powered, out, kernel_size, stride, zeros, ones, 0)
        total = win.sum(axis=axes)
        full = float(np.prod(kernel_size))
        counts = _divisors(spatial, out, kernel_size, stride, zeros, True)
        if not np.all(counts == full):
            total = total / counts.astype(x.dtype) * x.dtype.type(full)
        return np.power(total, x.dtype.type(1.0 / norm_type)).astype(x.dtype)


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


def _adaptive_indices_shape(x: TensorSpec, *, output_size: Ints) -> tuple[TensorSpec, TensorSpec]:
    values = _adaptive_shape(x, output_size=output_size)
    return values, TensorSpec(values.shape, np.int64)


@defop("adaptive_avg_pool", fusion=Fusion.REDUCTION, shape=_adaptive_shape)
def adaptive_avg_pool(x: np.ndarray, *, output_size: Ints) -> np.ndarray:
    """Adaptive average pooling of ``(N, C, *spatial)``; separable, one spatial dim at a time."""
    acc = np.float32 if x.dtype == np.float16 else x.dtype
    y = x.astype(acc, copy=False)
    for axis, out in zip(range(2, x.ndim), output_size):
        idx, mask = adaptive_bins(x.shape[axis], out)
        w = (mask / mask.sum(axis=1, keepdims=True)).astype(acc)
        gathered = np.take(y, idx, axis=axis)  # (..., out, L, ...)
        w = w.reshape(w.shape + (1,) * (y.ndim - axis - 1))
        y = (gathered * w).sum(axis=axis + 1)
    return y.astype(x.dtype)


@defop("adaptive_max_pool", fusion=Fusion.REDUCTION, shape=_adaptive_indices_shape, n_outputs=2)
def adaptive_max_pool(x: np.ndarray, *, output_size: Ints) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive max pooling with flat per-plane indices (first maximum in row-major order; last NaN if any)."""
    nd = x.ndim - 2
    grid: list[np.ndarray] = []
    taps = np.zeros((1,) * (2 * nd), dtype=np.int64)
    plane_stride = 1
    for i in reversed(range(nd)):
        idx, _ = adaptive_bins(x.shape[2 + i], output_size[i])
        shape = [1] * (2 * nd)
        shape[2 * i], shape[2 * i + 1] = idx.shape
        grid.insert(0, idx.reshape(shape))
        taps = taps + idx.reshape(shape) * plane_stride
        plane_stride *= x.shape[2 + i]
    # (N, C, o1, L1, o2, L2, ...) -> (N, C, o1, o2, ..., L1 * L2 * ...); positions past a bin's end repeat its last
    # element, which changes neither the maximum nor the first/last occurrence of it.
    win = x[(slice(None), slice(None)) + tuple(grid)]
    order = (0, 1) + tuple(2 + 2 * i for i in range(nd)) + tuple(3 + 2 * i for i in range(nd))
    k = int(np.prod(win.shape[3::2]))
    flat = win.transpose(order).reshape(x.shape[:2] + tuple(output_size) + (k,))
    taps = np.broadcast_to(taps, win.shape[2:]).transpose([o - 2 for o in order[2:]]).reshape(tuple(output_size) + (k,))
    values = flat.max(axis=-1)
    return values, _torch_argmax(flat, values, taps)


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
