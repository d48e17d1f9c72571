"""Data-movement kernels: strided copy (any layout, up to 6 collapsed dims) and fill."""
from __future__ import annotations

from numba import cuda

from ..cpu.buffers import Buf, collapse, pad_dims


@cuda.jit(cache=True)
def copy_strided(n, shape, out, oo, os, a, ao, as_):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        r = i
        i5 = r % shape[5]
        r //= shape[5]
        i4 = r % shape[4]
        r //= shape[4]
        i3 = r % shape[3]
        r //= shape[3]
        i2 = r % shape[2]
        r //= shape[2]
        i1 = r % shape[1]
        i0 = r // shape[1]
        out[oo + i0 * os[0] + i1 * os[1] + i2 * os[2] + i3 * os[3] + i4 * os[4] + i5 * os[5]] = \
            a[ao + i0 * as_[0] + i1 * as_[1] + i2 * as_[2] + i3 * as_[3] + i4 * as_[4] + i5 * as_[5]]
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
    if src.contiguous and dst.contiguous and src.shape == dst.shape:
        em.launch(copy_flat, dst.size, dst.size, dst, src)
        return
    args = strided_args(dst, src)
    if args is None:
        raise NotImplementedError(f"copy of a view with more than 6 non-mergeable dimensions {dst.shape}")
    shape, ost, (ast,) = args
    em.launch(copy_strided, dst.size, dst.size, shape, dst, ost, src, ast)
