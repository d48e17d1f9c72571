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
from typing import Callable

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from .leaf import leaf
from .simd import Vec, VecIR, _suffix, vadd, vec_width, vload, vload_n, vsplat, vstore, vstore_n

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
#: Kernel-internal: ACT_CLAMP with bounds known not to be NaN (one max and one min instruction per vector).
ACT_CLAMP_ORDERED = 12

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
# float32 lanes only (float64 epilogues take the scalar libm path in _rows_scalar). Cephes-style polynomials,
# a few ulp; emitted as IR by one intrinsic so all activations cost one small LLVM function to compile.

_LN2_HI = 0.693359375
_LN2_LO = -2.12194440e-4


def _ir_exp(v: VecIR, x):  # noqa: ANN001, ANN202
    x = v.min(v.max(x, v.c(-87.33654)), v.c(88.72283))
    n = v.floor(v.fma(x, v.c(1.4426950408889634), v.c(0.5)))
    r = v.fma(n, v.c(-_LN2_HI), x)
    r = v.fma(n, v.c(-_LN2_LO), r)
    p = v.poly(r, [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
                   5.0000001201e-1])
    p = v.add(v.fma(p, v.mul(r, r), r), v.c(1.0))
    half = v.floor(v.mul(n, v.c(0.5)))  # 2**n in two steps: n = 128 at the top clamp would overflow one
    return v.ldexp(v.ldexp(p, half), v.sub(n, half))


def _ir_sigmoid(v: VecIR, x):  # noqa: ANN001, ANN202
    return v.div(v.c(1.0), v.add(_ir_exp(v, v.sub(v.c(0.0), x)), v.c(1.0)))


def _ir_tanh(v: VecIR, x):  # noqa: ANN001, ANN202
    """Cephes tanhf: odd polynomial below |x| = 0.625, 1 - 2/(exp(2|x|)+1) above."""
    ax = v.abs(x)
    z = v.mul(x, x)
    p = v.poly(z, [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1])
    small = v.fma(v.mul(p, z), x, x)
    big = v.sub(v.c(1.0), v.div(v.c(2.0), v.add(_ir_exp(v, v.add(ax, ax)), v.c(1.0))))
    return v.select_lt(ax, v.c(0.625), small, v.copysign(big, x))


def _ir_erfc_pos(v: VecIR, z):  # noqa: ANN001, ANN202
    """erfc(z) for z >= 0 with relative error < 1.2e-7 (Numerical Recipes' erfcc Chebyshev fit)."""
    t = v.div(v.c(1.0), v.fma(z, v.c(0.5), v.c(1.0)))
    p = v.poly(t, [0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418,
                   0.37409196, 1.00002368, -1.26551223])
    return v.mul(t, _ir_exp(v, v.sub(p, v.mul(z, z))))


def _ir_gelu(v: VecIR, x):  # noqa: ANN001, ANN202
    """0.5 x (1 + erf(x/sqrt2)) with 1 + erf(u) = erfc(-u): no cancellation in the negative tail."""
    u = v.mul(x, v.c(0.7071067811865476))
    e = _ir_erfc_pos(v, v.abs(u))
    one_plus_erf = v.select_lt(u, v.c(0.0), e, v.sub(v.c(2.0), e))
    return v.mul(v.mul(x, v.c(0.5)), one_plus_erf)


def _ir_act(v: VecIR, code: int, x, alpha, beta):  # noqa: ANN001, ANN202
    zero = v.c(0.0)
    if code == ACT_RELU:
        return v.max(x, zero)
    if code == ACT_CLAMP:
        return v.min(v.max(x, alpha), beta)
    if code == ACT_CLAMP_ORDERED:  # x < alpha ? alpha : x, then x > beta ? beta : x (NaN x stays NaN)
        b = v.b
        x = b.select(b.fcmp_ordered("<", x, alpha), alpha, x)
        return b.select(b.fcmp_ordered(">", x, beta), beta, x)
    if code == ACT_LEAKY_RELU:
        return v.select_lt(x, zero, v.mul(x, alpha), x)
    if code == ACT_SILU:
        return v.mul(x, _ir_sigmoid(v, x))
    if code == ACT_GELU:
        return _ir_gelu(v, x)
    if code == ACT_GELU_TANH:
        # 0.5 x (1 + tanh(y)) == x * sigmoid(2y): same value, no cancellation for negative y.
        inner = v.mul(v.mul(x, v.c(2.0 * 0.7978845608028654)), v.fma(v.mul(x, x), v.c(0.044715), v.c(1.0)))
        return v.mul(x, _ir_sigmoid(v, inner))
    if code == ACT_SIGMOID:
        return _ir_sigmoid(v, x)
    if code == ACT_TANH:
        return _ir_tanh(v, x)
    if code == ACT_HARDSWISH:
        return v.mul(v.mul(x, v.min(v.max(v.add(x, v.c(3.0)), zero), v.c(6.0))), v.c(1.0 / 6.0))
    if code == ACT_ELU:
        return v.select_lt(x, zero, v.mul(v.sub(_ir_exp(v, x), v.c(1.0)), alpha), x)
    if code == ACT_HARDSIGMOID:
        return v.min(v.max(v.fma(x, v.c(1.0 / 6.0), v.c(0.5)), zero), v.c(1.0))
    return x


_ALL_CODES = (ACT_RELU, ACT_CLAMP, ACT_LEAKY_RELU, ACT_SILU, ACT_GELU, ACT_GELU_TANH, ACT_SIGMOID, ACT_TANH,
              ACT_HARDSWISH, ACT_ELU, ACT_HARDSIGMOID, ACT_CLAMP_ORDERED)


def _build_vact(module: ir.Module, vty: ir.VectorType) -> ir.Function:
    name = f"nngraph_vact_{_suffix(vty)}"
    fnty = ir.FunctionType(vty, [vty, ir.IntType(64), vty.element, vty.element])
    fn = cgutils.get_or_insert_function(module, fnty, name)
    if not fn.is_declaration:
        return fn
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline")  # with a constant code the switch folds to one case
    x, code, alpha, beta = fn.args
    entry = fn.append_basic_block("entry")
    b = ir.IRBuilder(entry)
    default = fn.append_basic_block("identity")
    sw = b.switch(code, default)
    ir.IRBuilder(default).ret(x)
    for c in _ALL_CODES:
        blk = fn.append_basic_block(f"act{c}")
        sw.add_case(ir.Constant(ir.IntType(64), c), blk)
        bb = ir.IRBuilder(blk)
        v = VecIR(bb, vty)
        bb.ret(_ir_act(v, c, x, v.splat(alpha), v.splat(beta)))
    return fn


def _vact_codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
    fn = _build_vact(builder.module, args[0].type)
    code_ = context.cast(builder, args[1], sig.args[1], types.int64)
    a_ = context.cast(builder, args[2], sig.args[2], types.float32)
    b_ = context.cast(builder, args[3], sig.args[3], types.float32)
    return builder.call(fn, [args[0], code_, a_, b_])


@intrinsic
def vact(typingctx, x, code, alpha, beta):  # noqa: ANN001, ANN201
    """Activation ``code`` (ACT_*) on float32 lanes ``x`` with float32 parameters ``alpha``, ``beta``."""
    if not (isinstance(x, Vec) and x.dtype == types.float32):
        return None
    return x(x, types.int64, types.float32, types.float32), _vact_codegen


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


@njit(inline="always")
def _span(c, off, j0, j1, vb, bias, col_bias, res, roff, has_res, act, a32, b32):  # noqa: ANN001, ANN202
    """One row's columns [j0, j1): whole vectors, then a masked tail."""
    w = vec_width(c)
    full = j0 + (j1 - j0) // w * w
    for j in range(j0, full, w):
        v = vadd(vload(c, off + j), vb)
        if col_bias:
            v = vadd(v, vload(bias, j))
        if has_res:
            v = vadd(v, vload(res, roff + j))
        if act != ACT_NONE:
            v = vact(v, act, a32, b32)
        vstore(c, off + j, v)
    if full < j1:
        n = j1 - full
        v = vadd(vload_n(c, off + full, n), vb)
        if col_bias:
            v = vadd(v, vload_n(bias, full, n))
        if has_res:
            v = vadd(v, vload_n(res, roff + full, n))
        if act != ACT_NONE:
            v = vact(v, act, a32, b32)
        vstore_n(c, off + full, v, n)


@leaf
def _rows_vec(c, b, r0, r1, c0, c1, bias, bias_axis, res, act, alpha, beta):  # noqa: ANN001, ANN202
    """float32. The common activations get their own copy of the row loop: ``act`` is a constant there, and the
    inlined ``vact`` switch folds to its one case (elsewhere the switch costs little next to the activation's math)."""
    ldc = c.shape[1]
    has_bias = bias.shape[0] > 0
    row_bias = has_bias and bias_axis == 0
    col_bias = has_bias and bias_axis != 0
    has_res = res.size > 0
    a32 = np.float32(alpha)
    b32 = np.float32(beta)
    zero = vsplat(np.float32(0.0))
    for i in range(r0, r1):
        off = i * ldc
        roff = (b * c.shape[0] + i) * ldc
        vb = vsplat(bias[i]) if row_bias else zero
        if act == ACT_NONE:
            _span(c, off, c0, c1, vb, bias, col_bias, res, roff, has_res, ACT_NONE, a32, b32)
        elif act == ACT_RELU:
            _span(c, off, c0, c1, vb, bias, col_bias, res, roff, has_res, ACT_RELU, a32, b32)
        elif act == ACT_CLAMP and not (math.isnan(alpha) or math.isnan(beta)):
            _span(c, off, c0, c1, vb, bias, col_bias, res, roff, has_res, ACT_CLAMP_ORDERED, a32, b32)
        else:
            _span(c, off, c0, c1, vb, bias, col_bias, res, roff, has_res, act, a32, b32)


@njit
def _rows_scalar(c, b, r0, r1, c0, c1, bias, bias_axis, res, act, alpha, beta):  # noqa: ANN001, ANN202
    has_bias = bias.shape[0] > 0
    has_res = res.size > 0
    for i in range(r0, r1):
        for j in range(c0, c1):
            v = c[i, j]
            if has_bias:
                v += bias[i] if bias_axis == 0 else bias[j]
            if has_res:
                v += res[b, i, j]
            c[i, j] = act_scalar(v, act, alpha, beta)


def _std_rows(c, b, r0, r1, c0, c1, bias, bias_axis, res, act, alpha, beta):  # noqa: ANN001, ANN202
    pass


@overload(_std_rows)
def _ov_std_rows(c, b, r0, r1, c0, c1, bias, bias_axis, res, act, alpha, beta):  # noqa: ANN001, ANN202
    impl = _rows_vec if c.dtype == types.float32 else _rows_scalar
    return lambda c, b, r0, r1, c0, c1, bias, bias_axis, res, act, alpha, beta: impl(  # noqa: E731
        c, b, r0, r1, c0, c1, bias, bias_axis, res, act, alpha, beta)


@njit
def epi_std(c: np.ndarray, b: int, r0: int, r1: int, c0: int, c1: int, args: tuple) -> None:
    """Standard epilogue ``act(c + bias + residual)``; ``args`` from :func:`std_args`."""
    bias, bias_axis, res, act, alpha, beta = args
    _std_rows(c, b, r0, r1, c0, c1, bias, bias_axis, res, act, alpha, beta)


@njit
def epi_none(c: np.ndarray, b: int, r0: int, r1: int, c0: int, c1: int, args: tuple) -> None:
    """No epilogue (plain C = A @ B)."""
    return None


def lane_epilogue(epi, epi_args, like):  # noqa: ANN001, ANN201
    """``(fused, bias, act, alpha, beta)`` for a kernel that holds output *channels* in its vector lanes: ``fused``
    when it can finish the epilogue in registers as ``act(v + bias[c0:c0 + W])`` (the standard epilogue on float32,
    conv bias, no residual); otherwise it calls ``epi`` on the stored output as usual."""


@overload(lane_epilogue)
def _ov_lane_epilogue(epi, epi_args, like):  # noqa: ANN001, ANN202
    if isinstance(epi, types.Dispatcher) and epi.dispatcher is epi_std and like.dtype == types.float32:
        def std(epi, epi_args, like):  # noqa: ANN001, ANN202
            bias, bias_axis, res, act, alpha, beta = epi_args
            if act == ACT_CLAMP and not (math.isnan(alpha) or math.isnan(beta)):
                act = ACT_CLAMP_ORDERED
            return res.size == 0 and bias_axis == 0, bias, act, np.float32(alpha), np.float32(beta)
        return std

    def other(epi, epi_args, like):  # noqa: ANN001, ANN202
        return False, like.reshape(-1)[:0], ACT_NONE, np.float32(0.0), np.float32(0.0)
    return other


@intrinsic
def vact_lanes(typingctx, x, code, alpha, beta):  # noqa: ANN001, ANN201
    """:func:`vact` on float32 lanes; the identity on others (no vector activations there: ``lane_epilogue`` never
    fuses them). An intrinsic, not an inlined overload: kernels call it per accumulator in several specialised
    copies, and each Numba-IR inline re-copies the caller's growing IR (compile time, not speed)."""
    if not isinstance(x, Vec):
        return None
    signature = x(x, types.int64, types.float32, types.float32)
    if x.dtype == types.float32:
        return signature, _vact_codegen
    return signature, lambda context, builder, sig, args: args[0]


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
        x = 0.5 * x * (1 + np.vectorize(erf, otypes=[np.float64])(x / np.sqrt(2)))
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
