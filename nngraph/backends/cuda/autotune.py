"""``nngraph.compile(..., target="cuda", autotune=True)``: cuBLAS or the numba kernels, timed per node.

Without autotuning a GEMM or one-group convolution goes to cuBLAS (when CuPy is usable) above ``blas.MIN_MACS``
multiply-adds: a fixed cost model. With it, every node that could go either way is timed both ways on this GPU:
two executables are built, one with all of those nodes on cuBLAS and one with none, and each node's launches run
alone in both (after a warm-up, ``REPEATS`` times between device synchronizations). The faster path is recorded in
the autotune file of the cache directory (shared with the CPU backend's, ``backends/cpu/autotune.py``), keyed by
the GPU's name and the node's GEMM geometry, so a later compile on the same kind of GPU times nothing. Results
never depend on the choice beyond floating-point rounding; only speed does.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from ...ir.graph import Graph
from ..cpu.autotune import load_db, record
from .codegen import Plan, generate

REPEATS = 20


def device_name() -> str:
    from numba import cuda

    from . import simulator

    if simulator():
        return "simulator"
    name = cuda.get_current_device().name
    return name.decode() if isinstance(name, bytes) else str(name)


def db_key(device: str, geometry: str) -> str:
    return f"cuda:{device}:{geometry}"


def tuned_plan(graph: Graph, precision: str, build: Callable[[dict[str, bool]], Any]) -> Plan:
    """The plan of ``graph`` with cuBLAS-or-kernels chosen by timing; ``build(choice)`` makes an executable whose
    plan follows ``choice`` (node -> cuBLAS), for the timing runs."""
    plan = generate(graph, precision)
    if not plan.gemm_nodes:
        return plan
    device = device_name()
    db = load_db()
    choice: dict[str, bool] = {}
    todo = []
    for node, geometry in plan.gemm_nodes.items():
        entry = db.get(db_key(device, geometry))
        if isinstance(entry, dict) and isinstance(entry.get("blas"), bool):
            choice[node] = entry["blas"]
        else:
            todo.append(node)
    if todo:
        on = node_times(build({**choice, **{n: True for n in todo}}), todo)
        off = node_times(build({**choice, **{n: False for n in todo}}), todo)
        for node in todo:
            choice[node] = on[node] < off[node]
            record(db_key(device, plan.gemm_nodes[node]),
                   {"blas": choice[node], "blas_us": round(on[node] * 1e6, 2), "kernels_us": round(off[node] * 1e6, 2)})
    return generate(graph, precision, choice)


def node_times(exe: Any, nodes: list[str]) -> dict[str, float]:
    """Seconds per run of each node's launches in ``exe`` (a ``CudaExecutable``; arenas as allocated: the timed
    GEMMs do not depend on the values)."""
    from numba import cuda

    times = {}
    for node in nodes:
        launchers = [item[0] for item in exe._launches if isinstance(item, tuple) and item[1] == node]
        for launch in launchers:  # warm-up
            launch(None, None)
        cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(REPEATS):
            for launch in launchers:
                launch(None, None)
        cuda.synchronize()
        times[node] = (time.perf_counter() - t0) / REPEATS if launchers else float("inf")
    return times
