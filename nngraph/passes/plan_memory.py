"""Memory planning: liveness-based assignment of activation buffers, with in-place reuse where legal.

Views (reshape, transpose, basic slicing, broadcast) share their source's buffer and extend its lifetime. A buffer
is released after the last use of every value living in it; an elementwise node may write into the buffer of an
argument that dies at that node, owns its buffer (is not a view) and has the node's shape and dtype. Graph inputs,
parameters, constants, weight-only values and graph outputs are not planned (outputs get fresh arrays so callers
never see a buffer the next call overwrites).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.graph import Graph
from ..ir.node import MODULE, OP
from ..ir.symbolic import prod
from ..ops.registry import REGISTRY, Fusion, TensorSpec
from ..ops.shape import VIEW_OPS
from .base import PassContext, PassResult, graph_pass



@dataclass
class MemoryPlan:
    buffer_of: dict[str, int] = field(default_factory=dict)  # node -> buffer id (views map to their source's)
    buffer_bytes: list[int] = field(default_factory=list)
    inplace: dict[str, str] = field(default_factory=dict)  # node -> argument whose buffer it overwrites
    unplanned_bytes: int = 0  # sum of every planned intermediate, each in its own buffer

    @property
    def planned_bytes(self) -> int:
        return sum(self.buffer_bytes)

    def summary(self) -> str:
        planned, unplanned = int(self.planned_bytes), int(self.unplanned_bytes)  # symbolic sizes: at their hints
        saved = 1 - planned / unplanned if unplanned else 0.0
        return (f"activation memory: planned {planned / 2**20:.2f} MiB in {len(self.buffer_bytes)} buffers "
                f"vs {unplanned / 2**20:.2f} MiB unplanned ({saved:.0%} saved)")


def _nbytes(spec: TensorSpec) -> int:
    return prod(spec.shape) * spec.dtype.itemsize


def _elementwise(node) -> bool:  # noqa: ANN001
    if node.target == "fused":
        return node.attrs["kind"] == "elementwise"
    return REGISTRY[node.target].fusion in (Fusion.ELEMENTWISE, Fusion.BROADCAST)


@graph_pass("plan_memory")
def plan_memory(graph: Graph, ctx: PassContext) -> PassResult:
    plan = MemoryPlan()
    nodes = graph.nodes()
    position = {n.name: i for i, n in enumerate(nodes)}
    escaping = set(graph.output.args)
    planned = [n for n in nodes if n.kind in (OP, MODULE) and isinstance(n.spec, TensorSpec)
               and not n.meta.weight_only and n.name not in escaping]
    root: dict[str, str] = {}  # value -> the value owning its storage
    for n in nodes:
        root[n.name] = root.get(n.args[0], n.args[0]) if n.kind == OP and n.target in VIEW_OPS and n.args[0] else n.name
    last_use: dict[str, int] = {}
    for n in nodes:
        for a in n.inputs():
            last_use[root[a]] = max(last_use.get(root[a], -1), position[n.name])
    plannable = {n.name for n in planned if root[n.name] == n.name}
    if any(root[o] in plannable for o in escaping if o):  # an output is a view of a planned buffer: keep it fresh
        plannable -= {root[o] for o in escaping if o}
    free: list[int] = []
    for n in nodes:
        if n.name in plannable:
            size = _nbytes(n.spec)
            plan.unplanned_bytes += size
            buf = None
            if n.kind == OP and _elementwise(n):
                # In place only over an argument that owns its buffer (not a view: a transposed or broadcast view
                # is read in another order than the output is written) and has the output's shape and dtype.
                for a in n.inputs():
                    ra = root[a]
                    if a == ra and ra in plan.buffer_of and last_use.get(ra) == position[n.name] and \
                            graph[ra].spec == n.spec:
                        buf = plan.buffer_of[ra]
                        plan.inplace[n.name] = a
                        break
            if buf is None:
                fits = [b for b in free if plan.buffer_bytes[b] >= size]
                if fits:
                    buf = min(fits, key=lambda b: plan.buffer_bytes[b])
                    free.remove(buf)
                else:
                    buf = len(plan.buffer_bytes)
                    plan.buffer_bytes.append(size)
            plan.buffer_of[n.name] = buf
        owned = plan.buffer_of.get(n.name)
        for a in dict.fromkeys(root[x] for x in n.inputs()):  # ordered: plans must not depend on hashing
            buf_a = plan.buffer_of.get(a)
            if buf_a is not None and last_use.get(a) == position[n.name] and buf_a != owned and buf_a not in free:
                free.append(buf_a)
    for n in nodes:
        if n.name not in plan.buffer_of and root[n.name] in plan.buffer_of:
            plan.buffer_of[n.name] = plan.buffer_of[root[n.name]]
    graph.memory_plan = plan
    return PassResult(graph, False)
