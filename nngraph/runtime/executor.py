"""``CpuExecutable``: one specialized graph, lowered to a generated @njit executor, plus its weight arenas."""
from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..backends import cpu as _cpu_backend  # noqa: F401 -- registers the CPU lowerings
from ..backends.cpu import codegen
from ..ir.graph import Graph
from ..ir.interpreter import NodeExecutionError, call_opaque_module
from ..ir.node import CONSTANT, MODULE, PARAM, Node
from ..ops.registry import REGISTRY
from . import cache, hostcall


def graph_fingerprint(graph: Graph) -> str:
    """Text that identifies the graph's structure, shapes and dtypes (for the cache key)."""
    lines = [repr(graph.input_tree)]
    for n in graph.nodes():
        attrs = {k: (v.tobytes().hex()[:64] + str(v.shape) if isinstance(v, np.ndarray) else v)
                 for k, v in n.attrs.items()}
        lines.append(f"{n.name}|{n.kind}|{n.target}|{n.args}|{sorted(attrs.items(), key=lambda kv: kv[0])!r}|"
                     f"{n.meta.spec}|{n.meta.weight_only}")
    plan = graph.memory_plan
    if plan is not None:
        lines.append(repr(sorted(plan.buffer_of.items())) + repr(plan.buffer_bytes))
    return "\n".join(lines)


class CpuExecutable:
    """Runs one optimized graph through its generated executor."""

    def __init__(self, graph: Graph, root: Any, use_cache: bool = True, extra_key: str = "") -> None:
        self.graph = graph
        self.root = root
        self.key = cache.make_key("cpu", extra_key, graph_fingerprint(graph))
        self.gen = codegen.generate(graph, self.key)
        hostcall.register(self.key, [self._host_callable(n) for n in self.gen.hostcalls])
        self.module = cache.load_module(self.key, self.gen.source, use_cache=use_cache)
        self._weights: dict[str, np.ndarray] = {}
        self._weights_version: Any = None
        self._lock = threading.Lock()
        self._local = threading.local()

    # -- host callables ---------------------------------------------------------------------------------------------
    def _host_callable(self, node: Node) -> Any:
        if node.kind == MODULE:
            return lambda *args: call_opaque_module(self.root, node, list(args))
        impl, attrs = REGISTRY[node.target].impl, node.attrs

        def run(*args: Any) -> Any:
            try:
                return impl(*args, **attrs)
            except Exception as e:  # noqa: BLE001 -- name the node and module
                raise NodeExecutionError(node, e) from e

        return run

    # -- weights ----------------------------------------------------------------------------------------------------
    def refresh(self, state: dict[str, np.ndarray], version: Any) -> None:
        """Recompute weight-derived values (folded BatchNorm, ...) and fill the weight arenas."""
        with self._lock:
            if version == self._weights_version and version is not None:
                return
            values: dict[str, Any] = {}
            for node in self.graph.nodes():
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
            arenas = {d: np.zeros(size, dtype=np.dtype(d)) for d, size in self.gen.weights.sizes.items()}
            for dtype, table in self.gen.weights.slots.items():
                for name, (off, size) in table.items():
                    v = np.asarray(values[name])
                    if v.dtype != np.dtype(dtype):
                        raise TypeError(f"weight '{self.graph[name].target}' changed dtype to {v.dtype} "
                                        f"(compiled for {np.dtype(dtype)})")
                    arenas[dtype][off:off + size] = v.reshape(-1)
            self._weights = arenas
            self._weights_version = version

    def _workspace(self) -> list[np.ndarray]:
        ws = getattr(self._local, "ws", None)
        if ws is None:  # one workspace per thread: concurrent calls never share activation buffers
            ws = [np.empty(max(self.gen.workspace.sizes[d], 1), dtype=np.dtype(d))
                  for d in sorted(self.gen.workspace.sizes)]
            self._local.ws = ws
        return ws

    def __call__(self, leaves: list[np.ndarray]) -> tuple:
        weights = [self._weights[d] for d in sorted(self.gen.weights.sizes)]
        return self.module.run(*leaves, *weights, *self._workspace())
