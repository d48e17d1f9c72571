"""dce: values that never reach the output are dropped; graph inputs, opaque module calls (hooks are side effects)
and random ops (they advance the random stream) stay."""
from __future__ import annotations

import numpy as np

import nngraph
import nngraph.nn as nn

from ..ir.build import Builder, assert_structurally_equal
from ..trace.util import Fn, rand
from .util import assert_same_numerics, run_pass


def test_dead_values_removed() -> None:
    b = Builder()
    x, unused = b.input((3,)), b.input((3,))
    w = b.param("w", (3,))
    dead = b.op("exp", b.op("mul", x, w))
    b.op("neg", dead)
    b.output(b.op("relu", x))
    result = run_pass("dce", b.graph)
    assert result.changed
    e = Builder()
    e.input((3,))
    xx = "input_0"
    e.input((3,))
    e.output(e.op("relu", xx))
    assert_structurally_equal(result.graph, e.graph)  # the unused input and nothing else remains
    assert not run_pass("dce", result.graph).changed


def test_traced_dead_code() -> None:
    def fn(x):  # noqa: ANN001, ANN202
        _ = np.exp(x) * 2  # computed, never used
        return x + 1

    before = nngraph.trace(Fn(fn), rand(3), fullgraph=True)
    after = run_pass("dce", before).graph
    assert [n.target for n in after.ops()] == ["add"] and not after.by_kind("constant")[1:]
    assert_same_numerics(before, after, None, rand(3))


def test_unused_opaque_module_call_stays() -> None:
    calls = []

    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.probe = nn.Linear(3, 3)
            self.probe.register_forward_hook(lambda mod, args, out: calls.append(1))

        def forward(self, x):  # noqa: ANN001, ANN201
            self.probe(x * 2)  # only for its hook
            return x + 1

    m = M()
    before = nngraph.trace(m, rand(3))
    after = run_pass("dce", before).graph
    assert len(after.by_kind("module")) == 1 and after.ops("mul")  # the call and what feeds it
    calls.clear()
    nngraph.Interpreter(after, m).run(rand(3))
    assert calls == [1]


def test_unused_random_op_stays(random_op: str) -> None:
    b = Builder()
    x = b.input((3,))
    b.op(random_op, x)
    b.output(b.op(random_op, x))
    result = run_pass("dce", b.graph)
    assert not result.changed and len(result.graph.ops(random_op)) == 2
