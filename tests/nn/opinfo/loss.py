"""Op table: loss modules and functions (every reduction, weights, ignore_index, label smoothing, K-dim, unbatched,
0-d inputs, empty batches)."""
from __future__ import annotations

import math

import numpy as np

from . import ErrorSample, FuncSample, ModuleSample

REDUCTIONS = ("none", "mean", "sum")
# Losses average many float32 terms; the reference sums in a different order.
SUM_TOL = {np.dtype(np.float32): (2e-4, 2e-4)}


def tensor(nn, values, dtype=np.float32):
    """A constant for ``make(nn)``: a torch tensor for torch.nn, a numpy array for nngraph.nn."""
    arr = np.asarray(values, dtype=dtype)
    if nn.__name__.startswith("torch"):
        import torch

        return torch.from_numpy(arr.copy())
    return arr


# ------------------------------------------------------------------------------------------------ input makers


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _pair(shape, scale=1.0):
    return lambda rng: (scale * rng.standard_normal(shape), scale * rng.standard_normal(shape))


def _class_shape(shape):
    return shape[:1] + shape[2:] if len(shape) > 1 else ()


def _logits_idx(shape, ignore=None, n_ignore=0):
    """Logits of ``shape`` (class dim 1, or 0 for 1-D) and int64 class indices; ``n_ignore`` set to ``ignore``."""
    def make(rng):
        c = shape[1] if len(shape) > 1 else shape[0]
        t = rng.integers(0, c, size=_class_shape(shape)).astype(np.int64)
        if n_ignore:
            flat = t.reshape(-1)
            flat[rng.choice(flat.size, size=n_ignore, replace=False)] = ignore
        return rng.standard_normal(shape) * 2, t
    return make


def _logits_prob(shape):
    def make(rng):
        axis = 1 if len(shape) > 1 else 0
        return rng.standard_normal(shape) * 2, _softmax(rng.standard_normal(shape), axis)
    return make


def _log_probs_idx(shape, **kw):
    def make(rng):
        x, t = _logits_idx(shape, **kw)(rng)
        return np.log(_softmax(x, 1 if len(shape) > 1 else 0)), t
    return make


def _binary(shape, lo=0.02, hi=0.98):
    return lambda rng: (rng.uniform(lo, hi, shape), rng.uniform(0, 1, shape))


def _pm1(shape, rng):
    return np.where(rng.uniform(size=shape) < 0.5, -1.0, 1.0)


def _mlm_target(n, c, rng):
    """Rows of class indices ended by -1 (a full row has no -1); junk after the -1 must still be in [-1, C)."""
    t = rng.integers(-1, c, size=(n, c)).astype(np.int64)
    for i in range(n):
        k = rng.integers(0, c + 1)
        t[i, :k] = rng.permutation(c)[:k]
        if k < c:
            t[i, k] = -1
    return t


def _ctc_inputs(T, N, C, S, blank=0, concat=False, in_lens=None, tgt_lens=None):
    def make(rng):
        lp = np.log(_softmax(rng.standard_normal((T, N, C)), 2))
        labels = [c for c in range(C) if c != blank]
        tl = np.asarray(tgt_lens if tgt_lens is not None else rng.integers(1, S + 1, size=N), dtype=np.int64)
        il = np.asarray(in_lens if in_lens is not None else [T] * N, dtype=np.int64)
        padded = rng.choice(labels, size=(N, S)).astype(np.int64)
        if concat:
            targets = np.concatenate([padded[i, :tl[i]] for i in range(N)]).astype(np.int64)
        else:
            targets = padded
        return lp, targets, il, tl
    return make


MODULE_SAMPLES: list[ModuleSample] = []
FUNC_SAMPLES: list[FuncSample] = []
ERROR_SAMPLES: list[ErrorSample] = []


def mod(id, make, inputs, **kw):
    MODULE_SAMPLES.append(ModuleSample(id, make, inputs, tol=kw.pop("tol", SUM_TOL), **kw))


def fn(id, f, inputs, **kw):
    FUNC_SAMPLES.append(FuncSample(id, f, inputs, tol=kw.pop("tol", SUM_TOL), **kw))


def err(id, make, inputs, match):
    ERROR_SAMPLES.append(ErrorSample(id, make, inputs, match))


# ------------------------------------------------------------------------------------------------ regression

for r in REDUCTIONS:
    for name in ("L1Loss", "MSELoss"):
        mod(f"{name}-{r}", lambda nn, name=name, r=r: getattr(nn, name)(reduction=r), _pair((4, 5)))
        mod(f"{name}-{r}-3d", lambda nn, name=name, r=r: getattr(nn, name)(reduction=r), _pair((2, 3, 4)))
        mod(f"{name}-{r}-empty", lambda nn, name=name, r=r: getattr(nn, name)(reduction=r), _pair((0, 3)))
    for delta in (0.5, 1.0, 2.5):
        mod(f"HuberLoss-{r}-delta{delta}", lambda nn, r=r, d=delta: nn.HuberLoss(reduction=r, delta=d),
            _pair((3, 7), scale=2.0))
    for beta in (0.0, 0.5, 1.0, 3.0):
        mod(f"SmoothL1Loss-{r}-beta{beta}", lambda nn, r=r, b=beta: nn.SmoothL1Loss(reduction=r, beta=b),
            _pair((3, 7), scale=2.0))

mod("MSELoss-legacy-size_average", lambda nn: nn.MSELoss(size_average=False), _pair((3, 4)))
mod("L1Loss-legacy-reduce", lambda nn: nn.L1Loss(reduce=False), _pair((3, 4)))
mod("SmoothL1Loss-legacy", lambda nn: nn.SmoothL1Loss(size_average=True, reduce=True), _pair((3, 4)))
for f_name in ("l1_loss", "mse_loss"):
    for r in REDUCTIONS:
        fn(f"{f_name}-weight-{r}", lambda F, x, y, w, f=f_name, r=r: getattr(F, f)(x, y, reduction=r, weight=w),
           lambda rng: (rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.uniform(0.1, 2, (3, 4))))
    fn(f"{f_name}-broadcast-target", lambda F, x, y, f=f_name: getattr(F, f)(x, y),
       lambda rng: (rng.standard_normal((3, 4)), rng.standard_normal((4,))))
for r in REDUCTIONS:
    fn(f"huber_loss-weight-{r}", lambda F, x, y, w, r=r: F.huber_loss(x, y, reduction=r, delta=0.7, weight=w),
       lambda rng: (2 * rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.uniform(0.1, 2, (3, 4))))
fn("smooth_l1_loss-legacy-reduce", lambda F, x, y: F.smooth_l1_loss(x, y, reduce=False, beta=0.3), _pair((2, 5)))
fn("mse_loss-legacy-size_average", lambda F, x, y: F.mse_loss(x, y, size_average=True), _pair((2, 5)))
fn("l1_loss-elementwise_mean", lambda F, x, y: F.l1_loss(x, y, reduction="elementwise_mean"), _pair((2, 5)))

# ----------------------------------------------------------------------------------------- KL, Poisson, Gaussian


def _kl_inputs(shape, log_target=False, zeros=False):
    def make(rng):
        x = np.log(_softmax(rng.standard_normal(shape), -1))
        t = _softmax(rng.standard_normal(shape), -1)
        if zeros:
            t[..., 0] = 0.0
        return x, (np.log(t) if log_target else t)
    return make


for r in REDUCTIONS + ("batchmean",):
    mod(f"KLDivLoss-{r}", lambda nn, r=r: nn.KLDivLoss(reduction=r), _kl_inputs((4, 5), zeros=True))
    mod(f"KLDivLoss-{r}-log_target", lambda nn, r=r: nn.KLDivLoss(reduction=r, log_target=True),
        _kl_inputs((2, 3, 5), log_target=True))
mod("KLDivLoss-batchmean-1d", lambda nn: nn.KLDivLoss(reduction="batchmean"), _kl_inputs((5,)))
mod("KLDivLoss-legacy", lambda nn: nn.KLDivLoss(size_average=False), _kl_inputs((3, 4)))


def _poisson_inputs(shape, log_input=True):
    def make(rng):
        x = rng.standard_normal(shape) if log_input else rng.uniform(0.1, 4.0, shape)
        y = rng.poisson(3.0, size=shape).astype(np.float64)
        return x, y
    return make


for r in REDUCTIONS:
    for log_input in (True, False):
        for full in (False, True):
            mod(f"PoissonNLLLoss-{r}-log{log_input}-full{full}",
                lambda nn, r=r, li=log_input, fu=full: nn.PoissonNLLLoss(log_input=li, full=fu, reduction=r),
                _poisson_inputs((4, 5), log_input))
mod("PoissonNLLLoss-eps", lambda nn: nn.PoissonNLLLoss(log_input=False, eps=0.5),
    lambda rng: (rng.uniform(0, 2, (3, 4)) * (rng.uniform(size=(3, 4)) > 0.3), rng.poisson(2.0, (3, 4)) * 1.0))


def _gauss_inputs(shape, var_shape, tiny=False):
    def make(rng):
        var = rng.uniform(0.1, 2.0, var_shape)
        if tiny:
            var.reshape(-1)[0] = 1e-9  # clamped up to eps
        return rng.standard_normal(shape), rng.standard_normal(shape), var
    return make


for r in REDUCTIONS:
    for full in (False, True):
        mod(f"GaussianNLLLoss-{r}-full{full}", lambda nn, r=r, f=full: nn.GaussianNLLLoss(full=f, reduction=r),
            _gauss_inputs((4, 3), (4, 3)))
    mod(f"GaussianNLLLoss-{r}-homoscedastic", lambda nn, r=r: nn.GaussianNLLLoss(reduction=r),
        _gauss_inputs((4, 3), (4,)))
    mod(f"GaussianNLLLoss-{r}-var-singleton", lambda nn, r=r: nn.GaussianNLLLoss(reduction=r),
        _gauss_inputs((4, 3), (4, 1)))
mod("GaussianNLLLoss-var-singleton-mid", lambda nn: nn.GaussianNLLLoss(reduction="none"),
    _gauss_inputs((2, 3, 4), (2, 1, 4)))
mod("GaussianNLLLoss-eps", lambda nn: nn.GaussianNLLLoss(eps=1e-3), _gauss_inputs((3, 4), (3, 4), tiny=True))
mod("GaussianNLLLoss-float-var", lambda nn: nn.GaussianNLLLoss(reduction="none"),
    lambda rng: (rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), 0.7))
mod("GaussianNLLLoss-1d", lambda nn: nn.GaussianNLLLoss(), _gauss_inputs((5,), (5,)))

# ------------------------------------------------------------------------------------------------- binary

for r in REDUCTIONS:
    mod(f"BCELoss-{r}", lambda nn, r=r: nn.BCELoss(reduction=r), _binary((4, 5)))
    mod(f"BCELoss-{r}-weight", lambda nn, r=r: nn.BCELoss(weight=tensor(nn, [0.5, 1.0, 2.0, 0.1, 3.0]), reduction=r),
        _binary((4, 5)))
    mod(f"BCEWithLogitsLoss-{r}", lambda nn, r=r: nn.BCEWithLogitsLoss(reduction=r),
        lambda rng: (3 * rng.standard_normal((4, 5)), rng.uniform(0, 1, (4, 5))))
    mod(f"BCEWithLogitsLoss-{r}-weights",
        lambda nn, r=r: nn.BCEWithLogitsLoss(weight=tensor(nn, [1.0, 0.5, 2.0, 0.0, 1.5]),
                                             pos_weight=tensor(nn, [3.0, 1.0, 0.5, 2.0, 1.0]), reduction=r),
        lambda rng: (3 * rng.standard_normal((4, 5)), (rng.uniform(0, 1, (4, 5)) > 0.5) * 1.0))
mod("BCELoss-saturated", lambda nn: nn.BCELoss(reduction="none"),
    lambda rng: (np.array([0.0, 1.0, 0.0, 1.0, 0.5, 1e-30]), np.array([1.0, 0.0, 0.0, 1.0, 0.5, 1.0])))
mod("BCELoss-3d-weight-bcast", lambda nn: nn.BCELoss(weight=tensor(nn, [[1.0], [2.0], [0.5]])),
    _binary((2, 3, 4)))
mod("BCELoss-legacy", lambda nn: nn.BCELoss(reduce=False), _binary((3, 2)))
mod("BCEWithLogitsLoss-pos_weight-3d", lambda nn: nn.BCEWithLogitsLoss(pos_weight=tensor(nn, [[2.0], [0.5], [1.0]])),
    lambda rng: (rng.standard_normal((2, 3, 4)), rng.uniform(0, 1, (2, 3, 4))))
mod("BCEWithLogitsLoss-empty", lambda nn: nn.BCEWithLogitsLoss(), lambda rng: (np.zeros((0, 3)), np.zeros((0, 3))))
fn("binary_cross_entropy_with_logits-positional-weight",
   lambda F, x, y, w: F.binary_cross_entropy_with_logits(x, y, w, reduction="sum"),
   lambda rng: (rng.standard_normal((3, 4)), rng.uniform(0, 1, (3, 4)), rng.uniform(0, 2, (4,))))

for r in REDUCTIONS:
    mod(f"SoftMarginLoss-{r}", lambda nn, r=r: nn.SoftMarginLoss(reduction=r),
        lambda rng: (3 * rng.standard_normal((4, 5)), _pm1((4, 5), rng)))
    mod(f"MultiLabelSoftMarginLoss-{r}", lambda nn, r=r: nn.MultiLabelSoftMarginLoss(reduction=r),
        lambda rng: (3 * rng.standard_normal((4, 5)), (rng.uniform(size=(4, 5)) > 0.5) * 1.0))
    mod(f"MultiLabelSoftMarginLoss-{r}-weight",
        lambda nn, r=r: nn.MultiLabelSoftMarginLoss(weight=tensor(nn, [0.2, 1.0, 2.0, 0.5, 1.0]), reduction=r),
        lambda rng: (3 * rng.standard_normal((4, 5)), rng.uniform(size=(4, 5))))
mod("MultiLabelSoftMarginLoss-1d", lambda nn: nn.MultiLabelSoftMarginLoss(reduction="none"),
    lambda rng: (rng.standard_normal((6,)), (rng.uniform(size=6) > 0.5) * 1.0))

# ------------------------------------------------------------------------------------------------- margins

for r in REDUCTIONS:
    for margin in (1.0, 0.3):
        mod(f"HingeEmbeddingLoss-{r}-m{margin}", lambda nn, r=r, m=margin: nn.HingeEmbeddingLoss(margin=m, reduction=r),
            lambda rng: (2 * rng.standard_normal((4, 5)), _pm1((4, 5), rng)))
    for margin in (0.0, 0.5):
        mod(f"MarginRankingLoss-{r}-m{margin}", lambda nn, r=r, m=margin: nn.MarginRankingLoss(margin=m, reduction=r),
            lambda rng: (rng.standard_normal(6), rng.standard_normal(6), _pm1(6, rng)))
        mod(f"CosineEmbeddingLoss-{r}-m{margin}",
            lambda nn, r=r, m=margin: nn.CosineEmbeddingLoss(margin=m, reduction=r),
            lambda rng: (rng.standard_normal((5, 4)), rng.standard_normal((5, 4)), _pm1(5, rng)))
mod("HingeEmbeddingLoss-other-targets", lambda nn: nn.HingeEmbeddingLoss(reduction="none"),
    lambda rng: (rng.standard_normal(6), np.array([1.0, -1.0, 0.0, 2.0, 1.0, -1.0])))
mod("HingeEmbeddingLoss-broadcast", lambda nn: nn.HingeEmbeddingLoss(reduction="none"),
    lambda rng: (rng.standard_normal((2, 3)), np.array([1.0, -1.0, 1.0])))
mod("MarginRankingLoss-2d-broadcast", lambda nn: nn.MarginRankingLoss(margin=0.2, reduction="none"),
    lambda rng: (rng.standard_normal((3, 4)), rng.standard_normal((1, 4)), _pm1((3, 4), rng)))
mod("CosineEmbeddingLoss-broadcast-zero-targets", lambda nn: nn.CosineEmbeddingLoss(margin=-0.2, reduction="none"),
    lambda rng: (rng.standard_normal((4, 3)), rng.standard_normal((1, 3)), np.array([1.0, -1.0, 0.0, 1.0])))
mod("CosineEmbeddingLoss-int-target-zero-vector", lambda nn: nn.CosineEmbeddingLoss(reduction="none"),
    lambda rng: (np.vstack([np.zeros(3), rng.standard_normal((2, 3))]), rng.standard_normal((3, 3)),
                 np.array([1, -1, 1], dtype=np.int64)))

for r in REDUCTIONS:
    mod(f"MultiLabelMarginLoss-{r}", lambda nn, r=r: nn.MultiLabelMarginLoss(reduction=r),
        lambda rng: (rng.standard_normal((6, 5)), _mlm_target(6, 5, rng)))
mod("MultiLabelMarginLoss-1d", lambda nn: nn.MultiLabelMarginLoss(reduction="none"),
    lambda rng: (rng.standard_normal(4), np.array([3, 0, -1, 1], dtype=np.int64)))
mod("MultiLabelMarginLoss-duplicates", lambda nn: nn.MultiLabelMarginLoss(reduction="none"),
    lambda rng: (rng.standard_normal((2, 3)), np.array([[1, 1, -1], [2, 0, 1]], dtype=np.int64)))
mod("MultiLabelMarginLoss-empty-batch", lambda nn: nn.MultiLabelMarginLoss(reduction="none"),
    lambda rng: (np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)))

for r in REDUCTIONS:
    for p in (1, 2):
        mod(f"MultiMarginLoss-{r}-p{p}", lambda nn, r=r, p=p: nn.MultiMarginLoss(p=p, reduction=r),
            lambda rng: (rng.standard_normal((6, 4)), rng.integers(0, 4, 6)))
    mod(f"MultiMarginLoss-{r}-weight-margin",
        lambda nn, r=r: nn.MultiMarginLoss(p=2, margin=0.5, weight=tensor(nn, [1.0, 0.5, 2.0, 0.1]), reduction=r),
        lambda rng: (rng.standard_normal((6, 4)), rng.integers(0, 4, 6)))
mod("MultiMarginLoss-1d-target1", lambda nn: nn.MultiMarginLoss(reduction="none", margin=2.0),
    lambda rng: (rng.standard_normal(5), np.array([4], dtype=np.int64)))
mod("MultiMarginLoss-empty-batch", lambda nn: nn.MultiMarginLoss(reduction="none"),
    lambda rng: (np.zeros((0, 3)), np.zeros(0, dtype=np.int64)))

# ------------------------------------------------------------------------------------------------- triplets


def _triplet(shape, pshape=None):
    return lambda rng: (rng.standard_normal(shape), rng.standard_normal(pshape or shape), rng.standard_normal(shape))


for r in REDUCTIONS:
    for p in (1.0, 2.0, 3.0, math.inf):
        mod(f"TripletMarginLoss-{r}-p{p}", lambda nn, r=r, p=p: nn.TripletMarginLoss(p=p, reduction=r),
            _triplet((5, 4)))
    mod(f"TripletMarginLoss-{r}-swap-margin", lambda nn, r=r: nn.TripletMarginLoss(margin=2.0, swap=True, reduction=r),
        _triplet((5, 4)))
    mod(f"TripletMarginWithDistanceLoss-{r}", lambda nn, r=r: nn.TripletMarginWithDistanceLoss(reduction=r),
        _triplet((5, 4)))
    mod(f"TripletMarginWithDistanceLoss-{r}-custom-swap",
        lambda nn, r=r: nn.TripletMarginWithDistanceLoss(distance_function=lambda a, b: abs(a - b).sum(-1),
                                                         margin=1.5, swap=True, reduction=r),
        _triplet((5, 4)))
mod("TripletMarginLoss-eps-1d", lambda nn: nn.TripletMarginLoss(eps=0.1, reduction="none"), _triplet((4,)))
mod("TripletMarginLoss-3d", lambda nn: nn.TripletMarginLoss(reduction="none"), _triplet((2, 3, 4)))
mod("TripletMarginLoss-broadcast", lambda nn: nn.TripletMarginLoss(p=1.0, swap=True, reduction="none"),
    _triplet((3, 4), (1, 4)))
mod("TripletMarginLoss-legacy", lambda nn: nn.TripletMarginLoss(size_average=False), _triplet((3, 4)))
mod("TripletMarginWithDistanceLoss-module-distance",
    lambda nn: nn.TripletMarginWithDistanceLoss(distance_function=nn.PairwiseDistance(p=1.0), swap=True),
    _triplet((4, 3)))
fn("triplet_margin_with_distance_loss-default",
   lambda F, a, p, n: F.triplet_margin_with_distance_loss(a, p, n, swap=True, reduction="none"), _triplet((4, 3)))
fn("triplet_margin_with_distance_loss-squared",
   lambda F, a, p, n: F.triplet_margin_with_distance_loss(a, p, n, margin=0.5,
                                                          distance_function=lambda x, y: ((x - y) ** 2).sum(-1)),
   _triplet((4, 3)))

# --------------------------------------------------------------------------------------------- NLL / cross entropy

CE_WEIGHT = [0.3, 1.0, 2.0, 0.7]
for r in REDUCTIONS:
    mod(f"NLLLoss-{r}", lambda nn, r=r: nn.NLLLoss(reduction=r), _log_probs_idx((5, 4)))
    mod(f"NLLLoss-{r}-weight-ignore", lambda nn, r=r: nn.NLLLoss(weight=tensor(nn, CE_WEIGHT), ignore_index=1,
                                                                 reduction=r),
        _log_probs_idx((6, 4)))
    mod(f"NLLLoss-{r}-kdim", lambda nn, r=r: nn.NLLLoss(reduction=r), _log_probs_idx((2, 4, 3, 2), ignore=-100,
                                                                                        n_ignore=3))
    mod(f"NLLLoss-{r}-kdim-weight", lambda nn, r=r: nn.NLLLoss(weight=tensor(nn, CE_WEIGHT), reduction=r),
        _log_probs_idx((2, 4, 3), ignore=-100, n_ignore=1))
mod("NLLLoss-unbatched-target1", lambda nn: nn.NLLLoss(reduction="none"),
    lambda rng: (rng.standard_normal(4), np.array([3], dtype=np.int64)))
mod("NLLLoss-all-ignored", lambda nn: nn.NLLLoss(ignore_index=2),
    lambda rng: (rng.standard_normal((3, 4)), np.full(3, 2, dtype=np.int64)))
mod("NLLLoss-empty-batch", lambda nn: nn.NLLLoss(), lambda rng: (np.zeros((0, 4)), np.zeros(0, dtype=np.int64)))
mod("NLLLoss-empty-batch-sum", lambda nn: nn.NLLLoss(reduction="sum"),
    lambda rng: (np.zeros((0, 4, 2)), np.zeros((0, 2), dtype=np.int64)))
mod("NLLLoss-legacy", lambda nn: nn.NLLLoss(size_average=False, ignore_index=0), _log_probs_idx((5, 3)))

for r in REDUCTIONS:
    mod(f"CrossEntropyLoss-{r}", lambda nn, r=r: nn.CrossEntropyLoss(reduction=r), _logits_idx((5, 4)))
    mod(f"CrossEntropyLoss-{r}-weight", lambda nn, r=r: nn.CrossEntropyLoss(weight=tensor(nn, CE_WEIGHT), reduction=r),
        _logits_idx((6, 4)))
    mod(f"CrossEntropyLoss-{r}-ignore", lambda nn, r=r: nn.CrossEntropyLoss(reduction=r),
        _logits_idx((6, 4), ignore=-100, n_ignore=2))
    mod(f"CrossEntropyLoss-{r}-ignore-class", lambda nn, r=r: nn.CrossEntropyLoss(ignore_index=3, reduction=r),
        _logits_idx((6, 4)))
    for ls in (0.1, 0.5, 1.0):
        mod(f"CrossEntropyLoss-{r}-smooth{ls}", lambda nn, r=r, ls=ls: nn.CrossEntropyLoss(label_smoothing=ls,
                                                                                           reduction=r),
            _logits_idx((6, 4), ignore=-100, n_ignore=1))
    mod(f"CrossEntropyLoss-{r}-smooth-weight-ignore",
        lambda nn, r=r: nn.CrossEntropyLoss(weight=tensor(nn, CE_WEIGHT), ignore_index=0, label_smoothing=0.2,
                                            reduction=r),
        _logits_idx((7, 4)))
    mod(f"CrossEntropyLoss-{r}-kdim", lambda nn, r=r: nn.CrossEntropyLoss(reduction=r),
        _logits_idx((2, 4, 3, 2), ignore=-100, n_ignore=2))
    mod(f"CrossEntropyLoss-{r}-kdim-weight-smooth",
        lambda nn, r=r: nn.CrossEntropyLoss(weight=tensor(nn, CE_WEIGHT), label_smoothing=0.3, reduction=r),
        _logits_idx((2, 4, 5), ignore=-100, n_ignore=2))
    mod(f"CrossEntropyLoss-{r}-probs", lambda nn, r=r: nn.CrossEntropyLoss(reduction=r), _logits_prob((5, 4)))
    mod(f"CrossEntropyLoss-{r}-probs-weight-smooth",
        lambda nn, r=r: nn.CrossEntropyLoss(weight=tensor(nn, CE_WEIGHT), label_smoothing=0.25, reduction=r),
        _logits_prob((5, 4)))
    mod(f"CrossEntropyLoss-{r}-probs-kdim", lambda nn, r=r: nn.CrossEntropyLoss(reduction=r),
        _logits_prob((2, 4, 3, 2)))
    mod(f"CrossEntropyLoss-{r}-probs-unbatched", lambda nn, r=r: nn.CrossEntropyLoss(reduction=r),
        _logits_prob((4,)))
mod("CrossEntropyLoss-uint8-target", lambda nn: nn.CrossEntropyLoss(),
    lambda rng: (rng.standard_normal((3, 4)), np.array([0, 3, 1], dtype=np.uint8)))
mod("CrossEntropyLoss-negative-smoothing", lambda nn: nn.CrossEntropyLoss(label_smoothing=-0.5),
    _logits_idx((3, 4)))
mod("CrossEntropyLoss-all-ignored", lambda nn: nn.CrossEntropyLoss(label_smoothing=0.1),
    lambda rng: (rng.standard_normal((3, 4)), np.full(3, -100, dtype=np.int64)))
mod("CrossEntropyLoss-empty-batch", lambda nn: nn.CrossEntropyLoss(),
    lambda rng: (np.zeros((0, 4)), np.zeros(0, dtype=np.int64)))
mod("CrossEntropyLoss-empty-batch-probs", lambda nn: nn.CrossEntropyLoss(weight=tensor(nn, CE_WEIGHT)),
    lambda rng: (np.zeros((0, 4)), np.zeros((0, 4))))
mod("CrossEntropyLoss-1x1-spatial", lambda nn: nn.CrossEntropyLoss(reduction="none"), _logits_idx((2, 4, 1, 1)))
mod("CrossEntropyLoss-legacy", lambda nn: nn.CrossEntropyLoss(reduce=False, weight=tensor(nn, CE_WEIGHT)),
    _logits_idx((3, 4)))
fn("cross_entropy-weight-arg", lambda F, x, t, w: F.cross_entropy(x, t, w, label_smoothing=0.1),
   lambda rng: (*_logits_idx((5, 3))(rng), rng.uniform(0.1, 2, 3)))
fn("nll_loss-weight-arg", lambda F, x, t, w: F.nll_loss(x, t, w, reduction="sum"),
   lambda rng: (*_log_probs_idx((5, 3))(rng), rng.uniform(0.1, 2, 3)))

# ---------------------------------------------------------------------------------------------------------- CTC

for r in REDUCTIONS:
    mod(f"CTCLoss-{r}-padded", lambda nn, r=r: nn.CTCLoss(reduction=r), _ctc_inputs(8, 3, 5, 3, in_lens=[8, 6, 5]))
    mod(f"CTCLoss-{r}-concat", lambda nn, r=r: nn.CTCLoss(reduction=r),
        _ctc_inputs(8, 3, 5, 3, concat=True, in_lens=[7, 8, 4]))
    mod(f"CTCLoss-{r}-blank-last", lambda nn, r=r: nn.CTCLoss(blank=4, reduction=r), _ctc_inputs(6, 2, 5, 2,
                                                                                                 blank=4))
    for zi in (False, True):
        mod(f"CTCLoss-{r}-impossible-zero_inf{zi}", lambda nn, r=r, zi=zi: nn.CTCLoss(reduction=r, zero_infinity=zi),
            _ctc_inputs(4, 3, 4, 4, in_lens=[4, 2, 4], tgt_lens=[2, 3, 4]))
mod("CTCLoss-repeats", lambda nn: nn.CTCLoss(reduction="none"),
    lambda rng: (np.log(_softmax(rng.standard_normal((6, 2, 3)), 2)), np.array([[1, 1, 2], [2, 2, 2]]),
                 np.array([6, 6]), np.array([3, 3])))
mod("CTCLoss-empty-targets-and-inputs", lambda nn: nn.CTCLoss(reduction="none"),
    _ctc_inputs(5, 4, 4, 2, in_lens=[5, 0, 0, 3], tgt_lens=[0, 0, 1, 2]))
mod("CTCLoss-empty-targets-mean", lambda nn: nn.CTCLoss(),
    _ctc_inputs(5, 3, 4, 2, concat=True, in_lens=[5, 2, 3], tgt_lens=[0, 2, 0]))
mod("CTCLoss-unnormalized", lambda nn: nn.CTCLoss(reduction="sum"),
    lambda rng: (rng.standard_normal((5, 2, 4)), np.array([[1, 2], [3, 3]]), np.array([5, 4]), np.array([2, 1])))
fn("ctc_loss-tuple-lengths", lambda F, lp, t: F.ctc_loss(lp, t, (6, 4), (2, 1), reduction="none"),
   lambda rng: (np.log(_softmax(rng.standard_normal((6, 2, 4)), 2)), np.array([1, 2, 3])))
fn("ctc_loss-int32", lambda F, lp, t, il, tl: F.ctc_loss(lp, t, il, tl, blank=1),
   lambda rng: (np.log(_softmax(rng.standard_normal((6, 2, 4)), 2)), np.array([[0, 2], [3, 3]], np.int32),
                np.array([6, 5], np.int32), np.array([2, 2], np.int32)))

# ---------------------------------------------------------------------------------------------------- errors

_F = lambda name: (lambda nn: getattr(nn.functional, name))  # noqa: E731

err("CrossEntropyLoss-target-too-big", lambda nn: nn.CrossEntropyLoss(),
    lambda rng: (rng.standard_normal((2, 4)), np.array([0, 4])), r"^CrossEntropyLoss\(\) expected class indices in "
                                                                 r"\[0, 3\] or ignore_index -100, got target value 4")
err("CrossEntropyLoss-target-negative", lambda nn: nn.CrossEntropyLoss(label_smoothing=0.1),
    lambda rng: (rng.standard_normal((2, 4)), np.array([0, -1])), r"class indices in \[0, 3\].*got target value -1")
err("cross_entropy-kdim-target-too-big", _F("cross_entropy"),
    lambda rng: (rng.standard_normal((2, 3, 2)), np.array([[0, 1], [2, 3]])), r"got target value 3")
err("cross_entropy-probs-wrong-shape", _F("cross_entropy"),
    lambda rng: (rng.standard_normal((2, 4)), rng.uniform(size=(2, 3))),
    r"class probabilities of shape \(2, 4\) or integer class indices of shape \(2,\), got a floating-point target "
    r"of shape \(2, 3\)")
err("cross_entropy-float-index-target", _F("cross_entropy"),
    lambda rng: (rng.standard_normal((2, 4)), np.array([0.0, 1.0])), r"integer class indices.*floating-point target")
err("cross_entropy-int-probs", _F("cross_entropy"),
    lambda rng: (rng.standard_normal((2, 4)), np.zeros((2, 4), dtype=np.int64)),
    r"floating-point class-probability target.*got dtype int64")
err("cross_entropy-target-shape", _F("cross_entropy"),
    lambda rng: (rng.standard_normal((2, 4)), np.array([0, 1, 2])), r"target of shape \(2,\), got \(3,\)")
err("cross_entropy-kdim-target-shape", _F("cross_entropy"),
    lambda rng: (rng.standard_normal((2, 4, 3)), np.zeros((2, 4), dtype=np.int64)),
    r"target of shape \(2, 3\), got \(2, 4\)")
err("cross_entropy-scalar-input", _F("cross_entropy"), lambda rng: (np.array(1.0), np.array(0)),
    r"input of shape \(C,\), \(N, C\) or \(N, C, d1, \.\.\.\), got \(\)")
err("cross_entropy-int-input", _F("cross_entropy"), lambda rng: (np.zeros((2, 3), np.int64), np.array([0, 1])),
    r"floating-point input, got dtype int64")
err("CrossEntropyLoss-weight-shape", lambda nn: nn.CrossEntropyLoss(weight=np.ones(3, np.float32)),
    lambda rng: (rng.standard_normal((2, 4)), np.array([0, 1])), r"weight of shape \(4,\).*got \(3,\)")
err("CrossEntropyLoss-probs-ignore-index", lambda nn: nn.CrossEntropyLoss(ignore_index=1),
    lambda rng: (rng.standard_normal((2, 4)), rng.uniform(size=(2, 4))), r"ignore_index < 0.*got 1")
err("CrossEntropyLoss-smoothing-too-big", lambda nn: nn.CrossEntropyLoss(label_smoothing=1.5),
    lambda rng: (rng.standard_normal((2, 4)), np.array([0, 1])), r"label_smoothing in \[0.0, 1.0\], got 1.5")
err("CrossEntropyLoss-bad-reduction", lambda nn: nn.CrossEntropyLoss(reduction="avg"),
    lambda rng: (rng.standard_normal((2, 4)), np.array([0, 1])), r"reduction 'none', 'mean', 'sum', got 'avg'")
err("NLLLoss-float-target", lambda nn: nn.NLLLoss(), lambda rng: (rng.standard_normal((2, 4)), np.array([0.0, 1.0])),
    r"^NLLLoss\(\) expected integer class-index target, got dtype float64")
err("NLLLoss-out-of-range", lambda nn: nn.NLLLoss(ignore_index=7),
    lambda rng: (rng.standard_normal((3, 4)), np.array([0, 7, 5])), r"\[0, 3\] or ignore_index 7, got target value 5")
err("NLLLoss-unbatched-target-shape", lambda nn: nn.NLLLoss(),
    lambda rng: (rng.standard_normal(4), np.array([0, 1])),
    r"target of shape \(\) for input of shape \(C,\), got \(2,\)")
err("BCELoss-input-out-of-range", lambda nn: nn.BCELoss(),
    lambda rng: (np.array([0.5, 1.5]), np.array([1.0, 0.0])), r"^BCELoss\(\) expected input values in \[0, 1\], got "
                                                              r"input value 1.5")
err("BCELoss-target-out-of-range", lambda nn: nn.BCELoss(),
    lambda rng: (np.array([0.5, 0.5]), np.array([1.0, -0.5])), r"target values in \[0, 1\], got target value -0.5")
err("BCELoss-shape", lambda nn: nn.BCELoss(), lambda rng: (np.full((2, 3), 0.5), np.full(3, 0.5)),
    r"target of the input's shape \(2, 3\), got \(3,\)")
err("BCELoss-weight-shape", lambda nn: nn.BCELoss(weight=np.ones((2, 3, 1), np.float32)),
    lambda rng: (np.full((2, 3), 0.5), np.full((2, 3), 0.5)), r"weight broadcastable to \(2, 3\), got \(2, 3, 1\)")
err("BCEWithLogitsLoss-shape", lambda nn: nn.BCEWithLogitsLoss(),
    lambda rng: (np.zeros((2, 3)), np.zeros((2, 1))), r"target of the input's shape \(2, 3\), got \(2, 1\)")
err("BCEWithLogitsLoss-pos_weight", lambda nn: nn.BCEWithLogitsLoss(pos_weight=np.ones(2, np.float32)),
    lambda rng: (np.zeros((2, 3)), np.zeros((2, 3))), r"pos_weight broadcastable to \(2, 3\), got \(2,\)")
err("BCEWithLogitsLoss-int-target", lambda nn: nn.BCEWithLogitsLoss(),
    lambda rng: (np.zeros((2, 3)), np.zeros((2, 3), np.int64)), r"floating-point target, got dtype int64")
err("MSELoss-not-broadcastable", lambda nn: nn.MSELoss(), lambda rng: (np.zeros((2, 3)), np.zeros((2, 4))),
    r"broadcastable shapes for input, target, got input \(2, 3\), target \(2, 4\)")
err("l1_loss-weight-shape", lambda nn: (lambda x, y, w: nn.functional.l1_loss(x, y, weight=w)),
    lambda rng: (np.zeros((2, 3)), np.zeros((2, 3)), np.ones(3)), r"weight of the input's shape \(2, 3\), got \(3,\)")
err("huber_loss-delta", lambda nn: (lambda x, y: nn.functional.huber_loss(x, y, delta=0.0)),
    lambda rng: (np.zeros(3), np.zeros(3)), r"delta > 0, got 0.0")
err("smooth_l1_loss-beta", lambda nn: nn.SmoothL1Loss(beta=-1.0),
    lambda rng: (np.zeros(3), np.zeros(3)), r"beta >= 0, got -1.0")
err("KLDivLoss-int-target", lambda nn: nn.KLDivLoss(), lambda rng: (np.zeros(3), np.zeros(3, np.int64)),
    r"floating-point target, got dtype int64")
err("KLDivLoss-reduction", lambda nn: nn.KLDivLoss(reduction="batch"),
    lambda rng: (np.zeros(3), np.zeros(3)), r"'batchmean', got 'batch'")
err("GaussianNLLLoss-var-shape", lambda nn: nn.GaussianNLLLoss(),
    lambda rng: (np.zeros((2, 3)), np.zeros((2, 3)), np.ones(3)), r"var of shape \(2, 3\), \(2,\) or .*got \(3,\)")
err("GaussianNLLLoss-negative-var", lambda nn: nn.GaussianNLLLoss(),
    lambda rng: (np.zeros((2, 3)), np.zeros((2, 3)), -np.ones((2, 3))), r"non-negative entries, got min\(var\) = -1")
err("MultiMarginLoss-target-range", lambda nn: nn.MultiMarginLoss(),
    lambda rng: (rng.standard_normal((3, 4)), np.array([0, 4, 1])), r"^MultiMarginLoss\(\) expected class indices "
                                                                    r"in \[0, 3\], got target value 4")
err("MultiMarginLoss-target-shape", lambda nn: nn.MultiMarginLoss(),
    lambda rng: (rng.standard_normal((3, 4)), np.zeros((3, 1), np.int64)), r"target of shape \(3,\).*got \(3, 1\)")
err("MultiMarginLoss-weight-size", lambda nn: nn.MultiMarginLoss(weight=np.ones(3, np.float32)),
    lambda rng: (rng.standard_normal((3, 4)), np.zeros(3, np.int64)), r"weight of shape \(4,\).*got \(3,\)")
err("MultiMarginLoss-3d-input", lambda nn: nn.MultiMarginLoss(),
    lambda rng: (rng.standard_normal((3, 4, 2)), np.zeros(3, np.int64)), r"\(N, C\) or \(C,\) with C > 0, got "
                                                                         r"\(3, 4, 2\)")
err("MultiLabelMarginLoss-target-range", lambda nn: nn.MultiLabelMarginLoss(),
    lambda rng: (rng.standard_normal((2, 3)), np.array([[0, 3, -1], [1, -1, 0]])), r"\[-1, 2\], got target value 3")
err("MultiLabelMarginLoss-target-shape", lambda nn: nn.MultiLabelMarginLoss(),
    lambda rng: (rng.standard_normal((2, 3)), np.zeros((2, 2), np.int64)), r"input's shape \(2, 3\), got \(2, 2\)")
err("TripletMarginLoss-ndim", lambda nn: nn.TripletMarginLoss(),
    lambda rng: (np.zeros((2, 3)), np.zeros(3), np.zeros((2, 3))), r"same number of dimensions, got anchor 2D, "
                                                                    r"positive 1D and negative 2D")
err("TripletMarginWithDistanceLoss-ndim", lambda nn: nn.TripletMarginWithDistanceLoss(),
    lambda rng: (np.zeros((2, 3)), np.zeros((2, 3)), np.zeros(3)), r"same number of dimensions")
err("MarginRankingLoss-ndim", lambda nn: nn.MarginRankingLoss(),
    lambda rng: (np.zeros(3), np.zeros((1, 3)), np.ones(3)), r"same number of dimensions, got input1 \(3,\), "
                                                               r"input2 \(1, 3\)")
err("CosineEmbeddingLoss-target-ndim", lambda nn: nn.CosineEmbeddingLoss(),
    lambda rng: (np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 1))), r"target of shape \(N,\) or \(\), got \(2, 1\)")
err("CosineEmbeddingLoss-input-ndim", lambda nn: nn.CosineEmbeddingLoss(),
    lambda rng: (np.ones(3), np.ones(3), np.ones(2)), r"input1 and input2 of shape \(N, D\)")
err("CosineEmbeddingLoss-batch", lambda nn: nn.CosineEmbeddingLoss(),
    lambda rng: (np.ones((3, 2)), np.ones((3, 2)), np.ones(2)), r"got samples \(3,\), target \(2,\)")


def _ctc_err(**over):
    def make(rng):
        lp, t, il, tl = _ctc_inputs(5, 2, 4, 2, tgt_lens=[2, 2])(rng)
        vals = dict(lp=lp, t=t, il=il, tl=tl)
        vals.update(over)
        return vals["lp"], vals["t"], vals["il"], vals["tl"]
    return make


err("CTCLoss-target-range", lambda nn: nn.CTCLoss(), _ctc_err(t=np.array([[1, 4], [2, 3]])),
    r"^CTCLoss\(\) expected class indices in \[0, 3\], got target value 4")
err("CTCLoss-input-length", lambda nn: nn.CTCLoss(), _ctc_err(il=np.array([6, 5])),
    r"input_lengths in \[0, 5\], got value 6")
err("CTCLoss-target-length", lambda nn: nn.CTCLoss(), _ctc_err(tl=np.array([3, 1])),
    r"target_lengths at most the padded target length 2, got target length 3")
err("CTCLoss-lengths-batch", lambda nn: nn.CTCLoss(), _ctc_err(tl=np.array([1, 1, 1])),
    r"target_lengths of shape \(2,\) \(batch size\), got \(3,\)")
err("CTCLoss-float-targets", lambda nn: nn.CTCLoss(), _ctc_err(t=np.array([[1.0, 2.0], [2.0, 3.0]])),
    r"integer targets, got dtype float64")
err("CTCLoss-concat-total", lambda nn: nn.CTCLoss(), _ctc_err(t=np.array([1, 2, 3])),
    r"concatenated targets of shape \(4,\) = sum\(target_lengths\), got \(3,\)")
err("CTCLoss-blank", lambda nn: nn.CTCLoss(blank=4), _ctc_err(), r"blank in \[0, 3\], got 4")
err("CTCLoss-rank", lambda nn: nn.CTCLoss(), _ctc_err(lp=np.zeros((5, 2, 4, 1))),
    r"log_probs of shape \(T, N, C\) or \(T, C\), got \(5, 2, 4, 1\)")


# --------------------------------------------------------------------------------------- 0-d and unbatched

mod("L1Loss-scalar", lambda nn: nn.L1Loss(), lambda rng: (np.array(0.3), np.array(-0.2)))
mod("BCELoss-scalar", lambda nn: nn.BCELoss(), lambda rng: (np.array(0.3), np.array(1.0)))
mod("KLDivLoss-batchmean-scalar", lambda nn: nn.KLDivLoss(reduction="batchmean"),
    lambda rng: (np.array(-0.3), np.array(0.4)))
mod("MarginRankingLoss-scalar", lambda nn: nn.MarginRankingLoss(margin=0.1),
    lambda rng: (np.array(0.3), np.array(0.5), np.array(1.0)))
mod("CosineEmbeddingLoss-unbatched", lambda nn: nn.CosineEmbeddingLoss(reduction="none"),
    lambda rng: (rng.standard_normal(4), rng.standard_normal(4), np.array(-1.0)))
mod("MultiLabelMarginLoss-scalar", lambda nn: nn.MultiLabelMarginLoss(),
    lambda rng: (np.array(0.5), np.array(0, dtype=np.int64)))
mod("MultiMarginLoss-scalar", lambda nn: nn.MultiMarginLoss(), lambda rng: (np.array(0.5), np.array(0)))
mod("MultiMarginLoss-1d", lambda nn: nn.MultiMarginLoss(p=2, weight=tensor(nn, [0.5, 1.0, 2.0, 0.3, 1.0]),
                                                        reduction="none"),
    lambda rng: (rng.standard_normal(5), np.array(2, dtype=np.int64)))
for r in REDUCTIONS:
    mod(f"NLLLoss-{r}-unbatched", lambda nn, r=r: nn.NLLLoss(weight=tensor(nn, CE_WEIGHT), reduction=r),
        _log_probs_idx((4,)))
    mod(f"CrossEntropyLoss-{r}-unbatched", lambda nn, r=r: nn.CrossEntropyLoss(reduction=r), _logits_idx((4,)))
    mod(f"CrossEntropyLoss-{r}-unbatched-smooth-weight",
        lambda nn, r=r: nn.CrossEntropyLoss(weight=tensor(nn, CE_WEIGHT), label_smoothing=0.2, reduction=r),
        _logits_idx((4,)))
    mod(f"CTCLoss-{r}-unbatched", lambda nn, r=r: nn.CTCLoss(reduction=r),
        lambda rng: (np.log(_softmax(rng.standard_normal((7, 5)), 1)), np.array([1, 3, 3, 2]), np.array(7),
                     np.array(4)))
mod("NLLLoss-unbatched-ignored", lambda nn: nn.NLLLoss(), lambda rng: (rng.standard_normal(4), np.array(-100)))
mod("CTCLoss-unbatched-padded", lambda nn: nn.CTCLoss(reduction="none"),
    lambda rng: (np.log(_softmax(rng.standard_normal((7, 5)), 1)), np.array([[1, 3, 4]]), np.array(6),
                 np.array(2)))
