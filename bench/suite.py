"""The benchmark behind the README's results table.

nngraph compiled vs nngraph eager vs PyTorch eager vs ONNX Runtime (CPU) on zoo models, same weights, same thread
count for every engine, interleaved runs, medians; plus cold compile time (empty cache, new process) and warm
start (new process, cache hit).

Run from the repository root, with the OpenBLAS variables this machine sets unset for the benchmark only:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/suite.py --threads 2

PyTorch and ONNX Runtime are optional: engines that are not installed are reported as skipped.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

DEFAULT_CASES = [("mlp", 1), ("mlp", 64), ("resnet18", 1), ("resnet18", 8), ("mobilenet_v2", 1), ("bert_tiny", 1)]


def _torch_model(name: str, ours: Any) -> Any:
    """The equivalent hand-written PyTorch model with our weights."""
    import torch

    from tests.models import torch_reference

    factory = getattr(torch_reference, name)
    model = factory(**_kwargs(name)).eval()
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})
    return model


def _kwargs(name: str) -> dict:
    from nngraph.models import ZOO

    return dict(ZOO[name].kwargs)


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def engines_for(name: str, batch: int, threads: int) -> tuple[dict[str, Callable[[], Any]], dict[str, str], Any]:
    import nngraph
    from nngraph.models import ZOO

    spec = ZOO[name]
    nngraph.manual_seed(0)
    model = spec.build().eval()
    x = spec.example_input(batch, 0)
    engines: dict[str, Callable[[], Any]] = {"nngraph eager": lambda: model(x)}
    skipped: dict[str, str] = {}
    compiled = nngraph.compile(model, threads=threads)
    compiled(x)
    engines["nngraph compiled"] = lambda: compiled(x)
    try:
        import torch

        torch.set_num_threads(threads)
        tm = _torch_model(name, model)
        tx = torch.from_numpy(x)

        def run_torch() -> Any:
            with torch.inference_mode():
                return tm(tx)

        engines["torch eager"] = run_torch
        try:
            import onnxruntime as ort

            buf = io.BytesIO()
            torch.onnx.export(tm, (tx,), buf, dynamo=False, input_names=["x"])
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            sess = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
            engines["onnxruntime"] = lambda: sess.run(None, {"x": x})
        except Exception as e:  # noqa: BLE001 -- optional engine
            skipped["onnxruntime"] = f"{type(e).__name__}: {e}"[:120]
    except Exception as e:  # noqa: BLE001 -- optional engine
        skipped["torch eager"] = f"{type(e).__name__}: {e}"[:120]
    ref = model(x)
    err = float(np.max(np.abs(compiled(x) - ref) / np.maximum(1.0, np.abs(ref))))
    return engines, skipped, err


def time_interleaved(engines: dict[str, Callable[[], Any]], repeat: int, warmup: int, budget_s: float
                     ) -> dict[str, list[float]]:
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
        if i >= 4 and time.perf_counter() - start > budget_s:
            break
    return samples


_COMPILE_SNIPPET = """
import sys, time, json
t0 = time.perf_counter()
import numpy as np, nngraph
from nngraph.models import ZOO
spec = ZOO[sys.argv[1]]
nngraph.manual_seed(0)
m = spec.build().eval()
x = spec.example_input(int(sys.argv[2]), 0)
t1 = time.perf_counter()
c = nngraph.compile(m, threads=int(sys.argv[3]))
c(x)
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_call_s": t2 - t1}))
"""


def compile_times(name: str, batch: int, threads: int) -> dict[str, float]:
    """Cold compile (empty NNGRAPH_CACHE_DIR) and warm start (same dir, new process), each in a new process."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NNGRAPH_CACHE_DIR=cache)
        out = {}
        for label in ("cold", "warm"):
            r = subprocess.run([sys.executable, "-c", _COMPILE_SNIPPET, name, str(batch), str(threads)], env=env,
                               capture_output=True, text=True, cwd=ROOT)
            if r.returncode != 0:
                raise RuntimeError(r.stderr[-2000:])
            out[label] = json.loads(r.stdout.strip().splitlines()[-1])["first_call_s"]
        return out


def machine_info(threads: int) -> dict[str, Any]:
    import numba

    import nngraph

    info: dict[str, Any] = {"python": platform.python_version(), "nngraph": nngraph.__version__,
                            "numpy": np.__version__, "numba": numba.__version__, "threads": threads,
                            "cores": os.cpu_count(), "machine": platform.machine(),
                            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
                            "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE", "(unset)")}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor()
    for mod in ("torch", "onnxruntime"):
        try:
            info[mod] = __import__(mod).__version__
        except ImportError:
            info[mod] = "not installed"
    return info


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
    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))
    info = machine_info(args.threads)
    rows, results = [], []
    for case in args.cases:
        name, batch = case.split(":")
        batch = int(batch)
        engines, skipped, err = engines_for(name, batch, args.threads)
        samples = time_interleaved(engines, args.repeat, args.warmup, args.budget)
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
    print("\n" + ", ".join(f"{k}={v}" for k, v in info.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
