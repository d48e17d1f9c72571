"""How numpy functions called on proxies (``__array_function__``) map onto registry ops."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .proxy import GraphBreak, Proxy, _axis

if TYPE_CHECKING:
    from .tracer import Tracer

FUNCTIONS: dict[Callable[..., Any], Callable[..., Any]] = {}


def handles(*funcs: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(handler: Callable[..., Any]) -> Callable[..., Any]:
        for f in funcs:
            FUNCTIONS[f] = handler
        return handler

    return wrap


def _no_out(name: str, out: Any) -> None:
    if out is not None:
        raise GraphBreak(f"numpy.{name} with out=")


def _p(t: "Tracer", x: Any) -> Proxy:
    """``x`` as a proxy (concrete arrays become constants)."""
    if isinstance(x, Proxy):
        return x
    arr = np.asarray(x)
    name = t.node_of(arr)
    return Proxy(t, name, t.graph_value(name, arr))


def _method(name: str) -> Callable[..., Any]:
    def handler(t: "Tracer", a: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(_p(t, a), name)(*args, **kwargs)

    return handler


for _fn, _m in [(np.reshape, "reshape"), (np.transpose, "transpose"), (np.swapaxes, "swapaxes"),
                (np.ravel, "ravel"), (np.squeeze, "squeeze"), (np.sum, "sum"), (np.mean, "mean"), (np.max, "max"),
                (np.amax, "max"), (np.min, "min"), (np.amin, "min"), (np.prod, "prod"), (np.any, "any"),
                (np.all, "all"), (np.var, "var"), (np.std, "std"), (np.argmax, "argmax"), (np.argmin, "argmin"),
                (np.clip, "clip"), (np.copy, "copy"), (np.repeat, "repeat")]:
    FUNCTIONS[_fn] = _method(_m)


@handles(np.shape)
def _shape(t: "Tracer", a: Any) -> tuple[int, ...]:
    return tuple(a.shape)


@handles(np.ndim)
def _ndim(t: "Tracer", a: Any) -> int:
    return a.ndim


@handles(np.size)
def _size(t: "Tracer", a: Any, axis: int | None = None) -> int:
    return a.size if axis is None else a.shape[axis]


@handles(np.concatenate)
def _concatenate(t: "Tracer", arrays: Any, axis: int | None = 0, out: Any = None, dtype: Any = None, **_: Any) -> Any:
    _no_out("concatenate", out)
    xs = [_p(t, a) for a in arrays]
    if axis is None:
        xs, axis = [x.reshape(-1) for x in xs], 0
    res = t.op("concat", *xs, axis=axis % xs[0].ndim)
    return res if dtype is None else res.astype(dtype)


@handles(np.stack)
def _stack(t: "Tracer", arrays: Any, axis: int = 0, out: Any = None, **_: Any) -> Any:
    _no_out("stack", out)
    xs = [_p(t, a) for a in arrays]
    return t.op("stack", *xs, axis=axis % (xs[0].ndim + 1))


@handles(np.hstack)
def _hstack(t: "Tracer", arrays: Any, **_: Any) -> Any:
    xs = [_p(t, a) for a in arrays]
    return t.op("concat", *xs, axis=0 if xs[0].ndim == 1 else 1)


@handles(np.vstack)
def _vstack(t: "Tracer", arrays: Any, **_: Any) -> Any:
    xs = [_p(t, a) for a in arrays]
    xs = [x.reshape(1, -1) if x.ndim == 1 else x for x in xs]
    return t.op("concat", *xs, axis=0)


@handles(np.expand_dims)
def _expand_dims(t: "Tracer", a: Any, axis: Any) -> Any:
    x = _p(t, a)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    ndim = x.ndim + len(axes)
    axes = sorted(int(ax) % ndim for ax in axes)
    shape = list(x.shape)
    for ax in axes:
        shape.insert(ax, 1)
    return x.reshape(tuple(shape))


@handles(np.moveaxis)
def _moveaxis(t: "Tracer", a: Any, source: Any, destination: Any) -> Any:
    x = _p(t, a)
    src = [s % x.ndim for s in (source if isinstance(source, (tuple, list)) else (source,))]
    dst = [d % x.ndim for d in (destination if isinstance(destination, (tuple, list)) else (destination,))]
    order = [n for n in range(x.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return x.transpose(order)


@handles(np.where)
def _where(t: "Tracer", cond: Any, x: Any = None, y: Any = None) -> Any:
    if x is None or y is None:
        raise GraphBreak("numpy.where with one argument (data-dependent shape)")
    like = next(v for v in (x, y, cond) if isinstance(v, Proxy))
    return t.op("where", _p(t, cond), t.as_operand(x, like), t.as_operand(y, like))


@handles(np.matmul)
def _matmul(t: "Tracer", a: Any, b: Any, out: Any = None, **_: Any) -> Any:
    _no_out("matmul", out)
    return t.op("matmul", a, b)


@handles(np.dot)
def _dot(t: "Tracer", a: Any, b: Any, out: Any = None) -> Any:
    _no_out("dot", out)
    return t.dot(a, b)


@handles(np.diagonal)
def _diagonal(t: "Tracer", a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    return _p(t, a).diagonal(offset, axis1, axis2)


@handles(np.trace)
def _trace(t: "Tracer", a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
           out: Any = None) -> Any:
    return _p(t, a).trace(offset, axis1, axis2, dtype, out)


@handles(np.einsum)
def _einsum(t: "Tracer", subscripts: Any, *operands: Any, optimize: Any = None, **kw: Any) -> Any:
    if not isinstance(subscripts, str) or kw.get("out") is not None:
        raise GraphBreak("numpy.einsum in its interleaved form or with out=")
    return t.op("einsum", *[_p(t, o) for o in operands], equation=subscripts.replace(" ", ""))


@handles(np.broadcast_to)
def _broadcast_to(t: "Tracer", a: Any, shape: Any, subok: bool = False) -> Any:
    shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
    return t.op("broadcast_to", _p(t, a), shape=shape)


@handles(np.tile)
def _tile(t: "Tracer", a: Any, reps: Any) -> Any:
    return t.op("tile", _p(t, a), reps=(reps,) if isinstance(reps, int) else tuple(int(r) for r in reps))


@handles(np.take)
def _take(t: "Tracer", a: Any, indices: Any, axis: int | None = None, out: Any = None, mode: str = "raise") -> Any:
    _no_out("take", out)
    if mode != "raise":
        raise GraphBreak(f"numpy.take with mode={mode!r}")
    x = _p(t, a)
    if axis is None:
        x, axis = x.reshape(-1), 0
    idx = indices if isinstance(indices, Proxy) else np.asarray(indices)
    return t.op("take", x, idx, axis=axis % x.ndim)


@handles(np.split, np.array_split)
def _split(t: "Tracer", a: Any, indices_or_sections: Any, axis: int = 0) -> Any:
    x = _p(t, a)
    axis %= x.ndim
    parts = np.array_split(np.empty(x.shape, dtype=[]), indices_or_sections, axis=axis)
    out, start = [], 0
    for p in parts:
        index = [slice(None)] * x.ndim
        index[axis] = slice(start, start + p.shape[axis])
        start += p.shape[axis]
        out.append(x[tuple(index)])
    return out


@handles(np.flip)
def _flip(t: "Tracer", m: Any, axis: Any = None) -> Any:
    x = _p(t, m)
    axes = range(x.ndim) if axis is None else _axis(axis, x.ndim)
    return x[tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim))]


def _like(fill: Any) -> Callable[..., Any]:
    def handler(t: "Tracer", a: Any, *args: Any, dtype: Any = None, shape: Any = None, **kw: Any) -> Proxy:
        value = fill(a, args)
        dt = np.dtype(dtype) if dtype is not None else a.dtype
        # A constant (its value is known), as a proxy so that ``out = np.zeros_like(x); out[i] = x[j]`` traces.
        return _p(t, np.full(a.shape if shape is None else shape, value, dtype=dt))

    return handler


FUNCTIONS[np.zeros_like] = _like(lambda a, args: 0)
FUNCTIONS[np.ones_like] = _like(lambda a, args: 1)
FUNCTIONS[np.empty_like] = _like(lambda a, args: 0)
FUNCTIONS[np.full_like] = _like(lambda a, args: args[0])


@handles(np.result_type)
def _result_type(t: "Tracer", *arrays_and_dtypes: Any) -> np.dtype:
    return np.result_type(*(a.dtype if isinstance(a, Proxy) else a for a in arrays_and_dtypes))


@handles(np.round, np.around)
def _round(t: "Tracer", a: Any, decimals: int = 0, out: Any = None) -> Any:
    if out is not None:
        raise GraphBreak("numpy.round with out=")
    x = _p(t, a)
    if x.dtype.kind in "iub":
        if decimals < 0:
            raise GraphBreak("numpy.round of integers to negative decimals")
        return x.copy()
    if decimals == 0:
        return np.rint(x)
    scale = t.as_operand(10.0 ** decimals, like=x)  # numpy's own algorithm: scale, round half to even, unscale
    return np.rint(x * scale) / scale


@handles(np.linalg.norm)
def _norm(t: "Tracer", x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A002
    """Vector norms (and the Frobenius norm): ord None/2 -> sqrt(sum(x^2)), 1 -> sum|x|, inf -> max|x|."""
    p = _p(t, x)
    if p.dtype.kind not in "f":
        p = p.astype(np.float64)
    vector = axis is not None and not (isinstance(axis, (tuple, list)) and len(axis) == 2) or p.ndim == 1
    if ord is None or (ord == 2 and vector) or (ord == "fro" and not vector):
        return np.sqrt((p * p).sum(axis=axis, keepdims=keepdims))
    if vector and ord == 1:
        return abs(p).sum(axis=axis, keepdims=keepdims)
    if vector and ord == np.inf:
        return abs(p).max(axis=axis, keepdims=keepdims)
    raise GraphBreak(f"numpy.linalg.norm with ord={ord!r}")
