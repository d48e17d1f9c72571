"""What the machine is: CPU, cores, library versions, the BLAS in use and the environment variables that matter."""
from __future__ import annotations

import importlib.metadata
import os
import platform
import re
from typing import Any

__all__ = ["machine_info", "ENV_PREFIXES"]

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
        "machine": platform.machine(),
        "system": platform.platform(),
        "python": platform.python_version(),
        "versions": {"nngraph": nngraph.__version__, **{name: _version(name) for name in _LIBRARIES}},
        "blas": _blas(),
        "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(ENV_PREFIXES)},
    }
