"""Compiled on CUDA (the simulator without a GPU) vs the IR interpreter, op by op, tiny shapes."""
from __future__ import annotations

import numpy as np
import pytest

import nngraph.nn.functional as F
from nngraph import nn

from .helpers import Fn, check

rng = np.random.default_rng(7)


def r(*shape: int, dtype: type = np.float32) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


UNARY = {
    "relu": F.relu, "gelu": F.gelu, "sigmoid": F.sigmoid, "tanh": np.tanh, "silu": F.silu, "exp": np.exp,
    "log": lambda x: np.log(np.abs(x) + 1), "sqrt": lambda x: np.sqrt(np.abs(x)), "floor": np.floor,
    "sign": np.sign, "leaky_relu": lambda x: F.leaky_relu(x, 0.1), "hardswish": F.hardswish, "neg_abs": lambda x: -np.abs(x),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(name: str) -> None:
    fn = UNARY[name]
    check(Fn(lambda m, x: fn(x)), r(3, 5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_broadcast_and_fused_chain(dtype: type) -> None:
    def f(m, a, b, c):
        return np.maximum(a * b + 1.5, c) - np.where(a > b, a, c), a < c
    check(Fn(f), r(2, 3, 4, dtype=dtype), r(3, 1, dtype=dtype), r(4, dtype=dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scalar_operands_keep_the_flat_kernel(dtype: type) -> None:
    """Python scalars (constants of one element, broadcast) are read once by the flat kernel: no strided indexing."""
    compiled = check(Fn(lambda m, a, b: np.tanh(a * 0.5 + 1) - 2.0 * b), r(3, 5, dtype=dtype), r(3, 5, dtype=dtype))
    plan = compiled.specializations[0].executable.plan
    assert {s.kernel.__name__ for s in plan.program} == {"flat"}


def test_strided_views_and_concat() -> None:
    def f(m, a, b):
        return np.concatenate([a.transpose(1, 0, 2), b[:, ::2]], axis=1) * 2.0, a.reshape(6, 4)[1:5]
    check(Fn(f), r(2, 3, 4), r(3, 6, 4))


@pytest.mark.parametrize("bias", [True, False])
def test_linear_epilogue(bias: bool) -> None:
    fc = nn.Linear(70, 66, bias=bias)  # M = 18: the tiled kernel, more than one 64x64 tile, K not a multiple of 8
    check(Fn(lambda m, x, y: F.relu(m.fc(x)) + y, fc=fc), r(2, 9, 70), r(66), atol=1e-4)


def test_matmul_batched_broadcast() -> None:
    check(Fn(lambda m, a, b, c: (a @ b, a @ c)), r(2, 3, 5, 9), r(2, 3, 9, 4), r(9, 7), atol=1e-4)


@pytest.mark.parametrize("cfg", [dict(in_ch=3, out=20, k=3, stride=1, padding=1, groups=1),
                                 dict(in_ch=4, out=18, k=3, stride=2, padding=0, groups=2, dilation=2),
                                 dict(in_ch=6, out=6, k=3, stride=1, padding=1, groups=6)])
def test_conv2d_bn_relu_residual(cfg: dict) -> None:
    conv = nn.Conv2d(cfg["in_ch"], cfg["out"], cfg["k"], stride=cfg["stride"], padding=cfg["padding"],
                     groups=cfg["groups"], dilation=cfg.get("dilation", 1))
    bn = nn.BatchNorm2d(cfg["out"])
    bn.running_mean[...] = r(cfg["out"])
    bn.running_var[...] = rng.random(cfg["out"]).astype(np.float32) + 0.5
    x = r(2, cfg["in_ch"], 9, 9)
    y = conv(x)
    check(Fn(lambda m, x, z: F.relu(m.bn(m.conv(x)) + z), conv=conv, bn=bn), x, r(*y.shape), atol=1e-4)


def test_conv1d() -> None:
    check(Fn(lambda m, x: m.c(x), c=nn.Conv1d(3, 17, 3, padding=2, dilation=2)), r(2, 3, 11), atol=1e-4)


def test_pooling() -> None:
    def f(m, x):
        return (F.max_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 2, 2), F.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
                F.adaptive_avg_pool2d(x, (2, 3)), F.adaptive_max_pool2d(x, 3), F.max_pool1d(x[:, :, 0], 2))
    check(Fn(f), r(2, 3, 7, 8))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax(axis: int) -> None:
    check(Fn(lambda m, x: (F.softmax(x, dim=axis), F.log_softmax(x, dim=axis))), r(3, 4, 5))


def test_layer_norm() -> None:
    check(Fn(lambda m, x: m.ln(x), ln=nn.LayerNorm((4, 5))), r(3, 4, 5))
    check(Fn(lambda m, x: m.ln(x), ln=nn.LayerNorm(5, elementwise_affine=False)), r(3, 5))


def test_reductions() -> None:
    def f(m, x):
        return x.sum(axis=(0, 2)), x.mean(axis=1, keepdims=True), x.max(axis=-1), x.transpose(2, 0, 1).min(axis=0)
    check(Fn(f), r(3, 4, 5))


def test_embedding_and_pixel_shuffle() -> None:
    check(Fn(lambda m, i: m.e(i), e=nn.Embedding(10, 6)), rng.integers(0, 10, (3, 4)))
    check(Fn(lambda m, x: F.pixel_shuffle(x, 2)), r(2, 8, 3, 3))
