"""CPU lowering of data movement. Views (reshape where numpy would not copy, transpose, basic slicing, broadcasting,
multi-output selection) are ``Buf`` arithmetic and emit no code; concatenation copies into slices of its output."""
from __future__ import annotations

from ...ir.node import Node
from ...ops.registry import register_lowering
from .codegen import Emitter
from .kernels_basic import emit_copy


def _reshape(em: Emitter, node: Node) -> bool:
    shape = tuple(node.spec.shape)
    view = em.buf(node.args[0]).reshape(shape)  # a view wherever numpy's reshape is one
    if view is None:
        view = em.dense(node.args[0]).reshape(shape)
    em.set_view(node, view)
    return True


def _transpose(em: Emitter, node: Node) -> bool:
    em.set_view(node, em.buf(node.args[0]).transpose(tuple(node.attrs["axes"])))
    return True


def _getitem(em: Emitter, node: Node) -> bool:
    em.set_view(node, em.buf(node.args[0]).index(node.attrs["index"]))
    return True


def _broadcast_to(em: Emitter, node: Node) -> bool:
    em.set_view(node, em.buf(node.args[0]).broadcast_to(tuple(node.attrs["shape"])))
    return True


def _diagonal(em: Emitter, node: Node) -> bool:
    em.set_view(node, em.buf(node.args[0]).diagonal(node.attrs["offset"], node.attrs["axis1"], node.attrs["axis2"]))
    return True


def _tuple_getitem(em: Emitter, node: Node) -> bool:
    em.set_view(node, em.buf(node.args[0])[node.attrs["index"]])
    return True


def _concat(em: Emitter, node: Node) -> bool:
    out = em.out(node)
    axis, start = node.attrs["axis"], 0
    for a in node.args:
        src = em.buf(a)
        n = src.shape[axis]
        index = tuple(("s", start, start + n, None) if d == axis else ("s", None, None, None) for d in range(out.ndim))
        emit_copy(em, src, out.index(index))
        start += n
    return True


def _stack(em: Emitter, node: Node) -> bool:
    out = em.out(node)
    axis = node.attrs["axis"]
    for k, a in enumerate(node.args):
        index = tuple(k if d == axis else ("s", None, None, None) for d in range(out.ndim))
        emit_copy(em, em.buf(a), out.index(index))
    return True


def register() -> None:
    for name, rule in [("reshape", _reshape), ("transpose", _transpose), ("getitem", _getitem),
                       ("tuple_getitem", _tuple_getitem), ("broadcast_to", _broadcast_to), ("diagonal", _diagonal),
                       ("concat", _concat),
                       ("stack", _stack)]:
        register_lowering(name, "cpu")(rule)
