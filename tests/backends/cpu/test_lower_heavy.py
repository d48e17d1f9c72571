"""Compiled linear/conv nodes (with fused epilogues) against eager execution."""
from __future__ import annotations

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
import nngraph.nn.functional as F


def compiled_matches(model, *inputs, tol=None, host_ok=False):
    model.eval()
    c = nngraph.compile(model)
    got = c(*inputs)
    ref = model(*inputs)
    dtype = np.asarray(ref).dtype
    tol = tol or (2e-5 if dtype == np.float32 else 1e-10)
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)
    if not host_ok:
        assert c.specializations[0].executable.n_host_steps == 0
    return c


class ConvBlock(nn.Module):
    def __init__(self, cin, cout, k, stride=1, padding=0, dilation=1, groups=1, bias=True, act="relu",
                 residual=False, dim=2):
        super().__init__()
        conv = nn.Conv2d if dim == 2 else nn.Conv1d
        bn = nn.BatchNorm2d if dim == 2 else nn.BatchNorm1d
        self.conv = conv(cin, cout, k, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias)
        self.bn = bn(cout)
        self.act = {"relu": nn.ReLU(), "relu6": nn.ReLU6(), "silu": nn.SiLU(), "gelu": nn.GELU(),
                    "leaky": nn.LeakyReLU(0.2), "hardswish": nn.Hardswish(), "none": nn.Identity(),
                    "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid()}[act]
        self.residual = residual

    def forward(self, x, r=None):
        y = self.bn(self.conv(x))
        if self.residual:
            y = y + r
        return self.act(y)


def _randomize_bn(m, rng):
    for mod in m.modules():
        if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            mod.running_mean[:] = rng.standard_normal(mod.num_features)
            mod.running_var[:] = rng.random(mod.num_features) + 0.5
            mod.weight.data[:] = rng.standard_normal(mod.num_features)


CONV_CASES = [
    dict(cin=3, cout=8, k=3, padding=1),
    dict(cin=8, cout=16, k=3, stride=2, padding=1, act="relu6"),
    dict(cin=8, cout=8, k=3, padding=1, groups=8, act="silu"),          # depthwise
    dict(cin=4, cout=8, k=3, padding=1, groups=4, act="hardswish"),     # depthwise, channel multiplier 2
    dict(cin=8, cout=16, k=1, act="none", bias=False),                  # 1x1 direct GEMM
    dict(cin=8, cout=16, k=1, stride=2, act="gelu"),                    # 1x1 strided
    dict(cin=8, cout=12, k=3, stride=2, padding=1, groups=2, act="leaky"),
    dict(cin=6, cout=6, k=5, padding=4, dilation=2, act="tanh"),
    dict(cin=5, cout=7, k=(3, 2), stride=(2, 1), padding=(1, 0), act="sigmoid"),
    dict(cin=8, cout=8, k=3, padding=1, residual=True),                 # ResNet: relu(bn(conv(x)) + r)
    dict(cin=4, cout=6, k=3, padding=1, dim=1),                         # conv1d
    dict(cin=4, cout=4, k=3, padding=1, groups=4, dim=1, residual=True),
]


CONV_PARAMS = [(c, np.float32) for c in CONV_CASES] + [(CONV_CASES[i], np.float64) for i in (0, 2, 9)]


@pytest.mark.parametrize("case,dtype", CONV_PARAMS,
                         ids=lambda v: "-".join(f"{k}{x}" for k, x in v.items()) if isinstance(v, dict) else
                         np.dtype(v).name)
def test_conv_epilogues(case, dtype):
    rng = np.random.default_rng(0)
    nngraph.manual_seed(0)
    m = ConvBlock(**case)
    _randomize_bn(m, rng)
    m.to(dtype)
    spatial = (13, 11) if case.get("dim", 2) == 2 else (17,)
    x = rng.standard_normal((2, case["cin"]) + spatial).astype(dtype)
    if case.get("residual"):
        y = m.eval().bn(m.conv(x))
        r = rng.standard_normal(y.shape).astype(dtype)
        compiled_matches(m, x, r)
    else:
        compiled_matches(m, x)


def test_grouped_and_strided_1x1_convs_on_small_planes():
    """Grouped 1x1 convs on small planes (the cost model had picked the ungrouped channels-in-lanes kernel for them:
    NaN) and strided 1x1 convs (the 1x1 GEMM on a subsampled copy, or gathered in place on 7x7 outputs)."""
    rng = np.random.default_rng(11)
    for cin, cout, groups, stride, hw in [(64, 64, 4, 1, 7), (64, 128, 2, 1, 14), (32, 64, 1, 2, 28),
                                         (32, 64, 1, 2, 14), (48, 96, 2, 2, 14), (64, 64, 1, (2, 1), 9),
                                         (16, 32, 1, 3, 11)]:
        m = ConvBlock(cin, cout, 1, stride=stride, groups=groups, act="relu")
        _randomize_bn(m, rng)
        x = rng.standard_normal((2, cin, hw, hw)).astype(np.float32)
        compiled_matches(m, x, tol=1e-4)


def test_conv_on_strided_input_and_batch_zero():
    rng = np.random.default_rng(1)
    m = ConvBlock(4, 6, 3, padding=1)
    _randomize_bn(m, rng)

    class Transposed(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = m

        def forward(self, x):
            return self.block(x.transpose(0, 1, 3, 2))

    compiled_matches(Transposed(), rng.standard_normal((2, 4, 7, 9)).astype(np.float32))
    m.eval()
    c = nngraph.compile(m)
    assert c(np.zeros((0, 4, 5, 5), np.float32)).shape == (0, 6, 5, 5)


class MLP(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(20, 32), nn.Linear(32, 32, bias=False), nn.Linear(32, 5)
        self.act = act

    def forward(self, x):
        h = self.act(self.fc1(x))
        h = self.act(self.fc2(h)) + h       # residual add fused into the GEMM epilogue
        return self.fc3(h)


@pytest.mark.parametrize("act,batch,dtype", [
    (nn.ReLU(), 1, np.float32), (nn.ReLU(), 64, np.float32), (nn.ReLU(), 3, np.float64),
    (nn.GELU(approximate="tanh"), 3, np.float32), (nn.Hardtanh(-0.5, 0.5), 1, np.float32),
    (nn.ELU(), 64, np.float64)], ids=["relu-1", "relu-64", "relu-3-f64", "gelu_tanh-3", "hardtanh-1", "elu-64-f64"])
def test_linear_epilogues(act, batch, dtype):
    nngraph.manual_seed(0)
    m = MLP(act).to(dtype)
    x = np.random.default_rng(2).standard_normal((batch, 20)).astype(dtype)
    compiled_matches(m, x)


def test_linear_with_leading_dims_and_activation_weights():
    class Attnish(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(8, 8)

        def forward(self, x, y):
            return F.linear(self.proj(x), y)  # weight is an activation: not pre-packed

    rng = np.random.default_rng(3)
    compiled_matches(Attnish(), rng.standard_normal((2, 5, 8)).astype(np.float32),
                     rng.standard_normal((6, 8)).astype(np.float32))


def test_weight_update_repacks():
    nngraph.manual_seed(0)
    m = MLP(nn.ReLU()).eval()
    x = np.random.default_rng(4).standard_normal((4, 20)).astype(np.float32)
    c = nngraph.compile(m)
    c(x)
    m.fc1.weight = nn.Parameter(np.ones((32, 20), np.float32))
    np.testing.assert_allclose(c(x), m(x), rtol=2e-5, atol=2e-5)
