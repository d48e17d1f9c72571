"""``nngraph.compile(..., autotune=True)``: time the applicable convolution algorithms per node on this machine.

The default choice is the static cost model of ``kernels.conv.choose_conv_algo``. With autotuning on, the conv
lowering asks :func:`conv_algo`, which runs every applicable algorithm on random data of the node's exact geometry
(batch, channels, spatial size, kernel, stride, padding, dilation, groups, dtype) with the current thread count,
keeps the fastest, and records the choice with its timings in ``autotune-v1.json`` in the cache directory
(``NNGRAPH_CACHE_DIR``), keyed by that geometry and the CPU. Later compiles -- in this process or another --
reuse the recorded choice without timing again. Results never depend on the choice (every algorithm computes the
same convolution); only speed does.

Autotuning is switched on for the duration of one code generation by :func:`enabled` (the runtime does this for
``autotune=True``), and the runtime adds the flag to the generated module's cache key.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import os
import statistics
import tempfile
import threading
import time
from typing import Any, Iterator

import numpy as np

_ENABLED: contextvars.ContextVar[bool] = contextvars.ContextVar("nngraph_autotune", default=False)
_DB_NAME = "autotune-v1.json"
_LOCK = threading.Lock()
#: Seconds of timed runs per candidate at most (after one warm-up call, at least 3 runs).
BUDGET_S = 0.05


@contextlib.contextmanager
def enabled(on: bool = True) -> Iterator[None]:
    """Autotune the nodes lowered inside this block."""
    token = _ENABLED.set(bool(on))
    try:
        yield
    finally:
        _ENABLED.reset(token)


def is_enabled() -> bool:
    return _ENABLED.get()


def _db_path() -> str:
    from ...runtime.cache import cache_dir

    return os.path.join(cache_dir(), _DB_NAME)


def load_db() -> dict[str, Any]:
    """The recorded choices (empty when the file is missing or unreadable: it is only a cache)."""
    try:
        with open(_db_path()) as f:
            db = json.load(f)
        return db if isinstance(db, dict) else {}
    except (OSError, ValueError):
        return {}


def record(key: str, entry: dict[str, Any]) -> None:
    """Merge one entry into the file: re-read, update, write atomically (concurrent writers lose nothing but
    their own duplicate measurements)."""
    path = _db_path()
    with _LOCK:
        db = load_db()
        db[key] = entry
        fd, tmp = tempfile.mkstemp(prefix=".autotune-", dir=os.path.dirname(path))
        with os.fdopen(fd, "w") as f:
            json.dump(db, f, indent=1, sort_keys=True)
        os.replace(tmp, path)


def conv_candidates(c: int, o: int, kh: int, kw: int, stride: tuple, padding: tuple, groups: int) -> list[int]:
    """The algorithms that can run this convolution (kernels/conv.py ``ALGO_*``)."""
    from .kernels import conv as kconv

    return kconv.applicable_algos(c, o, kh, kw, stride, padding, groups)


def _time_conv(algo: int, x: np.ndarray, w: np.ndarray, p: tuple, groups: int) -> float:
    from .kernels import conv as kconv
    from .kernels.epilogue import std_args

    wp = kconv.prepare_conv_weight(w, groups, algo)
    if algo == kconv.ALGO_DEPTHWISE:
        wp = wp.reshape(w.shape[0], -1)
    out = np.empty((x.shape[0], w.shape[0], p[9], p[10]), x.dtype)
    args = std_args(x.dtype)
    run = kconv.std_kernel(algo)
    run(x, wp, out, p, args)  # compile / warm up
    times: list[float] = []
    end = time.perf_counter() + BUDGET_S
    while len(times) < 3 or (time.perf_counter() < end and len(times) < 50):
        t = time.perf_counter()
        run(x, wp, out, p, args)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def conv_algo(n: int, c: int, h: int, w: int, o: int, kh: int, kw: int, stride: tuple, padding: tuple,
              dilation: tuple, groups: int, dtype: np.dtype) -> int:
    """The algorithm for one conv node: the cost model's choice, or with autotuning on the measured fastest."""
    import numba

    from ...runtime.cache import environment_key
    from .kernels import conv as kconv

    default = kconv.choose_conv_algo(c, o, kh, kw, stride, padding, dilation, groups, h, w, n)
    if not is_enabled() or not all(isinstance(v, (int, np.integer)) for v in (n, c, h, w, o)):
        return default  # (symbolic sizes: nothing concrete to time)
    candidates = conv_candidates(c, o, kh, kw, stride, padding, groups)
    if len(candidates) == 1:
        return default
    threads = numba.get_num_threads()
    key = json.dumps(["conv2d", n, c, h, w, o, kh, kw, list(stride), list(padding), list(dilation), groups,
                      np.dtype(dtype).name, threads, environment_key()])
    entry = load_db().get(key)
    if entry is not None and entry.get("algo") in candidates:
        return int(entry["algo"])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((o, c // groups, kh, kw)).astype(dtype)
    p = kconv.conv_params(wt.shape, x.shape, stride, padding, dilation, groups)
    times = {algo: _time_conv(algo, x, wt, p, groups) for algo in candidates}
    best = min(times, key=times.__getitem__)
    record(key, {"algo": best, "default": default,
                  "times_us": {kconv.ALGO_NAMES[a]: round(t * 1e6, 2) for a, t in times.items()}})
    return best


__all__ = ["BUDGET_S", "conv_algo", "conv_candidates", "enabled", "is_enabled", "load_db", "record"]
