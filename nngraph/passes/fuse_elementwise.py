"""Elementwise fusion: chains of elementwise/broadcast ops whose intermediate values have one user become one
``fused`` node (kind "elementwise": one loop in a backend)."""
from __future__ import annotations

from ..ir.graph import Graph
from ..ir.node import OP, Node
from ..ops.registry import REGISTRY, Fusion, TensorSpec
from .base import PassContext, PassResult, graph_pass


def _eligible(node: Node) -> bool:
    if node.kind != OP or node.target == "fused" or not isinstance(node.spec, TensorSpec):
        return False
    op = REGISTRY[node.target]
    return op.fusion in (Fusion.ELEMENTWISE, Fusion.BROADCAST) and not op.random and not node.meta.weight_only


@graph_pass("fuse_elementwise")
def fuse_elementwise(graph: Graph, ctx: PassContext) -> PassResult:
    group_of: dict[str, int] = {}
    groups: list[list[str]] = []
    for node in graph.nodes():
        if not _eligible(node):
            continue
        target = None
        for a in node.inputs():
            if a in group_of and graph.users(a) == [node.name]:
                target = group_of[a]
                break
        if target is None:
            target = len(groups)
            groups.append([])
        groups[target].append(node.name)
        group_of[node.name] = target
    changed = False
    for members in groups:
        if len(members) < 2:
            continue
        _fuse_group(graph, members)
        changed = True
    return PassResult(graph, changed)


def _fuse_group(graph: Graph, members: list[str]) -> None:
    index = {name: i for i, name in enumerate(members)}
    args: list[str | None] = []
    steps = []
    for name in members:
        node = graph[name]
        operands = []
        for a in node.args:
            if a is None:
                operands.append(("none", 0))
            elif a in index:
                operands.append(("tmp", index[a]))
            else:
                if a not in args:
                    args.append(a)
                operands.append(("in", args.index(a)))
        steps.append((node.target, tuple(sorted(node.attrs.items())), tuple(operands)))
    sink = graph[members[-1]]
    origin = tuple(n for m in members for n in (graph[m].meta.fused_from or (m,)))
    fused = graph.add(OP, "fused", args, {"steps": tuple(steps), "kind": "elementwise"},
                      sink.meta.with_(fused_from=origin), name=f"{sink.name}_fused")
    graph.replace_all_uses(sink.name, fused.name)
    for name in reversed(members):
        graph.erase(name)
