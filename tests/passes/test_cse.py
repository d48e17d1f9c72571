"""cse: ops with the same target, arguments and attributes (and duplicate params / small constants) are computed
once; random ops, opaque module calls, large constants and differing attributes are not merged."""
from __future__ import annotations

import numpy as np

import nngraph
import nngraph.nn as nn

from ..ir.build import Builder, assert_structurally_equal
from ..trace.util import Fn, rand
from .util import assert_same_numerics, run_pass

F32 = np.float32


def test_duplicate_ops_merge() -> None:
    b = Builder()
    x = b.input((3,))
    b.output(b.op("add", b.op("exp", x), b.op("exp", x)))
    result = run_pass("cse", b.graph)
    assert result.changed
    e = Builder()
    ex = e.op("exp", e.input((3,)))
    e.output(e.op("add", ex, ex))
    assert_structurally_equal(result.graph, e.graph)


def test_traced_duplicates_and_chains_merge() -> None:
    m = Fn(lambda x: np.tanh(x.sum(1)) * np.tanh(x.sum(axis=1)))
    before = nngraph.trace(m, rand(2, 3), fullgraph=True)
    after = run_pass("cse", before).graph
    assert [n.target for n in after.ops()] == ["sum", "tanh", "mul"]
    assert_same_numerics(before, after, m, rand(2, 3))


def test_params_and_small_constants_merge() -> None:
    b = Builder()
    w1, w2 = b.param("w", (3,)), b.param("w", (3,))
    c1, c2 = b.const(np.ones(3, F32)), b.const(np.ones(3, F32))
    x = b.input((3,))
    b.output(b.op("add", b.op("mul", x, w1), b.op("mul", x, w2)), b.op("sub", c1, c2))
    after = run_pass("cse", b.graph).graph
    assert len(after.by_kind("param")) == 1 and len(after.by_kind("constant")) == 1
    assert len(after.ops("mul")) == 1
    assert_same_numerics(b.graph, after, None, rand(3), params={"w": rand(3, seed=4)})


def test_not_merged() -> None:
    b = Builder()
    x = b.input((100,))
    big1, big2 = b.const(np.ones(100, F32)), b.const(np.ones(100, F32))  # > 64 elements: not hashed
    s1 = b.op("sum", x, axis=(0,), keepdims=False)
    s2 = b.op("sum", x, axis=(0,), keepdims=True)  # other attributes
    b.output(b.op("add", x, big1), b.op("add", x, big2), s1, s2, b.op("sub", x, big1), b.op("sub", big1, x))
    result = run_pass("cse", b.graph)
    assert not result.changed
    assert_structurally_equal(result.graph, b.graph)


def test_random_ops_are_not_merged(random_op: str) -> None:
    b = Builder()
    x = b.input((3,))
    b.output(b.op("add", b.op(random_op, x), b.op(random_op, x)))
    assert not run_pass("cse", b.graph).changed


def test_opaque_module_calls_are_not_merged() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.act = nn.ReLU()
            self.act.register_forward_hook(lambda *a: None)

        def forward(self, x):  # noqa: ANN001, ANN201
            return self.act(x) + self.act(x)  # a hook may have side effects: two calls

    m = Twice()
    before = nngraph.trace(m, rand(3))
    after = run_pass("cse", before).graph
    assert len(after.by_kind("module")) == 2


def test_ops_drawing_random_numbers_are_flagged() -> None:
    """Passes rely on OpDef.random: two dropout calls must never merge, fold or disappear."""
    from nngraph.ops.registry import REGISTRY

    drawing = ["dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout", "rrelu", "gumbel_softmax"]
    assert [name for name in drawing if not REGISTRY[name].random] == []


def test_two_dropout_calls_stay_two() -> None:
    import nngraph.nn.functional as F

    m = Fn(lambda x: F.dropout(x, 0.5, training=True) + F.dropout(x, 0.5, training=True)).train()
    result = nngraph.optimize(m, np.ones((4, 4), F32), passes=["cse", "constant_fold", "dce"], debug=True)
    assert len(result.graph.ops("dropout")) == 2
