"""``trace(model, *inputs)``: run ``forward`` with proxies and record every operation into a ``Graph``.

Proxies carry the concrete values computed on the example inputs, so shape-dependent Python code specializes,
every node's spec is exact, and a module whose code cannot be traced (a graph break) is executed eagerly on the
concrete values and recorded as one opaque MODULE node.
"""
from __future__ import annotations

import contextlib
import os
import sys
import traceback
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from .. import _random
from ..nn.modules import hooks as _hooks
from ..ir.graph import Graph
from ..ir.node import CONSTANT, INPUT, MODULE, OP, OUTPUT, PARAM, NodeMeta
from ..ir.pytree import flatten, unflatten
from ..ops.registry import _ACTIVE_TRACER, REGISTRY, Fusion, OpDef, TensorSpec
from ..ops.shape import encode_index
from .numpy_api import FUNCTIONS
from .proxy import UFUNC_OPS, GraphBreak, Lazy, Proxy, ShapeRuleError

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class GraphBreakError(RuntimeError):
    """Raised instead of a graph-break warning when tracing with ``fullgraph=True``."""


class GraphBreakWarning(UserWarning):
    """A module was left to eager execution because its code could not be traced."""


@dataclass(frozen=True)
class BreakInfo:
    module: str  # qualified name ('' = root)
    module_type: str
    location: str  # file:line of the untraceable code
    reason: str

    def message(self) -> str:
        name = f"'{self.module}'" if self.module else "the root module"
        return (f"graph break in {name} ({self.module_type}) at {self.location}: {self.reason}. "
                "This module runs eagerly (uncompiled).")


def _user_location(tb: Any = None) -> str:
    """file:line of the innermost frame outside nngraph's own package; failing that (a layer's own code broke),
    the innermost frame outside the tracer's machinery (nngraph/trace, nngraph/ir), so the message names the layer
    code rather than the proxy method that raised."""
    frames = traceback.extract_tb(tb) if tb is not None else traceback.extract_stack()[:-1]
    outside = [f for f in frames if not os.path.abspath(f.filename).startswith(_PKG_DIR + os.sep)]
    machinery = tuple(os.path.join(_PKG_DIR, d) + os.sep for d in ("trace", "ir"))
    not_tracer = [f for f in frames if not os.path.abspath(f.filename).startswith(machinery)]
    for frame in reversed(outside or not_tracer or frames):
        return f"{frame.filename}:{frame.lineno}"
    return "<unknown>"


def _source_of_caller() -> str:
    frame = sys._getframe(2)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PKG_DIR + os.sep):
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else ""


def _is_array(v: Any) -> bool:
    return isinstance(v, (np.ndarray, Proxy))


class Tracer:
    """Records operations on proxies into ``self.graph``."""

    def __init__(self, root: Any, fullgraph: bool = False) -> None:
        self.root = root
        self.fullgraph = fullgraph
        self.graph = Graph()
        self.module_names: dict[int, str] = {}
        for name, m in root.named_modules(remove_duplicate=False):
            self.module_names.setdefault(id(m), name)
        self.state_names: dict[int, str] = {}
        for name, p in root.named_parameters(remove_duplicate=False):
            self.state_names.setdefault(id(p), name)
        for name, b in root.named_buffers(remove_duplicate=False):
            self.state_names.setdefault(id(b), name)
        self.state_proxies: dict[str, Proxy] = {}
        self.scope: list[str] = [""]
        self.breaks: list[BreakInfo] = []
        self._rebinds: list[tuple[int, Proxy, tuple]] = []  # (seq when rebound, proxy, its state before)

    # ------------------------------------------------------------------ the protocol used by OpDef and Module
    def is_traced(self, value: Any) -> bool:
        return isinstance(value, Proxy) and value.tracer is self

    def _meta(self, spec: Any) -> NodeMeta:
        return NodeMeta(spec=spec, module=self.scope[-1], source=_source_of_caller())

    def _proxy_for(self, node_name: str, value: Any) -> Proxy:
        return Proxy(self, node_name, value)

    def node_of(self, value: Any) -> str | None:
        """The node naming ``value``: proxies map to their node, arrays to PARAM or CONSTANT nodes."""
        if value is None:
            return None
        if isinstance(value, Proxy):
            if value.tracer is not self:
                raise GraphBreak("a proxy from another trace")
            return value.node
        key = self.state_names.get(id(value))
        if key is not None:
            return self.state_proxy(key, value).node
        arr = np.array(value, copy=True)
        return self.graph.add(CONSTANT, "constant", attrs={"value": arr},
                              meta=self._meta(TensorSpec.of(arr)), name="const").name

    def state_proxy(self, key: str, value: np.ndarray) -> Proxy:
        """The proxy of a parameter or buffer (one PARAM node per key)."""
        proxy = self.state_proxies.get(key)
        if proxy is None or proxy.node not in self.graph:
            node = self.graph.add(PARAM, key, meta=NodeMeta(spec=TensorSpec.of(value), module=key.rpartition(".")[0]),
                                  name=key)
            proxy = self.state_proxies[key] = Proxy(self, node.name, value.view(np.ndarray))
        return proxy

    def module_attribute(self, module: Any, name: str, value: Any) -> Any:
        """Called by ``Module.__getattr__`` while tracing: parameters and buffers become PARAM proxies."""
        if not isinstance(value, np.ndarray):
            return value
        prefix = self.module_names.get(id(module))
        if prefix is None:
            return value
        # A shared (tied) parameter is one PARAM node, under its first name in named_parameters/named_buffers.
        key = self.state_names.get(id(value)) or (f"{prefix}.{name}" if prefix else name)
        return self.state_proxy(key, value)

    def as_operand(self, value: Any, like: Proxy) -> Any:
        """Python scalars become arrays of the dtype numpy's promotion gives them next to ``like``."""
        if isinstance(value, (Proxy, np.ndarray)):
            return value
        if isinstance(value, (bool, int, float)):
            return np.asarray(value, dtype=np.result_type(like.dtype, value))
        return np.asarray(value)

    def record(self, op: OpDef, args: tuple, attrs: dict) -> Any:
        """Record one op and add its node. The spec comes from the op's shape rule and the concrete value is
        computed only if something needs it (a graph break's eager call, an op without a static shape rule); ops
        that draw random numbers, opaque ops and ops whose implementation validates data (``checks_values``) are
        computed at once."""
        names = tuple(self.node_of(a) for a in args)
        spec = self._static_spec(op, names, attrs)
        if spec is None:
            concrete = [self.graph_value(n, a) for n, a in zip(names, args)]
            value = op.impl(*concrete, **attrs)
            if op.n_outputs > 1:
                spec = tuple(TensorSpec.of(v) for v in value)
            else:
                value = np.asarray(value)
                spec = TensorSpec.of(value)
            node = self.graph.add(OP, op.name, names, attrs, self._meta(spec), name=op.name)
            if op.n_outputs > 1:
                return tuple(self._tuple_item(node.name, value, i) for i in range(op.n_outputs))
            return Proxy(self, node.name, value)
        node = self.graph.add(OP, op.name, names, attrs, self._meta(spec), name=op.name)
        # the inputs' values as bound now (a later in-place update rebinds the proxy, not this op's operand)
        lazies = tuple(a._lazy if isinstance(a, Proxy) else None for a in args)

        def compute() -> Any:
            concrete = [lz.value if lz is not None else self.graph_value(n, a) for lz, n, a in zip(lazies, names, args)]
            value = op.impl(*concrete, **attrs)
            outs = value if op.n_outputs > 1 else (np.asarray(value),)
            specs = spec if op.n_outputs > 1 else (spec,)
            for v, sp in zip(outs, specs):
                if tuple(np.shape(v)) != sp.shape or np.asarray(v).dtype != sp.dtype:
                    raise ShapeRuleError(f"op '{op.name}' (node {node.name}): its shape rule says {sp}, its "
                                       f"implementation returned {np.shape(v)} {np.asarray(v).dtype}")
            return value if op.n_outputs > 1 else outs[0]

        lazy = Lazy(compute, tuple(lz for lz in lazies if lz is not None))
        if op.n_outputs > 1:
            return tuple(self._lazy_item(node.name, lazy, spec[i], i) for i in range(op.n_outputs))
        return Proxy(self, node.name, spec=spec, lazy=lazy)

    def _static_spec(self, op: OpDef, names: tuple, attrs: dict) -> Any:
        """The op's output spec from its shape rule, or None when the value must be computed now."""
        if op.random or op.checks_values or op.fusion is Fusion.OPAQUE:
            return None
        try:
            return op.infer(*(None if n is None else self.graph[n].spec for n in names), **attrs)
        except Exception:  # noqa: BLE001 -- the implementation raises the user-facing error
            return None

    def _lazy_item(self, name: str, parent: Lazy, spec: TensorSpec, i: int) -> Proxy:
        node = self.graph.add(OP, "tuple_getitem", (name,), {"index": i}, self._meta(spec), name=f"{name}_{i}")
        return Proxy(self, node.name, spec=spec, lazy=Lazy(lambda: np.asarray(parent.value[i]), (parent,)))

    def graph_value(self, name: str | None, original: Any) -> Any:
        if name is None:
            return None
        if isinstance(original, Proxy):
            return original.value
        node = self.graph[name]
        return node.attrs["value"] if node.kind == CONSTANT else self.state_proxies[node.target].value

    def _tuple_item(self, name: str, value: tuple, i: int) -> Proxy:
        item = np.asarray(value[i])
        node = self.graph.add(OP, "tuple_getitem", (name,), {"index": i}, self._meta(TensorSpec.of(item)),
                              name=f"{name}_{i}")
        return Proxy(self, node.name, item)

    def rebind(self, target: Proxy, result: Proxy) -> None:
        """In-place update: the same Python object now names the new value (undone if its module breaks)."""
        if self.graph[target.node].kind == PARAM:
            raise GraphBreak(f"in-place update of parameter/buffer '{self.graph[target.node].target}'")
        self._rebinds.append((self.graph._seq, target, target._state()))
        target._set_state(result._state())

    # ------------------------------------------------------------------ numpy protocols
    def ufunc(self, ufunc: Any, method: str, inputs: tuple, kwargs: dict) -> Any:
        out = kwargs.pop("out", None)
        if method != "__call__" or ufunc not in UFUNC_OPS or kwargs.get("where", True) is not True:
            what = f"numpy.{ufunc.__name__}" + (f".{method}" if method != "__call__" else "")
            raise GraphBreak(f"{what} is not supported by the tracer" if kwargs.get("where", True) is True
                             else f"{what} with where=")
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("casting", None)
        like = next(a for a in inputs if isinstance(a, Proxy))
        operands = [self.as_operand(a, like) for a in inputs]
        result = self.record(REGISTRY[UFUNC_OPS[ufunc]], tuple(operands), {})
        if dtype is not None:
            result = result.astype(dtype)
        if out is not None:
            target = out[0] if isinstance(out, tuple) else out
            if not isinstance(target, Proxy):
                raise GraphBreak("a ufunc writing into a concrete array (out=)")
            self.assign(target, result)
            return target
        return result

    def assign(self, target: Proxy, result: Proxy) -> None:
        """``target`` updated in place with ``result`` (``x += y``, ``out=``), with numpy's rules: the shape cannot
        grow, and the result is cast to the target's dtype where "same_kind" casting allows."""
        if result.shape != target.shape:
            raise ValueError(f"non-broadcastable output operand with shape {target.shape} doesn't match the "
                             f"broadcast shape {result.shape}")
        if result.dtype != target.dtype:
            if not np.can_cast(result.dtype, target.dtype, "same_kind"):
                raise TypeError(f"Cannot cast ufunc output from {result.dtype} to {target.dtype} with casting rule "
                                "'same_kind'")
            result = result.astype(target.dtype)
        self.rebind(target, result)

    def array_function(self, func: Any, args: tuple, kwargs: dict) -> Any:
        handler = FUNCTIONS.get(func)
        if handler is None:
            raise GraphBreak(f"numpy.{func.__name__} is not supported by the tracer")
        return handler(self, *args, **kwargs)

    def op(self, name: str, *args: Any, **attrs: Any) -> Any:
        return self.record(REGISTRY[name], args, attrs)

    def getitem(self, x: Proxy, index: Any) -> Any:
        idx = index if isinstance(index, tuple) else (index,)
        arrays = [i for i, v in enumerate(idx) if isinstance(v, (Proxy, np.ndarray, list))]
        if not arrays:
            return self.op("getitem", x, index=encode_index(idx))
        if len(arrays) > 1 or any(v is Ellipsis or v is None for v in idx):
            raise GraphBreak("advanced indexing with several index arrays (or with None/Ellipsis)")
        pos = arrays[0]
        if any(not (isinstance(v, slice) and v == slice(None)) for i, v in enumerate(idx) if i != pos):
            raise GraphBreak("advanced indexing mixed with basic indices")
        index_array = idx[pos]
        if isinstance(index_array, list):
            index_array = np.asarray(index_array)
        if index_array.dtype == bool:
            raise GraphBreak("boolean-mask indexing (the result's shape depends on the data)")
        return self.op("take", x, index_array, axis=pos)

    def dot(self, a: Any, b: Any) -> Any:
        a_nd, b_nd = (a.ndim if isinstance(a, Proxy) else np.ndim(a)), (b.ndim if isinstance(b, Proxy) else np.ndim(b))
        if a_nd == 0 or b_nd == 0:
            return self.op("mul", a, b)
        if b_nd > 2:
            raise GraphBreak("numpy.dot with a >2-D second operand")
        return self.op("matmul", a, b)

    # ------------------------------------------------------------------ modules and graph breaks
    def call_module(self, module: Any, args: tuple, kwargs: dict) -> Any:
        """Called by ``Module.__call__`` while tracing."""
        name = self.module_names.get(id(module))
        if name is None:  # a module created during forward, not part of the tree: trace through it
            name = self.scope[-1]
        if module._forward_pre_hooks or module._forward_hooks or _hooks.any_global_hooks():
            return self.opaque(module, name, args, kwargs, reason=None)
        mark = self.graph._seq
        self.scope.append(name)
        try:
            return module.forward(*args, **kwargs)
        except (GraphBreakError, ShapeRuleError):
            raise
        except GraphBreak as e:
            info = BreakInfo(name, type(module).__name__, _user_location(e.__traceback__), str(e))
        except Exception as e:  # noqa: BLE001 -- any failure inside traced code is a graph break ...
            if not any(isinstance(a, Proxy) for a in flatten((args, kwargs), _is_array)[0]):
                raise
            info = BreakInfo(name, type(module).__name__, _user_location(e.__traceback__),
                             f"{type(e).__name__}: {e}")
        finally:
            self.scope.pop()
        self._rollback(mark)
        return self.opaque(module, name, args, kwargs, reason=info)

    def _rollback(self, mark: int) -> None:
        """Forget what a module that broke recorded: its nodes, and in-place updates of proxies from outside it."""
        for n in [n for n, d in self.graph.nx.nodes(data=True) if d["seq"] > mark]:
            self.graph.nx.remove_node(n)
        while self._rebinds and self._rebinds[-1][0] > mark:
            _, proxy, state = self._rebinds.pop()
            proxy._set_state(state)

    def opaque(self, module: Any, name: str, args: tuple, kwargs: dict, reason: BreakInfo | None) -> Any:
        """Record ``module(*args, **kwargs)`` as one MODULE node, computing its value eagerly."""
        if reason is not None:
            if self.fullgraph:
                raise GraphBreakError(reason.message().replace("This module runs eagerly (uncompiled).",
                                                               "fullgraph=True forbids graph breaks."))
            self.breaks.append(reason)
        leaves, call_tree = flatten((tuple(args), dict(kwargs)), _is_array)
        names = tuple(self.node_of(v) for v in leaves)
        # Copies: an eager forward that updates its inputs in place must not change the example values.
        concrete = [np.array(self.graph_value(n, v), copy=True) for n, v in zip(names, leaves)]
        call_args, call_kwargs = unflatten(concrete, call_tree)
        with suspended(), preserved_state(module):  # eager value for the spec; no side effects at compile time
            out = module.forward(*call_args, **call_kwargs)
        out_leaves, out_tree = flatten(out, lambda v: isinstance(v, np.ndarray))
        spec = tuple(TensorSpec.of(v) for v in out_leaves)
        attrs = {"call_tree": call_tree, "out_tree": out_tree, "module_type": type(module).__name__,
                 "reason": reason.reason if reason else "the module has hooks"}
        meta = NodeMeta(spec=spec, module=name, source=reason.location if reason else "")
        node = self.graph.add(MODULE, name, names, attrs, meta, name=f"call_{name or 'root'}")
        proxies = [self._tuple_item(node.name, tuple(out_leaves), i) for i in range(len(out_leaves))]
        return unflatten(proxies, out_tree)

    # ------------------------------------------------------------------ driver
    def trace(self, args: tuple, kwargs: dict) -> Graph:
        leaves, tree = flatten((tuple(args), dict(kwargs)), lambda v: isinstance(v, np.ndarray))
        self.graph.input_tree = tree
        proxies = []
        for i, v in enumerate(leaves):
            node = self.graph.add(INPUT, i, meta=NodeMeta(spec=TensorSpec.of(v)), name=f"input_{i}")
            proxies.append(Proxy(self, node.name, v))
        p_args, p_kwargs = unflatten(proxies, tree)
        rng_state = _random.default_generator().bit_generator.state
        _ACTIVE_TRACER.append(self)
        try:
            with preserved_state(self.root):
                out = self._trace_root(p_args, p_kwargs)
        finally:
            _ACTIVE_TRACER.pop()
            _random.default_generator().bit_generator.state = rng_state
        out_leaves, out_tree = flatten(out, _is_array)
        names = tuple(self.node_of(v) for v in out_leaves)
        self.graph.add(OUTPUT, "output", names, {"tree": out_tree}, NodeMeta(), name="output")
        return self.graph

    def _trace_root(self, args: tuple, kwargs: dict) -> Any:
        mark = self.graph._seq
        try:
            return self.root.forward(*args, **kwargs)
        except (GraphBreakError, ShapeRuleError):
            raise
        except GraphBreak as e:
            info = BreakInfo("", type(self.root).__name__, _user_location(e.__traceback__), str(e))
        except Exception as e:  # noqa: BLE001
            info = BreakInfo("", type(self.root).__name__, _user_location(e.__traceback__), f"{type(e).__name__}: {e}")
        self._rollback(mark)
        return self.opaque(self.root, "", args, kwargs, reason=info)


@contextlib.contextmanager
def suspended() -> Iterator[None]:
    """Run eagerly inside a trace (no recording)."""
    saved = list(_ACTIVE_TRACER)
    _ACTIVE_TRACER.clear()
    try:
        yield
    finally:
        _ACTIVE_TRACER.extend(saved)


@contextlib.contextmanager
def preserved_state(module: Any) -> Iterator[None]:
    """Undo buffer/parameter updates (BatchNorm running statistics, Embedding max_norm renormalization) and RNG
    draws made while compiling."""
    saved = [(b, b.copy()) for _, b in module.named_buffers(remove_duplicate=True)]
    saved += [(p, p.copy()) for _, p in module.named_parameters(remove_duplicate=True)]
    rng_state = _random.default_generator().bit_generator.state
    try:
        yield
    finally:
        for b, copy in saved:
            b[...] = copy
        _random.default_generator().bit_generator.state = rng_state


def trace(model: Any, *example_inputs: Any, fullgraph: bool = False, **example_kwargs: Any) -> Graph:
    """Trace ``model.forward`` on example inputs into a ``Graph``.

    Parameters and buffers become PARAM nodes named by their state_dict keys; every node records the qualified name
    of the module that produced it. Code that cannot be traced makes its smallest enclosing module an opaque node
    (a graph break) with one ``GraphBreakWarning``; ``fullgraph=True`` raises ``GraphBreakError`` instead.
    """
    tracer = Tracer(model, fullgraph=fullgraph)
    graph = tracer.trace(example_inputs, example_kwargs)
    graph.breaks = list(dict.fromkeys(tracer.breaks))  # a module called several times breaks once
    for info in graph.breaks:
        warnings.warn(info.message(), GraphBreakWarning, stacklevel=_caller_stacklevel())
    return graph


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that attributes a warning to the first caller outside nngraph (trace, optimize, ...)."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PKG_DIR + os.sep):
        level += 1
        frame = frame.f_back
    return level
