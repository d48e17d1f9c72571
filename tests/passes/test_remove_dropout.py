"""remove_dropout: dropout layers recorded in a train-mode trace disappear when compiling for inference; explicit
functional dropout and train mode are left alone."""
from __future__ import annotations

from typing import Any

import numpy as np

import nngraph
import nngraph.nn as nn
import nngraph.nn.functional as F

from ..ir.build import Builder, assert_structurally_equal
from ..trace.util import Fn, rand
from .util import assert_same_numerics, run_pass

X = rand(2, 4)


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5), nn.ReLU(), nn.AlphaDropout(0.2))


def test_dropout_layers_removed_for_inference() -> None:
    m = _model().train()
    before = nngraph.trace(m, X)
    assert [n.target for n in before.ops()] == ["linear", "dropout", "relu", "alpha_dropout"]
    m.eval()
    after = run_pass("remove_dropout", before, root=m)
    assert after.changed
    b = Builder()
    x = b.input((2, 4))
    b.output(b.op("relu", b.op("linear", x, b.param("0.weight", (3, 4)), b.param("0.bias", (3,)))))
    assert_structurally_equal(after.graph, b.graph)
    assert_same_numerics(after.graph, nngraph.trace(m, X), m, X)  # = the eval-mode model


def test_eval_trace_has_no_dropout() -> None:
    m = _model().eval()
    graph = nngraph.trace(m, X)
    assert [n.target for n in graph.ops()] == ["linear", "relu"]
    assert not run_pass("remove_dropout", graph, root=m).changed


def test_unchanged_in_train_mode() -> None:
    m = _model().train()
    before = nngraph.trace(m, X)
    after = run_pass("remove_dropout", before, training=True, root=m)
    assert not after.changed
    assert_structurally_equal(after.graph, before)


def test_explicit_functional_dropout_stays() -> None:
    """F.dropout(x, training=True) in an eval model (Monte-Carlo dropout) is the model's semantics."""
    m = Fn(lambda x: F.dropout(x, 0.5, training=True) * 2).eval()
    before = nngraph.trace(m, X)
    after = run_pass("remove_dropout", before, root=m)
    assert not after.changed and len(after.graph.ops("dropout")) == 1


def test_without_root_nothing_is_removed() -> None:
    b = Builder()
    b.module = "drop"
    b.output(b.op("dropout", b.input((3,)), p=0.5))
    assert not run_pass("remove_dropout", b.graph).changed


def test_subclassed_dropout_layer_counts() -> None:
    class MyDrop(nn.Dropout):
        def forward(self, x: Any) -> Any:
            return super().forward(x)

    m = nn.Sequential(nn.Linear(4, 4), MyDrop(0.1)).train()
    graph = nngraph.trace(m, X)
    assert not run_pass("remove_dropout", graph, root=m).graph.ops("dropout")
    np.testing.assert_array_equal(nngraph.Interpreter(run_pass("remove_dropout", graph, root=m).graph, m).run(X),
                                  m.eval()(X))
