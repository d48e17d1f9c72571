"""CPU lowering of data movement: views where numba allows them (reshape of contiguous arrays, transpose, basic
slicing, broadcast), copies otherwise; concatenation and stacking."""
from __future__ import annotations

from typing import Any

from ...ir.node import Node
from ...ops.registry import register_lowering
from .codegen import Emitter


def _reshape(em: Emitter, node: Node, args: list[Any]) -> bool:
    x = args[0]
    shape = tuple(int(s) for s in node.attrs["shape"])
    src = x if em.is_contiguous(node.args[0]) else f"np.ascontiguousarray({x})"
    em.emit(f"{em.var(node.name)} = {src}.reshape({shape!r})")
    em.mark_contiguous(node.name)
    return True


def _transpose(em: Emitter, node: Node, args: list[Any]) -> bool:
    em.emit(f"{em.var(node.name)} = {args[0]}.transpose({tuple(node.attrs['axes'])!r})")
    return True


def _index_text(item: Any) -> str:
    if isinstance(item, tuple):
        return ":".join("" if v is None else str(v) for v in item[1:])
    if item == "...":
        return "..."
    return "None" if item is None else str(item)


def _getitem(em: Emitter, node: Node, args: list[Any]) -> bool:
    index = node.attrs["index"]
    if node.spec.ndim == 0:
        return False  # a 0-d result: numba returns a scalar, not an array
    text = ", ".join(_index_text(i) for i in index) or "..."
    em.emit(f"{em.var(node.name)} = {args[0]}[{text}]")
    return True


def _tuple_getitem(em: Emitter, node: Node, args: list[Any]) -> bool:
    em.emit(f"{em.var(node.name)} = {args[0]}[{node.attrs['index']}]")
    if em.is_contiguous(node.args[0]):
        em.mark_contiguous(node.name)
    return True


def _broadcast_to(em: Emitter, node: Node, args: list[Any]) -> bool:
    em.emit(f"{em.var(node.name)} = np.broadcast_to({args[0]}, {tuple(node.attrs['shape'])!r})")
    return True


def _concat(em: Emitter, node: Node, args: list[Any]) -> bool:
    specs = [em.spec(a) for a in node.args]
    if len({s.dtype for s in specs}) != 1 or len(args) < 2:
        return False
    em.emit(f"{em.var(node.name)} = np.concatenate(({', '.join(args)},), axis={node.attrs['axis']})")
    em.mark_contiguous(node.name)
    return True


def register() -> None:
    for name, rule in [("reshape", _reshape), ("transpose", _transpose), ("getitem", _getitem),
                       ("tuple_getitem", _tuple_getitem), ("broadcast_to", _broadcast_to), ("concat", _concat)]:
        register_lowering(name, "cpu")(rule)
