"""The benchmark behind the README's results table.

nngraph compiled vs nngraph eager vs PyTorch eager vs ONNX Runtime (CPU) on zoo models, same weights, same thread
count for every engine, interleaved runs, medians; plus cold compile time (empty cache, new process) and warm
start (new process, cache hit).

Run from the repository root, with the OpenBLAS variables this machine sets unset for the benchmark only:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/suite.py --threads 2

PyTorch and ONNX Runtime are optional: engines that are not installed are reported as skipped. The measuring code
is shared with ``nngraph bench`` (``nngraph/cli/benchlib``), which adds percentiles, accuracy, memory, JSON with
the machine description and a plot.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from typing import Any, Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

DEFAULT_CASES = [("mlp", 1), ("mlp", 64), ("resnet18", 1), ("resnet18", 8), ("mobilenet_v2", 1), ("bert_tiny", 1)]


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def engines_for(name: str, batch: int, threads: int) -> tuple[dict[str, Callable[[], Any]], dict[str, str], float]:
    """The four engines on the zoo model ``name`` (seed 0) at ``batch``, what was skipped, and compiled's largest
    relative error against eager (|diff| / max(1, |eager|))."""
    import numpy as np

    from nngraph.cli.benchlib import engines as bench_engines
    from nngraph.cli.modelref import resolve

    ref = resolve(name)
    model = ref.build(0)
    inputs = ref.inputs(batch, 0)
    es = bench_engines.build_engines(ref, model, inputs, threads, (bench_engines.TORCH, bench_engines.ORT))
    engines = {bench_engines.EAGER: es.engines[bench_engines.EAGER],
               bench_engines.COMPILED: es.engines[bench_engines.COMPILED],
               **{k: v for k, v in es.engines.items() if k not in (bench_engines.EAGER, bench_engines.COMPILED)}}
    err = max(float(np.max(np.abs(c - r) / np.maximum(1.0, np.abs(r)), initial=0.0))
              for c, r in zip(es.outputs[bench_engines.COMPILED], es.outputs[bench_engines.EAGER]))
    return engines, es.skipped, err


def compile_times(name: str, batch: int, threads: int) -> dict[str, float]:
    """Cold compile (empty NNGRAPH_CACHE_DIR) and warm start (same dir, new process), each in a new process."""
    from nngraph.cli.benchlib import coldstart
    from nngraph.cli.modelref import resolve

    with tempfile.TemporaryDirectory() as cache:
        t = coldstart.compile_times({**resolve(name).to_args(), "batch": batch, "seed": 0, "threads": threads}, cache)
        return {"cold": t["cold_s"], "warm": t["warm_s"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", nargs="*", default=[f"{m}:{b}" for m, b in DEFAULT_CASES], help="model:batch ...")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--budget", type=float, default=20.0, help="seconds of timed runs per case at most")
    p.add_argument("--no-compile-times", action="store_true")
    p.add_argument("--json", help="write all results here")
    args = p.parse_args(argv)
    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))  # before numba is imported
    from nngraph.cli.benchlib import engines as bench_engines
    from nngraph.cli.benchlib.machine import describe_scaling, machine_info
    from nngraph.cli.benchlib.timing import isolation, time_interleaved

    info = machine_info(args.threads)
    rows, results = [], []
    for case in args.cases:
        name, batch = case.split(":")
        batch = int(batch)
        with bench_engines.blas_threads(args.threads):
            engines, skipped, err = engines_for(name, batch, args.threads)
            samples = time_interleaved(engines, args.repeat, args.warmup, args.budget, **isolation(args.threads))
        med = {k: _median_ms(v) for k, v in samples.items()}
        times = {} if args.no_compile_times else compile_times(name, batch, args.threads)
        results.append({"model": name, "batch": batch, "median_ms": med, "runs": {k: len(v) for k, v in
                        samples.items()}, "skipped": skipped, "max_rel_err": err, "compile_s": times})
        c = med["nngraph compiled"]
        rows.append([f"{name}", str(batch), f"{c:.3f}", f"{med['nngraph eager']:.3f}",
                     f"{med['torch eager']:.3f}" if "torch eager" in med else "skipped",
                     f"{med['onnxruntime']:.3f}" if "onnxruntime" in med else "skipped",
                     f"{med['torch eager'] / c:.2f}x" if "torch eager" in med else "-",
                     f"{med['onnxruntime'] / c:.2f}x" if "onnxruntime" in med else "-",
                     f"{times['cold']:.1f}" if times else "-", f"{times['warm']:.2f}" if times else "-"])
        print(" | ".join(rows[-1]), flush=True)
    header = ["model", "batch", "nngraph compiled ms", "nngraph eager ms", "torch eager ms", "onnxruntime ms",
              "speed vs torch", "speed vs ORT", "cold compile s", "warm start s"]
    table = "| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n" + \
        "\n".join("| " + " | ".join(r) + " |" for r in rows)
    print()
    print(table)
    print(f"\n{info['cpu']['model']}, {info['cores']} cores, threads={args.threads}, "
          f"numpy {info['versions']['numpy']}, numba {info['versions']['numba']}, torch {info['versions']['torch']}, "
          f"onnxruntime {info['versions']['onnxruntime']}, env {info['env'] or '{}'}")
    if info.get("core_scaling"):
        print(describe_scaling(info["core_scaling"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
