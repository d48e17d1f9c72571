"""CUDA lowering of data movement: views are the CPU backend's ``Buf`` arithmetic (no launch); concat/stack copy
into slices of their output."""
from __future__ import annotations

from ...ir.node import Node
from ...ops.registry import register_lowering
from ..cpu import shape as cpu_shape
from ..cpu.buffers import Buf
from .codegen import CudaEmitter
from .kernels_basic import emit_copy


def _concat(em: CudaEmitter, node: Node) -> bool:
    out = em.out(node)
    axis, start = node.attrs["axis"], 0
    for a in node.args:
        src = em.buf(a)
        n = src.shape[axis]
        index = tuple(("s", start, start + n, None) if d == axis else ("s", None, None, None) for d in range(out.ndim))
        emit_copy(em, src, out.index(index))
        start += n
    return True


def _stack(em: CudaEmitter, node: Node) -> bool:
    out = em.out(node)
    axis = node.attrs["axis"]
    for k, a in enumerate(node.args):
        index = tuple(k if d == axis else ("s", None, None, None) for d in range(out.ndim))
        emit_copy(em, em.buf(a), out.index(index))
    return True


def _view(b: Buf, shape: tuple, strides: tuple) -> Buf:
    return Buf(b.arena, b.offset, tuple(shape), tuple(strides), b.dtype)


def _repeat(em: CudaEmitter, node: Node) -> bool:
    reps, axis = int(node.attrs["repeats"]), node.attrs["axis"]
    out = em.out(node)
    if out.size == 0:
        return True
    x = em.buf(node.args[0])
    if axis is None:
        x = em.dense(node.args[0]).reshape((x.size,))
        axis = 0
    axis %= x.ndim
    src = _view(x, x.shape[:axis + 1] + (reps,) + x.shape[axis + 1:],
                x.strides[:axis + 1] + (0,) + x.strides[axis + 1:])
    emit_copy(em, src, out.reshape(src.shape))
    return True


def _tile(em: CudaEmitter, node: Node) -> bool:
    out = em.out(node)
    if out.size == 0:
        return True
    x = em.buf(node.args[0])
    reps = tuple(node.attrs["reps"])
    d = max(len(reps), x.ndim)
    shape, strides = (1,) * (d - x.ndim) + x.shape, (0,) * (d - x.ndim) + x.strides
    reps = (1,) * (d - len(reps)) + reps
    vs = tuple(v for r, s in zip(reps, shape) for v in (r, s))
    vst = tuple(v for st in strides for v in (0, st))
    emit_copy(em, _view(x, vs, vst), out.reshape(vs))
    return True


def _channel_shuffle(em: CudaEmitter, node: Node) -> bool:
    g = node.attrs["groups"]
    x = em.dense(node.args[0])
    n, c, *rest = x.shape
    y = x.reshape((n, g, c // g, *rest)).transpose((0, 2, 1) + tuple(range(3, x.ndim + 1)))
    out = em.out(node)
    if out.size:
        emit_copy(em, y, out.reshape(y.shape))
    return True


def _pixel_unshuffle(em: CudaEmitter, node: Node) -> bool:
    r = node.attrs["downscale_factor"]
    x = em.dense(node.args[0])
    *batch, c, hr, wr = x.shape
    nb = len(batch)
    y = x.reshape((*batch, c, hr // r, r, wr // r, r)).transpose(
        tuple(range(nb)) + (nb, nb + 2, nb + 4, nb + 1, nb + 3))
    out = em.out(node)
    if out.size:
        emit_copy(em, y, out.reshape(y.shape))
    return True


def _basic(index: tuple) -> bool:
    return all(i is None or i == "..." or isinstance(i, int) or (isinstance(i, tuple) and i and i[0] == "s")
               for i in index)


def _setitem(em: CudaEmitter, node: Node) -> bool:
    """Functional ``x[index] = value`` with a basic index: copy x, then value into the indexed view."""
    index = tuple(node.attrs["index"])
    if not _basic(index):
        return False
    out = em.out(node)
    emit_copy(em, em.buf(node.args[0]), out)
    dst = out.index(index)
    emit_copy(em, em.buf(node.args[1]).broadcast_to(dst.shape), dst)
    return True


def register() -> None:
    views = [("reshape", cpu_shape._reshape), ("transpose", cpu_shape._transpose), ("getitem", cpu_shape._getitem),
             ("tuple_getitem", cpu_shape._tuple_getitem), ("broadcast_to", cpu_shape._broadcast_to),
             ("diagonal", cpu_shape._diagonal)]
    for name, rule in views + [("concat", _concat), ("stack", _stack), ("repeat", _repeat), ("tile", _tile),
                               ("channel_shuffle", _channel_shuffle), ("pixel_unshuffle", _pixel_unshuffle),
                               ("setitem", _setitem)]:
        register_lowering(name, "cuda")(rule)
