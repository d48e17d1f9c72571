"""Micro-benchmarks of the CPU GEMM / convolution kernels against numpy's BLAS and torch (when importable).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/kernels.py [--threads N] [--time SECONDS]

Reports the median time of repeated runs as GFLOP/s (2*M*N*K, or the direct-convolution flop count). "ours" runs
the ``*_std`` kernels (convolutions with their fused bias + ReLU epilogue, which the others do not pay for);
"numpy" is np.matmul on the same GEMM (for convolutions: the equivalent GEMM on an im2col matrix built outside
the timing, i.e. a lower bound on a numpy conv); "torch" is torch.nn.functional on the same tensors.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Callable

import numba
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from nngraph.backends.cpu import kernels as K  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # torch is optional
    torch = None


def median_time(fn: Callable[[], object], budget: float) -> float:
    fn()
    fn()
    times: list[float] = []
    end = time.perf_counter() + budget
    while len(times) < 5 or (time.perf_counter() < end and len(times) < 2000):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def im2col(x: np.ndarray, kh: int, kw: int, stride: int, pad: int) -> np.ndarray:
    xp = np.pad(x[0], ((0, 0), (pad, pad), (pad, pad)))
    c, h, w = xp.shape
    oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
    cols = np.empty((c, kh, kw, oh, ow), x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = xp[:, i:i + stride * oh:stride, j:j + stride * ow:stride]
    return cols.reshape(c * kh * kw, oh * ow)


def conv_case(name: str, c: int, o: int, hw: int, k: int, stride: int, groups: int, budget: float) -> tuple:
    rng = np.random.default_rng(0)
    pad = k // 2
    x = rng.standard_normal((1, c, hw, hw)).astype(np.float32)
    w = (rng.standard_normal((o, c // groups, k, k)) * 0.1).astype(np.float32)
    bias = rng.standard_normal(o).astype(np.float32)
    padding = (pad, pad, pad, pad)
    p = K.conv_params(w.shape, x.shape, (stride, stride), padding, (1, 1), groups)
    algo = K.choose_conv_algo(c, o, k, k, (stride, stride), padding, (1, 1), groups, hw, hw, 1)
    wp = K.prepare_conv_weight(w, groups, algo)
    out = np.empty((1, o, p[9], p[10]), np.float32)
    args = K.std_args(np.float32, bias=bias, bias_axis=0, act="relu")
    kern = K.conv.std_kernel(algo)
    flops = 2.0 * out.size * (c // groups) * k * k
    ours = median_time(lambda: kern(x, wp, out, p, args), budget)
    cols = im2col(x, k, k, stride, pad)
    if groups == 1:
        wm = w.reshape(o, -1)
        res = np.empty((o, cols.shape[1]), np.float32)
        npt = median_time(lambda: np.matmul(wm, cols, out=res), budget)
    else:  # per-group batched GEMM (depthwise: (C, 1, 9) @ (C, 9, P))
        wg = w.reshape(groups, o // groups, -1)
        cg = cols.reshape(groups, -1, cols.shape[1])
        npt = median_time(lambda: np.matmul(wg, cg), budget)
    tt = None
    if torch is not None:
        xt, wt, bt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(bias)
        with torch.no_grad():
            tt = median_time(lambda: F.conv2d(xt, wt, bt, stride, pad, 1, groups), budget)
    return name + f" [{K.conv.ALGO_NAMES[algo]}]", flops, ours, npt, tt


def gemm_case(name: str, m: int, n: int, k: int, budget: float) -> tuple:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    c = np.empty((m, n), np.float32)
    args = K.std_args(np.float32)
    ours = median_time(lambda: K.gemm_std(a, b, c, args), budget)
    npt = median_time(lambda: np.matmul(a, b, out=c), budget)
    tt = None
    if torch is not None:
        at, bt, ct = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
        tt = median_time(lambda: torch.mm(at, bt, out=ct), budget)
    return name, 2.0 * m * n * k, ours, npt, tt


def linear_case(name: str, batch: int, fin: int, fout: int, budget: float) -> tuple:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((batch, fin)).astype(np.float32)
    w = (rng.standard_normal((fout, fin)) * 0.05).astype(np.float32)
    bias = rng.standard_normal(fout).astype(np.float32)
    bp = K.pack_bt(w)
    c = np.empty((batch, fout), np.float32)
    args = K.std_args(np.float32, bias=bias, bias_axis=1)
    ours = median_time(lambda: K.gemm_packed_std(x, bp, c, args), budget)
    wt = w.T
    npt = median_time(lambda: np.matmul(x, wt, out=c), budget)
    tt = None
    if torch is not None:
        xt, wtt, bt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(bias)
        with torch.no_grad():
            tt = median_time(lambda: F.linear(xt, wtt, bt), budget)
    return name, 2.0 * batch * fin * fout, ours, npt, tt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=numba.config.NUMBA_NUM_THREADS)
    ap.add_argument("--time", type=float, default=0.5, help="seconds of timing per case and library")
    opts = ap.parse_args()
    numba.set_num_threads(opts.threads)
    if torch is not None:
        torch.set_num_threads(opts.threads)
    t0 = time.perf_counter()
    K.preload((np.float32,))
    print(f"kernels ready in {time.perf_counter() - t0:.1f} s (compile, or load from Numba's cache)")
    print(f"threads={opts.threads} avx512={K.HAS_AVX512} OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}")
    b = opts.time
    rows = [
        conv_case("conv3x3 64->64 56x56", 64, 64, 56, 3, 1, 1, b),
        conv_case("conv1x1 64->256 56x56", 64, 256, 56, 1, 1, 1, b),
        conv_case("conv1x1 256->64 56x56", 256, 64, 56, 1, 1, 1, b),
        conv_case("conv3x3 s2 128->256 28x28", 128, 256, 28, 3, 2, 1, b),
        conv_case("dw3x3 128 56x56", 128, 128, 56, 3, 1, 128, b),
        conv_case("dw3x3 s2 256 28x28", 256, 256, 28, 3, 2, 256, b),
        gemm_case("gemm 512x512x512", 512, 512, 512, b),
        gemm_case("gemm M64 K576 N3136", 64, 3136, 576, b),
        linear_case("linear b1 784->512", 1, 784, 512, b),
        linear_case("linear b64 784->512", 64, 784, 512, b),
    ]
    print(f"{'case':34s} {'ours':>14s} {'numpy':>14s} {'torch':>14s}   GFLOP/s (median time)")
    for name, flops, ours, npt, tt in rows:
        def cell(t: float | None) -> str:
            return "-" if t is None else f"{flops / t / 1e9:6.1f} {t * 1e6:6.0f}us"
        print(f"{name:34s} {cell(ours):>14s} {cell(npt):>14s} {cell(tt):>14s}")


if __name__ == "__main__":
    main()
