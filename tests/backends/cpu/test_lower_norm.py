"""CPU lowering of normalizations (layer/RMS/group/instance/batch norm, local response norm): compiled results
against the eager module, every op compiled (no host step). Affine parameters are random so that the per-element
and per-channel indexing is checked."""
from __future__ import annotations

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
import nngraph.nn.functional as F
from tests.backends.cpu.test_lower_reduce import check

FLOATS = [np.float32, np.float64]


def _tol(dtype: type) -> dict:
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)


def _rand(shape: tuple, dtype: type, seed: int = 0, scale: float = 1.0, shift: float = 0.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale + shift).astype(dtype)


def _randomize(module: nn.Module, dtype: type, seed: int = 1) -> nn.Module:
    """Random parameters (weights around 1, biases around 0) in ``dtype``."""
    rng = np.random.default_rng(seed)
    module.to(dtype)
    for name, p in module.named_parameters():
        p[...] = (1.0 if name.endswith("weight") else 0.0) + rng.standard_normal(p.shape) * 0.5
    return module


class Norms(nn.Module):
    """Several normalizations of one (N, C, L) input and of its views; returns them all."""

    def __init__(self) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(7)
        self.ln2 = nn.LayerNorm((5, 7), elementwise_affine=False)
        self.ln_nobias = nn.LayerNorm(7, bias=False)
        self.rms = nn.RMSNorm(7)
        self.rms2 = nn.RMSNorm((5, 7), eps=1e-3, elementwise_affine=False)
        self.gn = nn.GroupNorm(1, 5)
        self.gn5 = nn.GroupNorm(5, 5, affine=False)
        self.in1 = nn.InstanceNorm1d(5, affine=True)
        self.in_plain = nn.InstanceNorm1d(5)

    def forward(self, x):  # noqa: ANN001, ANN201
        xt = x.transpose(1, 0, 2)  # strided inputs: copied to a dense buffer first
        return (self.ln(x), self.ln2(x), self.ln_nobias(x), self.rms(x), self.rms2(x), self.gn(x), self.gn5(x),
                self.in1(x), self.in_plain(x), self.ln(xt), self.rms(x[:, ::2]), self.gn(x[..., ::-1]))


@pytest.mark.parametrize("dtype", FLOATS)
def test_layer_rms_group_instance(dtype: type) -> None:
    # An offset mean (shift) checks that the variance is two-pass (x - mean), as in the reference.
    check(_randomize(Norms(), dtype), _rand((3, 5, 7), dtype, 2, scale=2.0, shift=30.0),
          ops=("layer_norm", "rms_norm", "group_norm", "instance_norm"), **_tol(dtype))


class GroupNorms(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gn3 = nn.GroupNorm(3, 6)
        self.gn_plain = nn.GroupNorm(2, 6, affine=False)
        self.in2 = nn.InstanceNorm2d(6, affine=True)
        self.ln = nn.LayerNorm((6, 5, 3))

    def forward(self, x, flat):  # noqa: ANN001, ANN201
        return self.gn3(x), self.gn_plain(x), self.in2(x), self.ln(x), self.gn3(flat), self.gn_plain(flat)


@pytest.mark.parametrize("dtype", FLOATS)
def test_group_norm_4d_and_flat(dtype: type) -> None:
    check(_randomize(GroupNorms(), dtype), _rand((2, 6, 5, 3), dtype, 3), _rand((4, 6), dtype, 4),
          ops=("group_norm", "instance_norm", "layer_norm"), **_tol(dtype))


def test_large_parallel() -> None:
    ln = _randomize(nn.LayerNorm(768), np.float32)
    gn = _randomize(nn.GroupNorm(8, 64), np.float32)
    check(lambda x, y: (ln(x), F.rms_norm(x, (768,), ln.weight, eps=1e-6), gn(y), F.instance_norm(y)),
          _rand((64, 768), np.float32, 5), _rand((2, 64, 16, 16), np.float32, 6), rtol=1e-5, atol=1e-5)


def test_empty_batch() -> None:
    ln = nn.LayerNorm(7)
    check(lambda x, y: (ln(x), F.rms_norm(x, 7), F.group_norm(y, 2)), np.zeros((0, 7), np.float32),
          np.zeros((0, 4, 3), np.float32))


# --------------------------------------------------------------------------------------------- batch norm
class BNs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        self.bn2 = nn.BatchNorm2d(4)
        self.bn2_plain = nn.BatchNorm2d(4, affine=False)
        self.bn1 = nn.BatchNorm1d(4)

    def forward(self, x, flat, seq):  # noqa: ANN001, ANN201
        return self.bn2(self.pool(x)), self.bn2_plain(x), self.bn1(flat), self.bn1(seq)


def _bn_stats(module: nn.Module, dtype: type) -> nn.Module:
    rng = np.random.default_rng(7)
    _randomize(module, dtype)
    for name, b in module.named_buffers():
        if name.endswith("running_mean"):
            b[...] = rng.standard_normal(b.shape)
        elif name.endswith("running_var"):
            b[...] = rng.random(b.shape) + 0.5
    return module


@pytest.mark.parametrize("dtype", FLOATS)
def test_batch_norm_eval(dtype: type) -> None:
    """Eval BatchNorm as an op: BatchNorm folding disabled (by default it becomes a folded channel_affine)."""
    compiled = check(_bn_stats(BNs(), dtype), _rand((2, 4, 6, 5), dtype, 8), _rand((5, 4), dtype, 9),
                     _rand((3, 4, 7), dtype, 10), disable=("fold_batchnorm",), **_tol(dtype))
    graph = compiled.specializations[0].result.graph
    assert len(list(graph.ops("batch_norm"))) == 4


def test_batch_norm_with_computed_statistics() -> None:
    """Statistics computed in the graph are not weights: the batch_norm op stays and is lowered."""
    bn = _randomize(nn.BatchNorm2d(8), np.float32)

    def fn(x):  # noqa: ANN001, ANN202
        return F.batch_norm(x, x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3)), bn.weight, bn.bias, eps=1e-3)

    check(fn, _rand((16, 8, 24, 24), np.float32, 11), ops=("batch_norm",), rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------------------------- local response norm
@pytest.mark.parametrize("dtype", FLOATS)
def test_local_response_norm(dtype: type) -> None:
    lrns = [nn.LocalResponseNorm(1), nn.LocalResponseNorm(2, alpha=0.1, beta=0.5, k=2.0),
            nn.LocalResponseNorm(5, alpha=0.5), nn.LocalResponseNorm(4, alpha=1e-2, beta=1.3, k=0.5)]

    def fn(x, seq):  # noqa: ANN001, ANN202
        return tuple(m(x) for m in lrns) + (lrns[2](seq), lrns[3](x.transpose(0, 1, 3, 2)))

    check(fn, _rand((2, 7, 4, 3), dtype, 12), _rand((2, 7, 9), dtype, 13), ops=("local_response_norm",),
          **_tol(dtype))


def test_local_response_norm_large() -> None:
    check(nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0), np.abs(_rand((4, 32, 27, 27), np.float32, 14)),
          rtol=1e-6, atol=1e-6)


def test_float16_stays_on_host() -> None:
    compiled = nngraph.compile(nn.LayerNorm(4).to(np.float16).eval())
    x = _rand((2, 4), np.float16)
    np.testing.assert_allclose(compiled(x).astype(np.float32), compiled.original(x).astype(np.float32))
    assert compiled.specializations[0].executable.n_host_steps == 1
