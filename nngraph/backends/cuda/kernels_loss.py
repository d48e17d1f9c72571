"""CUDA kernels of the losses (lowered by ``lower_loss.py``): value checks, loss reduction, NLL / cross entropy,
the per-row losses (multilabel soft margin, cosine embedding, triplet margin, multi margin, multilabel margin) and
CTC.

As the other kernel modules: ``(arena, offset)`` pairs, shapes and strides as runtime integers, float64 accumulation
as the CPU kernels (``backends/cpu/kernels_loss.py``). A value the numpy reference rejects (a class index out of
range, a length, a probability outside [0, 1]) sets the node's int64 flag (``CudaEmitter.value_check``) instead of
raising. Builtin ``min``/``max`` are avoided: numba.cuda cannot compile them for a GPU target (see ``devmath.py``)."""
from __future__ import annotations

import math

from numba import cuda, float64, int64

from .devmath import logaddexp, power
from .kernels_basic import dot6, unravel6
from .rows import ROW_THREADS, SUM, block_reduce


# ---------------------------------------------------------------------------------------- reduction, NLL, cross entropy
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
    """One block (``rows.block_reduce``): the 'sum'/'mean' reduction of ``class_index_rows``'s terms ('mean': by the
    summed weights)."""
    sh = cuda.shared.array(ROW_THREADS, float64)
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    sl = 0.0
    sw = 0.0
    ss = 0.0
    for p in range(tid, n, nt):
        sl += acc[ao + p]
        sw += acc[ao + n + p]
        ss += acc[ao + 2 * n + p]
    sl = block_reduce(sh, sl, SUM)
    sw = block_reduce(sh, sw, SUM)
    ss = block_reduce(sh, ss, SUM)
    if tid == 0:
        if mean:
            sl = _ratio(sl, sw)
            ss = _ratio(ss, sw)
        out[oo] = (1.0 - eps) * sl + ss * (eps / C) if mix else sl


@cuda.jit(cache=True)
def loss_reduce(n, x, xo, w, wo, nw, has_w, mode, batch, out, oo):
    """One block (a power of two of threads, ``rows.block_reduce``): ``out = sum(x)`` (mode 0), ``sum(x) / n`` or
    ``/ sum(w)`` (1), ``sum(x) / batch`` (2); a zero denominator gives NaN or +-inf as numpy's division does."""
    sh = cuda.shared.array(ROW_THREADS, float64)
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    s = 0.0
    for i in range(tid, n, nt):
        s += x[xo + i]
    s = block_reduce(sh, s, SUM)
    den = 0.0
    if mode == 2:
        den = batch * 1.0
    elif mode == 1 and has_w:
        for i in range(tid, nw, nt):
            den += w[wo + i]
        den = block_reduce(sh, den, SUM)
    else:
        den = n * 1.0
    if tid == 0:
        if mode == 0:
            out[oo] = s
        elif den == 0:
            out[oo] = math.nan if (s == 0 or s != s) else math.copysign(math.inf, s)
        else:
            out[oo] = s / den


# ------------------------------------------------------------------------------------------------------ value checks
@cuda.jit(cache=True)
def check_values(n, shape, a, ao, st, nonneg, flag, fo):
    """Set ``flag`` when a value of the strided (6-d) view is outside [0, 1] (NaN fails) or, with ``nonneg``,
    negative (NaN passes): the checks of binary_cross_entropy and gaussian_nll_loss."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n:
        v = a[ao + dot6(unravel6(i, shape), st)]
        if nonneg:
            if v < 0:
                flag[fo] = 1
        elif not (v >= 0 and v <= 1):
            flag[fo] = 1
        i += step


# -------------------------------------------------------------------------------------------------------- row losses
@cuda.jit(device=True, inline=True)
def _max_nan(a, b):
    """np.maximum: NaN propagates."""
    return a if (a > b or a != a) else b


@cuda.jit(device=True, inline=True)
def _min_nan(a, b):
    """np.minimum: NaN propagates."""
    return a if (a < b or a != a) else b


@cuda.jit(device=True, inline=True)
def _log_sigmoid(v):
    """min(v, 0) - log1p(exp(-|v|)): no overflow for any finite v."""
    return (0.0 if v > 0.0 else v) - math.log1p(math.exp(-abs(v)))


@cuda.jit(cache=True)
def multilabel_soft_margin(n, C, inner, x, xo, xs, y, yo, ys, w, wo, ws, has_w, divisor, out, oo):
    """out[o, j] = sum_c -(y log_sigmoid(x) + (1 - y) log_sigmoid(-x)) w / divisor; operands are (outer, C, inner)
    views with strides ``xs``/``ys``/``ws``; one thread per output."""
    p = cuda.grid(1)
    step = cuda.gridsize(1)
    while p < n:
        o = p // inner
        j = p - o * inner
        s = 0.0
        for c in range(C):
            v = x[xo + o * xs[0] + c * xs[1] + j * xs[2]] * 1.0
            yv = y[yo + o * ys[0] + c * ys[1] + j * ys[2]] * 1.0
            term = -(yv * _log_sigmoid(v) + (1.0 - yv) * _log_sigmoid(-v))
            if has_w:
                term *= w[wo + o * ws[0] + c * ws[1] + j * ws[2]]
            s += term
        out[oo + p] = s / divisor
        p += step


@cuda.jit(cache=True)
def cosine_embedding(rows, d, a, ao, sa, b, bo, sb, y, yo, ys, margin, out, oo):
    """1 - cos where y == 1, max(0, cos - margin) where y == -1, else 0, per row of the (rows, d) views ``a``/``b``
    (strides ``sa``/``sb``); squared norms + 1e-12 as torch."""
    r = cuda.grid(1)
    step = cuda.gridsize(1)
    while r < rows:
        dot = 0.0
        n1 = 0.0
        n2 = 0.0
        for i in range(d):
            u = a[ao + r * sa[0] + i * sa[1]] * 1.0
            v = b[bo + r * sb[0] + i * sb[1]] * 1.0
            dot += u * v
            n1 += u * u
            n2 += v * v
        cos = dot / math.sqrt((n1 + 1e-12) * (n2 + 1e-12))
        yv = y[yo + r * ys]
        loss = 0.0
        if yv == 1:
            loss += 1.0 - cos
        if yv == -1:
            loss += _max_nan(cos - margin, 0.0)
        out[oo + r] = loss
        r += step


# vector norms of ``triplet_margin`` (as the CPU kernels)
NORM_1, NORM_2, NORM_INF, NORM_NEG_INF, NORM_0, NORM_P = 0, 1, 2, 3, 4, 5


@cuda.jit(device=True, inline=True)
def _dist(a, ao, sa, b, bo, sb, d, eps, norm, p):
    """||a - b + eps||_norm over d values of two strided rows (torch.norm's conventions for 0 and +-inf)."""
    acc = 0.0
    if norm == NORM_INF:
        acc = -math.inf
    elif norm == NORM_NEG_INF:
        acc = math.inf
    for i in range(d):
        v = abs(a[ao + i * sa] * 1.0 - b[bo + i * sb] + eps)
        if norm == NORM_1:
            acc += v
        elif norm == NORM_2:
            acc += v * v
        elif norm == NORM_INF:
            acc = _max_nan(acc, v)
        elif norm == NORM_NEG_INF:
            acc = _min_nan(acc, v)
        elif norm == NORM_0:
            acc += 1.0 if v != 0 else 0.0
        else:
            acc += power(v, p)
    if norm == NORM_2:
        return math.sqrt(acc)
    if norm == NORM_P:
        return power(acc, 1.0 / p)
    return acc


@cuda.jit(cache=True)
def triplet_margin(rows, d, a, ao, sa, q, qo, sq, g, go, sg, margin, eps, norm, p, swap, out, oo):
    """max(0, margin + d(a, q) - d(a, g)) per row of the (rows, d) views anchor ``a``, positive ``q``, negative
    ``g``; with ``swap`` d(a, g) becomes min(d(a, g), d(q, g))."""
    r = cuda.grid(1)
    step = cuda.gridsize(1)
    while r < rows:
        d_pos = _dist(a, ao + r * sa[0], sa[1], q, qo + r * sq[0], sq[1], d, eps, norm, p)
        d_neg = _dist(a, ao + r * sa[0], sa[1], g, go + r * sg[0], sg[1], d, eps, norm, p)
        if swap:
            d_neg = _min_nan(d_neg, _dist(q, qo + r * sq[0], sq[1], g, go + r * sg[0], sg[1], d, eps, norm, p))
        out[oo + r] = _max_nan(margin + d_pos - d_neg, 0.0)
        r += step


@cuda.jit(cache=True)
def multi_margin(rows, C, x, xo, xs, t, to, ts, w, wo, ws, has_w, p, margin, flag, fo, out, oo):
    """sum_{i != t} w[t] max(0, margin - x[t] + x[i])^p / C per row of the (rows, C) view ``x``; a target outside
    [0, C) sets ``flag`` (the reference raises)."""
    r = cuda.grid(1)
    step = cuda.gridsize(1)
    while r < rows:
        k = t[to + r * ts]
        if k < 0 or k >= C:
            flag[fo] = 1
        else:
            base = xo + r * xs[0]
            xt = x[base + k * xs[1]] * 1.0
            wk = w[wo + k * ws] * 1.0 if has_w else 1.0
            s = 0.0
            for i in range(C):
                if i != k:
                    h = _max_nan(margin - xt + x[base + i * xs[1]], 0.0)
                    if p == 2:
                        h = h * h
                    s += h * wk
            out[oo + r] = s / C
        r += step


@cuda.jit(cache=True)
def multilabel_margin(rows, C, x, xo, xs, t, to, ts, flag, fo, out, oo):
    """sum over the listed targets j (before the first -1) and the classes i not listed of max(0, 1 - x[j] + x[i])
    / C per row of the (rows, C) views ``x``/``t``; a target outside [-1, C) sets ``flag`` (the reference raises)."""
    r = cuda.grid(1)
    step = cuda.gridsize(1)
    while r < rows:
        xb = xo + r * xs[0]
        tb = to + r * ts[0]
        n_listed = -1
        bad = False
        for c in range(C):
            k = t[tb + c * ts[1]]
            if k < -1 or k >= C:
                bad = True
            if k < 0 and n_listed < 0:
                n_listed = c
        if n_listed < 0:
            n_listed = C
        if bad:
            flag[fo] = 1
        else:
            s = 0.0
            for i in range(C):
                listed = False
                for j in range(n_listed):
                    if t[tb + j * ts[1]] == i:
                        listed = True
                if not listed:
                    xi = x[xb + i * xs[1]] * 1.0
                    for j in range(n_listed):
                        s += _max_nan((1.0 - x[xb + t[tb + j * ts[1]] * xs[1]]) + xi, 0.0)
            out[oo + r] = s / C
        r += step


# -------------------------------------------------------------------------------------------------------------- CTC
@cuda.jit(cache=True)
def ctc_alpha(T, C, M, lp, lpo, lps, tg, tgo, row, step, padded, width, il, ilo, ils, tl, tlo, tls, blank, alpha, ao,
              loss, lo, flag, fo):
    """-log p(targets | log_probs) of sample ``blockIdx.x`` into ``loss``: the log-space forward algorithm over the
    blank-extended targets (float64), threads over the extended positions, one barrier per time step. ``lp`` is
    (T, N, C) with strides ``lps``; sample i's target j is ``tg[tgo + start + j * step]`` with start ``i * row``
    (padded, ``width`` columns) or ``step`` times the preceding lengths (concatenated, ``width`` targets in all).
    ``alpha`` holds two rows of M = 2 * max length + 1 per sample. Lengths or targets the reference rejects set
    ``flag``."""
    i = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    info = cuda.shared.array(5, int64)  # start, target length, input length, lengths ok, targets ok
    if tid == 0:
        n_in = il[ilo + i * ils]
        n_tg = tl[tlo + i * tls]
        ok = n_in >= 0 and n_in <= T and n_tg >= 0
        start = i * row
        if padded:
            ok = ok and n_tg <= width
        else:
            acc = 0
            for k in range(i):
                acc += tl[tlo + k * tls]
            ok = ok and acc >= 0 and acc + n_tg <= width
            start = acc * step
        if not ok:
            flag[fo] = 1
        info[0] = start
        info[1] = n_tg
        info[2] = n_in
        info[3] = 1 if ok else 0
        info[4] = 1
    cuda.syncthreads()
    if info[3] == 0:
        return
    start = tgo + info[0]
    L = info[1]
    n_in = info[2]
    j = tid
    while j < L:
        k = tg[start + j * step]
        if k < 0 or k >= C:
            flag[fo] = 1
            info[4] = 0
        j += nt
    cuda.syncthreads()
    if info[4] == 0:
        return
    if n_in == 0:
        if tid == 0:
            loss[lo + i] = 0.0 if L == 0 else math.inf
        return
    m = 2 * L + 1
    base = ao + i * 2 * M
    s = tid
    while s < m:
        v = -math.inf
        if s == 0:
            v = lp[lpo + i * lps[1] + blank * lps[2]] * 1.0
        elif s == 1:
            v = lp[lpo + i * lps[1] + tg[start] * lps[2]] * 1.0
        alpha[base + s] = v
        s += nt
    cuda.syncthreads()
    for t in range(1, n_in):
        cur = base + (t % 2) * M
        prev = base + ((t - 1) % 2) * M
        lrow = lpo + t * lps[0] + i * lps[1]
        s = tid
        while s < m:
            label = blank if s % 2 == 0 else tg[start + (s // 2) * step]
            a = alpha[prev + s]
            if s >= 1:
                a = logaddexp(a, alpha[prev + s - 1])
            if s >= 2 and label != blank and label != tg[start + (s // 2 - 1) * step]:
                a = logaddexp(a, alpha[prev + s - 2])
            alpha[cur + s] = a + lp[lrow + label * lps[2]]
            s += nt
        cuda.syncthreads()
    if tid == 0:
        last = base + ((n_in - 1) % 2) * M
        end = alpha[last + m - 1]
        if L > 0:
            end = logaddexp(end, alpha[last + m - 2])
        loss[lo + i] = -end


@cuda.jit(cache=True)
def ctc_finish(n, loss, lo, tl, tlo, tls, padded, n_targets, zero_inf, mode, flag, fo, out, oo):
    """One thread: ``ctc_alpha``'s losses to the output (zero_infinity; mode 0 'none', 1 'sum', 2 'mean': each loss
    over its target length clamped to >= 1, then the mean); concatenated targets must number sum(target lengths)."""
    if cuda.grid(1) == 0:
        total = 0.0
        count = 0
        for i in range(n):
            v = loss[lo + i]
            k = tl[tlo + i * tls]
            count += k
            if zero_inf and v == math.inf:
                v = 0.0
            if mode == 0:
                out[oo + i] = v
            elif mode == 2:
                total += v / (k if k > 1 else 1)
            else:
                total += v
        if not padded and count != n_targets:
            flag[fo] = 1
        if mode == 2:
            out[oo] = total / n
        elif mode == 1:
            out[oo] = total
