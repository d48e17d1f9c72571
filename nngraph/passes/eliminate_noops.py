"""Identity and no-op elimination: reshape/transpose/cast/broadcast_to that change nothing, copies (IR values are
immutable), full-range slices, and full overwrites ``x[...] = v`` with ``v`` of ``x``'s shape and dtype."""
from __future__ import annotations

from ..ir.graph import Graph
from ..ir.node import Node
from ..ops.registry import TensorSpec
from .base import PassContext, PassResult, graph_pass


def _full(index: tuple) -> bool:
    return all(i == ("s", None, None, None) or i == "..." for i in index)


def _replacement(graph: Graph, node: Node) -> str | None:
    """The argument ``node`` can be replaced with, if it is a no-op."""
    if node.target == "setitem":  # x[...] = v with v of x's spec (e.g. an in-place activation): the value is v
        value = node.args[1]
        same = isinstance(node.spec, TensorSpec) and graph[value].spec == node.spec
        return value if same and _full(node.attrs["index"]) else None
    return node.args[0] if _is_noop(graph, node) else None


def _is_noop(graph: Graph, node: Node) -> bool:
    if node.target == "copy":
        return True
    if node.target not in ("reshape", "transpose", "cast", "getitem", "broadcast_to"):
        return False
    src = graph[node.args[0]].spec
    if not (isinstance(src, TensorSpec) and src == node.spec):
        return False
    if node.target == "transpose":  # same shape is not enough: (3, 3) transposed is a different array
        return tuple(node.attrs["axes"]) == tuple(range(src.ndim))
    if node.target == "getitem":
        return _full(node.attrs["index"])
    return True


@graph_pass("eliminate_noops")
def eliminate_noops(graph: Graph, ctx: PassContext) -> PassResult:
    changed = False
    for node in graph.ops():
        replacement = _replacement(graph, node)
        if replacement is not None:
            graph.replace_all_uses(node.name, replacement)
            graph.erase(node.name)
            changed = True
    return PassResult(graph, changed)
