"""CPU lowering of lookups (take, embedding, embedding_bag, one_hot): compiled results against the eager module,
every op compiled (no host step)."""
from __future__ import annotations

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
import nngraph.nn.functional as F
from nngraph.ir.interpreter import NodeExecutionError
from tests.backends.cpu.test_lower_reduce import check
from tests.trace.util import Fn

FLOATS = [np.float32, np.float64]


def _rand(shape: tuple, dtype: type, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_embedding(dtype: type) -> None:
    emb = nn.Embedding(20, 6, padding_idx=0).to(dtype)
    emb.weight[...] = _rand((20, 6), dtype, 1)
    idx = np.random.default_rng(2).integers(0, 20, (3, 5))

    def fn(i, i32, flat):  # noqa: ANN001, ANN202
        return emb(i), emb(i32), emb(flat), F.embedding(i[:, ::2], emb.weight), emb(i[1])

    check(fn, idx, idx.astype(np.int32), np.arange(20)[::-1].copy(), ops=("embedding",))


def test_take() -> None:
    x = _rand((4, 6, 5), np.float32, 3)
    i = np.array([[5, 0, -1], [2, 2, -6]], np.int32)  # negative indices count from the end
    small = np.array([[2, 0, -1], [1, 2, -3]])  # valid for every axis

    def fn(x, i, s, b, xi, xd):  # noqa: ANN001, ANN202
        xt = x.transpose(2, 0, 1)  # strided sources
        return (np.take(x, i, axis=1), np.take(x, i[0], axis=1), np.take(x, s[:, :1], axis=0), np.take(x, s, axis=2),
                np.take(x, [3, 1, -2], axis=1), np.take(xt, i, axis=2), np.take(xt, s[1], axis=1),
                np.take(x[:, ::2], s, axis=1), np.take(x, i, axis=None), np.take(b, s[0], axis=0),
                np.take(xi, i, axis=1), np.take(xd, s, axis=-1))

    check(fn, x, i, small, x > 0, (x * 10).astype(np.int64), x.astype(np.float64), ops=("take",))


def test_take_large_parallel() -> None:
    x = _rand((64, 1000, 8), np.float32, 4)
    idx = np.random.default_rng(5).integers(-1000, 1000, 300)
    check(lambda x, i, j: (np.take(x, i, axis=1), np.take(x, j, axis=0)), x, idx, idx % 64, ops=("take",))


def test_out_of_range_index_raises() -> None:
    """The kernels raise IndexError (the executor then names the node, as np.take's error)."""
    errors = (IndexError, NodeExecutionError)
    emb = nn.Embedding(10, 3).eval()
    compiled = nngraph.compile(emb)
    compiled(np.array([1, 2]))
    with pytest.raises(errors, match="out of (range|bounds)"):
        compiled(np.array([1, 10]))
    take = nngraph.compile(Fn(lambda x, i: np.take(x, i, axis=1)).eval())
    take(np.ones((2, 4)), np.array([0, -4]))
    with pytest.raises(errors, match="out of (range|bounds)"):
        take(np.ones((2, 4)), np.array([0, -5]))


def test_one_hot() -> None:
    idx = np.random.default_rng(6).integers(0, 7, (3, 4))
    check(lambda i, j: (F.one_hot(i, 7), F.one_hot(i[0], 9), F.one_hot(j, 5), F.one_hot(i[:, ::2], 7)),
          idx, (idx.astype(np.int32)[:, 0] % 5).copy(), ops=("one_hot",))
    check(lambda i: F.one_hot(i, 3), np.zeros((0,), np.int64), ops=("one_hot",))
    check(lambda i: F.one_hot(i, 300), np.random.default_rng(7).integers(0, 300, 500), ops=("one_hot",))


@pytest.mark.parametrize("dtype", FLOATS)
def test_embedding_bag(dtype: type) -> None:
    weight = _rand((12, 5), dtype, 8)
    idx = np.array([1, 2, 4, 5, 4, 3, 7, 0, 11, 0])
    offsets = np.array([0, 2, 2, 5, 9])  # an empty bag, a last bag of one
    psw = _rand((10,), dtype, 9)
    batch = np.random.default_rng(10).integers(0, 12, (4, 3))

    def fn(w, i, o, p, b):  # noqa: ANN001, ANN202
        return (F.embedding_bag(i, w, o, mode="sum"), F.embedding_bag(i, w, o, mode="mean"),
                F.embedding_bag(i, w, o, mode="max"), F.embedding_bag(i, w, o, mode="sum", per_sample_weights=p),
                F.embedding_bag(i, w, o, mode="mean", include_last_offset=True),
                F.embedding_bag(i, w, o, mode="max", include_last_offset=True, padding_idx=0),
                F.embedding_bag(i, w, o, mode="mean", padding_idx=4), F.embedding_bag(b, w, mode="max"),
                F.embedding_bag(b, w, mode="sum", padding_idx=3))

    check(fn, weight, idx, offsets, psw, batch, rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-12,
          ops=("embedding_bag",))


def test_embedding_bag_module_large() -> None:
    bag = nn.EmbeddingBag(1000, 32, mode="mean")
    bag.weight[...] = _rand((1000, 32), np.float32, 11)
    rng = np.random.default_rng(12)
    idx = rng.integers(0, 1000, 4000)
    offsets = np.sort(rng.integers(0, 4000, 256))
    offsets[0] = 0
    check(bag, idx, offsets, rtol=1e-6, atol=1e-6, ops=("embedding_bag",))
