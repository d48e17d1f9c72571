"""CUDA kernels for reductions, pooling, embedding and the other ``lower_misc.py`` ops (the row kernels --
softmax, norms -- are in ``rows.py``).

One thread per output element with float64 accumulation: simple and exact enough; these are memory-bound next to
the GEMMs. Every kernel takes ``(arena, offset)`` pairs and shapes as runtime integers."""
from __future__ import annotations

import math

from numba import cuda

from .devmath import power


@cuda.jit(device=True, inline=True)
def _unravel4(j, s):
    """The C-order position ``(r0, r1, r2, r3)`` of flat index ``j`` in a 4-d shape ``s``."""
    r3 = j % s[3]
    j //= s[3]
    r2 = j % s[2]
    j //= s[2]
    return j // s[1], j % s[1], r2, r3


@cuda.jit(device=True, inline=True)
def offset4(j, s, st):
    """The strided offset of flat index ``j`` in a 4-d shape ``s`` with strides ``st``."""
    r0, r1, r2, r3 = _unravel4(j, s)
    return r0 * st[0] + r1 * st[1] + r2 * st[2] + r3 * st[3]


@cuda.jit(device=True, inline=True)
def var_result(ss, div, std):
    """The variance (``std``: standard deviation) from the sum of squared deviations ``ss`` and the divisor
    ``R - ddof``; numpy's NaN / inf for a divisor <= 0."""
    if div > 0:
        v = ss / div
    else:
        v = math.nan if not ss > 0 else math.inf
    return math.sqrt(v) if std else v


@cuda.jit(cache=True)
def reduce_axes(n_out, ks, kst, R, rs, rst, x, xo, out, oo, op, ddof):
    """out[i] = op over the reduced positions of x; ``ks``/``kst`` kept shape/strides (4-d), ``rs``/``rst`` reduced
    shape/strides (4-d, C order: position j is the flat index numpy's arg-reductions return); op 0 sum, 1 mean,
    2 max, 3 min, 4 prod, 5 any, 6 all, 7 var, 8 std (divisor R - ddof), 9 argmax, 10 argmin (first occurrence,
    NaN wins as in numpy)."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n_out:
        base = xo + offset4(i, ks, kst)
        acc = 0.0
        if op == 4 or op == 6:
            acc = 1.0
        mean = 0.0
        if op >= 7 and op <= 8:  # two passes: the mean first
            for j in range(R):
                mean += x[base + offset4(j, rs, rst)]
            mean = mean / R if R > 0 else math.nan
        best = 0
        first = True
        for j in range(R):
            v = x[base + offset4(j, rs, rst)]
            if op <= 1:
                acc += v
            elif op <= 3 or op >= 9:
                if first:
                    acc = v
                elif acc == acc and (v != v or ((op == 2 or op == 9) and v > acc) or
                                     ((op == 3 or op == 10) and v < acc)):
                    acc = v
                    best = j
            elif op == 4:
                acc *= v
            elif op == 5:
                if v != 0:
                    acc = 1.0
            elif op == 6:
                if v == 0:
                    acc = 0.0
            else:
                d = v - mean
                acc += d * d
            first = False
        if op == 1:
            acc = acc / R if R > 0 else math.nan
        elif op == 7 or op == 8:
            acc = var_result(acc, R - ddof, op == 8)
        if op >= 9:
            out[oo + i] = best
        else:
            out[oo + i] = acc
        i += step


@cuda.jit(device=True, inline=True)
def pool_pos(idx, C, OD, OH, OW):
    """``(n, c, od, oh, ow)`` of flat index ``idx`` in a dense (N, C, OD, OH, OW) output (pooling, resampling)."""
    ow = idx % OW
    t = idx // OW
    oh = t % OH
    t //= OH
    od = t % OD
    t //= OD
    return t // C, t % C, od, oh, ow


@cuda.jit(cache=True)
def lp_pool3d(total, C, OD, OH, OW, D, H, W, xs, k, st, x, xo, out, oo, p, full):
    """Power-average pooling (ops/pooling.py ``lp_pool``): ``(sum x^p)^(1/p)`` over the in-bounds taps, rescaled to
    the full window ``full`` when ceil mode cut it short; max |x| for p = inf, min |x| for p = -inf (NaN wins)."""
    idx = cuda.grid(1)
    step = cuda.gridsize(1)
    while idx < total:
        bn, c, od, oh, ow = pool_pos(idx, C, OD, OH, OW)
        base = xo + bn * xs[0] + c * xs[1]
        acc = -math.inf if p == math.inf else (math.inf if p == -math.inf else 0.0)
        cnt = 0
        for a in range(k[0]):
            id_ = od * st[0] + a
            for i in range(k[1]):
                ih = oh * st[1] + i
                for j in range(k[2]):
                    iw = ow * st[2] + j
                    if id_ >= D or ih >= H or iw >= W:
                        continue
                    v = x[base + id_ * xs[2] + ih * xs[3] + iw * xs[4]] * 1.0
                    if p == math.inf:
                        if acc == acc and (abs(v) > acc or v != v):
                            acc = abs(v)
                    elif p == -math.inf:
                        if acc == acc and (abs(v) < acc or v != v):
                            acc = abs(v)
                    else:
                        acc += power(v, p)
                        cnt += 1
        if p != math.inf and p != -math.inf:
            if cnt != full:
                acc = acc / cnt * full
            acc = power(acc, 1.0 / p)
        out[oo + idx] = acc
        idx += step


@cuda.jit(cache=True)
def pool3d(total, C, OD, OH, OW, D, H, W, xs, k, st, pd, dl, x, xo, out, oo, mode, include_pad, divisor):
    """Max/average pooling over three spatial dims (``k``, ``st``, ``pd``, ``dl``: 3-tuples; 1-d and 2-d pooling
    run with depth 1). mode 0: max (padding never wins, NaN propagates); 1: average with torch's divisor rules."""
    idx = cuda.grid(1)
    step = cuda.gridsize(1)
    while idx < total:
        bn, c, od, oh, ow = pool_pos(idx, C, OD, OH, OW)
        base = xo + bn * xs[0] + c * xs[1]
        d0 = od * st[0] - pd[0]
        h0 = oh * st[1] - pd[1]
        w0 = ow * st[2] - pd[2]
        acc = 0.0
        found = False
        for a in range(k[0]):
            id_ = d0 + a * dl[0]
            if id_ < 0 or id_ >= D:
                continue
            for i in range(k[1]):
                ih = h0 + i * dl[1]
                if ih < 0 or ih >= H:
                    continue
                for j in range(k[2]):
                    iw = w0 + j * dl[2]
                    if iw < 0 or iw >= W:
                        continue
                    v = x[base + id_ * xs[2] + ih * xs[3] + iw * xs[4]]
                    if mode == 1:
                        acc += v
                    elif not found or ((v > acc or v != v) and acc == acc):
                        acc = v
                    found = True
        if mode == 0 and not found:
            acc = -math.inf  # window wholly in the padding (torch gives -inf)
        if mode == 1:
            if divisor > 0:
                acc = acc / divisor
            else:
                # builtin min/max do not compile for a GPU target (see devmath.py)
                n = 1
                for e in range(3):
                    s0 = d0 if e == 0 else (h0 if e == 1 else w0)
                    size = D if e == 0 else (H if e == 1 else W)
                    hi = s0 + k[e] if s0 + k[e] < size + pd[e] else size + pd[e]
                    lo = s0
                    if not include_pad:
                        lo = lo if lo > 0 else 0
                        hi = hi if hi < size else size
                    n *= hi - lo
                acc = acc / n
        out[oo + idx] = acc
        idx += step


@cuda.jit(cache=True)
def adaptive_pool3d(total, C, OD, OH, OW, D, H, W, xs, x, xo, out, oo, mode):
    """Adaptive pooling (torch's bins ``[floor(o*n/out), ceil((o+1)*n/out))``) over three spatial dims (1-d and
    2-d run with depth 1); mode 0 max, 1 average."""
    idx = cuda.grid(1)
    step = cuda.gridsize(1)
    while idx < total:
        bn, c, od, oh, ow = pool_pos(idx, C, OD, OH, OW)
        base = xo + bn * xs[0] + c * xs[1]
        ds = (od * D) // OD
        de = ((od + 1) * D + OD - 1) // OD
        hs = (oh * H) // OH
        he = ((oh + 1) * H + OH - 1) // OH
        ws = (ow * W) // OW
        we = ((ow + 1) * W + OW - 1) // OW
        acc = 0.0
        found = False
        for id_ in range(ds, de):
            for ih in range(hs, he):
                for iw in range(ws, we):
                    v = x[base + id_ * xs[2] + ih * xs[3] + iw * xs[4]]
                    if mode == 1:
                        acc += v
                    elif not found or ((v > acc or v != v) and acc == acc):
                        acc = v
                    found = True
        if mode == 1:
            acc = acc / ((de - ds) * (he - hs) * (we - ws))
        out[oo + idx] = acc
        idx += step


@cuda.jit(device=True, inline=True)
def _window(o, n_in, n_out, k, st, pad, dil, adaptive):
    """(start, taps, tap step, first in-range tap) of output position ``o`` along one axis."""
    if adaptive:
        s = (o * n_in) // n_out
        return s, ((o + 1) * n_in + n_out - 1) // n_out - s, 1, s
    s = o * st - pad
    return s, k, dil, (s if s >= 0 else s + ((-s + dil - 1) // dil) * dil)


@cuda.jit(cache=True)
def pool3d_indices(total, C, OD, OH, OW, D, H, W, xs, k, st, pad, dil, adaptive, x, xo, out, oo, ind, io):
    """Max pooling over (N, C, D, H, W) (``adaptive``: torch's adaptive bins) with torch's flat per-plane indices:
    a row-major scan taking ``v > best or isnan(v)`` from -inf (first maximum, last NaN); a window with no input
    tap reports its first tap past the left padding. ``k``/``st``/``pad``/``dil``: (d, h, w) triples."""
    idx = cuda.grid(1)
    step = cuda.gridsize(1)
    while idx < total:
        bn, c, od, oh, ow = pool_pos(idx, C, OD, OH, OW)
        base = xo + bn * xs[0] + c * xs[1]
        ds, nd, sdd, fd = _window(od, D, OD, k[0], st[0], pad[0], dil[0], adaptive)
        hs, nh, sdh, fh = _window(oh, H, OH, k[1], st[1], pad[1], dil[1], adaptive)
        ws, nw, sdw, fw = _window(ow, W, OW, k[2], st[2], pad[2], dil[2], adaptive)
        best = -math.inf
        at = (fd * H + fh) * W + fw
        for a in range(nd):
            id_ = ds + a * sdd
            if id_ < 0 or id_ >= D:
                continue
            for i in range(nh):
                ih = hs + i * sdh
                if ih < 0 or ih >= H:
                    continue
                for j in range(nw):
                    iw = ws + j * sdw
                    if iw < 0 or iw >= W:
                        continue
                    v = x[base + id_ * xs[2] + ih * xs[3] + iw * xs[4]]
                    if v > best or v != v:
                        best = v
                        at = (id_ * H + ih) * W + iw
        out[oo + idx] = best
        ind[io + idx] = at
        idx += step


@cuda.jit(cache=True)
def embedding_gather(total, D, w, wo, ind, io, out, oo):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        out[oo + i] = w[wo + ind[io + i // D] * D + i % D]
        i += step


@cuda.jit(cache=True)
def take_axis(total, n_idx, size, post, x, xo, idx, io, flag, fo, out, oo):
    """``np.take`` along the middle axis of a dense (pre, size, post) ``x``: negative indices count from the end; an
    index outside [-size, size) sets ``flag`` (the reference raises) and writes 0."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        q = i % post
        r = i // post
        k = idx[io + r % n_idx]
        if k < 0:
            k += size
        if k < 0 or k >= size:
            flag[fo] = 1
            out[oo + i] = 0
        else:
            out[oo + i] = x[xo + ((r // n_idx) * size + k) * post + q]
        i += step


@cuda.jit(cache=True)
def channel_moments(C, N, S, x, xo, xs, mean, mo, var, vo):
    """Per channel c of ``x`` (N, C, S; strides ``xs``): mean and biased variance in float64 (two passes, as
    ops/normalization.py ``_moments``); NaN when N * S == 0."""
    c = cuda.grid(1)
    step = cuda.gridsize(1)
    while c < C:
        count = N * S
        if count == 0:
            mean[mo + c] = math.nan
            var[vo + c] = math.nan
        else:
            s1 = 0.0
            for n in range(N):
                for j in range(S):
                    s1 += x[xo + n * xs[0] + c * xs[1] + j * xs[2]]
            m = s1 / count
            s2 = 0.0
            for n in range(N):
                for j in range(S):
                    d = x[xo + n * xs[0] + c * xs[1] + j * xs[2]] - m
                    s2 += d * d
            mean[mo + c] = m
            var[vo + c] = s2 / count
        c += step


@cuda.jit(cache=True)
def embedding_bag_rows(total, D, n_off, N, last, w, wo, ind, io, off, oo_, psw, po, has_psw, mode, pad, has_pad,
                       out, oo):
    """``out[b, d]``: sum (mode 0), mean (1) or max (2) of ``w[ind[pos], d]`` over the bag's positions
    ``off[b] <= pos < off[b + 1]`` (the last bag to the end, or to ``off[-1]`` when ``last``), skipping ``pad``;
    empty bags give 0; ``psw`` scales each row (sum)."""
    k = cuda.grid(1)
    step = cuda.gridsize(1)
    end = off[oo_ + n_off - 1] if last else N
    while k < total:
        b = k // D
        d = k % D
        stop = off[oo_ + b + 1] if b + 1 < n_off else N
        if stop > end:
            stop = end
        acc = 0.0
        cnt = 0
        for pos in range(off[oo_ + b], stop):
            r = ind[io + pos]
            if has_pad and r == pad:
                continue
            v = w[wo + r * D + d] * 1.0
            if has_psw:
                v *= psw[po + pos]
            if mode == 2:
                if cnt == 0 or (acc == acc and (v > acc or v != v)):
                    acc = v
            else:
                acc += v
            cnt += 1
        if mode == 1 and cnt > 0:
            acc /= cnt
        out[oo + k] = acc
        k += step


@cuda.jit(device=True, inline=True)
def _pnorm(x, base, b, bbase, diff, add, R, rs, rst, bst, p):
    """torch's vector_norm (as ops/distance.py: finite non-zero slices scaled by their largest magnitude) of x over
    the reduced positions, or of ``x - b + add`` when ``diff``."""
    m = 0.0
    lo = math.inf
    cnt = 0.0
    s1 = 0.0
    for j in range(R):
        r0, r1, r2, r3 = _unravel4(j, rs)
        v = x[base + r0 * rst[0] + r1 * rst[1] + r2 * rst[2] + r3 * rst[3]] * 1.0
        if diff:
            v = v - b[bbase + r0 * bst[0] + r1 * bst[1] + r2 * bst[2] + r3 * bst[3]] + add
        a = abs(v)
        if a > m or a != a:
            m = a if m == m else m
        if a < lo or a != a:
            lo = a if lo == lo else lo
        if a != 0:
            cnt += 1.0
        s1 += a
    if p == 0:
        return cnt
    if p == math.inf:
        return m
    if p == -math.inf:
        return lo
    if p == 1:
        return s1
    scale = m if (m == m and m != math.inf and m > 0) else 1.0
    s = 0.0
    for j in range(R):
        r0, r1, r2, r3 = _unravel4(j, rs)
        v = x[base + r0 * rst[0] + r1 * rst[1] + r2 * rst[2] + r3 * rst[3]] * 1.0
        if diff:
            v = v - b[bbase + r0 * bst[0] + r1 * bst[1] + r2 * bst[2] + r3 * bst[3]] + add
        t = abs(v) / scale
        s += t * t if p == 2 else math.pow(t, p)
    return (math.sqrt(s) if p == 2 else math.pow(s, 1.0 / p)) * scale


@cuda.jit(cache=True)
def pnorm_reduce(n_out, ks, kst, kbst, R, rs, rst, rbst, x, xo, b, bo, diff, add, p, eps, mode, out, oo):
    """Per kept position: mode 0 ``out[i] = norm`` (pairwise_distance: the norm of x - b + add); mode 1
    (normalize; ``x`` dense, ``out`` laid out as ``x``) every reduced element divided by max(norm, eps)."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n_out:
        base = xo + offset4(i, ks, kst)
        bbase = bo + offset4(i, ks, kbst)
        nrm = _pnorm(x, base, b, bbase, diff, add, R, rs, rst, rbst, p)
        if mode == 0:
            out[oo + i] = nrm
        else:
            d = nrm if (nrm > eps or nrm != nrm) else eps
            for j in range(R):
                e = base + offset4(j, rs, rst)
                out[oo + e - xo] = x[e] / d
        i += step


@cuda.jit(cache=True)
def pdist_rows(n_out, ti, tio, tj, tjo, rs, rst, x, xo, xs0, p, out, oo):
    """``out[k]`` = the p-norm of row ``ti[k]`` minus row ``tj[k]`` of ``x`` (row stride ``xs0``; ``rs``/``rst``
    the row's 4-d shape and strides)."""
    k = cuda.grid(1)
    step = cuda.gridsize(1)
    while k < n_out:
        out[oo + k] = _pnorm(x, xo + ti[tio + k] * xs0, x, xo + tj[tjo + k] * xs0, True, 0.0, rs[3], rs, rst, rst, p)
        k += step


@cuda.jit(cache=True)
def bilinear_rows(total, O, I1, I2, x1, x1o, s1, x2, x2o, s2, w, wo, b, bo, has_b, out, oo):
    """``out[n, o] = sum_ij x1[n, i] w[o, i, j] x2[n, j] (+ b[o])`` (``w`` dense), float64 accumulation."""
    k = cuda.grid(1)
    step = cuda.gridsize(1)
    while k < total:
        n = k // O
        o = k % O
        acc = 0.0
        for i in range(I1):
            t = 0.0
            wr = wo + (o * I1 + i) * I2
            for j in range(I2):
                t += w[wr + j] * x2[x2o + n * s2[0] + j * s2[1]]
            acc += x1[x1o + n * s1[0] + i * s1[1]] * t
        if has_b:
            acc += b[bo + o]
        out[oo + k] = acc
        k += step


@cuda.jit(cache=True)
def cosine_reduce(n_out, ks, kst, kbst, R, rs, rst, rbst, x, xo, b, bo, eps, out, oo):
    """``sum(x / max(|x|, eps) * b / max(|b|, eps))`` over the reduced positions (2-norms)."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < n_out:
        base = xo + offset4(i, ks, kst)
        bbase = bo + offset4(i, ks, kbst)
        na = _pnorm(x, base, b, bbase, False, 0.0, R, rs, rst, rbst, 2.0)
        nb = _pnorm(b, bbase, x, base, False, 0.0, R, rs, rbst, rst, 2.0)
        na = na if (na > eps or na != na) else eps
        nb = nb if (nb > eps or nb != nb) else eps
        s = 0.0
        for j in range(R):
            r0, r1, r2, r3 = _unravel4(j, rs)
            s += (x[base + r0 * rst[0] + r1 * rst[1] + r2 * rst[2] + r3 * rst[3]] / na) * \
                (b[bbase + r0 * rbst[0] + r1 * rbst[1] + r2 * rbst[2] + r3 * rbst[3]] / nb)
        out[oo + i] = s
        i += step


@cuda.jit(cache=True)
def lrn(total, C, inner, size, alpha, beta, k, x, xo, out, oo):
    """local_response_norm over dense (N, C, inner): the channel window [c - size//2, c + (size-1)//2]."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        c = (i // inner) % C
        s = 0.0
        for cc in range(c - size // 2, c + (size - 1) // 2 + 1):
            if cc >= 0 and cc < C:
                v = x[xo + i + (cc - c) * inner] * 1.0
                s += v * v
        out[oo + i] = x[xo + i] / math.pow(s * (alpha / size) + k, beta)
        i += step


@cuda.jit(cache=True)
def batch_norm_ch(total, inner, C, x, xo, mean, mo, var, vo, w, wo, has_w, b, bo, has_b, eps, out, oo):
    """Eval-mode batch_norm over dense (N, C, inner) with its statistics as tensors: ``x * scale + shift``, the
    per-channel scale and shift folded in float64 as the reference does."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        c = (i // inner) % C
        scale = 1.0 / math.sqrt(var[vo + c] + eps)
        if has_w:
            scale = scale * w[wo + c]
        shift = -mean[mo + c] * scale
        if has_b:
            shift = shift + b[bo + c]
        out[oo + i] = x[xo + i] * scale + shift
        i += step


@cuda.jit(cache=True)
def one_hot(total, K, ind, io, out, oo):
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        out[oo + i] = 1 if ind[io + i // K] == i % K else 0
        i += step
