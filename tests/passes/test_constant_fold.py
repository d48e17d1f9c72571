"""constant_fold: ops over literal constants become constants; ops over parameters (and values computed from
them) are marked weight_only; random ops and ops reading inputs are left alone."""
from __future__ import annotations

import numpy as np

import nngraph
import nngraph.nn as nn

from ..ir.build import Builder, assert_structurally_equal
from ..trace.util import Fn, rand
from .util import assert_same_numerics, run_pass

F32 = np.float32


def test_ops_over_constants_fold() -> None:
    b = Builder()
    x = b.input((3,))
    c1, c2 = b.const(np.arange(3, dtype=F32)), b.const(np.ones(3, F32))
    folded = b.op("neg", b.op("add", c1, c2))
    b.output(b.op("mul", x, folded))
    result = run_pass("constant_fold", b.graph)
    assert result.changed
    e = Builder()
    e.const(np.arange(3, dtype=F32))  # the original and intermediate constants stay (dead) until dce
    e.const(np.ones(3, F32))
    e.const(np.arange(3, dtype=F32) + 1)
    e.output(e.op("mul", e.input((3,)), e.const(-(np.arange(3, dtype=F32) + 1))))
    assert_structurally_equal(result.graph, e.graph)
    const = result.graph.output
    new = result.graph[result.graph[const.args[0]].args[1]]
    assert new.meta.fused_from == ("neg",)
    assert_same_numerics(b.graph, result.graph, None, rand(3))


def test_traced_constant_expressions_fold() -> None:
    table = np.linspace(0, 1, 4, dtype=F32)
    m = Fn(lambda x: x * (np.exp(table) * 2).sum())
    before = nngraph.trace(m, rand(4), fullgraph=True)
    after = run_pass("constant_fold", before).graph
    assert [n.target for n in after.ops()] == ["mul"]
    assert_same_numerics(before, after, m, rand(4))


def test_ops_over_parameters_are_weight_only() -> None:
    m = Fn(lambda x: x @ (lin.weight.T * 2.0) + lin.bias)
    lin = m.lin = nn.Linear(3, 3)
    before = nngraph.trace(m, rand(2, 3), fullgraph=True)
    result = run_pass("constant_fold", before)
    assert result.changed and not result.graph.by_kind("constant")[1:]
    flags = {n.target: n.meta.weight_only for n in result.graph.ops()}
    assert flags == {"transpose": True, "mul": True, "matmul": False, "add": False}
    assert not run_pass("constant_fold", result.graph).changed  # idempotent
    assert_same_numerics(before, result.graph, m, rand(2, 3))


def test_ops_reading_inputs_are_untouched() -> None:
    b = Builder()
    b.output(b.op("add", b.input((3,)), b.const(np.ones(3, F32))))
    result = run_pass("constant_fold", b.graph)
    assert not result.changed
    assert_structurally_equal(result.graph, b.graph)


def test_random_ops_are_never_folded(random_op: str) -> None:
    b = Builder()
    b.output(b.op("add", b.input((3,)), b.op(random_op, b.const(np.ones(3, F32)))))
    b2 = Builder()
    b2.output(b2.op("add", b2.input((3,)), b2.op(random_op, b2.param("w", (3,)))))
    for graph in (b.graph, b2.graph):
        result = run_pass("constant_fold", graph)
        assert not result.changed and not any(n.meta.weight_only for n in result.graph.ops())


def test_multi_output_op_is_marked_not_folded() -> None:
    b = Builder()
    pair = b.op("batch_norm_stats", b.const(np.ones((2, 3), F32)))
    first = b.op("tuple_getitem", pair, index=0)
    b.output(b.op("add", b.input((3,)), first))
    result = run_pass("constant_fold", b.graph)
    assert result.graph[pair].meta.weight_only and result.graph[first].meta.weight_only
    assert not result.graph[first].kind == "constant"  # only ops whose arguments are all literals become constants
