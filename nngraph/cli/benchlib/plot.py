"""The optional bar chart of a benchmark (needs matplotlib: ``pip install 'nngraph[plot]'``)."""
from __future__ import annotations

from typing import Any

__all__ = ["PlotUnavailable", "check_available", "plot"]


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


def check_available() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise PlotUnavailable("--plot needs matplotlib: pip install 'nngraph[plot]' (or matplotlib>=3.7)") from e


def plot(doc: dict[str, Any], path: str) -> str:
    """Grouped bars: median latency of every engine per case (log scale when they span over 30x)."""
    check_available()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = doc["results"]
    engines: list[str] = []
    for r in results:
        engines += [e for e in r["engines"] if e not in engines]
    cases = [f"{r['model']}\nbatch {r['batch']}" for r in results]
    width = 0.8 / max(len(engines), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(cases) * max(1, len(engines)) / 2), 4.5))
    values = []
    for j, name in enumerate(engines):
        xs, ys = [], []
        for i, r in enumerate(results):
            if name in r["engines"]:
                xs.append(i + (j - (len(engines) - 1) / 2) * width)
                ys.append(r["engines"][name]["p50_ms"])
        values += ys
        bars = ax.bar(xs, ys, width, label=name)
        ax.bar_label(bars, labels=[f"{y:.0f}" if y >= 100 else f"{y:.3g}" for y in ys], fontsize=7, padding=2)
    if values and min(values) > 0 and max(values) / min(values) > 30:
        ax.set_yscale("log")
    ax.set_xticks(range(len(cases)), cases)
    ax.set_ylabel("median latency (ms, lower is better)")
    threads = doc.get("settings", {}).get("threads")
    cpu = doc.get("machine", {}).get("cpu", {}).get("model", "")
    ax.set_title(f"nngraph bench: {cpu}, threads={threads}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
