"""Loss-specific tests: numerical stability at extreme logits, functional 0-d / unbatched cases against torch,
primitive shape rules, dtypes and error reporting (the op table in tests/nn/opinfo/loss.py covers the rest)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import nngraph.nn as nn
import nngraph.nn.functional as F
from nngraph.errors import InputError
from nngraph.ops import loss as ops
from nngraph.ops.registry import REGISTRY, Fusion, TensorSpec

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _t(a):
    return torch.from_numpy(np.array(a, copy=True))


def _strict():
    """Fail on overflow, invalid operations and division by zero (underflow to 0 is expected and harmless)."""
    return np.errstate(over="raise", invalid="raise", divide="raise", under="ignore")


BIG = 1e4


# ------------------------------------------------------------------------------------------------ stability


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_large_logits(dtype):
    x = np.array([[BIG, -BIG, 0.0], [-BIG, -BIG, BIG], [BIG, BIG, -BIG]], dtype=dtype)
    t = np.array([0, 0, 2])
    probs = np.array([[1.0, 0.0, 0.0], [0.5, 0.0, 0.5], [0.0, 0.0, 1.0]], dtype=dtype)
    w = np.array([1.0, 2.0, 0.5], dtype=dtype)
    with warnings.catch_warnings(), _strict():
        warnings.simplefilter("error")
        cases = {
            "index": (F.cross_entropy(x, t, reduction="none"), TF.cross_entropy(_t(x), _t(t), reduction="none")),
            "smooth": (F.cross_entropy(x, t, weight=w, label_smoothing=0.1, reduction="sum"),
                       TF.cross_entropy(_t(x), _t(t), weight=_t(w), label_smoothing=0.1, reduction="sum")),
            "probs": (F.cross_entropy(x, probs, reduction="none"),
                      TF.cross_entropy(_t(x), _t(probs), reduction="none")),
            "nll": (F.nll_loss(x, t, reduction="none"), TF.nll_loss(_t(x), _t(t), reduction="none")),
        }
    for name, (ours, ref) in cases.items():
        assert np.all(np.isfinite(ours)), name
        assert ours.dtype == dtype, name
        np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-6, err_msg=name)
    np.testing.assert_allclose(cases["index"][0], [0.0, 2 * BIG, 2 * BIG + np.log(2)], atol=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logistic_losses_large_logits(dtype):
    x = np.array([[BIG, -BIG], [-BIG, BIG], [0.0, 3.0]], dtype=dtype)
    y = np.array([[1.0, 0.0], [1.0, 0.0], [0.5, 1.0]], dtype=dtype)
    pm = np.array([[1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]], dtype=dtype)
    pos_weight = np.array([2.0, 0.5], dtype=dtype)
    with warnings.catch_warnings(), _strict():
        warnings.simplefilter("error")
        bce = F.binary_cross_entropy_with_logits(x, y, pos_weight=pos_weight, reduction="none")
        soft = F.soft_margin_loss(x, -pm, reduction="none")
        mlsm = F.multilabel_soft_margin_loss(x, y, reduction="none")
        sat = F.binary_cross_entropy(np.array([0.0, 1.0, 1.0], dtype), np.array([1.0, 0.0, 1.0], dtype),
                                     reduction="none")
    for name, v in {"bce_logits": bce, "soft_margin": soft, "multilabel_soft_margin": mlsm, "bce": sat}.items():
        assert np.all(np.isfinite(v)), name
        assert v.dtype == dtype, name
    ref = TF.binary_cross_entropy_with_logits(_t(x), _t(y), pos_weight=_t(pos_weight), reduction="none").numpy()
    np.testing.assert_allclose(bce, ref, rtol=1e-6)
    np.testing.assert_allclose(bce[:2], [[0.0, 0.0], [2 * BIG, BIG]], rtol=1e-6)
    # log(1 + exp(BIG)) = BIG; torch's own soft_margin_loss overflows to inf here.
    np.testing.assert_allclose(soft[:2], [[BIG, BIG], [0.0, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(mlsm[:2], [0.0, BIG], rtol=1e-6)
    np.testing.assert_allclose(sat, [100.0, 100.0, 0.0])


def test_ctc_and_kl_extreme_values_are_finite():
    rng = np.random.default_rng(0)
    lp = np.where(rng.uniform(size=(6, 2, 4)) < 0.5, -BIG, -0.1).astype(np.float32)
    lp[:, :, 0] = -0.01
    targets = np.array([[1, 2], [3, 3]])
    with warnings.catch_warnings(), _strict():
        warnings.simplefilter("error")
        ours = F.ctc_loss(lp, targets, np.array([6, 6]), np.array([2, 2]), reduction="none")
        kl = F.kl_div(np.array([-BIG, 0.0]), np.array([-BIG, 0.0]), log_target=True, reduction="sum")
        kl0 = F.kl_div(np.array([-BIG, 0.0]), np.array([0.0, 1.0]), reduction="sum")
    ref = TF.ctc_loss(_t(lp), _t(targets), _t(np.array([6, 6])), _t(np.array([2, 2])), reduction="none").numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-5)
    assert np.isfinite(kl) and np.isfinite(kl0)


# ---------------------------------------------------------------------------------------- 0-d and unbatched


def _scalar_cases():
    rng = np.random.default_rng(5)
    x4 = rng.standard_normal(4)
    lp = np.log(np.exp(x := rng.standard_normal((7, 5))) / np.exp(x).sum(1, keepdims=True))
    w = np.array([0.5, 1.0, 2.0, 0.3])
    i = np.array
    return [
        ("l1_loss-scalar", lambda f: f.l1_loss(i(0.3), i(-0.2))),
        ("bce-scalar", lambda f: f.binary_cross_entropy(i(0.3), i(1.0))),
        ("kl-batchmean-scalar", lambda f: f.kl_div(i(-0.3), i(0.4), reduction="batchmean")),
        ("margin_ranking-scalar", lambda f: f.margin_ranking_loss(i(0.3), i(0.5), i(1.0), margin=0.1)),
        ("cosine-unbatched", lambda f: f.cosine_embedding_loss(x4, x4[::-1].copy(), i(-1.0), reduction="none")),
        ("cosine-unbatched-pos", lambda f: f.cosine_embedding_loss(x4, x4[::-1].copy(), i(1.0))),
        ("multilabel_margin-scalar", lambda f: f.multilabel_margin_loss(i(0.5), i(0))),
        ("multi_margin-scalar", lambda f: f.multi_margin_loss(i(0.5), i(0))),
        ("multi_margin-1d", lambda f: f.multi_margin_loss(x4, i(2), p=2, weight=w, reduction="none")),
        ("nll-unbatched", lambda f: f.nll_loss(x4, i(3), reduction="none")),
        ("nll-unbatched-weight", lambda f: f.nll_loss(x4, i(1), weight=w)),
        ("nll-unbatched-ignored", lambda f: f.nll_loss(x4, i(-100))),
        ("ce-unbatched", lambda f: f.cross_entropy(x4, i(2), reduction="none")),
        ("ce-unbatched-smooth-weight", lambda f: f.cross_entropy(x4, i(2), weight=w, label_smoothing=0.3)),
        ("ce-unbatched-smooth-sum", lambda f: f.cross_entropy(x4, i(0), label_smoothing=0.3, reduction="sum")),
        ("ctc-unbatched", lambda f: f.ctc_loss(lp, i([1, 3, 3, 2]), i(7), i(4), reduction="none")),
        ("ctc-unbatched-mean", lambda f: f.ctc_loss(lp, i([1, 3, 3, 2]), i(7), i(4))),
        ("ctc-unbatched-padded", lambda f: f.ctc_loss(lp, i([[1, 3, 4]]), i(6), i(2), reduction="sum")),
    ]


@pytest.mark.parametrize("name,call", _scalar_cases(), ids=[c[0] for c in _scalar_cases()])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scalar_and_unbatched_match_torch(name, call, dtype):
    def conv(lib):
        def cast(a):
            a = np.asarray(a)
            a = a.astype(dtype) if a.dtype.kind == "f" else a
            return _t(a) if lib is TF else a

        class Lib:
            def __getattr__(self, attr):
                fn = getattr(lib, attr)
                return lambda *args, **kw: fn(*(cast(a) for a in args),
                                              **{k: cast(v) if isinstance(v, np.ndarray) else v
                                                 for k, v in kw.items()})
        return Lib()

    ours = call(conv(F))
    ref = call(conv(TF)).numpy()
    assert isinstance(ours, (np.ndarray, np.generic))
    assert np.shape(ours) == ref.shape
    assert np.asarray(ours).dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(ours, ref, rtol=tol, atol=tol, equal_nan=True)


# ------------------------------------------------------------------------------------------------ primitives


def test_loss_primitives_are_registered_with_fusion_classes():
    expected = {"loss_reduction": Fusion.REDUCTION, "l1_loss": Fusion.BROADCAST, "cross_entropy": Fusion.OPAQUE,
                "nll_loss": Fusion.OPAQUE, "ctc_loss": Fusion.OPAQUE, "cosine_embedding_loss": Fusion.REDUCTION,
                "binary_cross_entropy_with_logits": Fusion.BROADCAST}
    for name, fusion in expected.items():
        assert REGISTRY[name].fusion is fusion


def _shape_rule_cases():
    rng = np.random.default_rng(0)
    r = rng.standard_normal
    idx = np.array([[0, 2], [1, 1]])
    lp = np.log(np.full((5, 2, 4), 0.25))
    return [
        (ops.l1_loss, (r((2, 3)), r(3), None), {}),
        (ops.huber_loss, (r((2, 3)), r((2, 3)), r((2, 3))), {"delta": 1.0}),
        (ops.gaussian_nll_loss, (r((2, 3)), r((2, 3)), np.ones((2, 1))), {"full": True, "eps": 1e-6}),
        (ops.binary_cross_entropy_with_logits, (r((2, 3)), np.ones((2, 3)), None, np.ones(3)), {}),
        (ops.cosine_embedding_loss, (r((4, 3)), r((1, 3)), np.ones(4)), {"margin": 0.0}),
        (ops.multilabel_soft_margin_loss, (r((2, 5)), np.ones((2, 5)), None), {}),
        (ops.multilabel_margin_loss, (r((2, 3)), np.array([[0, -1, 0], [2, 1, -1]])), {}),
        (ops.multi_margin_loss, (r((2, 3)), np.array([0, 2]), None), {"p": 1, "margin": 1.0}),
        (ops.triplet_margin_loss, (r((2, 3, 4)), r((2, 3, 4)), r((1, 3, 4))),
         {"margin": 1.0, "norm": 2.0, "eps": 1e-6, "swap": True}),
        (ops.triplet_hinge, (r(3), r(3), r(3)), {"margin": 1.0}),
        (ops.nll_loss, (r((2, 3, 2)), idx, None), {"ignore_index": -100, "reduction": "none"}),
        (ops.cross_entropy, (r((2, 3, 2)), idx, None), {"ignore_index": -100, "label_smoothing": 0.1,
                                                        "reduction": "none"}),
        (ops.cross_entropy, (r(3), np.array(1), None), {"ignore_index": -100, "label_smoothing": 0.0,
                                                       "reduction": "none"}),
        (ops.cross_entropy, (r((2, 3)), np.full((2, 3), 1 / 3), None), {"ignore_index": -100,
                                                                       "label_smoothing": 0.0, "reduction": "mean"}),
        (ops.ctc_loss, (lp, np.array([[1, 2], [3, 3]]), np.array([5, 4]), np.array([2, 1])),
         {"blank": 0, "reduction": "none", "zero_infinity": False}),
        (ops.loss_reduction, (r((2, 3)), None), {"reduction": "mean"}),
    ]


@pytest.mark.parametrize("op,args,attrs", _shape_rule_cases(), ids=lambda v: getattr(v, "name", ""))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shape_rules_agree_with_impl(op, args, attrs, dtype):
    args = tuple(a.astype(dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args)
    out = op(*args, **attrs)
    spec = op.infer(*(None if a is None else TensorSpec.of(a) for a in args), **attrs)
    assert spec == TensorSpec.of(np.asarray(out))
    assert np.asarray(out).dtype == dtype


def test_float16_inputs_keep_their_dtype():
    x = np.array([[1.0, -2.0, 0.5]], dtype=np.float16)
    assert F.cross_entropy(x, np.array([1])).dtype == np.float16
    assert F.binary_cross_entropy_with_logits(x, np.ones_like(x)).dtype == np.float16
    assert F.mse_loss(x, np.zeros_like(x), reduction="none").dtype == np.float16


# ---------------------------------------------------------------------------------------------------- errors


def test_errors_are_value_errors_attributed_to_the_module():
    with pytest.raises(InputError) as info:
        nn.CrossEntropyLoss(label_smoothing=0.1)(np.zeros((2, 3)), np.array([1, 3]))
    assert isinstance(info.value, ValueError)
    assert str(info.value) == ("CrossEntropyLoss() expected class indices in [0, 2] or ignore_index -100, "
                               "got target value 3")
    with pytest.raises(InputError, match=r"^cross_entropy expected"):
        F.cross_entropy(np.zeros((2, 3)), np.array([1, 3]))


@pytest.mark.parametrize("call,match", [
    (lambda: F.nll_loss(np.zeros((2, 3, 4)), np.zeros((2, 3), np.int64)), r"target of shape \(2, 4\), got \(2, 3\)"),
    (lambda: F.cross_entropy(np.zeros((2, 3)), np.array([0.2, 0.3]).astype(np.float32)),
     r"class probabilities of shape \(2, 3\) or integer class indices"),
    (lambda: F.ctc_loss(np.zeros((5, 2, 4)), np.array([[1, 2], [1, 9]]), (5, 5), (2, 2)), r"got target value 9"),
    (lambda: F.ctc_loss(np.zeros((5, 2, 4)), np.array([[1, 2], [1, 1]]), (5, -1), (2, 2)),
     r"input_lengths in \[0, 5\], got value -1"),
    (lambda: F.ctc_loss(np.zeros((5, 2, 4)), np.array([[1, 2], [1, 1]]), (5.0, 5.0), (2, 2)),
     r"integer input_lengths"),
    (lambda: F.ctc_loss(np.zeros((0, 2, 4)), np.array([[1, 2], [1, 1]]), (0, 0), (2, 2)), r"non-empty log_probs"),
    (lambda: F.multilabel_margin_loss(np.zeros((2, 3)), np.zeros((2, 3))), r"integer class-index target"),
    (lambda: F.multi_margin_loss(np.zeros((2, 3)), np.array([0, 1]), p=3), r"p of 1 or 2, got 3"),
    (lambda: F.triplet_margin_loss(np.zeros(3), np.zeros(3), np.zeros(3), margin=0.0), r"margin > 0, got 0.0"),
    (lambda: F.triplet_margin_with_distance_loss(np.zeros(3), np.zeros(3), np.zeros(3), reduction="avg"),
     r"reduction 'none', 'mean', 'sum', got 'avg'"),
    (lambda: F.gaussian_nll_loss(np.zeros(3), np.zeros(3), -1.0), r"non-negative entries, got -1.0"),
    (lambda: F.binary_cross_entropy(np.array([np.nan]), np.array([1.0])), r"input values in \[0, 1\], got input "
                                                                          r"value nan"),
    (lambda: F.poisson_nll_loss(np.zeros(3), np.zeros(4)), r"broadcastable shapes for input, target"),
])
def test_functional_errors(call, match):
    with pytest.raises(InputError, match=match):
        call()


def test_constructor_errors_match_torch():
    with pytest.raises(ValueError, match="greater than 0"):
        nn.TripletMarginLoss(margin=0.0)
    with pytest.raises(ValueError, match="greater than 0"):
        nn.TripletMarginWithDistanceLoss(margin=-1.0)
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="1D tensor, got 2D"):
        nn.MultiMarginLoss(weight=np.ones((2, 2), np.float32))
    with pytest.raises(TypeError, match="delta must be a float or int"):
        nn.HuberLoss(delta="1")


def test_legacy_reduction_args_warn_and_map_like_torch():
    for kwargs, expected in [({"size_average": False}, "sum"), ({"reduce": False}, "none"),
                             ({"size_average": True, "reduce": True}, "mean")]:
        with pytest.warns(UserWarning, match=f"reduction='{expected}'"):
            assert nn.MSELoss(**kwargs).reduction == expected
    with pytest.warns(FutureWarning):
        m = nn.NLLLoss2d()
    assert repr(m) == "NLLLoss2d()"


def test_weight_buffers_match_torch_layout():
    w = np.array([1.0, 2.0, 3.0], np.float32)
    for name, kwargs in [("CrossEntropyLoss", {"weight": w}), ("NLLLoss", {}), ("BCELoss", {"weight": w}),
                         ("BCEWithLogitsLoss", {"pos_weight": w}), ("MultiLabelSoftMarginLoss", {"weight": w}),
                         ("MultiMarginLoss", {"weight": w})]:
        ours = getattr(nn, name)(**kwargs)
        ref = getattr(torch.nn, name)(**{k: _t(v) for k, v in kwargs.items()})
        assert list(ours.state_dict()) == list(ref.state_dict()), name
        assert [n for n, _ in ours.named_buffers()] == [n for n, _ in ref.named_buffers()], name
        assert repr(ours) == repr(ref), name
