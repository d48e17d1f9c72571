"""Interleaved timing: every round calls each engine once, in turn, so that slow drifts of the machine (other load,
frequency changes) hit every engine alike; latency percentiles over the rounds."""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

__all__ = ["time_interleaved", "latency_stats"]


def time_interleaved(engines: dict[str, Callable[[], Any]], repeat: int, warmup: int, budget_s: float | None = None,
                     min_rounds: int = 5, on_round: Callable[[int, float], None] | None = None
                     ) -> dict[str, list[float]]:
    """Seconds per call of each engine: ``warmup`` untimed calls each, then up to ``repeat`` interleaved rounds,
    stopping early once ``budget_s`` seconds have passed and at least ``min_rounds`` rounds are done.
    ``on_round(rounds_done, elapsed_s)`` is called after each round (progress display)."""
    for fn in engines.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {k: [] for k in engines}
    start = time.perf_counter()
    for i in range(repeat):
        for name, fn in engines.items():
            t = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t)
        elapsed = time.perf_counter() - start
        if on_round is not None:
            on_round(i + 1, elapsed)
        if budget_s is not None and i + 1 >= min_rounds and elapsed > budget_s:
            break
    return samples


def latency_stats(samples_s: list[float], batch: int) -> dict[str, float]:
    """p50/p90/p99/mean/min in milliseconds, ``runs``, and throughput (items per second at the median)."""
    ms = np.asarray(samples_s, dtype=np.float64) * 1e3
    p50, p90, p99 = (float(v) for v in np.percentile(ms, [50, 90, 99]))
    return {"p50_ms": p50, "p90_ms": p90, "p99_ms": p99, "mean_ms": float(ms.mean()), "min_ms": float(ms.min()),
            "runs": int(ms.size), "throughput_per_s": batch / (p50 / 1e3) if p50 > 0 else float("inf")}
