"""What the CPU backend's scalar formulas (``backends/cpu/elementwise.py: SCALAR``) call as ``np.<fn>``, for CUDA
device code: generated kernels refer to this module as ``np``.

numba.cuda types ``math.*`` but not numpy's scalar functions, so on a GPU they map to ``math`` (libdevice) and a few
device functions. The simulator runs kernels as Python, where ``math.log(-1.0)`` raises instead of giving NaN as the
GPU does, so there they map to numpy's ufuncs (same values as the GPU's)."""
from __future__ import annotations

import math

import numpy as _np
from numba import config, cuda

float32 = _np.float32
float64 = _np.float64
int64 = _np.int64
nan = _np.nan
inf = _np.inf

min = min  # noqa: A001, PLW0127 -- re-exported for generated kernels (the GPU versions are below)
max = max  # noqa: A001, PLW0127

if config.ENABLE_CUDASIM:
    log, log1p, log2, log10, sqrt = _np.log, _np.log1p, _np.log2, _np.log10, _np.sqrt
    floor, ceil, trunc, sign = _np.floor, _np.ceil, _np.trunc, _np.sign
    isnan, isinf, isfinite = _np.isnan, _np.isinf, _np.isfinite
    arcsin, arccos, arctanh, cbrt, rint, signbit = _np.arcsin, _np.arccos, _np.arctanh, _np.cbrt, _np.rint, _np.signbit
    hypot, logaddexp, floordiv, mod = _np.hypot, _np.logaddexp, _np.floor_divide, _np.remainder

    def power(a, b):  # a negative base with a fractional exponent gives NaN, as the GPU's pow (math.pow raises)
        with _np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return _np.power(a, b)
else:
    log, log1p, log2, log10, sqrt = math.log, math.log1p, math.log2, math.log10, math.sqrt
    power = math.pow
    isnan, isinf, isfinite = math.isnan, math.isinf, math.isfinite

    # numba.cuda's builtin min/max of two scalars compiles through a star-args overload that NVVM lowering rejects
    # ("Signature mismatch"): two-argument device versions with Python's semantics (first argument on ties)
    @cuda.jit(device=True, inline=True)
    def min(a, b):  # noqa: A001
        return b if b < a else a

    @cuda.jit(device=True, inline=True)
    def max(a, b):  # noqa: A001
        return b if b > a else a

    @cuda.jit(device=True, inline=True)
    def floor(x):  # math.floor returns an integer in numba; numpy's keeps the float type
        return x - math.fmod(x, 1.0) - (1.0 if math.fmod(x, 1.0) < 0 else 0.0) if math.isfinite(x) else x

    @cuda.jit(device=True, inline=True)
    def ceil(x):
        return -floor(-x)

    @cuda.jit(device=True, inline=True)
    def trunc(x):
        return x - math.fmod(x, 1.0) if math.isfinite(x) else x

    @cuda.jit(device=True, inline=True)
    def sign(x):
        return x if x != x else (x * 0 + 1 if x > 0 else (x * 0 - 1 if x < 0 else x * 0))

    arcsin, arccos, arctanh, hypot = math.asin, math.acos, math.atanh, math.hypot

    @cuda.jit(device=True, inline=True)
    def cbrt(x):
        return math.copysign(math.pow(abs(x), 1.0 / 3.0), x) if x == x and x != 0 else x

    @cuda.jit(device=True, inline=True)
    def rint(x):  # round half to even, like numpy
        if not math.isfinite(x):
            return x
        r = floor(x + 0.5)
        if r - x == 0.5 and math.fmod(r, 2.0) != 0:
            r -= 1.0
        return x * 0 + r

    @cuda.jit(device=True, inline=True)
    def signbit(x):
        return math.copysign(1.0, x) < 0

    @cuda.jit(device=True, inline=True)
    def logaddexp(x, y):  # numpy's npy_logaddexp
        if x == y:
            return x + math.log(2.0)
        d = x - y
        if d > 0:
            return x + math.log1p(math.exp(-d))
        if d <= 0:
            return y + math.log1p(math.exp(d))
        return d

    @cuda.jit(device=True, inline=True)
    def _divmod(a, b):  # numpy's npy_divmod (float64; exact for integers below 2**53)
        a = a * 1.0
        b = b * 1.0
        if b == 0:
            q = math.copysign(math.inf, a) * math.copysign(1.0, b) if a != 0 and a == a else math.nan
            return q, math.nan
        m = math.fmod(a, b)
        div = (a - m) / b
        if m != 0:
            if (b < 0) != (m < 0):
                m += b
                div -= 1.0
        else:
            m = math.copysign(0.0, b)
        if div != 0:
            q = floor(div)
            if div - q > 0.5:
                q += 1.0
        else:
            q = math.copysign(0.0, a / b)
        return q, m

    @cuda.jit(device=True, inline=True)
    def floordiv(a, b):
        return _divmod(a, b)[0]

    @cuda.jit(device=True, inline=True)
    def mod(a, b):
        return _divmod(a, b)[1]
