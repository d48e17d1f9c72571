"""Op table: PairwiseDistance, CosineSimilarity, F.pairwise_distance, F.cosine_similarity, F.pdist, F.normalize."""
from __future__ import annotations

import math

import numpy as np

from tests.nn.opinfo import ErrorSample, FuncSample, ModuleSample, randn


def two(s1, s2, scale=1.0):
    return lambda rng: (scale * rng.standard_normal(s1), scale * rng.standard_normal(s2))


def _with_zero_rows(rng):
    a = rng.standard_normal((4, 5))
    b = rng.standard_normal((4, 5))
    a[1] = 0.0
    b[2] = 0.0
    a[3] = 1e-6 * b[3]  # parallel, below eps in norm
    return a, b


INF = math.inf

MODULE_SAMPLES = [
    ModuleSample("PairwiseDistance", lambda nn: nn.PairwiseDistance(), two((4, 5), (4, 5))),
    ModuleSample("PairwiseDistance-1d", lambda nn: nn.PairwiseDistance(), two(5, 5)),
    ModuleSample("PairwiseDistance-1d-2d", lambda nn: nn.PairwiseDistance(), two(5, (3, 5))),
    ModuleSample("PairwiseDistance-bcast", lambda nn: nn.PairwiseDistance(), two((3, 1, 4), (2, 4))),
    ModuleSample("PairwiseDistance-keepdim", lambda nn: nn.PairwiseDistance(keepdim=True), two((2, 3, 4), (2, 3, 4))),
    ModuleSample("PairwiseDistance-keepdim-1d", lambda nn: nn.PairwiseDistance(keepdim=True), two(4, 4)),
    ModuleSample("PairwiseDistance-p1", lambda nn: nn.PairwiseDistance(p=1), two((4, 5), (4, 5))),
    ModuleSample("PairwiseDistance-p3", lambda nn: nn.PairwiseDistance(p=3.0, eps=1e-3), two((4, 5), (4, 5))),
    ModuleSample("PairwiseDistance-p0.5", lambda nn: nn.PairwiseDistance(p=0.5), two((4, 5), (4, 5))),
    ModuleSample("PairwiseDistance-p0", lambda nn: nn.PairwiseDistance(p=0), two((4, 5), (4, 5))),
    ModuleSample("PairwiseDistance-pinf", lambda nn: nn.PairwiseDistance(p=INF), two((4, 5), (4, 5))),
    ModuleSample("PairwiseDistance-pneg", lambda nn: nn.PairwiseDistance(p=-1.5), two((4, 5), (4, 5))),
    ModuleSample("PairwiseDistance-pneginf", lambda nn: nn.PairwiseDistance(p=-INF), two((4, 5), (4, 5))),
    ModuleSample("PairwiseDistance-eps0", lambda nn: nn.PairwiseDistance(eps=0.0), two((3, 4), (3, 4))),
    ModuleSample("PairwiseDistance-identical", lambda nn: nn.PairwiseDistance(),
                 lambda rng: (np.ones((3, 4)), np.ones((3, 4)))),
    ModuleSample("PairwiseDistance-batch0", lambda nn: nn.PairwiseDistance(), two((0, 4), (0, 4))),
    ModuleSample("PairwiseDistance-dim0", lambda nn: nn.PairwiseDistance(), two((3, 0), (3, 0))),
    ModuleSample("PairwiseDistance-large", lambda nn: nn.PairwiseDistance(), two((3, 4), (3, 4), scale=1e15)),
    ModuleSample("CosineSimilarity", lambda nn: nn.CosineSimilarity(), two((4, 5), (4, 5))),
    ModuleSample("CosineSimilarity-dim0", lambda nn: nn.CosineSimilarity(dim=0), two(5, 5)),
    ModuleSample("CosineSimilarity-dim-neg", lambda nn: nn.CosineSimilarity(dim=-1, eps=1e-6),
                 two((2, 3, 4), (2, 3, 4))),
    ModuleSample("CosineSimilarity-dim2", lambda nn: nn.CosineSimilarity(dim=2), two((2, 3, 4, 2), (2, 3, 4, 2))),
    ModuleSample("CosineSimilarity-bcast", lambda nn: nn.CosineSimilarity(dim=-1), two((3, 1, 4), (5, 4))),
    ModuleSample("CosineSimilarity-bcast-dim", lambda nn: nn.CosineSimilarity(dim=1), two((2, 1, 3), (1, 4, 3))),
    ModuleSample("CosineSimilarity-zero-rows", lambda nn: nn.CosineSimilarity(), _with_zero_rows),
    ModuleSample("CosineSimilarity-big-eps", lambda nn: nn.CosineSimilarity(eps=10.0), two((3, 4), (3, 4))),
    ModuleSample("CosineSimilarity-batch0", lambda nn: nn.CosineSimilarity(), two((0, 4), (0, 4))),
    ModuleSample("CosineSimilarity-empty-dim", lambda nn: nn.CosineSimilarity(), two((3, 0), (3, 0))),
    ModuleSample("CosineSimilarity-1x1", lambda nn: nn.CosineSimilarity(), two((1, 1), (1, 1))),
]

FUNC_SAMPLES = [
    FuncSample("pairwise_distance", lambda F, a, b: F.pairwise_distance(a, b), two((4, 5), (4, 5))),
    FuncSample("pairwise_distance-kw", lambda F, a, b: F.pairwise_distance(a, b, p=1.5, eps=1e-4, keepdim=True),
               two((2, 3, 5), (3, 5))),
    FuncSample("pairwise_distance-pinf", lambda F, a, b: F.pairwise_distance(a, b, INF), two((2, 3), (2, 3))),
    FuncSample("pairwise_distance-mixed-dtype", lambda F, a, b: F.pairwise_distance(a, b.astype(np.float64)
                                                                                   if isinstance(b, np.ndarray)
                                                                                   else b.double()),
               two((2, 3), (2, 3)), dtypes=(np.float32,)),
    FuncSample("cosine_similarity", lambda F, a, b: F.cosine_similarity(a, b), two((4, 5), (4, 5))),
    FuncSample("cosine_similarity-kw", lambda F, a, b: F.cosine_similarity(a, b, dim=0, eps=1e-3), two((6, 2), (6, 1))),
    FuncSample("cosine_similarity-large", lambda F, a, b: F.cosine_similarity(a, b, -1), two((3, 4), (3, 4), 1e15)),
    FuncSample("cosine_similarity-small", lambda F, a, b: F.cosine_similarity(a, b, -1), two((3, 4), (3, 4), 1e-5)),
    FuncSample("pdist", lambda F, x: F.pdist(x), randn(5, 3)),
    FuncSample("pdist-p1", lambda F, x: F.pdist(x, 1), randn(4, 6)),
    FuncSample("pdist-p0", lambda F, x: F.pdist(x, p=0), randn(4, 3)),
    FuncSample("pdist-p0.5", lambda F, x: F.pdist(x, p=0.5), randn(4, 3)),
    FuncSample("pdist-p3", lambda F, x: F.pdist(x, p=3), randn(4, 3)),
    FuncSample("pdist-pinf", lambda F, x: F.pdist(x, p=INF), randn(6, 2)),
    FuncSample("pdist-one-row", lambda F, x: F.pdist(x), randn(1, 3)),
    FuncSample("pdist-no-rows", lambda F, x: F.pdist(x), randn(0, 3)),
    FuncSample("pdist-no-cols", lambda F, x: F.pdist(x), randn(3, 0)),
    FuncSample("pdist-duplicate-rows", lambda F, x: F.pdist(x), lambda rng: (np.tile(rng.standard_normal((1, 4)),
                                                                                     (3, 1)),)),
    FuncSample("normalize", lambda F, x: F.normalize(x), randn(3, 4)),
    FuncSample("normalize-dim0-p1", lambda F, x: F.normalize(x, p=1, dim=0), randn(3, 4)),
    FuncSample("normalize-dim-neg", lambda F, x: F.normalize(x, dim=-1), randn(2, 3, 4)),
    FuncSample("normalize-dims", lambda F, x: F.normalize(x, dim=(1, 2)), randn(2, 3, 4)),
    FuncSample("normalize-1d", lambda F, x: F.normalize(x, dim=0), randn(5)),
    FuncSample("normalize-pinf", lambda F, x: F.normalize(x, p=INF), randn(3, 4)),
    FuncSample("normalize-p0", lambda F, x: F.normalize(x, p=0), randn(3, 4)),
    FuncSample("normalize-p3", lambda F, x: F.normalize(x, p=3.0, dim=1, eps=1e-6), randn(3, 4, 2)),
    FuncSample("normalize-pneg", lambda F, x: F.normalize(x, p=-2.0), randn(3, 4)),
    FuncSample("normalize-zero", lambda F, x: F.normalize(x), lambda rng: (np.zeros((2, 3)),)),
    FuncSample("normalize-big-eps", lambda F, x: F.normalize(x, eps=100.0), randn(2, 3)),
    FuncSample("normalize-empty", lambda F, x: F.normalize(x), randn(0, 3)),
    FuncSample("normalize-large", lambda F, x: F.normalize(x), lambda rng: (1e15 * rng.standard_normal((3, 4)),)),
]

ERROR_SAMPLES = [
    ErrorSample("PairwiseDistance-shapes", lambda nn: nn.PairwiseDistance(), two((3, 4), (3, 5)),
                r"^PairwiseDistance\(\) expected x2 of a shape broadcastable with x1 \(3, 4\), got \(3, 5\)$"),
    ErrorSample("PairwiseDistance-int", lambda nn: nn.PairwiseDistance(),
                lambda rng: (np.ones((2, 3), np.int64), np.ones((2, 3))),
                r"^PairwiseDistance\(\) expected a floating-point x1, got dtype int64$"),
    ErrorSample("PairwiseDistance-inf-empty", lambda nn: nn.PairwiseDistance(p=INF), two((3, 0), (3, 0)),
                r"non-empty reduced dimension for the p=inf norm"),
    ErrorSample("CosineSimilarity-dim", lambda nn: nn.CosineSimilarity(), two(4, 4),
                r"^CosineSimilarity\(\) expected dim in range \[-1, 0\] for shape \(4,\), got 1$"),
    ErrorSample("CosineSimilarity-shapes", lambda nn: nn.CosineSimilarity(), two((2, 3), (3, 3)),
                r"broadcastable with x1 \(2, 3\), got \(3, 3\)"),
    ErrorSample("CosineSimilarity-int", lambda nn: nn.CosineSimilarity(),
                lambda rng: (np.ones((2, 3)), np.ones((2, 3), np.int32)), r"floating-point x2, got dtype int32"),
    ErrorSample("pdist-3d", lambda nn: nn.functional.pdist, randn(2, 3, 4),
                r"^pdist expected input of shape \(N, M\), got \(2, 3, 4\)$"),
    ErrorSample("pdist-1d", lambda nn: nn.functional.pdist, randn(3), r"got \(3,\)$"),
    ErrorSample("pdist-negative-p", lambda nn: lambda x: nn.functional.pdist(x, -1.0), randn(3, 2),
                r"^pdist expected a non-negative p, got -1.0$"),
    ErrorSample("pdist-int", lambda nn: nn.functional.pdist, lambda rng: (np.ones((3, 2), np.int64),),
                r"floating-point input, got dtype int64"),
    ErrorSample("normalize-dim", lambda nn: nn.functional.normalize, randn(3),
                r"^normalize expected dim in range \[-1, 0\] for shape \(3,\), got 1$"),
    ErrorSample("normalize-int", lambda nn: nn.functional.normalize, lambda rng: (np.ones((3, 2), np.int64),),
                r"floating-point input"),
    ErrorSample("normalize-repeated-dims", lambda nn: lambda x: nn.functional.normalize(x, dim=(1, -1)), randn(3, 2),
                r"distinct dims"),
]
