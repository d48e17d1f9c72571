"""Compile a ResNet with ``nngraph.compile`` and compare it with eager execution: the outputs, the compile time and
the latency.

    python examples/compile_resnet.py [--small] [--batch N] [--runs R]

``--small`` (CI) uses a one-block-per-stage ResNet on 32x32 images; the default is ResNet-18 on 224x224.
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, Callable

import numpy as np

import nngraph
from nngraph import models
from nngraph.models.resnet import BasicBlock, ResNet


def median_ms(fn: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="a tiny ResNet on 32x32 inputs (for CI)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--runs", type=int, default=None, help="timed calls per engine (default 20, --small 5)")
    args = parser.parse_args()
    runs = args.runs or (5 if args.small else 20)

    nngraph.manual_seed(0)
    if args.small:
        model, size, name = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10), 32, "ResNet-10 (one block per stage)"
    else:
        model, size, name = models.resnet18(), 224, "ResNet-18"
    model.eval()
    x = np.random.default_rng(0).standard_normal((args.batch, 3, size, size), dtype=np.float32)

    compiled = nngraph.compile(model)
    start = time.perf_counter()
    y = compiled(x)  # the first call traces, optimizes and compiles for this input shape
    compile_s = time.perf_counter() - start
    y_eager = model(x)

    print(f"{name}, input {x.shape}")
    print(f"compile + first call: {compile_s:.1f} s (a second process reuses the on-disk cache)")
    diff = float(np.abs(y - y_eager).max())
    print(f"max |compiled - eager| = {diff:.2e}")
    np.testing.assert_allclose(y, y_eager, rtol=1e-3, atol=1e-4)
    print("outputs match")

    eager_ms = median_ms(lambda: model(x), runs)
    compiled_ms = median_ms(lambda: compiled(x), runs)
    print(f"eager    {eager_ms:8.2f} ms/call (median of {runs})")
    print(f"compiled {compiled_ms:8.2f} ms/call: {eager_ms / compiled_ms:.2f}x eager")
    # Same parameters, same state_dict: the compiled module *is* the model.
    assert list(compiled.state_dict()) == list(model.state_dict())


if __name__ == "__main__":
    main()
