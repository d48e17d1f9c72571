"""The pass manager: runs a pipeline, records per-pass statistics, and in debug mode lints the graph and checks
numerics against the interpreter after every pass (naming the failing pass and the passes before it)."""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from .. import _random
from ..ir.graph import Graph, LintError
from ..ir.interpreter import Interpreter
from ..ir.pytree import flatten
from .base import PASSES, PassContext, PassFn, pass_name

DEFAULT_PIPELINE = ("remove_dropout", "fold_batchnorm", "canonicalize_views", "fuse_epilogue", "decompose_einsum",
                    "eliminate_noops", "constant_fold", "cse", "dce", "fuse_elementwise", "plan_memory")
# Train mode: no folding, no fusion, dropout stays (its masks are part of the semantics).
TRAIN_PIPELINE = ("decompose_einsum", "eliminate_noops", "constant_fold", "dce", "plan_memory")


class PassError(RuntimeError):
    """A pass produced an invalid graph or changed the model's output."""


@dataclass
class PassStats:
    name: str
    nodes_before: int
    nodes_after: int
    ops_before: dict[str, int]
    ops_after: dict[str, int]
    changed: bool
    seconds: float
    fused: dict[str, tuple[str, ...]] = field(default_factory=dict)  # new node -> the original nodes it replaces

    def line(self) -> str:
        extra = f", fused {len(self.fused)}" if self.fused else ""
        return f"{self.name:18s} {self.nodes_before:5d} -> {self.nodes_after:5d} nodes{extra} ({self.seconds*1e3:.1f} ms)"


def resolve_pipeline(passes: str | Sequence[str | Callable] = "default", disable: Iterable[str] = (),
                     training: bool = False) -> list[PassFn]:
    """Pass functions from names/callables; ``"default"`` picks the eval or train pipeline."""
    if passes == "default":
        passes = TRAIN_PIPELINE if training else DEFAULT_PIPELINE
    elif isinstance(passes, str):
        passes = [passes]
    disable = set(disable)
    unknown = [d for d in disable if d not in PASSES]
    if unknown:
        raise ValueError(f"unknown pass name(s) in disable=: {unknown}; known passes: {sorted(PASSES)}")
    out: list[PassFn] = []
    for p in passes:
        if isinstance(p, str):
            if p not in PASSES:
                raise ValueError(f"unknown pass {p!r}; known passes: {sorted(PASSES)}")
            p = PASSES[p]
        if pass_name(p) not in disable:
            out.append(p)
    return out


def _outputs(graph: Graph, root: Any, example: tuple) -> list[np.ndarray]:
    """The graph's outputs on the example. Module state and the RNG are restored afterwards, so every check run
    sees the same random draws and compiling never changes the model (running statistics, hooks' buffers)."""
    from ..trace.tracer import preserved_state

    args, kwargs = example
    with preserved_state(root) if root is not None else _rng_preserved():
        out = Interpreter(graph, root).run(*args, **kwargs)
    return flatten(out, lambda v: isinstance(v, np.ndarray))[0]


@contextlib.contextmanager
def _rng_preserved() -> Iterator[None]:
    state = _random.default_generator().bit_generator.state
    try:
        yield
    finally:
        _random.default_generator().bit_generator.state = state


def max_deviation(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a - b| relative to max(1, |b|) (NaN/Inf that match count as equal)."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a64.shape != b64.shape:
        return float("inf")
    same = (a64 == b64) | (np.isnan(a64) & np.isnan(b64))
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf where only one side is inf: NaN -> inf below
        diff = np.where(same, 0.0, np.abs(a64 - b64) / np.maximum(1.0, np.abs(b64)))
    return float(np.nan_to_num(diff, nan=np.inf).max(initial=0.0))


def tolerance(dtype: np.dtype) -> float:
    return {np.dtype(np.float16): 5e-2, np.dtype(np.float32): 1e-3}.get(np.dtype(dtype), 1e-8)


class PassManager:
    """Runs ``passes`` in order. ``debug=True`` lints and checks numerics after every pass."""

    def __init__(self, passes: Sequence[PassFn], ctx: PassContext | None = None, debug: bool = False,
                 dump: Callable[[str, Graph], None] | None = None) -> None:
        self.passes = list(passes)
        self.ctx = ctx or PassContext()
        self.debug = debug
        self.dump = dump
        self.stats: list[PassStats] = []

    def run(self, graph: Graph) -> Graph:
        reference = None
        if self.debug:
            self._lint(graph, "the traced graph", [])
            if self.ctx.example is not None:
                reference = _outputs(graph, self.ctx.root, self.ctx.example)
        if self.dump:
            self.dump("00_traced", graph)
        done: list[str] = []
        for i, p in enumerate(self.passes, 1):
            name = pass_name(p)
            before_nodes, before_ops = len(graph), graph.op_counts()
            before_fused = {n.name: n.meta.fused_from for n in graph.nodes() if n.meta.fused_from}
            start = time.perf_counter()
            try:
                result = p(graph, self.ctx)
            except Exception as e:
                raise PassError(f"pass {name!r} failed (after {done or 'no passes'}): {type(e).__name__}: {e}") from e
            graph = result.graph
            fused = {n.name: n.meta.fused_from for n in graph.nodes()
                     if n.meta.fused_from and before_fused.get(n.name) != n.meta.fused_from}
            self.stats.append(PassStats(name, before_nodes, len(graph), before_ops, graph.op_counts(), result.changed,
                                        time.perf_counter() - start, fused))
            if self.debug:
                self._lint(graph, f"pass {name!r}", done)
                if reference is not None:
                    self._check_numerics(graph, reference, name, done)
            if self.dump:
                self.dump(f"{i:02d}_{name}", graph)
            done.append(name)
        return graph

    def _lint(self, graph: Graph, what: str, done: list[str]) -> None:
        try:
            graph.lint()
        except LintError as e:
            raise PassError(f"{what} produced an invalid graph (after {done or 'no passes'}): {e}") from e

    def _check_numerics(self, graph: Graph, reference: list[np.ndarray], name: str, done: list[str]) -> None:
        got = _outputs(graph, self.ctx.root, self.ctx.example)
        for i, (a, b) in enumerate(zip(got, reference)):
            if b.dtype.kind != "f":
                if not np.array_equal(a, b):
                    raise PassError(f"pass {name!r} changed output {i} (after {done or 'no passes'})")
                continue
            dev = max_deviation(a, b)
            if dev > tolerance(b.dtype):
                raise PassError(f"pass {name!r} changed output {i} by {dev:.3g} (relative), more than the "
                                f"{tolerance(b.dtype):.0e} allowed for {b.dtype} (after {done or 'no passes'})")


def numerics_report(original: Graph, optimized: Graph, root: Any, example: tuple) -> dict[str, float]:
    """Per fused/folded node: the largest deviation from the original value it replaces, on the example inputs."""
    from ..trace.tracer import preserved_state

    args, kwargs = example
    before = Interpreter(original, root)
    after = Interpreter(optimized, root)
    for interp in (before, after):
        with preserved_state(root) if root is not None else _rng_preserved():
            interp.run(*args, keep=True, **kwargs)
    report: dict[str, float] = {}
    for node in optimized.nodes():
        if not node.meta.fused_from or node.name not in after.env or node.meta.weight_only:
            continue
        ref_name = node.meta.fused_from[-1]
        if ref_name in before.env and isinstance(after.env[node.name], np.ndarray):
            report[node.name] = max_deviation(after.env[node.name], before.env[ref_name])
    return report
