"""Loss kernels of the CPU backend (lowered by ``lower_loss.py``).

Every kernel takes dense operands as ``(arena, offset)`` pairs and shapes as runtime integers, so one compiled
kernel per dtype signature serves every node. Losses are computed per row (a class distribution, an embedding, a
CTC sequence) and summed in float64, then cast to the output dtype. Value checks that the numpy reference makes
(class indices in range, lengths, probabilities in [0, 1]) run in a serial pass before the (possibly parallel)
computation: a kernel raises ``ValueError``, and the executor then replays the graph in the interpreter, whose
numpy reference raises the located ``InputError``.

``error_model="numpy"``: a division by zero gives inf/NaN as in numpy (torch's mean over nothing is NaN).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .kernels_reduce import fexp, rmax

_FLAGS = dict(cache=True, nogil=True, error_model="numpy")
_PAR = dict(cache=True, nogil=True, error_model="numpy", parallel=True)
# Sums over contiguous runs: reassociation lets LLVM vectorize them (float32 exp is the vectorizable ``fexp``).
_VEC = dict(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})

BLOCK = 4096  # elements per partial sum of ``reduce_loss``

# reductions (the ``mode`` argument)
NONE, SUM, MEAN, BATCHMEAN = 0, 1, 2, 3
# vector norms of ``triplet_margin``
NORM_1, NORM_2, NORM_INF, NORM_NEG_INF, NORM_0, NORM_P = 0, 1, 2, 3, 4, 5
# value checks of ``check_values``
CHECK_UNIT, CHECK_NONNEG = 0, 1


# --------------------------------------------------------------------------------------------- scalar helpers
@njit(**_FLAGS)
def _max_nan(a, b):  # noqa: ANN001, ANN201
    """np.maximum: NaN propagates."""
    return a if (a > b or a != a) else b


@njit(**_FLAGS)
def _min_nan(a, b):  # noqa: ANN001, ANN201
    """np.minimum: NaN propagates."""
    return a if (a < b or a != a) else b


@njit(**_FLAGS)
def _logaddexp(x, y):  # noqa: ANN001, ANN201
    """np.logaddexp (npy_logaddexp): equal infinities without NaN, NaN propagates."""
    if x == y:
        return x + math.log(2.0)
    d = x - y
    if d > 0:
        return x + math.log1p(math.exp(-d))
    if d <= 0:
        return y + math.log1p(math.exp(d))
    return d  # NaN


@njit(**_FLAGS)
def _log_sigmoid(v):  # noqa: ANN001, ANN201
    """min(v, 0) - log1p(exp(-|v|)): no overflow for any finite v."""
    return (0.0 if v > 0.0 else v) - math.log1p(math.exp(-abs(v)))


# --------------------------------------------------------------------------------------------- value checks
@njit(**_FLAGS)
def check_values(mode, a, ao, shape, st):  # noqa: ANN001, ANN201
    """Raise unless every value of a strided (6-dim padded) view passes: CHECK_UNIT: in [0, 1] (NaN fails);
    CHECK_NONNEG: not negative (NaN passes)."""
    for i0 in range(shape[0]):
        for i1 in range(shape[1]):
            for i2 in range(shape[2]):
                for i3 in range(shape[3]):
                    for i4 in range(shape[4]):
                        base = ao + i0 * st[0] + i1 * st[1] + i2 * st[2] + i3 * st[3] + i4 * st[4]
                        for i5 in range(shape[5]):
                            v = a[base + i5 * st[5]]
                            if mode == CHECK_UNIT:
                                if not (v >= 0 and v <= 1):
                                    raise ValueError("a value outside [0, 1]")
                            elif v < 0:
                                raise ValueError("a negative value")


# --------------------------------------------------------------------------------------------- loss_reduction
@njit(**_VEC)
def _sum(x, lo, hi):  # noqa: ANN001, ANN201
    s = 0.0
    for i in range(lo, hi):
        s += x[i]
    return s


@njit(**_PAR)
def reduce_loss(x, xo, n, w, wo, nw, has_w, mode, count, out, oo, par):  # noqa: ANN001, ANN201
    """out = sum(x[0:n]) (SUM), / n or / sum(w[0:nw]) (MEAN), / count (BATCHMEAN)."""
    nb = (n + BLOCK - 1) // BLOCK
    part = np.zeros(max(nb, 1))
    if par:
        for b in prange(nb):
            part[b] = _sum(x, xo + b * BLOCK, xo + min(n, (b + 1) * BLOCK))
    else:
        for b in range(nb):
            part[b] = _sum(x, xo + b * BLOCK, xo + min(n, (b + 1) * BLOCK))
    total = 0.0
    for b in range(nb):
        total += part[b]
    if mode == SUM:
        out[oo] = total
        return
    if mode == BATCHMEAN:
        den = float(count)
    elif has_w:
        den = _sum(w, wo, wo + nw)
    else:
        den = float(n)
    out[oo] = total / den


# --------------------------------------------------------------------------------------------- NLL / cross entropy
@njit(**_FLAGS)
def _check_targets(t, to, n, n_classes, ignore):  # noqa: ANN001, ANN201
    for p in range(n):
        k = t[to + p]
        if k != ignore and (k < 0 or k >= n_classes):
            raise ValueError("class index out of range")


@njit(**_VEC)
def _row_sum_exp(x, base, n, m):  # noqa: ANN001, ANN201
    """sum(exp(x[base:base + n] - m)) of a contiguous row, exp in x's dtype, summed in float64 per block."""
    total = 0.0
    for b0 in range(base, base + n, BLOCK):
        s = x.dtype.type(0)
        for i in range(b0, min(b0 + BLOCK, base + n)):
            s += fexp(x[i] - m)
        total += s
    return total


@njit(**_FLAGS)
def _shift_lse(x, base, n_classes, inner):  # noqa: ANN001, ANN201
    """(max, log(sum(exp(x - max)))) of x[base + c * inner]: log_softmax(x)[c] = (x[c] - max) - lse."""
    if inner == 1:
        m = rmax(x[base:base + n_classes], n_classes)
        return float(m), math.log(_row_sum_exp(x, base, n_classes, m))
    m = -np.inf
    for c in range(n_classes):
        v = float(x[base + c * inner])
        if v > m or v != v:
            m = v
    s = 0.0
    for c in range(n_classes):
        s += math.exp(float(x[base + c * inner]) - m)
    return m, math.log(s)


@njit(**_VEC)
def _smooth_sum(x, base, n_classes, inner, shift, w, wo, has_w):  # noqa: ANN001, ANN201
    """-sum_c (x[c] - shift) w[c]: the label-smoothing term, with shift = max + lse."""
    s = 0.0
    if has_w:
        for c in range(n_classes):
            s -= (float(x[base + c * inner]) - shift) * float(w[wo + c])
    else:
        for c in range(n_classes):
            s -= float(x[base + c * inner]) - shift
    return s


@njit(**_FLAGS)
def _index_position(logits, x, base, n_classes, inner, k, w, wo, has_w, eps):  # noqa: ANN001, ANN201
    """(loss, weight, smoothing term) of one position with class index k: x[base + c * inner] are its C values
    (logits, or log-probabilities when not ``logits``)."""
    wk = float(w[wo + k]) if has_w else 1.0
    if not logits:
        return -float(x[base + k * inner]) * wk, wk, 0.0
    m, lse = _shift_lse(x, base, n_classes, inner)
    smooth = _smooth_sum(x, base, n_classes, inner, m + lse, w, wo, has_w) if eps > 0 else 0.0
    return -((float(x[base + k * inner]) - m) - lse) * wk, wk, smooth


@njit(**_PAR)
def class_index_loss(logits, x, xo, t, to, w, wo, has_w, outer, n_classes, inner, ignore, eps, mode, out, oo,
                     par):  # noqa: ANN001, ANN201
    """NLL (``x`` holds log-probabilities) or cross entropy of logits against class indices ``t`` (outer, inner),
    over a dense (outer, C, inner) input with the class axis in the middle; ``eps`` is the label smoothing (the
    smoothing term is normalized like the NLL term), ``mode`` the reduction ('mean': by the summed weights)."""
    n = outer * inner
    _check_targets(t, to, n, n_classes, ignore)
    mix = logits and eps > 0
    s_loss, s_w, s_smooth = 0.0, 0.0, 0.0
    if par:
        for p in prange(n):
            o = p // inner
            k = t[to + p]
            loss, wt, smooth = 0.0, 0.0, 0.0
            if k != ignore:
                loss, wt, smooth = _index_position(logits, x, xo + o * n_classes * inner + p - o * inner, n_classes,
                                                   inner, k, w, wo, has_w, eps)
            if mode == NONE:
                out[oo + p] = (1.0 - eps) * loss + smooth * (eps / n_classes) if mix else loss
            s_loss += loss
            s_w += wt
            s_smooth += smooth
    else:
        for p in range(n):
            o = p // inner
            k = t[to + p]
            loss, wt, smooth = 0.0, 0.0, 0.0
            if k != ignore:
                loss, wt, smooth = _index_position(logits, x, xo + o * n_classes * inner + p - o * inner, n_classes,
                                                   inner, k, w, wo, has_w, eps)
            if mode == NONE:
                out[oo + p] = (1.0 - eps) * loss + smooth * (eps / n_classes) if mix else loss
            s_loss += loss
            s_w += wt
            s_smooth += smooth
    if mode == NONE:
        return
    if mode == MEAN:
        s_loss = s_loss / s_w
        s_smooth = s_smooth / s_w
    out[oo] = (1.0 - eps) * s_loss + s_smooth * (eps / n_classes) if mix else s_loss


@njit(**_FLAGS)
def _prob_position(x, base, n_classes, inner, t, tb, w, wo, has_w, eps):  # noqa: ANN001, ANN201
    m, lse = _shift_lse(x, base, n_classes, inner)
    loss = 0.0
    for c in range(n_classes):
        y = float(t[tb + c * inner])
        if eps > 0:
            y = y * (1.0 - eps) + eps / n_classes
        term = -((float(x[base + c * inner]) - m) - lse) * y
        loss += term * float(w[wo + c]) if has_w else term
    return loss


@njit(**_PAR)
def class_prob_loss(x, xo, t, to, w, wo, has_w, outer, n_classes, inner, eps, mode, out, oo,
                    par):  # noqa: ANN001, ANN201
    """Cross entropy of logits against class probabilities ``t`` (input-shaped, smoothed by ``eps``) over dense
    (outer, C, inner) operands; 'mean' averages over the positions."""
    n = outer * inner
    total = 0.0
    if par:
        for p in prange(n):
            o = p // inner
            base = o * n_classes * inner + p - o * inner
            loss = _prob_position(x, xo + base, n_classes, inner, t, to + base, w, wo, has_w, eps)
            if mode == NONE:
                out[oo + p] = loss
            total += loss
    else:
        for p in range(n):
            o = p // inner
            base = o * n_classes * inner + p - o * inner
            loss = _prob_position(x, xo + base, n_classes, inner, t, to + base, w, wo, has_w, eps)
            if mode == NONE:
                out[oo + p] = loss
            total += loss
    if mode != NONE:
        out[oo] = total if mode == SUM else total / n


# --------------------------------------------------------------------------------------------- row losses
@njit(**_FLAGS)
def multilabel_soft_margin(x, xo, y, yo, w, wo, has_w, outer, n_classes, inner, divisor, out,
                           oo):  # noqa: ANN001, ANN201
    """out[o, j] = sum_c -(y log_sigmoid(x) + (1 - y) log_sigmoid(-x)) w / divisor over dense (outer, C, inner)
    operands (``w`` input-shaped too)."""
    for o in range(outer):
        for j in range(inner):
            s = 0.0
            for c in range(n_classes):
                i = (o * n_classes + c) * inner + j
                v = float(x[xo + i])
                yv = float(y[yo + i])
                term = -(yv * _log_sigmoid(v) + (1.0 - yv) * _log_sigmoid(-v))
                s += term * float(w[wo + i]) if has_w else term
            out[oo + o * inner + j] = s / divisor


@njit(**_FLAGS)
def cosine_embedding(x1, x1o, x2, x2o, y, yo, rows, d, margin, out, oo):  # noqa: ANN001, ANN201
    """1 - cos where y == 1, max(0, cos - margin) where y == -1, else 0; rows of d values, squared norms + 1e-12."""
    for r in range(rows):
        dot, n1, n2 = 0.0, 0.0, 0.0
        for i in range(d):
            a = float(x1[x1o + r * d + i])
            b = float(x2[x2o + r * d + i])
            dot += a * b
            n1 += a * a
            n2 += b * b
        cos = dot / math.sqrt((n1 + 1e-12) * (n2 + 1e-12))
        yv = y[yo + r]
        loss = 0.0
        if yv == 1:
            loss += 1.0 - cos
        if yv == -1:
            loss += _max_nan(cos - margin, 0.0)
        out[oo + r] = loss


@njit(**_FLAGS)
def _dist(a, ao, b, bo, d, eps, norm, p):  # noqa: ANN001, ANN201
    """||a - b + eps||_norm over d values (torch.norm's conventions for 0 and +-inf)."""
    acc = 0.0
    if norm == NORM_INF:
        acc = -np.inf
    elif norm == NORM_NEG_INF:
        acc = np.inf
    for i in range(d):
        v = abs(float(a[ao + i]) - float(b[bo + i]) + eps)
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
            acc += v ** p
    if norm == NORM_2:
        return math.sqrt(acc)
    if norm == NORM_P:
        return acc ** (1.0 / p)
    return acc


@njit(**_FLAGS)
def triplet_margin(a, ao, pos, po, neg, no, rows, d, margin, eps, norm, p, swap, out, oo):  # noqa: ANN001, ANN201
    """max(0, margin + d(a, pos) - d(a, neg)), d(a, neg) replaced by min(., d(pos, neg)) with ``swap``."""
    for r in range(rows):
        off = r * d
        d_pos = _dist(a, ao + off, pos, po + off, d, eps, norm, p)
        d_neg = _dist(a, ao + off, neg, no + off, d, eps, norm, p)
        if swap:
            d_neg = _min_nan(d_neg, _dist(pos, po + off, neg, no + off, d, eps, norm, p))
        out[oo + r] = _max_nan(margin + d_pos - d_neg, 0.0)


@njit(**_FLAGS)
def multi_margin(x, xo, t, to, w, wo, has_w, rows, n_classes, p, margin, out, oo):  # noqa: ANN001, ANN201
    """sum_{i != t} w[t] max(0, margin - x[t] + x[i])^p / C per row."""
    for r in range(rows):
        k = t[to + r]
        if k < 0 or k >= n_classes:
            raise ValueError("class index out of range")
    for r in range(rows):
        k = t[to + r]
        base = xo + r * n_classes
        xt = float(x[base + k])
        wk = float(w[wo + k]) if has_w else 1.0
        s = 0.0
        for i in range(n_classes):
            if i == k:
                continue
            h = _max_nan(margin - xt + float(x[base + i]), 0.0)
            if p == 2:
                h = h * h
            s += h * wk
        out[oo + r] = s / n_classes


@njit(**_FLAGS)
def multilabel_margin(x, xo, t, to, is_target, io, rows, n_classes, out, oo):  # noqa: ANN001, ANN201
    """sum over listed targets j (before the first -1) and non-target classes i of max(0, 1 - x[j] + x[i]) / C
    per row; ``is_target`` is a (rows * C) uint8 scratch."""
    for p in range(rows * n_classes):
        k = t[to + p]
        if k < -1 or k >= n_classes:
            raise ValueError("target index out of range")
    for r in range(rows):
        base = r * n_classes
        for c in range(n_classes):
            is_target[io + base + c] = 0
        n_listed = 0
        while n_listed < n_classes and t[to + base + n_listed] >= 0:
            is_target[io + base + t[to + base + n_listed]] = 1
            n_listed += 1
        s = 0.0
        for j in range(n_listed):
            xt = float(x[xo + base + t[to + base + j]])
            for i in range(n_classes):
                if is_target[io + base + i] == 0:
                    s += _max_nan((1.0 - xt) + float(x[xo + base + i]), 0.0)
        out[oo + r] = s / n_classes


# ---------------------------------------------------------------------------------------------------------- CTC
@njit(**_FLAGS)
def _ctc_starts(tg_len, tlo, n, padded, width, n_targets, in_len, ilo, T):  # noqa: ANN001, ANN201
    """Where each sample's targets start; raises on lengths the reference rejects."""
    starts = np.empty(n, np.int64)
    acc = 0
    for i in range(n):
        il = in_len[ilo + i]
        tl = tg_len[tlo + i]
        if il < 0 or il > T or tl < 0:
            raise ValueError("sequence length out of range")
        if padded:
            if tl > width:
                raise ValueError("target length longer than the padded targets")
            starts[i] = i * width
        else:
            starts[i] = acc
        acc += tl
    if not padded and acc != n_targets:
        raise ValueError("concatenated targets do not sum to the target lengths")
    return starts


@njit(**_FLAGS)
def _ctc_sample(lp, lpo, n, n_classes, tg, tgo, start, length, il, blank):  # noqa: ANN001, ANN201
    """-log p(targets | log_probs) of one sample: the log-space forward algorithm over blank-extended targets."""
    if il == 0:
        return 0.0 if length == 0 else np.inf
    m = 2 * length + 1
    alpha = np.full(m, -np.inf)
    new = np.empty(m)
    row = lpo  # t = 0
    alpha[0] = lp[row + blank]
    if m > 1:
        alpha[1] = lp[row + tg[tgo + start]]
    for t in range(1, il):
        row = lpo + t * n * n_classes
        for s in range(m):
            label = blank if s % 2 == 0 else tg[tgo + start + s // 2]
            a = alpha[s]
            if s >= 1:
                a = _logaddexp(a, alpha[s - 1])
            if s >= 2 and label != blank and label != tg[tgo + start + s // 2 - 1]:
                a = _logaddexp(a, alpha[s - 2])
            new[s] = a + lp[row + label]
        for s in range(m):
            alpha[s] = new[s]
    end = alpha[m - 1]
    if length > 0:
        end = _logaddexp(end, alpha[m - 2])
    return -end


@njit(**_PAR)
def ctc(lp, lpo, T, n, n_classes, tg, tgo, padded, width, n_targets, in_len, ilo, tg_len, tlo, blank, zero_inf, mode,
        out, oo, par):  # noqa: ANN001, ANN201
    """CTC loss of dense (T, N, C) log-probabilities; padded (N, width) or concatenated (n_targets,) targets."""
    starts = _ctc_starts(tg_len, tlo, n, padded, width, n_targets, in_len, ilo, T)
    for i in range(n):
        for j in range(tg_len[tlo + i]):
            k = tg[tgo + starts[i] + j]
            if k < 0 or k >= n_classes:
                raise ValueError("target class out of range")
    losses = np.empty(n)
    if par:
        for i in prange(n):
            losses[i] = _ctc_sample(lp, lpo + i * n_classes, n, n_classes, tg, tgo, starts[i], tg_len[tlo + i],
                                    in_len[ilo + i], blank)
    else:
        for i in range(n):
            losses[i] = _ctc_sample(lp, lpo + i * n_classes, n, n_classes, tg, tgo, starts[i], tg_len[tlo + i],
                                    in_len[ilo + i], blank)
    total = 0.0
    for i in range(n):
        v = losses[i]
        if zero_inf and v == np.inf:
            v = 0.0
        if mode == NONE:
            out[oo + i] = v
        elif mode == MEAN:
            total += v / max(tg_len[tlo + i], 1)
        else:
            total += v
    if mode == MEAN:
        out[oo] = total / n
    elif mode == SUM:
        out[oo] = total
