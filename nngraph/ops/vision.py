"""Vision primitives: pixel/channel shuffles, resampling (nearest, linear, bicubic, antialiased), im2col/col2im.

Resampling ops take ``(N, C, *spatial)``, an explicit output ``size`` and per-dim ``scales`` (the user's scale factor,
or ``None`` when the size was given or recomputed): like torch, a given scale factor, not ``in/out``, maps output
coordinates to input ones. Source indices and weights follow torch's CPU kernels, including their float32 arithmetic,
so that nearest-neighbour picks are bit-identical.
"""
from __future__ import annotations

import math

import numpy as np
from .pooling import sliding_windows
from .registry import Fusion, TensorSpec, defop

Ints = tuple[int, ...]
Scales = tuple[float | None, ...]


# ---------------------------------------------------------------------------------------------------- shuffles
def _pixel_shuffle_shape(x: TensorSpec, *, upscale_factor: int) -> TensorSpec:
    r = upscale_factor
    *batch, c, h, w = x.shape
    return TensorSpec((*batch, c // (r * r), h * r, w * r), x.dtype)


@defop("pixel_shuffle", fusion=Fusion.INJECTIVE, shape=_pixel_shuffle_shape)
def pixel_shuffle(x: np.ndarray, *, upscale_factor: int) -> np.ndarray:
    """``(*, C*r*r, H, W) -> (*, C, H*r, W*r)``."""
    r = upscale_factor
    *batch, c, h, w = x.shape
    nb = len(batch)
    y = x.reshape(*batch, c // (r * r), r, r, h, w)
    y = y.transpose(*range(nb), nb, nb + 3, nb + 1, nb + 4, nb + 2)
    return y.reshape(*batch, c // (r * r), h * r, w * r).copy()


def _pixel_unshuffle_shape(x: TensorSpec, *, downscale_factor: int) -> TensorSpec:
    r = downscale_factor
    *batch, c, h, w = x.shape
    return TensorSpec((*batch, c * r * r, h // r, w // r), x.dtype)


@defop("pixel_unshuffle", fusion=Fusion.INJECTIVE, shape=_pixel_unshuffle_shape)
def pixel_unshuffle(x: np.ndarray, *, downscale_factor: int) -> np.ndarray:
    """``(*, C, H*r, W*r) -> (*, C*r*r, H, W)``."""
    r = downscale_factor
    *batch, c, h, w = x.shape
    nb = len(batch)
    y = x.reshape(*batch, c, h // r, r, w // r, r)
    y = y.transpose(*range(nb), nb, nb + 2, nb + 4, nb + 1, nb + 3)
    return y.reshape(*batch, c * r * r, h // r, w // r).copy()


def _channel_shuffle_shape(x: TensorSpec, *, groups: int) -> TensorSpec:
    return x


@defop("channel_shuffle", fusion=Fusion.INJECTIVE, shape=_channel_shuffle_shape)
def channel_shuffle(x: np.ndarray, *, groups: int) -> np.ndarray:
    """Regroup dim 1: ``(N, g*k, *) -> (N, k*g, *)`` with channel ``i*k + j`` moving to ``j*g + i``."""
    n, c, *rest = x.shape
    y = x.reshape(n, groups, c // groups, *rest).swapaxes(1, 2)
    return y.reshape(x.shape).copy()


# ---------------------------------------------------------------------------------------------------- resampling
def _compute_dtype(dtype: np.dtype) -> type:
    """torch's opmath type: float32 arithmetic for float16/float32 input, float64 for float64."""
    return np.float64 if dtype == np.float64 else np.float32


def _inverse_scale(n_in: int, n_out: int, scale: float | None, dt: type) -> np.floating:
    """Output-to-input coordinate ratio: ``1/scale_factor`` when one was given, else ``in/out``."""
    if scale is not None and scale > 0:
        return dt(1.0 / scale)
    return dt(n_in) / dt(n_out)


def _area_scale(n_in: int, n_out: int, align_corners: bool, scale: float | None, dt: type) -> np.floating:
    if align_corners:
        return dt(n_in - 1) / dt(n_out - 1) if n_out > 1 else dt(0)
    return _inverse_scale(n_in, n_out, scale, dt)


def _source_coords(n_in: int, n_out: int, align_corners: bool, scale: float | None, dt: type,
                   cubic: bool) -> np.ndarray:
    ratio = _area_scale(n_in, n_out, align_corners, scale, dt)
    dst = np.arange(n_out, dtype=dt)
    if align_corners:
        return ratio * dst
    src = ratio * (dst + dt(0.5)) - dt(0.5)
    return src if cubic else np.maximum(src, dt(0))


def nearest_indices(n_in: int, n_out: int, scale: float | None, exact: bool, shortcuts: bool) -> np.ndarray:
    """torch's nearest source index per output position (float32 index arithmetic, as in its kernels).

    ``shortcuts``: torch's 2-d ``nearest`` kernel maps a dim kept at its size (or doubled) to ``o`` (``o // 2``)
    whatever the scale factor says.
    """
    dst = np.arange(n_out)
    if shortcuts and n_out == n_in:
        return dst
    if shortcuts and n_out == 2 * n_in:
        return dst >> 1
    ratio = _inverse_scale(n_in, n_out, scale, np.float32)
    if exact:  # (dst + 0.5) is double in torch; the product is rounded to float by floorf
        src = np.floor(((dst + 0.5) * np.float64(ratio)).astype(np.float32))
    else:
        src = np.floor(dst.astype(np.float32) * ratio)
    return np.minimum(src.astype(np.int64), n_in - 1)


def _linear_taps(n_in: int, n_out: int, align_corners: bool, scale: float | None,
                 dt: type) -> tuple[np.ndarray, np.ndarray]:
    src = _source_coords(n_in, n_out, align_corners, scale, dt, cubic=False)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    lam = np.clip(src - i0.astype(dt), 0, 1).astype(dt)
    i1 = i0 + (i0 < n_in - 1)
    return np.stack([i0, i1], axis=1), np.stack([dt(1) - lam, lam], axis=1)


def _cubic_taps(n_in: int, n_out: int, align_corners: bool, scale: float | None,
                dt: type) -> tuple[np.ndarray, np.ndarray]:
    """Keys cubic convolution with torch's A = -0.75; taps past the border are clamped to the edge pixel."""
    a = dt(-0.75)
    src = _source_coords(n_in, n_out, align_corners, scale, dt, cubic=True)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    t = np.clip(src - i0.astype(dt), 0, 1).astype(dt)

    def near(u: np.ndarray) -> np.ndarray:  # |u| <= 1
        return ((a + 2) * u - (a + 3)) * u * u + 1

    def far(u: np.ndarray) -> np.ndarray:  # 1 < |u| < 2
        return ((a * u - 5 * a) * u + 8 * a) * u - 4 * a

    weights = np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=1).astype(dt)
    idx = np.clip(i0[:, None] + np.arange(-1, 3)[None, :], 0, n_in - 1)
    return idx, weights


def _aa_filter(kind: str, u: np.ndarray) -> np.ndarray:
    u = np.abs(u)
    if kind == "bilinear":
        return np.maximum(1 - u, 0)
    a = -0.5  # the antialiased bicubic filter uses Keys' A = -0.5 (PIL's)
    near = ((a + 2) * u - (a + 3)) * u * u + 1
    far = (((u - 5) * u + 8) * u - 4) * a
    return np.where(u < 1, near, np.where(u < 2, far, 0))


def _aa_taps(n_in: int, n_out: int, align_corners: bool, scale: float | None, kind: str,
             dt: type) -> tuple[np.ndarray, np.ndarray]:
    """Antialiased (PIL-style) taps: the filter is stretched by the downscale ratio and renormalized at borders."""
    ratio = float(_area_scale(n_in, n_out, align_corners, scale, dt))
    half = 1.0 if kind == "bilinear" else 2.0
    support = half * ratio if ratio >= 1.0 else half
    inv = 1.0 / ratio if ratio >= 1.0 else 1.0
    width = int(math.ceil(support)) * 2 + 1
    center = ratio * (np.arange(n_out) + 0.5)
    xmin = np.maximum((center - support + 0.5).astype(np.int64), 0)
    xsize = np.clip(np.minimum((center + support + 0.5).astype(np.int64), n_in) - xmin, 0, width)
    j = np.arange(width)[None, :]
    w = _aa_filter(kind, (j + xmin[:, None] - center[:, None] + 0.5) * inv)
    w = np.where(j < xsize[:, None], w, 0)
    total = w.sum(axis=1, keepdims=True)
    w = np.where(total != 0, w / np.where(total != 0, total, 1), w)
    return np.minimum(xmin[:, None] + j, n_in - 1), w.astype(dt)


def _resample_axis(x: np.ndarray, axis: int, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``out[..., o, ...] = sum_t w[o, t] * x[..., idx[o, t], ...]`` along ``axis`` (a loop over the taps t)."""
    trailing = (1,) * (x.ndim - axis - 1)
    out = np.take(x, idx[:, 0], axis=axis) * w[:, 0].reshape((-1,) + trailing)
    for t in range(1, idx.shape[1]):
        out += np.take(x, idx[:, t], axis=axis) * w[:, t].reshape((-1,) + trailing)
    return out


def _resample_shape(x: TensorSpec, *, size: Ints, **_: object) -> TensorSpec:
    return TensorSpec(x.shape[:2] + tuple(size), x.dtype)


@defop("upsample_nearest", fusion=Fusion.INJECTIVE, shape=_resample_shape)
def upsample_nearest(x: np.ndarray, *, size: Ints, scales: Scales, exact: bool) -> np.ndarray:
    """Nearest-neighbour resize: torch's ``nearest`` (``floor(o * s)``) or ``nearest-exact`` (``floor((o+.5) * s)``)."""
    shortcuts = not exact and len(size) == 2
    index = [nearest_indices(n, o, s, exact, shortcuts) for n, o, s in zip(x.shape[2:], size, scales)]
    grids = np.ix_(*index) if index else ()
    return x[(slice(None), slice(None)) + tuple(grids)]


@defop("upsample_linear", fusion=Fusion.INJECTIVE, shape=_resample_shape)
def upsample_linear(x: np.ndarray, *, size: Ints, scales: Scales, align_corners: bool) -> np.ndarray:
    """(Bi/tri)linear resize of any number of spatial dims, one dim at a time (the filter is separable).

    As in torch, a dim whose size does not change is copied, even when a scale factor would shift its samples.
    """
    dt = _compute_dtype(x.dtype)
    y = x.astype(dt, copy=False)
    for axis, (n, o, s) in enumerate(zip(x.shape[2:], size, scales), start=2):
        if n != o:
            y = _resample_axis(y, axis, *_linear_taps(n, o, align_corners, s, dt))
    return y.astype(x.dtype, copy=False)


@defop("upsample_bicubic", fusion=Fusion.INJECTIVE, shape=_resample_shape)
def upsample_bicubic(x: np.ndarray, *, size: Ints, scales: Scales, align_corners: bool) -> np.ndarray:
    """Bicubic resize (A = -0.75, border taps clamped), separable."""
    dt = _compute_dtype(x.dtype)
    y = x.astype(dt, copy=False)
    for axis, (n, o, s) in enumerate(zip(x.shape[2:], size, scales), start=2):
        y = _resample_axis(y, axis, *_cubic_taps(n, o, align_corners, s, dt))
    return y.astype(x.dtype, copy=False)


@defop("upsample_antialias", fusion=Fusion.INJECTIVE, shape=_resample_shape)
def upsample_antialias(x: np.ndarray, *, size: Ints, scales: Scales, align_corners: bool, kind: str) -> np.ndarray:
    """Antialiased bilinear/bicubic resize (``antialias=True``): separable, the last dim first as in torch; a dim
    whose size does not change is copied."""
    dt = _compute_dtype(x.dtype)
    y = x.astype(dt, copy=False)
    dims = list(enumerate(zip(x.shape[2:], size, scales), start=2))
    for axis, (n, o, s) in reversed(dims):
        if n != o:
            y = _resample_axis(y, axis, *_aa_taps(n, o, align_corners, s, kind, dt))
    return y.astype(x.dtype, copy=False)


# ---------------------------------------------------------------------------------------------------- im2col / col2im
def _blocks(size: Ints, kernel: Ints, dilation: Ints, padding: Ints, stride: Ints) -> Ints:
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                 for n, k, d, p, s in zip(size, kernel, dilation, padding, stride))


def _unfold_shape(x: TensorSpec, *, kernel_size: Ints, dilation: Ints, padding: Ints, stride: Ints) -> TensorSpec:
    n, c, *spatial = x.shape
    blocks = _blocks(tuple(spatial), kernel_size, dilation, padding, stride)
    return TensorSpec((n, c * int(np.prod(kernel_size)), int(np.prod(blocks))), x.dtype)


@defop("unfold", fusion=Fusion.INJECTIVE, shape=_unfold_shape)
def unfold(x: np.ndarray, *, kernel_size: Ints, dilation: Ints, padding: Ints, stride: Ints) -> np.ndarray:
    """im2col: ``(N, C, H, W) -> (N, C*kh*kw, L)``, rows ordered (c, ki, kj), columns the blocks in row-major order."""
    n, c, *spatial = x.shape
    nd = len(kernel_size)
    blocks = _blocks(tuple(spatial), kernel_size, dilation, padding, stride)
    win = sliding_windows(x, blocks, kernel_size, stride, padding, dilation, 0)  # (N, C, *blocks, *kernel)
    order = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
    return win.transpose(order).reshape(n, c * int(np.prod(kernel_size)), int(np.prod(blocks)))


def _fold_shape(x: TensorSpec, *, output_size: Ints, kernel_size: Ints, dilation: Ints, padding: Ints,
                stride: Ints) -> TensorSpec:
    n, ck, _ = x.shape
    return TensorSpec((n, ck // int(np.prod(kernel_size))) + tuple(output_size), x.dtype)


@defop("fold", fusion=Fusion.OPAQUE, shape=_fold_shape)
def fold(x: np.ndarray, *, output_size: Ints, kernel_size: Ints, dilation: Ints, padding: Ints,
         stride: Ints) -> np.ndarray:
    """col2im: sums the blocks of ``(N, C*kh*kw, L)`` back into ``(N, C, H, W)`` (overlaps add up)."""
    n, ck, _ = x.shape
    nd = len(kernel_size)
    c = ck // int(np.prod(kernel_size))
    blocks = _blocks(output_size, kernel_size, dilation, padding, stride)
    cols = x.reshape((n, c) + tuple(kernel_size) + blocks)
    out = np.zeros((n, c) + tuple(o + 2 * p for o, p in zip(output_size, padding)), dtype=x.dtype)
    for tap in np.ndindex(*kernel_size):  # a loop over kernel taps, each a strided block add
        dst = tuple(slice(t * d, t * d + (b - 1) * s + 1, s) for t, d, b, s in zip(tap, dilation, blocks, stride))
        out[(slice(None), slice(None)) + dst] += cols[(slice(None), slice(None)) + tap]
    crop = tuple(slice(p, p + o) for p, o in zip(padding, output_size))
    return np.ascontiguousarray(out[(slice(None), slice(None)) + crop])
