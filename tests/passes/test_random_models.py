"""Property: random module trees of supported layers (Sequential and custom containers of Linear, Conv2d,
BatchNorm, activations, residual adds, concatenation, pooling, Dropout) at batch 1 and 2 trace, optimize with
debug=True, lint, plan memory validly (``check_plan``), and match eager."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nngraph
import nngraph.nn as nn
from nngraph.ir import Interpreter
from nngraph.trace import GraphBreakWarning

from ..trace.util import assert_same
from .test_plan_memory import check_plan
from .util import random_bn

ACTIVATIONS = [nn.ReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.ReLU6, nn.Hardswish, nn.ELU,
               lambda: nn.LeakyReLU(0.2)]


class Residual(nn.Module):
    """x + body(x) (a custom container)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: Any) -> Any:
        return x + self.body(x)


class Parallel(nn.Module):
    """concat(a(x), b(x)) along the feature axis, a numpy-style custom container."""

    def __init__(self, a: nn.Module, b: nn.Module) -> None:
        super().__init__()
        self.a, self.b = a, b

    def forward(self, x: Any) -> Any:
        return np.concatenate([self.a(x), self.b(x)], axis=1)


@st.composite
def image_block(draw: Any, c: int, hw: int, depth: int = 0) -> tuple[nn.Module, int, int]:
    """A module mapping (N, c, hw, hw) to (N, c', hw', hw'); returns it with c' and hw'."""
    kinds = ["conv", "conv_bn_act", "act", "bn", "dropout"] + (["pool"] if hw >= 4 else [])
    if depth < 2:
        kinds += ["residual", "seq", "parallel"]
    kind = draw(st.sampled_from(kinds))
    if kind == "conv":
        k = draw(st.sampled_from([1, 3]))
        cout = draw(st.sampled_from([c, 4, 6]))
        groups = c if cout == c and draw(st.booleans()) else 1
        return nn.Conv2d(c, cout, k, padding=k // 2, groups=groups, bias=draw(st.booleans())), cout, hw
    if kind == "conv_bn_act":
        cout = draw(st.sampled_from([4, 8]))
        act = draw(st.sampled_from(ACTIVATIONS))
        return nn.Sequential(nn.Conv2d(c, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), act()), cout, hw
    if kind == "act":
        return draw(st.sampled_from(ACTIVATIONS))(), c, hw
    if kind == "bn":
        return nn.BatchNorm2d(c, affine=draw(st.booleans())), c, hw
    if kind == "dropout":
        return draw(st.sampled_from([nn.Dropout(0.3), nn.Dropout2d(0.2)])), c, hw
    if kind == "pool":
        return draw(st.sampled_from([nn.MaxPool2d(2), nn.AvgPool2d(2)])), c, hw // 2
    if kind == "residual":
        body, cout, hw2 = draw(image_block(c, hw, depth + 1))
        if cout != c or hw2 != hw:
            body = nn.Sequential(body, nn.Conv2d(cout, c, 1), nn.Upsample(scale_factor=hw // hw2)) if hw2 != hw \
                else nn.Sequential(body, nn.Conv2d(cout, c, 1))
        return Residual(body), c, hw
    if kind == "parallel":
        return draw(parallel_block(c, hw, depth))
    layers = []
    for _ in range(draw(st.integers(1, 3))):
        layer, c, hw = draw(image_block(c, hw, depth + 1))
        layers.append(layer)
    return nn.Sequential(*layers), c, hw


@st.composite
def parallel_block(draw: Any, c: int, hw: int, depth: int = 0) -> tuple[nn.Module, int, int]:
    """``Parallel(a, b)``: a random block and a 1x1 conv branch (pooled to the random block's size)."""
    a, ca, ha = draw(image_block(c, hw, depth + 1))
    b = nn.Sequential(nn.Conv2d(c, 4, 1), nn.BatchNorm2d(4), nn.ReLU())
    if ha != hw:
        b = nn.Sequential(b, nn.MaxPool2d(hw // ha))
    return Parallel(a, b), ca + 4, ha


@st.composite
def mlp_block(draw: Any, f: int, depth: int = 0) -> tuple[nn.Module, int]:
    kinds = ["linear", "linear_bn_act", "act", "bn", "dropout"] + (["residual", "seq"] if depth < 2 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "linear":
        fout = draw(st.sampled_from([f, 5, 8]))
        return nn.Linear(f, fout, bias=draw(st.booleans())), fout
    if kind == "linear_bn_act":
        fout = draw(st.sampled_from([6, 8]))
        return nn.Sequential(nn.Linear(f, fout), nn.BatchNorm1d(fout), draw(st.sampled_from(ACTIVATIONS))()), fout
    if kind == "act":
        return draw(st.sampled_from(ACTIVATIONS))(), f
    if kind == "bn":
        return nn.BatchNorm1d(f), f
    if kind == "dropout":
        return draw(st.sampled_from([nn.Dropout(0.5), nn.AlphaDropout(0.2)])), f
    if kind == "residual":
        body, fout = draw(mlp_block(f, depth + 1))
        return Residual(body if fout == f else nn.Sequential(body, nn.Linear(fout, f))), f
    layers = []
    for _ in range(draw(st.integers(1, 3))):
        layer, f = draw(mlp_block(f, depth + 1))
        layers.append(layer)
    return nn.Sequential(*layers), f


@st.composite
def models(draw: Any) -> tuple[nn.Module, np.ndarray]:
    seed = draw(st.integers(0, 2**16))
    nngraph.manual_seed(seed)
    rng = np.random.default_rng(seed)
    if draw(st.booleans()):
        body, c, hw = draw(image_block(3, 8))
        model = nn.Sequential(body, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 3))
        x = rng.standard_normal((draw(st.sampled_from([1, 2])), 3, 8, 8))  # batch 1: concatenation in place
    else:
        body, f = draw(mlp_block(6))
        model = nn.Sequential(body, nn.Linear(f, 2))
        x = rng.standard_normal((4, 6))
    random_bn(model, seed=seed)
    return model.train(draw(st.booleans()) and draw(st.booleans())), x.astype(np.float32)


@st.composite
def concat_models(draw: Any) -> tuple[nn.Module, np.ndarray]:
    """Image models around one or two concatenations at batch 1 (their arguments computed in place), eval mode."""
    seed = draw(st.integers(0, 2**16))
    body, c, hw = draw(parallel_block(3, 8))
    layers = [body]
    if draw(st.booleans()):
        tail, c, hw = draw(parallel_block(c, hw))
        layers.append(tail)
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 3))
    random_bn(model, seed=seed)
    return model.eval(), np.random.default_rng(seed).standard_normal((1, 3, 8, 8)).astype(np.float32)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.one_of(models(), concat_models()))
def test_random_model_traces_optimizes_and_matches_eager(case: tuple[nn.Module, np.ndarray]) -> None:
    model, x = case
    state = {k: v.copy() for k, v in model.state_dict().items()}
    nngraph.manual_seed(1)
    want = model(x)
    for k, v in model.state_dict().items():  # undo the eager call's running-statistics update
        v[...] = state[k]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GraphBreakWarning)  # train-mode BatchNorm runs eagerly
        result = nngraph.optimize(model, x, debug=True)
    result.traced.lint()
    result.graph.lint()
    check_plan(result.graph)
    if not model.training:
        assert not result.traced.breaks
        ops = {n.target for n in result.graph.ops()}
        assert not ops & {"dropout", "feature_dropout", "alpha_dropout", "batch_norm"}
    nngraph.manual_seed(1)
    got = Interpreter(result.graph, model).run(x)
    assert_same(got, want, rtol=1e-4, atol=1e-4)
