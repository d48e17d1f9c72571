"""``CpuExecutable``: one specialized graph as generated @njit segments over flat arenas (plus host steps)."""
from __future__ import annotations

import re
import threading
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..backends import cpu as _cpu_backend  # noqa: F401 -- registers the CPU lowerings
from ..backends.cpu import codegen
from ..backends.cpu.buffers import Buf
from ..ir.graph import Graph
from ..ir.interpreter import NodeExecutionError, call_opaque_module
from ..ir.node import CONSTANT, MODULE, PARAM, Node
from ..ir.symbolic import evaluate
from ..ops.registry import REGISTRY
from . import cache


def graph_fingerprint(graph: Graph) -> str:
    """Text identifying the graph's structure, shapes, dtypes and memory plan (for the cache key)."""
    lines = [repr(graph.input_tree)]
    for n in graph.nodes():
        attrs = {k: (v.tobytes().hex()[:64] + str(v.shape) if isinstance(v, np.ndarray) else v)
                 for k, v in n.attrs.items()}
        lines.append(f"{n.name}|{n.kind}|{n.target}|{n.args}|{sorted(attrs.items(), key=lambda kv: kv[0])!r}|"
                     f"{n.meta.spec}|{n.meta.weight_only}")
    plan = graph.memory_plan
    if plan is not None:
        lines.append(repr(sorted(plan.buffer_of.items())) + repr(plan.buffer_bytes) + repr(sorted(plan.into.items())))
    return "\n".join(lines)


def _view(arenas: dict[str, np.ndarray], b: Buf, env: dict[str, int] | None = None) -> np.ndarray:
    base = arenas[b.arena]
    item = base.itemsize
    offset, shape, strides = (b.offset, b.shape, b.strides) if not env else \
        (evaluate(b.offset, env), evaluate(b.shape, env), evaluate(b.strides, env))
    return as_strided(base[offset:], shape=shape, strides=tuple(s * item for s in strides), writeable=True)


def has_cai(v: Any) -> bool:
    """Whether ``v`` has ``__cuda_array_interface__`` (a numba, CuPy or PyTorch device array) -- looked up on the
    type first: those libraries implement it as a property that builds its dict on every access."""
    return hasattr(type(v), "__cuda_array_interface__") or "__cuda_array_interface__" in getattr(v, "__dict__", ())


def locate_failure(graph: Graph, root: Any, leaves: list[np.ndarray], error: Exception) -> Exception:
    """A compiled kernel failed (or flagged a bad value) for these host inputs: replay the graph in the reference
    interpreter, whose numpy reference raises the located ``NodeExecutionError`` naming the node and module; else
    the kernel's own ``error``."""
    from ..ir.interpreter import Interpreter
    from ..ir.pytree import unflatten

    args, kwargs = unflatten(list(leaves), graph.input_tree)
    try:
        Interpreter(graph, root).run(*args, **kwargs)
    except NodeExecutionError as located:
        return located
    except Exception:  # noqa: BLE001
        pass
    return error


#: Byte alignment of the arenas (with the codegen's 64-byte slot alignment, every planned value starts on a cache
#: line): a vector load that straddles two lines costs about 1.5x one that does not (Zen 4, AVX-512), and numpy
#: aligns to 16 bytes only.
ARENA_ALIGN = 64


def aligned_empty(n: int, dtype: np.dtype) -> np.ndarray:
    """An uninitialised 1-D array of ``n`` elements whose data starts on an ``ARENA_ALIGN``-byte boundary."""
    raw = np.empty(n * dtype.itemsize + ARENA_ALIGN, np.uint8)
    skip = -raw.ctypes.data % ARENA_ALIGN
    return raw[skip:skip + n * dtype.itemsize].view(dtype)


def weight_arenas(graph: Graph, arenas: Any, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The host weight arenas of a generated program (dtype -> flat array), filled from ``state``: parameters,
    constants, weight-only values (folded BatchNorm, ...) computed by their numpy references, and derived weights
    (packed panels; a derived value without a source is a constant of the lowering). Shared by every backend."""
    values: dict[str, Any] = {}
    for node in graph.nodes():
        if node.kind == PARAM:
            values[node.name] = state[node.target]
        elif node.kind == CONSTANT:
            values[node.name] = node.attrs["value"]
        elif node.meta.weight_only:
            args = [None if a is None else values[a] for a in node.args]
            try:
                values[node.name] = REGISTRY[node.target].impl(*args, **node.attrs)
            except Exception as e:  # noqa: BLE001
                raise NodeExecutionError(node, e) from e
    host = {d: aligned_empty(max(n, 1), np.dtype(d)) for d, n in arenas.weight_sizes.items()}
    for a in host.values():
        a.fill(0)
    for name, (dtype, off, size) in arenas.weight_slots.items():
        v = np.asarray(values[name])
        if v.dtype != np.dtype(dtype) or v.size != size:
            raise TypeError(f"weight '{graph[name].target}' is now {v.dtype}{v.shape}; this "
                            f"specialization was compiled for {np.dtype(dtype)}{graph[name].spec.shape}")
        host[dtype][off:off + size] = v.reshape(-1)
    for source, transform, dtype, off, size in arenas.derived.values():
        host[dtype][off:off + size] = transform(None if source is None else np.ascontiguousarray(values[source]))
    return host


class CpuExecutable:
    """Runs one optimized graph: weights refreshed lazily, a workspace per thread, fresh output arrays per call."""

    def __init__(self, graph: Graph, root: Any, use_cache: bool = True, extra_key: str = "",
                 symbols: tuple[str, ...] = ()) -> None:
        self.graph = graph
        self.symbols = tuple(symbols)  # symbolic sizes: extra int64 parameters of every segment
        self.root = root
        self.use_cache = use_cache
        self._graph_key = cache.make_key("cpu", extra_key, graph_fingerprint(graph))
        self._build()
        self._verified = False
        self._weights: list[np.ndarray] = []
        self._weights_version: Any = object()
        self._lock = threading.Lock()
        self._local = threading.local()
        arenas = self.program.arenas
        self._weight_dtypes = sorted(arenas.weight_sizes)
        self._work_dtypes = sorted(arenas.work_sizes)

    def _build(self) -> None:
        self.program = codegen.generate(self.graph, self.symbols)
        # Named after generation, by the source too: code generation makes choices the graph does not record
        # (autotune's conv algorithms, read from the tuning database), and a process that imported one variant under
        # a graph-only name would run it with the weights laid out for another.
        self.key = cache.make_key(self._graph_key, self.program.source)
        self.module = cache.load_module(self.key, self.program.source, use_cache=self.use_cache) \
            if any(isinstance(s, str) for s in self.program.segments) else None
        self.steps = [getattr(self.module, s) if isinstance(s, str) else s for s in self.program.segments]

    def _generated_modules(self) -> list[str]:
        """This executor's module and the generated kernel modules it imports."""
        return [self.key] + sorted(set(re.findall(r"^from (nngraph_gen_\w+) import", self.program.source, re.M)))

    @property
    def source(self) -> str:
        return self.program.source

    @property
    def n_host_steps(self) -> int:
        return sum(1 for s in self.steps if not callable(s))

    # -- weights ----------------------------------------------------------------------------------------------------
    def refresh(self, state: dict[str, np.ndarray], version: Any) -> None:
        """Recompute weight-derived values (folded BatchNorm, ...) and refill the weight arenas."""
        with self._lock:
            if version is not None and version == self._weights_version:
                return
            arenas = weight_arenas(self.graph, self.program.arenas, state)
            self._weights = [arenas[d] for d in self._weight_dtypes]
            self._weights_version = version

    def _workspace(self, env: dict[str, int] | None = None) -> list[np.ndarray]:
        key = tuple(sorted(env.items())) if env else ()
        cached = getattr(self._local, "ws", None)
        if cached is None or cached[0] != key:  # per thread (and per size): calls never share activation buffers
            sizes = self.program.arenas.work_sizes
            ws = [aligned_empty(max(evaluate(sizes[d], env) if env else sizes[d], 1), np.dtype(d))
                  for d in self._work_dtypes]
            self._local.ws = cached = (key, ws)
        return cached[1]

    # -- calling ----------------------------------------------------------------------------------------------------
    def __call__(self, leaves: list[np.ndarray], env: dict[str, int] | None = None) -> tuple:
        if not self._verified:
            try:
                result = self._run(leaves, env)
            except Exception as e:
                if not cache.is_cache_error(e):
                    raise
                # A corrupted Numba cache entry: delete it and compile again.
                cache.forget(self._generated_modules(), self.use_cache)
                self._build()
                result = self._run(leaves, env)
            self._verified = True
            return result
        return self._run(leaves, env)

    def _run(self, leaves: list[np.ndarray], env: dict[str, int] | None = None) -> tuple:
        outs = [np.empty(evaluate(spec.shape, env) if env else spec.shape, dtype=spec.dtype)
                for _, spec in self.program.outputs]
        # (ravel: a view of these contiguous arrays, cheaper than reshape)
        args = [v.ravel() for v in leaves] + [o.ravel() for o in outs] + self._weights + self._workspace(env)
        if self.symbols:
            args += [np.int64(env[s]) for s in self.symbols]
        step = None
        try:
            for step in self.steps:
                if callable(step):
                    step(*args)
                else:
                    self._host(step, args, env)
        except Exception as e:  # noqa: BLE001 -- a compiled step: locate the failing node, then re-raise
            if callable(step):
                raise self._diagnose(leaves, e) from e
            raise
        return tuple(outs)

    def _diagnose(self, leaves: list[np.ndarray], error: Exception) -> Exception:
        """A compiled kernel failed: replay the graph in the reference interpreter, which names the node and module
        (the numpy reference raises for the same input), or fall back to the kernel's own error."""
        if cache.is_cache_error(error):
            return error
        return locate_failure(self.graph, self.root, list(leaves), error)

    def _host(self, step: codegen.Step, args: list[np.ndarray], env: dict[str, int] | None = None) -> None:
        arenas = dict(zip(self.program.params, args))
        node: Node = step.host
        values = [None if b is None else (tuple(_view(arenas, x, env) for x in b) if isinstance(b, tuple)
                                          else _view(arenas, b, env)) for b in step.host_args]
        try:
            if node.kind == MODULE:
                result: Any = call_opaque_module(self.root, node, values)
            else:
                attrs = {k: evaluate(v, env) for k, v in node.attrs.items()} if env else node.attrs
                result = REGISTRY[node.target].impl(*values, **attrs)
        except NodeExecutionError:
            raise
        except Exception as e:  # noqa: BLE001 -- name the node and its module
            raise NodeExecutionError(node, e) from e
        results = result if isinstance(result, tuple) else (result,)
        for dst, value in zip(step.host_outs, results):
            _view(arenas, dst, env)[...] = value
