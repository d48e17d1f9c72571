"""Op table: Linear, Bilinear, Identity, Flatten, Unflatten, F.linear, F.bilinear."""
from __future__ import annotations

import numpy as np

from tests.nn.opinfo import ErrorSample, FuncSample, ModuleSample, randn

MODULE_SAMPLES = [
    # Linear: every rank of leading dims, no bias, empty batch, size-1 features.
    ModuleSample("Linear-2d", lambda nn: nn.Linear(5, 3), randn(4, 5)),
    ModuleSample("Linear-1d", lambda nn: nn.Linear(5, 3), randn(5)),
    ModuleSample("Linear-3d", lambda nn: nn.Linear(5, 7), randn(2, 3, 5)),
    ModuleSample("Linear-5d", lambda nn: nn.Linear(4, 2), randn(2, 1, 3, 2, 4)),
    ModuleSample("Linear-nobias", lambda nn: nn.Linear(6, 4, bias=False), randn(3, 6)),
    ModuleSample("Linear-nobias-3d", lambda nn: nn.Linear(6, 4, False), randn(2, 3, 6)),
    ModuleSample("Linear-batch0", lambda nn: nn.Linear(5, 3), randn(0, 5)),
    ModuleSample("Linear-batch0-3d", lambda nn: nn.Linear(5, 3), randn(2, 0, 5)),
    ModuleSample("Linear-1to1", lambda nn: nn.Linear(1, 1), randn(7, 1)),
    ModuleSample("Linear-in0", lambda nn: nn.Linear(0, 3), randn(2, 0)),
    ModuleSample("Linear-out0", lambda nn: nn.Linear(3, 0), randn(2, 3)),
    ModuleSample("Linear-wide", lambda nn: nn.Linear(64, 48), randn(9, 64)),
    ModuleSample("NonDynamicallyQuantizableLinear",
                 lambda nn: (nn.modules.linear.NonDynamicallyQuantizableLinear(5, 3)), randn(2, 4, 5)),
    ModuleSample("Linear-in-Sequential", lambda nn: nn.Sequential(nn.Linear(5, 4), nn.Linear(4, 2, bias=False)),
                 randn(3, 5)),
    # Bilinear
    ModuleSample("Bilinear-2d", lambda nn: nn.Bilinear(3, 4, 5), lambda rng: (rng.standard_normal((6, 3)),
                                                                              rng.standard_normal((6, 4)))),
    ModuleSample("Bilinear-1d", lambda nn: nn.Bilinear(3, 4, 2), lambda rng: (rng.standard_normal(3),
                                                                              rng.standard_normal(4))),
    ModuleSample("Bilinear-4d", lambda nn: nn.Bilinear(2, 3, 4), lambda rng: (rng.standard_normal((2, 3, 2, 2)),
                                                                              rng.standard_normal((2, 3, 2, 3)))),
    ModuleSample("Bilinear-nobias", lambda nn: nn.Bilinear(3, 3, 2, bias=False),
                 lambda rng: (rng.standard_normal((5, 3)), rng.standard_normal((5, 3)))),
    ModuleSample("Bilinear-batch0", lambda nn: nn.Bilinear(3, 2, 4), lambda rng: (rng.standard_normal((0, 3)),
                                                                                  rng.standard_normal((0, 2)))),
    ModuleSample("Bilinear-1x1x1", lambda nn: nn.Bilinear(1, 1, 1), lambda rng: (rng.standard_normal((4, 1)),
                                                                                 rng.standard_normal((4, 1)))),
    # Identity
    ModuleSample("Identity", lambda nn: nn.Identity(), randn(2, 3)),
    ModuleSample("Identity-args", lambda nn: nn.Identity(54, unused_argumenet1=0.1, unused_argument2=False),
                 randn(3, 1, 2)),
    # Flatten
    ModuleSample("Flatten-default", lambda nn: nn.Flatten(), randn(2, 3, 4, 5)),
    ModuleSample("Flatten-2d", lambda nn: nn.Flatten(), randn(2, 3)),
    ModuleSample("Flatten-0-1", lambda nn: nn.Flatten(0, 1), randn(2, 3, 4)),
    ModuleSample("Flatten-all", lambda nn: nn.Flatten(0, -1), randn(2, 3, 4)),
    ModuleSample("Flatten-neg", lambda nn: nn.Flatten(-3, -2), randn(2, 3, 4, 5)),
    ModuleSample("Flatten-same", lambda nn: nn.Flatten(1, 1), randn(2, 3, 4)),
    ModuleSample("Flatten-1d", lambda nn: nn.Flatten(0), randn(4)),
    ModuleSample("Flatten-batch0", lambda nn: nn.Flatten(), randn(0, 3, 2)),
    ModuleSample("Flatten-zero-inner", lambda nn: nn.Flatten(), randn(2, 0, 3)),
    # Unflatten
    ModuleSample("Unflatten-tuple", lambda nn: nn.Unflatten(1, (2, 3)), randn(4, 6)),
    ModuleSample("Unflatten-list", lambda nn: nn.Unflatten(1, [2, 3]), randn(4, 6, 2)),
    ModuleSample("Unflatten-infer", lambda nn: nn.Unflatten(-1, (2, -1)), randn(3, 8)),
    ModuleSample("Unflatten-infer-first", lambda nn: nn.Unflatten(0, (-1, 2, 1)), randn(6, 3)),
    ModuleSample("Unflatten-one", lambda nn: nn.Unflatten(1, (5,)), randn(2, 5)),
    ModuleSample("Unflatten-1d", lambda nn: nn.Unflatten(0, (2, 2, 2)), randn(8)),
    ModuleSample("Unflatten-zero", lambda nn: nn.Unflatten(0, (-1, 2)), randn(0, 3)),
    ModuleSample("Unflatten-zero-inner", lambda nn: nn.Unflatten(1, (2, 0)), randn(3, 0)),
    ModuleSample("Flatten-Unflatten", lambda nn: nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.Unflatten(1, (2, 3))),
                 randn(2, 3, 4)),
]


def _bias_cases():
    def make(bshape):
        return lambda rng: (rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(bshape))
    return [FuncSample(f"linear-bias{b}", lambda F, x, w, b: F.linear(x, w, b), make(b)) for b in [(5,), (1,), (3, 5),
                                                                                                   ()]]


FUNC_SAMPLES = [
    FuncSample("linear", lambda F, x, w, b: F.linear(x, w, b),
               lambda rng: (rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5))),
    FuncSample("linear-nobias", lambda F, x, w: F.linear(x, w),
               lambda rng: (rng.standard_normal((3, 4)), rng.standard_normal((5, 4)))),
    FuncSample("linear-kw", lambda F, x, w, b: F.linear(input=x, weight=w, bias=b),
               lambda rng: (rng.standard_normal((4,)), rng.standard_normal((2, 4)), rng.standard_normal(2))),
    FuncSample("linear-1d-weight", lambda F, x, w: F.linear(x, w),
               lambda rng: (rng.standard_normal((2, 3, 4)), rng.standard_normal(4))),
    FuncSample("linear-1d-weight-1d-input", lambda F, x, w: F.linear(x, w),
               lambda rng: (rng.standard_normal(4), rng.standard_normal(4))),
    FuncSample("linear-noncontiguous", lambda F, x, w, b: F.linear(x.swapaxes(0, 1), w.T, b),
               lambda rng: (rng.standard_normal((3, 2, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5))),
    FuncSample("linear-empty", lambda F, x, w, b: F.linear(x, w, b),
               lambda rng: (rng.standard_normal((0, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5))),
    FuncSample("linear-large-values", lambda F, x, w: F.linear(x, w),
               lambda rng: (1e3 * rng.standard_normal((3, 8)), rng.standard_normal((2, 8)))),
    *_bias_cases(),
    FuncSample("bilinear", lambda F, a, b, w, bias: F.bilinear(a, b, w, bias),
               lambda rng: (rng.standard_normal((4, 3)), rng.standard_normal((4, 2)), rng.standard_normal((5, 3, 2)),
                            rng.standard_normal(5))),
    FuncSample("bilinear-nobias-3d", lambda F, a, b, w: F.bilinear(a, b, w),
               lambda rng: (rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 3, 4)),
                            rng.standard_normal((2, 3, 4)))),
    FuncSample("bilinear-1d", lambda F, a, b, w: F.bilinear(a, b, w, None),
               lambda rng: (rng.standard_normal(3), rng.standard_normal(2), rng.standard_normal((4, 3, 2)))),
    FuncSample("bilinear-empty", lambda F, a, b, w: F.bilinear(a, b, w),
               lambda rng: (rng.standard_normal((0, 3)), rng.standard_normal((0, 2)), rng.standard_normal((4, 3, 2)))),
]



ERROR_SAMPLES = [
    ErrorSample("Linear-wrong-features", lambda nn: nn.Linear(4, 3), randn(2, 5),
                r"^Linear\(in_features=4, out_features=3, bias=True\) expected input of shape \(\*, 4\), "
                r"got \(2, 5\)$"),
    ErrorSample("Linear-1d-wrong-features", lambda nn: nn.Linear(4, 3), randn(3), r"\(\*, 4\), got \(3,\)"),
    ErrorSample("Linear-0d", lambda nn: nn.Linear(4, 3), lambda rng: (np.array(1.0, np.float32),),
                r"^Linear\(.*\) expected input of at least 1 dimension, got \(\)"),
    ErrorSample("Linear-int-input", lambda nn: nn.Linear(4, 3), lambda rng: (np.ones((2, 4), np.int64),),
                r"^Linear\(.*\) expected a floating-point input, got dtype int64"),
    ErrorSample("Linear-dtype-mismatch", lambda nn: nn.Linear(4, 3), lambda rng: (np.ones((2, 4), np.float64),),
                r"^Linear\(.*\) expected weight of the input's dtype float64, got dtype float32"),
    ErrorSample("linear-bad-bias", lambda nn: nn.functional.linear,
                lambda rng: (np.ones((2, 4)), np.ones((3, 4)), np.ones(2)),
                r"^linear expected bias broadcastable to \(2, 3\), got shape \(2,\)"),
    ErrorSample("linear-weight-3d", lambda nn: nn.functional.linear,
                lambda rng: (np.ones((2, 4)), np.ones((3, 4, 1))), r"^linear expected weight of shape"),
    ErrorSample("linear-1d-weight-with-bias", lambda nn: nn.functional.linear,
                lambda rng: (np.ones((2, 4)), np.ones(4), np.ones(())), r"^linear expected no bias with a 1-D weight"),
    ErrorSample("Bilinear-wrong-in1", lambda nn: nn.Bilinear(3, 4, 2), lambda rng: (np.ones((2, 5), np.float32),
                                                                                  np.ones((2, 4), np.float32)),
                r"^Bilinear\(in1_features=3, in2_features=4, out_features=2, bias=True\) expected input1 of shape "
                r"\(\*, 3\), got \(2, 5\)$"),
    ErrorSample("Bilinear-wrong-in2", lambda nn: nn.Bilinear(3, 4, 2), lambda rng: (np.ones((2, 3), np.float32),
                                                                                  np.ones((2, 5), np.float32)),
                r"expected input2 of shape \(\*, 4\), got \(2, 5\)"),
    ErrorSample("Bilinear-batch-mismatch", lambda nn: nn.Bilinear(3, 4, 2),
                lambda rng: (np.ones((2, 3), np.float32), np.ones((1, 4), np.float32)),
                r"expected input2 of shape \(2, 4\) .*got \(1, 4\)"),
    ErrorSample("Bilinear-rank-mismatch", lambda nn: nn.Bilinear(3, 4, 2),
                lambda rng: (np.ones((2, 6, 3), np.float32), np.ones((2, 4), np.float32)),
                r"expected input2 of shape \(2, 6, 4\) .*got \(2, 4\)"),
    ErrorSample("Bilinear-0d", lambda nn: nn.Bilinear(1, 1, 2),
                lambda rng: (np.ones((), np.float32), np.ones((), np.float32)), r"input1 of shape \(\*, 1\), got \(\)"),
    ErrorSample("Bilinear-int", lambda nn: nn.Bilinear(1, 1, 2),
                lambda rng: (np.ones((2, 1), np.int32), np.ones((2, 1), np.float32)),
                r"floating-point input1, got dtype int32"),
    ErrorSample("bilinear-bad-bias", lambda nn: nn.functional.bilinear,
                lambda rng: (np.ones((2, 3)), np.ones((2, 4)), np.ones((5, 3, 4)), np.ones(4)),
                r"^bilinear expected bias of shape \(5,\), got \(4,\)"),
    ErrorSample("Flatten-1d", lambda nn: nn.Flatten(), randn(3),
                r"^Flatten\(start_dim=1, end_dim=-1\) expected start_dim in range \[-1, 0\] .* got 1$"),
    ErrorSample("Flatten-order", lambda nn: nn.Flatten(2, 1), randn(2, 3, 4),
                r"expected start_dim not after end_dim, got start_dim=2, end_dim=1"),
    ErrorSample("Flatten-end-out-of-range", lambda nn: nn.Flatten(0, 3), randn(2, 3, 4), r"end_dim in range \[-3, 2\]"),
    ErrorSample("Unflatten-mismatch", lambda nn: nn.Unflatten(1, (2, 2)), randn(3, 6),
                r"^Unflatten\(dim=1, unflattened_size=\(2, 2\)\) expected unflattened_size multiplying up to the size "
                r"6 of dim 1, got \(2, 2\)$"),
    ErrorSample("Unflatten-infer-indivisible", lambda nn: nn.Unflatten(1, (4, -1)), randn(3, 6),
                r"product divides the size 6"),
    ErrorSample("Unflatten-two-infer", lambda nn: nn.Unflatten(1, (-1, -1)), randn(3, 6), r"at most one -1"),
    ErrorSample("Unflatten-negative", lambda nn: nn.Unflatten(1, (-2, -3)), randn(3, 6), r"at most one -1"),
    ErrorSample("Unflatten-empty", lambda nn: nn.Unflatten(1, ()), randn(3, 6), r"non-empty unflattened_size"),
    ErrorSample("Unflatten-dim", lambda nn: nn.Unflatten(2, (1, 6)), randn(3, 6), r"dim in range \[-2, 1\]"),
    ErrorSample("Unflatten-0d", lambda nn: nn.Unflatten(0, (1,)), randn(), r"at least 1 dimension, got \(\)"),
]
