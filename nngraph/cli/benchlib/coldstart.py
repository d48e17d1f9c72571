"""Compile times in fresh processes: *cold* (empty ``NNGRAPH_CACHE_DIR``) and *warm* (a new process reusing the
on-disk cache the cold one filled).

Each child builds the model, then times ``nngraph.compile(...)`` plus the first call (trace, passes, codegen, Numba
compilation or cache load, one execution). Numba's own cache of nngraph's kernel library (in the installed package's
``__pycache__``) is not emptied: "cold" is a new model on an installation that has compiled before.

Run as a child: ``python -m nngraph.cli.benchlib.coldstart JSON`` prints one JSON line.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

__all__ = ["compile_times", "run_child", "ColdStartError"]


class ColdStartError(RuntimeError):
    """The child process failed; the message carries the end of its stderr."""


def _child(request: dict[str, Any]) -> dict[str, Any]:
    import resource
    import warnings

    import nngraph  # already imported by ``python -m``: the start-up time is measured from the spawn time
    from nngraph.cli.modelref import resolve

    startup = time.time() - request["spawned_at"]
    t1 = time.perf_counter()
    ref = resolve(request["name"], request.get("input_shapes"), request.get("dtypes"))
    model = ref.build(request.get("seed", 0), request.get("pretrained"))
    inputs = ref.inputs(request["batch"], request.get("seed", 0))
    t2 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = nngraph.compile(model, target=request.get("target", "cpu"), threads=request.get("threads"),
                                   passes=request.get("passes") or "default", disable=request.get("disable") or ())
        compiled(*inputs)
    t3 = time.perf_counter()
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"startup_s": startup, "build_s": t2 - t1, "first_call_s": t3 - t2, "peak_rss_mib": maxrss_kib / 1024}


def run_child(request: dict[str, Any], cache_dir: str, timeout: float | None = 1800) -> dict[str, Any]:
    """One child run: ``first_call_s`` (compile + first call), ``startup_s``, ``build_s``, ``peak_rss_mib``,
    ``process_s`` (the child's wall time seen from here)."""
    import nngraph

    package_root = os.path.dirname(os.path.dirname(os.path.abspath(nngraph.__file__)))
    path = [package_root, os.getcwd(), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, NNGRAPH_CACHE_DIR=cache_dir, PYTHONPATH=os.pathsep.join(p for p in path if p))
    start = time.perf_counter()
    try:
        argv = [sys.executable, "-m", __name__, json.dumps({**request, "spawned_at": time.time()})]
        r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise ColdStartError(f"the compile process took longer than {timeout:.0f} s") from e
    wall = time.perf_counter() - start
    lines = [ln for ln in r.stdout.strip().splitlines() if ln.startswith("{")]
    if r.returncode != 0 or not lines:
        raise ColdStartError(f"the compile process failed (exit {r.returncode}): {r.stderr.strip()[-1500:]}")
    out = json.loads(lines[-1])
    out["process_s"] = wall
    return out


def compile_times(request: dict[str, Any], cache_dir: str, timeout: float | None = 1800) -> dict[str, Any]:
    """Cold then warm child runs with ``cache_dir`` (which should be empty) as ``NNGRAPH_CACHE_DIR``.

    ``request``: ``ModelRef.to_args()`` plus ``batch``, ``seed``, ``target``, ``threads``, ``passes``, ``disable``,
    ``pretrained``. Returns ``cold_s``/``warm_s`` (compile + first call), the children's process wall times, the
    start-up time (interpreter + ``import nngraph``) and peak RSS."""
    cold = run_child(request, cache_dir, timeout)
    warm = run_child(request, cache_dir, timeout)
    return {"cold_s": cold["first_call_s"], "warm_s": warm["first_call_s"],
            "cold_process_s": cold["process_s"], "warm_process_s": warm["process_s"],
            "startup_s": warm["startup_s"], "cold_peak_rss_mib": cold["peak_rss_mib"],
            "warm_peak_rss_mib": warm["peak_rss_mib"]}


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1]))), flush=True)
