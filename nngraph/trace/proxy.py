"""``Proxy``: the traced stand-in for an ndarray. It carries the node it names, its spec, and the concrete value
on the example inputs (computed lazily: most traces never need it), and records every numpy operation applied to
it."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..ops.math import BINARY, UNARY
from ..ops.registry import REGISTRY, TensorSpec
from ..ops.shape import encode_index

if TYPE_CHECKING:
    from .tracer import Tracer


class GraphBreak(Exception):
    """Raised inside traced code that cannot be captured; the enclosing module becomes an opaque node."""


class ShapeRuleError(RuntimeError):
    """An op's implementation returned another shape/dtype than its shape rule promised (a bug in the op's
    registry entry); never turned into a graph break."""


# numpy ufunc -> op name (np.tanh is the activation op "tanh").
UFUNC_OPS: dict[Any, str] = {fn: name for name, fn in {**UNARY, **BINARY}.items()}
UFUNC_OPS[np.tanh] = "tanh"
UFUNC_OPS[np.matmul] = "matmul"


def _axis(axis: Any, ndim: int) -> tuple[int, ...] | None:
    if axis is None:
        return None
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(sorted(int(a) % ndim if ndim else 0 for a in axes))


class Lazy:
    """A value computed on first use from other lazy values (``deps``); forcing is iterative, so a chain of any
    length cannot overflow the Python stack."""

    __slots__ = ("fn", "deps", "value", "done")

    def __init__(self, fn: Any = None, deps: tuple = ()) -> None:
        self.fn = fn
        self.deps = deps
        self.value: Any = None
        self.done = False

    @classmethod
    def ready(cls, value: Any) -> "Lazy":
        lazy = cls()
        lazy.value, lazy.done = value, True
        return lazy

    def get(self) -> Any:
        if not self.done:
            order: list[Lazy] = []
            stack: list[tuple[Lazy, bool]] = [(self, False)]
            seen: set[int] = set()
            while stack:  # post-order over the unforced ancestors
                item, expanded = stack.pop()
                if expanded:
                    order.append(item)
                    continue
                if item.done or id(item) in seen:
                    continue
                seen.add(id(item))
                stack.append((item, True))
                stack.extend((d, False) for d in item.deps if not d.done and id(d) not in seen)
            for item in order:
                item.value = item.fn()
                item.done, item.fn, item.deps = True, None, ()
        return self.value


class Proxy:
    """A traced array. Behaves like an ndarray for everything shape-related (``shape``, ``ndim``, ``len`` are
    concrete), records operations, and raises ``GraphBreak`` where the value itself would be needed."""

    __array_priority__ = 1000

    def __init__(self, tracer: "Tracer", node: str, value: Any = None, *, spec: TensorSpec | None = None,
                 lazy: Lazy | None = None) -> None:
        self.tracer = tracer
        self.node = node
        if lazy is None:
            lazy = Lazy.ready(value)
            spec = TensorSpec(value.shape, value.dtype)
        self._lazy = lazy
        self._spec = spec

    @property
    def value(self) -> Any:
        """The concrete value on the example inputs (computed now if it was not needed before)."""
        return self._lazy.get()

    def _state(self) -> tuple:
        return self.node, self._lazy, self._spec

    def _set_state(self, state: tuple) -> None:
        self.node, self._lazy, self._spec = state

    # -- metadata (concrete) ---------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._spec.shape

    @property
    def ndim(self) -> int:
        return len(self._spec.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._spec.dtype

    @property
    def size(self) -> int:
        return int(np.prod(self._spec.shape, dtype=np.int64))

    @property
    def itemsize(self) -> int:
        return self._spec.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.size * self.itemsize

    @property
    def spec(self) -> TensorSpec:
        return self._spec

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return f"Proxy(%{self.node}, shape={self.shape}, dtype={self.dtype})"

    __hash__ = object.__hash__

    # -- things that need the value: graph breaks -------------------------------------------------------------------
    def __bool__(self) -> bool:
        raise GraphBreak("data-dependent control flow (the truth value of a traced array)")

    def _scalar(self, *_: Any) -> Any:
        raise GraphBreak("conversion of a traced array to a Python scalar")

    __float__ = __int__ = __index__ = __complex__ = item = tolist = _scalar

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise GraphBreak("conversion of a traced array to a concrete numpy array (np.asarray or a call into "
                         "another library)")

    # -- recording helpers ---------------------------------------------------------------------------------------
    def _op(self, name: str, *args: Any, **attrs: Any) -> Any:
        return self.tracer.record(REGISTRY[name], args, attrs)

    def _binary(self, name: str, other: Any, reverse: bool = False) -> Any:
        other = self.tracer.as_operand(other, like=self)
        return self._op(name, other, self) if reverse else self._op(name, self, other)

    def _inplace(self, name: str, other: Any) -> "Proxy":
        self.tracer.assign(self, self._binary(name, other))
        return self

    # -- operators ---------------------------------------------------------------------------------------------------
    def __add__(self, o: Any) -> Any: return self._binary("add", o)
    def __radd__(self, o: Any) -> Any: return self._binary("add", o, True)
    def __sub__(self, o: Any) -> Any: return self._binary("sub", o)
    def __rsub__(self, o: Any) -> Any: return self._binary("sub", o, True)
    def __mul__(self, o: Any) -> Any: return self._binary("mul", o)
    def __rmul__(self, o: Any) -> Any: return self._binary("mul", o, True)
    def __truediv__(self, o: Any) -> Any: return self._binary("div", o)
    def __rtruediv__(self, o: Any) -> Any: return self._binary("div", o, True)
    def __floordiv__(self, o: Any) -> Any: return self._binary("floordiv", o)
    def __rfloordiv__(self, o: Any) -> Any: return self._binary("floordiv", o, True)
    def __mod__(self, o: Any) -> Any: return self._binary("mod", o)
    def __rmod__(self, o: Any) -> Any: return self._binary("mod", o, True)
    def __pow__(self, o: Any) -> Any: return self._binary("pow", o)
    def __rpow__(self, o: Any) -> Any: return self._binary("pow", o, True)
    def __matmul__(self, o: Any) -> Any: return self._binary("matmul", o)
    def __rmatmul__(self, o: Any) -> Any: return self._binary("matmul", o, True)
    def __and__(self, o: Any) -> Any: return self._binary("logical_and" if self.dtype == bool else "bitwise_and", o)
    def __rand__(self, o: Any) -> Any: return self.__and__(o)
    def __or__(self, o: Any) -> Any: return self._binary("logical_or" if self.dtype == bool else "bitwise_or", o)
    def __ror__(self, o: Any) -> Any: return self.__or__(o)
    def __xor__(self, o: Any) -> Any: return self._binary("logical_xor" if self.dtype == bool else "bitwise_xor", o)
    def __rxor__(self, o: Any) -> Any: return self.__xor__(o)
    def __lt__(self, o: Any) -> Any: return self._binary("lt", o)
    def __le__(self, o: Any) -> Any: return self._binary("le", o)
    def __gt__(self, o: Any) -> Any: return self._binary("gt", o)
    def __ge__(self, o: Any) -> Any: return self._binary("ge", o)
    def __eq__(self, o: Any) -> Any: return self._binary("eq", o)  # type: ignore[override]
    def __ne__(self, o: Any) -> Any: return self._binary("ne", o)  # type: ignore[override]
    def __neg__(self) -> Any: return self._op("neg", self)
    def __pos__(self) -> Any: return self
    def __abs__(self) -> Any: return self._op("abs", self)

    def __invert__(self) -> Any:
        if self.dtype != bool:
            raise GraphBreak("bitwise not of a non-boolean traced array")
        return self._op("logical_not", self)

    def __iadd__(self, o: Any) -> "Proxy": return self._inplace("add", o)
    def __isub__(self, o: Any) -> "Proxy": return self._inplace("sub", o)
    def __imul__(self, o: Any) -> "Proxy": return self._inplace("mul", o)
    def __itruediv__(self, o: Any) -> "Proxy": return self._inplace("div", o)
    def __ipow__(self, o: Any) -> "Proxy": return self._inplace("pow", o)
    def __imatmul__(self, o: Any) -> "Proxy": return self._inplace("matmul", o)

    # -- indexing ------------------------------------------------------------------------------------------------------
    def __getitem__(self, index: Any) -> Any:
        return self.tracer.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        value = self.tracer.as_operand(value, like=self)
        code = encode_index(index)
        whole = all(c == "..." or c == ("s", None, None, None) for c in code) and len(code) <= max(self.ndim, 1)
        if whole and isinstance(value, Proxy) and value.shape == self.shape and value.dtype == self.dtype:
            self.tracer.rebind(self, value)  # x[...] = y overwrites everything: x now names y's value
            return
        result = self._op("setitem", self, value, index=code)
        self.tracer.rebind(self, result)

    # -- array methods ------------------------------------------------------------------------------------------------
    def reshape(self, *shape: Any, order: str = "C") -> Any:
        if order != "C":
            raise GraphBreak(f"reshape with order={order!r}")
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        resolved = np.empty(self.shape, dtype=[]).reshape(tuple(int(s) for s in shape)).shape
        return self if resolved == self.shape else self._op("reshape", self, shape=resolved)

    def transpose(self, *axes: Any) -> Any:
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        axes = tuple(range(self.ndim))[::-1] if not axes or axes == (None,) else tuple(int(a) % self.ndim for a in axes)
        return self if axes == tuple(range(self.ndim)) else self._op("transpose", self, axes=axes)

    @property
    def T(self) -> Any:
        return self.transpose()

    @property
    def mT(self) -> Any:
        return self.swapaxes(-1, -2)

    def swapaxes(self, a: int, b: int) -> Any:
        axes = list(range(self.ndim))
        a, b = a % self.ndim, b % self.ndim
        axes[a], axes[b] = axes[b], axes[a]
        return self.transpose(axes)

    def diagonal(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
        a1, a2 = axis1 % self.ndim, axis2 % self.ndim
        if a1 == a2:
            raise ValueError("axis1 and axis2 cannot be the same")
        return self._op("diagonal", self, offset=int(offset), axis1=a1, axis2=a2)

    def trace(self, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None, out: Any = None) -> Any:
        return self.diagonal(offset, axis1, axis2).sum(axis=-1, dtype=dtype, out=out)

    def flatten(self, order: str = "C") -> Any:
        return self.reshape(-1, order=order).copy()

    def ravel(self, order: str = "C") -> Any:
        return self.reshape(-1, order=order)

    def squeeze(self, axis: Any = None) -> Any:
        axes = _axis(axis, self.ndim)
        if axes is None:
            axes = tuple(i for i, s in enumerate(self.shape) if s == 1)
        if any(self.shape[a] != 1 for a in axes):
            raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
        return self.reshape(tuple(s for i, s in enumerate(self.shape) if i not in axes))

    def astype(self, dtype: Any, copy: bool = True, **_: Any) -> Any:
        dtype = np.dtype(dtype)
        if dtype == self.dtype and not copy:
            return self
        return self._op("cast", self, dtype=dtype.str)

    def copy(self, order: str = "C") -> Any:
        return self._op("copy", self)

    def clip(self, min: Any = None, max: Any = None, **_: Any) -> Any:  # noqa: A002 -- numpy's names
        t = self.tracer
        lo = None if min is None else t.as_operand(min, like=self)
        hi = None if max is None else t.as_operand(max, like=self)
        return self._op("clip", self, lo, hi)

    def dot(self, other: Any) -> Any:
        return self.tracer.dot(self, other)

    def repeat(self, repeats: int, axis: int | None = None) -> Any:
        if not isinstance(repeats, (int, np.integer)):
            raise GraphBreak("repeat with per-element counts")
        return self._op("repeat", self, repeats=int(repeats), axis=None if axis is None else axis % self.ndim)

    def _reduce(self, name: str, axis: Any = None, keepdims: bool = False, **kw: Any) -> Any:
        if kw.pop("out", None) is not None or kw.get("where", True) is not True or kw.pop("initial", None) is not None:
            raise GraphBreak(f"{name} with out=/where=/initial=")
        kw.pop("where", None)
        dtype = kw.pop("dtype", None)
        if dtype is not None and np.dtype(dtype) != self.dtype:  # numpy accumulates in dtype: cast first
            return self.astype(dtype)._reduce(name, axis, keepdims, **kw)
        return self._op(name, self, axis=_axis(axis, self.ndim), keepdims=bool(keepdims), **kw)

    def sum(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
        return self._reduce("sum", axis, keepdims, dtype=dtype, out=out, **kw)

    def mean(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
        return self._reduce("mean", axis, keepdims, dtype=dtype, out=out, **kw)

    def max(self, axis: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
        return self._reduce("max", axis, keepdims, out=out, **kw)

    def min(self, axis: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
        return self._reduce("min", axis, keepdims, out=out, **kw)

    def prod(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
        return self._reduce("prod", axis, keepdims, dtype=dtype, out=out, **kw)

    def any(self, axis: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
        return self._reduce("any", axis, keepdims, out=out, **kw)

    def all(self, axis: Any = None, out: Any = None, keepdims: bool = False, **kw: Any) -> Any:
        return self._reduce("all", axis, keepdims, out=out, **kw)

    def var(self, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0, keepdims: bool = False,
            **kw: Any) -> Any:
        return self._reduce("var", axis, keepdims, dtype=dtype, out=out, ddof=int(ddof), **kw)

    def std(self, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0, keepdims: bool = False,
            **kw: Any) -> Any:
        return self._reduce("std", axis, keepdims, dtype=dtype, out=out, ddof=int(ddof), **kw)

    def argmax(self, axis: int | None = None, out: Any = None, keepdims: bool = False) -> Any:
        return self._op("argmax", self, axis=None if axis is None else axis % self.ndim, keepdims=bool(keepdims))

    def argmin(self, axis: int | None = None, out: Any = None, keepdims: bool = False) -> Any:
        return self._op("argmin", self, axis=None if axis is None else axis % self.ndim, keepdims=bool(keepdims))

    def fill(self, value: Any) -> None:
        raise GraphBreak("in-place fill of a traced array")

    # -- numpy protocols -----------------------------------------------------------------------------------------------
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return self.tracer.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return self.tracer.array_function(func, args, kwargs)
