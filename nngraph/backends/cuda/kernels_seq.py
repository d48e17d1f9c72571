"""CUDA kernels for attention (masked softmax over GEMM scores), recurrent layers, padding, transposed convolution,
separable resampling and small helpers (strided fill, boolean mask to additive bias). The loss kernels are in
``kernels_loss.py``.

Like ``kernels_misc``: ``(arena, offset)`` pairs, shapes as runtime integers, float64 accumulation. Builtin
``min``/``max`` are avoided: numba.cuda cannot compile them for a GPU target (see ``devmath.py``)."""
from __future__ import annotations

import math

from numba import cuda, float64, int64

from .kernels_basic import dot6, unravel6
from .kernels_misc import pool_pos


@cuda.jit(device=True, inline=True)
def _sigmoid(x):  # overflow-free: exp only sees non-positive arguments (as ops/rnn.py)
    e = math.exp(-abs(x))
    r = 1.0 / (1.0 + e)
    return r if x >= 0 else e * r


@cuda.jit(device=True, inline=True)
def _unit(mode, H, j, xw, xb, acc, ab, cT, ci, s, h0, hi, has_h0, out, pi):
    """h_t of unit j from its gate pre-activations ``xw[xb + g * H + j] + acc[ab + g * H + j]`` (mode as
    ``recurrence``): the LSTM updates its cell state ``cT[ci]``; the GRU reads h_{t-1}[j] from ``h0[hi]`` (zero
    without ``has_h0``) at step s = 0, else from ``out[pi]``."""
    if mode == 2:
        ig = _sigmoid(xw[xb + j] + acc[ab + j])
        fg = _sigmoid(xw[xb + H + j] + acc[ab + H + j])
        gg = math.tanh(xw[xb + 2 * H + j] + acc[ab + 2 * H + j])
        og = _sigmoid(xw[xb + 3 * H + j] + acc[ab + 3 * H + j])
        c = fg * cT[ci] + ig * gg
        cT[ci] = c
        return og * math.tanh(c)
    if mode == 3:
        rg = _sigmoid(xw[xb + j] + acc[ab + j])
        zg = _sigmoid(xw[xb + H + j] + acc[ab + H + j])
        ng = math.tanh(xw[xb + 2 * H + j] + rg * acc[ab + 2 * H + j])
        if s == 0:
            hprev = h0[hi] * 1.0 if has_h0 else 0.0
        else:
            hprev = out[pi] * 1.0
        return ng + zg * (hprev - ng)
    v = xw[xb + j] + acc[ab + j]
    if mode == 0:
        return math.tanh(v)
    return v if (v > 0 or v != v) else 0.0


# ------------------------------------------------------------------------------------------------------- attention
@cuda.jit(cache=True)
def mask_bias(n, m, mo, out, oo):
    """``where(mask, -inf, 0)`` (MultiheadAttention's boolean mask: True = masked out)."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        out[oo + i] = -math.inf if m[mo + i] else 0.0
        i += step


@cuda.jit(cache=True)
def fill_strided(n, shape, out, oo, os, value):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        out[oo + dot6(unravel6(i, shape), os)] = value
        i += step


# ------------------------------------------------------------------------------------------------------- recurrence
@cuda.jit(cache=True)
def recurrence(T, N, H, P, mode, xw, xo, wt, wto, b, bo, has_b, h0, h0o, has_h0, c0, c0o, has_c0, wrt, wrto, has_wr,
               acc, acco, hf, hfo, out, oo, hT, hTo, cT, cTo, reverse, second):
    """One recurrent layer over T steps; one block per batch row ``n``, three phases per step separated by
    ``syncthreads``:

    1. threads stride over the G*H gate rows r: ``acc[n, r] = b_hh[r] + sum_k W_hh[r, k] h_{t-1}[k]``, reading the
       transposed weight ``wt`` (P, G*H) so that a warp's loads of one k are consecutive (coalesced);
    2. threads stride over the H units: the gate nonlinearities with ``xw`` (T, N, G*H: the input projection incl.
       b_ih) give h_t (and c_t, kept in ``cT``), written to ``out`` -- or to ``hf`` when there is a projection;
    3. LSTM with projection (``has_wr``): ``out[t, n, p] = sum_j W_hr[p, j] hf[n, j]``, from ``wrt`` = W_hr^T (H, P).

    mode 0 tanh RNN, 1 relu RNN, 2 LSTM (i, f, g, o), 3 GRU (r, z, n: the n row of ``acc`` is multiplied by r).
    P is the state size (H, or the projection size); ``out`` (T, N, P), ``hT`` (N, P), ``cT`` (N, H) dense. Step t
    reads h_{t-1} from ``out`` (or ``h0``). Sums run in float64.

    ``blockIdx.y == 1`` runs a second, independent layer of the same shapes over the same arenas (the other direction
    of a bidirectional layer, merged into this launch by ``lower_seq._merge_directions``): ``second`` holds its 11
    offsets minus these, then its ``reverse``."""
    n = cuda.blockIdx.x
    if cuda.blockIdx.y == 1:
        xo += second[0]
        wto += second[1]
        bo += second[2]
        h0o += second[3]
        c0o += second[4]
        wrto += second[5]
        acco += second[6]
        hfo += second[7]
        oo += second[8]
        hTo += second[9]
        cTo += second[10]
        reverse = second[11]
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    G = 4 if mode == 2 else (3 if mode == 3 else 1)
    GH = G * H
    if mode == 2:
        for j in range(tid, H, nt):
            cT[cTo + n * H + j] = c0[c0o + n * H + j] if has_c0 else 0.0
    for s in range(T):
        t = T - 1 - s if reverse else s
        tp = t + 1 if reverse else t - 1
        hb = oo + (tp * N + n) * P
        for r in range(tid, GH, nt):
            a = b[bo + r] * 1.0 if has_b else 0.0
            for k in range(P):
                if s == 0:
                    hp = h0[h0o + n * P + k] * 1.0 if has_h0 else 0.0
                else:
                    hp = out[hb + k] * 1.0
                a += wt[wto + k * GH + r] * hp
            acc[acco + n * GH + r] = a
        cuda.syncthreads()
        xb = xo + (t * N + n) * GH
        ab = acco + n * GH
        for j in range(tid, H, nt):
            h = _unit(mode, H, j, xw, xb, acc, ab, cT, cTo + n * H + j, s, h0, h0o + n * H + j, has_h0, out, hb + j)
            if has_wr:
                hf[hfo + n * H + j] = h
            else:
                out[oo + (t * N + n) * H + j] = h
        cuda.syncthreads()
        if has_wr:
            for q in range(tid, P, nt):
                a = 0.0
                for j in range(H):
                    a += wrt[wrto + j * P + q] * hf[hfo + n * H + j]
                out[oo + (t * N + n) * P + q] = a
            cuda.syncthreads()
    last = 0 if reverse else T - 1
    for q in range(tid, P, nt):
        hT[hTo + n * P + q] = out[oo + (last * N + n) * P + q]


GRID_THREADS = 256  # the most threads per block ``recurrence_grid`` runs with (the size of its shared partial sums)


@cuda.jit(device=True, inline=True)
def _grid_sync(bar, bo):
    """Barrier over the whole grid, which must be co-resident (a cooperative launch). ``bar[bo]`` counts the
    blocks arrived (zero between barriers), ``bar[bo + 1]`` is the generation the waiting blocks spin on. Thread 0's
    fences give the block acquire/release order around the barrier, as the cooperative-groups grid sync does."""
    cuda.syncthreads()
    nb = int64(cuda.gridDim.x)  # signed: -nb below
    if nb > 1:
        if cuda.threadIdx.x == 0:
            gen = cuda.atomic.add(bar, bo + 1, 0)  # read before arriving: it only moves once every block arrived
            cuda.threadfence()
            if cuda.atomic.add(bar, bo, 1) == nb - 1:
                cuda.atomic.add(bar, bo, -nb)
                cuda.threadfence()
                cuda.atomic.add(bar, bo + 1, 1)
            else:
                while cuda.atomic.add(bar, bo + 1, 0) == gen:
                    pass
            cuda.threadfence()
        cuda.syncthreads()


@cuda.jit(cache=True)
def recurrence_grid(T, N, H, mode, U, nvb, xw, xo, wt, wto, b, bo, has_b, h0, h0o, has_h0, c0, c0o, has_c0,
                    acc, acco, out, oo, hT, hTo, cT, cTo, reverse, bar, baro):
    """``recurrence`` (no projection: the state size is H) spread over a co-resident grid, one grid barrier per step.

    The H units are split into ``nvb`` virtual blocks of U units; a block owns the virtual blocks ``blockIdx.x,
    blockIdx.x + gridDim.x, ...`` (all of them in a grid of one block: the simulator, or a launcher that cannot launch
    cooperatively). Per step a virtual block computes its G*U gate rows for every batch row -- R = N*G*U dot products
    of length H, each split over KS = blockDim.x // R threads (consecutive threads: consecutive units of one gate,
    coalesced reads of ``wt`` = W_hh^T) and summed through shared memory -- then the nonlinearities of its units,
    and writes h_t to ``out``; the barrier publishes h_t to every block for step t + 1. The cell state stays in
    ``cT``, read and written only by the unit's owner. ``bar`` (2 int64, zero) is the barrier's state."""
    part = cuda.shared.array(GRID_THREADS, float64)
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    bid = cuda.blockIdx.x
    nb = cuda.gridDim.x
    G = 4 if mode == 2 else (3 if mode == 3 else 1)
    GH = G * H
    R = N * G * U
    KS = nt // R if R < nt else 1
    RP = nt // KS  # rows per pass: all R at once when a row has several threads
    if mode == 2:
        for vb in range(bid, nvb, nb):
            for i in range(tid, N * U, nt):
                n = i // U
                j = vb * U + i % U
                if j < H:
                    cT[cTo + n * H + j] = c0[c0o + n * H + j] if has_c0 else 0.0
    for s in range(T):
        t = T - 1 - s if reverse else s
        tp = t + 1 if reverse else t - 1
        for vb in range(bid, nvb, nb):
            j0 = vb * U
            for r0 in range(0, R, RP):
                rho = r0 + tid % RP
                kap = tid // RP
                a = 0.0
                if rho < R:
                    j = j0 + rho % U
                    n = rho // (U * G)
                    r = (rho // U) % G * H + j
                    if j < H:
                        if s > 0:
                            hb = oo + (tp * N + n) * H
                            for k in range(kap, H, KS):
                                a += wt[wto + k * GH + r] * (out[hb + k] * 1.0)
                        elif has_h0:
                            for k in range(kap, H, KS):
                                a += wt[wto + k * GH + r] * (h0[h0o + n * H + k] * 1.0)
                part[tid] = a
                cuda.syncthreads()
                rho = r0 + tid
                if tid < RP and rho < R:
                    j = j0 + rho % U
                    if j < H:
                        n = rho // (U * G)
                        r = (rho // U) % G * H + j
                        a = b[bo + r] * 1.0 if has_b else 0.0
                        for q in range(KS):
                            a += part[q * RP + tid]
                        acc[acco + n * GH + r] = a
                cuda.syncthreads()
            for i in range(tid, N * U, nt):
                n = i // U
                j = j0 + i % U
                if j < H:
                    xb = xo + (t * N + n) * GH
                    ab = acco + n * GH
                    h = _unit(mode, H, j, xw, xb, acc, ab, cT, cTo + n * H + j, s, h0, h0o + n * H + j, has_h0, out,
                              oo + (tp * N + n) * H + j)
                    out[oo + (t * N + n) * H + j] = h
        _grid_sync(bar, baro)
    last = 0 if reverse else T - 1
    for vb in range(bid, nvb, nb):
        for i in range(tid, N * U, nt):
            n = i // U
            j = vb * U + i % U
            if j < H:
                hT[hTo + n * H + j] = out[oo + (last * N + n) * H + j]


# ------------------------------------------------------------------------------------------------ pad / conv_transpose
@cuda.jit(cache=True)
def pad6(n, oshape, x, xo, xs, ishape, lo, mode, cstart, ckept, value, out, oo):
    """``out`` (dense, 6-d ``oshape``) = ``x`` padded: position p of an axis reads input index p - lo (mode 0
    constant: ``value`` outside; 1 reflect; 2 replicate; 3 circular: cstart + (p - max(lo, 0)) % ckept)."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        r = i
        src = xo
        inside = True
        for d in range(5, -1, -1):
            p = r % oshape[d]
            r //= oshape[d]
            size = ishape[d]
            q = p - lo[d]
            if mode == 0:
                if q < 0 or q >= size:
                    inside = False
            elif mode == 1:
                q = -q if q < 0 else q
                if q > size - 1:
                    q = 2 * (size - 1) - q
            elif mode == 2:
                q = 0 if q < 0 else (size - 1 if q > size - 1 else q)
            else:
                lp = lo[d] if lo[d] > 0 else 0
                q = cstart[d] + (p - lp) % ckept[d]
            src += q * xs[d]
        out[oo + i] = x[src] if inside else value
        i += step


@cuda.jit(cache=True)
def conv_transpose3d(total, G, Og, Cg, OD, OH, OW, KD, KH, KW, xs, D, H, W, sd, sh, sw, pd, ph, pw, dd, dh, dw, w, wo,
                     x, xo, out, oo, bias, bo_, has_bias):
    """Transposed convolution as a gather, one thread per output element (1-d and 2-d run with depth 1):
    out[n, g*Og + m, od, oh, ow] sums w[g*Cg + c, m, kd, kh, kw] * x[n, g*Cg + c, id, ih, iw] over
    od = id*sd - pd + kd*dd (and the same for h and w)."""
    idx = cuda.grid(1)
    step = cuda.gridsize(1)
    while idx < total:
        bn, o, od, oh, ow = pool_pos(idx, G * Og, OD, OH, OW)
        g = o // Og
        m = o % Og
        acc = 0.0
        for kd in range(KD):
            td = od + pd - kd * dd
            if td < 0 or td % sd != 0 or td // sd >= D:
                continue
            for kh in range(KH):
                th = oh + ph - kh * dh
                if th < 0 or th % sh != 0 or th // sh >= H:
                    continue
                for kw in range(KW):
                    tw = ow + pw - kw * dw
                    if tw < 0 or tw % sw != 0 or tw // sw >= W:
                        continue
                    for c in range(Cg):
                        ci = g * Cg + c
                        xi = xo + bn * xs[0] + ci * xs[1] + (td // sd) * xs[2] + (th // sh) * xs[3] + (tw // sw) * xs[4]
                        acc += w[wo + (((ci * Og + m) * KD + kd) * KH + kh) * KW + kw] * x[xi]
        if has_bias:
            acc += bias[bo_ + o]
        out[oo + idx] = acc
        idx += step


@cuda.jit(cache=True)
def resample3(total, C, OD, OH, OW, xs, it, ito, wt, wto, offs, taps, x, xo, out, oo):
    """Separable resampling of up to 3 spatial dims: out[n, c, d, h, w] = sum over taps of the per-axis weights
    ``wt`` times x at the per-axis source indices ``it`` (tables at ``offs[axis] + o * taps + t``)."""
    idx = cuda.grid(1)
    step = cuda.gridsize(1)
    while idx < total:
        bn, c, od, oh, ow = pool_pos(idx, C, OD, OH, OW)
        base = xo + bn * xs[0] + c * xs[1]
        acc = 0.0
        for a in range(taps):
            pd = offs[0] + od * taps + a
            for b in range(taps):
                ph = offs[1] + oh * taps + b
                wdh = wt[wto + pd] * wt[wto + ph]
                for e in range(taps):
                    pw = offs[2] + ow * taps + e
                    acc += wdh * wt[wto + pw] * x[base + it[ito + pd] * xs[2] + it[ito + ph] * xs[3] +
                                                  it[ito + pw] * xs[4]]
        out[oo + idx] = acc
        idx += step
