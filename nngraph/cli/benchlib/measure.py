"""One benchmark case (a model at a batch size): compile times, interleaved latencies of every engine, accuracy
against nngraph eager, memory."""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
import tracemalloc
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from ..modelref import ModelRef
from . import coldstart
from .engines import COMPILED, EAGER, EngineSet, blas_threads, build_engines, differences
from .progress import Progress
from .timing import isolation, latency_stats, time_interleaved

__all__ = ["BenchSettings", "measure_case", "MEMORY_METHOD"]

MEMORY_METHOD = ("tracemalloc: peak of the memory allocated during one steady-state call (numpy arrays and the "
                 "arrays Numba kernels allocate); the compiled executor's preallocated arenas are reported "
                 "separately in the JSON (activation_arena_mib, weight_arena_mib)")


@dataclass
class BenchSettings:
    target: str = "cpu"
    threads: int | None = None
    warmup: int = 2
    repeat: int | None = None  # fixed number of interleaved rounds; None: run for ``seconds``
    seconds: float = 10.0  # time budget of the timed rounds per case (at least ``min_rounds`` rounds)
    min_rounds: int = 5
    max_rounds: int = 1000
    compare: tuple[str, ...] = ()  # engine names beyond nngraph compiled/eager
    passes: Any = "default"
    disable: tuple[str, ...] = ()
    compile_times: bool = True
    seed: int = 0
    pretrained: str | None = None
    torch_factory: str | None = None
    compile_timeout_s: float = 1800.0


@contextlib.contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _traced_peak_mib(fn: Callable[[], Any]) -> float:
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return max(peak - base, 0) / 2**20


def _arena_mib(compiled: Any) -> dict[str, float]:
    """Sizes of the compiled executor's arenas (activations per calling thread, weights)."""
    try:
        arenas = compiled.specializations[-1].executable.program.arenas
        size = lambda sizes: sum(int(n) * np.dtype(d).itemsize for d, n in sizes.items()) / 2**20  # noqa: E731
        return {"activation_arena_mib": size(arenas.work_sizes), "weight_arena_mib": size(arenas.weight_sizes)}
    except (AttributeError, IndexError, TypeError):
        return {}


def _graph_summary(compiled: Any) -> dict[str, Any]:
    try:
        result = compiled.specializations[-1].result
    except (AttributeError, IndexError):
        return {}
    plan = result.graph.memory_plan
    return {"traced_nodes": len(result.traced), "optimized_nodes": len(result.graph),
            "fused_nodes": sum(1 for n in result.graph.nodes() if n.meta.fused_from),
            "graph_breaks": [b.message() for b in result.traced.breaks],
            "planned_activation_mib": plan.planned_bytes / 2**20 if plan is not None else None,
            "unplanned_activation_mib": plan.unplanned_bytes / 2**20 if plan is not None else None}


def _compile_in_process(model: Any, inputs: tuple, s: BenchSettings) -> tuple[Any, float, list[str]]:
    import nngraph

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        compiled = nngraph.compile(model, target=s.target, threads=s.threads, passes=s.passes,
                                   disable=s.disable)
        compiled(*inputs)
        elapsed = time.perf_counter() - start
    notes = sorted({str(w.message) for w in caught if "GraphBreak" in type(w.message).__name__})
    return compiled, elapsed, notes


def measure_case(ref: ModelRef, model: Any, batch: int, s: BenchSettings, progress: Progress | None = None
                 ) -> dict[str, Any]:
    """Everything ``nngraph bench`` reports for ``model`` at ``batch``, as a JSON-able dict."""
    progress = progress or Progress(1, enabled=False)
    inputs = ref.inputs(batch, s.seed)
    result: dict[str, Any] = {"model": ref.name, "batch": batch, "inputs": ref.describe_inputs(batch)}
    compile_info: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="nngraph-bench-") as cache:
        if s.compile_times:
            request = {**ref.to_args(), "batch": batch, "seed": s.seed, "threads": s.threads, "target": s.target,
                       "passes": s.passes if s.passes != "default" else None, "disable": list(s.disable),
                       "pretrained": s.pretrained}
            for label, what in (("cold", "cold compile (new process, empty cache)"),
                                ("warm", "warm start (new process, on-disk cache)")):
                progress.phase(what)
                child = coldstart.run_child(request, cache, s.compile_timeout_s)
                compile_info[f"{label}_s"] = child["first_call_s"]
                compile_info[f"{label}_process_s"] = child["process_s"]
                compile_info[f"{label}_peak_rss_mib"] = child["peak_rss_mib"]
                compile_info["startup_s"] = child["startup_s"]
                progress.done(f"{child['first_call_s']:.2f} s to compile and run once")
        # After the child runs, the temporary cache is warm; without them, the user's cache serves as usual.
        progress.phase("compile in this process" + (" (warm cache)" if s.compile_times else ""))
        with _env("NNGRAPH_CACHE_DIR", cache) if s.compile_times else contextlib.nullcontext():
            compiled, compile_info["in_process_s"], breaks = _compile_in_process(model, inputs, s)
        progress.done()
    result["compile"] = compile_info
    result["graph"] = _graph_summary(compiled)
    if breaks:
        result["graph"]["graph_break_warnings"] = breaks

    with blas_threads(s.threads):  # numpy's BLAS (nngraph eager) gets the same thread count as the others
        result.update(_time_engines(ref, model, inputs, batch, compiled, s, progress))
    return result


def _time_engines(ref: ModelRef, model: Any, inputs: tuple, batch: int, compiled: Any, s: BenchSettings,
                  progress: Progress) -> dict[str, Any]:
    progress.phase("building engines")
    es: EngineSet = build_engines(ref, model, inputs, s.threads, s.compare, s.passes, s.disable, s.torch_factory,
                                  compiled=compiled)
    progress.done(", ".join(es.engines) + (f"; skipped {', '.join(es.skipped)}" if es.skipped else ""))

    repeat = s.repeat if s.repeat is not None else s.max_rounds
    budget = None if s.repeat is not None else s.seconds
    progress.phase("timing " + " / ".join(es.engines))

    min_rounds = min(s.min_rounds, repeat)

    def on_round(done: int, elapsed: float) -> None:
        # Timing ends after ``repeat`` rounds, or once both the budget and ``min_rounds`` are used up.
        fraction = done / repeat if budget is None else \
            max(min(elapsed / budget if budget > 0 else 1.0, done / min_rounds), done / repeat)
        progress.bar(fraction, f"{done} rounds, {elapsed:.1f} s")

    samples = time_interleaved(es.engines, repeat, s.warmup, budget, min_rounds, on_round, **isolation(s.threads))
    progress.done(f"{len(samples[COMPILED])} rounds")

    engines: dict[str, dict[str, Any]] = {}
    for name, secs in samples.items():
        stats = latency_stats(secs, batch)
        stats.update(differences(es.outputs[name], es.outputs[EAGER]))
        engines[name] = stats
    compiled_p50 = engines[COMPILED]["p50_ms"]
    eager_p50 = engines[EAGER]["p50_ms"]
    for stats in engines.values():
        stats["speedup_vs_eager"] = eager_p50 / stats["p50_ms"] if stats["p50_ms"] > 0 else float("inf")
        stats["compiled_speedup"] = stats["p50_ms"] / compiled_p50 if compiled_p50 > 0 else float("inf")
    for name in (COMPILED, EAGER):
        engines[name]["peak_mib"] = _traced_peak_mib(es.engines[name])
    engines[COMPILED].update(_arena_mib(compiled))
    return {"engines": engines, "skipped": es.skipped}
