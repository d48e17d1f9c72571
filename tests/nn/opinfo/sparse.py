"""Op table: Embedding, EmbeddingBag, F.embedding, F.embedding_bag, F.one_hot."""
from __future__ import annotations

import numpy as np

from tests.nn.opinfo import ErrorSample, FuncSample, ModuleSample


def _array(nn, a):
    """``a`` as the array type of the library ``nn`` belongs to (torch tensor or numpy array)."""
    if nn.__name__.startswith("torch"):
        import torch
        return torch.from_numpy(np.array(a))
    return np.array(a)


def _copy(w):
    return w.copy() if isinstance(w, np.ndarray) else w.clone()


def idx(high, *shape, dtype=np.int64):
    return lambda rng: (rng.integers(0, high, shape).astype(dtype),)


def bag(high, n, offsets, dtype=np.int64):
    """1-D indices of length ``n`` and the given offsets."""
    return lambda rng: (rng.integers(0, high, n).astype(dtype), np.array(offsets, dtype=dtype))


def with_padding(values):
    return lambda rng: (np.array(values, dtype=np.int64),)


PRETRAINED = np.arange(12, dtype=np.float64).reshape(4, 3) / 7 - 0.5

MODULE_SAMPLES = [
    # Embedding
    ModuleSample("Embedding", lambda nn: nn.Embedding(10, 3), idx(10, 2, 4)),
    ModuleSample("Embedding-1d", lambda nn: nn.Embedding(7, 5), idx(7, 6)),
    ModuleSample("Embedding-3d", lambda nn: nn.Embedding(7, 2), idx(7, 2, 3, 2)),
    ModuleSample("Embedding-int32", lambda nn: nn.Embedding(6, 4), idx(6, 5, dtype=np.int32)),
    ModuleSample("Embedding-empty", lambda nn: nn.Embedding(6, 4), idx(6, 0)),
    ModuleSample("Embedding-empty-2d", lambda nn: nn.Embedding(6, 4), idx(6, 2, 0)),
    ModuleSample("Embedding-dim1", lambda nn: nn.Embedding(1, 1), idx(1, 3)),
    ModuleSample("Embedding-edges", lambda nn: nn.Embedding(5, 3), with_padding([[0, 4], [4, 0]])),
    ModuleSample("Embedding-padding", lambda nn: nn.Embedding(6, 3, padding_idx=2),
                 with_padding([[1, 2, 2], [5, 0, 2]])),
    ModuleSample("Embedding-padding-neg", lambda nn: nn.Embedding(6, 3, padding_idx=-1), with_padding([[5, 0, 5]])),
    ModuleSample("Embedding-padding-zero", lambda nn: nn.Embedding(6, 3, padding_idx=0), with_padding([0, 1, 0])),
    ModuleSample("Embedding-max_norm", lambda nn: nn.Embedding(8, 4, max_norm=1.0), idx(8, 3, 4)),
    ModuleSample("Embedding-max_norm-dups", lambda nn: nn.Embedding(8, 4, max_norm=0.5),
                 with_padding([[1, 1, 3], [3, 1, 7]])),
    ModuleSample("Embedding-max_norm-p1", lambda nn: nn.Embedding(8, 4, max_norm=1.5, norm_type=1.0), idx(8, 5)),
    ModuleSample("Embedding-max_norm-p3", lambda nn: nn.Embedding(8, 4, max_norm=0.8, norm_type=3), idx(8, 5)),
    ModuleSample("Embedding-max_norm-pinf", lambda nn: nn.Embedding(8, 4, max_norm=0.7, norm_type=float("inf")),
                 idx(8, 5)),
    ModuleSample("Embedding-max_norm-large", lambda nn: nn.Embedding(8, 4, max_norm=100.0), idx(8, 5)),
    ModuleSample("Embedding-max_norm-padding", lambda nn: nn.Embedding(8, 4, padding_idx=3, max_norm=0.9),
                 with_padding([3, 2, 3, 6])),
    ModuleSample("Embedding-grad-flags", lambda nn: nn.Embedding(5, 2, scale_grad_by_freq=True, sparse=True),
                 idx(5, 4)),
    ModuleSample("Embedding-from_pretrained",
                 lambda nn: nn.Embedding.from_pretrained(_array(nn, PRETRAINED.astype(np.float32))), idx(4, 2, 3)),
    ModuleSample("Embedding-from_pretrained-options",
                 lambda nn: nn.Embedding.from_pretrained(_array(nn, PRETRAINED.astype(np.float32)), freeze=False,
                                                         padding_idx=-2, max_norm=0.6, norm_type=1.5),
                 with_padding([0, 2, 3, 1])),
    ModuleSample("Embedding-Sequential", lambda nn: nn.Sequential(nn.Embedding(9, 4), nn.Flatten(), nn.Linear(12, 2)),
                 idx(9, 2, 3)),
    # EmbeddingBag, 1-D input with offsets
    ModuleSample("EmbeddingBag-mean", lambda nn: nn.EmbeddingBag(10, 3), bag(10, 7, [0, 2, 5])),
    ModuleSample("EmbeddingBag-sum", lambda nn: nn.EmbeddingBag(10, 3, mode="sum"), bag(10, 7, [0, 2, 5])),
    ModuleSample("EmbeddingBag-max", lambda nn: nn.EmbeddingBag(10, 3, mode="max"), bag(10, 7, [0, 2, 5])),
    ModuleSample("EmbeddingBag-single-bag", lambda nn: nn.EmbeddingBag(6, 2, mode="max"), bag(6, 5, [0])),
    ModuleSample("EmbeddingBag-empty-bags-mean", lambda nn: nn.EmbeddingBag(6, 2), bag(6, 5, [0, 0, 3, 3, 5])),
    ModuleSample("EmbeddingBag-empty-bags-sum", lambda nn: nn.EmbeddingBag(6, 2, mode="sum"), bag(6, 5, [0, 0, 3, 5])),
    ModuleSample("EmbeddingBag-empty-bags-max", lambda nn: nn.EmbeddingBag(6, 2, mode="max"), bag(6, 5, [0, 3, 3, 5])),
    ModuleSample("EmbeddingBag-last-offset", lambda nn: nn.EmbeddingBag(6, 3, include_last_offset=True),
                 bag(6, 6, [0, 2, 6])),
    ModuleSample("EmbeddingBag-last-offset-max", lambda nn: nn.EmbeddingBag(6, 3, mode="max", include_last_offset=True),
                 bag(6, 6, [0, 3, 3, 6])),
    # Left to tests/nn/test_sparse_area.py, where torch 2.13 misbehaves in float64: empty offsets and
    # include_last_offset with a single offset (segfault), include_last_offset with offsets[-1] < len(input)
    # (float64 sums past the last offset, float32 'mean' divides by the count to the end of the input).
    ModuleSample("EmbeddingBag-empty-input", lambda nn: nn.EmbeddingBag(6, 3, mode="max"), bag(6, 0, [0, 0])),
    ModuleSample("EmbeddingBag-int32", lambda nn: nn.EmbeddingBag(6, 3, mode="sum"),
                 bag(6, 6, [0, 4], dtype=np.int32)),
    ModuleSample("EmbeddingBag-psw", lambda nn: nn.EmbeddingBag(10, 3, mode="sum"), bag(10, 7, [0, 3, 3]),
                 kwargs=lambda rng: {"per_sample_weights": rng.standard_normal(7)}),
    ModuleSample("EmbeddingBag-psw-padding", lambda nn: nn.EmbeddingBag(5, 3, mode="sum", padding_idx=1),
                 lambda rng: (np.array([1, 0, 1, 4, 2]), np.array([0, 2])),
                 kwargs=lambda rng: {"per_sample_weights": rng.standard_normal(5)}),
    ModuleSample("EmbeddingBag-padding-mean", lambda nn: nn.EmbeddingBag(5, 3, padding_idx=1),
                 lambda rng: (np.array([1, 0, 1, 4, 1, 1, 2]), np.array([0, 3, 4, 6]))),
    ModuleSample("EmbeddingBag-padding-sum", lambda nn: nn.EmbeddingBag(5, 3, mode="sum", padding_idx=-1),
                 lambda rng: (np.array([4, 0, 4, 4, 2]), np.array([0, 2, 4]))),
    ModuleSample("EmbeddingBag-padding-max", lambda nn: nn.EmbeddingBag(5, 3, mode="max", padding_idx=0),
                 lambda rng: (np.array([0, 0, 1, 2, 0]), np.array([0, 2, 4]))),
    ModuleSample("EmbeddingBag-max_norm", lambda nn: nn.EmbeddingBag(8, 4, max_norm=1.0), bag(8, 6, [0, 3])),
    ModuleSample("EmbeddingBag-max_norm-p1-sum", lambda nn: nn.EmbeddingBag(8, 4, max_norm=1.2, norm_type=1,
                                                                            mode="sum"), bag(8, 6, [0, 3])),
    ModuleSample("EmbeddingBag-max_norm-last-offset", lambda nn: nn.EmbeddingBag(8, 4, max_norm=0.5, mode="max",
                                                                                 include_last_offset=True),
                 bag(8, 6, [0, 2, 6])),
    ModuleSample("EmbeddingBag-grad-flags", lambda nn: nn.EmbeddingBag(8, 4, scale_grad_by_freq=True, sparse=True,
                                                                       mode="sum"), bag(8, 6, [0, 3])),
    # EmbeddingBag, 2-D input (fixed-length bags)
    ModuleSample("EmbeddingBag-2d-mean", lambda nn: nn.EmbeddingBag(10, 3), idx(10, 4, 3)),
    ModuleSample("EmbeddingBag-2d-sum", lambda nn: nn.EmbeddingBag(10, 3, mode="sum"), idx(10, 4, 3)),
    ModuleSample("EmbeddingBag-2d-max", lambda nn: nn.EmbeddingBag(10, 3, mode="max"), idx(10, 4, 3)),
    ModuleSample("EmbeddingBag-2d-psw", lambda nn: nn.EmbeddingBag(10, 3, mode="sum"), idx(10, 2, 5),
                 kwargs=lambda rng: {"per_sample_weights": rng.standard_normal((2, 5))}),
    ModuleSample("EmbeddingBag-2d-last-offset-ignored", lambda nn: nn.EmbeddingBag(10, 3, include_last_offset=True),
                 idx(10, 3, 2)),
    ModuleSample("EmbeddingBag-2d-padding", lambda nn: nn.EmbeddingBag(4, 2, padding_idx=3),
                 with_padding([[3, 3], [1, 3], [0, 2]])),
    ModuleSample("EmbeddingBag-2d-no-bags", lambda nn: nn.EmbeddingBag(4, 2), idx(4, 0, 3)),
    ModuleSample("EmbeddingBag-from_pretrained",
                 lambda nn: nn.EmbeddingBag.from_pretrained(_array(nn, PRETRAINED.astype(np.float32)), mode="sum"),
                 idx(4, 2, 3)),
    ModuleSample("EmbeddingBag-from_pretrained-options",
                 lambda nn: nn.EmbeddingBag.from_pretrained(_array(nn, PRETRAINED.astype(np.float32)), freeze=False,
                                                            max_norm=0.6, norm_type=3.0, mode="max",
                                                            include_last_offset=True, padding_idx=1),
                 lambda rng: (np.array([0, 1, 2, 3, 1]), np.array([0, 2, 5]))),
]

FUNC_SAMPLES = [
    FuncSample("embedding", lambda F, i, w: F.embedding(i, w),
               lambda rng: (rng.integers(0, 6, (2, 3)), rng.standard_normal((6, 4)))),
    FuncSample("embedding-options", lambda F, i, w: F.embedding(i, w, padding_idx=-1, scale_grad_by_freq=True,
                                                                  sparse=True),
               lambda rng: (rng.integers(0, 6, (5,)), rng.standard_normal((6, 4)))),
    FuncSample("embedding-max_norm", lambda F, i, w: F.embedding(i, _copy(w), max_norm=1.0, norm_type=2.0),
               lambda rng: (rng.integers(0, 6, (5,)), rng.standard_normal((6, 4)))),
    FuncSample("embedding_bag", lambda F, i, w, o: F.embedding_bag(i, w, o),
               lambda rng: (rng.integers(0, 6, 7), rng.standard_normal((6, 4)), np.array([0, 3, 3]))),
    FuncSample("embedding_bag-kw", lambda F, i, w, o, psw: F.embedding_bag(i, w, offsets=o, mode="sum",
                                                                           per_sample_weights=psw,
                                                                           include_last_offset=True, padding_idx=2),
               lambda rng: (rng.integers(0, 6, 7), rng.standard_normal((6, 4)), np.array([0, 3, 7]),
                            rng.standard_normal(7))),
    FuncSample("embedding_bag-2d-max", lambda F, i, w: F.embedding_bag(i, w, mode="max"),
               lambda rng: (rng.integers(0, 6, (3, 4)), rng.standard_normal((6, 4)))),
    FuncSample("one_hot", lambda F, i: F.one_hot(i), lambda rng: (rng.integers(0, 5, (3, 4)),)),
    FuncSample("one_hot-num_classes", lambda F, i: F.one_hot(i, num_classes=7), lambda rng: (rng.integers(0, 5, 6),)),
    FuncSample("one_hot-empty", lambda F, i: F.one_hot(i, 3), lambda rng: (np.zeros((0, 2), np.int64),)),
]

_F32 = np.float32

ERROR_SAMPLES = [
    ErrorSample("Embedding-float-indices", lambda nn: nn.Embedding(10, 3), lambda rng: (np.ones((2, 2), _F32),),
                r"^Embedding\(10, 3\) expected integer indices, got dtype float32$"),
    ErrorSample("Embedding-bool-indices", lambda nn: nn.Embedding(10, 3), lambda rng: (np.ones(2, bool),),
                r"^Embedding\(10, 3\) expected integer indices, got dtype bool$"),
    ErrorSample("Embedding-index-too-large", lambda nn: nn.Embedding(10, 3), with_padding([[1, 12], [3, 4]]),
                r"^Embedding\(10, 3\) expected indices in \[0, 10\), got 12$"),
    ErrorSample("Embedding-index-negative", lambda nn: nn.Embedding(10, 3, padding_idx=1), with_padding([-1, 3]),
                r"^Embedding\(10, 3, padding_idx=1\) expected indices in \[0, 10\), got -1$"),
    ErrorSample("Embedding-index-equal-size", lambda nn: nn.Embedding(4, 3), with_padding([4]), r"got 4$"),
    ErrorSample("Embedding-bad-padding_idx", lambda nn: (lambda: nn.Embedding(4, 3, padding_idx=4)),
                lambda rng: (), r"padding_idx within num_embeddings \[-4, 4\), got 4"),
    ErrorSample("Embedding-from_pretrained-1d", lambda nn: nn.Embedding.from_pretrained,
                lambda rng: (np.ones(3, _F32),), r"2-D embeddings"),
    ErrorSample("embedding-weight-1d", lambda nn: nn.functional.embedding,
                lambda rng: (np.array([1]), np.ones(5)),
                r"^embedding expected weight of shape \(num_embeddings, embedding_dim\), got \(5,\)$"),
    ErrorSample("embedding-bad-padding_idx", lambda nn: lambda i, w: nn.functional.embedding(i, w, padding_idx=-6),
                lambda rng: (np.array([1]), np.ones((5, 2))), r"padding_idx in \[-5, 5\), got -6"),
    ErrorSample("EmbeddingBag-float-indices", lambda nn: nn.EmbeddingBag(10, 3),
                lambda rng: (np.ones(3, _F32), np.array([0])),
                r"^EmbeddingBag\(10, 3, mode='mean'\) expected integer indices, got dtype float32$"),
    ErrorSample("EmbeddingBag-out-of-range", lambda nn: nn.EmbeddingBag(10, 3, mode="sum"),
                lambda rng: (np.array([1, 10]), np.array([0])),
                r"^EmbeddingBag\(10, 3, mode='sum'\) expected indices in \[0, 10\), got 10$"),
    ErrorSample("EmbeddingBag-2d-with-offsets", lambda nn: nn.EmbeddingBag(10, 3),
                lambda rng: (np.ones((2, 2), np.int64), np.array([0, 1])), r"offsets=None with a 2-D input"),
    ErrorSample("EmbeddingBag-1d-no-offsets", lambda nn: nn.EmbeddingBag(10, 3),
                lambda rng: (np.ones(2, np.int64),), r"expected offsets with a 1-D input, got offsets=None"),
    ErrorSample("EmbeddingBag-3d", lambda nn: nn.EmbeddingBag(10, 3),
                lambda rng: (np.ones((2, 2, 2), np.int64),), r"input of shape \(B, L\) or \(N,\), got \(2, 2, 2\)"),
    ErrorSample("EmbeddingBag-offsets-2d", lambda nn: nn.EmbeddingBag(10, 3),
                lambda rng: (np.ones(3, np.int64), np.zeros((1, 1), np.int64)), r"1-D offsets, got shape \(1, 1\)"),
    ErrorSample("EmbeddingBag-float-offsets", lambda nn: nn.EmbeddingBag(10, 3),
                lambda rng: (np.ones(3, np.int64), np.zeros(1, _F32)), r"integer offsets, got dtype float32"),
    ErrorSample("EmbeddingBag-offsets-start", lambda nn: nn.EmbeddingBag(10, 3),
                lambda rng: (np.ones(3, np.int64), np.array([1, 2])), r"offsets\[0\] == 0 .*got 1$"),
    ErrorSample("EmbeddingBag-offsets-decreasing", lambda nn: nn.EmbeddingBag(10, 3),
                lambda rng: (np.ones(3, np.int64), np.array([0, 2, 1])), r"non-decreasing offsets, got \[0, 2, 1\]"),
    ErrorSample("EmbeddingBag-offsets-past-end", lambda nn: nn.EmbeddingBag(10, 3),
                lambda rng: (np.ones(3, np.int64), np.array([0, 4])), r"offsets\[-1\] <= the input's length 3, got 4"),
    ErrorSample("EmbeddingBag-last-offset-empty", lambda nn: nn.EmbeddingBag(10, 3, include_last_offset=True),
                lambda rng: (np.ones(3, np.int64), np.zeros(0, np.int64)), r"at least one offset"),
    ErrorSample("EmbeddingBag-psw-mean", lambda nn: nn.EmbeddingBag(10, 3),
                lambda rng: (np.ones(3, np.int64), np.array([0]), np.ones(3, _F32)),
                r"per_sample_weights only with mode='sum', got mode='mean'"),
    ErrorSample("EmbeddingBag-psw-shape", lambda nn: nn.EmbeddingBag(10, 3, mode="sum"),
                lambda rng: (np.ones(3, np.int64), np.array([0]), np.ones(2, _F32)),
                r"per_sample_weights of the input's shape \(3,\), got \(2,\)"),
    ErrorSample("EmbeddingBag-psw-dtype", lambda nn: nn.EmbeddingBag(10, 3, mode="sum"),
                lambda rng: (np.ones(3, np.int64), np.array([0]), np.ones(3, np.float64)),
                r"per_sample_weights of the weight's dtype float32, got dtype float64"),
    ErrorSample("EmbeddingBag-bad-mode", lambda nn: nn.EmbeddingBag(10, 3, mode="median"),
                lambda rng: (np.ones(3, np.int64), np.array([0])), r"mode 'sum', 'mean' or 'max', got 'median'"),
    ErrorSample("EmbeddingBag-max-scale-grad", lambda nn: nn.EmbeddingBag(10, 3, mode="max", scale_grad_by_freq=True),
                lambda rng: (np.ones(3, np.int64), np.array([0])), r"scale_grad_by_freq=False and sparse=False"),
    ErrorSample("EmbeddingBag-bad-padding_idx", lambda nn: (lambda: nn.EmbeddingBag(4, 3, padding_idx=-5)),
                lambda rng: (), r"padding_idx within num_embeddings \[-4, 4\), got -5"),
    ErrorSample("one_hot-negative", lambda nn: nn.functional.one_hot, with_padding([0, -2]),
                r"^one_hot expected non-negative class values, got -2$"),
    ErrorSample("one_hot-too-large", lambda nn: lambda t: nn.functional.one_hot(t, 3), with_padding([0, 3]),
                r"^one_hot expected class values smaller than num_classes=3, got 3$"),
    ErrorSample("one_hot-empty-infer", lambda nn: nn.functional.one_hot, lambda rng: (np.zeros(0, np.int64),),
                r"num_classes given explicitly for an empty input"),
    ErrorSample("one_hot-empty-zero-classes", lambda nn: lambda t: nn.functional.one_hot(t, 0),
                lambda rng: (np.zeros(0, np.int64),),
                r"num_classes given explicitly for an empty input, got num_classes=0"),
    ErrorSample("one_hot-float", lambda nn: nn.functional.one_hot, lambda rng: (np.ones(2, _F32),),
                r"^one_hot expected integer class indices, got dtype float32$"),
    ErrorSample("one_hot-bad-num_classes", lambda nn: lambda t: nn.functional.one_hot(t, -2), with_padding([0]),
                r"num_classes >= 0, or -1 to infer it, got -2"),
]
