"""Where the time goes, two ways (each labelled as what it measures):

- ``interpreter_profile``: the *optimized graph* run node by node in the reference interpreter (numpy
  implementations of every node, fused nodes included): a per-node breakdown, not the compiled code's speed.
  Weight-only nodes (folded BatchNorm weights, ...) are timed apart: compiled code computes them once per weight
  version, not per call.
- ``executor_profile``: the compiled executor's own steps, each timed alone: generated Numba segments (several nodes
  each) and host steps (nodes run by Python between segments: module calls at graph breaks, ops without a lowering).
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

__all__ = ["NodeTime", "interpreter_profile", "executor_profile"]


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


def executor_profile(compiled: Any, inputs: tuple, repeat: int = 10) -> tuple[list[NodeTime], float]:
    """Median milliseconds of each step of the compiled executor of ``compiled``'s latest specialization (called
    at least once on ``inputs``), in program order, and the median of whole calls for comparison.

    Mirrors ``CpuExecutable._run`` (same arguments, same order) with a clock around every step."""
    spec = compiled.specializations[-1]
    exe = spec.executable
    compiled(*inputs)  # weights refreshed, workspace allocated
    leaves = [np.ascontiguousarray(x) for x in inputs]
    outs = [np.empty(s.shape, dtype=s.dtype) for _, s in exe.program.outputs]
    args = [v.reshape(-1) for v in leaves] + [o.reshape(-1) for o in outs] + exe._weights + exe._workspace()
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

