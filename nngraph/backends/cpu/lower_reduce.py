"""CPU lowering of reductions (ops/reduce.py: sum, mean, prod, var, std, max, min, any, all, argmax, argmin) and of
the softmax family (ops/activation.py: softmax, log_softmax). Kernels are in ``kernels_reduce.py``.

A reduction over any set of axes of a (possibly strided) ``Buf`` is cut into kept dims and reduced dims (size-1 dims
dropped, neighbours merged where their strides allow); it runs as a *row* kernel when the innermost reduced dim is
contiguous, as a *column* kernel when the innermost kept dim is contiguous, and otherwise after copying the input
into a dense buffer. float16 (and complex) values stay on the host.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...ir.node import Node
from ...ir.symbolic import prod as sym_prod
from ...ops.registry import TensorSpec, register_lowering
from . import kernels_reduce as K
from .buffers import Buf
from .codegen import Emitter
from .kernels_basic import emit_copy

PARALLEL_MIN = 1 << 15  # elements of work below which kernels run serially
MAX_KEPT, MAX_RED = 3, 3  # kept / reduced dims of the kernels (besides the contiguous run)

_ARITH = {"sum": K.OP_SUM, "mean": K.OP_MEAN, "prod": K.OP_PROD, "var": K.OP_VAR, "std": K.OP_STD}
_MINMAX = {"max": K.OP_MAX, "min": K.OP_MIN}
_BOOL = {"any": K.OP_ANY, "all": K.OP_ALL}
_ARG = {"argmax": K.OP_ARGMAX, "argmin": K.OP_ARGMIN}


def supported_dtype(dtype: np.dtype) -> bool:
    """dtypes the kernels compute in: float32/float64, integers and bool (not float16, complex, objects)."""
    dtype = np.dtype(dtype)
    return dtype in (np.float32, np.float64) or dtype.kind in "iub"


def _merge(dims: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge neighbouring (size, stride) dims that address memory as one dim."""
    out: list[tuple[int, int]] = []
    for s, st in dims:
        if out and out[-1][1] == st * s:
            out[-1] = (out[-1][0] * s, st)
        else:
            out.append((s, st))
    return out


def _pad(dims: list[tuple[int, int]], n: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    dims = [(1, 0)] * (n - len(dims)) + dims
    return tuple(s for s, _ in dims), tuple(st for _, st in dims)


def _parallel(work: int, tasks: int) -> bool:
    return work >= PARALLEL_MIN and tasks >= 2


def _blocks(outer: int, m: int, work: int) -> tuple[int, bool]:
    """(block width, parallel) of a column kernel over ``outer`` rows of ``m`` columns: whole rows (long
    contiguous runs stream best), split in two when a single row is the only parallelism there is."""
    if work < PARALLEL_MIN:
        return max(m, 1), False
    if outer >= 2:
        return m, True
    if m >= 4096:
        return (m + 127) // 128 * 64, True
    return m, False


def _split(x: Buf, axes: tuple[int, ...], sort_reduced: bool) -> tuple[list, list]:
    kept = [(s, st) for d, (s, st) in enumerate(zip(x.shape, x.strides)) if d not in axes and s != 1]
    red = [(s, st) for d, (s, st) in enumerate(zip(x.shape, x.strides)) if d in axes and s != 1]
    if sort_reduced:  # the reduction order is free: put the smallest stride innermost
        red.sort(key=lambda d: -abs(d[1]))
    return _merge(kept), _merge(red)


def _plan(x: Buf, axes: tuple[int, ...], sort_reduced: bool) -> tuple | None:
    """(cols, kept, reduced, n) for ``x``: rows layout (cols False) with the contiguous reduced run of n last, or
    cols layout with the contiguous kept run of n last; None when neither applies (needs a dense copy)."""
    kept, red = _split(x, axes, sort_reduced)
    if not red:
        red = [(1, 1)]
    if red[-1][1] == 1 and len(kept) <= MAX_KEPT and len(red) - 1 <= MAX_RED:
        return (False, kept, red[:-1], red[-1][0])
    if kept and kept[-1][1] == 1 and len(kept) - 1 <= MAX_KEPT and len(red) <= MAX_RED:
        return (True, kept[:-1], red, kept[-1][0])
    return None


def _axes(node: Node, ndim: int) -> tuple[int, ...]:
    axis = node.attrs.get("axis")
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        return (axis % ndim,)
    return tuple(int(a) % ndim for a in axis)


def _empty_value(name: str, dtype: np.dtype) -> Any:
    """The result of reducing nothing (numpy: identity, or NaN for mean/var/std); None when numpy raises."""
    if name in ("sum", "prod"):
        v = 0 if name == "sum" else 1
        return bool(v) if dtype.kind == "b" else (float(v) if dtype.kind == "f" else v)
    if name in ("any", "all"):
        return name == "all"
    if name in ("mean", "var", "std") and dtype.kind == "f":
        return "@np.nan"
    return None


def _reduce(em: Emitter, node: Node) -> bool:
    name = node.target
    x_spec: TensorSpec = em.graph[node.args[0]].spec
    out_spec: TensorSpec = node.spec
    if not (supported_dtype(x_spec.dtype) and supported_dtype(out_spec.dtype)):
        return False
    if name in ("mean", "var", "std") and out_spec.dtype.kind != "f":
        return False
    if name in _ARG and (x_spec.ndim == 0 or (node.attrs["axis"] is None and x_spec.ndim > 1)):
        x = em.dense(node.args[0])  # numpy: the index into the C-order flattening
        x = x.reshape((x.size,))
        axes: tuple[int, ...] = (0,)
    else:
        x = em.buf(node.args[0])
        axes = _axes(node, x.ndim)
    count = sym_prod([x.shape[a] for a in axes])
    n_out = sym_prod(out_spec.shape)
    if n_out == 0:
        em.out(node)
        return True
    if count == 0:
        value = _empty_value(name, out_spec.dtype)
        if value is None:
            return False  # numpy raises (max of an empty array ...): the host reports it
        em.call(K.fill, em.out(node), n_out, value)
        return True
    if name in _ARG:
        return _lower_arg(em, node, x, axes[0])
    if name in _MINMAX and x.dtype.kind == "b":  # max/min of booleans: any/all
        name = "any" if name == "max" else "all"
    cast = out_spec.dtype if name in _ARITH else np.dtype(np.bool_) if name in _BOOL else x.dtype
    if x.dtype != cast:
        # Integer/bool sums and int means (numpy accumulates in the result dtype anyway) and any/all of numbers
        # (x != 0) run on a converted copy: a pass over the input, but one compiled kernel per dtype, not per pair.
        converted = em.scratch(x.shape, cast)
        emit_copy(em, x, converted)
        x = converted
    plan = _plan(x, axes, True)
    if plan is None and not x.contiguous:
        x = em.dense(node.args[0])
        plan = _plan(x, axes, True)
    if plan is None:
        return False
    out = em.out(node)
    cols, kept, red, n = plan
    ksh, kst = _pad(kept, MAX_KEPT)
    rsh, rst = _pad(red, MAX_RED)
    if cols:
        bw, par = _blocks(sym_prod(ksh), n, x.size)
    else:
        bw, par = max(n, 1), _parallel(x.size, n_out)
    if name in _ARITH:
        em.call(K.arith_reduce, _ARITH[name], x, out, cols, ksh, kst, rsh, rst, n, bw, int(node.attrs.get("ddof", 0)),
                par)
    elif name in _MINMAX:
        em.call(K.minmax_reduce, _MINMAX[name], x, out, cols, ksh, kst, rsh, rst, n, bw, par)
    else:
        em.call(K.bool_reduce, _BOOL[name], x, out, cols, ksh, kst, rsh, rst, n, bw, par)
    return True


def _lower_arg(em: Emitter, node: Node, x: Buf, axis: int) -> bool:
    for attempt in range(2):
        kept = _merge([(s, st) for d, (s, st) in enumerate(zip(x.shape, x.strides)) if d != axis and s != 1])
        na, sa = x.shape[axis], x.strides[axis]
        if (sa == 1 or na == 1) and len(kept) <= MAX_KEPT:
            ksh, kst = _pad(kept, MAX_KEPT)
            par = _parallel(x.size, sym_prod(ksh))
            em.call(K.arg_reduce, _ARG[node.target], x, em.out(node), False, ksh, kst, na, max(na, 1), na, 1, par)
            return True
        if kept and kept[-1][1] == 1 and len(kept) - 1 <= MAX_KEPT:
            ksh, kst = _pad(kept[:-1], MAX_KEPT)
            m = kept[-1][0]
            bw, par = _blocks(sym_prod(ksh), m, x.size)
            em.call(K.arg_reduce, _ARG[node.target], x, em.out(node), True, ksh, kst, m, bw, na, sa, par)
            return True
        if attempt or x.contiguous:
            return False
        dense = em.scratch(x.shape, x.dtype)
        emit_copy(em, x, dense)
        x = dense
    return False


# --------------------------------------------------------------------------------------------- softmax
def _softmax(em: Emitter, node: Node) -> bool:
    out_spec: TensorSpec = node.spec
    x_spec: TensorSpec = em.graph[node.args[0]].spec
    if out_spec.dtype not in (np.float32, np.float64) or not supported_dtype(x_spec.dtype):
        return False  # float16 computes in float32 and rounds: the host does it
    axis = int(node.attrs["axis"]) % max(x_spec.ndim, 1)
    out = em.out(node)
    if out.size == 0:
        return True
    x = em.dense(node.args[0])
    if x.dtype != out_spec.dtype:  # ``dtype=`` casts the input first
        cast = em.scratch(x.shape, out_spec.dtype)
        emit_copy(em, x, cast)
        x = cast
    shape = x.shape
    outer = sym_prod(shape[:axis])
    na = shape[axis]
    inner = sym_prod(shape[axis + 1:])
    log = node.target == "log_softmax"
    if inner == 1:
        bw, par = 1, _parallel(x.size, outer)
    else:
        bw, par = _blocks(outer, inner, x.size)
    em.call(K.softmax, log, x, out, outer, na, inner, bw, par)
    return True


for _name in list(_ARITH) + list(_MINMAX) + list(_BOOL) + list(_ARG):
    register_lowering(_name, "cpu")(_reduce)
register_lowering("softmax", "cpu")(_softmax)
register_lowering("log_softmax", "cpu")(_softmax)
