"""Host-side Python cost of one device-I/O call of a ``target="cuda"`` module, with the kernel launches stubbed out.

Runs without a GPU (on numba's CUDA simulator): it times everything a call does on the host except the launches
themselves and the output allocation -- the module wrapper, the specialization lookup, the input checks, the
pointer binding -- which is what decides batch-1 latency of small models (the MLP 784-512-512-10 runs three
launches). Prints the median over repeated rounds and a cProfile of the call.

    NUMBA_ENABLE_CUDASIM=1 python bench/cuda_host_overhead.py [--calls 5000] [--rounds 7]
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import time

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np  # noqa: E402

import nngraph  # noqa: E402
from nngraph import nn  # noqa: E402


class _Stub:
    """A pointer-only launcher that launches nothing."""

    pointer_io = True

    def bind(self, ptrs: object) -> None:
        pass

    def fire(self) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    from numba import cuda

    from nngraph.backends.cuda import executor

    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)).eval()
    compiled = nngraph.compile(model, target="cuda")
    x = np.random.default_rng(0).standard_normal((1, 784)).astype(np.float32)
    compiled(x)
    exe = compiled.specializations[0].executable
    exe._launches = [(_Stub(), node) for _, node in exe._launches]
    exe._nd_io = True
    executor.io_pointer = lambda a: (id(a), 1)  # simulator arrays have no device pointer
    out = cuda.device_array((1, 10), np.float32)

    class _Pool:  # the output pool's work is measured on a GPU (bench/cuda_check.py)
        n_allocated = 1

        def take(self) -> object:
            return out

    exe._pools = [_Pool()]
    xd = cuda.to_device(x)
    for _ in range(200):
        compiled(xd)
    per_call = []
    for _ in range(args.rounds):
        t = time.perf_counter()
        for _ in range(args.calls):
            compiled(xd)
        per_call.append((time.perf_counter() - t) / args.calls * 1e6)
    print(f"host time per device-I/O call, launches stubbed: median {statistics.median(per_call):.1f} us "
          f"(rounds: {', '.join(f'{v:.1f}' for v in per_call)})")
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(args.calls):
        compiled(xd)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
