"""Constant folding: ops over literal constants become constants; ops over parameters are marked ``weight_only``
(the runtime computes them once per weight version instead of on every call)."""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph
from ..ir.node import CONSTANT, OP, PARAM
from ..ops.registry import REGISTRY, TensorSpec
from .base import PassContext, PassResult, graph_pass


@graph_pass("constant_fold")
def constant_fold(graph: Graph, ctx: PassContext) -> PassResult:
    changed = False
    for node in graph.nodes():
        if node.kind != OP or REGISTRY[node.target].random:
            continue
        args = [graph[a] for a in node.inputs()]
        if not args or not all(a.kind in (CONSTANT, PARAM) or a.meta.weight_only for a in args):
            continue
        if all(a.kind == CONSTANT for a in args) and isinstance(node.spec, TensorSpec):
            values = [None if a is None else graph[a].attrs["value"] for a in node.args]
            value = np.asarray(REGISTRY[node.target].impl(*values, **node.attrs))
            const = graph.add(CONSTANT, "constant", attrs={"value": value},
                              meta=node.meta.with_(fused_from=node.meta.fused_from + (node.name,)), name="const")
            graph.replace_all_uses(node.name, const.name)
            graph.erase(node.name)
            changed = True
        elif not node.meta.weight_only:
            graph.nx.nodes[node.name]["node"].meta = node.meta.with_(weight_only=True)
            changed = True
    return PassResult(graph, changed)
