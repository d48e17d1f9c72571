"""Tiny whole models compiled on CUDA vs the interpreter and eager mode."""
from __future__ import annotations

import numpy as np

import nngraph.nn.functional as F
from nngraph import nn

from .helpers import check

rng = np.random.default_rng(3)


class TinyResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.c1 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(16)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x: np.ndarray) -> np.ndarray:
        h = self.stem(x)
        h = F.relu(self.b1(self.c1(h)) + h)
        return self.fc(self.pool(h).reshape(h.shape[0], -1))


def _randomize_bn(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean[...] = rng.standard_normal(m.running_mean.shape).astype(np.float32) * 0.1
            m.running_var[...] = rng.random(m.running_var.shape).astype(np.float32) + 0.5


def test_mlp() -> None:
    model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 32), nn.GELU(), nn.Linear(32, 4))
    check(model, rng.standard_normal((3, 12)).astype(np.float32), atol=1e-4)


def test_conv_bn_relu_residual() -> None:
    model = TinyResNet()
    _randomize_bn(model)
    check(model, rng.standard_normal((2, 3, 8, 8)).astype(np.float32), atol=1e-4)


def test_transformer_encoder_layer() -> None:
    layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0, batch_first=True)
    check(layer, rng.standard_normal((2, 5, 16)).astype(np.float32), atol=1e-4)


def test_lstm() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(20, 8)
            self.lstm = nn.LSTM(8, 6, batch_first=True)
            self.fc = nn.Linear(6, 3)

        def forward(self, i: np.ndarray) -> np.ndarray:
            out, _ = self.lstm(self.emb(i))
            return self.fc(out[:, -1])

    check(Net(), rng.integers(0, 20, (2, 5)), atol=1e-4)


def test_batch1_encoder_layer_views_and_fusion() -> None:
    """At batch 1 the packed projection's q/k/v slices split into heads as views (no copies), attention is one kernel
    writing the merged-heads layout (no copy before the out-projection), and the out-projection and second linear
    take their residual adds in the GEMM epilogue through the ``batch_first`` transposes."""
    layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0, batch_first=True)
    compiled = check(layer, rng.standard_normal((1, 5, 16)).astype(np.float32), atol=1e-4)
    plan = compiled.specializations[0].executable.plan
    names = [getattr(getattr(s, "kernel", None), "__name__", "") for s in plan.program]
    assert names == ["gemm", "attention_rows", "gemm", "norm_rows", "gemm", "gemm", "norm_rows"], names
    graph = compiled.specializations[0].result.graph
    fused = [[s[0] for s in n.attrs["steps"]] for n in graph.ops("fused") if n.attrs["kind"] == "epilogue"]
    assert fused.count(["linear", "add"]) == 2, fused


def test_matmul_batch_dims_that_do_not_collapse() -> None:
    """Batch dims an operand cannot step through with one stride are copied, not sent to the host: heads split from
    a batch-2 projection ((N, H) strided (3E, D)), and a broadcast over heads after a real batch dim."""
    from .helpers import Fn

    def heads(m: nn.Module, x: np.ndarray, y: np.ndarray) -> tuple:
        proj = m.lin(x)  # (L, N, 3E), E = 4 = 2 heads x 2
        q = proj[..., :4].reshape(3, 2, 2, 2).transpose(1, 2, 0, 3)  # (N, H, L, D)
        k = proj[..., 4:8].reshape(3, 2, 2, 2).transpose(1, 2, 3, 0)  # (N, H, D, L)
        return q @ k, y @ k  # y: (N, 1, L, D) broadcast over the heads

    model = Fn(heads, lin=nn.Linear(4, 12))
    check(model, rng.standard_normal((3, 2, 4)).astype(np.float32),
          rng.standard_normal((2, 1, 3, 2)).astype(np.float32), atol=1e-4)


def test_concat_arguments_computed_in_place() -> None:
    """At batch 1 the concatenations' arguments are computed into their slices (``MemoryPlan.into``): no copy
    kernels for them, results as the interpreter's and eager."""
    from tests.passes.test_plan_memory import _Skip

    compiled = check(_Skip(), rng.standard_normal((1, 3, 6, 6)).astype(np.float32), atol=1e-4)
    plan = compiled.specializations[0].executable.plan
    graph = compiled.specializations[0].result.graph
    assert len(graph.memory_plan.into) == 8
    assert not [s.node for s in plan.program if graph[s.node].target in ("concat", "stack")], plan.program
