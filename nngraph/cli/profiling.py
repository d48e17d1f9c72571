"""Where the time goes, two ways (each labelled as what it measures):

- ``interpreter_profile``: the *optimized graph* run node by node in the reference interpreter (numpy
  implementations of every node, fused nodes included): a per-node breakdown, not the compiled code's speed.
  Weight-only nodes (folded BatchNorm weights, ...) are timed apart: compiled code computes them once per weight
  version, not per call.
- ``executor_profile``: the compiled executor's own steps, each timed alone: generated Numba segments (several nodes
  each) and host steps (nodes run by Python between segments: module calls at graph breaks, ops without a lowering).
- ``kernel_profile``: every kernel call inside the segments, timed in place (the segments generated again with a
  cycle-counter read between calls, :mod:`nngraph.backends.cpu.profile`), per node of the compiled graph.
"""
from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from nngraph.ir.interpreter import Interpreter
from nngraph.ir.node import CONSTANT, PARAM, Node

__all__ = ["NodeTime", "interpreter_profile", "executor_profile", "kernel_profile"]


@dataclass
class NodeTime:
    name: str  # node or step name
    what: str  # op / fused steps / kernels called
    module: str  # qualified module name ('' = root)
    ms: float  # median over the repeats
    weight_only: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "what": self.what, "module": self.module, "ms": self.ms,
                "weight_only": self.weight_only}


def node_label(node: Node) -> str:
    """``conv`` / ``fused epilogue: conv > add > relu`` / ``module Breaker``."""
    if node.kind == "op" and node.target == "fused":
        return f"fused {node.attrs.get('kind', '')}: " + " > ".join(s[0] for s in node.attrs.get("steps", ()))
    if node.kind == "module":
        return f"eager module {node.attrs.get('module_type', node.target)}"
    return str(node.target)


class _TimingInterpreter(Interpreter):
    def __init__(self, graph: Any, root: Any) -> None:
        super().__init__(graph, root)
        self.times: dict[str, list[float]] = {}

    def run_node(self, node: Node, args: list[Any]) -> Any:
        if node.kind in (PARAM, CONSTANT):
            return super().run_node(node, args)
        start = time.perf_counter()
        value = super().run_node(node, args)
        self.times.setdefault(node.name, []).append(time.perf_counter() - start)
        return value


def interpreter_profile(graph: Any, root: Any, inputs: tuple, repeat: int = 3) -> list[NodeTime]:
    """Median milliseconds per node of ``graph`` in the reference interpreter, slowest first."""
    interp = _TimingInterpreter(graph, root)
    interp.run(*inputs)  # warm-up
    interp.times.clear()
    for _ in range(repeat):
        interp.run(*inputs)
    out = []
    for name, samples in interp.times.items():
        node = graph[name]
        out.append(NodeTime(name, node_label(node), node.meta.module, statistics.median(samples) * 1e3,
                            node.meta.weight_only))
    return sorted(out, key=lambda t: -t.ms)


def _segment_kernels(source: str, name: str) -> str:
    """``linear_packed x2, conv x1`` for the generated segment ``name``."""
    match = re.search(rf"^def {re.escape(name)}\(.*?\n((?:    .*\n?)*)", source, re.M)
    if not match:
        return ""
    counts: dict[str, int] = {}
    for kernel in re.findall(r"\bk_(\w+?)\(", match.group(1)):
        short = re.sub(r"^(kernels_[a-z]+?_|nngraph_gen_[0-9a-f]+_)", "", kernel)
        counts[short] = counts.get(short, 0) + 1
    top = sorted(counts.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{k} x{v}" for k, v in top[:4])
    return f"{sum(counts.values())} kernel calls: {text}" + (", ..." if len(top) > 4 else "")


def _executor_args(exe: Any, inputs: tuple) -> list[np.ndarray]:
    """The segments' arguments as ``CpuExecutable._run`` builds them (inputs, fresh outputs, weights, workspace)."""
    leaves = [np.ascontiguousarray(x) for x in inputs]
    outs = [np.empty(s.shape, dtype=s.dtype) for _, s in exe.program.outputs]
    return [v.reshape(-1) for v in leaves] + [o.reshape(-1) for o in outs] + exe._weights + exe._workspace()


def executor_profile(compiled: Any, inputs: tuple, repeat: int = 10) -> tuple[list[NodeTime], float]:
    """Median milliseconds of each step of the compiled executor of ``compiled``'s latest specialization (called
    at least once on ``inputs``), in program order, and the median of whole calls for comparison.

    Mirrors ``CpuExecutable._run`` (same arguments, same order) with a clock around every step."""
    spec = compiled.specializations[-1]
    exe = spec.executable
    compiled(*inputs)  # weights refreshed, workspace allocated
    args = _executor_args(exe, inputs)
    samples: list[list[float]] = [[] for _ in exe.steps]
    for _ in range(repeat + 1):
        for i, step in enumerate(exe.steps):
            start = time.perf_counter()
            if callable(step):
                step(*args)
            else:
                exe._host(step, args)
            samples[i].append(time.perf_counter() - start)
    whole = []
    for _ in range(repeat):
        start = time.perf_counter()
        compiled(*inputs)
        whole.append(time.perf_counter() - start)
    out = []
    for i, (segment, step) in enumerate(zip(exe.program.segments, exe.steps)):
        ms = statistics.median(samples[i][1:]) * 1e3
        if isinstance(segment, str):
            out.append(NodeTime(segment, "compiled segment, " + _segment_kernels(exe.source, segment), "", ms))
        else:
            node: Node = segment.host
            out.append(NodeTime(f"host:{node.name}", "host step, " + node_label(node), node.meta.module, ms))
    return out, statistics.median(whole) * 1e3


def _kernel_names(lines: list[str]) -> str:
    """The kernels called on ``lines`` (generated kernels as ``generated NAME``), in order, once each."""
    names = []
    for line in lines:
        m = re.match(r"k_(\w+)\(", line)
        name = m.group(1) if m else line.split("(")[0].split("=")[0].strip()
        name = re.sub(r"^nngraph_gen_[0-9a-f]+_", "generated ", name)
        if name not in names:
            names.append(name)
    return ", ".join(names)


def kernel_profile(compiled: Any, inputs: tuple, repeat: int = 10) -> tuple[list[NodeTime], float, float]:
    """Median milliseconds of each node's kernel calls inside the compiled segments of ``compiled``'s latest
    specialization (CPU; called at least once on ``inputs``), timed in place, in program order; with the sum of
    those medians and the median of whole instrumented runs (segments and host steps) for comparison.

    Runs with the module's ``threads`` like a real call. Lines emitted for no node (copies into the outputs) are
    reported as ``(outputs)``."""
    import numba

    from nngraph.backends.cpu import profile

    spec = compiled.specializations[-1]
    exe = spec.executable
    if exe.symbols:
        raise ValueError("kernel_profile: the latest specialization has symbolic sizes (the module was called on "
                         "several shapes); profile a module compiled for one input shape")
    program = exe.program
    compiled(*inputs)  # weights refreshed, workspace allocated
    module = profile.load_instrumented(program, exe._graph_key, exe.use_cache)
    stamps = profile.new_stamps(program)
    args = _executor_args(exe, inputs)
    threads = compiled._options.threads
    before = numba.get_num_threads()
    if threads:
        numba.set_num_threads(threads)
    per_line: dict[str, list[np.ndarray]] = {name: [] for name in stamps}
    whole = []
    try:
        for _ in range(repeat + 1):  # the first run compiles / loads and is dropped
            start = time.perf_counter()
            for segment, step in zip(program.segments, exe.steps):
                if isinstance(segment, str):
                    getattr(module, segment)(*args, stamps[segment])
                    per_line[segment].append(np.diff(stamps[segment]))
                else:
                    exe._host(step, args)
            whole.append(time.perf_counter() - start)
    finally:
        numba.set_num_threads(before)
    period = profile.seconds_per_cycle()
    graph = exe.graph
    totals: dict[str, float] = {}
    kernels: dict[str, list[str]] = {}
    for segment, runs in per_line.items():
        medians = np.median(np.array(runs[1:]), axis=0) * period * 1e3
        for line, origin, ms in zip(program.segment_lines[segment], program.line_origins[segment], medians):
            key = origin or "(outputs)"
            totals[key] = totals.get(key, 0.0) + float(ms)
            kernels.setdefault(key, []).append(line)
    out = []
    for key, ms in totals.items():
        node = graph[key] if key in graph else None
        label = node_label(node) if node is not None else "copies into the output arrays"
        out.append(NodeTime(key, f"{label} [{_kernel_names(kernels[key])}]", node.meta.module if node else "", ms))
    return out, sum(totals.values()), statistics.median(whole[1:]) * 1e3
