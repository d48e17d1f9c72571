"""fuse_epilogue: a heavy op (conv, conv_transpose, linear, matmul) and the chain of activations / residual adds
that consume only its result become one ``fused`` node; never in train mode, across hooks, or over a value with
another user."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
from nngraph.ir import MODULE

from ..ir.build import Builder, assert_structurally_equal
from ..trace.util import Fn, assert_same, rand
from .util import assert_same_numerics, run_pass

X = rand(2, 4, 6, 6)
CONV = {"stride": (1, 1), "padding": ((1, 1), (1, 1)), "dilation": (1, 1), "groups": 1}
CONV_STEP = ("conv", tuple(sorted(CONV.items())), (("in", 0), ("in", 1), ("in", 2)))


def _fuse(m: nn.Module, *inputs: Any, **kw: Any) -> tuple[nngraph.Graph, Any]:
    before = nngraph.trace(m, *inputs)
    result = run_pass("fuse_epilogue", before, root=m, **kw)
    assert_same_numerics(before, result.graph, m, *inputs)
    return before, result


def _conv_builder() -> tuple[Builder, str, str, str]:
    b = Builder()
    x = b.input((2, 4, 6, 6))
    return b, x, b.param("conv.weight", (4, 4, 3, 3)), b.param("conv.bias", (4,))


class ConvAct(nn.Module):
    def __init__(self, act: nn.Module, residual: bool = False) -> None:
        super().__init__()
        self.conv, self.act, self.residual = nn.Conv2d(4, 4, 3, padding=1), act, residual

    def forward(self, x: Any) -> Any:
        y = self.conv(x)
        return self.act(y + x if self.residual else y)


def test_conv_relu() -> None:
    _, result = _fuse(ConvAct(nn.ReLU()).eval(), X)
    assert result.changed
    b, x, w, bias = _conv_builder()
    b.output(b.op("fused", x, w, bias, kind="epilogue", steps=(CONV_STEP, ("relu", (), (("tmp", 0),)))))
    assert_structurally_equal(result.graph, b.graph)
    fused = result.graph.ops("fused")[0]
    assert fused.meta.fused_from == ("conv", "relu") and fused.meta.module == "conv"


def test_conv_residual_add_relu() -> None:
    _, result = _fuse(ConvAct(nn.ReLU(), residual=True).eval(), X)
    b, x, w, bias = _conv_builder()
    steps = (CONV_STEP, ("add", (), (("tmp", 0), ("in", 3))), ("relu", (), (("tmp", 1),)))
    b.output(b.op("fused", x, w, bias, x, kind="epilogue", steps=steps))
    assert_structurally_equal(result.graph, b.graph)


def test_heavy_output_on_the_right_and_activation_attrs() -> None:
    m = Fn(lambda x: nn.functional.leaky_relu(2.0 - lin(x), 0.3))
    lin = m.lin = nn.Linear(6, 6)
    _, result = _fuse(m.eval(), X)
    fused = result.graph.ops("fused")
    assert len(fused) == 1 and [s[0] for s in fused[0].attrs["steps"]] == ["linear", "sub", "leaky_relu"]
    assert fused[0].attrs["steps"][1][2] == (("in", 3), ("tmp", 0))
    assert dict(fused[0].attrs["steps"][2][1]) == {"negative_slope": 0.3}


@pytest.mark.parametrize("make", [
    lambda: nn.Sequential(nn.ConvTranspose2d(4, 2, 2, stride=2), nn.GELU()),
    lambda: nn.Sequential(nn.Linear(6, 3), nn.SiLU(), nn.Hardswish()),
    lambda: nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU6()),
])
def test_other_heavy_ops(make: Any) -> None:
    _, result = _fuse(make().eval(), X)
    assert len(result.graph.ops("fused")) == 1 and not result.graph.ops("conv") and not result.graph.ops("linear")


def test_matmul_scale_tanh() -> None:
    w = rand(6, 5)
    _, result = _fuse(Fn(lambda x: np.tanh(x @ w * 0.5)).eval(), X)
    assert [s[0] for s in result.graph.ops("fused")[0].attrs["steps"]] == ["matmul", "mul", "tanh"]


def test_heavy_with_two_users_is_not_fused() -> None:
    class TwoUsers(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x: Any) -> Any:
            y = self.conv(x)
            return np.maximum(y, 0) + y

    before, result = _fuse(TwoUsers().eval(), X)
    assert not result.changed
    assert_structurally_equal(result.graph, before)


def test_chain_stops_at_a_value_with_two_users() -> None:
    m = Fn(lambda x: (lambda r: r * np.tanh(r))(conv(x) + 1))
    conv = m.conv = nn.Conv2d(4, 4, 3, padding=1)
    _, result = _fuse(m.eval(), X)
    fused = result.graph.ops("fused")[0]
    assert [s[0] for s in fused.attrs["steps"]] == ["conv", "add"]
    assert len(result.graph.users(fused.name)) == 2


def test_unchanged_in_train_mode() -> None:
    m = ConvAct(nn.ReLU(), residual=True).train()
    before, result = _fuse(m, X, training=True)
    assert not result.changed
    assert_structurally_equal(result.graph, before)


def test_hooked_activation_is_not_fused() -> None:
    m = ConvAct(nn.ReLU()).eval()
    m.act.register_forward_hook(lambda mod, args, out: out - 1)
    before, result = _fuse(m, X)
    assert not result.changed and [n.target for n in result.graph.by_kind(MODULE)] == ["act"]
    assert_same(nngraph.Interpreter(result.graph, m).run(X), m(X))


def test_hooked_heavy_module_is_not_fused() -> None:
    m = ConvAct(nn.ReLU()).eval()
    m.conv.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
    before, result = _fuse(m, X)
    assert not result.changed
    assert_same(nngraph.Interpreter(result.graph, m).run(X), m(X))


def test_broadcasting_or_non_elementwise_users_end_the_chain() -> None:
    m = Fn(lambda x: (conv(x) + np.ones((3, 4, 6, 6), np.float32)).sum(1))  # the add broadcasts to a larger shape
    conv = m.conv = nn.Conv2d(4, 4, 3, padding=1)
    before, result = _fuse(m.eval(), X[:1])
    assert not result.changed
    m2 = Fn(lambda x: nn.functional.softmax(conv(x), 1))
    m2.conv = conv
    _, result2 = _fuse(m2.eval(), X)
    assert not result2.changed


def test_weight_only_heavy_op_is_not_fused() -> None:
    b = Builder()
    w = b.param("w", (3, 3))
    prod = b.op("matmul", w, w, meta={"weight_only": True})
    b.output(b.op("add", b.op("relu", prod, meta={"weight_only": True}), b.input((3, 3))))
    result = run_pass("fuse_epilogue", b.graph)
    assert not result.changed


class _BatchFirstResidual(nn.Module):
    """A batch-1 ``batch_first`` block: the linear works on (L, 1, E), the residual on (1, L, E)."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(6, 6)

    def forward(self, x: Any) -> Any:
        y = self.lin(x.transpose(1, 0, 2)).transpose(1, 0, 2)
        return np.tanh(y + x)


def test_chain_passes_through_a_reshape() -> None:
    m = _BatchFirstResidual().eval()
    x = rand(1, 5, 6)
    before = nngraph.trace(m, x)
    graph = run_pass("canonicalize_views", before, root=m).graph
    result = run_pass("fuse_epilogue", graph, root=m)
    assert_same_numerics(before, result.graph, m, x)
    fused = result.graph.ops("fused")
    assert len(fused) == 1 and [s[0] for s in fused[0].attrs["steps"]] == ["linear", "add", "tanh"]
    assert fused[0].spec.shape == (5, 1, 6)  # computed in the linear's layout
    # the residual is viewed in that layout, the result viewed back
    assert result.graph[fused[0].args[-1]].target == "reshape"
    assert [result.graph[u].target for u in result.graph.users(fused[0].name)] == ["reshape"]
    out = nngraph.compile(m)
    assert_same(out(x), m(x), rtol=1e-5, atol=1e-6)


def test_chain_stops_at_a_broadcast_operand_past_a_reshape() -> None:
    bias = rand(6)
    m = Fn(lambda x: m.lin(x).reshape(1, 5, 6) + bias)  # bias broadcasts: no view of it in (5, 6)
    m.lin = nn.Linear(6, 6)
    m.eval()
    x = rand(5, 6)
    before = nngraph.trace(m, x)
    result = run_pass("fuse_epilogue", before, root=m)
    assert_same_numerics(before, result.graph, m, x)
    assert not result.graph.ops("fused")
