"""Launch counts of the zoo models' CUDA plans, without a GPU: what each batch-1 call would launch.

    python bench/cuda_plan.py [MODEL ...]

For each model, two plans: the one a machine with CuPy gets (cuBLAS ``Gemm`` steps for GEMMs above
``blas.MIN_MACS``, planned as if CuPy were usable) and the numba-kernels-only one (``NNGRAPH_CUDA_BLAS=off``).
Each row: steps (kernel launches + cuBLAS calls), cuBLAS calls, host steps, and the most frequent kernels. Launch
counts bound the host time of a launch-bound call (a few microseconds each); they are how the transformer changes
of the fifth session were checked without a GPU (vit_tiny 248 -> 188 steps with cuBLAS).
"""
from __future__ import annotations

import argparse
import collections
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

DEFAULT = ["mlp", "lenet5", "resnet18", "mobilenet_v2", "unet", "lstm_classifier", "gru_speech", "bert_tiny",
           "vit_tiny"]


def plan_counts(name: str, use_blas: bool) -> dict:
    from nngraph.backends.cuda import blas
    from nngraph.backends.cuda.ptx import plan_for
    from nngraph.models import ZOO

    saved = blas.enabled
    blas.enabled = (lambda: True) if use_blas else (lambda: False)
    try:
        spec = ZOO[name]
        plan = plan_for(spec.build(), spec.example_input(1, np.random.default_rng(0)))
    finally:
        blas.enabled = saved
    kinds = collections.Counter(
        getattr(getattr(s, "kernel", None), "py_func", getattr(s, "kernel", None)).__name__
        if hasattr(s, "kernel") else type(s).__name__ for s in plan.program)
    return {"steps": sum(kinds.values()) - len(plan.host_nodes), "cublas": kinds.get("Gemm", 0),
            "host": len(plan.host_nodes), "top": kinds.most_common(6)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=DEFAULT)
    args = ap.parse_args()
    print("| model | plan | steps | cuBLAS calls | host steps | most frequent |")
    print("|---|---|---|---|---|---|")
    for name in args.models:
        for use_blas in (True, False):
            r = plan_counts(name, use_blas)
            top = ", ".join(f"{k} {v}" for k, v in r["top"])
            print(f"| {name} | {'cuBLAS' if use_blas else 'kernels'} | {r['steps']} | {r['cublas']} | {r['host']} | "
                  f"{top} |", flush=True)


if __name__ == "__main__":
    main()
