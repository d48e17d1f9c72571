"""Reductions over axes (fusion class REDUCTION). ``axis`` is a tuple of non-negative ints or None (all axes)."""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from .registry import Fusion, TensorSpec, defop

REDUCTIONS: dict[str, Callable[..., Any]] = {
    "sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "prod": np.prod, "any": np.any, "all": np.all,
}


def _reduce_shape(fn: Callable[..., Any]) -> Callable[..., TensorSpec]:
    def rule(x: TensorSpec, *, axis: tuple[int, ...] | None, keepdims: bool, **kw: Any) -> TensorSpec:
        with warnings.catch_warnings():  # the probe only finds the dtype (var/std with ddof=1 of one element warn)
            warnings.simplefilter("ignore", RuntimeWarning)
            probe = fn(np.ones((1,) * x.ndim, x.dtype), axis=axis, keepdims=keepdims, **kw)
        shape = tuple(1 if (axis is None or i in axis) else s for i, s in enumerate(x.shape))
        if not keepdims:
            shape = tuple(s for i, s in enumerate(x.shape) if not (axis is None or i in axis))
        return TensorSpec(shape, np.asarray(probe).dtype)

    return rule


def _register(name: str, fn: Callable[..., Any]) -> None:
    def impl(x: np.ndarray, *, axis: tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
        return np.asarray(fn(x, axis=axis, keepdims=keepdims))

    impl.__doc__ = f"numpy.{fn.__name__} over ``axis``"
    # max/min of nothing raise in numpy (the others return an identity or NaN)
    defop(name, fusion=Fusion.REDUCTION, shape=_reduce_shape(fn), checks_values=name in ("max", "min"))(impl)


for _n, _f in REDUCTIONS.items():
    _register(_n, _f)


@defop("var", fusion=Fusion.REDUCTION, shape=_reduce_shape(np.var))
def var(x: np.ndarray, *, axis: tuple[int, ...] | None, keepdims: bool, ddof: int = 0) -> np.ndarray:
    """numpy.var with ``ddof``."""
    return np.asarray(np.var(x, axis=axis, keepdims=keepdims, ddof=ddof))


@defop("std", fusion=Fusion.REDUCTION, shape=_reduce_shape(np.std))
def std(x: np.ndarray, *, axis: tuple[int, ...] | None, keepdims: bool, ddof: int = 0) -> np.ndarray:
    """numpy.std with ``ddof``."""
    return np.asarray(np.std(x, axis=axis, keepdims=keepdims, ddof=ddof))


def _arg_shape(x: TensorSpec, *, axis: int | None, keepdims: bool) -> TensorSpec:
    if axis is None:
        return TensorSpec((1,) * x.ndim if keepdims else (), np.intp)
    shape = list(x.shape)
    if keepdims:
        shape[axis] = 1
    else:
        del shape[axis]
    return TensorSpec(tuple(shape), np.intp)


@defop("argmax", fusion=Fusion.REDUCTION, shape=_arg_shape, checks_values=True)
def argmax(x: np.ndarray, *, axis: int | None, keepdims: bool) -> np.ndarray:
    """numpy.argmax."""
    return np.asarray(np.argmax(x, axis=axis, keepdims=keepdims))


@defop("argmin", fusion=Fusion.REDUCTION, shape=_arg_shape, checks_values=True)
def argmin(x: np.ndarray, *, axis: int | None, keepdims: bool) -> np.ndarray:
    """numpy.argmin."""
    return np.asarray(np.argmin(x, axis=axis, keepdims=keepdims))
