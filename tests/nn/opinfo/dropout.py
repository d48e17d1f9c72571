"""Op table: Dropout, Dropout1d/2d/3d, AlphaDropout, FeatureAlphaDropout and their functionals.

Eval mode (identity), ``p=0`` and ``p=1`` are deterministic and compared with torch value by value; other
training-mode outputs are compared by shape and dtype only (their statistics are in tests/nn/test_dropout.py).
"""
from __future__ import annotations

import numpy as np

from tests.nn.opinfo import ErrorSample, FuncSample, ModuleSample


def randn(*shape):
    return lambda rng: (np.asarray(rng.standard_normal(shape)),)


def _copy(x):
    return x.clone() if hasattr(x, "clone") else x.copy()


def on_copy(m, x):
    """Call an ``inplace=True`` layer on a copy, so that the runner's input check still holds."""
    return m(_copy(x))


def M(id, make, inputs, **kw):
    return ModuleSample(id, make, inputs, random_in_train=True, **kw)


MODULE_SAMPLES = [
    # Dropout: any shape, every p regime.
    M("Dropout", lambda nn: nn.Dropout(), randn(4, 5)),
    M("Dropout-p0.2", lambda nn: nn.Dropout(0.2), randn(2, 3, 4)),
    M("Dropout-p0.9-1d", lambda nn: nn.Dropout(p=0.9), randn(7)),
    M("Dropout-5d", lambda nn: nn.Dropout(0.5), randn(1, 2, 2, 3, 2)),
    M("Dropout-batch0", lambda nn: nn.Dropout(0.5), randn(0, 4)),
    M("Dropout-inplace", lambda nn: nn.Dropout(0.3, inplace=True), randn(3, 4), call=on_copy),
    ModuleSample("Dropout-p0", lambda nn: nn.Dropout(0.0), randn(3, 4)),
    ModuleSample("Dropout-p1", lambda nn: nn.Dropout(1.0), randn(3, 4)),
    ModuleSample("Dropout-p1-inplace", lambda nn: nn.Dropout(1.0, True), randn(3, 4), call=on_copy),
    ModuleSample("Dropout-int-p", lambda nn: nn.Dropout(0), randn(3, 4)),
    # Dropout1d: batched (N, C, L) and unbatched (C, L).
    M("Dropout1d-3d", lambda nn: nn.Dropout1d(), randn(2, 3, 5)),
    M("Dropout1d-2d", lambda nn: nn.Dropout1d(0.3), randn(4, 5)),
    M("Dropout1d-L1", lambda nn: nn.Dropout1d(0.3), randn(2, 4, 1)),
    M("Dropout1d-batch0", lambda nn: nn.Dropout1d(0.3), randn(0, 4, 2)),
    M("Dropout1d-inplace", lambda nn: nn.Dropout1d(0.5, inplace=True), randn(2, 3, 4), call=on_copy),
    ModuleSample("Dropout1d-p1", lambda nn: nn.Dropout1d(1.0), randn(2, 3, 4)),
    ModuleSample("Dropout1d-p1-2d", lambda nn: nn.Dropout1d(1.0), randn(3, 4)),
    # Dropout2d: (N, C, H, W) and torch's (N, C, L) reading of 3-d input.
    M("Dropout2d-4d", lambda nn: nn.Dropout2d(), randn(2, 3, 4, 4)),
    M("Dropout2d-3d", lambda nn: nn.Dropout2d(0.25), randn(3, 4, 5)),
    M("Dropout2d-1x1", lambda nn: nn.Dropout2d(0.5), randn(2, 6, 1, 1)),
    M("Dropout2d-batch0", lambda nn: nn.Dropout2d(0.5), randn(0, 3, 2, 2)),
    M("Dropout2d-inplace", lambda nn: nn.Dropout2d(0.5, True), randn(2, 3, 2, 2), call=on_copy),
    ModuleSample("Dropout2d-p0", lambda nn: nn.Dropout2d(0.0), randn(2, 3, 2, 2)),
    ModuleSample("Dropout2d-p1", lambda nn: nn.Dropout2d(1.0), randn(2, 3, 2, 2)),
    # Dropout3d: (N, C, D, H, W) and unbatched (C, D, H, W).
    M("Dropout3d-5d", lambda nn: nn.Dropout3d(), randn(2, 3, 2, 2, 2)),
    M("Dropout3d-4d", lambda nn: nn.Dropout3d(0.4), randn(3, 2, 2, 3)),
    M("Dropout3d-batch0", lambda nn: nn.Dropout3d(0.4), randn(0, 3, 1, 2, 2)),
    M("Dropout3d-inplace", lambda nn: nn.Dropout3d(0.4, inplace=True), randn(3, 2, 2, 3), call=on_copy),
    ModuleSample("Dropout3d-p1", lambda nn: nn.Dropout3d(1.0), randn(2, 3, 1, 2, 2)),
    ModuleSample("Dropout3d-p1-4d", lambda nn: nn.Dropout3d(1.0), randn(3, 1, 2, 2)),
    # AlphaDropout: any shape (inplace is ignored by the layer, as in torch).
    M("AlphaDropout", lambda nn: nn.AlphaDropout(), randn(4, 5)),
    M("AlphaDropout-p0.1-3d", lambda nn: nn.AlphaDropout(0.1), randn(2, 3, 4)),
    M("AlphaDropout-1d", lambda nn: nn.AlphaDropout(0.7), randn(9)),
    M("AlphaDropout-batch0", lambda nn: nn.AlphaDropout(0.7), randn(0, 3)),
    M("AlphaDropout-inplace-flag", lambda nn: nn.AlphaDropout(0.5, inplace=True), randn(3, 4)),
    ModuleSample("AlphaDropout-p0", lambda nn: nn.AlphaDropout(0.0), randn(3, 4)),
    ModuleSample("AlphaDropout-p1", lambda nn: nn.AlphaDropout(1.0), randn(3, 4)),
    # FeatureAlphaDropout: channels of any (N, C, ...) input.
    M("FeatureAlphaDropout-5d", lambda nn: nn.FeatureAlphaDropout(), randn(2, 3, 2, 2, 2)),
    M("FeatureAlphaDropout-2d", lambda nn: nn.FeatureAlphaDropout(0.2), randn(4, 5)),
    M("FeatureAlphaDropout-4d", lambda nn: nn.FeatureAlphaDropout(0.2), randn(2, 3, 2, 2)),
    M("FeatureAlphaDropout-batch0", lambda nn: nn.FeatureAlphaDropout(0.2), randn(0, 3, 2)),
    ModuleSample("FeatureAlphaDropout-p1", lambda nn: nn.FeatureAlphaDropout(1.0), randn(2, 3, 2)),
    # Inside a container: train/eval propagate to children.
    M("Sequential-dropouts", lambda nn: nn.Sequential(nn.Dropout(0.1), nn.Dropout2d(0.2), nn.AlphaDropout(0.3)),
      randn(2, 3, 2, 2)),
]


FUNC_SAMPLES = [
    # training=False / p=0: identity.
    FuncSample("dropout-eval", lambda F, x: F.dropout(x, 0.5, training=False), randn(3, 4)),
    FuncSample("dropout-p0", lambda F, x: F.dropout(x, 0.0), randn(3, 4)),
    FuncSample("dropout1d-eval", lambda F, x: F.dropout1d(x, 0.5, False), randn(2, 3, 4)),
    FuncSample("dropout2d-eval", lambda F, x: F.dropout2d(x, 0.5, False), randn(2, 3, 2, 2)),
    FuncSample("dropout3d-eval", lambda F, x: F.dropout3d(x, 0.5, False), randn(3, 2, 2, 2)),
    FuncSample("alpha_dropout-default-eval", lambda F, x: F.alpha_dropout(x, 0.5), randn(3, 4)),
    FuncSample("feature_alpha_dropout-default-eval", lambda F, x: F.feature_alpha_dropout(x, 0.5), randn(3, 4)),
    # p=1: zeros, deterministic.
    FuncSample("dropout-p1", lambda F, x: F.dropout(x, 1.0), randn(3, 4)),
    FuncSample("dropout2d-p1", lambda F, x: F.dropout2d(x, 1.0), randn(2, 3, 2, 2)),
    FuncSample("alpha_dropout-p1", lambda F, x: F.alpha_dropout(x, 1.0, True), randn(3, 4)),
    FuncSample("feature_alpha_dropout-p1", lambda F, x: F.feature_alpha_dropout(x, 1.0, True), randn(3, 4, 2)),
    # Training mode: random, compared by shape and dtype.
    FuncSample("dropout-train", lambda F, x: F.dropout(x, 0.5), randn(3, 4), random=True),
    FuncSample("dropout-train-inplace", lambda F, x: F.dropout(_copy(x), 0.5, True, True), randn(3, 4), random=True),
    FuncSample("dropout1d-train-2d", lambda F, x: F.dropout1d(x, 0.5), randn(3, 4), random=True),
    FuncSample("dropout2d-train", lambda F, x: F.dropout2d(x, 0.5), randn(2, 3, 2, 2), random=True),
    FuncSample("dropout3d-train-4d", lambda F, x: F.dropout3d(x, 0.5), randn(3, 2, 2, 2), random=True),
    FuncSample("alpha_dropout-train", lambda F, x: F.alpha_dropout(x, 0.5, True), randn(3, 4), random=True),
    FuncSample("feature_alpha_dropout-train", lambda F, x: F.feature_alpha_dropout(x, 0.5, True), randn(3, 4, 2),
               random=True),
]


def _f(name, *args, **kwargs):
    """A callable that applies ``nngraph.nn.functional.<name>`` to the inputs."""
    return lambda nn: (lambda *x: getattr(nn.functional, name)(*x, *args, **kwargs))


ERROR_SAMPLES = [
    ErrorSample("Dropout-int", lambda nn: nn.Dropout(), lambda rng: (np.arange(6).reshape(2, 3),),
                r"^Dropout\(p=0.5, inplace=False\) expected a floating-point input, got dtype int64"),
    ErrorSample("Dropout-eval-int", lambda nn: nn.Dropout().eval(), lambda rng: (np.arange(3),),
                r"floating-point input, got dtype int64"),
    ErrorSample("Dropout1d-4d", lambda nn: nn.Dropout1d(), randn(2, 3, 4, 5),
                r"^Dropout1d\(p=0.5, inplace=False\) expected input of shape \(N, C, L\) or \(C, L\), "
                r"got \(2, 3, 4, 5\)"),
    ErrorSample("Dropout1d-1d-eval", lambda nn: nn.Dropout1d().eval(), randn(5), r"got \(5,\)"),
    ErrorSample("Dropout2d-1d", lambda nn: nn.Dropout2d(), randn(5),
                r"^Dropout2d\(p=0.5, inplace=False\) expected input with at least 2 dimensions .*got \(5,\)"),
    ErrorSample("FeatureAlphaDropout-1d", lambda nn: nn.FeatureAlphaDropout(0.2), randn(5),
                r"^FeatureAlphaDropout\(p=0.2, inplace=False\) expected input with at least 2 dimensions"),
    ErrorSample("AlphaDropout-bool", lambda nn: nn.AlphaDropout(), lambda rng: (np.ones(3, dtype=bool),),
                r"floating-point input, got dtype bool"),
    ErrorSample("dropout3d-0d", _f("dropout3d", 0.5, True), randn(), r"^dropout3d expected input with at least 2"),
    ErrorSample("feature_alpha_dropout-0d", _f("feature_alpha_dropout", 0.5, True), randn(),
                r"^feature_alpha_dropout expected input with at least 2 dimensions .*got \(\)"),
    ErrorSample("dropout-list", _f("dropout"), lambda rng: ([1.0, 2.0],), r"^dropout expected a floating-point"),
]
