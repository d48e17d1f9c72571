"""Compile the CUDA backend's kernels for a real GPU target (PTX, ``numba.cuda.compile_ptx``) without a GPU.

Run by ``test_ptx.py`` in a subprocess WITHOUT the CUDA simulator: the simulator runs kernels as Python, so code that
only types in Python would pass every simulator test and fail on a GPU. Compiles every generated elementwise formula
(float32, float64) and every distinct kernel launched by the op cases (``cases.py``) and tiny zoo models.

    python tests/backends/cuda/ptx_check.py [--cc 9.0] [--quick]

With CUDA's ``ptxas`` on the PATH, every kernel is also assembled for the target and every launch's block is checked
against the kernel's registers and shared memory (``nngraph.backends.cuda.ptx.Resources``); a kernel that uses local
memory (spills or a stack frame) fails the check.

Exit status 0: all compiled; 1: failures (listed); 77: no CUDA NVVM library (nothing checked).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    sys.exit("ptx_check.py must run without NUMBA_ENABLE_CUDASIM=1")

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def nvvm_available() -> str | None:
    """None when NVVM works, else why not."""
    try:
        from numba import cuda, float32, int64

        def k(a, n):  # noqa: ANN001, ANN202
            i = cuda.grid(1)
            if i < n:
                a[i] = a[i] * 2

        cuda.compile_ptx(k, (float32[::1], int64), cc=(9, 0))
        return None
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {str(e)[:300]}"


def zoo_cases(quick: bool) -> list[tuple[str, object, tuple]]:
    from nngraph import models

    rng = np.random.default_rng(0)
    img = lambda c, h: rng.standard_normal((2, c, h, h), dtype=np.float32)  # noqa: E731
    # one model per kernel family (mobilenet_v2's depthwise conv, gru_speech's recurrence and vit_tiny's attention
    # launch the same kernels as extra_cases, lstm_classifier and bert_tiny)
    cases = [("resnet18", {"num_classes": 10}, (img(3, 32),)),
             ("unet", {}, (img(3, 36),)),
             ("lstm_classifier", {}, (rng.integers(1, 10000, (2, 6)),)),
             ("bert_tiny", {}, (rng.integers(1, 30522, (2, 8)),))]
    if quick:
        cases = cases[:1]
    return [(name, getattr(models, name)(**kw), x) for name, kw, x in cases]


def extra_cases() -> list[tuple[str, object, tuple]]:
    """Kernels the zoo models do not reach (the simulator tests in test_ops.py cover their numerics)."""
    import nngraph.nn.functional as F
    from helpers import Fn

    from nngraph import nn

    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 8, 5, 6), dtype=np.float32)

    def f(m, x, y):  # noqa: ANN001, ANN202
        return (F.pixel_shuffle(x, 2), F.adaptive_max_pool2d(x, 3), F.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
                np.concatenate([x, x[:, :2]], axis=1), np.stack([x[0], x[1]]), F.log_softmax(x, dim=1),
                np.maximum(x * y, 0.5) > x, m.dw(x), m.c1(x[:, :, 0]), x.sum(axis=(0, 2)).astype(np.int64),
                m.e(np.abs(x[0, 0]).astype(np.int64) % 5))
    model = Fn(f, dw=nn.Conv2d(8, 8, 3, padding=1, groups=8), c1=nn.Conv1d(8, 16, 3), e=nn.Embedding(5, 3))
    return [("extra", model, (x, rng.standard_normal((6,), dtype=np.float32)))]


def blas_cases() -> list[tuple[str, object, tuple]]:
    from nngraph import nn

    rng = np.random.default_rng(2)
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 16, 1),
                          nn.Flatten(), nn.Linear(16 * 25, 10)).eval()
    return [("blas", model, (rng.standard_normal((2, 3, 5, 5), dtype=np.float32),))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cc", default="9.0")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    cc = tuple(int(v) for v in args.cc.split("."))
    why = nvvm_available()
    if why is not None:
        print(f"SKIP: CUDA NVVM is not usable: {why}")
        return 77
    from cases import OP_CASES, TEMPLATED
    from cases_loss import LOSS_CASES
    from cases_vision import VISION_CASES

    from nngraph.backends.cuda.ptx import compile_plan_ptx, compile_scalar_formulas_ptx, plan_for, ptxas_path

    t0 = time.time()
    failures: list[str] = []
    for dt in (np.float32, np.float64):
        failures += [f"formula {f} ({np.dtype(dt)})" for f in compile_scalar_formulas_ptx(np.dtype(dt), cc)]
    seen: set = set()
    res: dict = {}
    n = 0
    cases = [(f"{name}-{np.dtype(dt)}", *make(dt)) for name, make in OP_CASES for dt in (np.float32, np.float64)
             if dt == np.float32 or name in TEMPLATED]
    cases += [(f"{name}-{np.dtype(dt)}", *make(dt)) for name, make in VISION_CASES for dt in (np.float32, np.float64)]
    cases += [(f"{name}-{np.dtype(dt)}", *make(dt)) for name, make in LOSS_CASES
              for dt in (np.float32, np.float64)]
    cases += extra_cases() + ([] if args.quick else zoo_cases(False))
    for name, model, inputs in cases:
        try:
            plan = plan_for(model, *inputs)
            n += len(compile_plan_ptx(plan, cc, seen, res))
        except Exception as e:  # noqa: BLE001
            failures.append(f"{name}: {type(e).__name__}: {e}"[:2000])
    # the kernels around cuBLAS GEMM steps (im2col, bias fill, epilogues): planned as if CuPy were usable
    from nngraph.backends.cuda import blas

    # the tensor-core GEMM (inline PTX mma.sync; the simulator cannot run it) for precision tf32 and fp16
    for precision in ("tf32", "fp16"):
        for name, model, inputs in blas_cases():
            try:
                n += len(compile_plan_ptx(plan_for(model, *inputs, precision=precision), cc, seen, res))
            except Exception as e:  # noqa: BLE001
                failures.append(f"{name} ({precision} plan): {type(e).__name__}: {e}"[:2000])
    # NNGRAPH_CUDA_RECURRENCE=grid: recurrence_grid, with the block size of the zoo's H = 128 (256 threads)
    os.environ["NNGRAPH_CUDA_RECURRENCE"] = "grid"
    from cases import recurrent

    from nngraph import models

    grid_cases = [(f"recurrent-{np.dtype(dt)}", *recurrent(dt)) for dt in (np.float32, np.float64)]
    grid_cases.append(("lstm_classifier", models.lstm_classifier(), (np.ones((1, 6), np.int64),)))
    for name, model, inputs in grid_cases:
        try:
            n += len(compile_plan_ptx(plan_for(model, *inputs), cc, seen, res))
        except Exception as e:  # noqa: BLE001
            failures.append(f"{name} (recurrence grid plan): {type(e).__name__}: {e}"[:2000])
    del os.environ["NNGRAPH_CUDA_RECURRENCE"]
    blas.enabled, blas.MIN_MACS = (lambda: True), 0
    for name, model, inputs in blas_cases():
        try:
            n += len(compile_plan_ptx(plan_for(model, *inputs), cc, seen, res))
        except Exception as e:  # noqa: BLE001
            failures.append(f"{name} (cuBLAS plan): {type(e).__name__}: {e}"[:2000])
    print(f"compiled {n} distinct kernels + the elementwise formulas for cc {cc[0]}.{cc[1]} in "
          f"{time.time() - t0:.0f} s")
    if res:
        top = max(res.items(), key=lambda kv: kv[1].registers)
        print(f"assembled {len(res)} with ptxas (sm_{cc[0]}{cc[1]}): at most {top[1].registers} registers per thread "
              f"({top[0][0].__name__}), at most {max(r.shared_bytes for r in res.values())} bytes of static shared "
              f"memory; every launch's block fits")
        # local memory (spills, or arrays indexed with variables) in a kernel is a performance bug: the GEMM's
        # accumulator tile sat there until its store loop was unrolled (gemm._unroll_store)
        failures += [f"{fn.__module__}.{fn.__name__} uses local memory: {r.spill_bytes} bytes spilled, "
                     f"{r.stack_bytes} bytes of stack frame per thread" for (fn, _), r in res.items()
                     if r.spill_bytes or r.stack_bytes]
    elif ptxas_path() is None:
        print("ptxas not on the PATH: kernels not assembled, launch resources not checked")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
