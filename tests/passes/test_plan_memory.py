"""plan_memory: buffers are shared only between values whose lifetimes do not overlap; views share their source's
buffer; in-place reuse only where the argument dies, owns its buffer and has the node's shape and dtype; graph
inputs, parameters, weight-only values and outputs are never planned."""
from __future__ import annotations

from typing import Any

import numpy as np

import nngraph
import nngraph.nn as nn
from nngraph.ir import Graph
from nngraph.passes.plan_memory import VIEW_OPS

from ..ir.build import Builder
from ..trace.util import Fn, rand
from .util import random_bn, run_pass


def check_plan(graph: Graph) -> Any:
    """Validate a memory plan against liveness; returns the plan."""
    plan = graph.memory_plan
    nodes = graph.nodes()
    pos = {n.name: i for i, n in enumerate(nodes)}
    root: dict[str, str] = {}
    for n in nodes:
        root[n.name] = root[n.args[0]] if n.kind == "op" and n.target in VIEW_OPS and n.args[0] else n.name
    last = {r: pos[r] for r in set(root.values())}
    for n in nodes:
        for a in n.inputs():
            last[root[a]] = max(last[root[a]], pos[n.name])
    outputs = {root[a] for a in graph.output.args if a}
    top = _check_into(graph, plan, pos, last)
    # a concatenation's storage is in use from its first in-place argument on
    for a in plan.into:
        last[a] = last[top[a]]
        pos[top[a]] = min(pos[top[a]], pos[a])
    owners = list(dict.fromkeys(top.get(n, n) for n in plan.buffer_of if root[n] == n))  # concat families as one
    for name in plan.buffer_of:
        node = graph[name]
        assert node.kind in ("op", "module") and not node.meta.weight_only, f"{name} must not be planned"
        assert root[name] not in outputs, f"{name} lives in a graph output's storage"
        assert plan.buffer_of[name] == plan.buffer_of[root[name]], f"view {name} not in its source's buffer"
        if root[name] == name:
            assert plan.buffer_bytes[plan.buffer_of[name]] >= node.spec.dtype.itemsize * int(np.prod(node.spec.shape))
    for i, a in enumerate(owners):
        for b in owners[i + 1:]:
            if plan.buffer_of[a] != plan.buffer_of[b]:
                continue
            first, second = sorted((a, b), key=pos.get)
            if plan.inplace.get(second) is not None and root[plan.inplace[second]] == first:
                assert last[first] == pos[second], f"{second} overwrites {first}, which is still needed"
                assert graph[plan.inplace[second]].spec == graph[second].spec
                assert plan.inplace[second] == first, "in place over a view"
            else:
                assert last[first] < pos[second], f"{first} and {second} share a buffer while both live"
    return plan


def _check_into(graph: Graph, plan: Any, pos: dict[str, int], last: dict[str, int]) -> dict[str, str]:
    """Concatenation in place: each argument in ``plan.into`` owns its buffer, dies at the concat/stack, has its dtype,
    and sits at its slice -- offsets recomputed from the shapes; the slice is contiguous. Returns argument -> the
    outermost concatenation whose storage it lives in."""
    top: dict[str, str] = {}
    for a, (c, offset) in plan.into.items():
        node, cat = graph[a], graph[c]
        assert cat.target in ("concat", "stack") and list(cat.args).count(a) == 1, (a, c)
        assert last[a] == pos[c], f"{a} is used after {c}, which owns its storage"
        assert node.spec.dtype == cat.spec.dtype and plan.buffer_of[a] == plan.buffer_of[c]
        axis = cat.attrs["axis"] % len(cat.spec.shape)
        assert int(np.prod(cat.spec.shape[:axis])) == 1, f"the slice of {a} in {c} is not contiguous"
        k = list(cat.args).index(a)
        before = sum(graph[x].spec.shape[axis] for x in cat.args[:k]) if cat.target == "concat" else k
        assert offset == before * int(np.prod(cat.spec.shape[axis + 1:])), (a, c, offset)
        outer = c
        while outer in plan.into:
            outer = plan.into[outer][0]
        top[a] = outer
    return top


def _planned(m: nn.Module, *inputs: Any) -> Graph:
    result = nngraph.optimize(m, *inputs, debug=True)
    check_plan(result.graph)
    return result.graph


def test_chain_reuses_buffers_in_place() -> None:
    b = Builder()
    x = b.input((1000,))
    v = x
    for op in ("exp", "neg", "abs", "sqrt", "log1p"):
        v = b.op(op, v)
    b.output(b.op("sum", v, axis=None, keepdims=False))
    graph = run_pass("plan_memory", b.graph).graph
    plan = check_plan(graph)
    assert len(plan.buffer_bytes) == 1 and plan.planned_bytes == 4000 and plan.unplanned_bytes == 5 * 4000
    assert len(plan.inplace) == 4
    assert "80% saved" in plan.summary()


def test_no_in_place_over_views_or_broadcasts() -> None:
    b = Builder()
    x = b.input((8, 8))
    t = b.op("transpose", b.op("exp", x), axes=(1, 0))  # a view of exp's buffer, read transposed
    y = b.op("neg", t)
    col = b.op("exp", b.op("getitem", x, index=(("s", None, None, None), ("s", 0, 1, None))))  # (8, 1)
    z = b.op("add", col, y)  # broadcasts col over (8, 8)
    b.output(b.op("sum", z, axis=None, keepdims=False))
    graph = run_pass("plan_memory", b.graph).graph
    plan = check_plan(graph)
    assert y not in plan.inplace and plan.inplace.get(z) != col


def test_unplanned_values() -> None:
    m = Fn(lambda x: (np.exp(x) + (lin.weight * 2).sum(), np.tanh(x).reshape(-1)))
    lin = m.lin = nn.Linear(3, 3)
    graph = _planned(m.eval(), rand(3, 3))
    plan = graph.memory_plan
    kinds = {graph[n].kind for n in plan.buffer_of}
    assert kinds <= {"op"} and not any(graph[n].meta.weight_only for n in plan.buffer_of)


class ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x: Any) -> Any:
        return np.maximum(self.b2(self.c2(np.maximum(self.b1(self.c1(x)), 0))) + x, 0)


def test_whole_model_plan_is_valid_and_saves_memory() -> None:
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), *[ResBlock(8) for _ in range(3)],
                      nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 4), nn.Softmax(-1))
    random_bn(m)
    graph = _planned(m.eval(), rand(2, 3, 8, 8))
    plan = graph.memory_plan
    assert plan.planned_bytes < plan.unplanned_bytes


def test_train_mode_graph_plan_is_valid() -> None:
    m = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.3), nn.GELU(), nn.Linear(8, 4), nn.LayerNorm(4)).train()
    graph = _planned(m, rand(5, 4))
    assert graph.ops("dropout")


class _Skip(nn.Module):
    """A U-Net-like block: the skip ``s`` is pooled (a use before the concatenation), the upsampled map is only
    concatenated; then a stack of two reductions along axis 0 and a nested concatenation."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 2, 3, padding=1)

    def forward(self, x: Any) -> Any:
        s = np.maximum(self.a(x), 0)
        u = self.b(s[:, :, ::2, ::2])
        u = np.repeat(np.repeat(u, 2, axis=2), 2, axis=3)
        y = np.concatenate([s, u], axis=1)
        z = np.stack([y.sum(axis=1), y.max(axis=1)], axis=0)
        w = np.concatenate([np.concatenate([np.tanh(y), np.exp(y)], axis=1), y * 2], axis=1)
        return z * 1.5, w + 1.0


def test_concat_arguments_computed_in_place() -> None:
    """At batch 1 every argument whose slice is contiguous and whose last use is the concatenation lives in its
    slice (nested concatenations too); plans stay valid."""
    plan = _planned(_Skip().eval(), rand(1, 3, 6, 6)).memory_plan
    into = {a: c for a, (c, _) in plan.into.items()}
    assert sorted(into.items()) == [("concat_1", "concat_2"), ("exp", "concat_1"), ("max", "stack"),
                                    ("maximum", "concat"), ("mul", "concat_2"), ("repeat_1", "concat"),
                                    ("sum", "stack"), ("tanh", "concat_1")], plan.into


def test_no_concat_in_place_for_strided_slices_or_later_uses() -> None:
    graph = _planned(_Skip().eval(), rand(2, 3, 6, 6))  # batch 2: channel slices are strided, the stack's are not
    assert {graph[c].target for c, _ in graph.memory_plan.into.values()} == {"stack"}, graph.memory_plan.into
    def f(x: Any) -> Any:
        t = np.tanh(x)
        return np.concatenate([t, np.exp(x)]) * 2, t.sum()

    g = _planned(Fn(f), rand(3, 4))
    assert list(g.memory_plan.into) == ["exp"], g.memory_plan.into  # t is used after the concat
