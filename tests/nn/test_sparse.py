"""Sparse-area checks outside the op table: in-place max_norm, init, from_pretrained, cases where torch misbehaves."""
from __future__ import annotations

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
import nngraph.nn.functional as F
from nngraph.errors import InputError
from nngraph.ops.registry import REGISTRY, Fusion, TensorSpec

torch = pytest.importorskip("torch")


def _naive_bag(weight, indices, offsets, mode, include_last_offset=False, padding_idx=None, psw=None):
    """Loop reference: one bag at a time."""
    ends = list(offsets[1:]) + ([] if include_last_offset else [len(indices)])
    starts = offsets[:-1] if include_last_offset else offsets
    out = np.zeros((len(starts), weight.shape[1]), weight.dtype)
    for b, (s, e) in enumerate(zip(starts, ends)):
        rows = [weight[i] * (1 if psw is None else psw[p]) for p, i in enumerate(indices[s:e], s) if i != padding_idx]
        if rows:
            out[b] = {"sum": np.sum, "mean": np.mean, "max": np.max}[mode](rows, axis=0)
    return out


def test_ops_registered_with_shape_rules():
    rng = np.random.default_rng(0)
    w, i = rng.standard_normal((6, 3)), rng.integers(0, 6, (2, 4))
    assert REGISTRY["embedding"].fusion is Fusion.INJECTIVE
    assert REGISTRY["embedding"].infer(TensorSpec.of(w), TensorSpec.of(i)) == TensorSpec.of(REGISTRY["embedding"](w, i))
    op = REGISTRY["embedding_bag"]
    flat, offs = i.reshape(-1), np.array([0, 3, 3])
    for last in (False, True):
        attrs = dict(mode="sum", include_last_offset=last, padding_idx=None)
        got = op(w, flat, offs, None, **attrs)
        assert op.infer(TensorSpec.of(w), TensorSpec.of(flat), TensorSpec.of(offs), None, **attrs) == TensorSpec.of(got)
    oh = REGISTRY["one_hot"]
    assert oh.infer(TensorSpec.of(i), num_classes=7) == TensorSpec.of(oh(i, num_classes=7))
    assert REGISTRY["embedding_renorm"].infer(TensorSpec.of(w), TensorSpec.of(i), max_norm=1.0,
                                              norm_type=2.0) == TensorSpec.of(w)


def test_max_norm_renormalizes_weight_in_place_like_torch():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 4)).astype(np.float32) * 3
    idx = np.array([[1, 1, 5], [7, 5, 0]])
    ours = nn.Embedding.from_pretrained(w.copy(), max_norm=1.0)
    ref = torch.nn.Embedding.from_pretrained(torch.from_numpy(w.copy()), max_norm=1.0)
    weight_before = ours.weight
    out = ours(idx)
    ref_out = ref(torch.from_numpy(idx)).detach().numpy()
    assert ours.weight is weight_before
    np.testing.assert_allclose(ours.weight, ref.weight.detach().numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(out, ref_out, rtol=1e-6, atol=1e-7)
    untouched = [2, 3, 4, 6]
    assert np.array_equal(ours.weight[untouched], w[untouched])
    norms = np.linalg.norm(ours.weight[[0, 1, 5, 7]], axis=1)
    assert np.all(norms <= 1.0 + 1e-6)


def test_functional_max_norm_writes_into_the_given_weight():
    w = np.full((3, 2), 4.0)
    F.embedding(np.array([2]), w, max_norm=2.0)
    np.testing.assert_allclose(np.linalg.norm(w[2]), 2.0, rtol=1e-6)
    assert np.array_equal(w[:2], np.full((2, 2), 4.0))


def test_embedding_init_padding_and_dtype():
    nngraph.manual_seed(0)
    m = nn.Embedding(400, 50, padding_idx=-3, dtype=np.float64, device="cpu")
    assert m.padding_idx == 397 and m.weight.dtype == np.float64
    assert not m.weight[397].any()
    assert abs(m.weight.std() - 1) < 0.02 and abs(m.weight.mean()) < 0.02
    bag = nn.EmbeddingBag(5, 2, padding_idx=0)
    assert not bag.weight[0].any() and bag.weight.dtype == np.float32
    assert nn.Embedding(3, 2, _freeze=True).weight.requires_grad is False


def test_from_pretrained_shares_memory_and_freezes():
    w = np.arange(6, dtype=np.float32).reshape(3, 2)
    m = nn.Embedding.from_pretrained(w)
    assert np.shares_memory(m.weight, w) and m.weight.requires_grad is False
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad is True
    b = nn.EmbeddingBag.from_pretrained(w, mode="sum")
    assert np.shares_memory(b.weight, w) and b.weight.requires_grad is False
    assert np.array_equal(b(np.array([[0, 2]])), w[[0]] + w[[2]])
    with pytest.raises(InputError, match="_weight of shape"):
        nn.Embedding(4, 2, _weight=w)


def test_0d_index_like_torch():
    w = np.random.default_rng(0).standard_normal((5, 3))
    out = F.embedding(np.array(3), w)
    ref = torch.nn.functional.embedding(torch.tensor(3), torch.from_numpy(w)).numpy()
    assert out.shape == ref.shape == (3,) and np.array_equal(out, ref)
    oh = F.one_hot(np.array(2), 4)
    assert np.array_equal(oh, torch.nn.functional.one_hot(torch.tensor(2), 4).numpy())


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cases_torch_gets_wrong(mode, dtype):
    """torch 2.13 segfaults (float64) on empty offsets / a lone last offset, and with include_last_offset and
    offsets[-1] < len(input) it sums past the last offset (float64) or divides by the wrong count (float32 mean).
    We follow the documented semantics: the last offset ends the last bag."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 3)).astype(dtype)
    idx = np.array([1, 2, 3, 4, 5, 0])
    bag = nn.EmbeddingBag.from_pretrained(w, mode=mode)
    assert bag(idx, np.array([], np.int64)).shape == (0, 3)
    last = nn.EmbeddingBag.from_pretrained(w, mode=mode, include_last_offset=True)
    assert last(idx, np.array([0])).shape == (0, 3)
    out = last(idx, np.array([0, 1, 4]))
    np.testing.assert_allclose(out, _naive_bag(w, idx, [0, 1, 4], mode, include_last_offset=True), rtol=1e-6)
    assert out.dtype == dtype
    # 2-D input with zero-length bags (torch raises "step must be nonzero"): all-zero bags.
    assert np.array_equal(bag(np.zeros((3, 0), np.int64)), np.zeros((3, 3), dtype))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_matches_loop_reference(mode):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((20, 5))
    idx = rng.integers(0, 20, 200)
    offsets = np.sort(rng.integers(0, 200, 30))
    offsets[0] = 0
    psw = rng.standard_normal(200) if mode == "sum" else None
    out = F.embedding_bag(idx, w, offsets, mode=mode, padding_idx=3, per_sample_weights=psw)
    np.testing.assert_allclose(out, _naive_bag(w, idx, list(offsets), mode, padding_idx=3, psw=psw), rtol=1e-10,
                               atol=1e-12)
    out_last = F.embedding_bag(idx, w, np.append(offsets, 200), mode=mode, include_last_offset=True)
    np.testing.assert_allclose(out_last, _naive_bag(w, idx, list(offsets) + [200], mode, include_last_offset=True),
                               rtol=1e-10, atol=1e-12)


def test_float16_weight():
    w = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float16)
    out = F.embedding_bag(np.array([[0, 1], [2, 4]]), w, mode="mean")
    assert out.dtype == np.float16
    np.testing.assert_allclose(out, (w[[0, 2]].astype(np.float32) + w[[1, 4]]) / 2, rtol=1e-3)
    assert F.embedding(np.array([1]), w).dtype == np.float16


def test_repr_matches_torch_for_non_default_options():
    for args, kw in [((10, 3), dict(max_norm=1, norm_type=1)), ((10, 3), dict(padding_idx=-2, scale_grad_by_freq=True,
                                                                                 sparse=True))]:
        assert repr(nn.Embedding(*args, **kw)) == repr(torch.nn.Embedding(*args, **kw))
    kw = dict(max_norm=1.0, norm_type=1, padding_idx=-2, mode="sum", scale_grad_by_freq=True)
    assert repr(nn.EmbeddingBag(10, 3, **kw)) == repr(torch.nn.EmbeddingBag(10, 3, **kw))


@pytest.mark.parametrize("make,inputs,ops", [
    (lambda: nn.Embedding(10, 3, padding_idx=1), (np.array([[1, 2], [9, 0]]),), ["embedding"]),
    (lambda: nn.EmbeddingBag(10, 3, mode="max"), (np.array([[1, 2], [9, 0]]),), ["reshape", "embedding_bag"]),
    (lambda: nn.EmbeddingBag(10, 3, mode="sum"), (np.array([1, 2, 9, 0]), np.array([0, 3])), ["embedding_bag"]),
])
def test_traces_into_primitives(make, inputs, ops):
    from nngraph.ir.interpreter import Interpreter
    from nngraph.trace import trace

    m = make()
    graph = trace(m, *inputs, fullgraph=True)
    assert [n.target for n in graph.nodes() if n.kind == "op"] == ops
    np.testing.assert_array_equal(Interpreter(graph, m).run(*inputs), m(*inputs))


def test_max_norm_is_a_graph_break_that_still_renormalizes():
    """Tracing cannot express the in-place weight update, so the module runs eagerly inside the compiled graph."""
    from nngraph.ir.interpreter import Interpreter
    from nngraph.trace import GraphBreakError, GraphBreakWarning, trace

    w = np.full((4, 2), 3.0, np.float32)
    m = nn.Embedding.from_pretrained(w.copy(), max_norm=1.0)
    idx = np.array([0, 2])
    with pytest.raises(GraphBreakError, match="in place"):
        trace(m, idx, fullgraph=True)
    with pytest.warns(GraphBreakWarning):
        graph = trace(m, idx)
    m.weight[...] = w  # the trace ran the module eagerly once (the tracer restores buffers, not parameters)
    out = Interpreter(graph, m).run(idx)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(m.weight[[0, 2]], axis=1), 1.0, rtol=1e-5)
    assert np.array_equal(m.weight[[1, 3]], w[[1, 3]])
