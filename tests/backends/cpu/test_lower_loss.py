"""CPU lowering of the losses and of the random ops: compiled results against eager execution (and against PyTorch
for the op-table samples), every loss compiled (no host step), value errors still raised, random ops on the host
exactly where they draw from nngraph's generator.

The loss op table (``tests/nn/opinfo/loss.py``: every loss, reduction, weights, ignore_index, label smoothing, K-dim
and empty inputs) is compiled in a few groups, one graph per group and dtype, so that each kernel compiles once."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
import nngraph.nn.functional as F
from nngraph.ir.interpreter import NodeExecutionError
from nngraph.ops import activation as A
from nngraph.ops import dropout as P
from nngraph.ops.registry import REGISTRY
from nngraph.runtime import CompiledModule
from tests.nn.opinfo import FuncSample
from tests.nn.opinfo import loss as table
from tests.trace.util import Fn, assert_same

torch = pytest.importorskip("torch")

from tests.nn.test_opinfo import build_pair, to_numpy, to_torch  # noqa: E402

FLOATS = [np.float32, np.float64]
LOSS_OPS = {"cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div",
            "binary_cross_entropy", "binary_cross_entropy_with_logits", "poisson_nll_loss", "gaussian_nll_loss",
            "soft_margin_loss", "multilabel_soft_margin_loss", "multilabel_margin_loss", "multi_margin_loss",
            "hinge_embedding_loss", "cosine_embedding_loss", "margin_ranking_loss", "triplet_margin_loss",
            "triplet_hinge", "loss_reduction", "ctc_loss"}
# Op-table groups by sample id prefix: one compiled graph per group and dtype.
GROUPS = {
    "regression": ("L1Loss", "MSELoss", "HuberLoss", "SmoothL1Loss", "l1_loss", "mse_loss", "huber_loss",
                   "smooth_l1_loss"),
    "likelihood": ("KLDivLoss", "PoissonNLLLoss", "GaussianNLLLoss"),
    "binary": ("BCELoss", "BCEWithLogitsLoss", "binary_cross_entropy_with_logits", "SoftMarginLoss",
               "MultiLabelSoftMarginLoss"),
    "margin": ("HingeEmbeddingLoss", "MarginRankingLoss", "CosineEmbeddingLoss", "MultiLabelMarginLoss",
               "MultiMarginLoss"),
    "triplet": ("TripletMarginLoss", "TripletMarginWithDistanceLoss", "triplet_margin_with_distance_loss"),
    "classification": ("NLLLoss", "CrossEntropyLoss", "cross_entropy", "nll_loss"),
    "ctc": ("CTCLoss", "ctc_loss"),
}


def _tol(dtype: type) -> dict:
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)


def _quiet() -> warnings.catch_warnings:
    """Legacy-argument deprecation warnings of the samples; numpy RuntimeWarnings stay errors (pyproject)."""
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    for category in (UserWarning, DeprecationWarning, FutureWarning):
        warnings.simplefilter("ignore", category)
    return ctx


def _host_ops(compiled: CompiledModule) -> list[str]:
    return [s.host.target for s in compiled.specializations[0].executable.steps if not callable(s)]


def check(fn, *inputs, host_ops: tuple = (), ops: tuple = (), rtol: float | None = None,
          atol: float | None = None, nan_inputs: bool = False, **compile_kw) -> CompiledModule:
    """Compile ``fn`` (a function or module) in eval mode, compare with eager execution; the ops left on the host
    are exactly ``host_ops`` and the optimized graph holds ``ops``. ``nan_inputs``: numpy's invalid-value warnings
    of the eager run (inf - inf, ...) are expected."""
    model = (fn if isinstance(fn, nn.Module) else Fn(fn)).eval()
    dtype = next((a.dtype for a in inputs if isinstance(a, np.ndarray) and a.dtype.kind == "f"), np.float64)
    tol = _tol(dtype)
    ctx = _quiet()
    if nan_inputs:
        warnings.simplefilter("ignore", RuntimeWarning)
    try:
        want = model(*inputs)
        compiled = nngraph.compile(model, **compile_kw)
        got = compiled(*inputs)
    finally:
        ctx.__exit__(None, None, None)
    assert sorted(_host_ops(compiled)) == sorted(host_ops)
    targets = {n.target for n in compiled.specializations[0].result.graph.nodes()}
    assert set(ops) <= targets, f"ops {set(ops) - targets} not in the graph"
    assert_same(got, want, rtol if rtol is not None else tol["rtol"], atol if atol is not None else tol["atol"])
    return compiled


# ------------------------------------------------------------------------------------------------- the op table
def _samples(group: str) -> list:
    out = []
    for s in table.MODULE_SAMPLES + table.FUNC_SAMPLES:
        if s.id.split("-")[0] not in GROUPS[group]:
            continue
        if "module-distance" in s.id and "cpu" not in REGISTRY["pairwise_distance"].lowerings:
            continue  # nn.PairwiseDistance: another op family's lowering
        out.append(s)
    return out


def test_groups_cover_the_op_table() -> None:
    grouped = {p for prefixes in GROUPS.values() for p in prefixes}
    assert {s.id.split("-")[0] for s in table.MODULE_SAMPLES + table.FUNC_SAMPLES} <= grouped


class _Batch(nn.Module):
    """Calls every sample of a group (modules built by ``make(nn)``, functions with ``nngraph.nn.functional``) on
    its slice of the array inputs; non-array inputs (a float variance, tuple lengths) are fixed."""

    def __init__(self, entries: list) -> None:
        super().__init__()
        self.losses = nn.ModuleList([m for _, m, _ in entries if m is not None])
        self.plan = [(s, m is not None, tuple(isinstance(v, np.ndarray) for v in values)) for s, m, values in entries]
        self.fixed = [[None if isinstance(v, np.ndarray) else v for v in values] for _, _, values in entries]

    def forward(self, *arrays: np.ndarray) -> tuple:
        outs, pos, k = [], 0, 0
        for (sample, is_module, is_array), fixed in zip(self.plan, self.fixed):
            args = []
            for a, v in zip(is_array, fixed):
                args.append(arrays[pos] if a else v)
                pos += a
            if is_module:
                outs.append(self.losses[k](*args))
                k += 1
            else:
                outs.append(sample.fn(F, *args))
        return tuple(outs)


def _cast(v, dtype):  # noqa: ANN001, ANN202
    return v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
@pytest.mark.parametrize("group", list(GROUPS))
def test_op_table(group: str, dtype: type) -> None:
    """Every loss sample of the op table, compiled: equal to eager execution and to PyTorch, nothing on the host."""
    entries, refs = [], []
    ctx = _quiet()
    try:
        for sample in _samples(group):
            if np.dtype(dtype) not in [np.dtype(d) for d in sample.dtypes]:
                continue
            values = tuple(_cast(v, dtype) for v in sample.inputs(np.random.default_rng(1)))
            with torch.no_grad():
                if isinstance(sample, FuncSample):
                    module = None
                    ref = sample.fn(torch.nn.functional, *to_torch(values))
                else:
                    module, tm = build_pair(sample, dtype, "eval")
                    ref = tm(*to_torch(values))
            entries.append((sample, module, values))
            refs.append(to_numpy(ref))
        assert entries
        model = _Batch(entries).eval()
        arrays = [v for _, _, values in entries for v in values if isinstance(v, np.ndarray)]
        want = model(*arrays)
        compiled = nngraph.compile(model)
        got = compiled(*arrays)
    finally:
        ctx.__exit__(None, None, None)
    assert _host_ops(compiled) == []
    assert {n.target for n in compiled.specializations[0].result.graph.nodes()} & LOSS_OPS
    for (sample, _, _), g, w, r in zip(entries, got, want, refs):
        assert_same(g, w, **_tol(dtype), where=f"{sample.id} (eager)")
        atol, rtol = sample.tolerance(dtype)
        np.testing.assert_allclose(g, r, atol=atol, rtol=rtol, equal_nan=True, err_msg=f"{sample.id} (torch)")


def test_every_loss_op_has_a_lowering() -> None:
    for name in LOSS_OPS:
        assert "cpu" in REGISTRY[name].lowerings, name


# ------------------------------------------------------------------------------------- numerics and layouts
@pytest.mark.parametrize("dtype", FLOATS)
def test_extreme_logits(dtype: type) -> None:
    """Logits of +-1e4 (log-sum-exp stability), against eager execution and PyTorch."""
    rng = np.random.default_rng(3)
    x = (rng.choice([-1e4, 1e4, 0.0, 3.0], size=(6, 5))).astype(dtype)
    x[0] = 1e4
    x[1] = -1e4
    t = rng.integers(0, 5, 6)
    probs = rng.dirichlet(np.ones(5), 6).astype(dtype)
    y = rng.uniform(0, 1, (6, 5)).astype(dtype)

    def fn(x, t, probs, y):  # noqa: ANN001, ANN202
        return (F.cross_entropy(x, t, reduction="none"), F.cross_entropy(x, t, label_smoothing=0.1),
                F.cross_entropy(x, probs, reduction="sum"), F.binary_cross_entropy_with_logits(x, y, reduction="none"),
                F.soft_margin_loss(x, 2 * y - 1, reduction="sum"), F.multilabel_soft_margin_loss(x, y),
                F.nll_loss(F.log_softmax(x, dim=1), t, reduction="none"))

    compiled = check(fn, x, t, probs, y, ops=("cross_entropy", "binary_cross_entropy_with_logits", "nll_loss"))
    got = compiled(x, t, probs, y)
    tt = to_torch((x, t, probs, y))
    with torch.no_grad():
        ref = (
            torch.nn.functional.cross_entropy(tt[0], tt[1], reduction="none"),
            torch.nn.functional.cross_entropy(tt[0], tt[1], label_smoothing=0.1),
            torch.nn.functional.cross_entropy(tt[0], tt[2], reduction="sum"),
            torch.nn.functional.binary_cross_entropy_with_logits(tt[0], tt[3], reduction="none"),
            torch.nn.functional.multilabel_soft_margin_loss(tt[0], tt[3]),
            torch.nn.functional.nll_loss(torch.log_softmax(tt[0], 1), tt[1], reduction="none"))
    got = got[:4] + got[5:]  # torch's soft_margin_loss overflows to inf at 1e4 (ours is finite, as eager)
    for i, (g, r) in enumerate(zip(got, to_numpy(ref))):
        assert np.all(np.isfinite(g)), i
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-3 if dtype == np.float32 else 1e-9, err_msg=str(i))


@pytest.mark.parametrize("dtype", FLOATS)
def test_strided_and_broadcast_operands(dtype: type) -> None:
    """Transposed / sliced inputs and broadcast targets go through dense copies or strided loops."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 7)).astype(dtype)  # used as x.T: (7, 4), class axis strided
    t = rng.integers(0, 4, 7)
    a = rng.standard_normal((3, 8)).astype(dtype)
    b = rng.standard_normal((8,)).astype(dtype)

    def fn(x, t, a, b):  # noqa: ANN001, ANN202
        return (F.cross_entropy(x.T, t, reduction="none"), F.nll_loss(x.T[::2], t[::2]),
                F.mse_loss(a[:, ::2], b[::2]), F.l1_loss(a.T, a.T[::-1], reduction="sum"),
                F.triplet_margin_loss(a[:, :4], a[:, 4:], b[None, :4], swap=True, reduction="none"),
                F.cosine_embedding_loss(a[:, ::2], b[None, 1::2], np.array([1, -1, 1]), reduction="none"),
                F.multi_margin_loss(x.T, t, p=2, margin=0.3))

    check(fn, x, t, a, b, ops=("cross_entropy", "nll_loss", "triplet_margin_loss", "cosine_embedding_loss"))


def test_large_inputs_take_the_parallel_and_blocked_paths() -> None:
    """Rows longer than a summation block, enough work for the parallel loops (class losses, reduction, CTC)."""
    rng = np.random.default_rng(13)
    x = (3 * rng.standard_normal((40, 5000))).astype(np.float32)
    t = rng.integers(0, 5000, 40)
    t[3] = -100
    w = rng.uniform(0.5, 2, 5000).astype(np.float32)
    probs = rng.dirichlet(np.ones(5000), 40).astype(np.float32)
    lp = np.log(rng.dirichlet(np.ones(6), (64, 8))).astype(np.float32)
    tg = rng.integers(1, 6, (8, 64))
    lens = rng.integers(10, 30, 8)

    def fn(x, t, w, probs, lp, tg, lens):  # noqa: ANN001, ANN202
        return (F.cross_entropy(x, t, w, label_smoothing=0.2, reduction="none"), F.cross_entropy(x, t),
                F.cross_entropy(x, probs, w), F.mse_loss(x, probs, reduction="sum"),
                F.ctc_loss(lp, tg, np.full(8, 64), lens, reduction="none"))

    check(fn, x, t, w, probs, lp, tg, lens, rtol=2e-5, atol=2e-5)


def test_nan_inf_propagate() -> None:
    x = np.array([[0.5, np.nan, 1.0], [np.inf, 0.0, -1.0], [-np.inf, -np.inf, -np.inf]], np.float32)
    t = np.array([0, 1, 2])
    y = np.array([[0.2, 0.3, np.nan], [1.0, np.inf, 0.0], [0.0, 1.0, 2.0]], np.float32)

    def fn(x, t, y):  # noqa: ANN001, ANN202
        return (F.cross_entropy(x, t, reduction="none"), F.nll_loss(x, t, reduction="none"),
                F.mse_loss(x, y, reduction="none"), F.huber_loss(x, y, reduction="none"),
                F.margin_ranking_loss(x[0], y[0], np.ones(3, np.float32), reduction="none"),
                F.hinge_embedding_loss(x, np.sign(y - 0.5), reduction="none"),
                F.triplet_margin_loss(x, y, y[::-1], p=np.inf, reduction="none"),
                F.multi_margin_loss(x, t, reduction="none"), F.multilabel_soft_margin_loss(x, y, reduction="none"))

    check(fn, x, t, y, nan_inputs=True)


def test_weighted_means_over_nothing() -> None:
    """'mean' over zero total weight is NaN (0 / 0) or inf, as numpy divides."""
    x = np.random.default_rng(5).standard_normal((3, 4))
    w = np.zeros((3, 4))
    t = np.array([1, 1, 1])

    def fn(x, w, t):  # noqa: ANN001, ANN202
        return (F.l1_loss(x, x + 1, weight=w), F.mse_loss(x, 2 * x, weight=w - 1),
                F.nll_loss(x, t, weight=np.array([1.0, 0.0, 2.0, 3.0])),
                F.cross_entropy(x, t, ignore_index=1, label_smoothing=0.3), F.kl_div(x, x[:0].sum() + x,
                                                                                     reduction="batchmean"))

    check(fn, x, w, t)


def test_loss_modules_compile() -> None:
    """A loss module compiled by itself, called with (input, target)."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((8, 5)).astype(np.float32)
    t = rng.integers(0, 5, 8)
    for module in (nn.CrossEntropyLoss(label_smoothing=0.1), nn.NLLLoss(reduction="sum"),
                   nn.MultiMarginLoss(weight=np.linspace(0.5, 2, 5).astype(np.float32))):
        check(module, x, t)
    check(nn.MSELoss(), x, x[::-1].copy(), ops=("mse_loss", "loss_reduction"))
    check(nn.BCELoss(weight=np.full(5, 0.5, np.float32)), 1 / (1 + np.exp(-x)), (x > 0).astype(np.float32),
          ops=("binary_cross_entropy",))


def test_fused_pointwise_losses() -> None:
    """Pointwise losses fuse with elementwise producers; binary_cross_entropy (which checks its input) inside a fused
    node is the one case left on the host."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 6))
    y = rng.uniform(0, 1, (4, 6))

    def fn(x, y):  # noqa: ANN001, ANN202
        return (F.mse_loss(np.tanh(x), y), F.smooth_l1_loss(x * 2, y, beta=0.5, reduction="none"),
                F.binary_cross_entropy_with_logits(x - 1, y))

    compiled = check(fn, x, y, ops=("fused",))
    fused = [n for n in compiled.specializations[0].result.graph.nodes() if n.target == "fused"]
    assert {s[0] for n in fused for s in n.attrs["steps"]} >= {"mse_loss", "smooth_l1_loss",
                                                                 "binary_cross_entropy_with_logits"}
    check(lambda x, y: F.binary_cross_entropy(1 / (1 + np.exp(-x)), y), x, y, host_ops=("fused",))


def test_unsupported_cases_stay_on_the_host() -> None:
    """float16 (computed in float32 by the reference, then rounded) runs the references."""
    rng = np.random.default_rng(14)
    x = rng.standard_normal((3, 4)).astype(np.float16)
    t = np.array([0, 3, 1])
    check(lambda x, t: (F.cross_entropy(x, t), F.mse_loss(x, x[::-1])), x, t,
          host_ops=("cross_entropy", "mse_loss", "loss_reduction"))


def test_value_errors_are_raised() -> None:
    """Checks the reference makes on values (class indices, probabilities, variances, lengths) still raise, naming
    the node, after the module compiled on valid input."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 4))
    p = rng.uniform(0.1, 0.9, (3, 4))
    lp = np.log(np.full((6, 2, 5), 0.2))
    cases = [
        (lambda x, t: F.cross_entropy(x, t), (x, np.array([0, 1, 2])), (x, np.array([0, 4, 1])),
         r"class indices in \[0, 3\].*got target value 4"),
        (lambda x, t: F.nll_loss(x, t, ignore_index=7), (x, np.array([0, 7, 2])), (x, np.array([0, 7, -1])),
         r"got target value -1"),
        (lambda x, t: F.multi_margin_loss(x, t), (x, np.array([0, 1, 2])), (x, np.array([0, 1, 9])),
         r"got target value 9"),
        (lambda x, t: F.multilabel_margin_loss(x, t), (x, np.zeros((3, 4), np.int64)),
         (x, np.full((3, 4), 4, np.int64)), r"target values in \[-1, 3\]"),
        (lambda x, y: F.binary_cross_entropy(x, y), (p, p), (p + 1, p), r"input values in \[0, 1\]"),
        (lambda x, y: F.binary_cross_entropy(x, y), (p, p), (p, p - 0.5), r"target values in \[0, 1\]"),
        (lambda x, v: F.gaussian_nll_loss(x, x, v), (x, p), (x, -p), r"non-negative entries"),
        (lambda lp, t, il, tl: F.ctc_loss(lp, t, il, tl), (lp, np.array([[1, 2], [3, 3]]), np.array([6, 5]),
                                                           np.array([2, 2])),
         (lp, np.array([[1, 2], [3, 3]]), np.array([6, 7]), np.array([2, 2])), r"input_lengths in \[0, 6\]"),
        (lambda lp, t, il, tl: F.ctc_loss(lp, t, il, tl), (lp, np.array([1, 2, 3, 3]), np.array([6, 5]),
                                                           np.array([2, 2])),
         (lp, np.array([1, 2, 3, 3]), np.array([6, 5]), np.array([2, 1])), r"concatenated targets of shape"),
        (lambda lp, t, il, tl: F.ctc_loss(lp, t, il, tl), (lp, np.array([[1, 2], [3, 3]]), np.array([6, 5]),
                                                           np.array([2, 2])),
         (lp, np.array([[1, 2], [3, 5]]), np.array([6, 5]), np.array([2, 2])), r"got target value 5"),
    ]
    for fn, good, bad, match in cases:
        compiled = check(fn, *good)
        with pytest.raises(NodeExecutionError, match=match):
            compiled(*bad)


def test_ctc_layouts_and_lengths() -> None:
    """Padded and concatenated targets, zero-length inputs and targets, repeats, impossible alignments."""
    rng = np.random.default_rng(9)
    lp = np.log(rng.dirichlet(np.ones(5), (7, 4)))
    padded = np.array([[1, 1, 2], [3, 0, 0], [2, 4, 2], [1, 2, 3]])
    il, tl = np.array([7, 0, 5, 2]), np.array([3, 0, 3, 3])
    concat = np.concatenate([padded[i, :tl[i]] for i in range(4)])

    def fn(lp, padded, concat, il, tl):  # noqa: ANN001, ANN202
        return tuple(F.ctc_loss(lp, tg, il, tl, blank=0, reduction=r, zero_infinity=z)
                     for tg in (padded, concat) for r in ("none", "mean", "sum") for z in (False, True))

    for dtype in FLOATS:
        check(fn, lp.astype(dtype), padded, concat, il, tl, ops=("ctc_loss",))


# --------------------------------------------------------------------------------------------------- random ops
def test_random_layers_in_eval_compile() -> None:
    """In eval mode the dropout family is the identity and RReLU a leaky ReLU: nothing random, nothing on the host."""
    x = np.random.default_rng(10).standard_normal((2, 3, 4)).astype(np.float32)
    model = nn.Sequential(nn.Dropout(0.3), nn.AlphaDropout(0.2), nn.FeatureAlphaDropout(0.1), nn.Dropout1d(0.5),
                          nn.RReLU(0.1, 0.3))
    for kw in ({}, {"disable": ("remove_dropout",)}, {"passes": ()}):  # nothing random is recorded in eval mode
        compiled = check(model, x, **kw)
        graph = compiled.specializations[0].result.graph
        assert not any(n.kind == "op" and REGISTRY[n.target].random for n in graph.nodes())
        np.testing.assert_allclose(compiled(x), np.where(x > 0, x, 0.2 * x), rtol=1e-6)


def test_random_ops_that_draw_stay_on_the_host() -> None:
    """F.dropout(training=True) and friends in an eval-mode forward draw from nngraph's generator on the host: the
    compiled module reproduces eager execution draw for draw under the same seed."""
    x = np.random.default_rng(11).standard_normal((4, 6)).astype(np.float32)

    def fn(x):  # noqa: ANN001, ANN202
        return (F.dropout(x, 0.5, training=True), F.alpha_dropout(x, 0.3, training=True),
                F.rrelu(x, training=True), F.gumbel_softmax(x, tau=0.5), F.dropout2d(x[None, None], 0.4, training=True))

    model = Fn(fn).eval()
    nngraph.manual_seed(123)
    want = model(x)
    state = nngraph._random.default_generator().bit_generator.state
    compiled = nngraph.compile(model, example_inputs=(x,))
    nngraph.manual_seed(123)
    got = compiled(x)
    assert sorted(_host_ops(compiled)) == sorted(["dropout", "alpha_dropout", "rrelu", "gumbel_softmax",
                                                  "feature_dropout"])
    assert_same(got, want)
    assert nngraph._random.default_generator().bit_generator.state == state  # the same number of draws


def test_random_ops_without_draws_compile() -> None:
    """Dropout with p = 1 (zeros; NaN stays NaN) and empty inputs need no random numbers: compiled."""
    x = np.array([[1.0, np.nan, -np.inf], [2.0, 0.0, 3.0]], np.float32)
    e = np.zeros((0, 3), np.float32)

    def fn(x, e):  # noqa: ANN001, ANN202
        return (F.dropout(x, 1.0, training=True), F.alpha_dropout(x, 1.0, training=True),
                F.feature_alpha_dropout(x[None], 1.0, training=True), P.dropout(e, p=0.5),
                A.rrelu(e, lower=0.1, upper=0.3), A.gumbel_softmax(e, tau=1.0, hard=False, axis=1))

    nngraph.manual_seed(5)
    state = nngraph._random.default_generator().bit_generator.state
    check(fn, x, e)
    assert nngraph._random.default_generator().bit_generator.state == state


def test_train_mode_runs_eager_with_the_same_masks() -> None:
    x = np.random.default_rng(12).standard_normal((3, 8)).astype(np.float32)
    model = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.RReLU())
    compiled = nngraph.compile(model.train())
    nngraph.manual_seed(7)
    want = model(x)
    nngraph.manual_seed(7)
    np.testing.assert_array_equal(compiled(x), want)
