"""Eval mode: every dropout variant is the identity."""
from __future__ import annotations

from ..ir.graph import Graph
from .base import PassContext, PassResult, graph_pass

DROPOUT_OPS = ("dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout")


@graph_pass("remove_dropout")
def remove_dropout(graph: Graph, ctx: PassContext) -> PassResult:
    if ctx.training:
        return PassResult(graph, False)
    changed = False
    for node in graph.ops():
        if node.target in DROPOUT_OPS:
            graph.replace_all_uses(node.name, node.args[0])
            graph.erase(node.name)
            changed = True
    return PassResult(graph, changed)
