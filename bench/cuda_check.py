"""Real-GPU check of the numba.cuda backend (issue 7): run on a machine with an NVIDIA GPU, in under five minutes.

    python bench/cuda_check.py [--quick] [--out DIR] [--budget-s S] [--jobs N]

1. device and versions;
2. parity of every CUDA-lowered op family (tests/backends/cuda/test_ops.py's cases, run by pytest on the real GPU)
   and of the zoo models against the CPU reference interpreter, with the number of host steps and launches;
3. runtime semantics (weights re-uploaded after load_state_dict, hooks, device-array inputs);
4. a timing table: nngraph CUDA vs PyTorch CUDA eager (fp32, TF32 off) when torch with CUDA is installed, the GEMM
   rate of the tiled kernel vs cuBLAS, the host time per call, and the most expensive launches of ResNet-18.
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


def _interleaved_ms(fns: dict, sync, rounds: int = 6, reps: int = 8) -> dict:  # noqa: ANN001
    """Median ms per call of each engine, timed in alternating blocks of ``reps`` synchronized calls (so that clock
    or load drift hits every engine alike)."""
    times: dict = {k: [] for k in fns}
    for fn in fns.values():
        for _ in range(3):
            fn()
    sync()
    for _ in range(rounds):
        for k, fn in fns.items():
            for _ in range(reps):
                t = time.perf_counter()
                fn()
                sync()
                times[k].append((time.perf_counter() - t) * 1e3)
    return {k: float(np.median(v)) for k, v in times.items()}


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
        import cupy

        info["cupy"] = cupy.__version__
    except Exception as e:  # noqa: BLE001
        info["cupy"] = f"not usable ({type(e).__name__})"
    try:
        import torch

        info["torch"] = torch.__version__ + (" (cuda)" if torch.cuda.is_available() else " (cpu)")
    except ImportError:
        info["torch"] = "not installed"
    return info


def op_parity(jobs: int, log: str | None, timeout_s: float = 300) -> dict:
    """The op/model/runtime test files of tests/backends/cuda on the real GPU (the conftest sees the GPU)."""
    t = time.time()
    cmd = [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", "--tb=short",
           os.path.join(ROOT, "tests", "backends", "cuda")]
    if jobs > 1:
        cmd[3:3] = ["-n", str(jobs)]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
        out, rc = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or ""), -9
    if log:
        with open(log, "w") as f:
            f.write(out)
    lines = out.strip().splitlines()
    failed = [ln for ln in lines if ln.startswith(("FAILED", "ERROR"))]
    return {"returncode": rc, "summary": lines[-1] if lines else "", "seconds": round(time.time() - t, 1),
            "failed": failed[:60]}


def zoo_parity(cases: list[tuple[str, int]], budget_s: float, blas_off: bool = False,
               precision: str = "fp32", launch: str | None = None, autotune: bool = False,
               graphs: bool = False, recurrence: str | None = None) -> list[dict]:
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
    start = time.time()
    for name, batch in cases:
        label = ", ".join(([] if precision == "fp32" else [precision]) + (["cuBLAS off"] if blas_off else []) +
                          ([f"{launch} launches"] if launch else []) + (["autotune"] if autotune else []) +
                          (["CUDA graphs"] if graphs else []) + ([f"{recurrence} recurrence"] if recurrence else []))
        row: dict = {"model": name + (f" ({label})" if label else ""), "batch": batch}
        if time.time() - start > budget_s:
            row["error"] = "skipped: time budget spent"
            rows.append(row)
            continue
        try:
            spec = ZOO[name]
            model = spec.build().eval()
            x = spec.example_input(batch, np.random.default_rng(0))
            t = time.time()
            compiled = nngraph.compile(model, target="cuda", precision=precision, autotune=autotune)
            env = {**({"NNGRAPH_CUDA_BLAS": "off"} if blas_off else {}),
                   **({"NNGRAPH_CUDA_LAUNCH": launch} if launch else {}),
                   **({"NNGRAPH_CUDA_GRAPHS": "1"} if graphs else {}),
                   **({"NNGRAPH_CUDA_RECURRENCE": recurrence} if recurrence else {})}
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                y = compiled(x)  # the specialization (plan and launchers) is built by the first call
            finally:
                for k, v in saved.items():
                    os.environ.pop(k) if v is None else os.environ.update({k: v})
            row["compile_s"] = round(time.time() - t, 1)
            sp = compiled.specializations[0]
            ref = Interpreter(sp.result.graph, model).run(x)
            y0, r0 = (y[0], ref[0]) if isinstance(y, tuple) else (y, ref)
            row["max_abs_err"] = float(np.max(np.abs(np.asarray(y0, np.float64) - np.asarray(r0, np.float64))))
            row["max_rel_err"] = row["max_abs_err"] / max(float(np.max(np.abs(r0))), 1e-30)
            row["host_steps"] = sp.executable.n_host_steps
            row["host_nodes"] = ",".join(sorted({sp.result.graph[n].target for n in sp.executable.plan.host_nodes}))
            row["launches"] = sp.executable.n_launches
            row["cublas_calls"] = sum(type(s).__name__ == "Gemm" for s in sp.executable.plan.program)
            dx = cuda.to_device(x)
            engines = {"nngraph_ms": lambda: compiled(dx)}
            if torch is not None and not blas_off and precision == "fp32" and not launch:
                tm = _torch_model(torch, name, model)
                if tm is not None:
                    tx = torch.as_tensor(x).cuda()
                    engines["torch_ms"] = lambda: _no_grad(torch, tm, tx)

            def sync() -> None:
                cuda.synchronize()
                if torch is not None:
                    torch.cuda.synchronize()

            row.update({k: round(v, 3) for k, v in _interleaved_ms(engines, sync).items()})
            row["nngraph_numpy_io_ms"] = round(_median_ms(lambda: compiled(x), cuda.synchronize), 3)
            row["host_ms"] = round(_host_ms(lambda: compiled(dx), cuda.synchronize), 3)
            row["launch_kinds"] = sorted(sp.executable.launch_kinds)
            # device buffers the output pools ever allocated: a few, however many calls ran (pool.py)
            row["pool_blocks"] = sum(p.n_allocated for p in (sp.executable._pools or []) if p is not None)
            if graphs:
                row["graph_captured"] = sp.executable.graph_captured
        except Exception as e:  # noqa: BLE001 -- report and go on
            row["error"] = f"{type(e).__name__}: {str(e)[:300]}"
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def _host_ms(fn, sync, reps: int = 50) -> float:  # noqa: ANN001
    """Host time per call: calls queued back to back (the GPU keeps up when the host is the bottleneck)."""
    fn()
    sync()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    per_call = (time.perf_counter() - t) / reps
    sync()
    return per_call * 1e3


def host_profile(name: str, batch: int, calls: int = 300, top: int = 18) -> str:
    """cProfile of ``calls`` device-input calls of a compiled zoo model: where the host time per call goes."""
    import cProfile
    import io
    import pstats

    import nngraph
    from nngraph.models import ZOO
    from numba import cuda

    spec = ZOO[name]
    model = spec.build().eval()
    x = spec.example_input(batch, np.random.default_rng(0))
    compiled = nngraph.compile(model, target="cuda")
    dx = cuda.to_device(x)
    for _ in range(20):
        compiled(dx)
    cuda.synchronize()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        compiled(dx)
    cuda.synchronize()
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def launch_profile(name: str, batch: int, top: int = 15) -> list[dict]:
    """Device time of each launch of one zoo model (each launch synchronized alone), summed per kernel."""
    import nngraph
    from nngraph.models import ZOO
    from numba import cuda

    spec = ZOO[name]
    model = spec.build().eval()
    x = spec.example_input(batch, np.random.default_rng(0))
    compiled = nngraph.compile(model, target="cuda")
    compiled(x)
    ex = compiled.specializations[0].executable
    per: dict[str, list[float]] = {}
    for item in ex._launches:
        if not isinstance(item, tuple):
            continue
        launcher, node = item
        ms = _median_ms(lambda: launcher(None, None), cuda.synchronize, warmup=2, reps=7)
        per.setdefault(launcher.name, []).append(ms)
        per.setdefault(f"node:{node}", []).append(ms)
    rows = [{"kernel": k, "launches": len(v), "ms": round(sum(v), 4)} for k, v in per.items()]
    rows.sort(key=lambda r: -r["ms"])
    return rows[:top * 3]


GEMM_VARIANTS = [("fp32", "auto"), ("fp32", "off"), ("tf32", "off"), ("fp16", "off"), ("tf32", "auto")]


def gemm_bench() -> list[dict]:
    """A compiled bias-free Linear (cuBLAS through CuPy, or with NNGRAPH_CUDA_BLAS=off the numba.cuda kernels: fp32
    tiled SGEMM, tf32/fp16 mma.sync) against cuBLAS through PyTorch (TF32 off)."""
    import nngraph
    from nngraph import nn
    from numba import cuda

    rows = []
    from nngraph.backends.cuda import simulator

    shapes = [(4096, 4096, 4096), (1, 4096, 4096), (32, 4096, 4096), (256, 1024, 1024)]
    for m, k, n in shapes if not simulator() else [(4, 8, 8)]:
        row: dict = {"m": m, "k": k, "n": n}
        try:
            rng = np.random.default_rng(2)
            lin = nn.Linear(k, n, bias=False).eval()
            x = rng.standard_normal((m, k)).astype(np.float32)
            dx = cuda.to_device(x)
            ref = x.astype(np.float64) @ np.asarray(lin.weight, np.float64).T
            for precision, use_blas in GEMM_VARIANTS if m * n * k >= 1 << 30 else GEMM_VARIANTS[:2]:
                os.environ["NNGRAPH_CUDA_BLAS"] = use_blas
                try:
                    c = nngraph.compile(lin, target="cuda", precision=precision)
                    y = c(dx).copy_to_host()
                finally:
                    os.environ.pop("NNGRAPH_CUDA_BLAS")
                tag = f"{precision}{'' if use_blas == 'auto' else '_noblas'}"
                row[f"{tag}_rel_err"] = float(np.linalg.norm(y - ref) / np.linalg.norm(ref))
                ms = _median_ms(lambda: c(dx), cuda.synchronize, reps=20)
                row[f"{tag}_ms"] = round(ms, 4)
                row[f"{tag}_tflops"] = round(2 * m * k * n / ms / 1e9, 2)
            try:
                import torch

                torch.backends.cuda.matmul.allow_tf32 = False
                tx, tw = torch.as_tensor(x).cuda(), torch.as_tensor(np.asarray(lin.weight)).cuda()
                tms = _median_ms(lambda: tx @ tw.T, torch.cuda.synchronize, reps=20)
                row["cublas_ms"] = round(tms, 4)
                row["cublas_tflops"] = round(2 * m * k * n / tms / 1e9, 2)
            except ImportError:
                pass
        except Exception as e:  # noqa: BLE001
            row["error"] = f"{type(e).__name__}: {str(e)[:300]}"
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def _torch_model(torch, name: str, model):  # noqa: ANN001, ANN202
    """The PyTorch CUDA reference model with the same weights (tests/models/torch_reference.py), or None."""
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
    return tm.cuda().eval()


def _no_grad(torch, tm, tx):  # noqa: ANN001, ANN202
    with torch.no_grad():
        return tm(tx)


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
    try:
        import torch

        if torch.cuda.is_available():
            c2 = nngraph.compile(other, target="cuda")
            y = c2(torch.as_tensor(x).cuda())
            ok["torch_input_stays_on_device"] = hasattr(y, "__cuda_array_interface__")
            ok["torch_input_parity"] = bool(np.allclose(np.asarray(y.copy_to_host() if hasattr(y, "copy_to_host")
                                                                  else y.cpu()), other(x), atol=1e-4))
    except ImportError:
        pass
    return ok


def _variants(result: dict, budget_s: float) -> None:
    """Rows for the alternatives: cuBLAS off, prepared launches, tensor-core precisions, autotuned cuBLAS choice,
    CUDA graphs, the grid-wide recurrence kernel."""
    result["zoo"] += zoo_parity([("mlp", 1), ("resnet18", 32)], budget_s, blas_off=True)
    result["zoo"] += zoo_parity([("mlp", 1), ("resnet18", 1), ("bert_tiny", 1)], budget_s, launch="prepared")
    result["zoo"] += zoo_parity([("resnet18", 32)], budget_s, precision="tf32")
    result["zoo"] += zoo_parity([("resnet18", 32)], budget_s, blas_off=True, precision="tf32")
    result["zoo"] += zoo_parity([("resnet18", 32)], budget_s, blas_off=True, precision="fp16")
    result["zoo"] += zoo_parity([("mlp", 1), ("resnet18", 1), ("resnet18", 32)], budget_s, autotune=True)
    result["zoo"] += zoo_parity([("mlp", 1), ("resnet18", 1), ("bert_tiny", 1), ("vit_tiny", 1)], budget_s,
                                graphs=True)
    result["zoo"] += zoo_parity([("lstm_classifier", 1), ("gru_speech", 1), ("lstm_classifier", 32)], budget_s,
                                recurrence="grid")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="three zoo models only")
    ap.add_argument("--skip-tests", action="store_true", help="do not run tests/backends/cuda on the GPU")
    ap.add_argument("--out", help="write result.json and tests.log into this folder")
    ap.add_argument("--budget-s", type=float, default=150, help="stop starting zoo models after this many seconds")
    ap.add_argument("--jobs", type=int, default=min(8, os.cpu_count() or 1), help="pytest-xdist workers")
    ap.add_argument("--tests-timeout", type=float, default=300, help="seconds for the pytest run")
    ap.add_argument("--profile", default="resnet18:32", help="model:batch whose launches are timed one by one ('' none)")
    ap.add_argument("--zoo", help="comma-separated model:batch list instead of the default zoo cases")
    ap.add_argument("--short", action="store_true", help="no GEMM bench, variant rows or host profile")
    args = ap.parse_args()
    from nngraph.backends.cuda import require_cuda

    require_cuda()
    result = {"device": device_info()}
    print(json.dumps(result["device"]), flush=True)
    if not args.skip_tests:
        result["tests"] = op_parity(args.jobs, os.path.join(args.out, "tests.log") if args.out else None,
                                   args.tests_timeout)
        print(json.dumps(result["tests"], indent=0), flush=True)
    for key, fn in [("runtime", runtime_semantics)] + ([] if args.short else [("gemm", gemm_bench)]):
        try:
            result[key] = fn()
        except Exception as e:  # noqa: BLE001
            result[key] = {"error": f"{type(e).__name__}: {str(e)[:500]}"}
        print(json.dumps(result[key]), flush=True)
    cases = [(c.split(":")[0], int(c.split(":")[1])) for c in args.zoo.split(",")] if args.zoo else \
        QUICK if args.quick else ZOO_CASES
    result["zoo"] = zoo_parity(cases, args.budget_s)
    if not args.short:
        _variants(result, args.budget_s)
    if args.profile:
        name, batch = args.profile.split(":")
        try:
            result["profile"] = launch_profile(name, int(batch))
        except Exception as e:  # noqa: BLE001
            result["profile"] = [{"error": f"{type(e).__name__}: {str(e)[:500]}"}]
        for r in result["profile"]:
            print(json.dumps(r))
    if not args.short:
        try:
            result["host_profile"] = host_profile("mlp", 1)
        except Exception as e:  # noqa: BLE001
            result["host_profile"] = f"{type(e).__name__}: {e}"
        print(result["host_profile"][-6000:])
    if args.out:
        with open(os.path.join(args.out, "result.json"), "w") as f:
            json.dump(result, f, indent=1, default=str)
    print("\n| model | batch | max rel err | host steps | launches | nngraph ms (device io) | nngraph ms (numpy io) "
          "| host ms | torch ms | vs torch |\n|---|---|---|---|---|---|---|---|---|---|")
    for r in result["zoo"]:
        if "error" in r:
            print(f"| {r['model']} | {r['batch']} | error: {r['error'][:80]} | | | | | | | |")
            continue
        vs = f"{r['torch_ms'] / r['nngraph_ms']:.2f}x" if r.get("torch_ms") else ""
        print(f"| {r['model']} | {r['batch']} | {r['max_rel_err']:.1e} | {r['host_steps']} | {r['launches']} "
              f"({r['cublas_calls']} cuBLAS) | {r['nngraph_ms']} | {r['nngraph_numpy_io_ms']} | {r['host_ms']} | "
              f"{r.get('torch_ms')} | {vs} |")


if __name__ == "__main__":
    main()
