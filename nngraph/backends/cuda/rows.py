"""Row kernels with one thread block per row: softmax / log_softmax, layer/group/instance/RMS norm, attention's
masked softmax, and the long reductions (sum/mean/max/min/var/std over many elements into few outputs).

The first versions ran one thread per row: a warp's 32 threads read 32 different rows (uncoalesced: a cache line
per thread per element), and a layer norm over ViT-tiny's 197 tokens used 197 threads of a GPU that runs hundreds
of thousands. Here a block of ``row_threads(n)`` threads (a power of two up to ``ROW_THREADS``) strides over each
row -- consecutive threads read consecutive elements -- and the row statistics are combined by a tree reduction in
shared memory (the CUDA simulator has no warp shuffles, so the same code runs in the tests). Statistics stay in
float64; NaN propagates through maxima as in the one-thread scans (``max_nan``)."""
from __future__ import annotations

import math

from numba import cuda, float64

from .kernels_misc import offset4, var_result

ROW_THREADS = 128  # the largest block: the size of the shared reduction buffer
SUM, MAX, MIN = 0, 1, 2


def row_threads(n: int) -> int:
    """Threads per row block for rows of ``n`` elements (fewer on the simulator, which runs threads as Python
    threads; any power of two exercises the same reduction)."""
    from . import simulator

    if simulator():
        return 4
    t = 32
    while t < n and t < ROW_THREADS:
        t *= 2
    return t


def row_grid(rows: int) -> tuple[int]:
    return (max(1, min(rows, 65535 * 4)),)


@cuda.jit(device=True, inline=True)
def max_nan(a, b):
    """The maximum, NaN if either is NaN."""
    if a != a:
        return a
    if b != b or b > a:
        return b
    return a


@cuda.jit(device=True, inline=True)
def min_nan(a, b):
    """The minimum, NaN if either is NaN."""
    if a != a:
        return a
    if b != b or b < a:
        return b
    return a


@cuda.jit(device=True)
def block_reduce(sh, v, op):
    """``op`` (SUM, MAX or MIN) of ``v`` over the block's threads (a power of two), returned to every thread."""
    tid = cuda.threadIdx.x
    sh[tid] = v
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if tid < s:
            if op == SUM:
                sh[tid] = sh[tid] + sh[tid + s]
            elif op == MAX:
                sh[tid] = max_nan(sh[tid], sh[tid + s])
            else:
                sh[tid] = min_nan(sh[tid], sh[tid + s])
        cuda.syncthreads()
        s //= 2
    r = sh[0]
    cuda.syncthreads()  # the buffer is reused by the next reduction
    return r


@cuda.jit(cache=True)
def softmax_rows(rows, A, inner, x, xo, out, oo, log):
    """Softmax (``log``: log_softmax) over rows of ``A`` elements ``inner`` apart in dense ``x`` / ``out``."""
    sh = cuda.shared.array(ROW_THREADS, float64)
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    r = cuda.blockIdx.x
    while r < rows:
        base = (r // inner) * A * inner + r % inner
        mx = -math.inf
        for j in range(tid, A, nt):
            v = x[xo + base + j * inner] * 1.0
            if v > mx or v != v:
                mx = v
        mx = block_reduce(sh, mx, MAX)
        s = 0.0
        for j in range(tid, A, nt):
            s += math.exp(x[xo + base + j * inner] - mx)
        s = block_reduce(sh, s, SUM)
        if log:
            ls = math.log(s)
            for j in range(tid, A, nt):
                out[oo + base + j * inner] = x[xo + base + j * inner] - mx - ls
        else:
            for j in range(tid, A, nt):
                out[oo + base + j * inner] = math.exp(x[xo + base + j * inner] - mx) / s
        r += cuda.gridDim.x


@cuda.jit(cache=True)
def norm_rows(rows, D, x, xo, w, wo, has_w, b, bo, has_b, eps, wdiv, wmod, rms, out, oo):
    """Layer/group/instance/RMS normalization of dense rows of ``D`` elements (float64 statistics, biased variance);
    the affine parameters are indexed ``((r * D + j) // wdiv) % wmod`` (the channel, or the position in the row)."""
    sh = cuda.shared.array(ROW_THREADS, float64)
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    r = cuda.blockIdx.x
    while r < rows:
        base = r * D
        mean = 0.0
        if not rms:
            for j in range(tid, D, nt):
                mean += x[xo + base + j]
            mean = block_reduce(sh, mean, SUM) / D
        q = 0.0
        for j in range(tid, D, nt):
            d = x[xo + base + j] - mean
            q += d * d
        q = block_reduce(sh, q, SUM)
        inv = 1.0 / math.sqrt(q / D + eps)
        for j in range(tid, D, nt):
            y = (x[xo + base + j] - mean) * inv
            c = ((base + j) // wdiv) % wmod
            if has_w:
                y = y * w[wo + c]
            if has_b:
                y = y + b[bo + c]
            out[oo + base + j] = y
        r += cuda.gridDim.x


@cuda.jit(cache=True)
def attn_softmax(rows, L, S, B1, w, wo, mask, mo, ms, mask_kind, causal, scale, zero_rows):
    """In place over the (rows = batch * L, S) scores ``w``: scale, causal mask (query i sees keys j <= i), explicit
    mask (kind 1 boolean keep, 2 additive; strides ``ms`` over (b0, b1, L, S) with b = b0 * B1 + b1), then softmax.
    Fully masked rows give zeros (``zero_rows``, SDPA) or NaN (plain softmax)."""
    sh = cuda.shared.array(ROW_THREADS, float64)
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    r = cuda.blockIdx.x
    while r < rows:
        b = r // L
        i = r % L
        base = wo + r * S
        mbase = mo + (b // B1) * ms[0] + (b % B1) * ms[1] + i * ms[2]
        mx = -math.inf
        for j in range(tid, S, nt):
            v = w[base + j] * scale
            if causal and j > i:
                v = -math.inf
            if mask_kind == 1:
                if not mask[mbase + j * ms[3]]:
                    v = -math.inf
            elif mask_kind == 2:
                v = v + mask[mbase + j * ms[3]]
            w[base + j] = v
            if v > mx or v != v:
                mx = v
        mx = block_reduce(sh, mx, MAX)
        shift = mx if (mx == mx and mx != math.inf and mx != -math.inf) else 0.0
        total = 0.0
        for j in range(tid, S, nt):
            e = math.exp(w[base + j] - shift)
            w[base + j] = e
            total += e
        total = block_reduce(sh, total, SUM)
        if not total > 0:  # every key masked: zeros (SDPA) or 0 / 0 = NaN (plain softmax)
            for j in range(tid, S, nt):
                w[base + j] = 0.0 if zero_rows else math.nan
        else:
            for j in range(tid, S, nt):
                w[base + j] = w[base + j] / total
        r += cuda.gridDim.x


ATT_DMAX = 256  # the longest query / value rows ``attention_rows`` takes (the size of its shared row buffers)


@cuda.jit(cache=True)
def attention_rows(rows, L, S, D, Dv, B1, groups, q, qo, qs, k, ko, ks, v, vo, vs, mask, mo, ms, mask_kind, causal,
                   scale, out, oo, os):
    """Scaled dot-product attention in one kernel, a block per query row: ``out[b, i] = softmax(q[b, i] . k[b]^T *
    scale + mask) @ v[b]`` with the masks of ``attn_softmax`` (causal, kind 1 boolean keep, 2 additive). Operands and
    ``out`` are strided views: strides (b0, b1, row, column) with b = b0 * B1 + b1; k and v are read at head b1 //
    ``groups`` (grouped-query attention). The keys go by in chunks of one per thread: each thread scores its key, the
    chunk's probabilities (an online softmax: the running maximum rescales what was summed before, as in flash
    attention) meet the values in shared memory, and the output row accumulates there -- no scores buffer and no
    launches between the three steps. Fully masked rows give zeros (SDPA); statistics in float64."""
    sh = cuda.shared.array(ROW_THREADS, float64)
    p = cuda.shared.array(ROW_THREADS, float64)
    qv = cuda.shared.array(ATT_DMAX, float64)
    acc = cuda.shared.array(ATT_DMAX, float64)
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    r = cuda.blockIdx.x
    while r < rows:
        b = r // L
        i = r % L
        b0 = b // B1
        b1 = b % B1
        kb = ko + b0 * ks[0] + (b1 // groups) * ks[1]
        vb = vo + b0 * vs[0] + (b1 // groups) * vs[1]
        mb = mo + b0 * ms[0] + b1 * ms[1] + i * ms[2]
        for d in range(tid, D, nt):
            qv[d] = q[qo + b0 * qs[0] + b1 * qs[1] + i * qs[2] + d * qs[3]] * 1.0
        for d in range(tid, Dv, nt):
            acc[d] = 0.0
        cuda.syncthreads()
        m = -math.inf
        total = 0.0
        for j0 in range(0, S, nt):
            j = j0 + tid
            s = -math.inf
            if j < S and not (causal and j > i):
                keep = True
                if mask_kind == 1:
                    if not mask[mb + j * ms[3]]:
                        keep = False
                if keep:
                    kr = kb + j * ks[2]
                    dot = 0.0
                    for d in range(D):
                        dot += qv[d] * k[kr + d * ks[3]]
                    s = dot * scale
                    if mask_kind == 2:
                        s = s + mask[mb + j * ms[3]]
            mn = max_nan(m, block_reduce(sh, s, MAX))
            if mn != -math.inf:  # the same in every thread: skip chunks while every key so far is masked
                f = math.exp(m - mn)  # 0 for the first unmasked chunk; NaN from a NaN score on
                p[tid] = math.exp(s - mn)
                cuda.syncthreads()
                cnt = S - j0 if S - j0 < nt else nt
                ps = 0.0
                for jj in range(cnt):
                    ps += p[jj]
                total = total * f + ps
                for d in range(tid, Dv, nt):
                    x = 0.0
                    vr = vb + j0 * vs[2] + d * vs[3]
                    for jj in range(cnt):
                        x += p[jj] * v[vr + jj * vs[2]]
                    acc[d] = acc[d] * f + x
                m = mn
                cuda.syncthreads()  # p is rewritten by the next chunk
        ob = oo + b0 * os[0] + b1 * os[1] + i * os[2]
        for d in range(tid, Dv, nt):
            # every key masked: total == 0 and acc == 0 give zeros; a NaN total keeps the NaN row
            out[ob + d * os[3]] = acc[d] / total if total > 0 else acc[d]
        cuda.syncthreads()  # qv and acc are rewritten for the next row
        r += cuda.gridDim.x


@cuda.jit(cache=True)
def reduce_block(n_out, ks, kst, R, rs, rst, x, xo, out, oo, op, ddof):
    """``kernels_misc.reduce_axes`` for op 0 sum, 1 mean, 2 max, 3 min, 7 var, 8 std with a block per output:
    for reductions over many elements into few outputs (a full ``mean``), which one thread per output serializes.
    ``R`` >= 1."""
    sh = cuda.shared.array(ROW_THREADS, float64)
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    i = cuda.blockIdx.x
    while i < n_out:
        base = xo + offset4(i, ks, kst)
        if op == 2 or op == 3:
            acc = x[base] * 1.0
            for j in range(tid, R, nt):
                v = x[base + offset4(j, rs, rst)] * 1.0
                acc = max_nan(acc, v) if op == 2 else min_nan(acc, v)
            acc = block_reduce(sh, acc, MAX if op == 2 else MIN)
        else:
            acc = 0.0
            for j in range(tid, R, nt):
                acc += x[base + offset4(j, rs, rst)]
            acc = block_reduce(sh, acc, SUM)
            if op != 0:
                acc = acc / R
            if op >= 7:
                mean = acc
                acc = 0.0
                for j in range(tid, R, nt):
                    d = x[base + offset4(j, rs, rst)] - mean
                    acc += d * d
                acc = var_result(block_reduce(sh, acc, SUM), R - ddof, op == 8)
        if tid == 0:
            out[oo + i] = acc
        i += cuda.gridDim.x

