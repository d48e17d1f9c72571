"""Distance-area checks outside the op table: 0-d inputs, registry entries, overflow, ``normalize(out=)``."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nngraph.nn as nn
import nngraph.nn.functional as F
from nngraph.ops.distance import vector_norm
from nngraph.ops.registry import REGISTRY, Fusion, TensorSpec

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _t(a):
    return torch.from_numpy(np.array(a))


def test_ops_registered_with_shape_rules():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 1, 4)), rng.standard_normal((2, 4)).astype(np.float32)
    for name, attrs in [("pairwise_distance", dict(p=2.0, eps=1e-6, keepdim=True)),
                        ("pairwise_distance", dict(p=1.0, eps=0.0, keepdim=False)),
                        ("cosine_similarity", dict(dim=1, eps=1e-8))]:
        op = REGISTRY[name]
        assert op.fusion is Fusion.REDUCTION
        assert op.infer(TensorSpec.of(a), TensorSpec.of(b), **attrs) == TensorSpec.of(op(a, b, **attrs))
    x = rng.standard_normal((5, 3))
    assert REGISTRY["pdist"].infer(TensorSpec.of(x), p=2.0) == TensorSpec.of(REGISTRY["pdist"](x, p=2.0))
    assert REGISTRY["normalize"].infer(TensorSpec.of(x), p=2.0, dim=1, eps=1e-12) == TensorSpec.of(x)


@pytest.mark.parametrize("keepdim", [False, True])
def test_0d_inputs_like_torch(keepdim):
    a, b = np.array(1.5, np.float32), np.array(-2.0, np.float32)
    cases = [
        (F.pairwise_distance(a, b, keepdim=keepdim), TF.pairwise_distance(_t(a), _t(b), keepdim=keepdim)),
        (nn.PairwiseDistance(p=1)(a, b), torch.nn.PairwiseDistance(p=1)(_t(a), _t(b))),
        (F.pairwise_distance(a, np.ones(3, np.float32)), TF.pairwise_distance(_t(a), _t(np.ones(3, np.float32)))),
        (F.cosine_similarity(a, b, dim=0), TF.cosine_similarity(_t(a), _t(b), dim=0)),
        (F.cosine_similarity(a, b, dim=-1), TF.cosine_similarity(_t(a), _t(b), dim=-1)),
        (F.normalize(a, dim=0), TF.normalize(_t(a), dim=0)),
    ]
    for ours, ref in cases:
        ref = ref.numpy()
        assert ours.shape == ref.shape and ours.dtype == ref.dtype
        np.testing.assert_allclose(ours, ref, rtol=1e-6)


def test_mixed_precision_promotes_like_torch():
    a, b = np.ones((2, 3), np.float32), np.full((2, 3), 2.0)
    assert F.cosine_similarity(a, b).dtype == np.float64
    assert F.pairwise_distance(a, b).dtype == np.float64


def test_norms_do_not_overflow_or_underflow():
    """torch sums raw powers (1e20 in float32 gives inf); the scaled sums stay finite and exact."""
    big = np.array([[1e20, 1e20]], np.float32)
    np.testing.assert_allclose(F.pairwise_distance(big, np.zeros_like(big)), [math.sqrt(2) * 1e20], rtol=1e-6)
    np.testing.assert_allclose(F.cosine_similarity(big, np.ones_like(big)), [1.0], rtol=1e-6)
    np.testing.assert_allclose(F.normalize(big), [[2 ** -0.5] * 2], rtol=1e-6)
    tiny = np.array([[3e-30, 4e-30]], np.float32)
    np.testing.assert_allclose(F.normalize(tiny, eps=0.0), [[0.6, 0.8]], rtol=1e-6)
    np.testing.assert_allclose(F.pdist(np.concatenate([tiny, np.zeros_like(tiny)])), [5e-30], rtol=1e-6)


def test_vector_norm_special_values():
    x = np.array([[0.0, 3.0, -4.0], [0.0, 0.0, 0.0], [np.inf, 1.0, 0.0], [np.nan, 1.0, 2.0]])
    for p in [0.0, 0.5, 1.0, 2.0, 3.0, -1.0, math.inf, -math.inf]:
        ref = torch.linalg.vector_norm(torch.from_numpy(x), p, dim=1).numpy()
        np.testing.assert_allclose(vector_norm(x, p, axis=1), ref, rtol=1e-12, err_msg=f"p={p}")


def test_normalize_out_argument():
    x = np.random.default_rng(0).standard_normal((3, 4))
    out = np.empty_like(x)
    res = F.normalize(x, dim=0, out=out)
    assert res is out
    np.testing.assert_allclose(out, TF.normalize(_t(x), dim=0).numpy(), rtol=1e-12)


def test_pdist_float16():
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float16)
    out = F.pdist(x)
    assert out.dtype == np.float16 and out.shape == (6,)
    np.testing.assert_allclose(out, TF.pdist(_t(x).float()).numpy(), rtol=2e-3)


@pytest.mark.parametrize("module,op", [(nn.PairwiseDistance(p=3.0, keepdim=True), "pairwise_distance"),
                                       (nn.CosineSimilarity(dim=0), "cosine_similarity")])
def test_traces_into_primitives(module, op):
    from nngraph.ir.interpreter import Interpreter
    from nngraph.trace import trace

    rng = np.random.default_rng(0)
    args = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(2)]
    graph = trace(module, *args, fullgraph=True)
    assert [n.target for n in graph.nodes() if n.kind == "op"] == [op]
    np.testing.assert_array_equal(Interpreter(graph, module).run(*args), module(*args))
