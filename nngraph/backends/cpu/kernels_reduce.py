"""Reduction and softmax kernels of the CPU backend (lowered by ``lower_reduce.py``).

Every reduction is cut into one of two layouts over a (possibly strided) input, with shapes and strides as runtime
tuples (3 kept dims ``ksh``/``kst``, 3 reduced dims ``rsh``/``rst``) so that one compiled kernel serves every node:

* rows (``cols=False``): ``out[k] = R over r of x[k, r, 0:n]`` -- the innermost reduced run of ``n`` values is
  contiguous (a horizontal reduction: sum over the last axis, global pooling over H*W, ...).
* cols (``cols=True``): ``out[k, 0:n] = R over r of x[k, r, 0:n]`` -- the innermost *kept* run is contiguous (a
  vertical reduction: rows accumulated elementwise into the output, in blocks of ``bw`` columns).

Ops are grouped into four families sharing accumulator types (arith: sum/mean/prod/var/std in the output dtype;
minmax; any/all; argmax/argmin), one kernel per family for both layouts (each parallel kernel costs about a second
of compile time per dtype, so there are few). The op is a runtime code tested outside the inner loops. Loops are
written so that LLVM vectorizes them: contiguous slices, local accumulators, float sums compiled with ``reassoc``
(blocked: 4096-element blocks summed in SIMD lanes, then blocks added), float max/min over order-preserving integer
keys (LLVM vectorizes integer min/max reductions, not float ones with NaN), a float32 exp written as straight-line
float code (libm's expf is a scalar call).

Accumulation follows numpy: sums in the output dtype (float32 stays float32, ints in int64, int mean/var in
float64); var is two-pass (mean, then the sum of squared deviations divided by ``max(n - ddof, 0)``); max/min and
argmax/argmin propagate NaN (argmax returns the first NaN).
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic, overload

OP_SUM, OP_MEAN, OP_PROD, OP_VAR, OP_STD = 0, 1, 2, 3, 4
OP_MAX, OP_MIN = 0, 1
OP_ANY, OP_ALL = 0, 1
OP_ARGMAX, OP_ARGMIN = 0, 1

BLOCK = 4096  # elements per partial sum in blocked summation
# Column layouts run one task per (kept index, block of ``bw`` columns); ``bw`` is the whole row unless the lowering
# splits rows for parallelism: long contiguous runs matter (short strided stripes defeat the prefetchers).

_FLAGS = dict(cache=True, nogil=True, error_model="numpy")
_REASSOC = dict(nogil=True, error_model="numpy", fastmath={"reassoc"})


# --------------------------------------------------------------------------------------------- scalar helpers
@intrinsic
def okey(typingctx, v):  # noqa: ANN001, ANN201
    """Order-preserving integer key of a float (total order: -NaN < -inf < ... < -0.0 < 0.0 < ... < inf < NaN);
    integers and booleans are their own key."""
    if isinstance(v, types.Float):
        bw = v.bitwidth
        ity = types.int32 if bw == 32 else types.int64

        def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
            it = ir.IntType(bw)
            b = builder.bitcast(args[0], it)
            m = builder.and_(builder.ashr(b, ir.Constant(it, bw - 1)), ir.Constant(it, (1 << (bw - 1)) - 1))
            return builder.xor(b, m)

        return ity(v), codegen
    if isinstance(v, (types.Integer, types.Boolean)):
        def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
            return args[0]

        return v(v), codegen
    return None


@intrinsic
def unkey(typingctx, k, like):  # noqa: ANN001, ANN201
    """Inverse of ``okey``: the value (of ``like``'s type) whose key is ``k``."""
    if isinstance(like, types.Float):
        bw = like.bitwidth

        def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
            it = ir.IntType(bw)
            b = args[0]
            m = builder.and_(builder.ashr(b, ir.Constant(it, bw - 1)), ir.Constant(it, (1 << (bw - 1)) - 1))
            return builder.bitcast(builder.xor(b, m), context.get_value_type(like))

        return like(k, like), codegen
    if isinstance(like, (types.Integer, types.Boolean)) and k == like:
        def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
            return args[0]

        return like(k, like), codegen
    return None


@intrinsic
def _i32_as_f32(typingctx, v):  # noqa: ANN001, ANN201
    if not isinstance(v, types.Integer):
        return None

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        return builder.bitcast(builder.trunc(args[0], ir.IntType(32)) if args[0].type.width > 32 else args[0],
                               ir.FloatType())

    return types.float32(v), codegen


@njit(nogil=True, inline="always")
def exp_f32(x):  # noqa: ANN001, ANN201
    """float32 exp with < 1 ulp error over the whole range (denormal results included; exp(-inf) = 0, inf past
    log(FLT_MAX), exp(NaN) = NaN); straight-line float code (exponent arithmetic in float too, so no 64-bit integer
    lanes) that the loop vectorizer turns into SIMD code. Callers compile with fastmath={"contract"} to get FMAs."""
    xc = np.float32(88.72283) if x > np.float32(88.72283) else x
    xc = np.float32(-104.0) if xc < np.float32(-104.0) else xc
    n = np.floor(xc * np.float32(1.44269504088896341) + np.float32(0.5))
    r = xc - n * np.float32(0.693359375)  # Cody-Waite: ln2 split in a short exact part and a correction
    r = r - n * np.float32(-2.12194440e-4)
    p = np.float32(1.9875691500e-4)
    p = p * r + np.float32(1.3981999507e-3)
    p = p * r + np.float32(8.3334519073e-3)
    p = p * r + np.float32(4.1665795894e-2)
    p = p * r + np.float32(1.6666665459e-1)
    p = p * r + np.float32(5.0000001201e-1)
    p = p * (r * r) + r + np.float32(1.0)
    n = n if n == n else np.float32(0.0)
    h = np.floor(n * np.float32(0.5))  # 2**n in two factors: n reaches -150 (denormals) and +128
    s1 = _i32_as_f32(np.int32((h + np.float32(127.0)) * np.float32(8388608.0)))
    s2 = _i32_as_f32(np.int32((n - h + np.float32(127.0)) * np.float32(8388608.0)))
    y = p * s1 * s2
    y = np.float32(np.inf) if x > np.float32(88.72283) else y  # past log(FLT_MAX): overflow, as numpy
    return np.float32(0.0) if x < np.float32(-104.0) else y


def fexp(x):  # noqa: ANN001, ANN201
    """exp in the argument's float type (float32: the vectorizable ``exp_f32``)."""
    return math.exp(x)


@overload(fexp)
def _ov_fexp(x):  # noqa: ANN001, ANN202
    if x == types.float32:
        return lambda x: exp_f32(x)
    return lambda x: math.exp(x)


# --------------------------------------------------------------------------------------------- row helpers
# The ``*_inl`` helpers are inlined into their callers at the Numba level (a call per row costs ~10-30 ns, as much as
# summing 50 floats); float sums vectorize only where the caller is compiled with fastmath={"reassoc"}.
def _rsum(xs, n, zero):  # noqa: ANN001, ANN201
    """Blocked sum of ``xs[0:n]`` accumulated in ``zero``'s type."""
    total = zero
    for b0 in range(0, n, BLOCK):
        blk = xs[b0:min(b0 + BLOCK, n)]
        s = zero
        for j in range(blk.shape[0]):
            s += blk[j]
        total += s
    return total


rsum = njit(**_REASSOC)(_rsum)
rsum_inl = njit(nogil=True, inline="always")(_rsum)


@njit(nogil=True, inline="always")
def rsum_sqdev_inl(xs, n, mean, zero):  # noqa: ANN001, ANN201
    """Blocked sum of ``(xs - mean) ** 2`` accumulated in ``zero``'s type."""
    total = zero
    for b0 in range(0, n, BLOCK):
        blk = xs[b0:min(b0 + BLOCK, n)]
        s = zero
        for j in range(blk.shape[0]):
            d = blk[j] - mean
            s += d * d
        total += s
    return total


@njit(nogil=True, inline="always")
def rprod_inl(xs, n, one):  # noqa: ANN001, ANN201
    p = one
    for j in range(n):
        p *= xs[j]
    return p


@njit(nogil=True)
def _first_nan(xs, n):  # noqa: ANN001, ANN201
    for j in range(n):
        if xs[j] != xs[j]:
            return xs[j]
    return xs[0]


def has_nan_keys(kmax, kmin, like):  # noqa: ANN001, ANN201
    """Whether the largest/smallest order keys of a float array are NaN keys (beyond +-inf); False for ints."""
    return False


@overload(has_nan_keys)
def _ov_has_nan_keys(kmax, kmin, like):  # noqa: ANN001, ANN202
    if isinstance(like, types.Float):
        dt = np.float32 if like == types.float32 else np.float64
        top, bottom = dt(np.inf), dt(-np.inf)
        return lambda kmax, kmin, like: kmax > okey(top) or kmin < okey(bottom)
    return lambda kmax, kmin, like: False


@njit(nogil=True, inline="always")
def _key_range(xs, n):  # noqa: ANN001, ANN201
    """Largest and smallest order keys of ``xs[0:n]`` (n >= 1): two integer reductions LLVM vectorizes at the
    full vector width; NaNs (either sign) end up beyond the keys of +-inf."""
    mx = okey(xs[0])
    mn = mx
    for j in range(n):
        k = okey(xs[j])
        mx = k if k > mx else mx
        mn = k if k < mn else mn
    return mx, mn


@njit(nogil=True, inline="always")
def rmax(xs, n):  # noqa: ANN001, ANN201
    """max of ``xs[0:n]`` (n >= 1); NaN if any element is NaN."""
    mx, mn = _key_range(xs, n)
    if has_nan_keys(mx, mn, xs[0]):
        return _first_nan(xs, n)
    return unkey(mx, xs[0])


@njit(nogil=True, inline="always")
def rmin(xs, n):  # noqa: ANN001, ANN201
    mx, mn = _key_range(xs, n)
    if has_nan_keys(mx, mn, xs[0]):
        return _first_nan(xs, n)
    return unkey(mn, xs[0])


@njit(nogil=True, inline="always")
def _find(xs, n, v):  # noqa: ANN001, ANN201
    """First index of ``v`` in ``xs[0:n]`` (of a NaN when ``v`` is NaN); ``==`` so that -0.0 matches 0.0 as in
    numpy's argmax."""
    if v != v:
        for j in range(n):
            if xs[j] != xs[j]:
                return j
    else:
        for j in range(n):
            if xs[j] == v:
                return j
    return 0


@njit(nogil=True)
def _set(dst, v, n):  # noqa: ANN001, ANN201
    """dst[0:n] = v (a plain loop: slice assignment costs numba a lot of compile time)."""
    for j in range(n):
        dst[j] = v


@njit(nogil=True)
def _copy(dst, src, n):  # noqa: ANN001, ANN201
    for j in range(n):
        dst[j] = src[j]


@njit(nogil=True, inline="always")
def _kept(ksh, kst, q):  # noqa: ANN001, ANN201
    """Input offset of kept index ``q`` (C order over the 3 kept dims)."""
    if ksh[0] == 1 and ksh[1] == 1:  # the usual case after collapsing: no integer divisions
        return q * kst[2]
    c = q % ksh[2]
    t = q // ksh[2]
    return (t // ksh[1]) * kst[0] + (t % ksh[1]) * kst[1] + c * kst[2]


@njit(nogil=True, inline="always")
def _red(rsh, rst, r):  # noqa: ANN001, ANN201
    """Input offset of reduced index ``r`` (C order over the 3 reduced dims)."""
    if rsh[0] == 1 and rsh[1] == 1:
        return r * rst[2]
    c = r % rsh[2]
    t = r // rsh[2]
    return (t // rsh[1]) * rst[0] + (t % rsh[1]) * rst[1] + c * rst[2]


@njit(nogil=True, inline="always")
def _n_tasks(cols, ksh, n, bw):  # noqa: ANN001, ANN201
    return ksh[0] * ksh[1] * ksh[2] * ((n + bw - 1) // bw if cols else 1)


# --------------------------------------------------------------------------------------------- arith: sum ... std
@njit(nogil=True, error_model="numpy", fastmath={"reassoc"})
def _arith_row(op, x, xo, out, oo, ksh, kst, rsh, rst, n, ddof, i):  # noqa: ANN001, ANN201
    base = xo + _kept(ksh, kst, i)
    nr = rsh[0] * rsh[1] * rsh[2]
    zero = out.dtype.type(0)
    if op == OP_PROD:
        acc = out.dtype.type(1)
        for r in range(nr):
            o = base + _red(rsh, rst, r)
            acc *= rprod_inl(x[o:o + n], n, out.dtype.type(1))
        out[oo + i] = acc
        return
    acc = zero
    for r in range(nr):
        o = base + _red(rsh, rst, r)
        acc += rsum_inl(x[o:o + n], n, zero)
    if op == OP_SUM:
        out[oo + i] = acc
        return
    count = nr * n
    mean = acc / out.dtype.type(count)
    if op == OP_MEAN:
        out[oo + i] = mean
        return
    ss = zero
    for r in range(nr):
        o = base + _red(rsh, rst, r)
        ss += rsum_sqdev_inl(x[o:o + n], n, mean, zero)
    var = ss / out.dtype.type(max(count - ddof, 0))
    out[oo + i] = np.sqrt(var) if op == OP_STD else var


@njit(nogil=True, error_model="numpy")
def _accumulate(acc, xs, n, prod):  # noqa: ANN001, ANN201
    if prod:
        for j in range(n):
            acc[j] *= xs[j]
    else:
        for j in range(n):
            acc[j] += xs[j]


@njit(nogil=True, error_model="numpy")
def _accumulate_sqdev(acc, xs, mean, n):  # noqa: ANN001, ANN201
    for j in range(n):
        d = xs[j] - mean[j]
        acc[j] += d * d


@njit(nogil=True, error_model="numpy")
def _arith_col(op, x, xo, out, oo, ksh, kst, rsh, rst, m, bw, ddof, t):  # noqa: ANN001, ANN201
    nb = (m + bw - 1) // bw
    q = t // nb
    j0 = (t % nb) * bw
    jn = min(bw, m - j0)
    base = xo + _kept(ksh, kst, q) + j0
    acc = out[oo + q * m + j0:oo + q * m + j0 + jn]
    prod = op == OP_PROD
    _set(acc, 1 if prod else 0, jn)
    nr = rsh[0] * rsh[1] * rsh[2]
    for r in range(nr):
        o = base + _red(rsh, rst, r)
        _accumulate(acc, x[o:o + jn], jn, prod)
    if op == OP_SUM or op == OP_PROD:
        return
    cnt = out.dtype.type(nr)
    for j in range(jn):
        acc[j] = acc[j] / cnt
    if op == OP_MEAN:
        return
    ss = np.empty(jn, out.dtype)
    _set(ss, 0, jn)
    for r in range(nr):
        o = base + _red(rsh, rst, r)
        _accumulate_sqdev(ss, x[o:o + jn], acc, jn)
    div = out.dtype.type(max(nr - ddof, 0))
    if op == OP_STD:
        for j in range(jn):
            acc[j] = np.sqrt(ss[j] / div)
    else:
        for j in range(jn):
            acc[j] = ss[j] / div


@njit(parallel=True, **_FLAGS)
def arith_reduce(op, x, xo, out, oo, cols, ksh, kst, rsh, rst, n, bw, ddof, par):  # noqa: ANN001, ANN201
    """sum / mean / prod / var / std (``op``) in the output dtype, over the rows or cols layout (module doc)."""
    n_tasks = _n_tasks(cols, ksh, n, bw)
    if par:
        for t in prange(n_tasks):
            if cols:
                _arith_col(op, x, xo, out, oo, ksh, kst, rsh, rst, n, bw, ddof, t)
            else:
                _arith_row(op, x, xo, out, oo, ksh, kst, rsh, rst, n, ddof, t)
    else:
        for t in range(n_tasks):
            if cols:
                _arith_col(op, x, xo, out, oo, ksh, kst, rsh, rst, n, bw, ddof, t)
            else:
                _arith_row(op, x, xo, out, oo, ksh, kst, rsh, rst, n, ddof, t)


# --------------------------------------------------------------------------------------------- max / min
@njit(nogil=True)
def _minmax_row(op, x, xo, out, oo, ksh, kst, rsh, rst, n, i):  # noqa: ANN001, ANN201
    base = xo + _kept(ksh, kst, i)
    best = x[base]
    for r in range(rsh[0] * rsh[1] * rsh[2]):
        o = base + _red(rsh, rst, r)
        if op == OP_MAX:
            v = rmax(x[o:o + n], n)
            best = v if (v > best or v != v) and best == best else best
        else:
            v = rmin(x[o:o + n], n)
            best = v if (v < best or v != v) and best == best else best
    out[oo + i] = best


@njit(nogil=True)
def _maxacc(acc, xs, n):  # noqa: ANN001, ANN201
    for j in range(n):
        v = xs[j]
        a = acc[j]
        acc[j] = v if (v > a or v != v) and a == a else a


@njit(nogil=True)
def _minacc(acc, xs, n):  # noqa: ANN001, ANN201
    for j in range(n):
        v = xs[j]
        a = acc[j]
        acc[j] = v if (v < a or v != v) and a == a else a


@njit(nogil=True)
def _minmax_col(op, x, xo, out, oo, ksh, kst, rsh, rst, m, bw, t):  # noqa: ANN001, ANN201
    nb = (m + bw - 1) // bw
    q = t // nb
    j0 = (t % nb) * bw
    jn = min(bw, m - j0)
    base = xo + _kept(ksh, kst, q) + j0
    acc = out[oo + q * m + j0:oo + q * m + j0 + jn]
    _copy(acc, x[base:base + jn], jn)
    for r in range(rsh[0] * rsh[1] * rsh[2]):
        o = base + _red(rsh, rst, r)
        if op == OP_MAX:
            _maxacc(acc, x[o:o + jn], jn)
        else:
            _minacc(acc, x[o:o + jn], jn)


@njit(parallel=True, **_FLAGS)
def minmax_reduce(op, x, xo, out, oo, cols, ksh, kst, rsh, rst, n, bw, par):  # noqa: ANN001, ANN201
    """max / min (``op``), NaN-propagating, over the rows or cols layout (module doc)."""
    n_tasks = _n_tasks(cols, ksh, n, bw)
    if par:
        for t in prange(n_tasks):
            if cols:
                _minmax_col(op, x, xo, out, oo, ksh, kst, rsh, rst, n, bw, t)
            else:
                _minmax_row(op, x, xo, out, oo, ksh, kst, rsh, rst, n, t)
    else:
        for t in range(n_tasks):
            if cols:
                _minmax_col(op, x, xo, out, oo, ksh, kst, rsh, rst, n, bw, t)
            else:
                _minmax_row(op, x, xo, out, oo, ksh, kst, rsh, rst, n, t)


# --------------------------------------------------------------------------------------------- any / all
@njit(nogil=True)
def _rany(xs, n):  # noqa: ANN001, ANN201
    s = False
    for j in range(n):
        s |= xs[j] != 0
    return s


@njit(nogil=True)
def _rall(xs, n):  # noqa: ANN001, ANN201
    s = True
    for j in range(n):
        s &= xs[j] != 0
    return s


@njit(nogil=True)
def _bool_task(op, x, xo, out, oo, cols, ksh, kst, rsh, rst, n, bw, t):  # noqa: ANN001, ANN201
    nr = rsh[0] * rsh[1] * rsh[2]
    if not cols:
        base = xo + _kept(ksh, kst, t)
        res = op == OP_ALL
        for r in range(nr):
            o = base + _red(rsh, rst, r)
            if op == OP_ANY:
                res = res or _rany(x[o:o + n], n)
            else:
                res = res and _rall(x[o:o + n], n)
        out[oo + t] = res
        return
    nb = (n + bw - 1) // bw
    q = t // nb
    j0 = (t % nb) * bw
    jn = min(bw, n - j0)
    base = xo + _kept(ksh, kst, q) + j0
    acc = out[oo + q * n + j0:oo + q * n + j0 + jn]
    _set(acc, op == OP_ALL, jn)
    for r in range(nr):
        o = base + _red(rsh, rst, r)
        xs = x[o:o + jn]
        if op == OP_ANY:
            for j in range(jn):
                acc[j] |= xs[j] != 0
        else:
            for j in range(jn):
                acc[j] &= xs[j] != 0


@njit(**_FLAGS)  # rarely large: serial (prange is range), which saves the parallel compile
def bool_reduce(op, x, xo, out, oo, cols, ksh, kst, rsh, rst, n, bw, par):  # noqa: ANN001, ANN201
    """any / all (``op``) of ``x != 0`` into a bool output, over the rows or cols layout (module doc)."""
    for t in range(_n_tasks(cols, ksh, n, bw)):
        _bool_task(op, x, xo, out, oo, cols, ksh, kst, rsh, rst, n, bw, t)


# --------------------------------------------------------------------------------------------- argmax / argmin
@njit(nogil=True)
def _arg_row(op, x, xo, out, oo, ksh, kst, n, i):  # noqa: ANN001, ANN201
    base = xo + _kept(ksh, kst, i)
    xs = x[base:base + n]
    v = rmax(xs, n) if op == OP_ARGMAX else rmin(xs, n)
    out[oo + i] = _find(xs, n, v)


@njit(nogil=True)
def _arg_col(op, x, xo, out, oo, ksh, kst, m, bw, na, sa, t):  # noqa: ANN001, ANN201
    nb = (m + bw - 1) // bw
    q = t // nb
    j0 = (t % nb) * bw
    jn = min(bw, m - j0)
    base = xo + _kept(ksh, kst, q) + j0
    idx = out[oo + q * m + j0:oo + q * m + j0 + jn]
    best = np.empty(jn, x.dtype)
    _copy(best, x[base:base + jn], jn)
    _set(idx, 0, jn)
    for r in range(1, na):
        xs = x[base + r * sa:base + r * sa + jn]
        if op == OP_ARGMAX:
            for j in range(jn):
                v = xs[j]
                b = best[j]
                take = (v > b or v != v) and b == b
                best[j] = v if take else b
                idx[j] = r if take else idx[j]
        else:
            for j in range(jn):
                v = xs[j]
                b = best[j]
                take = (v < b or v != v) and b == b
                best[j] = v if take else b
                idx[j] = r if take else idx[j]


@njit(parallel=True, **_FLAGS)
def arg_reduce(op, x, xo, out, oo, cols, ksh, kst, n, bw, na, sa, par):  # noqa: ANN001, ANN201
    """argmax / argmin (``op``; the first NaN wins) along one axis: rows: over the contiguous run x[k, 0:n];
    cols: over r < na of x[k, r * sa + 0:n]."""
    n_tasks = _n_tasks(cols, ksh, n, bw)
    if par:
        for t in prange(n_tasks):
            if cols:
                _arg_col(op, x, xo, out, oo, ksh, kst, n, bw, na, sa, t)
            else:
                _arg_row(op, x, xo, out, oo, ksh, kst, n, t)
    else:
        for t in range(n_tasks):
            if cols:
                _arg_col(op, x, xo, out, oo, ksh, kst, n, bw, na, sa, t)
            else:
                _arg_row(op, x, xo, out, oo, ksh, kst, n, t)


@njit(**_FLAGS)
def fill(out, oo, n, value):  # noqa: ANN001, ANN201
    """out[oo:oo + n] = value (the result of an empty reduction)."""
    for i in range(n):
        out[oo + i] = value


# --------------------------------------------------------------------------------------------- softmax
@njit(nogil=True, error_model="numpy", fastmath={"contract"})
def _exp_shift(xs, os, m, n):  # noqa: ANN001, ANN201
    for j in range(n):
        os[j] = fexp(xs[j] - m)


@njit(nogil=True, error_model="numpy", fastmath={"contract"})
def _exp_shift_acc(xs, os, mx, s, n):  # noqa: ANN001, ANN201
    for j in range(n):
        e = fexp(xs[j] - mx[j])
        os[j] = e
        s[j] += e


@njit(nogil=True, error_model="numpy")
def _softmax_row(log, x, xo, out, oo, n, i):  # noqa: ANN001, ANN201
    xs = x[xo + i * n:xo + i * n + n]
    os = out[oo + i * n:oo + i * n + n]
    m = rmax(xs, n)
    _exp_shift(xs, os, m, n)
    s = rsum(os, n, out.dtype.type(0))
    if log:
        lse = np.log(s)
        for j in range(n):
            os[j] = (xs[j] - m) - lse
    else:
        for j in range(n):
            os[j] = os[j] / s


@njit(nogil=True, error_model="numpy")
def _softmax_col(log, x, xo, out, oo, na, m, bw, t):  # noqa: ANN001, ANN201
    nb = (m + bw - 1) // bw
    q = t // nb
    j0 = (t % nb) * bw
    jn = min(bw, m - j0)
    base = q * na * m + j0
    mx = np.empty(jn, x.dtype)
    _copy(mx, x[xo + base:xo + base + jn], jn)
    for a in range(1, na):
        _maxacc(mx, x[xo + base + a * m:xo + base + a * m + jn], jn)
    s = np.empty(jn, out.dtype)
    _set(s, 0, jn)
    for a in range(na):
        o = base + a * m
        _exp_shift_acc(x[xo + o:xo + o + jn], out[oo + o:oo + o + jn], mx, s, jn)
    if log:
        for j in range(jn):
            s[j] = np.log(s[j])
        for a in range(na):
            xs = x[xo + base + a * m:xo + base + a * m + jn]
            os = out[oo + base + a * m:oo + base + a * m + jn]
            for j in range(jn):
                os[j] = (xs[j] - mx[j]) - s[j]
    else:
        for a in range(na):
            os = out[oo + base + a * m:oo + base + a * m + jn]
            for j in range(jn):
                os[j] = os[j] / s[j]


@njit(parallel=True, **_FLAGS)
def softmax(log, x, xo, out, oo, outer, na, m, bw, par):  # noqa: ANN001, ANN201
    """(log_)softmax over the middle axis of a dense (outer, na, m) array (x and out of one float dtype): contiguous
    rows when m == 1, else blocks of ``bw`` columns."""
    n_tasks = outer if m == 1 else outer * ((m + bw - 1) // bw)
    if par:
        for t in prange(n_tasks):
            if m == 1:
                _softmax_row(log, x, xo, out, oo, na, t)
            else:
                _softmax_col(log, x, xo, out, oo, na, m, bw, t)
    else:
        for t in range(n_tasks):
            if m == 1:
                _softmax_row(log, x, xo, out, oo, na, t)
            else:
                _softmax_col(log, x, xo, out, oo, na, m, bw, t)
