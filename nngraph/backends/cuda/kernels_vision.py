"""CUDA kernels of the vision lowerings (``lower_vision.py``): im2col / col2im over (D, H, W) volumes (1-d and 2-d
windows run with size-1 leading dims) and max_unpool's deterministic scatter.

Every kernel takes ``(arena, offset)`` pairs and shapes as runtime integers; 3-tuples are (depth, height, width)."""
from __future__ import annotations

from numba import cuda, int32, int64

from .kernels_misc import pool_pos


@cuda.jit(cache=True)
def im2col3d(planes, C, P, BH, BW, K, xs, S, st, pd, dl, x, xo, col, co):
    """``col[q, t, p]`` = the input element under tap ``t`` = (kd, kh, kw) of block ``p`` = (bd, bh, bw) in plane
    ``q`` = (n, c) of the (N, C, *S) input (strides ``xs``), 0 in the padding. Grid: x over the ``P`` blocks, y
    (strided) over the planes; a thread writes all taps of its block (``lower_blas.im2col`` with a depth loop:
    coalesced rows, int32 divisions)."""
    p = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    if p >= P:
        return
    p32 = int32(p)
    bw32 = int32(BW)
    bh32 = int32(BH)
    r = p32 // bw32
    bd = r // bh32
    d0 = bd * st[0] - pd[0]
    h0 = (r - bd * bh32) * st[1] - pd[1]
    w0 = (p32 - r * bw32) * st[2] - pd[2]
    c32 = int32(C)
    stride = K[0] * K[1] * K[2] * P
    q = cuda.blockIdx.y
    while q < planes:
        q32 = int32(q)
        n = q32 // c32
        src = xo + n * xs[0] + (q32 - n * c32) * xs[1]
        dst = co + q * stride + p
        for kd in range(K[0]):
            i = d0 + kd * dl[0]
            din = i >= 0 and i < S[0]
            for kh in range(K[1]):
                j = h0 + kh * dl[1]
                inside = din and j >= 0 and j < S[1]
                for kw in range(K[2]):
                    k = w0 + kw * dl[2]
                    if inside and k >= 0 and k < S[2]:
                        col[dst] = x[src + i * xs[2] + j * xs[3] + k * xs[4]]
                    else:
                        col[dst] = 0
                    dst += P
        q += cuda.gridDim.y


@cuda.jit(cache=True)
def col2im3d(total, C, OS, B, K, st, pd, dl, x, xo, xs, out, oo):
    """``out[n, c, od, oh, ow]`` (dense, spatial shape ``OS``) = the sum over the taps (kd, kh, kw), in the
    reference's C order, of the column entry whose block (of ``B`` blocks) puts that tap there: a gather, so no
    atomics and a deterministic result (float64 accumulation). ``x`` is (N, C * taps, blocks), strides ``xs``."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        n, c, od, oh, ow = pool_pos(i, C, OS[0], OS[1], OS[2])
        base = xo + n * xs[0]
        acc = 0.0
        for kd in range(K[0]):
            u = od + pd[0] - kd * dl[0]
            if u < 0 or u % st[0] != 0 or u // st[0] >= B[0]:
                continue
            for kh in range(K[1]):
                y = oh + pd[1] - kh * dl[1]
                if y < 0 or y % st[1] != 0 or y // st[1] >= B[1]:
                    continue
                for kw in range(K[2]):
                    z = ow + pd[2] - kw * dl[2]
                    if z < 0 or z % st[2] != 0 or z // st[2] >= B[2]:
                        continue
                    row = ((c * K[0] + kd) * K[1] + kh) * K[2] + kw
                    blk = ((u // st[0]) * B[1] + y // st[1]) * B[2] + z // st[2]
                    acc += x[base + row * xs[1] + blk * xs[2]]
        out[oo + i] = acc
        i += step


@cuda.jit(cache=True)
def unpool_owners(total, n_in, plane, idx, io, owner, ow_, flag, fo):
    """Pass 1 of max_unpool over dense (planes, n_in) indices: ``owner[p, idx[p, k]]`` (initialised to -1) becomes
    the largest flat input position writing there -- numpy's assignment order, in which the last writer in C order
    wins -- by an atomic max, so the result does not depend on thread order. An index outside [0, plane) sets
    ``flag`` (the reference raises) and writes nothing."""
    q = cuda.grid(1)
    step = cuda.gridsize(1)
    while q < total:
        v = int64(idx[io + q])
        if v < 0 or v >= plane:
            flag[fo] = 1
        else:
            cuda.atomic.max(owner, ow_ + (q // n_in) * plane + v, int64(q))
        q += step


@cuda.jit(cache=True)
def unpool_gather(total, x, xo, owner, ow_, out, oo):
    """Pass 2 of max_unpool: every output element takes the value of its owner (0 where nothing points at it)."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        k = owner[ow_ + i]
        if k >= 0:
            out[oo + i] = x[xo + k]
        else:
            out[oo + i] = 0
        i += step
