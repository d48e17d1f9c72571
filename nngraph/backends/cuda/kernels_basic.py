"""Data-movement kernels: strided copy (any layout, up to 6 collapsed dims) and fill."""
from __future__ import annotations

from numba import cuda

from ..cpu.buffers import Buf, collapse, pad_dims


@cuda.jit(device=True, inline=True)
def unravel6(i, shape):
    """The C-order position ``(i0, .., i5)`` of flat index ``i`` in a 6-d ``shape``."""
    i5 = i % shape[5]
    i //= shape[5]
    i4 = i % shape[4]
    i //= shape[4]
    i3 = i % shape[3]
    i //= shape[3]
    i2 = i % shape[2]
    i //= shape[2]
    return i // shape[1], i % shape[1], i2, i3, i4, i5


@cuda.jit(device=True, inline=True)
def dot6(p, st):
    """The offset of position ``p`` (from ``unravel6``) in a view with 6-d strides ``st``."""
    return p[0] * st[0] + p[1] * st[1] + p[2] * st[2] + p[3] * st[3] + p[4] * st[4] + p[5] * st[5]


@cuda.jit(cache=True)
def copy_strided(n, shape, out, oo, os, a, ao, as_):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        p = unravel6(i, shape)
        out[oo + dot6(p, os)] = a[ao + dot6(p, as_)]
        i += step


@cuda.jit(cache=True)
def copy_flat(n, out, oo, a, ao):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        out[oo + i] = a[ao + i]
        i += step


@cuda.jit(cache=True)
def fill(n, out, oo, value):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        out[oo + i] = value
        i += step


def strided_args(out: Buf, *views: Buf) -> tuple | None:
    """(shape6, out strides6, [view strides6...]) of the collapsed iteration space, or None past 6 dims."""
    shape, strides = collapse(out.shape, out.strides, *(v.strides for v in views))
    if len(shape) > 6:
        return None
    shape, strides = pad_dims(shape, strides)
    return shape, strides[0], strides[1:]


def emit_copy(em, src: Buf, dst: Buf) -> None:
    """Copy (with dtype conversion) ``src`` broadcast to ``dst``'s shape into ``dst``."""
    if dst.size == 0:
        return
    src = src.broadcast_to(dst.shape)
    if src.same_elements(dst):  # a concatenation's argument computed in place
        return
    if src.contiguous and dst.contiguous and src.shape == dst.shape:
        em.launch(copy_flat, dst.size, dst.size, dst, src)
        return
    args = strided_args(dst, src)
    if args is None:
        raise NotImplementedError(f"copy of a view with more than 6 non-mergeable dimensions {dst.shape}")
    shape, ost, (ast,) = args
    em.launch(copy_strided, dst.size, dst.size, shape, dst, ost, src, ast)
