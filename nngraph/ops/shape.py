"""Data-movement ops: reshape, transpose, indexing, concatenation, broadcasting (fusion class INJECTIVE).

Index attributes are hashable encodings of numpy basic indices: ``("s", start, stop, step)`` for a slice, an int,
``None`` for a new axis, ``"..."`` for Ellipsis (see ``encode_index``).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .registry import Fusion, TensorSpec, defop


def encode_index(index: Any) -> tuple:
    """A hashable form of a basic numpy index (ints, slices, None, Ellipsis)."""
    if not isinstance(index, tuple):
        index = (index,)
    out: list[Any] = []
    for item in index:
        if isinstance(item, slice):
            out.append(("s", item.start, item.stop, item.step))
        elif item is Ellipsis:
            out.append("...")
        elif item is None or isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            out.append(None if item is None else int(item))
        else:
            raise TypeError(f"not a basic index: {item!r}")
    return tuple(out)


def decode_index(code: tuple) -> tuple:
    return tuple(slice(*c[1:]) if isinstance(c, tuple) else (Ellipsis if c == "..." else c) for c in code)


def _reshape_shape(x: TensorSpec, *, shape: tuple[int, ...]) -> TensorSpec:
    return TensorSpec(np.empty(x.shape, dtype=[]).reshape(shape).shape, x.dtype)


@defop("reshape", fusion=Fusion.INJECTIVE, shape=_reshape_shape)
def reshape(x: np.ndarray, *, shape: tuple[int, ...]) -> np.ndarray:
    """``x.reshape(shape)`` (a view when possible)."""
    return x.reshape(shape)


def _transpose_shape(x: TensorSpec, *, axes: tuple[int, ...]) -> TensorSpec:
    return TensorSpec(tuple(x.shape[a] for a in axes), x.dtype)


@defop("transpose", fusion=Fusion.INJECTIVE, shape=_transpose_shape)
def transpose(x: np.ndarray, *, axes: tuple[int, ...]) -> np.ndarray:
    """``x.transpose(axes)`` (a view)."""
    return x.transpose(axes)


def _getitem_shape(x: TensorSpec, *, index: tuple) -> TensorSpec:
    return TensorSpec(np.empty(x.shape, dtype=[])[decode_index(index)].shape, x.dtype)


@defop("getitem", fusion=Fusion.INJECTIVE, shape=_getitem_shape)
def getitem(x: np.ndarray, *, index: tuple) -> np.ndarray:
    """Basic indexing ``x[index]`` (a view; 0-d results stay arrays)."""
    return np.asarray(x[decode_index(index)])


def _diagonal_shape(x: TensorSpec, *, offset: int, axis1: int, axis2: int) -> TensorSpec:
    return TensorSpec(np.empty(x.shape, dtype=[]).diagonal(offset, axis1, axis2).shape, x.dtype)


@defop("diagonal", fusion=Fusion.INJECTIVE, shape=_diagonal_shape)
def diagonal(x: np.ndarray, *, offset: int, axis1: int, axis2: int) -> np.ndarray:
    """``np.diagonal(x, offset, axis1, axis2)``: a diagonal of two axes, as the last axis (a view in the backends;
    a copy here, as numpy's diagonal views are read-only)."""
    return np.diagonal(x, offset, axis1, axis2).copy()


# ops whose result is a view of their first argument in the backends (no data moves; the memory plan aliases them)
VIEW_OPS = ("reshape", "transpose", "getitem", "broadcast_to", "tuple_getitem", "diagonal")


def _take_shape(x: TensorSpec, idx: TensorSpec, *, axis: int) -> TensorSpec:
    axis = axis % x.ndim
    return TensorSpec(x.shape[:axis] + idx.shape + x.shape[axis + 1:], x.dtype)


@defop("take", fusion=Fusion.INJECTIVE, shape=_take_shape, checks_values=True)
def take(x: np.ndarray, idx: np.ndarray, *, axis: int) -> np.ndarray:
    """Integer-array indexing along one axis: ``np.take(x, idx, axis)``."""
    return np.take(x, idx, axis=axis)


@defop("setitem", fusion=Fusion.INJECTIVE, shape=lambda x, v, *, index: x, checks_values=True)
def setitem(x: np.ndarray, value: np.ndarray, *, index: tuple) -> np.ndarray:
    """Functional ``x[index] = value``: a new array."""
    out = np.array(x, copy=True)
    out[decode_index(index)] = value
    return out


def _concat_shape(*xs: TensorSpec, axis: int) -> TensorSpec:
    arrays = [np.empty(x.shape, dtype=[]) for x in xs]
    return TensorSpec(np.concatenate(arrays, axis=axis).shape, np.result_type(*(x.dtype for x in xs)))


@defop("concat", fusion=Fusion.INJECTIVE, shape=_concat_shape)
def concat(*xs: np.ndarray, axis: int) -> np.ndarray:
    """``np.concatenate(xs, axis)``."""
    return np.concatenate(xs, axis=axis)


def _stack_shape(*xs: TensorSpec, axis: int) -> TensorSpec:
    arrays = [np.empty(x.shape, dtype=[]) for x in xs]
    return TensorSpec(np.stack(arrays, axis=axis).shape, np.result_type(*(x.dtype for x in xs)))


@defop("stack", fusion=Fusion.INJECTIVE, shape=_stack_shape)
def stack(*xs: np.ndarray, axis: int) -> np.ndarray:
    """``np.stack(xs, axis)``."""
    return np.stack(xs, axis=axis)


@defop("broadcast_to", fusion=Fusion.INJECTIVE, shape=lambda x, *, shape: TensorSpec(shape, x.dtype))
def broadcast_to(x: np.ndarray, *, shape: tuple[int, ...]) -> np.ndarray:
    """``np.broadcast_to(x, shape)`` (a read-only view)."""
    return np.broadcast_to(x, shape)


def _repeat_shape(x: TensorSpec, *, repeats: int, axis: int | None) -> TensorSpec:
    return TensorSpec(np.repeat(np.empty(x.shape, dtype=[]), repeats, axis=axis).shape, x.dtype)


@defop("repeat", fusion=Fusion.INJECTIVE, shape=_repeat_shape)
def repeat(x: np.ndarray, *, repeats: int, axis: int | None) -> np.ndarray:
    """``np.repeat(x, repeats, axis)`` with an integer repeat count."""
    return np.repeat(x, repeats, axis=axis)


@defop("tile", fusion=Fusion.INJECTIVE,
       shape=lambda x, *, reps: TensorSpec(np.tile(np.empty(x.shape, dtype=[]), reps).shape, x.dtype))
def tile(x: np.ndarray, *, reps: tuple[int, ...]) -> np.ndarray:
    """``np.tile(x, reps)``."""
    return np.tile(x, reps)


@defop("tuple_getitem", fusion=Fusion.INJECTIVE, shape=lambda x, *, index: x[index])  # x: a tuple of specs
def tuple_getitem(x: Sequence[np.ndarray], *, index: int) -> np.ndarray:
    """Element ``index`` of a multi-output node's result."""
    return x[index]
