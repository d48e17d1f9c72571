"""Reduction and softmax kernels of the CPU backend (lowered by ``lower_reduce.py``).

Every reduction is cut into one of two shapes over a (possibly strided) input, with shapes and strides as runtime
tuples so that one compiled kernel serves every node:

* rows:  ``out[k] = R(x[k, r0, r1, 0:L])`` -- the innermost reduced dimension is contiguous (a horizontal reduction
  of contiguous runs: sum over the last axis, global pooling over H*W, ...).
* cols:  ``out[k0, k1, 0:J] = R over r of x[k0, k1, r0, r1, r2, 0:J]`` -- the innermost *kept* dimension is
  contiguous (a vertical reduction: elementwise accumulation of rows into a block of the output).

Ops are grouped into four families sharing accumulator types (arith: sum/mean/prod/var/std in the output dtype;
minmax; any/all; argmax/argmin), each with a row and a column kernel. The op is a runtime code tested outside the
inner loops. Loops are written so that LLVM vectorizes them: contiguous slices, local accumulators, float sums in
helpers compiled with ``reassoc`` (blocked: 4096-element blocks summed in SIMD lanes, then blocks added), and float
max/min over order-preserving integer keys (LLVM vectorizes integer min/max reductions, not float ones with NaN).

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
# Column kernels run one task per (kept outer index, block of ``bw`` columns); ``bw`` is the whole row unless the
# lowering splits rows for parallelism: long contiguous runs matter (short strided stripes defeat the prefetchers).

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
    """float32 exp with < 1 ulp error over the whole range (denormal results included; exp(-inf) = 0,
    exp(NaN) = NaN); straight-line float code (exponent arithmetic in float too, so no 64-bit integer lanes) that
    the loop vectorizer turns into SIMD code. Callers compile with fastmath={"contract"} to get FMAs."""
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
@njit(**_REASSOC)
def rsum(xs, n, zero):  # noqa: ANN001, ANN201
    """Blocked sum of ``xs[0:n]`` accumulated in ``zero``'s type."""
    total = zero
    for b0 in range(0, n, BLOCK):
        blk = xs[b0:min(b0 + BLOCK, n)]
        s = zero
        for j in range(blk.shape[0]):
            s += blk[j]
        total += s
    return total


@njit(**_REASSOC)
def rsum_sqdev(xs, n, mean, zero):  # noqa: ANN001, ANN201
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


@njit(**_REASSOC)
def rprod(xs, n, one):  # noqa: ANN001, ANN201
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


@njit(nogil=True)
def rmax(xs, n):  # noqa: ANN001, ANN201
    """max of ``xs[0:n]`` (n >= 1); NaN if any element is NaN."""
    m = okey(xs[0])
    nan = 0
    for j in range(n):
        v = xs[j]
        k = okey(v)
        m = k if k > m else m
        nan += v != v
    if nan:
        return _first_nan(xs, n)
    return unkey(m, xs[0])


@njit(nogil=True)
def rmin(xs, n):  # noqa: ANN001, ANN201
    m = okey(xs[0])
    nan = 0
    for j in range(n):
        v = xs[j]
        k = okey(v)
        m = k if k < m else m
        nan += v != v
    if nan:
        return _first_nan(xs, n)
    return unkey(m, xs[0])


@njit(nogil=True)
def _find(xs, n, v):  # noqa: ANN001, ANN201
    """First index of ``v`` in ``xs[0:n]`` (of a NaN when ``v`` is NaN)."""
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


# --------------------------------------------------------------------------------------------- arith: sum ... std
@njit(nogil=True, error_model="numpy")
def _arith_row(op, x, xo, out, oo, ksh, kst, rsh, rst, n, ddof, i):  # noqa: ANN001, ANN201
    c = i % ksh[2]
    t = i // ksh[2]
    base = xo + (t // ksh[1]) * kst[0] + (t % ksh[1]) * kst[1] + c * kst[2]
    zero = out.dtype.type(0)
    if op == OP_PROD:
        acc = out.dtype.type(1)
        for r0 in range(rsh[0]):
            for r1 in range(rsh[1]):
                o = base + r0 * rst[0] + r1 * rst[1]
                acc *= rprod(x[o:o + n], n, out.dtype.type(1))
        out[oo + i] = acc
        return
    acc = zero
    for r0 in range(rsh[0]):
        for r1 in range(rsh[1]):
            o = base + r0 * rst[0] + r1 * rst[1]
            acc += rsum(x[o:o + n], n, zero)
    if op == OP_SUM:
        out[oo + i] = acc
        return
    count = rsh[0] * rsh[1] * n
    mean = acc / out.dtype.type(count)
    if op == OP_MEAN:
        out[oo + i] = mean
        return
    ss = zero
    for r0 in range(rsh[0]):
        for r1 in range(rsh[1]):
            o = base + r0 * rst[0] + r1 * rst[1]
            ss += rsum_sqdev(x[o:o + n], n, mean, zero)
    var = ss / out.dtype.type(max(count - ddof, 0))
    out[oo + i] = np.sqrt(var) if op == OP_STD else var


@njit(parallel=True, **_FLAGS)
def arith_rows(op, x, xo, out, oo, ksh, kst, rsh, rst, n, ddof, par):  # noqa: ANN001, ANN201
    """out[k] = op over x[k, r0, r1, 0:n] (k: 3 dims ksh/kst, r: 2 dims rsh/rst, innermost run contiguous)."""
    n_out = ksh[0] * ksh[1] * ksh[2]
    if par:
        for i in prange(n_out):
            _arith_row(op, x, xo, out, oo, ksh, kst, rsh, rst, n, ddof, i)
    else:
        for i in range(n_out):
            _arith_row(op, x, xo, out, oo, ksh, kst, rsh, rst, n, ddof, i)


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
def _arith_col(op, x, xo, out, oo, ksh, kst, m, bw, rsh, rst, ddof, nb, t):  # noqa: ANN001, ANN201
    blk = t % nb
    q = t // nb
    j0 = blk * bw
    jn = min(bw, m - j0)
    base = xo + (q // ksh[1]) * kst[0] + (q % ksh[1]) * kst[1] + j0
    acc = out[oo + q * m + j0:oo + q * m + j0 + jn]
    _set(acc, 1 if op == OP_PROD else 0, jn)
    prod = op == OP_PROD
    for r0 in range(rsh[0]):
        for r1 in range(rsh[1]):
            for r2 in range(rsh[2]):
                o = base + r0 * rst[0] + r1 * rst[1] + r2 * rst[2]
                _accumulate(acc, x[o:o + jn], jn, prod)
    if op == OP_SUM or op == OP_PROD:
        return
    count = rsh[0] * rsh[1] * rsh[2]
    cnt = out.dtype.type(count)
    for j in range(jn):
        acc[j] = acc[j] / cnt
    if op == OP_MEAN:
        return
    ss = np.empty(jn, out.dtype)
    _set(ss, 0, jn)
    for r0 in range(rsh[0]):
        for r1 in range(rsh[1]):
            for r2 in range(rsh[2]):
                o = base + r0 * rst[0] + r1 * rst[1] + r2 * rst[2]
                _accumulate_sqdev(ss, x[o:o + jn], acc, jn)
    div = out.dtype.type(max(count - ddof, 0))
    if op == OP_STD:
        for j in range(jn):
            acc[j] = np.sqrt(ss[j] / div)
    else:
        for j in range(jn):
            acc[j] = ss[j] / div


@njit(parallel=True, **_FLAGS)
def arith_cols(op, x, xo, out, oo, ksh, kst, m, bw, rsh, rst, ddof, par):  # noqa: ANN001, ANN201
    """out[k0, k1, 0:m] = op over r of x[k0, k1, r0, r1, r2, 0:m] (kept dims ksh/kst, the last one contiguous)."""
    nb = (m + bw - 1) // bw
    n_tasks = ksh[0] * ksh[1] * nb
    if par:
        for t in prange(n_tasks):
            _arith_col(op, x, xo, out, oo, ksh, kst, m, bw, rsh, rst, ddof, nb, t)
    else:
        for t in range(n_tasks):
            _arith_col(op, x, xo, out, oo, ksh, kst, m, bw, rsh, rst, ddof, nb, t)


# --------------------------------------------------------------------------------------------- max / min
@njit(nogil=True)
def _minmax_row(op, x, xo, out, oo, ksh, kst, rsh, rst, n, i):  # noqa: ANN001, ANN201
    c = i % ksh[2]
    t = i // ksh[2]
    base = xo + (t // ksh[1]) * kst[0] + (t % ksh[1]) * kst[1] + c * kst[2]
    best = x[base]
    for r0 in range(rsh[0]):
        for r1 in range(rsh[1]):
            o = base + r0 * rst[0] + r1 * rst[1]
            if op == OP_MAX:
                v = rmax(x[o:o + n], n)
                best = v if (v > best or v != v) and best == best else best
            else:
                v = rmin(x[o:o + n], n)
                best = v if (v < best or v != v) and best == best else best
    out[oo + i] = best


@njit(parallel=True, **_FLAGS)
def minmax_rows(op, x, xo, out, oo, ksh, kst, rsh, rst, n, par):  # noqa: ANN001, ANN201
    n_out = ksh[0] * ksh[1] * ksh[2]
    if par:
        for i in prange(n_out):
            _minmax_row(op, x, xo, out, oo, ksh, kst, rsh, rst, n, i)
    else:
        for i in range(n_out):
            _minmax_row(op, x, xo, out, oo, ksh, kst, rsh, rst, n, i)


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
def _minmax_col(op, x, xo, out, oo, ksh, kst, m, bw, rsh, rst, nb, t):  # noqa: ANN001, ANN201
    blk = t % nb
    q = t // nb
    j0 = blk * bw
    jn = min(bw, m - j0)
    base = xo + (q // ksh[1]) * kst[0] + (q % ksh[1]) * kst[1] + j0
    acc = out[oo + q * m + j0:oo + q * m + j0 + jn]
    _copy(acc, x[base:base + jn], jn)
    for r0 in range(rsh[0]):
        for r1 in range(rsh[1]):
            for r2 in range(rsh[2]):
                o = base + r0 * rst[0] + r1 * rst[1] + r2 * rst[2]
                if op == OP_MAX:
                    _maxacc(acc, x[o:o + jn], jn)
                else:
                    _minacc(acc, x[o:o + jn], jn)


@njit(**_FLAGS)  # rarely large: serial (prange is range), which halves its compile time
def minmax_cols(op, x, xo, out, oo, ksh, kst, m, bw, rsh, rst, par):  # noqa: ANN001, ANN201
    nb = (m + bw - 1) // bw
    n_tasks = ksh[0] * ksh[1] * nb
    if par:
        for t in prange(n_tasks):
            _minmax_col(op, x, xo, out, oo, ksh, kst, m, bw, rsh, rst, nb, t)
    else:
        for t in range(n_tasks):
            _minmax_col(op, x, xo, out, oo, ksh, kst, m, bw, rsh, rst, nb, t)


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
def _bool_row(op, x, xo, out, oo, ksh, kst, rsh, rst, n, i):  # noqa: ANN001, ANN201
    c = i % ksh[2]
    t = i // ksh[2]
    base = xo + (t // ksh[1]) * kst[0] + (t % ksh[1]) * kst[1] + c * kst[2]
    res = op == OP_ALL
    for r0 in range(rsh[0]):
        for r1 in range(rsh[1]):
            o = base + r0 * rst[0] + r1 * rst[1]
            if op == OP_ANY:
                res = res or _rany(x[o:o + n], n)
            else:
                res = res and _rall(x[o:o + n], n)
    out[oo + i] = res


@njit(**_FLAGS)  # rarely large: serial (prange is range), which halves its compile time
def bool_rows(op, x, xo, out, oo, ksh, kst, rsh, rst, n, par):  # noqa: ANN001, ANN201
    n_out = ksh[0] * ksh[1] * ksh[2]
    if par:
        for i in prange(n_out):
            _bool_row(op, x, xo, out, oo, ksh, kst, rsh, rst, n, i)
    else:
        for i in range(n_out):
            _bool_row(op, x, xo, out, oo, ksh, kst, rsh, rst, n, i)


@njit(nogil=True)
def _bool_col(op, x, xo, out, oo, ksh, kst, m, bw, rsh, rst, nb, t):  # noqa: ANN001, ANN201
    blk = t % nb
    q = t // nb
    j0 = blk * bw
    jn = min(bw, m - j0)
    base = xo + (q // ksh[1]) * kst[0] + (q % ksh[1]) * kst[1] + j0
    acc = out[oo + q * m + j0:oo + q * m + j0 + jn]
    _set(acc, op == OP_ALL, jn)
    for r0 in range(rsh[0]):
        for r1 in range(rsh[1]):
            for r2 in range(rsh[2]):
                o = base + r0 * rst[0] + r1 * rst[1] + r2 * rst[2]
                xs = x[o:o + jn]
                if op == OP_ANY:
                    for j in range(jn):
                        acc[j] |= xs[j] != 0
                else:
                    for j in range(jn):
                        acc[j] &= xs[j] != 0


@njit(**_FLAGS)  # rarely large: serial (prange is range), which halves its compile time
def bool_cols(op, x, xo, out, oo, ksh, kst, m, bw, rsh, rst, par):  # noqa: ANN001, ANN201
    nb = (m + bw - 1) // bw
    n_tasks = ksh[0] * ksh[1] * nb
    if par:
        for t in prange(n_tasks):
            _bool_col(op, x, xo, out, oo, ksh, kst, m, bw, rsh, rst, nb, t)
    else:
        for t in range(n_tasks):
            _bool_col(op, x, xo, out, oo, ksh, kst, m, bw, rsh, rst, nb, t)


# --------------------------------------------------------------------------------------------- argmax / argmin
@njit(nogil=True)
def _arg_row(op, x, xo, out, oo, ksh, kst, n, i):  # noqa: ANN001, ANN201
    c = i % ksh[2]
    t = i // ksh[2]
    base = xo + (t // ksh[1]) * kst[0] + (t % ksh[1]) * kst[1] + c * kst[2]
    xs = x[base:base + n]
    v = rmax(xs, n) if op == OP_ARGMAX else rmin(xs, n)
    out[oo + i] = _find(xs, n, v)


@njit(parallel=True, **_FLAGS)
def arg_rows(op, x, xo, out, oo, ksh, kst, n, par):  # noqa: ANN001, ANN201
    """out[k] = argmax/argmin of the contiguous run x[k, 0:n]."""
    n_out = ksh[0] * ksh[1] * ksh[2]
    if par:
        for i in prange(n_out):
            _arg_row(op, x, xo, out, oo, ksh, kst, n, i)
    else:
        for i in range(n_out):
            _arg_row(op, x, xo, out, oo, ksh, kst, n, i)


@njit(nogil=True)
def _arg_col(op, x, xo, out, oo, ksh, kst, m, bw, na, sa, nb, t):  # noqa: ANN001, ANN201
    blk = t % nb
    q = t // nb
    j0 = blk * bw
    jn = min(bw, m - j0)
    base = xo + (q // ksh[1]) * kst[0] + (q % ksh[1]) * kst[1] + j0
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


@njit(**_FLAGS)  # rarely large: serial (prange is range), which halves its compile time
def arg_cols(op, x, xo, out, oo, ksh, kst, m, bw, na, sa, par):  # noqa: ANN001, ANN201
    """out[k0, k1, 0:m] = argmax/argmin over r < na of x[k0, k1, r * sa + 0:m]."""
    nb = (m + bw - 1) // bw
    n_tasks = ksh[0] * ksh[1] * nb
    if par:
        for t in prange(n_tasks):
            _arg_col(op, x, xo, out, oo, ksh, kst, m, bw, na, sa, nb, t)
    else:
        for t in range(n_tasks):
            _arg_col(op, x, xo, out, oo, ksh, kst, m, bw, na, sa, nb, t)


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


@njit(parallel=True, **_FLAGS)
def softmax_rows(log, x, xo, out, oo, rows, n, par):  # noqa: ANN001, ANN201
    """(log_)softmax of each contiguous row x[i, 0:n] (x and out of the same float dtype)."""
    if par:
        for i in prange(rows):
            _softmax_row(log, x, xo, out, oo, n, i)
    else:
        for i in range(rows):
            _softmax_row(log, x, xo, out, oo, n, i)


@njit(nogil=True, error_model="numpy")
def _softmax_col(log, x, xo, out, oo, na, m, bw, nb, t):  # noqa: ANN001, ANN201
    blk = t % nb
    q = t // nb
    j0 = blk * bw
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
def softmax_cols(log, x, xo, out, oo, outer, na, m, bw, par):  # noqa: ANN001, ANN201
    """(log_)softmax over the middle axis of a dense (outer, na, m) array, in blocks of ``bw`` columns."""
    nb = (m + bw - 1) // bw
    n_tasks = outer * nb
    if par:
        for t in prange(n_tasks):
            _softmax_col(log, x, xo, out, oo, na, m, bw, nb, t)
    else:
        for t in range(n_tasks):
            _softmax_col(log, x, xo, out, oo, na, m, bw, nb, t)
