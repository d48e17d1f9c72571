"""CPU lowering of reductions (sum/mean/prod/var/std/max/min/any/all/argmax/argmin) and softmax/log_softmax:
compiled results against the eager module, every op compiled (no host step).

Many ops share one compiled graph (a function returning a tuple) so that each kernel compiles once per dtype."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import nngraph
import nngraph.nn.functional as F
from tests.trace.util import Fn, assert_same

FLOATS = [np.float32, np.float64]


def _tol(dtype: type) -> dict:
    return dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


def check(fn, *inputs, host_steps: int = 0, rtol: float = 1e-6, atol: float = 1e-6, ops: tuple = (),
          **compile_kw) -> object:
    """Compile ``fn`` (a function or module), compare with eager execution, check the host steps and that the
    optimized graph holds each op of ``ops`` (so that their lowering is what ran)."""
    model = (fn if isinstance(fn, nngraph.nn.Module) else Fn(fn)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's empty-slice / ddof warnings (eager and tracing)
        want = model(*inputs)
        compiled = nngraph.compile(model, **compile_kw)
        got = compiled(*inputs)
    spec = compiled.specializations[0]
    assert spec.executable.n_host_steps == host_steps
    targets = {n.target for n in spec.result.graph.nodes()}
    assert set(ops) <= targets, f"ops {set(ops) - targets} not in the graph"
    assert_same(got, _arrays(want), rtol, atol)
    return compiled


def _arrays(value):  # noqa: ANN001, ANN202
    """numpy scalars (what numpy's full reductions return) as 0-d arrays, as the compiled module returns them."""
    if isinstance(value, tuple):
        return tuple(_arrays(v) for v in value)
    return np.asarray(value) if isinstance(value, np.generic) else value


def _rand(shape: tuple, dtype: type, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _float_reductions(x, b, big, big_b):  # noqa: ANN001, ANN202
    xt = x.transpose(2, 0, 1)  # strided views: reduce over permuted / sliced / reversed dims
    xs = x[:, ::2]
    xr = x[:, :, ::-1]
    small = (x.sum(), x.sum(axis=0), x.sum(axis=1), x.sum(axis=2), x.sum(axis=(0, 2)), x.sum(axis=1, keepdims=True),
             x.mean(axis=(1, 2)), x.mean(axis=0, keepdims=True), x.prod(axis=1), x.prod(),
             x.var(axis=2), x.var(axis=(0, 1), ddof=1), x.std(axis=0), x.std(axis=2, ddof=1), x.var(),
             x.max(axis=1), x.min(axis=(0, 2)), x.max(), x.min(axis=2, keepdims=True),
             x.argmax(axis=0), x.argmax(axis=1), x.argmax(axis=2, keepdims=True), x.argmin(), x.argmin(axis=1),
             x.argmax(),
             b.any(axis=1), b.all(axis=(0, 2)), b.any(), b.all(axis=2, keepdims=True), x.any(axis=0), x.all(axis=2),
             xt.sum(axis=1), xt.max(axis=0), xt.argmax(axis=2), xt.argmin(axis=0), xt.var(axis=1),
             xt.mean(axis=(0, 2)), xt.argmax(), b.transpose(2, 0, 1).any(axis=0), xs.sum(axis=2), xs.max(axis=1),
             xs.std(axis=0), xr.sum(axis=2), xr.argmax(axis=2), xr.min(axis=0))
    # Rows longer than a summation block, many outputs (parallel rows), one long output row split for threads.
    large = (big.sum(axis=1), big.mean(axis=0), big.var(axis=1), big.std(axis=0, ddof=1), big.max(axis=1),
             big.min(axis=0), big.argmax(axis=1), big.argmin(axis=0), big_b.any(axis=1), big_b.all(axis=0), big.sum(),
             big.prod(axis=0))
    return small + large


@pytest.mark.parametrize("dtype", FLOATS)
def test_float_reductions(dtype: type) -> None:
    x = _rand((4, 5, 7), dtype)
    x[1, 2] = 0.0  # any/all of numbers: x != 0
    big = _rand((40, 5000), dtype, 1)
    # Inputs rather than comparisons in the graph: every elementwise op is one more generated kernel to compile.
    check(_float_reductions, x, x > 0.3, big, big > 2.5, **_tol(dtype),
          ops=("sum", "mean", "prod", "var", "std", "max", "min", "argmax", "argmin", "any", "all"))


def test_integer_and_bool_reductions() -> None:
    """Integer sums/products in int64, means and variances in float64, max/min/argmax in the input dtype, bool
    counts (each distinct input dtype compiles the kernels again, so the cases are chosen sparingly)."""
    xi = np.random.default_rng(2).integers(-50, 50, (3, 6, 5)).astype(np.int32)

    def fn(x, b):  # noqa: ANN001, ANN202
        return (x.sum(axis=1), x.sum(axis=2), x.sum(), x.prod(axis=1), x.max(axis=(0, 2)), x.min(axis=1),
                x.argmax(axis=2), x.argmin(), x.mean(axis=2), x.var(axis=(1, 2)), x.std(axis=2, ddof=1),
                b.sum(axis=2), b.any(axis=1), b.all(axis=0), b.max(axis=1), b.min())

    check(fn, xi, xi > 0, rtol=1e-12, atol=1e-12)


def test_nan_inf_empty_and_size_one() -> None:
    x = _rand((5, 6), np.float32, 3)
    x[1, 2] = np.nan
    x[3, 0] = np.inf
    x[4, :] = -np.inf
    x[0, 4] = np.nan
    e = _rand((3, 0, 4), np.float32)
    y = _rand((1, 5, 1), np.float64, 4)

    def fn(x, e, eb, y):  # noqa: ANN001, ANN202
        nan_inf = (x.max(axis=1), x.min(axis=1), x.max(axis=0), x.min(axis=0), x.argmax(axis=1), x.argmin(axis=1),
                   x.argmax(axis=0), x.argmin(axis=0), x.sum(axis=1), x.max(), x.argmax())
        empty = (e.sum(axis=1), e.prod(axis=1), e.mean(axis=1), e.var(axis=(0, 1)), eb.any(axis=1), eb.all(axis=1),
                 e.max(axis=0), e.argmax(axis=2), e.sum(axis=2))
        size_one = (y.sum(axis=0), y.max(axis=2), y.sum(axis=(0, 2), keepdims=True), y.argmax(axis=0), y.var(axis=0),
                    y.var(axis=2, ddof=1), y.mean(axis=()), y.argmin(axis=1), y.std())
        return nan_inf + empty + size_one

    check(fn, x, e, e > 0, y, rtol=1e-6, atol=1e-6)


def test_empty_max_stays_on_host() -> None:
    """max/argmax of nothing raises in numpy: left to the host (which reports it)."""
    compiled = nngraph.compile(Fn(lambda x: x.max(axis=1)).eval())
    with pytest.raises(Exception, match="zero-size|identity"):
        compiled(_rand((3, 0), np.float32))


# --------------------------------------------------------------------------------------------- softmax
@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax(dtype: type) -> None:
    x = _rand((3, 5, 7), dtype, 5) * 4

    def fn(x):  # noqa: ANN001, ANN202
        xt = x.transpose(0, 2, 1)
        return (F.softmax(x, -1), F.log_softmax(x, -1), F.softmax(x, 1), F.log_softmax(x, 0), F.softmax(x, 0),
                F.log_softmax(x, 1), F.softmax(xt, -1), F.log_softmax(xt[:, ::2], 1))

    check(fn, x, ops=("softmax", "log_softmax"), **_tol(dtype))
    check(lambda x: (F.softmax(x, 1), F.log_softmax(x, 0)), np.zeros((0, 5), dtype))


def test_softmax_dtype_cast_masks_and_large_rows() -> None:
    x = _rand((4, 9), np.float32, 6) * 10
    x[1, 3:] = -np.inf  # masked positions give exactly 0 (softmax) / -inf (log_softmax)
    x[2, :] = -np.inf  # an all -inf row gives NaN, as in torch and the reference
    big = _rand((48, 1000), np.float32, 7) * 30  # parallel rows, wide exponent range
    cols = _rand((2, 30, 4500), np.float32, 8)  # softmax over a middle axis, long inner rows split for threads

    def fn(x, big, cols):  # noqa: ANN001, ANN202
        return (F.softmax(x, -1), F.softmax(x, -1, dtype=np.float64), F.softmax(big, 1), F.softmax(cols, 1))

    check(fn, x, big, cols, rtol=3e-6, atol=1e-30)  # relative accuracy of tiny probabilities too

    def log_fn(x, x64, big, cols):  # noqa: ANN001, ANN202
        return (F.log_softmax(x, -1), F.log_softmax(x64, 0, dtype=np.float32), F.log_softmax(big, 1),
                F.log_softmax(cols, 1))

    # x - max - log(sum): the absolute error is ~ ulp(log(sum))
    check(log_fn, x, x.astype(np.float64), big, cols, rtol=1e-6, atol=1e-6)
