"""Real-GPU check of the numba.cuda backend (issue 7): run on a machine with an NVIDIA GPU, in under five minutes.

    python bench/cuda_check.py [--quick] [--json OUT]

1. device and versions;
2. parity of every CUDA-lowered op family (tests/backends/cuda/test_ops.py's cases, run by pytest on the real GPU)
   and of the zoo models against the CPU reference interpreter, with the number of host steps and launches;
3. runtime semantics (weights re-uploaded after load_state_dict, hooks, device-array inputs);
4. a timing table: nngraph CUDA vs PyTorch CUDA eager (fp32, TF32 off) when torch with CUDA is installed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

ZOO_CASES = [("mlp", 1), ("mlp", 32), ("lenet5", 1), ("resnet18", 1), ("resnet18", 32), ("resnet50", 1),
             ("mobilenet_v2", 1), ("bert_tiny", 1), ("vit_tiny", 1), ("lstm_classifier", 1), ("gru_speech", 1),
             ("unet", 1), ("vgg11_small", 1)]
QUICK = [("mlp", 1), ("resnet18", 1), ("bert_tiny", 1)]


def _median_ms(fn, sync, warmup: int = 5, reps: int = 30) -> float:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times))


def device_info() -> dict:
    import numba
    from numba import cuda

    if numba.config.ENABLE_CUDASIM:
        info = {"device": "CUDA simulator", "compute_capability": None}
    else:
        dev = cuda.get_current_device()
        info = {"device": dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name),
                "compute_capability": dev.compute_capability}
    info.update(numba=numba.__version__, numpy=np.__version__)
    try:
        import numba_cuda  # noqa: F401

        info["numba_cuda"] = getattr(numba_cuda, "__version__", "?")
    except ImportError:
        info["numba_cuda"] = "built-in numba.cuda"
    try:
        import torch

        info["torch"] = torch.__version__ + (" (cuda)" if torch.cuda.is_available() else " (cpu)")
    except ImportError:
        info["torch"] = "not installed"
    return info


def op_parity() -> dict:
    """The op/model/runtime test files of tests/backends/cuda on the real GPU (the conftest sees the GPU)."""
    t = time.time()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
                           os.path.join(ROOT, "tests", "backends", "cuda")], cwd=ROOT, capture_output=True, text=True,
                          timeout=240)
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
    return {"returncode": proc.returncode, "summary": tail, "seconds": round(time.time() - t, 1),
            "output": proc.stdout[-3000:] if proc.returncode else ""}


def zoo_parity(cases: list[tuple[str, int]]) -> list[dict]:
    import nngraph
    from nngraph.ir.interpreter import Interpreter
    from nngraph.models import ZOO

    torch = None
    try:
        import torch as _torch

        if _torch.cuda.is_available():
            torch = _torch
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
    except ImportError:
        pass
    from numba import cuda

    rows = []
    for name, batch in cases:
        row: dict = {"model": name, "batch": batch}
        try:
            spec = ZOO[name]
            model = spec.build().eval()
            x = spec.example_input(batch, np.random.default_rng(0))
            t = time.time()
            compiled = nngraph.compile(model, target="cuda")
            y = compiled(x)
            row["compile_s"] = round(time.time() - t, 1)
            sp = compiled.specializations[0]
            ref = Interpreter(sp.result.graph, model).run(x)
            y0, r0 = (y[0], ref[0]) if isinstance(y, tuple) else (y, ref)
            row["max_abs_err"] = float(np.max(np.abs(np.asarray(y0, np.float64) - np.asarray(r0, np.float64))))
            row["max_rel_err"] = row["max_abs_err"] / max(float(np.max(np.abs(r0))), 1e-30)
            row["host_steps"] = sp.executable.n_host_steps
            row["host_nodes"] = ",".join(sorted({sp.result.graph[n].target for n in sp.executable.plan.host_nodes}))
            row["launches"] = sp.executable.n_launches
            dx = cuda.to_device(x)
            row["nngraph_ms"] = round(_median_ms(lambda: compiled(dx), cuda.synchronize), 3)
            row["nngraph_numpy_io_ms"] = round(_median_ms(lambda: compiled(x), cuda.synchronize), 3)
            if torch is not None:
                row["torch_ms"] = _torch_time(torch, name, batch, model, x)
        except Exception as e:  # noqa: BLE001 -- report and go on
            row["error"] = f"{type(e).__name__}: {str(e)[:300]}"
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def _torch_time(torch, name: str, batch: int, model, x: np.ndarray) -> float | None:  # noqa: ANN001
    """PyTorch CUDA eager time of the reference model with the same weights, when the test references exist."""
    import importlib.util

    from nngraph.models import ZOO

    try:
        path = os.path.join(ROOT, "tests", "models", "torch_reference.py")
        spec = importlib.util.spec_from_file_location("nngraph_torch_reference", path)
        ref = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ref)
        factory = getattr(ref, "FACTORIES", {}).get(name) or getattr(ref, name)
        tm = factory(**ZOO[name].kwargs)
        tm.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in model.state_dict().items()})
    except Exception as e:  # noqa: BLE001
        print(f"# no PyTorch timing for {name}: {type(e).__name__}: {e}"[:200], flush=True)
        return None
    tm = tm.cuda().eval()
    tx = torch.as_tensor(x).cuda()
    with torch.no_grad():
        return round(_median_ms(lambda: tm(tx), torch.cuda.synchronize), 3)


def runtime_semantics() -> dict:
    import nngraph
    from nngraph import nn

    rng = np.random.default_rng(1)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 8)).eval()
    other = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 8)).eval()
    x = rng.standard_normal((4, 64)).astype(np.float32)
    compiled = nngraph.compile(model, target="cuda")
    ok = {"first_call": bool(np.allclose(compiled(x), model(x), atol=1e-4))}
    compiled.load_state_dict(other.state_dict())
    ok["after_load_state_dict"] = bool(np.allclose(compiled(x), other(x), atol=1e-4))
    seen = []
    model[1].register_forward_hook(lambda m, i, o: seen.append(1))
    compiled(x)
    ok["hook_fired"] = bool(seen)
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="three zoo models only")
    ap.add_argument("--skip-tests", action="store_true", help="do not run tests/backends/cuda on the GPU")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    from nngraph.backends.cuda import require_cuda

    require_cuda()
    result = {"device": device_info()}
    print(json.dumps(result["device"]), flush=True)
    if not args.skip_tests:
        result["tests"] = op_parity()
        print(json.dumps({k: v for k, v in result["tests"].items() if k != "output"}), flush=True)
    result["runtime"] = runtime_semantics()
    print(json.dumps(result["runtime"]), flush=True)
    result["zoo"] = zoo_parity(QUICK if args.quick else ZOO_CASES)
    print("\n| model | batch | max rel err | host steps | launches | nngraph ms (device io) | nngraph ms (numpy io) "
          "| torch ms |\n|---|---|---|---|---|---|---|---|")
    for r in result["zoo"]:
        if "error" in r:
            print(f"| {r['model']} | {r['batch']} | error: {r['error'][:80]} | | | | | |")
            continue
        print(f"| {r['model']} | {r['batch']} | {r['max_rel_err']:.1e} | {r['host_steps']} | {r['launches']} | "
              f"{r['nngraph_ms']} | {r['nngraph_numpy_io_ms']} | {r.get('torch_ms')} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1, default=str)


if __name__ == "__main__":
    main()
