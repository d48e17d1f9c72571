"""CUDA kernels for attention (masked softmax over GEMM scores), recurrent layers, padding, transposed convolution,
separable resampling, loss reduction and small helpers (strided fill, boolean mask to additive bias).

Like ``kernels_misc``: ``(arena, offset)`` pairs, shapes as runtime integers, float64 accumulation. Builtin
``min``/``max`` are avoided: numba.cuda cannot compile them for a GPU target (see ``devmath.py``)."""
from __future__ import annotations

import math

from numba import cuda

from .kernels_basic import dot6, unravel6
from .kernels_misc import pool_pos


@cuda.jit(device=True, inline=True)
def _sigmoid(x):  # overflow-free: exp only sees non-positive arguments (as ops/rnn.py)
    e = math.exp(-abs(x))
    r = 1.0 / (1.0 + e)
    return r if x >= 0 else e * r


# ------------------------------------------------------------------------------------------------------- attention
@cuda.jit(cache=True)
def attn_softmax(rows, L, S, B1, w, wo, mask, mo, ms, mask_kind, causal, scale, zero_rows):
    """In place over the (rows = batch * L, S) scores ``w``: scale, causal mask (query i sees keys j <= i), explicit
    mask (kind 1 boolean keep, 2 additive; strides ``ms`` over (b0, b1, L, S) with b = b0 * B1 + b1), then softmax.
    Fully masked rows give zeros (``zero_rows``, SDPA) or NaN (plain softmax)."""
    r = cuda.grid(1)
    step = cuda.gridsize(1)
    while r < rows:
        b = r // L
        i = r % L
        base = wo + r * S
        mbase = mo + (b // B1) * ms[0] + (b % B1) * ms[1] + i * ms[2]
        mx = -math.inf
        for j in range(S):
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
        shift = mx if (mx == mx and mx != math.inf and mx != -math.inf) else 0.0
        total = 0.0
        for j in range(S):
            e = math.exp(w[base + j] - shift)
            w[base + j] = e
            total += e
        if not total > 0:  # every key masked: zeros (SDPA) or 0 / 0 = NaN (plain softmax)
            for j in range(S):
                w[base + j] = 0.0 if zero_rows else math.nan
        else:
            for j in range(S):
                w[base + j] = w[base + j] / total
        r += step


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
def recurrence(T, N, H, mode, xw, xo, w, wo, b, bo, has_b, h0, h0o, has_h0, c0, c0o, has_c0, out, oo, hT, hTo, cT,
               cTo, reverse):
    """One recurrent layer over T steps; one block per batch row, threads stride over hidden units, one
    ``syncthreads`` per step. ``xw`` (T, N, G*H) dense (input projection incl. b_ih), ``w`` (G*H, H) dense;
    mode 0 tanh RNN, 1 relu RNN, 2 LSTM (i, f, g, o; the running cell state lives in ``cT``), 3 GRU (r, z, n).
    ``out`` (T, N, H), ``hT``/``cT`` (N, H) dense. Step t reads h_{t-1} from ``out`` (or ``h0``)."""
    n = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    G = 4 if mode == 2 else (3 if mode == 3 else 1)
    if mode == 2:
        for j in range(tid, H, nt):
            cT[cTo + n * H + j] = c0[c0o + n * H + j] if has_c0 else 0.0
    for s in range(T):
        t = T - 1 - s if reverse else s
        tp = t + 1 if reverse else t - 1
        for j in range(tid, H, nt):
            a0 = 0.0
            a1 = 0.0
            a2 = 0.0
            a3 = 0.0
            if has_b:
                a0 = b[bo + j] * 1.0
                if G > 1:
                    a1 = b[bo + H + j] * 1.0
                    a2 = b[bo + 2 * H + j] * 1.0
                if G > 3:
                    a3 = b[bo + 3 * H + j] * 1.0
            hb = oo + (tp * N + n) * H
            for k in range(H):
                if s == 0:
                    hp = h0[h0o + n * H + k] * 1.0 if has_h0 else 0.0
                else:
                    hp = out[hb + k] * 1.0
                a0 += w[wo + j * H + k] * hp
                if G > 1:
                    a1 += w[wo + (H + j) * H + k] * hp
                    a2 += w[wo + (2 * H + j) * H + k] * hp
                if G > 3:
                    a3 += w[wo + (3 * H + j) * H + k] * hp
            xb = xo + (t * N + n) * G * H
            if mode == 2:
                ig = _sigmoid(xw[xb + j] + a0)
                fg = _sigmoid(xw[xb + H + j] + a1)
                gg = math.tanh(xw[xb + 2 * H + j] + a2)
                og = _sigmoid(xw[xb + 3 * H + j] + a3)
                c = fg * cT[cTo + n * H + j] + ig * gg
                cT[cTo + n * H + j] = c
                h = og * math.tanh(c)
            elif mode == 3:
                rg = _sigmoid(xw[xb + j] + a0)
                zg = _sigmoid(xw[xb + H + j] + a1)
                ng = math.tanh(xw[xb + 2 * H + j] + rg * a2)
                if s == 0:
                    hprev = h0[h0o + n * H + j] * 1.0 if has_h0 else 0.0
                else:
                    hprev = out[hb + j] * 1.0
                h = ng + zg * (hprev - ng)
            else:
                v = xw[xb + j] + a0
                if mode == 0:
                    h = math.tanh(v)
                else:
                    h = v if (v > 0 or v != v) else 0.0
            out[oo + (t * N + n) * H + j] = h
        cuda.syncthreads()
    last = 0 if reverse else T - 1
    for j in range(tid, H, nt):
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


@cuda.jit(device=True, inline=True)
def _ratio(a, b):
    """``a / b`` with numpy's zero-division values (the simulator would raise)."""
    if b == 0:
        return math.nan if (a == 0 or a != a) else math.copysign(math.inf, a)
    return a / b


@cuda.jit(cache=True)
def class_index_rows(n, logits, x, xo, t, to, w, wo, has_w, C, inner, ignore, eps, flag, fo, none, mix, out, oo, acc,
                     ao):
    """Per position p of a dense (outer, C, inner) input with class index ``t[p]``: NLL (``x`` log-probabilities) or
    cross entropy of logits (label smoothing ``eps``), as the CPU kernel ``class_index_loss``; writes ``out[p]``
    (reduction 'none') and (loss, weight, smoothing term) into ``acc`` rows 0/1/2 for ``class_loss_total``. A
    target outside [0, C) other than ``ignore`` sets ``flag`` (the reference raises)."""
    p = cuda.grid(1)
    step = cuda.gridsize(1)
    while p < n:
        o = p // inner
        base = xo + o * C * inner + (p - o * inner)
        k = t[to + p]
        loss = 0.0
        wt = 0.0
        smooth = 0.0
        if k != ignore:
            if k < 0 or k >= C:
                flag[fo] = 1
            else:
                wt = w[wo + k] * 1.0 if has_w else 1.0
                if logits:
                    m = -math.inf
                    for c in range(C):
                        v = x[base + c * inner] * 1.0
                        if v > m or v != v:
                            m = v if m == m else m
                    s = 0.0
                    for c in range(C):
                        s += math.exp(x[base + c * inner] - m)
                    lse = math.log(s)
                    if eps > 0:
                        for c in range(C):
                            smooth -= (x[base + c * inner] - (m + lse)) * (w[wo + c] if has_w else 1.0)
                    loss = -((x[base + k * inner] - m) - lse) * wt
                else:
                    loss = -x[base + k * inner] * wt
        if none:
            out[oo + p] = (1.0 - eps) * loss + smooth * (eps / C) if mix else loss
        acc[ao + p] = loss
        acc[ao + n + p] = wt
        acc[ao + 2 * n + p] = smooth
        p += step


@cuda.jit(cache=True)
def class_prob_rows(n, x, xo, t, to, w, wo, has_w, C, inner, eps, none, out, oo, acc, ao):
    """Cross entropy of logits against class probabilities ``t`` (input-shaped, smoothed by ``eps``) per position,
    as the CPU kernel ``class_prob_loss``; ``acc`` rows: loss, 1 (the 'mean' divides by the positions), 0."""
    p = cuda.grid(1)
    step = cuda.gridsize(1)
    while p < n:
        o = p // inner
        base = o * C * inner + (p - o * inner)
        m = -math.inf
        for c in range(C):
            v = x[xo + base + c * inner] * 1.0
            if v > m or v != v:
                m = v if m == m else m
        s = 0.0
        for c in range(C):
            s += math.exp(x[xo + base + c * inner] - m)
        lse = math.log(s)
        loss = 0.0
        for c in range(C):
            y = t[to + base + c * inner] * 1.0
            if eps > 0:
                y = y * (1.0 - eps) + eps / C
            term = -((x[xo + base + c * inner] - m) - lse) * y
            loss += term * w[wo + c] if has_w else term
        if none:
            out[oo + p] = loss
        acc[ao + p] = loss
        acc[ao + n + p] = 1.0
        acc[ao + 2 * n + p] = 0.0
        p += step


@cuda.jit(cache=True)
def class_loss_total(n, acc, ao, mean, mix, eps, C, out, oo):
    """One thread: the 'sum'/'mean' reduction of ``class_index_rows``'s terms ('mean': by the summed weights)."""
    if cuda.grid(1) == 0:
        sl = 0.0
        sw = 0.0
        ss = 0.0
        for p in range(n):
            sl += acc[ao + p]
            sw += acc[ao + n + p]
            ss += acc[ao + 2 * n + p]
        if mean:
            sl = _ratio(sl, sw)
            ss = _ratio(ss, sw)
        out[oo] = (1.0 - eps) * sl + ss * (eps / C) if mix else sl


@cuda.jit(cache=True)
def loss_reduce(n, x, xo, w, wo, nw, has_w, mode, batch, out, oo):
    """One thread: ``out = sum(x)`` (mode 0), ``sum(x) / n`` or ``/ sum(w)`` (1), ``sum(x) / batch`` (2); a zero
    denominator gives NaN or +-inf as numpy's division does."""
    if cuda.grid(1) == 0:
        s = 0.0
        for i in range(n):
            s += x[xo + i]
        if mode == 0:
            out[oo] = s
            return
        den = 0.0
        if mode == 2:
            den = batch * 1.0
        elif has_w:
            for i in range(nw):
                den += w[wo + i]
        else:
            den = n * 1.0
        if den == 0:
            out[oo] = math.nan if (s == 0 or s != s) else math.copysign(math.inf, s)
        else:
            out[oo] = s / den
