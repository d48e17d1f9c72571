"""Identity and no-op elimination: reshape/transpose/cast that change nothing, copies (IR values are immutable),
full-range slices."""
from __future__ import annotations

from ..ir.graph import Graph
from ..ir.node import Node
from ..ops.registry import TensorSpec
from .base import PassContext, PassResult, graph_pass


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
        return all(i == ("s", None, None, None) or i == "..." for i in node.attrs["index"])
    return True


@graph_pass("eliminate_noops")
def eliminate_noops(graph: Graph, ctx: PassContext) -> PassResult:
    changed = False
    for node in graph.ops():
        if _is_noop(graph, node):
            graph.replace_all_uses(node.name, node.args[0])
            graph.erase(node.name)
            changed = True
    return PassResult(graph, changed)
