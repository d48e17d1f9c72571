"""Pooling functions of ``torch.nn.functional``: max, average, LP and adaptive pooling, max unpooling."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ...errors import InputError, check_float, check_int, shape_str
from ...ops import pooling as P

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
    "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "adaptive_avg_pool3d", "max_unpool1d", "max_unpool2d", "max_unpool3d",
]

_SPATIAL = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def _pattern(nd: int) -> str:
    dims = ", ".join(_SPATIAL[nd])
    return f"(N, C, {dims}) or (C, {dims})"


def _ntuple(who: str, name: str, value: Any, nd: int) -> tuple[int, ...]:
    """An int, or a sequence of 1 or ``nd`` ints, as an ``nd``-tuple (torch accepts a single-element list too)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * nd
    if isinstance(value, (tuple, list)) and len(value) in (1, nd) and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        return tuple(int(v) for v in value) * (nd if len(value) == 1 else 1)
    raise InputError(who, f"{name} to be an int or a tuple of {nd} ints", repr(value))


def _check_input(who: str, x: Any, nd: int, *, ints: str = "") -> None:
    """(N, C, *spatial) or (C, *spatial) with non-empty C and spatial dims (N may be 0).

    Floating input is always accepted; ``ints`` names the integer dtypes torch also accepts (``"all"``, ``"int64"``).
    """
    dtype = getattr(x, "dtype", None)
    if not ints:
        check_float(who, x)
    elif not (dtype is not None and (dtype.kind == "f" or ints == "all" and dtype.kind in "iu" or dtype == np.int64)):
        kinds = "integer" if ints == "all" else "int64"
        got = f"dtype {dtype}" if dtype is not None else type(x).__name__
        raise InputError(who, f"a floating-point or {kinds} input", got)
    if x.ndim not in (nd + 1, nd + 2) or any(s == 0 for s in x.shape[-nd - 1:]):
        raise InputError(who, f"input of shape {_pattern(nd)} with non-zero C and spatial sizes", shape_str(x.shape))


def _window_args(who: str, x: np.ndarray, nd: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
                 ceil_mode: bool) -> tuple[tuple[int, ...], ...]:
    """Normalize and validate window arguments; returns (kernel, stride, padding, dilation)."""
    k = _ntuple(who, "kernel_size", kernel_size, nd)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else _ntuple(
        who, "stride", stride, nd)
    p = _ntuple(who, "padding", padding, nd)
    d = _ntuple(who, "dilation", dilation, nd)
    for name, vals, low in (("kernel_size", k, 1), ("stride", s, 1), ("dilation", d, 1), ("padding", p, 0)):
        if any(v < low for v in vals):
            raise InputError(who, f"{name} >= {low}", vals)
    for kk, pp in zip(k, p):
        if pp > kk // 2:  # torch bounds padding by half the kernel size, dilation notwithstanding
            raise InputError(who, f"padding at most half the kernel size ({kk // 2} for kernel_size={kk})",
                             f"padding={pp}")
    spatial = x.shape[-nd:]
    out = tuple(P.pool_output_size(*a, bool(ceil_mode)) for a in zip(spatial, k, s, p, d))
    if any(o < 1 for o in out):
        raise InputError(who, f"an input large enough for the window (output size {out} is too small)",
                         f"input of shape {shape_str(x.shape)}")
    return k, s, p, d


def _check_3d_avg_fits(who: str, x: np.ndarray, k: tuple[int, ...]) -> None:
    """torch's 3-d average pooling (and so LP pooling) also wants every input size to hold the kernel unpadded."""
    if any(n < kk for n, kk in zip(x.shape[-3:], k)):
        raise InputError(who, f"input spatial sizes of at least kernel_size={k}",
                         f"input of shape {shape_str(x.shape)}")


def _batched(x: np.ndarray, nd: int) -> tuple[np.ndarray, bool]:
    return (x, False) if x.ndim == nd + 2 else (x[None], True)


def _unbatch(y: Any, unbatched: bool) -> Any:
    if not unbatched:
        return y
    if isinstance(y, tuple):
        return tuple(a[0] for a in y)
    return y[0]


# ---------------------------------------------------------------------------------------------------- max pooling
def _max_pool(who: str, nd: int, input: np.ndarray, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
              ceil_mode: bool, return_indices: bool) -> Any:
    _check_input(who, input, nd, ints="all")
    k, s, p, d = _window_args(who, input, nd, kernel_size, stride, padding, dilation, ceil_mode)
    x, unbatched = _batched(input, nd)
    attrs = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=bool(ceil_mode))
    y = P.max_pool_with_indices(x, **attrs) if return_indices else P.max_pool(x, **attrs)
    return _unbatch(tuple(y) if return_indices else y, unbatched)


def max_pool1d(input: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """1D max pooling of ``(N, C, L)`` or ``(C, L)``; ``(values, indices)`` when ``return_indices``."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """2D max pooling of ``(N, C, H, W)`` or ``(C, H, W)``; ``(values, indices)`` when ``return_indices``."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """3D max pooling of ``(N, C, D, H, W)`` or ``(C, D, H, W)``; ``(values, indices)`` when ``return_indices``."""
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_with_indices(input: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0,
                            dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> tuple:
    """``max_pool1d`` that always returns ``(values, indices)``."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0,
                            dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> tuple:
    """``max_pool2d`` that always returns ``(values, indices)``."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0,
                            dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> tuple:
    """``max_pool3d`` that always returns ``(values, indices)``."""
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, True)


# ---------------------------------------------------------------------------------------------------- avg pooling
def _avg_pool(who: str, nd: int, input: np.ndarray, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool,
              count_include_pad: bool, divisor_override: int | None) -> np.ndarray:
    _check_input(who, input, nd, ints="int64")
    k, s, p, _ = _window_args(who, input, nd, kernel_size, stride, padding, 1, ceil_mode)
    if nd == 3:
        _check_3d_avg_fits(who, input, k)
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer)) or divisor_override == 0):
        raise InputError(who, "divisor_override to be a non-zero int or None", repr(divisor_override))
    x, unbatched = _batched(input, nd)
    y = P.avg_pool(x, kernel_size=k, stride=s, padding=p, ceil_mode=bool(ceil_mode),
                   count_include_pad=bool(count_include_pad),
                   divisor_override=None if divisor_override is None else int(divisor_override))
    return _unbatch(y, unbatched)


def avg_pool1d(input: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> np.ndarray:
    """1D average pooling of ``(N, C, L)`` or ``(C, L)``."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> np.ndarray:
    """2D average pooling of ``(N, C, H, W)`` or ``(C, H, W)``."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> np.ndarray:
    """3D average pooling of ``(N, C, D, H, W)`` or ``(C, D, H, W)``."""
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# ---------------------------------------------------------------------------------------------------- LP pooling
def _lp_pool(who: str, nd: int, input: np.ndarray, norm_type: float, kernel_size: Any, stride: Any,
             ceil_mode: bool) -> np.ndarray:
    _check_input(who, input, nd)
    if not isinstance(norm_type, (int, float, np.integer, np.floating)) or isinstance(norm_type, bool) or \
            norm_type == 0 or math.isnan(norm_type):
        raise InputError(who, "norm_type to be a non-zero number", repr(norm_type))
    k, s, _, _ = _window_args(who, input, nd, kernel_size, stride, 0, 1, ceil_mode)
    if nd == 3 and not math.isinf(norm_type):  # torch pools infinite norms with max_pool3d, finite with avg_pool3d
        _check_3d_avg_fits(who, input, k)
    x, unbatched = _batched(input, nd)
    y = P.lp_pool(x, norm_type=float(norm_type), kernel_size=k, stride=s, ceil_mode=bool(ceil_mode))
    return _unbatch(y, unbatched)


def lp_pool1d(input: np.ndarray, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> np.ndarray:
    """1D power-average pooling ``(sum x^p)^(1/p)`` of ``(N, C, L)`` or ``(C, L)``."""
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input: np.ndarray, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> np.ndarray:
    """2D power-average pooling of ``(N, C, H, W)`` or ``(C, H, W)``."""
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input: np.ndarray, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> np.ndarray:
    """3D power-average pooling of ``(N, C, D, H, W)`` or ``(C, D, H, W)``."""
    return _lp_pool("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode)


# ---------------------------------------------------------------------------------------------------- adaptive pooling
def _adaptive_size(who: str, x: np.ndarray, nd: int, output_size: Any) -> tuple[int, ...]:
    """int, or a sequence of ``nd`` (or 1) ints where ``None`` keeps the input size."""
    spatial = x.shape[-nd:]
    if isinstance(output_size, (int, np.integer)) and not isinstance(output_size, bool):
        sizes: Sequence[Any] = (int(output_size),) * nd
    elif isinstance(output_size, (tuple, list)) and len(output_size) in (1, nd):
        sizes = tuple(output_size) * (nd if len(output_size) == 1 else 1)
    else:
        raise InputError(who, f"output_size to be an int or a tuple of {nd} ints (or None)", repr(output_size))
    out = []
    for v, n in zip(sizes, spatial):
        if v is None:
            out.append(int(n))
        elif isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0:
            out.append(int(v))
        else:
            raise InputError(who, "output_size entries to be non-negative ints or None", repr(output_size))
    return tuple(out)


def _adaptive_max(who: str, nd: int, input: np.ndarray, output_size: Any, return_indices: bool) -> Any:
    _check_input(who, input, nd)
    out = _adaptive_size(who, input, nd, output_size)
    x, unbatched = _batched(input, nd)
    if return_indices:
        return _unbatch(tuple(P.adaptive_max_pool_with_indices(x, output_size=out)), unbatched)
    return _unbatch(P.adaptive_max_pool(x, output_size=out), unbatched)


def adaptive_max_pool1d(input: np.ndarray, output_size: Any, return_indices: bool = False) -> Any:
    """1D adaptive max pooling of ``(N, C, L)`` or ``(C, L)`` to length ``output_size``."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input: np.ndarray, output_size: Any, return_indices: bool = False) -> Any:
    """2D adaptive max pooling; ``None`` in ``output_size`` keeps that input size."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input: np.ndarray, output_size: Any, return_indices: bool = False) -> Any:
    """3D adaptive max pooling; ``None`` in ``output_size`` keeps that input size."""
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input: np.ndarray, output_size: Any, return_indices: bool = False) -> tuple:
    """``adaptive_max_pool1d`` that always returns ``(values, indices)``."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, True)


def adaptive_max_pool2d_with_indices(input: np.ndarray, output_size: Any, return_indices: bool = False) -> tuple:
    """``adaptive_max_pool2d`` that always returns ``(values, indices)``."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, True)


def adaptive_max_pool3d_with_indices(input: np.ndarray, output_size: Any, return_indices: bool = False) -> tuple:
    """``adaptive_max_pool3d`` that always returns ``(values, indices)``."""
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, True)


def _adaptive_avg(who: str, nd: int, input: np.ndarray, output_size: Any) -> np.ndarray:
    _check_input(who, input, nd)
    out = _adaptive_size(who, input, nd, output_size)
    x, unbatched = _batched(input, nd)
    return _unbatch(P.adaptive_avg_pool(x, output_size=out), unbatched)


def adaptive_avg_pool1d(input: np.ndarray, output_size: Any) -> np.ndarray:
    """1D adaptive average pooling of ``(N, C, L)`` or ``(C, L)`` to length ``output_size``."""
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: np.ndarray, output_size: Any) -> np.ndarray:
    """2D adaptive average pooling; ``None`` in ``output_size`` keeps that input size."""
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input: np.ndarray, output_size: Any) -> np.ndarray:
    """3D adaptive average pooling; ``None`` in ``output_size`` keeps that input size."""
    return _adaptive_avg("adaptive_avg_pool3d", 3, input, output_size)


# ---------------------------------------------------------------------------------------------------- max unpooling
def _unpool_size(who: str, x: np.ndarray, nd: int, k: tuple[int, ...], s: tuple[int, ...], p: tuple[int, ...],
                 output_size: Any) -> tuple[int, ...]:
    """torch's rule: default ``(in - 1) * stride + kernel - 2 * padding``; an explicit size (spatial, or with the
    N, C dims) must lie strictly within one stride of it."""
    default = tuple((n - 1) * ss + kk - 2 * pp for n, kk, ss, pp in zip(x.shape[-nd:], k, s, p))
    if output_size is None:
        out = default
    else:
        size = tuple(int(v) for v in output_size)
        if len(size) == nd + 2:
            size = size[2:]
        if len(size) != nd:
            raise InputError(who, f"output_size with {nd} or {nd + 2} elements", repr(tuple(output_size)))
        for d, (o, dflt, ss) in enumerate(zip(size, default, s)):
            if not dflt - ss < o < dflt + ss:
                raise InputError(who, f"output_size[{d}] between {dflt - ss} and {dflt + ss} (exclusive)", o)
        out = size
    if any(o < 0 for o in out):
        raise InputError(who, "non-negative output sizes", out)
    return out


def _max_unpool(who: str, nd: int, input: np.ndarray, indices: np.ndarray, kernel_size: Any, stride: Any,
                padding: Any, output_size: Any) -> np.ndarray:
    _check_input(who, input, nd)
    check_int(who, indices)
    if indices.shape != input.shape:
        raise InputError(who, f"indices of the input's shape {shape_str(input.shape)}", shape_str(indices.shape))
    k = _ntuple(who, "kernel_size", kernel_size, nd)
    s = k if stride is None else _ntuple(who, "stride", stride, nd)
    p = _ntuple(who, "padding", padding, nd)
    out = _unpool_size(who, input, nd, k, s, p, output_size)
    x, unbatched = _batched(input, nd)
    idx, _ = _batched(indices, nd)
    return _unbatch(P.max_unpool(x, idx, output_size=out), unbatched)


def max_unpool1d(input: np.ndarray, indices: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 output_size: Any = None) -> np.ndarray:
    """Partial inverse of ``max_pool1d``: scatter values to ``indices``, zeros elsewhere."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input: np.ndarray, indices: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 output_size: Any = None) -> np.ndarray:
    """Partial inverse of ``max_pool2d``: scatter values to ``indices``, zeros elsewhere."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input: np.ndarray, indices: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 output_size: Any = None) -> np.ndarray:
    """Partial inverse of ``max_pool3d``: scatter values to ``indices``, zeros elsewhere."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)
