"""Dead-code elimination: drop nodes whose values never reach the output. Opaque module calls stay (their hooks are
side effects), and so do random ops (removing one would shift the random stream every later draw sees)."""
from __future__ import annotations

import networkx as nx

from ..ir.graph import Graph
from ..ir.node import INPUT, MODULE, OP
from ..ops.registry import REGISTRY
from .base import PassContext, PassResult, graph_pass


@graph_pass("dce")
def dce(graph: Graph, ctx: PassContext) -> PassResult:
    roots = {graph.output.name}
    for node in graph.nodes():
        if node.kind == MODULE or (node.kind == OP and REGISTRY[node.target].random):
            roots.add(node.name)
    live = set(roots) | {n.name for n in graph.by_kind(INPUT)}
    for n in roots:
        live |= nx.ancestors(graph.nx, n)
    dead = [n.name for n in reversed(graph.nodes()) if n.name not in live]
    for name in dead:
        graph.nx.remove_node(name)
    return PassResult(graph, bool(dead))
