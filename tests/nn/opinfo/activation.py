"""Op table: activations and the softmax family (modules and torch.nn.functional)."""
from __future__ import annotations

import numpy as np

from tests.nn.opinfo import ErrorSample, FuncSample, ModuleSample

# Every branch point of the piecewise activations (0, +-lambd, +-3, 6, thresholds) and the overflow range.
_SPECIAL = np.array([-1e4, -700.0, -100.0, -21.0, -20.0, -6.0, -3.0, -2.5, -1.0, -0.5, -0.25, -1e-3, 0.0, 1e-3,
                     0.25, 0.5, 1.0, 2.5, 3.0, 6.0, 7.0, 19.0, 20.0, 21.0, 100.0, 700.0, 1e4])
_NONFINITE = np.array([np.nan, np.inf, -np.inf, -2.0, -0.5, 0.0, 0.5, 2.0])


def special(rng):
    return (_SPECIAL.copy(),)


def nonfinite(rng):
    return (_NONFINITE.copy(),)


def scaled(*shape, scale=3.0):
    """One normal array of ``shape`` (a 0-d array for ``()``) times ``scale``."""
    return lambda rng: (np.asarray(scale * rng.standard_normal(shape)),)


def randn(*shape):
    return scaled(*shape, scale=1.0)


def _copy(x):
    return x.clone() if hasattr(x, "clone") else x.copy()


def on_copy(m, x):
    """Call an ``inplace=True`` layer on a copy, so that the runner's input check still holds."""
    return m(_copy(x))


def _uniform_weight(nn, m, lo=-1.0, hi=1.0):
    nn.init.uniform_(m.weight, lo, hi)
    return m


# (id, make) of the layers without parameters; each runs on SHAPES below, on the special values and on -inf/inf/NaN.
_ELEMENTWISE = [
    ("ReLU", lambda nn: nn.ReLU()),
    ("ReLU6", lambda nn: nn.ReLU6()),
    ("LeakyReLU", lambda nn: nn.LeakyReLU()),
    ("LeakyReLU-0.2", lambda nn: nn.LeakyReLU(0.2)),
    ("LeakyReLU-neg", lambda nn: nn.LeakyReLU(-1.5)),
    ("ELU", lambda nn: nn.ELU()),
    ("ELU-alpha", lambda nn: nn.ELU(alpha=0.3)),
    ("CELU", lambda nn: nn.CELU()),
    ("CELU-alpha", lambda nn: nn.CELU(2.5)),
    ("SELU", lambda nn: nn.SELU()),
    ("GELU", lambda nn: nn.GELU()),
    ("GELU-tanh", lambda nn: nn.GELU(approximate="tanh")),
    ("SiLU", lambda nn: nn.SiLU()),
    ("Mish", lambda nn: nn.Mish()),
    ("Sigmoid", lambda nn: nn.Sigmoid()),
    ("LogSigmoid", lambda nn: nn.LogSigmoid()),
    ("Tanh", lambda nn: nn.Tanh()),
    ("Hardtanh", lambda nn: nn.Hardtanh()),
    ("Hardtanh-range", lambda nn: nn.Hardtanh(-2.5, 0.5)),
    ("Hardswish", lambda nn: nn.Hardswish()),
    ("Hardsigmoid", lambda nn: nn.Hardsigmoid()),
    ("Hardshrink", lambda nn: nn.Hardshrink()),
    ("Hardshrink-lambd", lambda nn: nn.Hardshrink(1.0)),
    ("Softshrink", lambda nn: nn.Softshrink()),
    ("Softshrink-lambd", lambda nn: nn.Softshrink(2.5)),
    ("Softshrink-0", lambda nn: nn.Softshrink(0.0)),
    ("Tanhshrink", lambda nn: nn.Tanhshrink()),
    ("Softplus", lambda nn: nn.Softplus()),
    ("Softplus-beta", lambda nn: nn.Softplus(beta=2.0, threshold=5.0)),
    ("Softplus-small-beta", lambda nn: nn.Softplus(beta=0.5, threshold=30.0)),
    ("Softplus-neg-beta", lambda nn: nn.Softplus(beta=-1.0)),
    ("Softsign", lambda nn: nn.Softsign()),
    ("Threshold", lambda nn: nn.Threshold(0.5, 20.0)),
    ("Threshold-neg", lambda nn: nn.Threshold(-1.0, -3.0)),
    ("RReLU", lambda nn: nn.RReLU()),
    ("RReLU-bounds", lambda nn: nn.RReLU(0.1, 0.9)),
    ("PReLU", lambda nn: nn.PReLU()),
    ("PReLU-init", lambda nn: nn.PReLU(init=-0.5)),
]
# Where torch itself gives a value that no formula would (exact GELU at +inf returns NaN), skip -inf/inf/NaN.
_NO_NONFINITE = {"GELU"}
_RANDOM_IN_TRAIN = {"RReLU", "RReLU-bounds"}
# 0-d input is tested in tests/nn/test_activation.py: the runner's to_torch turns 0-d arrays into shape (1,).
SHAPES = [(7,), (3, 5), (2, 3, 4), (2, 3, 2, 2), (1, 2, 3, 1, 2), (0, 3), (2, 0, 4)]

MODULE_SAMPLES = []
for _id, _make in _ELEMENTWISE:
    _rand = _id in _RANDOM_IN_TRAIN
    for _shape in SHAPES:
        MODULE_SAMPLES.append(ModuleSample(f"{_id}-{'x'.join(map(str, _shape)) or 'scalar'}", _make,
                                           scaled(*_shape), random_in_train=_rand))
    MODULE_SAMPLES.append(ModuleSample(f"{_id}-special", _make, special, random_in_train=_rand))
    if _id not in _NO_NONFINITE:
        MODULE_SAMPLES.append(ModuleSample(f"{_id}-nonfinite", _make, nonfinite, random_in_train=_rand))

MODULE_SAMPLES += [
    # inplace=True: output and repr (the runner's untouched-input check is kept by calling on a copy).
    ModuleSample("ReLU-inplace", lambda nn: nn.ReLU(inplace=True), randn(3, 4), call=on_copy),
    ModuleSample("ReLU6-inplace", lambda nn: nn.ReLU6(True), scaled(3, 4, scale=5.0), call=on_copy),
    ModuleSample("LeakyReLU-inplace", lambda nn: nn.LeakyReLU(0.1, inplace=True), randn(3, 4), call=on_copy),
    ModuleSample("ELU-inplace", lambda nn: nn.ELU(0.5, inplace=True), randn(3, 4), call=on_copy),
    ModuleSample("CELU-inplace", lambda nn: nn.CELU(1.5, inplace=True), randn(3, 4), call=on_copy),
    ModuleSample("SELU-inplace", lambda nn: nn.SELU(inplace=True), randn(3, 4), call=on_copy),
    ModuleSample("SiLU-inplace", lambda nn: nn.SiLU(inplace=True), randn(3, 4), call=on_copy),
    ModuleSample("Mish-inplace", lambda nn: nn.Mish(inplace=True), randn(3, 4), call=on_copy),
    ModuleSample("Hardswish-inplace", lambda nn: nn.Hardswish(inplace=True), scaled(3, 4), call=on_copy),
    ModuleSample("Hardsigmoid-inplace", lambda nn: nn.Hardsigmoid(inplace=True), scaled(3, 4), call=on_copy),
    ModuleSample("Hardtanh-inplace", lambda nn: nn.Hardtanh(-0.5, 2.0, inplace=True), scaled(3, 4), call=on_copy),
    ModuleSample("Threshold-inplace", lambda nn: nn.Threshold(0.1, 2.0, True), randn(3, 4), call=on_copy),
    ModuleSample("RReLU-inplace", lambda nn: nn.RReLU(inplace=True), randn(3, 4), call=on_copy,
                 random_in_train=True),
    ModuleSample("Hardtanh-int-bounds", lambda nn: nn.Hardtanh(-2, 3), scaled(4, 5)),
    ModuleSample("Threshold-int-args", lambda nn: nn.Threshold(0, 1), randn(4, 5)),
    ModuleSample("Softplus-int-args", lambda nn: nn.Softplus(2, 10), randn(4, 5)),
    ModuleSample("ELU-int-alpha", lambda nn: nn.ELU(2), randn(4, 5)),
    # PReLU: one slope per channel (axis 1) on every rank, random slopes of both signs.
    ModuleSample("PReLU-c3-2d", lambda nn: _uniform_weight(nn, nn.PReLU(3)), randn(4, 3)),
    ModuleSample("PReLU-c3-3d", lambda nn: _uniform_weight(nn, nn.PReLU(3)), randn(2, 3, 5)),
    ModuleSample("PReLU-c3-4d", lambda nn: _uniform_weight(nn, nn.PReLU(3)), randn(2, 3, 4, 4)),
    ModuleSample("PReLU-c4-5d", lambda nn: _uniform_weight(nn, nn.PReLU(4, init=0.1)), randn(1, 4, 2, 3, 2)),
    ModuleSample("PReLU-c1-4d", lambda nn: _uniform_weight(nn, nn.PReLU(1)), randn(2, 3, 2, 2)),
    ModuleSample("PReLU-c2-batch0", lambda nn: nn.PReLU(2), randn(0, 2, 3)),
    ModuleSample("PReLU-c1-1x1", lambda nn: nn.PReLU(), randn(2, 1, 1, 1)),
    ModuleSample("PReLU-c3-special", lambda nn: _uniform_weight(nn, nn.PReLU(3)),
                 lambda rng: (np.array([[-1e4, -1.0, 0.0], [1e4, np.nan, -np.inf]]),)),
    # GLU: every dim, negative dims, size-2 halves, empty batch.
    ModuleSample("GLU", lambda nn: nn.GLU(), randn(3, 4)),
    ModuleSample("GLU-1d", lambda nn: nn.GLU(), randn(6)),
    ModuleSample("GLU-dim0", lambda nn: nn.GLU(0), randn(4, 3, 2)),
    ModuleSample("GLU-dim1", lambda nn: nn.GLU(1), randn(2, 6, 3)),
    ModuleSample("GLU-dim-2", lambda nn: nn.GLU(-2), randn(2, 4, 3)),
    ModuleSample("GLU-4d", lambda nn: nn.GLU(2), randn(2, 3, 2, 5)),
    ModuleSample("GLU-size2", lambda nn: nn.GLU(-1), randn(5, 2)),
    ModuleSample("GLU-batch0", lambda nn: nn.GLU(), randn(0, 4)),
    ModuleSample("GLU-wide", lambda nn: nn.GLU(), scaled(3, 8, scale=1e3)),
    # Softmax family: every dim, negative dims, implicit dim (torch's rule for each rank), large logits, -inf.
    ModuleSample("Softmax-dim1", lambda nn: nn.Softmax(dim=1), randn(3, 5)),
    ModuleSample("Softmax-dim0", lambda nn: nn.Softmax(0), randn(3, 5)),
    ModuleSample("Softmax-dim-1-3d", lambda nn: nn.Softmax(-1), randn(2, 3, 4)),
    ModuleSample("Softmax-dim1-4d", lambda nn: nn.Softmax(1), randn(2, 3, 2, 2)),
    ModuleSample("Softmax-dim-3-5d", lambda nn: nn.Softmax(-3), randn(2, 2, 3, 1, 2)),
    ModuleSample("Softmax-1d", lambda nn: nn.Softmax(0), randn(6)),
    ModuleSample("Softmax-size1", lambda nn: nn.Softmax(1), randn(4, 1)),
    ModuleSample("Softmax-batch0", lambda nn: nn.Softmax(1), randn(0, 5)),
    ModuleSample("Softmax-dim-size0", lambda nn: nn.Softmax(1), randn(3, 0)),
    ModuleSample("Softmax-wide", lambda nn: nn.Softmax(-1), scaled(4, 6, scale=1e4)),
    ModuleSample("Softmax-implicit-1d", lambda nn: nn.Softmax(), randn(5)),
    ModuleSample("Softmax-implicit-2d", lambda nn: nn.Softmax(), randn(3, 5)),
    ModuleSample("Softmax-implicit-3d", lambda nn: nn.Softmax(), randn(2, 3, 4)),
    ModuleSample("Softmax-implicit-4d", lambda nn: nn.Softmax(), randn(2, 3, 2, 2)),
    ModuleSample("Softmax-masked", lambda nn: nn.Softmax(-1),
                 lambda rng: (np.array([[0.0, -np.inf, 1.0], [-np.inf, -np.inf, -np.inf], [np.inf, 0.0, 1.0]]),)),
    ModuleSample("LogSoftmax-dim1", lambda nn: nn.LogSoftmax(dim=1), randn(3, 5)),
    ModuleSample("LogSoftmax-dim0", lambda nn: nn.LogSoftmax(0), randn(4, 2, 3)),
    ModuleSample("LogSoftmax-dim-1-4d", lambda nn: nn.LogSoftmax(-1), randn(2, 2, 3, 4)),
    ModuleSample("LogSoftmax-batch0", lambda nn: nn.LogSoftmax(-1), randn(0, 3)),
    ModuleSample("LogSoftmax-dim-size0", lambda nn: nn.LogSoftmax(1), randn(2, 0, 3)),
    ModuleSample("LogSoftmax-wide", lambda nn: nn.LogSoftmax(1), scaled(3, 7, scale=1e4)),
    ModuleSample("LogSoftmax-implicit-2d", lambda nn: nn.LogSoftmax(), randn(3, 4)),
    ModuleSample("LogSoftmax-implicit-3d", lambda nn: nn.LogSoftmax(), randn(2, 3, 4)),
    ModuleSample("LogSoftmax-masked", lambda nn: nn.LogSoftmax(-1),
                 lambda rng: (np.array([[0.0, -np.inf, 1.0], [-np.inf, -np.inf, -np.inf]]),)),
    ModuleSample("Softmin-dim1", lambda nn: nn.Softmin(dim=1), randn(3, 5)),
    ModuleSample("Softmin-dim-2", lambda nn: nn.Softmin(-2), randn(2, 3, 4)),
    ModuleSample("Softmin-wide", lambda nn: nn.Softmin(0), scaled(6, 2, scale=1e4)),
    ModuleSample("Softmin-implicit-3d", lambda nn: nn.Softmin(), randn(2, 3, 4)),
    ModuleSample("Softmin-implicit-4d", lambda nn: nn.Softmin(), randn(2, 3, 1, 2)),
    ModuleSample("Softmin-batch0", lambda nn: nn.Softmin(1), randn(0, 3)),
    ModuleSample("Softmax2d-4d", lambda nn: nn.Softmax2d(), randn(2, 3, 4, 5)),
    ModuleSample("Softmax2d-3d", lambda nn: nn.Softmax2d(), randn(3, 2, 4)),
    ModuleSample("Softmax2d-1x1", lambda nn: nn.Softmax2d(), randn(2, 4, 1, 1)),
    ModuleSample("Softmax2d-c1", lambda nn: nn.Softmax2d(), randn(2, 1, 3, 3)),
    ModuleSample("Softmax2d-batch0", lambda nn: nn.Softmax2d(), randn(0, 3, 2, 2)),
    ModuleSample("Softmax2d-wide", lambda nn: nn.Softmax2d(), scaled(2, 3, 2, 2, scale=1e4)),
    # Containers of activations (repr nesting).
    ModuleSample("Sequential-activations",
                 lambda nn: nn.Sequential(nn.GELU("tanh"), nn.Hardtanh(-2.0, 2.0), nn.Softmax(-1)), randn(3, 4)),
]


def _np_or_torch_dtype(F, name):
    """The dtype argument of the library under test: numpy's for nngraph, torch's for torch."""
    if F.__name__.startswith("torch"):
        import torch
        return getattr(torch, name)
    return getattr(np, name)


def _inplace(fn):
    """Run an in-place functional on a copy of its first input (keeps the runner's input check valid)."""
    return lambda F, x, *rest: fn(F, _copy(x), *rest)


def _prelu_inputs(x_shape, w_shape):
    return lambda rng: (rng.standard_normal(x_shape), rng.uniform(-1, 1, w_shape))


FUNC_SAMPLES = [
    FuncSample("relu", lambda F, x: F.relu(x), randn(3, 4)),
    FuncSample("relu6", lambda F, x: F.relu6(x), scaled(3, 4, scale=5.0)),
    FuncSample("hardtanh", lambda F, x: F.hardtanh(x, -0.3, 0.7), randn(3, 4)),
    FuncSample("hardtanh-equal-bounds", lambda F, x: F.hardtanh(x, 0.5, 0.5), randn(3, 4)),
    FuncSample("threshold", lambda F, x: F.threshold(x, 0.2, -7.0), randn(3, 4)),
    FuncSample("leaky_relu", lambda F, x: F.leaky_relu(x, 0.3), randn(3, 4)),
    FuncSample("elu", lambda F, x: F.elu(x, 0.7), randn(3, 4)),
    FuncSample("celu", lambda F, x: F.celu(x, 0.7), randn(3, 4)),
    FuncSample("selu", lambda F, x: F.selu(x), randn(3, 4)),
    FuncSample("gelu", lambda F, x: F.gelu(x), scaled(3, 4)),
    FuncSample("gelu-tanh", lambda F, x: F.gelu(x, approximate="tanh"), scaled(3, 4)),
    FuncSample("gelu-special", lambda F, x: F.gelu(x), special),
    FuncSample("silu", lambda F, x: F.silu(x), scaled(3, 4)),
    FuncSample("mish", lambda F, x: F.mish(x), scaled(3, 4)),
    FuncSample("sigmoid", lambda F, x: F.sigmoid(x), scaled(3, 4)),
    FuncSample("tanh", lambda F, x: F.tanh(x), scaled(3, 4)),
    FuncSample("logsigmoid", lambda F, x: F.logsigmoid(x), special),
    FuncSample("hardsigmoid", lambda F, x: F.hardsigmoid(x), special),
    FuncSample("hardswish", lambda F, x: F.hardswish(x), special),
    FuncSample("hardshrink", lambda F, x: F.hardshrink(x, 0.25), special),
    FuncSample("softshrink", lambda F, x: F.softshrink(x, 1.0), special),
    FuncSample("tanhshrink", lambda F, x: F.tanhshrink(x), special),
    FuncSample("softsign", lambda F, x: F.softsign(x), special),
    FuncSample("softplus", lambda F, x: F.softplus(x, 3.0, 2.0), special),
    FuncSample("softplus-default", lambda F, x: F.softplus(x), special),
    FuncSample("rrelu-eval", lambda F, x: F.rrelu(x, 0.2, 0.4), randn(3, 4)),
    FuncSample("rrelu-eval-equal-bounds", lambda F, x: F.rrelu(x, 0.3, 0.3, training=True), randn(3, 4)),
    FuncSample("rrelu-train", lambda F, x: F.rrelu(x, training=True), randn(3, 4), random=True),
    FuncSample("glu", lambda F, x: F.glu(x, 0), randn(4, 3)),
    # In-place variants (on a copy of the input) and their inplace= spellings.
    FuncSample("relu_", _inplace(lambda F, x: F.relu_(x)), randn(3, 4)),
    FuncSample("relu-inplace", _inplace(lambda F, x: F.relu(x, inplace=True)), randn(3, 4)),
    FuncSample("relu6-inplace", _inplace(lambda F, x: F.relu6(x, inplace=True)), scaled(3, 4, scale=5.0)),
    FuncSample("hardtanh_", _inplace(lambda F, x: F.hardtanh_(x, -0.5, 0.5)), randn(3, 4)),
    FuncSample("threshold_", _inplace(lambda F, x: F.threshold_(x, 0.1, 3.0)), randn(3, 4)),
    FuncSample("elu_", _inplace(lambda F, x: F.elu_(x, 0.5)), randn(3, 4)),
    FuncSample("celu_", _inplace(lambda F, x: F.celu_(x, 0.5)), randn(3, 4)),
    FuncSample("selu_", _inplace(lambda F, x: F.selu_(x)), randn(3, 4)),
    FuncSample("leaky_relu_", _inplace(lambda F, x: F.leaky_relu_(x, 0.2)), randn(3, 4)),
    FuncSample("rrelu_", _inplace(lambda F, x: F.rrelu_(x, 0.1, 0.3)), randn(3, 4)),
    FuncSample("silu-inplace", _inplace(lambda F, x: F.silu(x, inplace=True)), randn(3, 4)),
    FuncSample("mish-inplace", _inplace(lambda F, x: F.mish(x, inplace=True)), randn(3, 4)),
    FuncSample("hardswish-inplace", _inplace(lambda F, x: F.hardswish(x, inplace=True)), scaled(3, 4)),
    FuncSample("hardsigmoid-inplace", _inplace(lambda F, x: F.hardsigmoid(x, inplace=True)), scaled(3, 4)),
    # prelu: scalar, 0-d and per-channel weights on every rank.
    FuncSample("prelu-scalar-weight-1d", lambda F, x, w: F.prelu(x, w), _prelu_inputs((5,), (1,))),
    FuncSample("prelu-0d-weight", lambda F, x, w: F.prelu(x, w), _prelu_inputs((2, 3, 4), ())),
    FuncSample("prelu-per-channel-2d", lambda F, x, w: F.prelu(x, w), _prelu_inputs((4, 3), (3,))),
    FuncSample("prelu-per-channel-3d", lambda F, x, w: F.prelu(x, w), _prelu_inputs((2, 5, 3), (5,))),
    FuncSample("prelu-per-channel-4d", lambda F, x, w: F.prelu(x, w), _prelu_inputs((2, 3, 2, 2), (3,))),
    FuncSample("prelu-one-weight-4d", lambda F, x, w: F.prelu(x, w), _prelu_inputs((2, 3, 2, 2), (1,))),
    # Softmax family: dtype= casts first (integer input is allowed then), implicit dim.
    FuncSample("softmax", lambda F, x: F.softmax(x, dim=-1), randn(3, 4)),
    FuncSample("softmax-dtype-f64", lambda F, x: F.softmax(x, 1, dtype=_np_or_torch_dtype(F, "float64")),
               randn(3, 4)),
    FuncSample("softmax-dtype-f32", lambda F, x: F.softmax(x, 0, dtype=_np_or_torch_dtype(F, "float32")),
               randn(3, 4)),
    FuncSample("softmax-int-input-dtype", lambda F, x: F.softmax(x, 0, dtype=_np_or_torch_dtype(F, "float64")),
               lambda rng: (rng.integers(-5, 5, (4, 3)),)),
    FuncSample("log_softmax-dtype-f64", lambda F, x: F.log_softmax(x, -1, dtype=_np_or_torch_dtype(F, "float64")),
               randn(2, 5)),
    FuncSample("softmin-dtype-f32", lambda F, x: F.softmin(x, 1, dtype=_np_or_torch_dtype(F, "float32")),
               randn(2, 5)),
    FuncSample("softmax-implicit", lambda F, x: F.softmax(x), randn(2, 3, 4, 2)),
    FuncSample("log_softmax-implicit-1d", lambda F, x: F.log_softmax(x), randn(4)),
    FuncSample("softmin-implicit-2d", lambda F, x: F.softmin(x), randn(2, 4)),
    FuncSample("log_softmax-wide", lambda F, x: F.log_softmax(x, 0), scaled(5, 3, scale=1e4)),
    FuncSample("gumbel_softmax", lambda F, x: F.gumbel_softmax(x, tau=0.5), randn(3, 5), random=True),
    FuncSample("gumbel_softmax-hard", lambda F, x: F.gumbel_softmax(x, hard=True, dim=0), randn(3, 5),
               random=True),
]


def _f(name, *args, **kwargs):
    """A callable that applies ``nngraph.nn.functional.<name>`` to the inputs."""
    return lambda nn: (lambda *x: getattr(nn.functional, name)(*x, *args, **kwargs))


ERROR_SAMPLES = [
    ErrorSample("ReLU-bool", lambda nn: nn.ReLU(), lambda rng: (np.array([True, False]),),
                r"^ReLU\(\) expected a numeric .*input, got dtype bool"),
    ErrorSample("Sigmoid-int", lambda nn: nn.Sigmoid(), lambda rng: (np.arange(4),),
                r"^Sigmoid\(\) expected a floating-point input, got dtype int64"),
    ErrorSample("GELU-int", lambda nn: nn.GELU(), lambda rng: (np.arange(4),), r"floating-point input, got dtype int"),
    ErrorSample("LeakyReLU-int", lambda nn: nn.LeakyReLU(), lambda rng: (np.arange(4),),
                r"^LeakyReLU\(negative_slope=0.01\) expected a floating-point input"),
    ErrorSample("Softplus-list", lambda nn: nn.Softplus(), lambda rng: ([1.0, 2.0],),
                r"expected a floating-point input, got dtype list"),
    ErrorSample("GLU-odd", lambda nn: nn.GLU(), randn(3, 5),
                r"^GLU\(dim=-1\) expected an even size along dim -1.*got size 5 in shape \(3, 5\)"),
    ErrorSample("GLU-odd-dim0", lambda nn: nn.GLU(0), randn(3, 4), r"even size along dim 0.*got size 3"),
    ErrorSample("GLU-scalar", lambda nn: nn.GLU(), randn(), r"at least 1 dimension, got a 0-d input"),
    ErrorSample("GLU-dim-range", lambda nn: nn.GLU(2), randn(3, 4),
                r"expected dim in range \[-2, 1\] for an input of shape \(3, 4\), got 2"),
    ErrorSample("Softmax-dim-range", lambda nn: nn.Softmax(dim=2), randn(3, 4),
                r"^Softmax\(dim=2\) expected dim in range \[-2, 1\] .*got 2"),
    ErrorSample("Softmax-dim-range-neg", lambda nn: nn.Softmax(dim=-4), randn(3, 4, 5), r"\[-3, 2\].*got -4"),
    ErrorSample("Softmax-scalar-dim", lambda nn: nn.Softmax(dim=1), randn(), r"\[-1, 0\].*got 1"),
    ErrorSample("LogSoftmax-int", lambda nn: nn.LogSoftmax(1), lambda rng: (np.ones((2, 3), dtype=np.int32),),
                r"floating-point input, got dtype int32"),
    ErrorSample("Softmin-dim-range", lambda nn: nn.Softmin(3), randn(2, 2), r"^Softmin\(dim=3\) expected dim"),
    ErrorSample("Softmax2d-2d", lambda nn: nn.Softmax2d(), randn(3, 4),
                r"^Softmax2d\(\) expected input of shape \(N, C, H, W\) or \(C, H, W\), got \(3, 4\)"),
    ErrorSample("Softmax2d-5d", lambda nn: nn.Softmax2d(), randn(1, 2, 3, 4, 5), r"got \(1, 2, 3, 4, 5\)"),
    ErrorSample("PReLU-channels", lambda nn: nn.PReLU(3), randn(2, 4, 5),
                r"^PReLU\(num_parameters=3\) expected input of shape \(N, 3, \.\.\.\) .*got \(2, 4, 5\)"),
    ErrorSample("PReLU-channels-1d", lambda nn: nn.PReLU(3), randn(3), r"\(N, 3, \.\.\.\).*got \(3,\)"),
    ErrorSample("PReLU-dtype", lambda nn: nn.PReLU(2), lambda rng: (rng.standard_normal((2, 2)),),
                r"weight of the input's dtype float64, got dtype float32"),
    ErrorSample("prelu-2d-weight", _f("prelu"), lambda rng: (rng.standard_normal((2, 3)), np.ones((3, 1))),
                r"^prelu expected a scalar or 1-D weight, got weight of shape \(3, 1\)"),
    ErrorSample("softmax-int-dtype", _f("softmax", 0, dtype=np.int64), randn(3),
                r"^softmax expected a floating-point dtype=, got int64"),
    ErrorSample("softmax-bool-input", _f("softmax", 0, dtype=np.float32), lambda rng: (np.array([True]),),
                r"numeric input, got dtype bool"),
    ErrorSample("glu-functional", _f("glu", 1), randn(2, 3), r"^glu expected an even size along dim 1"),
    ErrorSample("gumbel_softmax-dim", _f("gumbel_softmax", dim=2), randn(2, 3), r"^gumbel_softmax expected dim"),
    ErrorSample("tanhshrink-int", _f("tanhshrink"), lambda rng: (np.arange(3),), r"^tanhshrink expected a floating"),
]
