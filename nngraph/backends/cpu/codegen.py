"""Generate one @njit executor per specialized graph.

The executor is Python source written to a module file (so Numba's on-disk cache works): it takes the graph inputs,
one weight arena per dtype (parameters and weight-only values, refreshed when weights change) and one workspace
arena per dtype (activation buffers from the memory plan), calls the kernels in order and returns fresh output arrays.
Ops are lowered by the rules backends register in the op registry (``register_lowering(op, "cpu")``); an op without a
rule, and every opaque MODULE node, runs on the host through ``numba.objmode`` (one transition each).
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...ir.graph import Graph
from ...ir.node import CONSTANT, INPUT, MODULE, OP, OUTPUT, PARAM, Node
from ...ops.registry import REGISTRY, TensorSpec

TARGET = "cpu"
_ALIGN = 16  # elements: 64-byte alignment for float32 arena slices


def _align(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


def numba_type(spec: TensorSpec) -> str:
    """The objmode type string of a C-contiguous array of ``spec``."""
    name = {np.dtype(np.bool_): "boolean"}.get(spec.dtype, spec.dtype.name)
    if spec.ndim == 0:
        return f"{name}[::1]"  # 0-d values travel as 1-element arrays through objmode
    return f"{name}[{', '.join([':'] * (spec.ndim - 1) + ['::1'])}]"


@dataclass
class ArenaLayout:
    """Where each weight (param / constant / weight-only value) lives: dtype -> [(node, offset, size)]."""

    slots: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, spec: TensorSpec) -> None:
        key = spec.dtype.str
        table = self.slots.setdefault(key, {})
        size = int(np.prod(spec.shape, dtype=np.int64))
        table[name] = (self.sizes.get(key, 0), size)
        self.sizes[key] = self.sizes.get(key, 0) + _align(max(size, 1))


class Emitter:
    """Codegen state for one graph; lowering rules call its methods."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.lines: list[str] = []
        self.imports: dict[str, tuple[str, str]] = {}  # local name -> (module, attribute)
        self.names: dict[str, str] = {}
        self.weights = ArenaLayout()
        self.workspace = ArenaLayout()
        self.hostcalls: list[Node] = []  # nodes executed on the host (objmode), by index
        self._used: set[str] = set()
        self._counter = 0
        self.module_name = ""
        self.contiguous: set[str] = set()  # values known to be C-contiguous arrays

    def is_contiguous(self, node_name: str) -> bool:
        return node_name in self.contiguous

    def mark_contiguous(self, node_name: str) -> None:
        self.contiguous.add(node_name)

    # -- names -----------------------------------------------------------------------------------------------------
    def var(self, node_name: str) -> str:
        """The Python variable holding a node's value."""
        if node_name not in self.names:
            base = re.sub(r"\W", "_", node_name)
            base = "v_" + base if not base or base[0].isdigit() or keyword.iskeyword(base) else base
            name, i = base, 1
            while name in self._used:
                name, i = f"{base}_{i}", i + 1
            self._used.add(name)
            self.names[node_name] = name
        return self.names[node_name]

    def tmp(self, hint: str = "t") -> str:
        self._counter += 1
        name = f"_{hint}{self._counter}"
        self._used.add(name)
        return name

    def use(self, obj: Any) -> str:
        """Make a kernel (a module-level function) available to the generated code; returns its local name."""
        module, qual = obj.__module__, obj.__qualname__
        local = "k_" + qual.replace(".", "_")
        while local in self.imports and self.imports[local] != (module, qual):
            local += "_"
        self.imports[local] = (module, qual)
        return local

    def emit(self, line: str) -> None:
        self.lines.append(line)

    # -- values ------------------------------------------------------------------------------------------------------
    def spec(self, node_name: str) -> TensorSpec:
        return self.graph[node_name].spec

    def alloc(self, node: Node, spec: TensorSpec | None = None) -> str:
        """An expression for the output array of ``node`` (a planned workspace slice, or a fresh array)."""
        spec = spec or node.spec
        plan = self.graph.memory_plan
        shape = tuple(int(s) for s in spec.shape)
        if plan is not None and node.name in plan.buffer_of and not _is_output(self.graph, node.name):
            key = spec.dtype.str
            buf_name = f"buf{plan.buffer_of[node.name]}"
            if buf_name not in self.workspace.slots.get(key, {}):
                self.workspace.add(buf_name, TensorSpec((plan.buffer_bytes[plan.buffer_of[node.name]] //
                                                         spec.dtype.itemsize,), spec.dtype))
            off, _ = self.workspace.slots[key][buf_name]
            size = int(np.prod(shape, dtype=np.int64))
            return f"ws_{_dkey(key)}[{off}:{off + size}].reshape({shape!r})"
        return f"np.empty({shape!r}, dtype=np.{spec.dtype.name})"


def _dkey(dtype_str: str) -> str:
    return np.dtype(dtype_str).name


def _is_output(graph: Graph, name: str) -> bool:
    return name in graph.output.args


def _is_weight(node: Node) -> bool:
    return node.kind in (PARAM, CONSTANT) or node.meta.weight_only


@dataclass
class Generated:
    source: str
    weights: ArenaLayout
    workspace: ArenaLayout
    input_names: list[str]
    hostcalls: list[Node]
    weight_nodes: list[str]


def generate(graph: Graph, module_name: str, lowering_target: str = TARGET) -> Generated:
    """Python source of the executor module for ``graph``."""
    em = Emitter(graph)
    em.module_name = module_name
    nodes = graph.nodes()
    inputs = [n for n in nodes if n.kind == INPUT]
    weight_nodes = [n.name for n in nodes if _is_weight(n) and isinstance(n.spec, TensorSpec)
                    and any(not _is_weight(graph[u]) for u in graph.users(n.name))]
    for name in weight_nodes:
        em.weights.add(name, graph[name].spec)
    for name in weight_nodes:
        spec = graph[name].spec
        off, size = em.weights.slots[spec.dtype.str][name]
        shape = tuple(int(s) for s in spec.shape)
        em.emit(f"{em.var(name)} = w_{spec.dtype.name}[{off}:{off + size}].reshape({shape!r})")
        em.mark_contiguous(name)
    for n in inputs:
        em.mark_contiguous(n.name)
    for node in nodes:
        if node.kind in (INPUT, OUTPUT) or node.name in weight_nodes or _is_weight(node):
            continue
        args = [None if a is None else em.var(a) for a in node.args]
        rule = REGISTRY[node.target].lowerings.get(lowering_target) if node.kind == OP else None
        if rule is None or not rule(em, node, args):
            emit_hostcall(em, node, args)
    out = graph.output
    results = []
    for a in out.args:
        v = em.var(a)
        # Outputs never alias internal buffers or weights: copy when the value is a view or a weight.
        results.append(v if _owns_fresh_array(graph, a) else f"np.ascontiguousarray({v}).copy()")
    ret = "(" + "".join(r + ", " for r in results) + ")"
    em.emit(f"return {ret}")
    dtypes_w = sorted(em.weights.sizes)
    dtypes_ws = sorted(em.workspace.sizes)
    params = [em.var(n.name) for n in inputs] + [f"w_{_dkey(d)}" for d in dtypes_w] + \
        [f"ws_{_dkey(d)}" for d in dtypes_ws]
    header = ["# Generated by nngraph: one executor for one specialized graph. Do not edit.",
              "import math", "import numpy as np", "from numba import njit, objmode, prange", "from nngraph.runtime import hostcall"]
    for local, (mod, qual) in sorted(em.imports.items()):
        header.append(f"from {mod} import {qual.split('.')[0]} as {local}" if "." not in qual else
                      f"from {mod} import {qual.split('.')[0]} as _{local}\n{local} = _{local}.{qual.split('.', 1)[1]}")
    body = "\n".join("    " + line for line in "\n".join(em.lines).split("\n"))
    nogil = "" if em.hostcalls else ", nogil=True"  # host calls hold the GIL anyway
    source = "\n".join(header) + "\n\n\n" + f"@njit(cache=True{nogil})\ndef run({', '.join(params)}):\n" + body + "\n"
    return Generated(source, em.weights, em.workspace, [n.name for n in inputs], em.hostcalls, weight_nodes)


def _owns_fresh_array(graph: Graph, name: str) -> bool:
    node = graph[name]
    if node.kind != OP or _is_weight(node):
        return False
    plan = graph.memory_plan
    return not (node.target in ("reshape", "transpose", "getitem", "broadcast_to", "tuple_getitem")) and \
        (plan is None or name not in plan.buffer_of)


def emit_hostcall(em: Emitter, node: Node, args: list[str | None]) -> None:
    """Run ``node`` on the host (numpy reference / eager module) inside ``objmode``."""
    index = len(em.hostcalls)
    em.hostcalls.append(node)
    specs = node.spec if isinstance(node.spec, tuple) else (node.spec,)
    outs = [em.tmp("h") for _ in specs]
    decl = ", ".join(f"{o}='{numba_type(s)}'" for o, s in zip(outs, specs))
    arg_tuple = "(" + "".join(("None" if a is None else a) + ", " for a in args) + ")"
    em.emit(f"with objmode({decl}):")
    comma = "," if isinstance(node.spec, tuple) and len(outs) == 1 else ""
    em.emit(f"    {', '.join(outs)}{comma} = hostcall.call({em.module_name!r}, {index}, {arg_tuple})")
    if isinstance(node.spec, tuple):
        em.emit(f"{em.var(node.name)} = ({''.join(_unwrap(o, s) + ', ' for o, s in zip(outs, specs))})")
    else:
        em.emit(f"{em.var(node.name)} = {_unwrap(outs[0], specs[0])}")
        em.mark_contiguous(node.name)


def _unwrap(var: str, spec: TensorSpec) -> str:
    return f"{var}.reshape(())" if spec.ndim == 0 else var
