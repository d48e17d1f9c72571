"""Memory planning: liveness-based assignment of activation buffers, with in-place reuse where legal.

Views (reshape, transpose, basic slicing, broadcast) share their source's buffer and extend its lifetime. A buffer
is released after the last use of every value living in it; an elementwise node may write into the buffer of an
argument that dies at that node, owns its buffer (is not a view) and has the node's shape and dtype. Graph inputs,
parameters, constants, weight-only values and graph outputs are not planned (outputs get fresh arrays so callers
never see a buffer the next call overwrites).

Concatenation in place (``MemoryPlan.into``): an argument of a ``concat``/``stack`` whose slice of the result is
contiguous (every dimension before the axis has size 1: channel concatenation at batch 1, stacking along axis 0),
which owns its buffer, has the result's dtype and whose last use is the concatenation, is computed straight into its
slice; the result's buffer is taken when the first such argument is computed, and the concatenation's copy of that
argument becomes a copy onto itself, which the backends skip (a U-Net's skip connections and upsampled maps).
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
    # node -> (the concat/stack it is computed into, element offset of its slice in the concat's storage)
    into: dict[str, tuple[str, int]] = field(default_factory=dict)
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
    plan.into = _concat_slices(graph, nodes, plannable, position, last_use)
    free: list[int] = []

    def take(size: int) -> int:
        fits = [b for b in free if plan.buffer_bytes[b] >= size]
        if fits:
            buf = min(fits, key=lambda b: plan.buffer_bytes[b])
            free.remove(buf)
            return buf
        plan.buffer_bytes.append(size)
        return len(plan.buffer_bytes) - 1

    def place(name: str) -> int:
        """The buffer of ``name``, taken now unless its concatenation (which it lives in) already has one."""
        if name not in plan.buffer_of:
            plan.buffer_of[name] = place(plan.into[name][0]) if name in plan.into else take(_nbytes(graph[name].spec))
        return plan.buffer_of[name]

    for n in nodes:
        if n.name in plannable:
            size = _nbytes(n.spec)
            plan.unplanned_bytes += size
            buf = None
            if n.name in plan.buffer_of or n.name in plan.into:
                buf = place(n.name)  # a concatenation or one of its in-place arguments: never in place itself
            elif n.kind == OP and _elementwise(n):
                # In place only over an argument that owns its buffer (not a view: a transposed or broadcast view
                # is read in another order than the output is written) and has the output's shape and dtype.
                for a in n.inputs():
                    ra = root[a]
                    if a == ra and ra in plan.buffer_of and last_use.get(ra) == position[n.name] and \
                            graph[ra].spec == n.spec:
                        buf = plan.buffer_of[ra]
                        plan.inplace[n.name] = a
                        break
            plan.buffer_of[n.name] = take(size) if buf is None else buf
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


def _concat_slices(graph: Graph, nodes: list, plannable: set[str], position: dict[str, int],
                   last_use: dict[str, int]) -> dict[str, tuple[str, int]]:
    """``MemoryPlan.into``: the concat/stack arguments computed straight into their slice of the result."""
    into: dict[str, tuple[str, int]] = {}
    for c in nodes:
        if c.name not in plannable or c.kind != OP or c.target not in ("concat", "stack") or not c.spec.static:
            continue
        shape = tuple(int(v) for v in c.spec.shape)
        axis = int(c.attrs["axis"]) % len(shape)
        if prod(shape[:axis]) != 1:
            continue  # the slices are strided: producers write dense results
        inner, start = prod(shape[axis + 1:]), 0
        for a in c.args:
            spec = graph[a].spec
            extent = int(spec.shape[axis]) if c.target == "concat" else 1
            if a in plannable and a not in into and c.args.count(a) == 1 and spec.dtype == c.spec.dtype and \
                    last_use.get(a) == position[c.name] and spec.static and prod(spec.shape):
                into[a] = (c.name, start * inner)
            start += extent
    return into
