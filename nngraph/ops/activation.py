"""Primitive ops of activations and the softmax family.

Elementwise prims are named after the function they compute ("relu", "leaky_relu", "gelu_tanh", ...) with the
function's constants as attributes, so that backends can generate one fused loop per op name. float16 inputs are
computed in float32 and cast back. Every formulation avoids overflow (no ``exp`` of a large positive number).
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np

from .._random import default_generator
from .registry import Fusion, TensorSpec, defop, same_as_first

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SQRT1_2 = math.sqrt(0.5)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _work(x: np.ndarray) -> np.ndarray:
    """The array to compute on: float16 is widened to float32."""
    return x.astype(np.float32) if x.dtype == np.float16 else x


def _out(y: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``y`` as an ndarray of ``like``'s dtype (0-d results stay arrays, not numpy scalars)."""
    return np.asarray(y).astype(like.dtype, copy=False)


def _quiet(impl: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Run ``impl`` silently where IEEE arithmetic already gives torch's answer: NaN from inf * 0 or inf - inf on
    non-finite input, inf where the true result exceeds the dtype's range (e.g. selu near the float max)."""

    @functools.wraps(impl)
    def run(*args: Any, **attrs: Any) -> np.ndarray:
        with np.errstate(invalid="ignore", over="ignore"):
            return impl(*args, **attrs)

    return run


def _elementwise(name: str) -> Callable[[Callable[..., np.ndarray]], Any]:
    return lambda impl: defop(name, fusion=Fusion.ELEMENTWISE, shape=same_as_first)(_quiet(impl))


def _erfc(x: np.ndarray) -> np.ndarray:
    """Complementary error function in float64, to ~1e-13 relative and 1e-15 absolute error (numpy has no erf).

    |x| < 1.5: erf from the everywhere-positive series 2/sqrt(pi) exp(-x^2) sum 2^n x^(2n+1) / (2n+1)!!;
    |x| >= 1.5: erfc from its continued fraction, which keeps full relative precision in the tail.
    Each branch runs only on its own elements.
    """
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    small = a < 1.5
    big = ~small & ~np.isnan(a)
    pos = np.full(a.shape, np.nan)

    s = a[small]
    s2 = 2.0 * s * s
    term = s.copy()
    total = s.copy()
    for n in range(1, 40):
        term = term * s2 / (2 * n + 1)
        total = total + term
    pos[small] = 1.0 - (2.0 / math.sqrt(math.pi)) * np.exp(-s * s) * total

    b = a[big]
    t = b.copy()
    for k in range(100, 0, -1):
        t = b + (0.5 * k) / t
    pos[big] = np.exp(-b * b) / (math.sqrt(math.pi) * t)  # inf: exp(-inf) / inf = 0
    return np.where(x >= 0, pos, 2.0 - pos)


def _softplus_unit(z: np.ndarray) -> np.ndarray:
    """log(1 + exp(z)) without overflow."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


# ---- rectifiers and clamps -------------------------------------------------------------------------------------


@_elementwise("relu")
def relu(x: np.ndarray) -> np.ndarray:
    """max(x, 0); NaN propagates."""
    return _out(np.maximum(x, x.dtype.type(0)), x)


@_elementwise("leaky_relu")
def leaky_relu(x: np.ndarray, *, negative_slope: float) -> np.ndarray:
    """x if x > 0 else negative_slope * x."""
    w = _work(x)
    return _out(np.where(w > 0, w, w * negative_slope), x)


@_elementwise("hardtanh")
def hardtanh(x: np.ndarray, *, min_val: float, max_val: float) -> np.ndarray:
    """clamp(x, min_val, max_val); relu6 is hardtanh(0, 6)."""
    return _out(np.minimum(np.maximum(x, min_val), max_val), x)


@_elementwise("threshold")
def threshold(x: np.ndarray, *, threshold: float, value: float) -> np.ndarray:
    """x if x > threshold else value (NaN stays NaN)."""
    return _out(np.where(x <= threshold, value, x), x)


@_elementwise("elu")
def elu(x: np.ndarray, *, alpha: float) -> np.ndarray:
    """x if x > 0 else alpha * (exp(x) - 1)."""
    w = _work(x)
    return _out(np.where(w > 0, w, alpha * np.expm1(np.minimum(w, 0))), x)


@_elementwise("celu")
def celu(x: np.ndarray, *, alpha: float) -> np.ndarray:
    """x if x > 0 else alpha * (exp(x / alpha) - 1)."""
    w = _work(x)
    return _out(np.where(w > 0, w, alpha * np.expm1(np.minimum(w, 0) / alpha)), x)


@_elementwise("selu")
def selu(x: np.ndarray) -> np.ndarray:
    """scale * (x if x > 0 else alpha * (exp(x) - 1)) with SELU's fixed constants."""
    w = _work(x)
    return _out(_SELU_SCALE * np.where(w > 0, w, _SELU_ALPHA * np.expm1(np.minimum(w, 0))), x)


@defop("rrelu", fusion=Fusion.OPAQUE, shape=same_as_first, random=True)  # random: never fused or deduplicated
@_quiet
def rrelu(x: np.ndarray, *, lower: float, upper: float) -> np.ndarray:
    """Training-mode RReLU: x if x > 0 else a * x with a ~ U(lower, upper) drawn per element."""
    w = _work(x)
    slope = default_generator().uniform(lower, upper, size=w.shape).astype(w.dtype)
    return _out(np.where(w > 0, w, w * slope), x)


def _prelu_shape(x: TensorSpec, w: TensorSpec) -> TensorSpec:
    return x


@defop("prelu", fusion=Fusion.BROADCAST, shape=_prelu_shape)
@_quiet
def prelu(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x if x > 0 else w * x; ``w`` already broadcasts against ``x`` (F puts it on the channel axis)."""
    xw = _work(x)
    return _out(np.where(xw > 0, xw, xw * w.astype(xw.dtype, copy=False)), x)


# ---- smooth activations ----------------------------------------------------------------------------------------


@_elementwise("sigmoid")
def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x))."""
    return _out(_sigmoid(_work(x)), x)


@_elementwise("log_sigmoid")
def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))."""
    w = _work(x)
    return _out(np.minimum(w, 0) - np.log1p(np.exp(-np.abs(w))), x)


@_elementwise("tanh")
def tanh(x: np.ndarray) -> np.ndarray:
    return _out(np.tanh(_work(x)), x)


@_elementwise("silu")
def silu(x: np.ndarray) -> np.ndarray:
    """x * sigmoid(x)."""
    w = _work(x)
    return _out(w * _sigmoid(w), x)


@_elementwise("mish")
def mish(x: np.ndarray) -> np.ndarray:
    """x * tanh(softplus(x))."""
    w = _work(x)
    return _out(w * np.tanh(_softplus_unit(w)), x)


@_elementwise("gelu")
def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU x * Phi(x) = x * erfc(-x / sqrt 2) / 2, computed in float64."""
    w = np.asarray(x, dtype=np.float64)
    return _out(0.5 * w * _erfc(-w * _SQRT1_2), x)


@_elementwise("gelu_tanh")
def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """GELU's tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    w = _work(x)
    inner = _SQRT_2_OVER_PI * w * (1 + 0.044715 * w * w)
    return _out(0.5 * w * (1 + np.tanh(inner)), x)


@_elementwise("softplus")
def softplus(x: np.ndarray, *, beta: float, threshold: float) -> np.ndarray:
    """log(1 + exp(beta x)) / beta, and x where beta * x > threshold."""
    w = _work(x)
    z = w * beta
    return _out(np.where(z > threshold, w, _softplus_unit(z) / beta), x)


@_elementwise("softsign")
def softsign(x: np.ndarray) -> np.ndarray:
    """x / (1 + |x|)."""
    w = _work(x)
    return _out(w / (1 + np.abs(w)), x)


@_elementwise("hardsigmoid")
def hardsigmoid(x: np.ndarray) -> np.ndarray:
    """clamp(x + 3, 0, 6) / 6."""
    w = _work(x)
    return _out(np.minimum(np.maximum(w + 3, 0), 6) / 6, x)


@_elementwise("hardswish")
def hardswish(x: np.ndarray) -> np.ndarray:
    """x * clamp(x + 3, 0, 6) / 6."""
    w = _work(x)
    return _out(w * np.minimum(np.maximum(w + 3, 0), 6) / 6, x)


@_elementwise("hardshrink")
def hardshrink(x: np.ndarray, *, lambd: float) -> np.ndarray:
    """0 where -lambd <= x <= lambd, else x."""
    return _out(np.where((x >= -lambd) & (x <= lambd), 0, x), x)


@_elementwise("softshrink")
def softshrink(x: np.ndarray, *, lambd: float) -> np.ndarray:
    """x - lambd above lambd, x + lambd below -lambd, 0 between (NaN stays NaN)."""
    w = _work(x)
    return _out(np.where(w > lambd, w - lambd, np.where(w < -lambd, w + lambd, w * 0)), x)


@_elementwise("tanhshrink")
def tanhshrink(x: np.ndarray) -> np.ndarray:
    """x - tanh(x)."""
    w = _work(x)
    return _out(w - np.tanh(w), x)


# ---- softmax family --------------------------------------------------------------------------------------------


def _softmax_shape(x: TensorSpec, *, axis: int, dtype: str | None) -> TensorSpec:
    return TensorSpec(x.shape, np.dtype(dtype) if dtype is not None else x.dtype)


def _softmax_input(x: np.ndarray, dtype: str | None) -> tuple[np.ndarray, np.dtype]:
    out_dtype = np.dtype(dtype) if dtype is not None else x.dtype
    work = x.astype(np.float32 if out_dtype == np.float16 else out_dtype, copy=False)
    return work, out_dtype


def _softmax_np(w: np.ndarray, axis: int) -> np.ndarray:
    # A row of all -inf gives NaN, as in torch; x - max may overflow to -inf only where exp() is 0 anyway.
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(w - np.max(w, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@defop("softmax", fusion=Fusion.REDUCTION, shape=_softmax_shape)
def softmax(x: np.ndarray, *, axis: int, dtype: str | None) -> np.ndarray:
    """exp(x - max) / sum(exp(x - max)) along ``axis`` (non-negative); ``dtype`` casts the input first."""
    w, out_dtype = _softmax_input(x, dtype)
    if w.shape[axis] == 0:
        return np.array(w, dtype=out_dtype)
    return _softmax_np(w, axis).astype(out_dtype, copy=False)


@defop("log_softmax", fusion=Fusion.REDUCTION, shape=_softmax_shape)
def log_softmax(x: np.ndarray, *, axis: int, dtype: str | None) -> np.ndarray:
    """x - max - log(sum(exp(x - max))) along ``axis`` (non-negative); ``dtype`` casts the input first."""
    w, out_dtype = _softmax_input(x, dtype)
    if w.shape[axis] == 0:
        return np.array(w, dtype=out_dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        shifted = w - np.max(w, axis=axis, keepdims=True)
        return (shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))).astype(out_dtype, copy=False)


@defop("gumbel_softmax", fusion=Fusion.OPAQUE, shape=same_as_first, random=True)  # random
def gumbel_softmax(x: np.ndarray, *, tau: float, hard: bool, axis: int) -> np.ndarray:
    """softmax((x + g) / tau) along ``axis`` with g ~ Gumbel(0, 1); with ``hard`` the one-hot of its argmax."""
    w = _work(x)
    if w.shape[axis] == 0:
        return x.copy()
    gumbel = -np.log(default_generator().exponential(size=w.shape)).astype(w.dtype)
    y = _softmax_np((w + gumbel) / tau, axis)
    if hard:
        one_hot = np.zeros_like(y)
        np.put_along_axis(one_hot, np.argmax(y, axis=axis, keepdims=True), 1, axis=axis)
        y = one_hot
    return _out(y, x)
