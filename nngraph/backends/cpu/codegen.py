"""Generate the executor of one specialized graph.

Every value lives in a flat 1-D arena: graph inputs (flattened), output arrays (allocated per call), one weight
arena per dtype (parameters and weight-only values, refreshed when weights change), one workspace arena per dtype
(activation buffers from the memory plan, plus scratch). Values are ``Buf`` descriptors (arena, offset, shape,
strides), so views cost nothing, and kernels take ``(arena, offset)`` pairs with shapes as runtime integers: each
kernel compiles once per signature and is shared by every node and every model (Numba's on-disk cache).

Lowering rules, registered per op name with ``register_lowering(op, "cpu")``, either emit a kernel call or derive a
view; they return False when they cannot handle a node, which then runs on the host (numpy reference or eager module
call). Consecutive compiled nodes form one @njit segment, so a fully lowered graph costs one Python->Numba call.
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...ir.graph import Graph
from ...ir.symbolic import SymbolicUnsupported, SymInt, align_up, prod
from ...ir.node import CONSTANT, INPUT, OP, OUTPUT, PARAM, Node
from ...ops.registry import REGISTRY, TensorSpec
from ...ops.shape import VIEW_OPS
from .buffers import Buf

TARGET = "cpu"
_ALIGN = 16  # elements: 64-byte alignment of every arena slot


def _align(n: int) -> int:
    return align_up(n, _ALIGN)


def _nelem(spec: TensorSpec) -> int:
    return prod(spec.shape)


@dataclass
class Arenas:
    """Sizes (elements) of the weight and workspace arenas per dtype, and where each weight goes."""

    weight_sizes: dict[str, int] = field(default_factory=dict)
    weight_slots: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # node -> (dtype, offset, size)
    work_sizes: dict[str, int] = field(default_factory=dict)
    # Derived weights (e.g. GEMM-packed panels): key -> (source node, transform, dtype, offset, size); computed from
    # the source weight's value whenever weights are refreshed.
    derived: dict[str, tuple[str, Any, str, int, int]] = field(default_factory=dict)

    def add_derived(self, key: str, source: str, transform: Any, dtype: np.dtype, size: int) -> int:
        if key not in self.derived:
            dkey = np.dtype(dtype).str
            off = self.weight_sizes.get(dkey, 0)
            self.weight_sizes[dkey] = off + _align(max(size, 1))
            self.derived[key] = (source, transform, dkey, off, size)
        return self.derived[key][3]

    def add_weight(self, name: str, spec: TensorSpec) -> int:
        if any(isinstance(d, SymInt) for d in spec.shape):
            raise SymbolicUnsupported(f"weight-only value %{name} has a symbolic shape {spec.shape}")
        key = spec.dtype.str
        off = self.weight_sizes.get(key, 0)
        self.weight_slots[name] = (key, off, _nelem(spec))
        self.weight_sizes[key] = off + _align(max(_nelem(spec), 1))
        return off

    def add_work(self, dtype: np.dtype, n: int) -> int:
        key = np.dtype(dtype).str
        off = self.work_sizes.get(key, 0)
        self.work_sizes[key] = off + _align(n if isinstance(n, SymInt) else max(n, 1))
        return off


def weight_arena(dtype: np.dtype) -> str:
    return f"W_{np.dtype(dtype).name}"


def work_arena(dtype: np.dtype) -> str:
    return f"S_{np.dtype(dtype).name}"


@dataclass
class Step:
    """One step of the program: a compiled segment (``lines``) or a host node."""

    lines: list[str] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)  # per line: the node it was emitted for ('' = output copy)
    host: Node | None = None
    host_args: list[Buf | None] = field(default_factory=list)
    host_outs: list[Buf] = field(default_factory=list)


class Emitter:
    """Codegen state; lowering rules use ``buf``/``out``/``set_view``/``call``/``scratch``."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.arenas = Arenas()
        self.bufs: dict[str, Buf | tuple[Buf, ...]] = {}
        self.imports: dict[str, tuple[str, str]] = {}
        self.steps: list[Step] = [Step()]
        self.input_arenas: list[str] = []
        self.output_arenas: list[tuple[str, TensorSpec]] = []
        self._plan_offsets: dict[tuple[str, int], int] = {}
        self.symbols: list[str] = []  # symbolic size parameters of every segment (dynamic shapes)
        self.constants: dict[str, str] = {}  # source text of a constant kernel argument -> its global name
        self.origin = ""  # the node being lowered (recorded per emitted line, for profiles)

    # -- kernels and code ----------------------------------------------------------------------------------------------
    def use(self, fn: Any) -> str:
        """Import a module-level @njit kernel into the generated module; returns its local name."""
        module, qual = fn.__module__, fn.__qualname__
        local = "k_" + re.sub(r"\W", "_", f"{module.rsplit('.', 1)[-1]}_{qual}")
        self.imports[local] = (module, qual)
        return local

    def emit(self, line: str) -> None:
        if self.steps[-1].host is not None:
            self.steps.append(Step())
        self.steps[-1].lines.append(line)
        self.steps[-1].origins.append(self.origin)

    def call(self, fn: Any, *args: Any) -> None:
        """Emit ``fn(*args)``; a ``Buf`` argument expands to ``arena, offset``. Numbers are emitted as typed (not
        literal) values: Numba specializes a callee on every distinct literal, which would compile one kernel per
        call site instead of one per signature."""
        parts: list[str] = []
        for a in args:
            if isinstance(a, Buf):
                parts += [a.arena, self.constant(a.offset)]
            else:
                parts.append(self.constant(a))
        self.emit(f"{self.use(fn)}({', '.join(parts)})")

    def constant(self, value: Any) -> str:
        """Source text of a kernel argument (:func:`_num`); a constant number or tuple of them becomes a module-level
        name. Numba types a global as one frozen constant, where ``np.int64(3)`` in the body is a global lookup, an
        attribute and a call to type and lower: a ResNet-18's segment spent most of its compile time on them."""
        text = _num(value)
        if not _is_constant(value):
            return text
        return self.constants.setdefault(text, f"c{len(self.constants)}")

    # -- buffers ------------------------------------------------------------------------------------------------------
    def buf(self, name: str | None) -> Any:
        return None if name is None else self.bufs[name]

    def scratch(self, shape: tuple[int, ...], dtype: np.dtype) -> Buf:
        """A fresh dense workspace region (never reused) for temporaries."""
        n = prod(shape)
        return Buf.dense(work_arena(dtype), self.arenas.add_work(dtype, n), tuple(shape), dtype)

    def out(self, node: Node) -> Buf:
        """The dense destination of a node's (single) result: an output array, a planned buffer or scratch."""
        if node.name in self.bufs:
            return self.bufs[node.name]  # type: ignore[return-value]
        spec: TensorSpec = node.spec
        plan = self.graph.memory_plan
        if plan is not None and node.name in plan.into:  # computed into its slice of a concatenation
            concat, offset = plan.into[node.name]
            whole = self.out(self.graph[concat])
            buf = Buf.dense(whole.arena, whole.offset + offset, spec.shape, spec.dtype)
        elif plan is not None and node.name in plan.buffer_of:
            key = (spec.dtype.str, plan.buffer_of[node.name])
            if key not in self._plan_offsets:
                n = plan.buffer_bytes[plan.buffer_of[node.name]] // spec.dtype.itemsize
                self._plan_offsets[key] = self.arenas.add_work(spec.dtype, n)
            buf = Buf.dense(work_arena(spec.dtype), self._plan_offsets[key], spec.shape, spec.dtype)
        else:
            buf = self.scratch(spec.shape, spec.dtype)
        self.bufs[node.name] = buf
        return buf

    def out_for_transpose(self, node: Node) -> Buf:
        """``out(node)`` for a lowering that writes any strides: when the node's only user transposes it, the same
        region laid out in the transposed order, so that the transpose is dense (and a reshape after it a view, not a
        copy -- attention's head merge)."""
        if node.name in self.bufs:
            return self.bufs[node.name]  # type: ignore[return-value]
        buf = self.out(node)
        users = self.graph.users(node.name)
        user = self.graph[users[0]] if len(users) == 1 else None
        if user is None or user.target != "transpose":
            return buf
        axes = tuple(int(a) for a in user.attrs["axes"])
        phys = Buf.dense(buf.arena, buf.offset, tuple(buf.shape[a] for a in axes), buf.dtype)
        view = phys.transpose(tuple(int(a) for a in np.argsort(axes)))
        self.bufs[node.name] = view
        return view

    def is_weight(self, name: str | None) -> bool:
        return name is not None and _is_weight(self.graph[name])

    def derived_weight(self, source: str, transform: Any, size: int, tag: str) -> Buf:
        """A weight-arena region holding ``transform(value of weight source)`` (a 1-D array of ``size``),
        recomputed whenever weights change -- e.g. a pre-packed GEMM operand."""
        spec = self.graph[source].spec
        off = self.arenas.add_derived(f"{source}:{tag}", source, transform, spec.dtype, size)
        return Buf.dense(weight_arena(spec.dtype), off, (size,), spec.dtype)

    def set_view(self, node: Node, buf: Buf) -> None:
        self.bufs[node.name] = buf

    def dense(self, name: str) -> Buf:
        """The value of ``name`` as a dense buffer, copying a strided view into scratch when needed."""
        from .kernels_basic import emit_copy

        b = self.bufs[name]
        if b.contiguous:
            return b
        dst = self.scratch(b.shape, b.dtype)
        emit_copy(self, b, dst)
        return dst

    def host(self, node: Node) -> None:
        """Run ``node`` on the host between compiled segments."""
        outs: list[Buf] = []
        if isinstance(node.spec, tuple):
            for s in node.spec:
                outs.append(self.scratch(s.shape, s.dtype))
            self.bufs[node.name] = tuple(outs)
        else:
            outs.append(self.out(node))
        self.steps.append(Step(host=node, host_args=[self.buf(a) for a in node.args], host_outs=outs))


@dataclass
class Program:
    source: str
    segments: list[Any]  # per step: segment function name, or the host Step
    arenas: Arenas
    inputs: list[str]  # input node names, in input order
    outputs: list[tuple[Buf, TensorSpec]]  # where each output's value ends up (an output arena)
    weight_nodes: list[str]
    params: list[str]  # every segment's parameters: input, output, weight and workspace arenas
    header: str = ""  # the module's imports and constants
    segment_lines: dict[str, list[str]] = field(default_factory=dict)  # segment name -> its body's lines
    line_origins: dict[str, list[str]] = field(default_factory=dict)  # segment name -> node name per line


def _num(v: Any) -> str:
    """Source text of a kernel argument: non-literal int64/float64 values, tuples of them, or a variable name."""
    if isinstance(v, str):  # source text ("@" marks raw text explicitly)
        return v[1:] if v.startswith("@") else v
    if isinstance(v, SymInt):  # a symbolic size: an expression of the segment's int64 size parameters
        return v.code()
    if isinstance(v, (bool, np.bool_)):
        return f"np.int64({int(v)})"
    if isinstance(v, (int, np.integer)):
        return f"np.int64({int(v)})"
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if f != f:
            return "np.float64(np.nan)"
        if f in (float("inf"), float("-inf")):
            return "np.float64(np.inf)" if f > 0 else "np.float64(-np.inf)"
        return f"np.float64({f!r})"
    if isinstance(v, tuple):
        return "(" + "".join(_num(x) + ", " for x in v) + ")"
    raise TypeError(f"cannot pass {v!r} to a kernel")


def _is_constant(v: Any) -> bool:
    if isinstance(v, tuple):
        return all(_is_constant(x) for x in v)
    return isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating)) and not isinstance(v, SymInt)


def _is_weight(node: Node) -> bool:
    return node.kind in (PARAM, CONSTANT) or node.meta.weight_only


def generate(graph: Graph, symbols: tuple[str, ...] = ()) -> Program:
    """The program of ``graph``; ``symbols`` names the symbolic sizes (extra int64 segment parameters)."""
    em = Emitter(graph)
    em.symbols = list(symbols)
    nodes = graph.nodes()
    inputs = [n for n in nodes if n.kind == INPUT]
    for i, n in enumerate(inputs):
        arena = f"I{i}"
        em.input_arenas.append(arena)
        em.bufs[n.name] = Buf.dense(arena, 0, n.spec.shape, n.spec.dtype)
    weight_nodes = [n.name for n in nodes if _is_weight(n) and isinstance(n.spec, TensorSpec)
                    and any(not _is_weight(graph[u]) for u in graph.users(n.name))]
    em.weight_nodes = set(weight_nodes)
    for name in weight_nodes:
        spec = graph[name].spec
        em.bufs[name] = Buf.dense(weight_arena(spec.dtype), em.arenas.add_weight(name, spec), spec.shape, spec.dtype)
    # Results that leave the graph are written straight into fresh output arrays when they are computed values.
    out_node = graph.output
    direct: dict[str, int] = {}
    for k, a in enumerate(out_node.args):
        node = graph[a]
        em.output_arenas.append((f"O{k}", node.spec))
        if node.kind == OP and not _is_weight(node) and a not in direct and isinstance(node.spec, TensorSpec) \
                and node.target not in VIEW_OPS:
            direct[a] = k
            em.bufs[a] = Buf.dense(f"O{k}", 0, node.spec.shape, node.spec.dtype)
    for node in nodes:
        if node.kind in (INPUT, OUTPUT) or _is_weight(node):
            continue
        rule = REGISTRY[node.target].lowerings.get(TARGET) if node.kind == OP else None
        handled = False
        if rule is not None:
            em.origin = node.name
            mark_steps, mark_lines = len(em.steps), len(em.steps[-1].lines)
            try:
                handled = bool(rule(em, node))
            except SymbolicUnsupported as e:
                raise SymbolicUnsupported(f"lowering {node.describe()}: {e}") from e
            if not handled:  # undo anything the rule emitted before giving up
                del em.steps[mark_steps:]
                del em.steps[-1].lines[mark_lines:]
                del em.steps[-1].origins[mark_lines:]
        if not handled:
            em.host(node)
    outputs = []
    em.origin = ""
    from .kernels_basic import emit_copy

    for k, a in enumerate(out_node.args):
        arena, spec = em.output_arenas[k]
        if direct.get(a) == k:
            outputs.append((em.bufs[a], spec))
            continue
        dst = Buf.dense(arena, 0, spec.shape, spec.dtype)
        emit_copy(em, em.bufs[a], dst)
        outputs.append((dst, spec))
    return _assemble(em, inputs, outputs, weight_nodes)




def segment_params(em: Emitter) -> list[str]:
    return em.input_arenas + [a for a, _ in em.output_arenas] + \
        [weight_arena(np.dtype(d)) for d in sorted(em.arenas.weight_sizes)] + \
        [work_arena(np.dtype(d)) for d in sorted(em.arenas.work_sizes)] + list(em.symbols)


def _assemble(em: Emitter, inputs: list[Node], outputs: list, weight_nodes: list[str]) -> Program:
    params = ", ".join(segment_params(em))
    header = ["# Generated by nngraph: the executor of one specialized graph. Do not edit.", "import numpy as np",
              "from numba import njit"]
    for local, (mod, qual) in sorted(em.imports.items()):
        header.append(f"from {mod} import {qual} as {local}")
    header += [f"{name} = {text}" for text, name in em.constants.items()]
    chunks, segments, lines, origins = [], [], {}, {}
    for i, step in enumerate(em.steps):
        if step.host is not None:
            segments.append(step)
        elif step.lines:
            name = f"segment_{i}"
            body = "\n".join("    " + line for line in step.lines)
            chunks.append(f"@njit(cache=True, nogil=True)\ndef {name}({params}):\n{body}\n")
            segments.append(name)
            lines[name], origins[name] = list(step.lines), list(step.origins)
    source = "\n".join(header) + "\n\n\n" + "\n\n".join(chunks)
    return Program(source, segments, em.arenas, [n.name for n in inputs], outputs, weight_nodes,
                   segment_params(em), "\n".join(header), lines, origins)


def identifier(text: str) -> str:
    name = re.sub(r"\W", "_", text)
    return "v_" + name if not name or name[0].isdigit() or keyword.iskeyword(name) else name
