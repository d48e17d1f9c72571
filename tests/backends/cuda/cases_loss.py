"""Loss cases (``backends/cuda/lower_loss.py``) shared by the simulator parity tests (``test_losses.py``) and the PTX
compile check (``ptx_check.py``).

``LOSS_CASES``: (name, make) with ``make(dtype) -> (model, inputs)`` on tiny shapes; float32 and float64 both run.
Every reduction, optional weight, broadcast or strided operand and option of each loss appears at least once."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

import nngraph.nn.functional as F

try:
    from .helpers import Fn
except ImportError:  # run as a script by ptx_check.py
    from helpers import Fn  # type: ignore[no-redef]

REDUCTIONS = ("none", "sum", "mean")


def _r(rng: np.random.Generator, dtype: Any, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


def _p(rng: np.random.Generator, dtype: Any, *shape: int) -> np.ndarray:
    """Probabilities in [0.1, 0.9]."""
    return (rng.random(shape) * 0.8 + 0.1).astype(dtype)


def bce(dtype: Any) -> tuple:
    rng = np.random.default_rng(51)
    x, y = _p(rng, dtype, 3, 4), _p(rng, dtype, 3, 4)
    y[0, :2] = [0.0, 1.0]  # hard targets
    w, wr = (rng.random(4) + 0.5).astype(dtype), (rng.random((3, 1)) + 0.5).astype(dtype)

    def f(m, x, y, w, wr):  # noqa: ANN001, ANN202
        return (F.binary_cross_entropy(x, y), F.binary_cross_entropy(x, y, weight=w, reduction="sum"),
                F.binary_cross_entropy(x, y, weight=wr, reduction="none"),
                F.binary_cross_entropy(x.T, y.T, reduction="none"), F.binary_cross_entropy(x[0], y[1]))
    return Fn(f), (x, y, w, wr)


def bce_edges(dtype: Any) -> tuple:
    """Probabilities 0 and 1: each log is clamped at -100 (the simulator warns on log(0): run with warnings off)."""
    x = np.array([[0.0, 1.0, 0.0, 1.0], [0.5, 0.25, 1.0, 0.0]], dtype)
    y = np.array([[0.0, 1.0, 1.0, 0.0], [0.5, 1.0, 0.3, 0.7]], dtype)

    def f(m, x, y):  # noqa: ANN001, ANN202
        return F.binary_cross_entropy(x, y, reduction="none"), F.binary_cross_entropy(x, y, reduction="sum")
    return Fn(f), (x, y)


def gaussian_nll(dtype: Any) -> tuple:
    rng = np.random.default_rng(52)
    x, y = _r(rng, dtype, 3, 4), _r(rng, dtype, 3, 4)
    var, var_rows = _p(rng, dtype, 3, 4), _p(rng, dtype, 3)
    var[1, 2] = 0.0  # clamped to eps

    def f(m, x, y, var, var_rows):  # noqa: ANN001, ANN202
        return (F.gaussian_nll_loss(x, y, var), F.gaussian_nll_loss(x, y, var, full=True, reduction="sum"),
                F.gaussian_nll_loss(x, y, var_rows, reduction="none"),  # one variance per sample
                F.gaussian_nll_loss(x, y, var_rows[:, None], full=True, eps=0.05, reduction="none"),
                F.gaussian_nll_loss(x, y, var[:1], eps=1e-3),  # broadcast over the batch
                F.gaussian_nll_loss(x.T, y.T, 0.7, full=True, reduction="none"))  # a float variance
    return Fn(f), (x, y, var, var_rows)


def cosine_embedding(dtype: Any) -> tuple:
    rng = np.random.default_rng(53)
    a, b = _r(rng, dtype, 4, 5), _r(rng, dtype, 4, 5)
    b[2] = 0.0  # a zero vector: cos = 0
    t = np.array([1, -1, -1, 0])  # 0: no loss

    def f(m, a, b, t):  # noqa: ANN001, ANN202
        return (F.cosine_embedding_loss(a, b, t), F.cosine_embedding_loss(a, b, t, margin=-0.2, reduction="none"),
                F.cosine_embedding_loss(a, b[:1], t, margin=0.3, reduction="sum"),  # broadcast input2
                F.cosine_embedding_loss(a.T[:, :4].T, b, t.astype(a.dtype), reduction="none"),  # strided, float target
                F.cosine_embedding_loss(a[0], b[1], np.array(-1), reduction="none"),  # unbatched
                F.cosine_embedding_loss(a, b, t[1:2]))  # broadcast target
    return Fn(f), (a, b, t)


def multilabel_soft_margin(dtype: Any) -> tuple:
    rng = np.random.default_rng(54)
    x = _r(rng, dtype, 3, 4)
    y = (rng.random((3, 4)) > 0.5).astype(dtype)
    w, wf = (rng.random(4) + 0.5).astype(dtype), (rng.random((3, 4)) + 0.5).astype(dtype)

    def f(m, x, y, w, wf):  # noqa: ANN001, ANN202
        return (F.multilabel_soft_margin_loss(x, y), F.multilabel_soft_margin_loss(x, y, weight=w, reduction="sum"),
                F.multilabel_soft_margin_loss(x, y, weight=wf, reduction="none"),
                F.multilabel_soft_margin_loss(x.T, y.T, reduction="none"),  # strided
                F.multilabel_soft_margin_loss(x, y[0], reduction="none"),  # broadcast target
                F.multilabel_soft_margin_loss(x[1], wf[0] * 0.5, reduction="none"))  # unbatched, soft target
    return Fn(f), (x, y, w, wf)


def multilabel_margin(dtype: Any) -> tuple:
    rng = np.random.default_rng(55)
    x = _r(rng, dtype, 5, 5)
    t = np.array([[3, 0, -1, 1, 1],  # targets 3, 0; entries after -1 are ignored
                  [1, 2, 3, 4, 0],  # every class a target: no loss
                  [-1, 2, 0, 0, 0],  # no target
                  [2, 2, -1, -1, 4],  # a repeated target counts twice
                  [4, -1, 0, 0, 0]])

    def f(m, x, t):  # noqa: ANN001, ANN202
        return (F.multilabel_margin_loss(x, t), F.multilabel_margin_loss(x, t, reduction="sum"),
                F.multilabel_margin_loss(x, t, reduction="none"),
                F.multilabel_margin_loss(x.T, t, reduction="none"),  # strided input
                F.multilabel_margin_loss(x[0], t[3], reduction="none"))  # unbatched: a 0-d loss
    return Fn(f), (x, t)


def multi_margin(dtype: Any) -> tuple:
    rng = np.random.default_rng(56)
    x = _r(rng, dtype, 4, 5)
    t = np.array([1, 4, 0, 4])
    w = (rng.random(5) + 0.5).astype(dtype)

    def f(m, x, t, w):  # noqa: ANN001, ANN202
        return (F.multi_margin_loss(x, t), F.multi_margin_loss(x, t, p=2, reduction="sum"),
                F.multi_margin_loss(x, t, weight=w, margin=0.5, reduction="none"),
                F.multi_margin_loss(x, t, p=2, weight=w),
                F.multi_margin_loss(x.T[:4], t % 4, reduction="none"),  # a transposed view
                F.multi_margin_loss(x[0], t[:1], reduction="none"),  # unbatched, target (1,)
                F.multi_margin_loss(x[1], t[1], p=2, weight=w, reduction="none"))  # target ()
    return Fn(f), (x, t, w)


def triplet_margin(dtype: Any) -> tuple:
    rng = np.random.default_rng(57)
    a, p, n = _r(rng, dtype, 3, 4), _r(rng, dtype, 3, 4), _r(rng, dtype, 3, 4)

    def f(m, a, p, n):  # noqa: ANN001, ANN202
        return (F.triplet_margin_loss(a, p, n), F.triplet_margin_loss(a, p, n, p=1, reduction="none"),
                F.triplet_margin_loss(a, p, n, p=3, margin=2.0, reduction="sum"),
                F.triplet_margin_loss(a, p, n, p=np.inf, reduction="none"),
                F.triplet_margin_loss(a, p, n, swap=True, eps=0.1, reduction="none"),
                F.triplet_margin_loss(a, n, p, p=1.5, swap=True, eps=0.0, reduction="none"),
                F.triplet_margin_loss(a, p, n[:1], margin=0.5, reduction="none"),  # broadcast negative
                F.triplet_margin_loss(a.T[:, :2].T, p[1:2], n[:1], p=np.inf, swap=True),  # strided, broadcast
                F.triplet_margin_loss(a[0], p[0], n[0], reduction="none"))  # unbatched: a 0-d loss
    return Fn(f), (a, p, n)


def _log_probs(rng: np.random.Generator, dtype: Any, *shape: int) -> np.ndarray:
    x = rng.standard_normal(shape)
    return (x - np.log(np.sum(np.exp(x), axis=-1, keepdims=True))).astype(dtype)


def ctc_padded(dtype: Any) -> tuple:
    """Padded targets: repeats, a zero-length target, a zero input length (infinite loss) and an alignment too
    long for its input (infinite loss), every reduction with and without zero_infinity, blank != 0, int32 lengths."""
    rng = np.random.default_rng(58)
    lp = _log_probs(rng, dtype, 6, 5, 5)
    tg = np.array([[1, 1, 2], [3, 0, 0], [2, 4, 2], [1, 2, 3], [0, 0, 0]])
    il, tl = np.array([6, 0, 5, 2, 4]), np.array([3, 1, 3, 3, 0])
    tg_b = np.array([[0, 1, 0], [3, 3, 3], [2, 2, 1], [0, 0, 0], [1, 3, 1]])  # blank 4: classes 0..3 are labels

    def f(m, lp, tg, il, tl, tg_b):  # noqa: ANN001, ANN202
        out = tuple(F.ctc_loss(lp, tg, il, tl, reduction=r, zero_infinity=z) for r in REDUCTIONS for z in (False, True))
        return out + (F.ctc_loss(lp, tg_b, il.astype(np.int32), tl.astype(np.int32), blank=4, zero_infinity=True,
                                 reduction="none"),
                      F.ctc_loss(lp[:, :2], tg_b[:2], (6, 5), (3, 2), blank=4))  # constant (tuple) lengths
    return Fn(f), (lp, tg, il, tl, tg_b)


def ctc_concat(dtype: Any) -> tuple:
    """Concatenated targets (zero lengths among them), a strided (T, N, C) view, unbatched (T, C) input."""
    rng = np.random.default_rng(59)
    lp = _log_probs(rng, dtype, 4, 7, 4)  # (N, T, C): the op sees a transposed view
    tg = np.array([1, 2, 2, 3, 1, 3, 1, 1])
    il, tl = np.array([7, 5, 6, 2]), np.array([3, 0, 4, 1])

    def f(m, lp, tg, il, tl):  # noqa: ANN001, ANN202
        lp_t = lp.transpose(1, 0, 2)
        return (tuple(F.ctc_loss(lp_t, tg, il, tl, reduction=r) for r in REDUCTIONS) +
                (F.ctc_loss(lp_t, tg, il, tl, blank=3, zero_infinity=True, reduction="none"),
                 F.ctc_loss(lp[0], tg[:3], np.array(7), np.array(3), reduction="none"),  # unbatched: 0-d loss
                 F.ctc_loss(lp_t, tg[:0], il, tl * 0, reduction="sum")))  # no targets at all
    return Fn(f), (lp, tg, il, tl)


LOSS_CASES: list[tuple[str, Callable[..., tuple]]] = [
    ("bce", bce), ("bce_edges", bce_edges), ("gaussian_nll", gaussian_nll), ("cosine_embedding", cosine_embedding),
    ("multilabel_soft_margin", multilabel_soft_margin), ("multilabel_margin", multilabel_margin),
    ("multi_margin", multi_margin), ("triplet_margin", triplet_margin), ("ctc_padded", ctc_padded),
    ("ctc_concat", ctc_concat),
]
