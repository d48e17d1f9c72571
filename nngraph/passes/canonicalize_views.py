"""View canonicalization: a transpose that only moves size-1 dimensions is a reshape (the same elements in the same
order), and a reshape of a reshape is one reshape. Batch-1 models are full of the first (``batch_first`` attention
transposes (1, L, E) <-> (L, 1, E)); as reshapes, ``fuse_epilogue`` sees through them."""
from __future__ import annotations

from ..ir.graph import Graph
from ..ir.node import OP, Node
from ..ops.registry import TensorSpec
from .base import PassContext, PassResult, graph_pass


def _concrete(spec: object) -> bool:
    return isinstance(spec, TensorSpec) and spec.static


def _moves_only_unit_dims(graph: Graph, node: Node) -> bool:
    src = graph[node.args[0]].spec
    if not (_concrete(src) and _concrete(node.spec)):
        return False
    kept = [a for a in node.attrs["axes"] if src.shape[a] != 1]
    return kept == sorted(kept)


@graph_pass("canonicalize_views")
def canonicalize_views(graph: Graph, ctx: PassContext) -> PassResult:
    changed = False
    for node in graph.ops():
        if node.target == "transpose" and _moves_only_unit_dims(graph, node):
            view = graph.add(OP, "reshape", node.args, {"shape": tuple(node.spec.shape)}, node.meta,
                             name=node.name + "_as_reshape")
            graph.replace_all_uses(node.name, view.name)
            graph.erase(node.name)
            node = view
            changed = True
        if node.target == "reshape" and _concrete(node.spec):
            src = graph[node.args[0]]
            if src.kind == OP and src.target == "reshape":
                graph.set_args(node.name, src.args)
                if not graph.users(src.name):
                    graph.erase(src.name)
                changed = True
    return PassResult(graph, changed)
