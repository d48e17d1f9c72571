"""Lookup kernels of the CPU backend (lowered by ``lower_sparse.py``): gathers along an axis (``take``,
``embedding``), ``embedding_bag`` and ``one_hot``. Indices of any integer dtype; negative indices count from the
end and out-of-range ones raise IndexError, as ``np.take`` does."""
from __future__ import annotations

import numpy as np
from numba import njit, prange

_FLAGS = dict(cache=True, nogil=True, error_model="numpy")

MODE_SUM, MODE_MEAN, MODE_MAX = 0, 1, 2


@njit(nogil=True)
def check_indices(idx, io, n, size):  # noqa: ANN001, ANN201
    for i in range(n):
        v = np.int64(idx[io + i])
        if v < -size or v >= size:
            raise IndexError("index out of range in a gather (take / embedding)")


GATHER_CHUNK = 64  # indices per task


@njit(nogil=True)
def _gather_chunk(x, xo, idx, io, out, oo, na, sa, so, nidx, inner, nc, t):  # noqa: ANN001, ANN201
    o = t // nc
    i0 = (t % nc) * GATHER_CHUNK
    i1 = min(i0 + GATHER_CHUNK, nidx)
    for i in range(i0, i1):
        j = np.int64(idx[io + i])
        if j < 0:
            j += na
        # Unsigned offsets: Numba then skips negative-index wraparound, which keeps the copy vectorizable.
        s0 = np.uint64(xo + o * so + j * sa)
        d0 = np.uint64(oo + (o * nidx + i) * inner)
        for k in range(np.uint64(inner)):
            out[d0 + k] = x[s0 + k]


@njit(parallel=True, **_FLAGS)
def gather(x, xo, idx, io, out, oo, outer, na, sa, so, nidx, inner, par):  # noqa: ANN001, ANN201
    """``out[o, i, 0:inner] = x[o * so + idx[i] * sa + 0:inner]`` for o < outer, i < nidx (x's inner run is
    contiguous; idx dense); tasks of GATHER_CHUNK indices."""
    check_indices(idx, io, nidx, na)
    nc = (nidx + GATHER_CHUNK - 1) // GATHER_CHUNK
    if par:
        for t in prange(outer * nc):
            _gather_chunk(x, xo, idx, io, out, oo, na, sa, so, nidx, inner, nc, t)
    else:
        for t in range(outer * nc):
            _gather_chunk(x, xo, idx, io, out, oo, na, sa, so, nidx, inner, nc, t)


@njit(parallel=True, **_FLAGS)
def one_hot(idx, io, out, oo, n, nc, par):  # noqa: ANN001, ANN201
    """int64 ``out[i, 0:nc]``: 1 at ``idx[i]`` when it is in [0, nc), else all zeros."""
    if par:
        for i in prange(n):
            _one_hot_row(idx, io, out, oo, nc, i)
    else:
        for i in range(n):
            _one_hot_row(idx, io, out, oo, nc, i)


@njit(nogil=True)
def _one_hot_row(idx, io, out, oo, nc, i):  # noqa: ANN001, ANN201
    row = out[oo + i * nc:oo + i * nc + nc]
    for k in range(nc):
        row[k] = 0
    v = np.int64(idx[io + i])
    if 0 <= v < nc:
        row[v] = 1


@njit(nogil=True, error_model="numpy")
def _bag(w, wo, nrows, dim, idx, io, offs, ofo, psw, po, has_psw, out, oo, mode, pad, has_pad,  # noqa: ANN001, ANN201
         n_bags, end, b):
    start = max(np.int64(offs[ofo + b]), 0)
    stop = min(np.int64(offs[ofo + b + 1]), end) if b + 1 < n_bags else end
    acc = out[oo + b * dim:oo + b * dim + dim]
    count = 0
    for p in range(start, stop):
        j = np.int64(idx[io + p])
        if has_pad and j == pad:
            continue
        if j < 0:
            j += nrows
        row = w[wo + j * dim:wo + j * dim + dim]
        if has_psw:
            s = psw[po + p]
            if count == 0:
                for k in range(dim):
                    acc[k] = row[k] * s
            else:
                for k in range(dim):
                    acc[k] += row[k] * s
        elif count == 0:
            for k in range(dim):
                acc[k] = row[k]
        elif mode == MODE_MAX:
            for k in range(dim):
                a = acc[k]
                v = row[k]
                acc[k] = a if (a >= v or a != a) else v
        else:
            for k in range(dim):
                acc[k] += row[k]
        count += 1
    if count == 0:
        for k in range(dim):
            acc[k] = 0
    elif mode == MODE_MEAN:
        c = out.dtype.type(count)
        for k in range(dim):
            acc[k] = acc[k] / c


@njit(parallel=True, **_FLAGS)
def embedding_bag(w, wo, nrows, dim, idx, io, n, offs, ofo, n_offs, psw, po, has_psw, out, oo, mode, include_last,
                  pad, has_pad, par):  # noqa: ANN001, ANN201
    """Sum / mean / max of the weight rows ``w[idx[p]]`` (times ``psw[p]``) of each bag: bag b holds positions
    ``offs[b] <= p < offs[b + 1]`` (the last bag ends at ``n``, or with ``include_last`` at the last offset);
    entries equal to ``pad`` are left out; empty bags are zeros. Rows are combined in order, in w's dtype."""
    if include_last:
        n_bags = n_offs - 1
        end = min(np.int64(offs[ofo + n_offs - 1]), n) if n_offs > 0 else 0
    else:
        n_bags = n_offs
        end = n
    for p in range(end):  # the rows looked up must exist (the reference's take raises IndexError)
        v = np.int64(idx[io + p])
        if (v < -nrows or v >= nrows) and not (has_pad and v == pad):
            raise IndexError("index out of range in embedding_bag")
    if par:
        for b in prange(n_bags):
            _bag(w, wo, nrows, dim, idx, io, offs, ofo, psw, po, has_psw, out, oo, mode, pad, has_pad, n_bags, end, b)
    else:
        for b in range(n_bags):
            _bag(w, wo, nrows, dim, idx, io, offs, ofo, psw, po, has_psw, out, oo, mode, pad, has_pad, n_bags, end, b)
