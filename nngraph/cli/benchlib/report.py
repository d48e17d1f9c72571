"""Presenting benchmark results: terminal tables and the JSON document."""
from __future__ import annotations

import datetime
import math
from typing import Any

from ..table import format_table
from .engines import COMPILED
from .machine import describe_scaling
from .measure import MEMORY_METHOD

__all__ = ["summary_table", "engine_table", "render", "to_document", "SCHEMA"]

SCHEMA = "nngraph-bench/1"


def _ms(v: float) -> str:
    if not math.isfinite(v):
        return str(v)
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}" if v >= 1 else f"{v:.3f}"


def _rate(v: float) -> str:
    return f"{v:,.0f}" if v >= 10 or not math.isfinite(v) else f"{v:.2f}"


def _sec(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def _x(v: float) -> str:
    return f"{v:.2f}x" if math.isfinite(v) else "inf"


def _e(v: float) -> str:
    return f"{v:.1e}" if v else "0"


def summary_table(results: list[dict[str, Any]]) -> str:
    """One row per case: nngraph compiled's compile times, latencies, speedup, accuracy and memory."""
    headers = ["model", "batch", "cold s", "warm s", "p50 ms", "p90 ms", "p99 ms", "items/s", "vs eager",
               "max abs", "max rel", "peak MiB"]
    rows = []
    for r in results:
        c, e = r["compile"], r["engines"][COMPILED]
        rows.append([r["model"], str(r["batch"]), _sec(c.get("cold_s")), _sec(c.get("warm_s")), _ms(e["p50_ms"]),
                     _ms(e["p90_ms"]), _ms(e["p99_ms"]), _rate(e["throughput_per_s"]), _x(e["speedup_vs_eager"]),
                     _e(e["max_abs_diff"]), _e(e["max_rel_diff"]), f"{e['peak_mib']:.2f}"])
    return format_table(headers, rows, [False, True] + [True] * 10)


def engine_table(results: list[dict[str, Any]]) -> str:
    """One row per case and engine; ``compiled x`` = the engine's p50 / nngraph compiled's p50."""
    headers = ["model", "batch", "engine", "p50 ms", "p90 ms", "p99 ms", "items/s", "compiled x", "max abs vs eager"]
    rows = []
    for r in results:
        for i, (name, e) in enumerate(r["engines"].items()):
            first = i == 0
            rows.append([r["model"] if first else "", str(r["batch"]) if first else "", name, _ms(e["p50_ms"]),
                         _ms(e["p90_ms"]), _ms(e["p99_ms"]), _rate(e["throughput_per_s"]),
                         _x(e["compiled_speedup"]), _e(e["max_abs_diff"])])
        for name, why in r.get("skipped", {}).items():
            rows.append(["", "", name, "skipped", "", "", "", "", why])
    return format_table(headers, rows, [False, True, False, True, True, True, True, True, False])


def render(doc: dict[str, Any]) -> str:
    """The terminal report of a benchmark document."""
    results = doc["results"]
    s = doc["settings"]
    m = doc["machine"]
    out = [f"nngraph bench: {m['cpu']['model']}, {m['cores']} cores, threads={s['threads']}, "
           f"numpy {m['versions']['numpy']}, numba {m['versions']['numba']}", "",
           "nngraph compiled", summary_table(results)]
    out += ["", f"latency by engine (interleaved rounds, threads={s['threads']} for each engine)",
            engine_table(results)]
    notes = ["cold/warm s: nngraph.compile + first call in a new process with an empty / the filled cache dir",
             "vs eager: nngraph eager p50 / compiled p50; compiled x: engine p50 / nngraph compiled p50",
             "max abs/rel: vs nngraph eager output (rel = max |diff| / max |eager|)",
             "peak MiB: " + MEMORY_METHOD]
    if m.get("core_scaling"):
        notes.append(describe_scaling(m["core_scaling"]))
    for r in results:
        for msg in r.get("graph", {}).get("graph_breaks", []):
            notes.append(f"{r['model']} b{r['batch']}: {msg}")
    out += [""] + [f"  {n}" for n in notes]
    return "\n".join(out)


def to_document(machine: dict[str, Any], settings: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema": SCHEMA, "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine, "settings": settings, "memory_method": MEMORY_METHOD, "results": results}
