"""CPU lowering of the remaining elementwise math (floordiv/mod, fmax/fmin, bitwise, ...), data movement (tile,
repeat, setitem, attention_append), norms and distances, bilinear, max_unpool, conv_transpose and
batch_norm_stats: compiled results against eager numpy execution, every op compiled (no host step).

Many ops share one compiled graph (a function returning a tuple) so that each kernel compiles once per dtype."""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest

import nngraph
from tests.trace.util import Fn, assert_same

FLOATS = [np.float32, np.float64]


def _tol(dtype: type) -> dict:
    return dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-13)


def check(fn, *inputs, dtype: type = np.float64, host_steps: int = 0, tol: dict | None = None) -> Any:
    """Compile ``fn``, compare with eager execution, check that everything compiled."""
    model = Fn(fn).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's divide-by-zero / invalid warnings
        want = model(*inputs)
        compiled = nngraph.compile(model)
        got = compiled(*inputs)
    assert compiled.specializations[0].executable.n_host_steps == host_steps
    assert_same(got, want, **(tol or _tol(dtype)))
    return compiled


def _rand(shape: tuple, dtype: type, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ------------------------------------------------------------------------------------------------ elementwise math
EDGE = np.array([0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 0.5, -0.5, 0.99, 3.0, -7.0, 1e30, np.nan, np.inf, -np.inf])


def _float_math(x, y, u):  # noqa: ANN001, ANN202
    """``x`` (n, 1) and ``y`` (1, n) broadcast against each other; ``u`` strided values in [-1, 1]."""
    return (
        x // y, x % y, np.fmax(x, y), np.fmin(x, y), np.hypot(x, y), np.logaddexp(x, y),
        np.arcsin(u), np.arccos(u), np.arctanh(u), np.cbrt(x), np.rint(x), np.signbit(x),
        np.fmax(x, y) * 2 + x % y,  # fused chain
        np.signbit(x % y), np.signbit(x // y),  # signed zeros (allclose does not see them)
    )


@pytest.mark.parametrize("dtype", FLOATS)
def test_float_math(dtype: type) -> None:
    x = EDGE.astype(dtype)[:, None]
    y = EDGE.astype(dtype)[None, :]
    u = np.linspace(-1.2, 1.2, 26).astype(dtype).reshape(2, 13).T  # out of domain at the ends: NaN
    check(_float_math, x, y, u, dtype=dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("size", [30, 1 << 17])  # the serial and the parallel loop
def test_scalar_operands_keep_the_flat_loop(dtype: type, size: int) -> None:
    """Python scalars (one-element constants, broadcast) are read once by the flat loop, not through the strided one."""
    x = np.linspace(-3, 3, size).astype(dtype)
    compiled = check(lambda x: np.maximum(x * 0.5 + 1.0, 0) - 2.0 * np.tanh(x), x, dtype=dtype)
    source = compiled.specializations[0].executable.source
    assert "_flat" in source and "_strided" not in source, source


def test_float32_exp_family_is_vectorizable_and_exact() -> None:
    """Generated float32 loops take ``exp`` from ``fmath`` (the vectorizable float32 exp, < 1 ulp): exp, sigmoid and
    SiLU over the whole range -- overflow, denormal results, infinities, NaN -- against float64 numpy."""
    import nngraph.nn.functional as F
    from nngraph.backends.cpu import fmath
    from nngraph.backends.cpu.kernels_reduce import fexp

    assert fmath.exp is fexp and fmath.tanh is math.tanh
    x = np.concatenate([np.linspace(-110, 90, 20001), [-np.inf, np.inf, np.nan, 0.0, -0.0, 1e-30]]).astype(np.float32)
    compiled = check(lambda x: (np.exp(x), F.sigmoid(x), F.silu(x)), x, dtype=np.float32)
    got = compiled(x)
    with np.errstate(over="ignore", invalid="ignore"):
        x64 = x.astype(np.float64)
        want = [w.astype(np.float32) for w in (np.exp(x64), 1 / (1 + np.exp(-x64)), x64 / (1 + np.exp(-x64)))]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=3e-7, atol=1.2e-38)  # denormal tails: float32 products round


def _int_math(x, y):  # noqa: ANN001, ANN202
    return x // y, x % y, np.fmax(x, y), np.fmin(x, y), x & y, x | y, x ^ y, np.signbit(x)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8])
def test_int_math(dtype: type) -> None:
    info = np.iinfo(dtype)
    vals = np.array(sorted({0, 1, 2, 3, 7, info.max, info.min, 5 if info.min == 0 else -1,
                            9 if info.min == 0 else -3}), dtype=dtype)
    x, y = vals[:, None], vals[None, ::-1]  # y: a reversed (negative-stride) view
    check(_int_math, x, y, dtype=dtype)


def test_int_float_mix() -> None:
    """rint/hypot/arctanh of integers give float64 results; int32 // float32 computes in float64 (numpy)."""
    i = np.array([[-3, -1, 0, 1, 2, 5]], dtype=np.int32)
    f = np.array([[2.5], [-0.5], [0.0]], dtype=np.float32)
    check(lambda i, f: (np.rint(i), np.hypot(i, i), np.arcsin(i), i // f, i % f, np.fmax(i, f)), i, f)


def test_bool_bitwise() -> None:
    a = np.array([[True, False, True, False]])
    b = np.array([[True], [False]])
    check(lambda a, b: (a & b, a | b, a ^ b, np.fmax(a, b), np.signbit(a)), a, b)


# ---------------------------------------------------------------------------------------------------- data movement
def _movement(x, v):  # noqa: ANN001, ANN202
    from nngraph.ops.attention import attention_append

    xt = x.transpose(2, 0, 1)  # strided
    y = x * 1
    y[1:, ::2] = v  # broadcast value
    z = xt + 0
    z[0, -1] = 5
    return (
        np.tile(x, 2), np.tile(x, (2, 1, 3)), np.tile(xt, (3, 1, 1, 2)), np.tile(x[0, 0], (2,)),
        np.repeat(x, 3, axis=1), np.repeat(xt, 2, axis=-1), np.repeat(xt, 2), x.repeat(1, axis=0),
        y, z,
        attention_append(x, None, axis=1), attention_append(xt, None, axis=-1),
        attention_append(x, v[None], axis=0),  # (1, 1, 3) broadcast over x's dims but axis 0
    )


@pytest.mark.parametrize("dtype", FLOATS + [np.int32, np.bool_])
def test_movement(dtype: type) -> None:
    x = (_rand((2, 3, 4), np.float64) * 3).astype(dtype)
    v = (_rand((1, 4), np.float64, seed=1) * 3).astype(dtype)
    check(_movement, x, v, dtype=dtype)


def test_setitem_casts_value() -> None:
    def fn(x, i):  # noqa: ANN001, ANN202
        y = x * 1
        y[:, 1] = i  # int32 into float32 (same-kind cast)
        return y

    check(fn, _rand((3, 4), np.float32), np.arange(3, dtype=np.int32), dtype=np.float32)


# ---------------------------------------------------------------------------------------------------- norms
def _norms(x, y, v, m):  # noqa: ANN001, ANN202
    import nngraph.nn.functional as F

    xt = x.transpose(0, 2, 1)  # strided
    return (
        F.normalize(x), F.normalize(xt, p=1.0, dim=2), F.normalize(x, p=3.0, dim=(1, 2)), F.normalize(x, dim=0),
        F.normalize(x, p=float("inf"), dim=-1), F.normalize(x, p=0.0, dim=1), F.normalize(v, dim=0),
        F.cosine_similarity(x, y), F.cosine_similarity(x, y[:1], dim=2), F.cosine_similarity(v, v[::-1], dim=0),
        F.pairwise_distance(m, m[::-1]), F.pairwise_distance(m, m[:1], p=1.0, keepdim=True),
        F.pairwise_distance(m, m * 2, p=float("inf")), F.pairwise_distance(m, m + 1, p=0.5, eps=0.0),
        F.pairwise_distance(m, m, p=float("-inf")),
        F.pdist(m), F.pdist(m, p=1.0), F.pdist(m.T, p=3.0), F.pdist(m, p=float("inf")),
    )


@pytest.mark.parametrize("dtype", FLOATS)
def test_norms(dtype: type) -> None:
    x = _rand((2, 3, 5), dtype)
    x[1, 0] = 0  # a zero vector: the eps clamp
    y = _rand((2, 3, 5), dtype, seed=1)
    v = _rand((7,), dtype, seed=2)
    m = _rand((4, 6), dtype, seed=3)
    check(_norms, x, y, v, m, dtype=dtype, tol=dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else None)


def test_norms_nan_inf() -> None:
    x = np.array([[1.0, np.nan, 2.0], [np.inf, 1.0, 0.0], [0.0, 0.0, 0.0], [3.0, -4.0, 1e300]])

    def fn(x):  # noqa: ANN001, ANN202
        import nngraph.nn.functional as F

        return F.normalize(x, dim=1), F.pdist(x), F.pairwise_distance(x, x[::-1]), F.cosine_similarity(x, x[::-1])

    check(fn, x)


# ---------------------------------------------------------------------------------------------------- statistics
@pytest.mark.parametrize("dtype", FLOATS)
def test_batch_norm_stats(dtype: type) -> None:
    import nngraph.nn.functional as F

    x = _rand((3, 4, 5), dtype) * 3 + 1
    x4 = _rand((2, 3, 2, 3), dtype, seed=1)
    check(lambda x, x4: (F.batch_norm(x, None, None, training=True), F.batch_norm(x4.transpose(0, 1, 3, 2), None,
                                                                                 None, training=True)),
          x, x4, dtype=dtype, tol=dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else None)


def test_instance_norm_stats_direct() -> None:
    from nngraph.ops.normalization import batch_norm_stats

    x = _rand((2, 3, 4), np.float64)
    check(lambda x: batch_norm_stats(x[:, :, ::2]), x)


# ---------------------------------------------------------------------------------------------------- bilinear
class _Bilinear(nngraph.nn.Module):
    def __init__(self, dtype: type) -> None:
        super().__init__()
        self.layer = nngraph.nn.Bilinear(4, 3, 5, dtype=dtype)

    def forward(self, a, b, w):  # noqa: ANN001, ANN201
        import nngraph.nn.functional as F

        # a weight (pre-transposed once) and a raw weight input with strided activations
        return self.layer(a, b), F.bilinear(a[::2], b[::2], w, None), F.bilinear(a[None], b[None], w, w[:, 0, 0])


@pytest.mark.parametrize("dtype", FLOATS)
def test_bilinear(dtype: type) -> None:
    a, b = _rand((6, 4), dtype), _rand((6, 3), dtype, seed=1)
    w = _rand((2, 4, 3), dtype, seed=2)
    model = _Bilinear(dtype).eval()
    want = model(a, b, w)
    compiled = nngraph.compile(model)
    got = compiled(a, b, w)
    assert compiled.specializations[0].executable.n_host_steps == 0
    assert_same(got, want, **(dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else _tol(dtype)))


# ---------------------------------------------------------------------------------------------------- max unpool
@pytest.mark.parametrize("dtype", FLOATS)
def test_max_unpool(dtype: type) -> None:
    import nngraph.nn.functional as F

    x = _rand((2, 3, 6, 4), dtype)
    _, idx = F.max_pool2d(x, 2, return_indices=True)
    x1 = _rand((2, 3, 8), dtype)
    _, idx1 = F.max_pool1d(x1, 3, 2, return_indices=True)
    dup = np.zeros((1, 1, 3), dtype=np.int64)  # every value to position 0: the last one wins
    check(lambda v, i, v1, i1, d: (F.max_unpool2d(v, i, 2), F.max_unpool2d(v, i, 2, output_size=(7, 5)),
                                   F.max_unpool1d(v1, i1, 3, 2), F.max_unpool1d(v1[:1, :1], d, 2)),
          F.max_pool2d(x, 2), idx, F.max_pool1d(x1, 3, 2), idx1, dup, dtype=dtype)


def test_max_unpool_bad_index() -> None:
    import nngraph.nn.functional as F

    model = Fn(lambda v, i: F.max_unpool1d(v, i, 2)).eval()
    v, i = _rand((1, 1, 3), np.float64), np.array([[[0, 2, 4]]])
    compiled = nngraph.compile(model)
    compiled(v, i)
    assert compiled.specializations[0].executable.n_host_steps == 0
    with pytest.raises(Exception, match="max_unpool"):  # the kernel's range check, reported as the reference's
        compiled(v, np.array([[[0, 2, 6]]]))


# ---------------------------------------------------------------------------------------------------- conv_transpose
def _conv_transpose(x1, w1, x2, w2, b2, wg, x3, w3):  # noqa: ANN001, ANN202
    import nngraph.nn.functional as F

    return (
        F.conv_transpose1d(x1, w1), F.conv_transpose1d(x1, w1, stride=3, padding=1, output_padding=2, dilation=2),
        F.conv_transpose2d(x2, w2, b2), F.conv_transpose2d(x2, w2, b2, stride=2, padding=1, output_padding=1),
        F.conv_transpose2d(x2.transpose(0, 1, 3, 2), w2, None, stride=(1, 2), dilation=(2, 1), padding=(2, 0)),
        F.conv_transpose2d(x2, wg, None, stride=2, groups=2),  # grouped
        F.conv_transpose2d(x2, wg[:, :1].reshape(4, 1, 3, 3)[:4], None, groups=4),  # depthwise
        np.maximum(F.conv_transpose2d(x2, w2, b2, stride=2), 0),  # an epilogue
        F.conv_transpose3d(x3, w3, None, stride=(1, 2, 2), padding=(0, 1, 0), output_padding=(0, 1, 1)),
        # stride == kernel: every output from exactly one tap (the one-pass col2im), with and without bias ...
        F.conv_transpose2d(x2, w2[:, :, :2, :2], b2, stride=2), F.conv_transpose1d(x1, w1, stride=3),
        F.conv_transpose2d(x2, wg[:, :, :2, :2], None, stride=2, groups=2),
        F.conv_transpose3d(x3, w3[:, :, :1, :2, :2], None, stride=(1, 2, 2)),
        F.conv_transpose2d(x2, w2[:, :, :2, :2], b2, stride=2, output_padding=1),  # ... but for uncovered outputs
    )


@pytest.mark.parametrize("dtype", FLOATS)
def test_conv_transpose(dtype: type) -> None:
    x1, w1 = _rand((2, 3, 5), dtype), _rand((3, 2, 3), dtype, seed=1)
    x2, w2, b2 = _rand((2, 4, 5, 6), dtype, seed=2), _rand((4, 3, 3, 2), dtype, seed=3), _rand((3,), dtype, seed=4)
    wg = _rand((4, 2, 3, 3), dtype, seed=5)
    x3, w3 = _rand((1, 2, 3, 4, 3), dtype, seed=6), _rand((2, 3, 2, 3, 2), dtype, seed=7)
    check(_conv_transpose, x1, w1, x2, w2, b2, wg, x3, w3, dtype=dtype,
          tol=dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else None)


@pytest.mark.parametrize("dtype", FLOATS)
def test_conv_transpose_module(dtype: type) -> None:
    """nn.ConvTranspose2d: the weight is a parameter (weight arena), torch's padding/output_padding."""
    layer = nngraph.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dtype=dtype)
    x = _rand((2, 4, 5, 5), dtype)
    model = layer.eval()
    want = model(x)
    compiled = nngraph.compile(model)
    got = compiled(x)
    assert compiled.specializations[0].executable.n_host_steps == 0
    assert_same(got, want, **(dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else _tol(dtype)))


def test_conv_transpose_weight_is_prepared_once_and_follows_updates() -> None:
    """A parameter weight is transposed for the GEMM once per weight version (a derived weight), and again after the
    user replaces it; U-Net's 2x2 stride-2 geometry, grouped."""
    layer = nngraph.nn.ConvTranspose2d(4, 6, 2, stride=2, groups=2).eval()
    x = _rand((2, 4, 5, 7), np.float32)
    compiled = nngraph.compile(layer)
    assert_same(compiled(x), layer(x), rtol=1e-5, atol=1e-5)
    assert any(key.endswith(":convt_t") for key in compiled.specializations[0].executable.program.arenas.derived)
    layer.weight = nngraph.nn.Parameter(_rand((4, 3, 2, 2), np.float32, seed=9))
    assert_same(compiled(x), layer(x), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------------- large work
def _large(x, y, m, xb, pooled, idx, xc, wc, t, u, w):  # noqa: ANN001, ANN202
    import nngraph.nn.functional as F

    return (F.normalize(x), F.cosine_similarity(x, y), F.pairwise_distance(x, y), F.pdist(m),
            F.batch_norm(xb, None, None, training=True), F.max_unpool2d(pooled, idx, 2),
            F.conv_transpose2d(xc, wc, None, stride=2), F.bilinear(t, u, w, None))


def test_parallel_paths() -> None:
    """Shapes past the kernels' serial thresholds (their prange branches)."""
    import nngraph.nn.functional as F

    dt = np.float64
    x4 = _rand((8, 16, 64, 64), dt, seed=4)
    pooled, idx = F.max_pool2d(x4, 2, return_indices=True)
    check(_large, _rand((64, 1024), dt), _rand((64, 1024), dt, seed=1), _rand((64, 32), dt, seed=2),
          _rand((8, 16, 512), dt, seed=3), pooled, idx, _rand((1, 4, 32, 32), dt, seed=5),
          _rand((4, 8, 3, 3), dt, seed=6), _rand((64, 8), dt, seed=7), _rand((64, 64), dt, seed=8),
          _rand((16, 8, 64), dt, seed=9), tol=dict(rtol=1e-12, atol=1e-12))


# ---------------------------------------------------------------------------------------------------- random geometry
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_FEW = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FEW
@given(length=st.integers(1, 5), k=st.integers(1, 4), stride=st.integers(1, 3), dilation=st.integers(1, 2),
       padding=st.integers(0, 2), extra=st.integers(0, 2), groups=st.sampled_from([1, 2]), bias=st.booleans())
def test_conv_transpose1d_geometry(length: int, k: int, stride: int, dilation: int, padding: int, extra: int,
                                   groups: int, bias: bool) -> None:
    import nngraph.nn.functional as F

    output_padding = extra % max(stride, dilation)
    if (length - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1 <= 0:
        return
    x, w = _rand((2, 2 * groups, length), np.float64), _rand((2 * groups, 3, k), np.float64, seed=1)
    b = _rand((3 * groups,), np.float64, seed=2) if bias else None
    check(lambda x, w: F.conv_transpose1d(x, w, b, stride, padding, output_padding, groups, dilation), x, w)


@_FEW
@given(shape=st.lists(st.integers(0, 3), min_size=1, max_size=3),
       reps=st.lists(st.integers(0, 3), min_size=1, max_size=4), axis=st.integers(-1, 2), repeats=st.integers(0, 3))
def test_tile_repeat_shapes(shape: list, reps: list, axis: int, repeats: int) -> None:
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    axis = axis % len(shape)
    check(lambda x: (np.tile(x, tuple(reps)), np.repeat(x, repeats, axis=axis), np.repeat(x, repeats)), x,
          dtype=np.float32)
