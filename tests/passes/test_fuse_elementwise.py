"""fuse_elementwise: chains of elementwise/broadcast ops whose intermediates have one user become one ``fused``
node of kind "elementwise"; values with other users, reductions, random and weight-only ops split the chains."""
from __future__ import annotations

import numpy as np

import nngraph

from ..ir.build import Builder, assert_structurally_equal
from ..trace.util import Fn, rand
from .util import assert_same_numerics, run_pass


def test_chain_fuses() -> None:
    b = Builder()
    x, y = b.input((2, 3)), b.input((3,))
    b.output(b.op("mul", b.op("neg", b.op("exp", x)), y))
    result = run_pass("fuse_elementwise", b.graph)
    assert result.changed
    e = Builder()
    ex, ey = e.input((2, 3)), e.input((3,))
    steps = (("exp", (), (("in", 0),)), ("neg", (), (("tmp", 0),)), ("mul", (), (("tmp", 1), ("in", 1))))
    e.output(e.op("fused", ex, ey, steps=steps, kind="elementwise"))
    assert_structurally_equal(result.graph, e.graph)
    fused = result.graph.ops("fused")[0]
    assert fused.meta.fused_from == ("exp", "neg", "mul")
    assert_same_numerics(b.graph, result.graph, None, rand(2, 3), rand(3))


def test_traced_gelu_like_expression() -> None:
    m = Fn(lambda x: 0.5 * x * (1 + np.tanh(0.79788456 * (x + 0.044715 * x ** 3))))
    before = nngraph.trace(m, rand(4, 5), fullgraph=True)
    after = run_pass("fuse_elementwise", before).graph
    assert len(after.ops()) == 2 and after.ops("fused")  # x ** 3 feeds a separate chain since x has many users
    assert_same_numerics(before, after, m, rand(4, 5))


def test_value_with_two_users_ends_a_group() -> None:
    b = Builder()
    x = b.input((4,))
    e = b.op("exp", b.op("abs", x))
    b.output(b.op("neg", e), b.op("sqrt", e))
    after = run_pass("fuse_elementwise", b.graph).graph
    fused = after.ops("fused")
    assert len(fused) == 1 and [s[0] for s in fused[0].attrs["steps"]] == ["abs", "exp"]
    assert {n.target for n in after.ops()} == {"fused", "neg", "sqrt"}
    assert_same_numerics(b.graph, after, None, rand(4))


def test_non_elementwise_ops_split_chains() -> None:
    b = Builder()
    x = b.input((2, 3))
    s = b.op("sum", b.op("exp", b.op("abs", x)), axis=(1,), keepdims=True)
    b.output(b.op("neg", b.op("log", s)))
    after = run_pass("fuse_elementwise", b.graph).graph
    assert [n.target for n in after.ops()] == ["fused", "sum", "fused"]
    assert_same_numerics(b.graph, after, None, rand(2, 3))


def test_nothing_to_fuse() -> None:
    b = Builder()
    x = b.input((3,))
    w = b.param("w", (3,))
    wt = b.op("neg", b.op("exp", w, meta={"weight_only": True}), meta={"weight_only": True})
    b.output(b.op("mul", x, wt))
    result = run_pass("fuse_elementwise", b.graph)
    assert not result.changed
    assert_structurally_equal(result.graph, b.graph)


def test_random_ops_are_not_fused(random_op: str) -> None:
    b = Builder()
    x = b.input((3,))
    b.output(b.op("neg", b.op(random_op, b.op("exp", x))))
    result = run_pass("fuse_elementwise", b.graph)
    assert not result.changed and result.graph.ops(random_op)


def test_fused_nodes_are_not_refused() -> None:
    b = Builder()
    x = b.input((3,))
    b.output(b.op("neg", b.op("exp", x)))
    once = run_pass("fuse_elementwise", b.graph).graph
    assert not run_pass("fuse_elementwise", once).changed


def test_bool_and_dtype_changing_steps() -> None:
    m = Fn(lambda x: np.where(x > 0, x * 2, 0.0).astype(np.float64) + 1)
    before = nngraph.trace(m, rand(5), fullgraph=True)
    after = run_pass("fuse_elementwise", before).graph
    assert len(after.ops("fused")) == 1
    assert_same_numerics(before, after, m, rand(5))
