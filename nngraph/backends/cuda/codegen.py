"""Plan the CUDA execution of one specialized graph: a list of kernel launches (and host steps).

The value layout is the CPU backend's (``backends/cpu/buffers.py``): every value is a ``Buf`` (arena, element
offset, shape, strides) in a flat 1-D arena -- graph inputs ``I<k>``, outputs ``O<k>``, one weight arena ``W_<dtype>``
and one workspace arena ``S_<dtype>`` per dtype -- except that the arenas are device arrays. Views are ``Buf``
arithmetic and launch nothing. A kernel takes ``(arena, offset)`` pairs plus shapes as runtime integers, so one
compiled kernel serves every node of every model.

Lowering rules registered with ``register_lowering(op, "cuda")`` call ``em.launch(kernel, n_threads, *args)`` (or
``em.launch_grid``) and return True, or return False before launching anything: the node then runs as a host step
(device -> host copy of its arguments, numpy reference, host -> device copy of its results), correct but counted.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from ...ir.graph import Graph
from ...ir.node import INPUT, OP, OUTPUT
from ...ops.registry import REGISTRY, TensorSpec
from ..cpu.buffers import Buf
from ...ops.shape import VIEW_OPS
from ..cpu.codegen import Arenas, Emitter, Step, _is_weight, weight_arena, work_arena

TARGET = "cuda"
BLOCK = 256  # threads per block of 1-D launches
MAX_BLOCKS = 65535 * 4  # 1-D launches use grid-stride loops past this


@dataclass
class Launch:
    """One kernel launch; ``args`` holds ``Arena(name)`` markers resolved to device arrays once per executable.
    ``cooperative``: the kernel synchronizes its whole grid, which must be co-resident -- the launcher may shrink
    ``grid`` to what fits (see ``launch.prepare``)."""

    kernel: Any
    grid: tuple[int, ...]
    block: tuple[int, ...]
    args: list[Any]
    node: str
    cooperative: bool = False


@dataclass(frozen=True)
class Arena:
    name: str


@dataclass
class Check:
    """Fail the call when ``flag`` (an int64 in the workspace, zeroed before the checking kernel) is not 0: a kernel
    met a value its op's numpy reference rejects (an index out of range, ...). The executor then replays the graph in
    the interpreter, whose reference raises the located error, as the CPU backend does when a kernel raises."""

    flag: Buf
    node: str
    what: str


class CudaEmitter(Emitter):
    """The CPU Emitter's buffer logic (``buf``/``out``/``scratch``/``set_view``/``dense``/``derived_weight``) with
    launches instead of generated source lines."""

    def __init__(self, graph: Graph, precision: str = "fp32", blas_choice: dict[str, bool] | None = None) -> None:
        super().__init__(graph)
        self.precision = precision  # "fp32", or "tf32"/"fp16" for the float32 GEMMs (tensor cores)
        self.blas_choice = blas_choice or {}  # node -> cuBLAS (True) or the numba kernels (False): autotune.py
        self.gemm_nodes: dict[str, str] = {}  # nodes that could go either way -> their geometry key
        self.program: list[Launch | Step] = []
        self.steps = self.program  # the inherited ``host`` appends its host Step to the program
        self.node: str = ""

    # -- choices ----------------------------------------------------------------------------------------------------
    def use_blas(self, kind: str, dtype: np.dtype, *geometry: int) -> bool:
        """Whether the current node's GEMM goes to cuBLAS (the node could use either): the autotuned choice when
        there is one, else the cost model (``blas.worth_it``: enough multiply-adds). ``geometry`` ends with the
        GEMM's (batch, m, n, k)."""
        from . import blas

        if not blas.enabled():
            return False
        key = f"{kind}:{np.dtype(dtype).name}:{self.precision}:" + "x".join(str(int(v)) for v in geometry)
        keys = self.gemm_nodes.get(self.node, "").split("+")
        if key not in keys:  # a node with several GEMMs (attention, ...): one choice for all of them
            self.gemm_nodes[self.node] = "+".join([k for k in keys if k] + [key])
        if self.node in self.blas_choice:
            return self.blas_choice[self.node]
        return blas.worth_it(*geometry[-4:])

    # -- launches -------------------------------------------------------------------------------------------------
    def launch_grid(self, kernel: Any, grid: tuple[int, ...], block: tuple[int, ...], *args: Any,
                    cooperative: bool = False) -> None:
        """Launch ``kernel[grid, block](*args)``; a ``Buf`` argument expands to ``arena, offset``. ``cooperative``:
        see ``Launch``."""
        flat: list[Any] = []
        for a in args:
            if isinstance(a, Buf):
                flat += [Arena(a.arena), np.int64(a.offset)]
            elif isinstance(a, (bool, np.bool_)):
                flat.append(np.int64(int(a)))
            elif isinstance(a, (int, np.integer)):
                flat.append(np.int64(a))
            elif isinstance(a, (float, np.floating)):
                flat.append(np.float64(a))
            elif isinstance(a, tuple):
                flat.append(tuple(int(x) for x in a))
            else:
                raise TypeError(f"cannot pass {a!r} to a CUDA kernel")
        self.program.append(Launch(kernel, tuple(int(g) for g in grid), tuple(int(b) for b in block), flat,
                                   self.node, cooperative))

    @contextmanager
    def value_check(self, what: str) -> Iterator[Buf]:
        """``with em.value_check(what) as flag:`` -- a zeroed int64 flag for the checking kernels launched in the
        block to set; the ``Check`` of it follows them."""
        from .kernels_basic import fill

        flag = self.scratch((1,), np.dtype(np.int64))
        self.launch(fill, 1, 1, flag, 0)
        yield flag
        self.program.append(Check(flag, self.node, what))

    def launch(self, kernel: Any, n: int, *args: Any) -> None:
        """A 1-D launch covering ``n`` work items (kernels use grid-stride loops)."""
        blocks = max(1, min((int(n) + BLOCK - 1) // BLOCK, MAX_BLOCKS))
        self.launch_grid(kernel, (blocks,), (BLOCK,), *args)

    def constant(self, value: np.ndarray, tag: str) -> Buf:
        """A dense 1-D region of the weight arena holding ``value`` (index tables and the like), uploaded with the
        weights."""
        v = np.ascontiguousarray(value).reshape(-1)
        key = f"const:{tag}:{v.dtype.str}:{v.size}:{hash(v.tobytes())}"
        off = self.arenas.add_derived(key, None, lambda _, v=v: v, v.dtype, v.size)
        return Buf.dense(weight_arena(v.dtype), off, (v.size,), v.dtype)

    def call(self, fn: Any, *args: Any) -> None:  # the CPU entry point makes no sense here
        raise TypeError("CUDA lowerings launch kernels with em.launch / em.launch_grid")

    def dense(self, name: str) -> Buf:
        b = self.bufs[name]
        return b if b.contiguous else self.copy_dense(b)

    def copy_dense(self, b: Buf) -> Buf:
        """A dense scratch copy of the view ``b``."""
        from .kernels_basic import emit_copy

        dst = self.scratch(b.shape, b.dtype)
        emit_copy(self, b, dst)
        return dst


@dataclass
class Plan:
    program: list[Launch | Step]
    arenas: Arenas
    inputs: list[str]
    outputs: list[tuple[Buf, TensorSpec]]
    input_arenas: list[str]
    output_arenas: list[tuple[str, TensorSpec]]
    host_nodes: list[str] = field(default_factory=list)
    input_dtypes: list[np.dtype] = field(default_factory=list)
    gemm_nodes: dict[str, str] = field(default_factory=dict)  # node -> geometry key, where cuBLAS was optional

    @property
    def n_launches(self) -> int:
        """Kernel launches and cuBLAS calls."""
        from .blas import Gemm

        return sum(1 for s in self.program if isinstance(s, (Launch, Gemm)))

    def planned_bytes(self) -> int:
        return sum(n * np.dtype(d).itemsize for d, n in list(self.arenas.weight_sizes.items()) +
                   list(self.arenas.work_sizes.items()))


def generate(graph: Graph, precision: str = "fp32", blas_choice: dict[str, bool] | None = None) -> Plan:
    """The launch plan of ``graph`` (no device needed: arenas are named, not allocated); ``blas_choice`` fixes
    cuBLAS or the kernels per node (``autotune.py``)."""
    em = CudaEmitter(graph, precision, blas_choice)
    nodes = graph.nodes()
    inputs = [n for n in nodes if n.kind == INPUT]
    for i, n in enumerate(inputs):
        em.input_arenas.append(f"I{i}")
        em.bufs[n.name] = Buf.dense(f"I{i}", 0, n.spec.shape, n.spec.dtype)
    weight_nodes = [n.name for n in nodes if _is_weight(n) and isinstance(n.spec, TensorSpec)
                    and any(not _is_weight(graph[u]) for u in graph.users(n.name))]
    em.weight_nodes = set(weight_nodes)
    for name in weight_nodes:
        spec = graph[name].spec
        em.bufs[name] = Buf.dense(weight_arena(spec.dtype), em.arenas.add_weight(name, spec), spec.shape, spec.dtype)
    out_node = graph.output
    direct: dict[str, int] = {}
    for k, a in enumerate(out_node.args):
        node = graph[a]
        em.output_arenas.append((f"O{k}", node.spec))
        if node.kind == OP and not _is_weight(node) and a not in direct and isinstance(node.spec, TensorSpec) \
                and node.target not in VIEW_OPS:
            direct[a] = k
            em.bufs[a] = Buf.dense(f"O{k}", 0, node.spec.shape, node.spec.dtype)
    host_nodes = []
    for node in nodes:
        if node.kind in (INPUT, OUTPUT) or _is_weight(node):
            continue
        rule = REGISTRY[node.target].lowerings.get(TARGET) if node.kind == OP else None
        handled = False
        em.node = node.name
        if rule is not None:
            mark, nbufs = len(em.program), dict(em.bufs)
            handled = bool(rule(em, node))
            if not handled:  # undo anything the rule launched before giving up
                del em.program[mark:]
                em.bufs = nbufs
        if not handled:
            em.host(node)
            host_nodes.append(node.name)
    from .kernels_basic import emit_copy

    outputs = []
    for k, a in enumerate(out_node.args):
        arena, spec = em.output_arenas[k]
        if direct.get(a) == k:
            outputs.append((em.bufs[a], spec))
            continue
        dst = Buf.dense(arena, 0, spec.shape, spec.dtype)
        em.node = a
        emit_copy(em, em.bufs[a], dst)
        outputs.append((dst, spec))
    return Plan(em.program, em.arenas, [n.name for n in inputs], outputs, em.input_arenas, em.output_arenas,
                host_nodes, [np.dtype(n.spec.dtype) for n in inputs], em.gemm_nodes)


__all__ = ["Arena", "CudaEmitter", "Launch", "Plan", "generate", "weight_arena", "work_arena", "TARGET"]
