"""GEMM/conv epilogues: elementwise work applied to an output block right after its K loop, while it is in cache.

Epilogue protocol -- any @njit function with this signature can be passed to the kernels::

    epi(c, b, r0, r1, c0, c1, args) -> None

``c`` is the 2-D C-contiguous output matrix of batch item ``b`` (linear: (batch rows M, out features N), batch item
always 0; conv: (out channels O, output pixels P) of image ``b``). The epilogue must finish the final values of
``c[r0:r1, c0:c1]`` in place (it is called exactly once per element, on blocks of a few rows by up to a few hundred
columns). ``args`` is whatever tuple the caller passed as ``epi_args``. Numba compiles one kernel specialisation per
epilogue function object, so a code generator can emit its own epilogue; the ready-made :func:`epi_std` covers
bias + residual + activation with runtime arguments and is compiled once per dtype (use it when possible).

Standard arguments (build them with :func:`std_args`, or as a literal tuple in generated @njit code)::

    (bias, bias_axis, residual, act, alpha, beta)
    bias      1-D array of c's dtype, length 0 for none; bias_axis 0: bias[row] (conv), 1: bias[col] (linear)
    residual  3-D C-contiguous (B, M, N) array of c's dtype added before the activation, size 0 for none
    act       activation code (ACT_*); alpha/beta its float parameters (see ``ACTIVATIONS``)

Order: ``act(c + bias + residual)``. Compose epilogues with :func:`chain`.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
from numba import njit, types
from numba.extending import overload

from .simd import (Vec, vabs, vcopysign, vfloor, vfma, vldexp, vload, vload_n, vmax, vmin, vselect_lt, vsplat,
                   vstore, vstore_n, width_of)

# Activation codes. alpha/beta meaning in the comment; the numpy references are in ``nngraph.ops.activation``.
ACT_NONE = 0
ACT_RELU = 1
ACT_CLAMP = 2  # hardtanh / relu6: min(max(x, alpha), beta)
ACT_LEAKY_RELU = 3  # alpha: negative slope
ACT_SILU = 4
ACT_GELU = 5  # erf form
ACT_GELU_TANH = 6
ACT_SIGMOID = 7
ACT_TANH = 8
ACT_HARDSWISH = 9
ACT_ELU = 10  # alpha
ACT_HARDSIGMOID = 11

#: name -> (code, default alpha, default beta)
ACTIVATIONS: dict[str, tuple[int, float, float]] = {
    "none": (ACT_NONE, 0.0, 0.0),
    "relu": (ACT_RELU, 0.0, 0.0),
    "relu6": (ACT_CLAMP, 0.0, 6.0),
    "hardtanh": (ACT_CLAMP, -1.0, 1.0),
    "clamp": (ACT_CLAMP, -np.inf, np.inf),
    "leaky_relu": (ACT_LEAKY_RELU, 0.01, 0.0),
    "silu": (ACT_SILU, 0.0, 0.0),
    "gelu": (ACT_GELU, 0.0, 0.0),
    "gelu_tanh": (ACT_GELU_TANH, 0.0, 0.0),
    "sigmoid": (ACT_SIGMOID, 0.0, 0.0),
    "tanh": (ACT_TANH, 0.0, 0.0),
    "hardswish": (ACT_HARDSWISH, 0.0, 0.0),
    "elu": (ACT_ELU, 1.0, 0.0),
    "hardsigmoid": (ACT_HARDSIGMOID, 0.0, 0.0),
}


# --------------------------------------------------------------------------------------------- vector math
# float32: Cephes-style polynomials (max rel. error a few ulp), all lanes at once. float64 epilogues take the scalar
# path with libm (see _rows_scalar), so these are float32-only in practice but type-generic.

_LN2_HI = 0.693359375
_LN2_LO = -2.12194440e-4
_LOG2E = 1.44269504088896341


@njit(inline="always")
def vexp(x: Vec) -> Vec:
    """exp(x) for float32 lanes, clamped to the finite normal range."""
    x = vmin(vmax(x, vsplat(np.float32(-87.33654))), vsplat(np.float32(88.72283)))
    n = vfloor(vfma(x, vsplat(np.float32(_LOG2E)), vsplat(np.float32(0.5))))
    r = vfma(n, vsplat(np.float32(-_LN2_HI)), x)
    r = vfma(n, vsplat(np.float32(-_LN2_LO)), r)
    p = vsplat(np.float32(1.9875691500e-4))
    p = vfma(p, r, vsplat(np.float32(1.3981999507e-3)))
    p = vfma(p, r, vsplat(np.float32(8.3334519073e-3)))
    p = vfma(p, r, vsplat(np.float32(4.1665795894e-2)))
    p = vfma(p, r, vsplat(np.float32(1.6666665459e-1)))
    p = vfma(p, r, vsplat(np.float32(5.0000001201e-1)))
    p = vfma(p, r * r, r) + np.float32(1.0)
    # 2**n in two halves so n = 128 (x near the top clamp) does not overflow the exponent field.
    half = vfloor(n * np.float32(0.5))
    return vldexp(vldexp(p, half), n - half)


@njit(inline="always")
def vsigmoid(x: Vec) -> Vec:
    return np.float32(1.0) / (vexp(-x) + np.float32(1.0))


@njit(inline="always")
def vtanh(x: Vec) -> Vec:
    """Cephes tanhf: odd polynomial for |x| < 0.625, 1 - 2/(exp(2|x|)+1) otherwise."""
    ax = vabs(x)
    z = x * x
    p = vsplat(np.float32(-5.70498872745e-3))
    p = vfma(p, z, vsplat(np.float32(2.06390887954e-2)))
    p = vfma(p, z, vsplat(np.float32(-5.37397155531e-2)))
    p = vfma(p, z, vsplat(np.float32(1.33314422036e-1)))
    p = vfma(p, z, vsplat(np.float32(-3.33332819422e-1)))
    small = vfma(p * z, x, x)
    big = np.float32(1.0) - np.float32(2.0) / (vexp(ax + ax) + np.float32(1.0))
    return vselect_lt(ax, vsplat(np.float32(0.625)), small, vcopysign(big, x))


@njit(inline="always")
def verf(x: Vec) -> Vec:
    """erf(x): Abramowitz & Stegun 7.1.26 (abs. error < 1.5e-7), Taylor series near 0 for relative accuracy."""
    ax = vabs(x)
    t = np.float32(1.0) / vfma(ax, vsplat(np.float32(0.3275911)), vsplat(np.float32(1.0)))
    p = vsplat(np.float32(1.061405429))
    p = vfma(p, t, vsplat(np.float32(-1.453152027)))
    p = vfma(p, t, vsplat(np.float32(1.421413741)))
    p = vfma(p, t, vsplat(np.float32(-0.284496736)))
    p = vfma(p, t, vsplat(np.float32(0.254829592)))
    y = np.float32(1.0) - p * t * vexp(-(ax * ax))
    # Near 0 the formula loses relative accuracy: use the Taylor series x*(2/sqrt(pi))*(1 - x^2/3 + x^4/10).
    z = x * x
    s = vfma(z, vsplat(np.float32(0.1)), vsplat(np.float32(-1.0 / 3.0)))
    s = vfma(s, z, vsplat(np.float32(1.0)))
    small = x * s * np.float32(1.1283791670955126)
    return vselect_lt(ax, vsplat(np.float32(0.05)), small, vcopysign(y, x))


@njit(inline="always")
def _act_vec(v: Vec, act: int, alpha: Any, beta: Any) -> Vec:
    """Apply activation ``act`` to float32 lanes ``v`` (alpha/beta already splatted)."""
    if act == ACT_RELU:
        return vmax(v, vsplat(np.float32(0.0)))
    if act == ACT_NONE:
        return v
    if act == ACT_CLAMP:
        return vmin(vmax(v, alpha), beta)
    if act == ACT_SILU:
        return v * vsigmoid(v)
    if act == ACT_LEAKY_RELU:
        return vselect_lt(v, vsplat(np.float32(0.0)), v * alpha, v)
    if act == ACT_GELU:
        return v * np.float32(0.5) * (verf(v * np.float32(0.7071067811865476)) + np.float32(1.0))
    if act == ACT_GELU_TANH:
        inner = v * np.float32(0.7978845608028654) * vfma(v * v, vsplat(np.float32(0.044715)), vsplat(np.float32(1.0)))
        return v * np.float32(0.5) * (vtanh(inner) + np.float32(1.0))
    if act == ACT_SIGMOID:
        return vsigmoid(v)
    if act == ACT_TANH:
        return vtanh(v)
    if act == ACT_HARDSWISH:
        return v * vmin(vmax(v + np.float32(3.0), vsplat(np.float32(0.0))), vsplat(np.float32(6.0))) * np.float32(
            1.0 / 6.0)
    if act == ACT_ELU:
        return vselect_lt(v, vsplat(np.float32(0.0)), (vexp(v) - np.float32(1.0)) * alpha, v)
    if act == ACT_HARDSIGMOID:
        return vmin(vmax(v * np.float32(1.0 / 6.0) + np.float32(0.5), vsplat(np.float32(0.0))),
                    vsplat(np.float32(1.0)))
    return v


@njit(inline="always")
def act_scalar(x: float, act: int, alpha: float, beta: float) -> float:
    """Scalar activation (float64 path and reference semantics)."""
    if act == ACT_RELU:
        return x if x > 0.0 else 0.0 * x
    if act == ACT_NONE:
        return x
    if act == ACT_CLAMP:
        return min(max(x, alpha), beta)
    if act == ACT_SILU:
        return x / (1.0 + math.exp(-x))
    if act == ACT_LEAKY_RELU:
        return x if x >= 0.0 else x * alpha
    if act == ACT_GELU:
        return 0.5 * x * (1.0 + math.erf(x * 0.7071067811865476))
    if act == ACT_GELU_TANH:
        return 0.5 * x * (1.0 + math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
    if act == ACT_SIGMOID:
        if x >= 0.0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)
    if act == ACT_TANH:
        return math.tanh(x)
    if act == ACT_HARDSWISH:
        return x * min(max(x + 3.0, 0.0), 6.0) / 6.0
    if act == ACT_ELU:
        return x if x > 0.0 else alpha * math.expm1(x)
    if act == ACT_HARDSIGMOID:
        return min(max(x / 6.0 + 0.5, 0.0), 1.0)
    return x


# --------------------------------------------------------------------------------------------- standard epilogue


def _std_rows(c, b, r0, r1, c0, c1, bias, bias_axis, res, act, alpha, beta):  # noqa: ANN001, ANN202
    pass


@overload(_std_rows)
def _ov_std_rows(c, b, r0, r1, c0, c1, bias, bias_axis, res, act, alpha, beta):  # noqa: ANN001, ANN202
    if c.dtype == types.float32:
        w = width_of(types.float32)

        def _rows_vec(c, b, r0, r1, c0, c1, bias, bias_axis, res, act, alpha, beta):  # noqa: ANN001, ANN202
            has_bias = bias.shape[0] > 0
            row_bias = has_bias and bias_axis == 0
            col_bias = has_bias and bias_axis != 0
            has_res = res.size > 0
            va = vsplat(np.float32(alpha))
            vb = vsplat(np.float32(beta))
            zero = vsplat(np.float32(0.0))
            for i in range(r0, r1):
                row = c[i]
                rres = res[b, i] if has_res else row
                vbias = vsplat(bias[i]) if row_bias else zero
                j = c0
                while j < c1:
                    n = min(w, c1 - j)
                    full = n == w
                    v = vload(row, j) if full else vload_n(row, j, n)
                    if row_bias:
                        v = v + vbias
                    if col_bias:
                        v = v + (vload(bias, j) if full else vload_n(bias, j, n))
                    if has_res:
                        v = v + (vload(rres, j) if full else vload_n(rres, j, n))
                    v = _act_vec(v, act, va, vb)
                    if full:
                        vstore(row, j, v)
                    else:
                        vstore_n(row, j, v, n)
                    j += w

        return _rows_vec

    def _rows_scalar(c, b, r0, r1, c0, c1, bias, bias_axis, res, act, alpha, beta):  # noqa: ANN001, ANN202
        has_bias = bias.shape[0] > 0
        has_res = res.size > 0
        for i in range(r0, r1):
            row = c[i]
            for j in range(c0, c1):
                v = row[j]
                if has_bias:
                    v += bias[i] if bias_axis == 0 else bias[j]
                if has_res:
                    v += res[b, i, j]
                row[j] = act_scalar(v, act, alpha, beta)

    return _rows_scalar


@njit(cache=True)
def epi_std(c: np.ndarray, b: int, r0: int, r1: int, c0: int, c1: int, args: tuple) -> None:
    """Standard epilogue ``act(c + bias + residual)``; ``args`` from :func:`std_args`."""
    bias, bias_axis, res, act, alpha, beta = args
    _std_rows(c, b, r0, r1, c0, c1, bias, bias_axis, res, act, alpha, beta)


@njit(cache=True)
def epi_none(c: np.ndarray, b: int, r0: int, r1: int, c0: int, c1: int, args: tuple) -> None:
    """No epilogue (plain C = A @ B)."""
    return None


def std_args(dtype: np.dtype | type, bias: np.ndarray | None = None, bias_axis: int = 0,
             residual: np.ndarray | None = None, act: str = "none", alpha: float | None = None,
             beta: float | None = None) -> tuple:
    """Build the ``epi_std`` argument tuple. ``residual`` may be 2-D (M, N) or 3-D (B, M, N) / conv-shaped
    (B, O, *spatial) -- it is viewed as (B, M, N). Activation parameters default per ``ACTIVATIONS``."""
    dt = np.dtype(dtype)
    code, a0, b0 = ACTIVATIONS[act]
    alpha = a0 if alpha is None else alpha
    beta = b0 if beta is None else beta
    bias_a = np.empty(0, dt) if bias is None else np.ascontiguousarray(bias, dtype=dt).reshape(-1)
    if residual is None:
        res = np.empty((0, 0, 0), dt)
    else:
        r = np.ascontiguousarray(residual, dtype=dt)
        res = r.reshape(1, r.shape[0], -1) if r.ndim <= 2 else r.reshape(r.shape[0], r.shape[1], -1)
    return (bias_a, int(bias_axis), res, int(code), float(alpha), float(beta))


def std_args_none(dtype: np.dtype | type) -> tuple:
    """``epi_std`` arguments that do nothing (plain GEMM through the std-epilogue entry points)."""
    return std_args(dtype)


def chain(first: Callable, second: Callable) -> Callable:
    """Epilogue running ``first`` with ``args[0]`` then ``second`` with ``args[1]`` on the same block.

    Example: ``chain(epi_std, my_scale)`` with ``epi_args=(std_args(...), (scale_array,))``.
    """

    @njit
    def _chained(c, b, r0, r1, c0, c1, args):  # noqa: ANN001, ANN202
        first(c, b, r0, r1, c0, c1, args[0])
        second(c, b, r0, r1, c0, c1, args[1])

    return _chained


def reference_epilogue(y: np.ndarray, args: tuple) -> np.ndarray:
    """Numpy reference of ``epi_std`` on a (B, M, N) or (M, N) result (for tests)."""
    bias, axis, res, act, alpha, beta = args
    y3 = y.reshape((1,) + y.shape if y.ndim == 2 else y.shape).astype(np.float64)
    if bias.shape[0]:
        y3 = y3 + (bias.reshape(1, -1, 1) if axis == 0 else bias.reshape(1, 1, -1))
    if res.size:
        y3 = y3 + res
    x = y3
    if act == ACT_RELU:
        x = np.maximum(x, 0)
    elif act == ACT_CLAMP:
        x = np.clip(x, alpha, beta)
    elif act == ACT_LEAKY_RELU:
        x = np.where(x >= 0, x, x * alpha)
    elif act == ACT_SILU:
        x = x / (1 + np.exp(-x))
    elif act == ACT_GELU:
        from math import erf
        x = 0.5 * x * (1 + np.vectorize(erf)(x / np.sqrt(2)))
    elif act == ACT_GELU_TANH:
        x = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    elif act == ACT_SIGMOID:
        x = 1 / (1 + np.exp(-x))
    elif act == ACT_TANH:
        x = np.tanh(x)
    elif act == ACT_HARDSWISH:
        x = x * np.clip(x + 3, 0, 6) / 6
    elif act == ACT_ELU:
        x = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
    elif act == ACT_HARDSIGMOID:
        x = np.clip(x / 6 + 0.5, 0, 1)
    return x.reshape(y.shape).astype(y.dtype)
