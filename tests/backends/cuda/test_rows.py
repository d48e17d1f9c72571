"""The block-per-row kernels (``rows.py``): rows longer than a block, strided rows, NaN and -inf rows, masks."""
from __future__ import annotations

import numpy as np
import pytest

import nngraph.nn.functional as F
from nngraph import nn

from .helpers import Fn, check

rng = np.random.default_rng(12)


# the simulator evaluates inf - inf in numpy scalars, which warn (a GPU gives NaN silently, as the reference does)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_softmax_and_norm_rows(dtype: type) -> None:
    x = rng.standard_normal((3, 11, 3)).astype(dtype)
    x[0, 3, 1] = np.nan  # NaN spreads over its row only
    x[1, :, 2] = -np.inf  # an all -inf row: NaN, as numpy
    x[2, 5, 0] = np.inf
    y = rng.standard_normal((3, 11, 3)).astype(dtype)
    ln = nn.LayerNorm(3)
    ln.weight[...] = rng.standard_normal(3)
    if dtype == np.float64:
        ln = ln.double()

    def f(m, x, y):  # noqa: ANN001, ANN202
        return (F.softmax(x, dim=1), F.log_softmax(x, dim=-1), F.softmax(x.reshape(3, 33), dim=-1),
                m.ln(y), F.layer_norm(y.reshape(3, 33), (33,)), F.rms_norm(y, (11, 3)))
    tol = 1e-5 if dtype == np.float32 else 1e-10
    with np.errstate(invalid="ignore", over="ignore"):  # the eager reference
        check(Fn(f, ln=ln), x, y, rtol=tol, atol=tol)


def test_attention_rows_longer_than_a_block() -> None:
    q, k, v = (rng.standard_normal(s).astype(np.float32) for s in ((1, 2, 9, 4), (1, 2, 23, 4), (1, 2, 23, 3)))
    keep = rng.random((9, 23)) > 0.4
    keep[4] = False  # fully masked: zeros

    def f(m, q, k, v):  # noqa: ANN001, ANN202
        return (F.scaled_dot_product_attention(q, k, v, attn_mask=keep),
                F.scaled_dot_product_attention(q, k[:, :, :9], v[:, :, :9], is_causal=True))
    check(Fn(f), q, k, v, rtol=1e-5, atol=1e-5)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_long_reductions_block_per_output(dtype: type) -> None:
    """Reductions of >= 64 elements into few outputs (``rows.reduce_block``): strided, NaN, integer sums."""
    x = rng.standard_normal((3, 70)).astype(dtype)
    x[1, 33] = np.nan
    y = rng.standard_normal((9, 4, 2)).astype(dtype)
    k = rng.integers(-50, 50, (80,)).astype(np.int64)

    def f(m, x, y, k):  # noqa: ANN001, ANN202
        return (x.sum(axis=1), x.mean(axis=-1), x.max(axis=1), x.min(axis=1), x.var(axis=1), x.std(axis=1, ddof=1),
                y.mean(), y.transpose(2, 1, 0).max(axis=(1, 2)), y[:, :, 0].T.var(axis=1), k.sum(), k.max())
    tol = 1e-5 if dtype == np.float32 else 1e-10
    compiled = check(Fn(f), x, y, k, rtol=tol, atol=tol)
    from nngraph.backends.cuda import rows

    kernels = {getattr(s.kernel, "__name__", getattr(getattr(s.kernel, "py_func", None), "__name__", ""))
               for s in compiled.specializations[0].executable.plan.program if hasattr(s, "kernel")}
    assert rows.reduce_block.__name__ in kernels or any("reduce_block" in k for k in kernels), kernels
