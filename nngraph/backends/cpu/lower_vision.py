"""CPU lowering of the vision ops (ops/vision.py) and ``pad`` (ops/padding.py).

* pixel_shuffle / pixel_unshuffle / channel_shuffle: a copy of a reshaped, transposed view (``permute``, which puts a
  unit-stride dim innermost; also used to materialize strided inputs).
* upsample_nearest: ``kernels_vision.nearest`` (torch's float32 index arithmetic, computed in the kernel).
* upsample_linear / upsample_bicubic / upsample_antialias: one ``resample_axis`` pass per resampled axis, in the
  reference's order, with intermediates in workspace scratch -- the same products and sums as the reference.
* unfold / fold: im2col / col2im kernels; pad: one kernel for every mode, reading a strided input.

Spatial ranks 1-3 are handled by padding the spatial shape to (D, H, W) with 1s. float16 stays on the host (Numba
has no float16 arrays).
"""
from __future__ import annotations


import numpy as np

from ...ir.node import Node
from ...ir.symbolic import prod as sym_prod
from ...ops.registry import register_lowering
from ...ops.vision import _blocks, _inverse_scale  # the reference's own helpers
from .buffers import Buf, collapse
from .codegen import Emitter
from .kernels_basic import copy_flat
from .kernels_vision import (AA_CUBIC, AA_LINEAR, CUBIC, LINEAR, NEAREST_EXACT, NEAREST_FLOOR, NEAREST_HALF,
                             NEAREST_SAME, PAD_CIRCULAR, PAD_CONSTANT, PAD_REFLECT, PAD_REPLICATE, fold, nearest, pad,
                             permute, resample_axis, unfold)

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_PAD_MODES = {"constant": PAD_CONSTANT, "reflect": PAD_REFLECT, "replicate": PAD_REPLICATE, "circular": PAD_CIRCULAR}


def copy(em: Emitter, src: Buf, dst: Buf) -> bool:
    """``dst[...] = src`` (same shape, any strides): ``copy_flat`` when both are dense, else the ``permute`` kernel
    with the longest unit-stride dim innermost (its loop vectorizes). False (nothing emitted) past 6 dims."""
    if src.size == 0:
        return True
    if src.contiguous and dst.contiguous:
        em.call(copy_flat, src.size, src, dst)
        return True
    shape, (sst, dst_st) = collapse(src.shape, src.strides, dst.strides)
    if len(shape) > 6:
        return False
    dims = list(zip(shape, sst, dst_st))
    inner = max(range(len(dims)), key=lambda i: (dims[i][1] == 1 or dims[i][2] == 1, dims[i][0], dims[i][2] == 1))
    dims = [dims[i] for i in range(len(dims)) if i != inner] + [dims[inner]]
    dims = [(1, 0, 0)] * (6 - len(dims)) + dims
    em.call(permute, src, tuple(d[1] for d in dims), dst, tuple(d[2] for d in dims), tuple(d[0] for d in dims))
    return True


def dense(em: Emitter, name: str) -> Buf | None:
    """``em.dense`` through ``copy`` (None: a view too irregular to copy, the rule gives up)."""
    b = em.buf(name)
    if b.contiguous:
        return b
    dst = em.scratch(b.shape, b.dtype)
    return dst if copy(em, b, dst) else None


def spatial3(values: tuple, fill: int) -> tuple:
    """A spatial tuple left-padded to 3 entries (D, H, W)."""
    return (fill,) * (3 - len(values)) + tuple(int(v) for v in values)


def planes_of(shape: tuple) -> int:
    return shape[0] * shape[1]  # no int(): keeps a symbolic batch size symbolic


# ---------------------------------------------------------------------------------------------------- shuffles
def _copy_view(em: Emitter, node: Node, src_shape: tuple, axes: tuple, dst_shape: tuple) -> bool:
    """out.reshape(dst_shape)[...] = x.reshape(src_shape).transpose(axes)."""
    x = em.buf(node.args[0])
    if x.dtype.kind not in "fiub" or x.dtype == np.float16:  # Numba has no float16 arrays
        return False
    xv = x.reshape(src_shape)
    if xv is None:
        xd = dense(em, node.args[0])
        if xd is None:
            return False
        xv = xd.reshape(src_shape)
    return copy(em, xv.transpose(axes), em.out(node).reshape(dst_shape))


@register_lowering("pixel_shuffle", "cpu")
def _pixel_shuffle(em: Emitter, node: Node) -> bool:
    r = int(node.attrs["upscale_factor"])
    *batch, c, h, w = em.buf(node.args[0]).shape
    b = sym_prod(batch)
    return _copy_view(em, node, (b, c // (r * r), r, r, h, w), (0, 1, 4, 2, 5, 3), (b, c // (r * r), h, r, w, r))


@register_lowering("pixel_unshuffle", "cpu")
def _pixel_unshuffle(em: Emitter, node: Node) -> bool:
    r = int(node.attrs["downscale_factor"])
    *batch, c, h, w = em.buf(node.args[0]).shape
    b = sym_prod(batch)
    return _copy_view(em, node, (b, c, h // r, r, w // r, r), (0, 1, 3, 5, 2, 4), (b, c, r, r, h // r, w // r))


@register_lowering("channel_shuffle", "cpu")
def _channel_shuffle(em: Emitter, node: Node) -> bool:
    g = int(node.attrs["groups"])
    n, c, *rest = em.buf(node.args[0]).shape
    m = sym_prod(rest)
    return _copy_view(em, node, (n, g, c // g, m), (0, 2, 1, 3), (n, c // g, g, m))


# ---------------------------------------------------------------------------------------------------- resampling
def emit_resample(em: Emitter, x: Buf, out: Buf, passes: list[tuple[int, int, bool, float | None]]) -> None:
    """Separable resampling of dense ``x`` into ``out``: ``passes`` lists (axis, kind, align_corners, scale) in
    order; intermediates go to scratch. No pass: a copy."""
    if not passes:
        copy(em, x, out)  # both dense
        return
    cur = x
    shape = list(x.shape)
    for i, (axis, kind, align, scale) in enumerate(passes):
        n_in, n_out = shape[axis], int(out.shape[axis])
        shape[axis] = n_out
        dst = out if i == len(passes) - 1 else em.scratch(tuple(shape), x.dtype)
        outer = sym_prod(shape[:axis])  # symbolic-safe (dynamic shapes)
        inner = sym_prod(shape[axis + 1:])
        em.call(resample_axis, kind, cur, dst, outer, n_in, n_out, inner, int(bool(align)),
                float(scale) if scale is not None else 0.0)
        cur = dst


def _resample_ok(em: Emitter, node: Node) -> bool:
    x = em.buf(node.args[0])
    return x.dtype in FLOATS and 1 <= x.ndim - 2 <= 3


@register_lowering("upsample_linear", "cpu")
def _upsample_linear(em: Emitter, node: Node) -> bool:
    if not _resample_ok(em, node):
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    x = dense(em, node.args[0])
    if x is None:
        return False
    a = node.attrs
    passes = [(axis, LINEAR, a["align_corners"], s)
              for axis, (n, o, s) in enumerate(zip(x.shape[2:], a["size"], a["scales"]), start=2) if n != o]
    emit_resample(em, x, out, passes)
    return True


@register_lowering("upsample_bicubic", "cpu")
def _upsample_bicubic(em: Emitter, node: Node) -> bool:
    if not _resample_ok(em, node):
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    x = dense(em, node.args[0])
    if x is None:
        return False
    a = node.attrs
    passes = [(axis, CUBIC, a["align_corners"], s) for axis, s in enumerate(a["scales"], start=2)]
    emit_resample(em, x, out, passes)
    return True


@register_lowering("upsample_antialias", "cpu")
def _upsample_antialias(em: Emitter, node: Node) -> bool:
    if not _resample_ok(em, node) or node.attrs["kind"] not in ("bilinear", "bicubic"):
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    x = dense(em, node.args[0])
    if x is None:
        return False
    a = node.attrs
    kind = AA_LINEAR if a["kind"] == "bilinear" else AA_CUBIC
    dims = list(enumerate(zip(x.shape[2:], a["size"], a["scales"]), start=2))
    passes = [(axis, kind, a["align_corners"], s) for axis, (n, o, s) in reversed(dims) if n != o]
    emit_resample(em, x, out, passes)
    return True


@register_lowering("upsample_nearest", "cpu")
def _upsample_nearest(em: Emitter, node: Node) -> bool:
    x = em.buf(node.args[0])
    nd = x.ndim - 2
    if x.dtype not in FLOATS or not 1 <= nd <= 3:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    x = dense(em, node.args[0])
    if x is None:
        return False
    exact = bool(node.attrs["exact"])
    shortcuts = not exact and nd == 2
    modes, ratios = [], []
    for n, o, s in zip(x.shape[2:], node.attrs["size"], node.attrs["scales"]):
        if shortcuts and o == n:
            modes.append(NEAREST_SAME)
        elif shortcuts and o == 2 * n:
            modes.append(NEAREST_HALF)
        else:
            modes.append(NEAREST_EXACT if exact else NEAREST_FLOOR)
        ratios.append(float(_inverse_scale(n, o, s, np.float32)))
    modes = [NEAREST_SAME] * (3 - nd) + modes
    ratios = [1.0] * (3 - nd) + ratios
    em.call(nearest, x, out, planes_of(x.shape), spatial3(x.shape[2:], 1), spatial3(out.shape[2:], 1),
            tuple(modes), tuple(float(r) for r in ratios))
    return True


# ---------------------------------------------------------------------------------------------------- im2col / col2im
@register_lowering("unfold", "cpu")
def _unfold(em: Emitter, node: Node) -> bool:
    x = em.buf(node.args[0])
    a = node.attrs
    nd = len(a["kernel_size"])
    if x.dtype not in FLOATS or not 1 <= nd <= 3 or x.ndim != nd + 2:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    x = dense(em, node.args[0])
    if x is None:
        return False
    blocks = _blocks(tuple(x.shape[2:]), a["kernel_size"], a["dilation"], a["padding"], a["stride"])
    em.call(unfold, x, out, planes_of(x.shape), spatial3(x.shape[2:], 1), spatial3(blocks, 1),
            spatial3(a["kernel_size"], 1), spatial3(a["stride"], 1), spatial3(a["padding"], 0),
            spatial3(a["dilation"], 1))
    return True


@register_lowering("fold", "cpu")
def _fold(em: Emitter, node: Node) -> bool:
    x = em.buf(node.args[0])
    a = node.attrs
    nd = len(a["kernel_size"])
    if x.dtype not in FLOATS or not 1 <= nd <= 3 or x.ndim != 3:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    x = dense(em, node.args[0])
    if x is None:
        return False
    blocks = _blocks(tuple(a["output_size"]), a["kernel_size"], a["dilation"], a["padding"], a["stride"])
    em.call(fold, x, out, planes_of(out.shape), spatial3(a["output_size"], 1), spatial3(blocks, 1),
            spatial3(a["kernel_size"], 1), spatial3(a["stride"], 1), spatial3(a["padding"], 0),
            spatial3(a["dilation"], 1))
    return True


# ---------------------------------------------------------------------------------------------------- padding
def _fill_value(dtype: np.dtype, value: float) -> float | int | None:
    """The constant as the kernel argument: a float for float outputs, the exactly converted int/bool otherwise
    (None: numpy would refuse the conversion)."""
    if dtype.kind == "f":
        return float(value)
    try:
        with np.errstate(all="raise"):
            return int(np.full((), value, dtype=dtype).item())
    except (ValueError, OverflowError, FloatingPointError, TypeError):
        return None


@register_lowering("pad", "cpu")
def _pad(em: Emitter, node: Node) -> bool:
    x = em.buf(node.args[0])
    mode = _PAD_MODES.get(node.attrs["mode"])
    if mode is None or x.dtype.kind not in "fiub" or x.dtype == np.float16 or x.ndim == 0:
        return False
    fill = _fill_value(x.dtype, node.attrs["value"]) if mode == PAD_CONSTANT else (0.0 if x.dtype.kind == "f" else 0)
    if fill is None:
        return False
    pads = [(int(lo), int(hi)) for lo, hi in node.attrs["pads"]]
    # (size, stride, lo, hi) per dim; merge runs of unpadded dims that are contiguous with each other
    dims: list[list[int]] = []
    for (n, st), (lo, hi) in zip(zip(x.shape, x.strides), pads):
        if lo == 0 and hi == 0 and n == 1:
            continue
        if dims and lo == 0 and hi == 0 and dims[-1][2] == 0 and dims[-1][3] == 0 and dims[-1][1] == st * n:
            dims[-1] = [dims[-1][0] * n, st, 0, 0]
            continue
        dims.append([int(n), int(st), lo, hi])
    if len(dims) > 6:
        return False
    dims = [[1, 0, 0, 0]] * (6 - len(dims)) + dims
    out = em.out(node)
    if out.size == 0:
        return True
    ishape = tuple(d[0] for d in dims)
    oshape = tuple(d[0] + d[2] + d[3] for d in dims)
    em.call(pad, x, tuple(d[1] for d in dims), out, ishape, oshape, tuple(d[2] for d in dims),
            tuple(d[3] for d in dims), mode, fill)
    return True
