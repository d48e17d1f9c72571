"""Dead-code elimination: drop nodes whose values never reach the output (opaque module calls stay: their hooks
are side effects)."""
from __future__ import annotations

import networkx as nx

from ..ir.graph import Graph
from ..ir.node import INPUT, MODULE
from .base import PassContext, PassResult, graph_pass


@graph_pass("dce")
def dce(graph: Graph, ctx: PassContext) -> PassResult:
    keep = {graph.output.name}
    for node in graph.nodes():
        if node.kind in (INPUT, MODULE):
            keep.add(node.name)
    live = set(keep)
    for n in keep:
        live |= nx.ancestors(graph.nx, n) if n == graph.output.name or graph[n].kind == MODULE else set()
    dead = [n.name for n in reversed(graph.nodes()) if n.name not in live]
    for name in dead:
        graph.nx.remove_node(name)
    return PassResult(graph, bool(dead))
