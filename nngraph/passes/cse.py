"""Common-subexpression elimination: ops with the same target, arguments and attributes compute the same value
(random ops excluded)."""
from __future__ import annotations

from typing import Any

from ..ir.graph import Graph
from ..ir.node import CONSTANT, OP, PARAM
from ..ops.registry import REGISTRY
from .base import PassContext, PassResult, graph_pass


def _key(node: Any) -> Any:
    try:
        attrs = tuple(sorted(node.attrs.items()))
        hash(attrs)
    except TypeError:
        return None
    return (node.target, node.args, attrs)


@graph_pass("cse")
def cse(graph: Graph, ctx: PassContext) -> PassResult:
    seen: dict[Any, str] = {}
    changed = False
    for node in graph.nodes():
        if node.kind == PARAM:
            key = ("param", node.target)
        elif node.kind == CONSTANT:
            v = node.attrs["value"]
            key = ("const", v.dtype.str, v.shape, v.tobytes()) if v.size <= 64 else None
        elif node.kind == OP and not REGISTRY[node.target].random:
            key = _key(node)
        else:
            key = None
        if key is None:
            continue
        if key in seen:
            graph.replace_all_uses(node.name, seen[key])
            graph.erase(node.name)
            changed = True
        else:
            seen[key] = node.name
    return PassResult(graph, changed)
