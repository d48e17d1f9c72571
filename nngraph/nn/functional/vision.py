"""Vision functions of ``torch.nn.functional``: pixel/channel shuffles, ``interpolate``, ``fold``/``unfold``."""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ...errors import InputError, check_float, shape_str
from ...ops import pooling as P
from ...ops import vision as V

__all__ = ["pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle", "interpolate", "upsample",
           "upsample_nearest", "upsample_bilinear", "unfold", "fold"]


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _positive_int(who: str, name: str, v: Any) -> int:
    if not _is_int(v) or v <= 0:
        raise InputError(who, f"{name} to be a positive int", repr(v))
    return int(v)


# ---------------------------------------------------------------------------------------------------- shuffles
def pixel_shuffle(input: np.ndarray, upscale_factor: int) -> np.ndarray:
    """``(*, C*r^2, H, W) -> (*, C, H*r, W*r)`` with ``r = upscale_factor``."""
    who = "pixel_shuffle"
    r = _positive_int(who, "upscale_factor", upscale_factor)
    if input.ndim < 3 or input.shape[-3] % (r * r):
        raise InputError(who, f"input of shape (*, C*{r * r}, H, W) (channels divisible by upscale_factor**2)",
                         shape_str(input.shape))
    return V.pixel_shuffle(input, upscale_factor=r)


def pixel_unshuffle(input: np.ndarray, downscale_factor: int) -> np.ndarray:
    """``(*, C, H*r, W*r) -> (*, C*r^2, H, W)`` with ``r = downscale_factor``."""
    who = "pixel_unshuffle"
    r = _positive_int(who, "downscale_factor", downscale_factor)
    if input.ndim < 3 or input.shape[-2] % r or input.shape[-1] % r:
        raise InputError(who, f"input of shape (*, C, H*{r}, W*{r}) (H and W divisible by downscale_factor)",
                         shape_str(input.shape))
    return V.pixel_unshuffle(input, downscale_factor=r)


def channel_shuffle(input: np.ndarray, groups: int) -> np.ndarray:
    """Split dim 1 of ``(N, C, *)`` into ``groups`` and interleave them (ShuffleNet)."""
    who = "channel_shuffle"
    g = _positive_int(who, "groups", groups)
    if input.ndim < 3 or input.shape[1] % g:
        raise InputError(who, f"input of shape (N, C, *) with C divisible by groups={g}", shape_str(input.shape))
    return V.channel_shuffle(input, groups=g)


native_channel_shuffle = channel_shuffle


# ---------------------------------------------------------------------------------------------------- interpolate
_MODE_DIMS = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "area": (1, 2, 3), "linear": (1,), "bilinear": (2,),
              "bicubic": (2,), "trilinear": (3,)}
_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}


def _output_size(who: str, x: np.ndarray, dim: int, size: Any, scale_factor: Any, recompute: bool | None,
                 mode: str) -> tuple[tuple[int, ...], tuple[float | None, ...]]:
    """torch's size/scale resolution: the output size, and the scales the kernel maps coordinates with."""
    spatial = x.shape[2:]
    if size is not None and scale_factor is not None:
        raise InputError(who, "only one of size or scale_factor", f"size={size!r}, scale_factor={scale_factor!r}")
    if size is not None:
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * dim
        if len(sizes) != dim or not all(_is_int(s) for s in sizes):
            raise InputError(who, f"size to be an int or a tuple of {dim} ints for input {shape_str(x.shape)}",
                             repr(size))
        if recompute:
            raise InputError(who, "recompute_scale_factor only with scale_factor", "an explicit size")
        out, scales = tuple(int(s) for s in sizes), (None,) * dim
    elif scale_factor is not None:
        factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * dim
        if len(factors) != dim:
            raise InputError(who, f"scale_factor to be a number or a tuple of {dim} numbers for input "
                                  f"{shape_str(x.shape)}", repr(scale_factor))
        factors = tuple(float(f) for f in factors)
        out = tuple(int(n * f) for n, f in zip(spatial, factors))  # truncation, like torch
        scales = (None,) * dim if recompute or mode == "area" else factors
    else:
        raise InputError(who, "size or scale_factor", "neither")
    if any(n <= 0 for n in spatial) or any(o < (0 if mode == "area" else 1) for o in out):
        raise InputError(who, "input and output spatial sizes greater than 0",
                         f"input {shape_str(spatial)} and output {shape_str(out)}")
    return out, scales


def interpolate(input: np.ndarray, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> np.ndarray:
    """Resize ``(N, C, *spatial)`` to ``size`` or by ``scale_factor`` with torch's modes: nearest, nearest-exact,
    area, linear (3D), bilinear/bicubic (4D, optionally antialiased), trilinear (5D)."""
    who = "interpolate"
    if mode not in _MODE_DIMS:
        raise InputError(who, f"mode one of {', '.join(_MODE_DIMS)}", repr(mode))
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise InputError(who, f"align_corners=None for mode {mode!r} (only linear modes interpolate corners)",
                             f"align_corners={align_corners}")
    elif align_corners is None:
        align_corners = False
    check_float(who, input)
    dim = input.ndim - 2
    if dim not in _MODE_DIMS[mode]:
        layouts = " or ".join(_LAYOUT[d] for d in _MODE_DIMS[mode])
        raise InputError(who, f"input of shape {layouts} for mode {mode!r}", shape_str(input.shape))
    if input.shape[1] == 0:
        raise InputError(who, f"input of shape {_LAYOUT[dim]} with C > 0", shape_str(input.shape))
    if antialias and (mode not in ("bilinear", "bicubic") or dim != 2):
        raise InputError(who, "antialias only with mode 'bilinear' or 'bicubic' on (N, C, H, W) input",
                         f"mode {mode!r} on {shape_str(input.shape)}")
    out, scales = _output_size(who, input, dim, size, scale_factor, recompute_scale_factor, mode)
    if mode == "area":
        return P.adaptive_avg_pool(input, output_size=out)
    if mode in ("nearest", "nearest-exact"):
        return V.upsample_nearest(input, size=out, scales=scales, exact=mode == "nearest-exact")
    if antialias:
        return V.upsample_antialias(input, size=out, scales=scales, align_corners=bool(align_corners), kind=mode)
    if mode == "bicubic":
        return V.upsample_bicubic(input, size=out, scales=scales, align_corners=bool(align_corners))
    return V.upsample_linear(input, size=out, scales=scales, align_corners=bool(align_corners))


def upsample(input: np.ndarray, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
             align_corners: bool | None = None) -> np.ndarray:
    """Deprecated alias of ``interpolate``."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: np.ndarray, size: Any = None, scale_factor: Any = None) -> np.ndarray:
    """Deprecated: ``interpolate(..., mode='nearest')``."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: np.ndarray, size: Any = None, scale_factor: Any = None) -> np.ndarray:
    """Deprecated: ``interpolate(..., mode='bilinear', align_corners=True)``."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---------------------------------------------------------------------------------------------------- fold / unfold
def _pair(who: str, name: str, v: Any, low: int) -> tuple[int, int]:
    if _is_int(v):
        out = (int(v), int(v))
    elif isinstance(v, (tuple, list)) and len(v) == 2 and all(_is_int(a) for a in v):
        out = (int(v[0]), int(v[1]))
    else:
        raise InputError(who, f"{name} to be an int or a pair of ints", repr(v))
    if min(out) < low:
        raise InputError(who, f"{name} >= {low}", out)
    return out


def _block_args(who: str, kernel_size: Any, dilation: Any, padding: Any, stride: Any) -> dict:
    return dict(kernel_size=_pair(who, "kernel_size", kernel_size, 1), dilation=_pair(who, "dilation", dilation, 1),
                padding=_pair(who, "padding", padding, 0), stride=_pair(who, "stride", stride, 1))


def _blocks(size: tuple[int, int], a: dict) -> tuple[int, ...]:
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                 for n, k, d, p, s in zip(size, a["kernel_size"], a["dilation"], a["padding"], a["stride"]))


def unfold(input: np.ndarray, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> np.ndarray:
    """Extract sliding blocks: ``(N, C, H, W) -> (N, C*kh*kw, L)`` (``(C, H, W) -> (C*kh*kw, L)``)."""
    who = "unfold"
    check_float(who, input)
    if input.ndim not in (3, 4) or any(s == 0 for s in input.shape[-3:]):
        raise InputError(who, "input of shape (N, C, H, W) or (C, H, W) with non-zero C, H, W", shape_str(input.shape))
    a = _block_args(who, kernel_size, dilation, padding, stride)
    blocks = _blocks(input.shape[-2:], a)
    if min(blocks) < 1:
        raise InputError(who, f"an input large enough for kernel_size={a['kernel_size']}, dilation={a['dilation']}, "
                              f"padding={a['padding']} (sliding blocks {blocks})", shape_str(input.shape))
    x = input if input.ndim == 4 else input[None]
    y = V.unfold(x, **a)
    return y if input.ndim == 4 else y[0]


def fold(input: np.ndarray, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
         stride: Any = 1) -> np.ndarray:
    """Sum sliding blocks into an image: ``(N, C*kh*kw, L) -> (N, C, *output_size)``; inverse layout of ``unfold``."""
    who = "fold"
    check_float(who, input)
    size = _pair(who, "output_size", output_size, 1)
    a = _block_args(who, kernel_size, dilation, padding, stride)
    kk = a["kernel_size"][0] * a["kernel_size"][1]
    blocks = _blocks(size, a)
    if min(blocks) < 1:
        raise InputError(who, f"output_size={size} large enough for kernel_size={a['kernel_size']}, "
                              f"dilation={a['dilation']}, padding={a['padding']} (sliding blocks {blocks})", size)
    n_blocks = math.prod(blocks)
    if input.ndim not in (2, 3) or input.shape[-2] == 0 or input.shape[-2] % kk or input.shape[-1] != n_blocks:
        raise InputError(who, f"input of shape (N, C*{kk}, {n_blocks}) or (C*{kk}, {n_blocks})",
                         shape_str(input.shape))
    x = input if input.ndim == 3 else input[None]
    y = V.fold(x, output_size=size, **a)
    return y if input.ndim == 3 else y[0]
