"""What the machine is: CPU, cores, library versions, the BLAS in use and the environment variables that matter."""
from __future__ import annotations

import importlib.metadata
import os
import platform
import re
from typing import Any

__all__ = ["machine_info", "core_scaling", "describe_scaling", "ENV_PREFIXES"]

#: Environment variables that change what the engines do (thread pools, BLAS kernels, Numba codegen, the cache).
ENV_PREFIXES = ("OPENBLAS_", "OMP_", "NUMBA_", "MKL_", "GOTO_", "NNGRAPH_")
_LIBRARIES = ("numpy", "numba", "llvmlite", "networkx", "torch", "onnxruntime", "onnx", "threadpoolctl",
              "matplotlib")


def _cpuinfo() -> dict[str, Any]:
    info: dict[str, Any] = {"model": platform.processor() or platform.machine(), "flags": []}
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return info
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", text, re.M)
    if model:
        info["model"] = model.group(1).strip()
    if flags:
        info["flags"] = flags.group(1).split()
    return info


def _version(name: str) -> str:
    """The installed distribution's version, without importing it (torch takes seconds to import)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _blas() -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        import numpy as np

        deps = np.show_config(mode="dicts").get("Build Dependencies", {})
        out["numpy_build"] = {k: {f: v.get(f) for f in ("name", "version", "openblas configuration") if f in v}
                              for k, v in deps.items() if k in ("blas", "lapack")}
    except Exception as e:  # noqa: BLE001
        out["numpy_build"] = f"unavailable: {type(e).__name__}"
    try:
        import threadpoolctl

        out["threadpools"] = [{k: v for k, v in pool.items() if k != "filepath"}
                              for pool in threadpoolctl.threadpool_info()]
    except ImportError:
        out["threadpools"] = "threadpoolctl not installed"
    return out


_spin = None


def _spin_kernel():  # noqa: ANN202
    """``spin(items, iters)``: ``items`` independent compute-bound loops in a prange (compiled on first use)."""
    global _spin
    if _spin is None:
        import numpy as np
        from numba import njit, prange

        @njit(parallel=True, cache=True)
        def spin(items: int, iters: int) -> np.ndarray:
            out = np.zeros(items)
            for i in prange(items):
                a0, a1, a2, a3 = float(i), float(i + 1), float(i + 2), float(i + 3)
                for _ in range(iters):  # four independent chains: throughput-, not latency-bound
                    a0 = a0 * 0.9999999 + 1e-7
                    a1 = a1 * 0.9999999 + 1e-7
                    a2 = a2 * 0.9999999 + 1e-7
                    a3 = a3 * 0.9999999 + 1e-7
                out[i] = a0 + a1 + a2 + a3
            return out

        _spin = spin
    return _spin


def core_scaling(threads: int | None, rounds: int = 15, iters: int = 1_000_000) -> dict[str, float] | None:
    """How much faster ``threads`` equal compute-bound loops finish on ``threads`` threads than one after another on
    one thread (ideal: ``threads``x), measured now, 1 and N threads interleaved: on a VM whose vCPUs share physical
    cores with a neighbour this is what any multi-threaded result can show at best. None for one thread."""
    import statistics
    import time

    import numba

    n = min(threads or numba.config.NUMBA_NUM_THREADS, numba.config.NUMBA_NUM_THREADS)
    if n < 2:
        return None
    spin = _spin_kernel()
    before = numba.get_num_threads()
    ratios, times = [], {1: [], n: []}
    try:
        spin(n, 10)
        for _ in range(rounds):
            for t in (1, n):
                numba.set_num_threads(t)
                start = time.perf_counter()
                spin(n, iters)
                times[t].append(time.perf_counter() - start)
            ratios.append(times[1][-1] / times[n][-1])
    finally:
        numba.set_num_threads(before)
    return {"threads": n, "speedup": statistics.median(ratios), "low": min(ratios), "high": max(ratios),
            "ms_one_thread": statistics.median(times[1]) * 1e3}


def describe_scaling(c: dict[str, float] | None) -> str:
    """One line for reports: the machine's own multi-thread scaling."""
    if not c:
        return ""
    return (f"machine check: {c['threads']} compute-bound loops ran {c['speedup']:.2f}x faster on {c['threads']} "
            f"threads than on one (ideal {c['threads']}.00x; rounds {c['low']:.2f}-{c['high']:.2f})")


def machine_info(threads: int | None = None) -> dict[str, Any]:
    """A JSON-able description of this machine and software for benchmark results."""
    import numba

    import nngraph

    cpu = _cpuinfo()
    try:
        import llvmlite.binding as llvm

        cpu["llvm_name"] = llvm.get_host_cpu_name()
    except Exception:  # noqa: BLE001
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = os.cpu_count()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_available": affinity,
        "threads": threads,
        "numba_max_threads": numba.config.NUMBA_NUM_THREADS,
        "core_scaling": core_scaling(threads),
        "machine": platform.machine(),
        "system": platform.platform(),
        "python": platform.python_version(),
        "versions": {"nngraph": nngraph.__version__, **{name: _version(name) for name in _LIBRARIES}},
        "blas": _blas(),
        "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(ENV_PREFIXES)},
    }
