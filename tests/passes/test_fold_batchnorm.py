"""fold_batchnorm: eval-mode BatchNorm folds into the weight and bias of a preceding conv / conv_transpose /
linear whose only user it is; otherwise it becomes a channel_affine; never in train mode or across hooks."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
from nngraph.ir import MODULE

from ..ir.build import Builder, assert_structurally_equal
from ..trace.util import assert_same, rand
from .util import assert_same_numerics, random_bn, run_pass

X = rand(2, 4, 6, 6)


def _bn_params(b: Builder, prefix: str, c: int, affine: bool = True) -> tuple:
    mean, var = b.param(f"{prefix}.running_mean", (c,)), b.param(f"{prefix}.running_var", (c,))
    if not affine:
        return mean, var, None, None
    return mean, var, b.param(f"{prefix}.weight", (c,)), b.param(f"{prefix}.bias", (c,))


def _fold(m: nn.Module, *inputs: Any) -> tuple[nngraph.Graph, nngraph.Graph, bool]:
    random_bn(m)
    m.eval()
    before = nngraph.trace(m, *inputs, fullgraph=True)
    result = run_pass("fold_batchnorm", before, root=m)
    assert_same_numerics(before, result.graph, m, *inputs)
    assert_same(nngraph.Interpreter(result.graph, m).run(*inputs), m(*inputs), rtol=1e-5, atol=1e-5)
    return before, result.graph, result.changed


@pytest.mark.parametrize("bias", [False, True])
def test_conv_bn(bias: bool) -> None:
    _, after, changed = _fold(nn.Sequential(nn.Conv2d(4, 8, 3, bias=bias), nn.BatchNorm2d(8)), X)
    assert changed
    b = Builder()
    x = b.input((2, 4, 6, 6))
    w = b.param("0.weight", (8, 4, 3, 3))
    conv_b = b.param("0.bias", (8,)) if bias else None
    mean, var, gamma, beta = _bn_params(b, "1", 8)
    new_w = b.op("bn_fold_weight", w, var, gamma, eps=1e-5, layout="out_first", groups=1)
    new_b = b.op("bn_fold_bias", conv_b, mean, var, gamma, beta, eps=1e-5, dtype="<f4")
    b.output(b.op("conv", x, new_w, new_b, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1))
    assert_structurally_equal(after, b.graph)
    conv = after.ops("conv")[0]
    assert conv.meta.fused_from == ("conv", "batch_norm")
    assert all(after[a].meta.weight_only for a in conv.args[1:])


def test_depthwise_conv_bn_no_affine() -> None:
    _, after, _ = _fold(nn.Sequential(nn.Conv2d(4, 4, 3, groups=4, padding=1), nn.BatchNorm2d(4, affine=False)), X)
    assert not after.ops("batch_norm") and len(after.ops("bn_fold_weight")) == 1
    fold = after.ops("bn_fold_weight")[0]
    assert fold.args[2] is None and fold.attrs["groups"] == 4


@pytest.mark.parametrize("groups", [1, 2])
def test_conv_transpose_bn(groups: int) -> None:
    _, after, _ = _fold(nn.Sequential(nn.ConvTranspose2d(4, 6, 2, stride=2, groups=groups), nn.BatchNorm2d(6)), X)
    fold = after.ops("bn_fold_weight")[0]
    assert fold.attrs == {"eps": 1e-5, "layout": "transpose", "groups": groups}
    assert not after.ops("batch_norm") and not after.ops("channel_affine")


def test_linear_bn1d() -> None:
    _, after, _ = _fold(nn.Sequential(nn.Linear(5, 3), nn.BatchNorm1d(3)), rand(4, 5))
    assert [n.target for n in after.ops()] == ["bn_fold_weight", "bn_fold_bias", "linear"]


def test_linear_on_3d_input_is_not_folded() -> None:
    """BatchNorm1d on (N, L, C) normalizes axis 1 (L), not the linear's output features: channel_affine."""
    _, after, _ = _fold(nn.Sequential(nn.Linear(5, 3), nn.BatchNorm1d(4)), rand(2, 4, 5))
    assert [n.target for n in after.ops()] == ["linear", "bn_scale", "bn_fold_bias", "channel_affine"]


def test_standalone_bn_becomes_channel_affine() -> None:
    before, after, _ = _fold(nn.Sequential(nn.MaxPool2d(2), nn.BatchNorm2d(4)), X)
    b = Builder()
    x = b.input((2, 4, 6, 6))
    pooled = b.op("max_pool", x, **before.ops("max_pool")[0].attrs)
    mean, var, gamma, beta = _bn_params(b, "1", 4)
    scale = b.op("bn_scale", var, gamma, eps=1e-5, dtype="<f4")
    shift = b.op("bn_fold_bias", None, mean, var, gamma, beta, eps=1e-5, dtype="<f4")
    b.output(b.op("channel_affine", pooled, scale, shift))
    assert_structurally_equal(after, b.graph)
    assert after.ops("channel_affine")[0].meta.fused_from == ("batch_norm",)


def test_conv_with_two_users_is_not_modified() -> None:
    class TwoUsers(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.bn = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)

        def forward(self, x: Any) -> Any:
            y = self.conv(x)
            return self.bn(y) + y

    before, after, _ = _fold(TwoUsers(), X)
    conv_before, conv_after = before.ops("conv")[0], after.ops("conv")[0]
    assert conv_after.args == conv_before.args and not conv_after.meta.fused_from  # weights untouched
    assert len(after.ops("channel_affine")) == 1 and not after.ops("bn_fold_weight")


def test_unchanged_in_train_mode() -> None:
    m = nn.Sequential(nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4))
    random_bn(m)
    graph = nngraph.trace(m.eval(), X)
    result = run_pass("fold_batchnorm", graph, training=True, root=m)
    assert not result.changed
    assert_structurally_equal(result.graph, graph)


def test_train_mode_batch_statistics_are_not_folded() -> None:
    """A BatchNorm traced in train mode normalizes with batch statistics (not weights): nothing to fold, even when
    compiling for inference."""
    m = nn.Sequential(nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4, track_running_stats=False)).train()
    graph = nngraph.trace(m, X, fullgraph=True)
    assert graph.ops("batch_norm_stats")
    result = run_pass("fold_batchnorm", graph, root=m)
    assert not result.changed
    assert_structurally_equal(result.graph, graph)


def test_hooked_batchnorm_is_left_alone() -> None:
    m = nn.Sequential(nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    random_bn(m)
    m.eval()
    m[1].register_forward_hook(lambda mod, args, out: out + 1)
    graph = nngraph.trace(m, X)
    assert [n.target for n in graph.by_kind(MODULE)] == ["1"]
    result = run_pass("fold_batchnorm", graph, root=m)
    assert not result.changed
    assert_structurally_equal(result.graph, graph)
    assert_same(nngraph.Interpreter(result.graph, m).run(X), m(X))


def test_bn_after_hooked_conv_does_not_cross_it() -> None:
    m = nn.Sequential(nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4))
    random_bn(m)
    m.eval()
    m[0].register_forward_hook(lambda mod, args, out: out * 2)
    before = nngraph.trace(m, X)
    after = run_pass("fold_batchnorm", before, root=m).graph
    assert [n.target for n in after.by_kind(MODULE)] == ["0"] and after.ops("channel_affine")
    assert not after.ops("bn_fold_weight")
    assert_same(nngraph.Interpreter(after, m).run(X), m(X), rtol=1e-5, atol=1e-5)


def test_folded_weights_follow_weight_updates() -> None:
    """The folding arithmetic is ops over parameters: new running statistics need no re-compilation."""
    m = nn.Sequential(nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4))
    _, after, _ = _fold(m, X)
    m[1].running_var[...] = 3.0
    m[0].weight[...] *= -1
    assert_same(nngraph.Interpreter(after, m).run(X), m(X), rtol=1e-5, atol=1e-5)


def test_float64_model() -> None:
    m = nn.Sequential(nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4)).to(np.float64)
    random_bn(m)
    m.eval()
    x = X.astype(np.float64)
    after = run_pass("fold_batchnorm", nngraph.trace(m, x), root=m).graph
    assert after.ops("bn_fold_bias")[0].attrs["dtype"] == "<f8"
    np.testing.assert_allclose(nngraph.Interpreter(after, m).run(x), m(x), rtol=1e-12, atol=1e-12)
