"""CUDA lowering of the vision ops whose kernels live in ``kernels_vision.py``, for 1-d, 2-d and 3-d windows (1-d and
2-d run as 3-d ones with size-1 leading dims, as the CPU backend does):

* unfold: im2col (the convolutions' kernel with a depth loop).
* fold: col2im as a gather -- each output element sums the blocks that cover it, so no atomics: deterministic.
* max_unpool: a scatter made deterministic in two passes. numpy's ``put_along_axis`` assigns in C order, so when
  several inputs of a plane point at one output position the last one wins; pass 1 takes the atomic max of the
  writers' flat input positions into an int64 "owner" per output position (-1: none), pass 2 gathers each output
  from its owner (0 without one). An index out of range is a value check: the executor replays the interpreter,
  whose reference raises its InputError, as on the CPU.
"""
from __future__ import annotations

import math

import numpy as np

from ...ir.node import Node
from ...ops.registry import register_lowering
from ...ops.vision import _blocks
from ..cpu.buffers import Buf
from . import kernels_vision as K
from .codegen import CudaEmitter
from .kernels_basic import fill


def _lead3(v: tuple, fill_value: int) -> tuple[int, ...]:
    """``v`` with ``fill_value`` prepended up to 3 entries (a 1-d/2-d window as a 3-d one)."""
    return (fill_value,) * (3 - len(v)) + tuple(int(e) for e in v)


def _as_3d(x: Buf) -> Buf:
    """A batched (N, C, *spatial) buffer as (N, C, D, H, W), size-1 leading spatial dims inserted."""
    k = 5 - x.ndim
    return Buf(x.arena, x.offset, x.shape[:2] + (1,) * k + x.shape[2:], x.strides[:2] + (0,) * k + x.strides[2:],
               x.dtype)


def _geometry(attrs: dict) -> tuple[tuple[int, ...], ...]:
    """(kernel, stride, padding, dilation) as 3-tuples."""
    return tuple(_lead3(attrs[k], 0 if k == "padding" else 1) for k in ("kernel_size", "stride", "padding", "dilation"))


@register_lowering("unfold", "cuda")
def _unfold(em: CudaEmitter, node: Node) -> bool:
    x = em.buf(node.args[0])
    nd = len(node.attrs["kernel_size"])
    if x.dtype.kind != "f" or not 1 <= nd <= 3 or x.ndim != nd + 2:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    k, st, pd, dl = _geometry(node.attrs)
    x = _as_3d(x)
    blocks = _blocks(x.shape[2:], k, dl, pd, st)
    p = math.prod(blocks)
    planes = x.shape[0] * x.shape[1]
    block = min(256, 32 * -(-p // 32))
    em.launch_grid(K.im2col3d, (-(-p // block), min(planes, 65535)), (block,), planes, x.shape[1], p, blocks[1],
                   blocks[2], k, x.strides, x.shape[2:], st, pd, dl, x, out)
    return True


@register_lowering("fold", "cuda")
def _fold(em: CudaEmitter, node: Node) -> bool:
    x = em.buf(node.args[0])
    nd = len(node.attrs["kernel_size"])
    if x.dtype.kind != "f" or not 1 <= nd <= 3 or x.ndim != 3:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    k, st, pd, dl = _geometry(node.attrs)
    size = _lead3(node.attrs["output_size"], 1)
    blocks = _blocks(size, k, dl, pd, st)
    em.launch(K.col2im3d, out.size, out.size, out.shape[1], size, blocks, k, st, pd, dl, x, tuple(x.strides), out)
    return True


@register_lowering("max_unpool", "cuda")
def _max_unpool(em: CudaEmitter, node: Node) -> bool:
    xs, ids = (em.graph[a].spec for a in node.args)
    if xs.dtype.kind not in "fiub" or xs.dtype == np.float16 or ids.dtype.kind not in "iu" or xs.ndim < 2 or \
            ids.shape != xs.shape:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    x, idx = em.dense(node.args[0]), em.dense(node.args[1])
    planes = xs.shape[0] * xs.shape[1]
    n_in, plane = x.size // planes, out.size // planes
    owner = em.scratch((out.size,), np.dtype(np.int64))
    em.launch(fill, out.size, out.size, owner, -1)
    if n_in:
        with em.value_check(f"max_unpool: an index outside [0, {plane})") as flag:
            em.launch(K.unpool_owners, x.size, x.size, n_in, plane, idx, owner, flag)
    em.launch(K.unpool_gather, out.size, out.size, x, owner, out)
    return True
