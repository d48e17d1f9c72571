"""Elementwise math: numpy ufuncs as primitive ops (what traced numpy-style code records).

``np.tanh`` maps to the activation op "tanh" (ops/activation.py); everything else elementwise is here.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .registry import Fusion, TensorSpec, broadcast_specs, defop, same_as_first

# op name -> numpy function; every entry becomes one registered op.
UNARY: dict[str, Callable[[Any], Any]] = {
    "neg": np.negative, "abs": np.abs, "exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p,
    "log2": np.log2, "log10": np.log10, "sqrt": np.sqrt, "square": np.square, "reciprocal": np.reciprocal,
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "sinh": np.sinh, "cosh": np.cosh,
    "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan, "arctanh": np.arctanh, "floor": np.floor,
    "ceil": np.ceil, "rint": np.rint, "trunc": np.trunc, "sign": np.sign,
    "logical_not": np.logical_not, "isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite,
    "positive": np.positive, "cbrt": np.cbrt, "exp2": np.exp2, "signbit": np.signbit,
}

BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide, "floordiv": np.floor_divide,
    "mod": np.remainder, "pow": np.power, "maximum": np.maximum, "minimum": np.minimum, "fmax": np.fmax,
    "fmin": np.fmin, "arctan2": np.arctan2, "hypot": np.hypot, "logaddexp": np.logaddexp,
    "eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
    "logical_and": np.logical_and, "logical_or": np.logical_or, "logical_xor": np.logical_xor,
    "bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or, "bitwise_xor": np.bitwise_xor,
    "copysign": np.copysign,
}

_BOOL_RESULT = {"eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "logical_not",
                "isnan", "isinf", "isfinite", "signbit"}


def _ufunc_spec(fn: Any, name: str) -> Callable[..., TensorSpec]:
    def rule(*specs: TensorSpec, **_: Any) -> TensorSpec:
        shape = np.broadcast_shapes(*(s.shape for s in specs))
        if name in _BOOL_RESULT:
            return TensorSpec(shape, np.bool_)
        # Let numpy decide the result dtype (type promotion) on empty arrays.
        dtype = fn(*(np.empty((0,), s.dtype) for s in specs)).dtype
        return TensorSpec(shape, dtype)

    return rule


def _register_ufunc(name: str, fn: Any, fusion: Fusion) -> None:
    def impl(*args: Any) -> Any:
        return np.asarray(fn(*args))

    impl.__doc__ = f"numpy.{fn.__name__}"
    defop(name, fusion=fusion, shape=_ufunc_spec(fn, name))(impl)


for _n, _f in UNARY.items():
    _register_ufunc(_n, _f, Fusion.ELEMENTWISE)
for _n, _f in BINARY.items():
    _register_ufunc(_n, _f, Fusion.BROADCAST)


def _where_shape(c: TensorSpec, x: TensorSpec, y: TensorSpec) -> TensorSpec:
    return TensorSpec(np.broadcast_shapes(c.shape, x.shape, y.shape), np.result_type(x.dtype, y.dtype))


@defop("where", fusion=Fusion.BROADCAST, shape=_where_shape)
def where(cond: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """numpy.where(cond, x, y)."""
    return np.where(cond, x, y)


def _clip_shape(x: TensorSpec, lo: TensorSpec | None, hi: TensorSpec | None, **_: Any) -> TensorSpec:
    return broadcast_specs(x, lo, hi)


@defop("clip", fusion=Fusion.BROADCAST, shape=_clip_shape)
def clip(x: np.ndarray, lo: np.ndarray | None, hi: np.ndarray | None) -> np.ndarray:
    """numpy.clip with optional array bounds."""
    out = x
    if lo is not None:
        out = np.maximum(out, lo)
    if hi is not None:
        out = np.minimum(out, hi)
    return np.array(out, copy=out is x)


def _cast_shape(x: TensorSpec, *, dtype: str) -> TensorSpec:
    return TensorSpec(x.shape, np.dtype(dtype))


@defop("cast", fusion=Fusion.ELEMENTWISE, shape=_cast_shape)
def cast(x: np.ndarray, *, dtype: str) -> np.ndarray:
    """``x.astype(dtype)`` (always a new array)."""
    return x.astype(dtype)


@defop("copy", fusion=Fusion.ELEMENTWISE, shape=same_as_first)
def copy(x: np.ndarray) -> np.ndarray:
    """A fresh copy of ``x``."""
    return np.array(x, copy=True)
