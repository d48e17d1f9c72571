"""Proxies compute their concrete values lazily: tracing a model costs no numpy forward unless something needs a
value (a graph break's eager call), and a value computed later still sees the operands as they were bound when
the op was recorded."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
from nngraph.ir import Interpreter
from nngraph.ops.registry import REGISTRY
from nngraph.trace.proxy import Lazy, ShapeRuleError

from .util import Fn, assert_same, rand


@pytest.fixture
def conv_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    op = REGISTRY["conv"]
    impl = op.impl

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return impl(*args, **kwargs)

    monkeypatch.setattr(op, "impl", counting)
    return calls


def test_tracing_runs_no_heavy_op(conv_calls: list[int]) -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 1)).eval()
    x = rand(2, 3, 9, 9)
    graph = nngraph.trace(model, x)
    assert conv_calls == []
    assert_same(Interpreter(graph, model).run(x), model(x), rtol=1e-5, atol=1e-5)


class _Breaks(nn.Module):
    def forward(self, x: Any) -> Any:
        return x * float(np.asarray(x).mean())  # needs the value: graph break


def test_graph_break_forces_the_values_it_needs(conv_calls: list[int]) -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), _Breaks(), nn.Conv2d(4, 2, 1)).eval()
    x = rand(1, 3, 7, 7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = nngraph.trace(model, x)
    assert len(conv_calls) == 1  # the first conv, for the eager call; not the last one
    assert_same(Interpreter(graph, model).run(x), model(x), rtol=1e-5, atol=1e-5)


def test_late_value_uses_operands_as_recorded() -> None:
    def f(x: Any) -> Any:
        y = x * 2.0
        x += 1.0  # rebinds x after y was recorded
        z = y + x
        return z * float(np.asarray(y).sum() > -1e9)  # graph break: forces y (must be 2 * the original x)

    x = rand(3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = nngraph.trace(Fn(f), x.copy())
    assert_same(Interpreter(graph, Fn(f)).run(x.copy()), f(x.copy()))


def test_forcing_a_long_chain_is_iterative() -> None:
    lazy = Lazy.ready(np.zeros(1))
    for _ in range(20000):  # far deeper than Python's recursion limit
        prev = lazy
        lazy = Lazy(lambda p=prev: p.value + 1, (prev,))
    assert lazy.get()[0] == 20000


def test_shape_rule_disagreeing_with_implementation_is_loud(monkeypatch: pytest.MonkeyPatch) -> None:
    op = REGISTRY["relu"]
    monkeypatch.setattr(op, "impl", lambda x: np.maximum(x, 0)[..., :1])  # a buggy implementation
    model = nn.Sequential(nn.ReLU(), _Breaks())  # the break needs ReLU's value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ShapeRuleError, match="shape rule"):
            nngraph.trace(model, rand(2, 3))
