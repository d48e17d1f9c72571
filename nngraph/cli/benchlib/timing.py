"""Interleaved timing: every round calls each engine in turn, so that slow drifts of the machine (other load,
frequency changes) hit every engine alike; latency percentiles over the rounds."""
from __future__ import annotations

import os
import time
from typing import Any, Callable

import numpy as np

__all__ = ["time_interleaved", "isolation", "latency_stats"]


def time_interleaved(engines: dict[str, Callable[[], Any]], repeat: int, warmup: int, budget_s: float | None = None,
                     min_rounds: int = 5, on_round: Callable[[int, float], None] | None = None,
                     block: int = 1, cooldown_s: float = 0.0) -> dict[str, list[float]]:
    """Seconds per call of each engine: ``warmup`` untimed calls each, then up to ``repeat`` interleaved rounds,
    stopping early once ``budget_s`` seconds have passed and at least ``min_rounds`` rounds are done.

    In each round every engine makes one untimed call then ``block`` timed calls, followed by ``cooldown_s`` of
    sleep. With several threads the pause matters: thread pools keep spinning after a call (OpenBLAS for ~0.1 s,
    OpenMP runtimes, ONNX Runtime), and a spinning pool of the previous engine would steal the cores of the next one.
    ``on_round(rounds_done, elapsed_s)`` is called after each round (progress display)."""
    for fn in engines.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {k: [] for k in engines}
    start = time.perf_counter()
    for i in range(repeat):
        for name, fn in engines.items():
            if block > 1 or cooldown_s > 0:
                fn()
            for _ in range(block):
                t = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - t)
            if cooldown_s > 0:
                time.sleep(cooldown_s)
        elapsed = time.perf_counter() - start
        if on_round is not None:
            on_round(i + 1, elapsed)
        if budget_s is not None and i + 1 >= min_rounds and elapsed > budget_s:
            break
    return samples


def isolation(threads: int | None) -> dict[str, Any]:
    """``block``/``cooldown_s`` for :func:`time_interleaved`: with more than one thread (None: all cores), engines
    are separated by a pause long enough for the other engines' spinning thread pools to go to sleep."""
    if threads is None:
        threads = os.cpu_count() or 1
    return {"block": 3, "cooldown_s": 0.2} if threads > 1 else {"block": 1, "cooldown_s": 0.0}


def latency_stats(samples_s: list[float], batch: int) -> dict[str, float]:
    """p50/p90/p99/mean/min in milliseconds, ``runs``, and throughput (items per second at the median)."""
    ms = np.asarray(samples_s, dtype=np.float64) * 1e3
    p50, p90, p99 = (float(v) for v in np.percentile(ms, [50, 90, 99]))
    return {"p50_ms": p50, "p90_ms": p90, "p99_ms": p99, "mean_ms": float(ms.mean()), "min_ms": float(ms.min()),
            "runs": int(ms.size), "throughput_per_s": batch / (p50 / 1e3) if p50 > 0 else float("inf")}
