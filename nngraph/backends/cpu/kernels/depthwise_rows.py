"""Depthwise convolution (multiplier 1) on wide planes with output *pixels* in the vector lanes, on NCHW directly.

The channel-lane kernel (conv.py) transposes W planes into a (rows, cols, W) buffer and the result back: on planes
of 56x56 and more the transposes cost more than the taps. Here each plane is copied a band of rows at a time into
a zero-padded buffer (row pitch ``rp``: left padding, the row, zeros) that stays in L1, and every tap (ky, kx) of
a vector of W output pixels is one vector load at a constant offset from the output position -- at stride 2 two
loads and a deinterleaving shuffle (the even lanes; an odd tap offset is the same shuffle one element further), so
the copy stays a plain copy.
A register block is 8 accumulators: 8 // nv output rows x nv vectors along the row (nv = 4, 2 or 1 by the output
width, so narrow rows waste few lanes). Bias and activation are applied in registers (the standard float32
epilogue without residual); any other epilogue runs on the stored band.

One thread, 3x3 relu6, against the channel-lane kernel (Xeon, 48 KiB L1; each against a common reference kernel
in alternating processes): 32 ch 112x112 0.30-0.38 -> 0.21 ms, 144 ch 56x56 0.41-0.45 -> 0.33-0.35 ms, 96 ch
112x112 stride 2 0.47 -> 0.39 ms, 28x28 outputs (2-vector rows) ~25% faster; rows of 14 (one partial vector) were
no faster and 7x7 planes 2.6x slower, so those keep channels in the lanes (``DWR_MIN_VECTORS``).

Compile time: Numba copies a callee's whole IR on every ``inline="always"`` and rebuilds the caller's SSA form
after each, so many inlines into one large function cost more than the code they make. The six (stride, block
shape) copies are therefore separate functions (``literally``: one compilation per constant pair, dead branches
pruned before inlining), a block's stores are one unrolled loop, activations other than relu and clamp run as one
pass over the stored band, and ``vact_lanes`` is an intrinsic: 190 s -> ~8 s to compile, the same speed (in one
process, interleaved with the previous version, one thread: paired medians 0.95-1.02x on 9 shapes).
"""
from __future__ import annotations

import numpy as np
from numba import literally, njit

from .epilogue import ACT_CLAMP_ORDERED, ACT_NONE, ACT_RELU, lane_epilogue, vact_lanes
from .gemm import _split
from .leaf import leaf
from .simd import vec_width, veven, vfma, vload, vload_n, vsplat, vstore, vstore_n, vzero

#: Narrowest output row (in vectors of W lanes) the pixel-lane kernel takes; narrower planes keep channels in lanes.
DWR_MIN_VECTORS = 1
#: Bytes of the padded band buffer (the band's input rows stay in L1 while its output rows are computed).
DWR_BAND_BYTES = 16 * 1024


@njit(inline="always")
def rows_pay(ow: int, sw: int, w: int) -> bool:
    """The pixel-lane kernel takes output rows of at least DWR_MIN_VECTORS vectors at column stride 1 or 2."""
    return sw <= 2 and ow >= DWR_MIN_VECTORS * w


@leaf
def _fill_row(xf: np.ndarray, x0: int, wd: int, buf: np.ndarray, b0: int) -> None:
    """buf[b0:b0 + wd] = xf[x0:x0 + wd] (full vectors, then one masked)."""
    w = vec_width(buf)
    full = wd - wd % w
    for i in range(0, full, w):
        vstore(buf, b0 + i, vload(xf, x0 + i))
    if full < wd:
        vstore_n(buf, b0 + full, vload_n(xf, x0 + full, wd - full), wd - full)


@njit(inline="always")
def _tap(buf: np.ndarray, s: int, two: bool):  # noqa: ANN202
    """W taps of W consecutive output pixels from ``buf[s:]``: at stride 2 the even lanes of two vectors."""
    if not two:
        return vload(buf, s)
    w = vec_width(buf)
    a = vload(buf, s)
    b = vload(buf, s + w)
    return veven(a, b)


@njit(inline="always")
def _store(of: np.ndarray, d: int, v, n: int) -> None:  # noqa: ANN001
    """The first ``n`` lanes of ``v`` (all of them when n >= W; none when n <= 0)."""
    w = vec_width(of)
    if n >= w:
        vstore(of, d, v)
    elif n > 0:
        vstore_n(of, d, v, n)


@njit(inline="always")
def _block(buf: np.ndarray, base: int, toff: np.ndarray, wf: np.ndarray, w0: int, vb,  # noqa: ANN001
           two: bool, q0: int, q1: int, q2: int, q3: int, q4: int, q5: int, q6: int, q7: int) -> tuple:
    """8 accumulators: vb + sum over taps t of wf[w0 + t] * taps at buf[base + q_i + toff[t]]."""
    a0 = vb
    a1 = vb
    a2 = vb
    a3 = vb
    a4 = vb
    a5 = vb
    a6 = vb
    a7 = vb
    for t in range(toff.shape[0]):
        wt = vsplat(wf[w0 + t])
        s = base + toff[t]
        a0 = vfma(wt, _tap(buf, s + q0, two), a0)
        a1 = vfma(wt, _tap(buf, s + q1, two), a1)
        a2 = vfma(wt, _tap(buf, s + q2, two), a2)
        a3 = vfma(wt, _tap(buf, s + q3, two), a3)
        a4 = vfma(wt, _tap(buf, s + q4, two), a4)
        a5 = vfma(wt, _tap(buf, s + q5, two), a5)
        a6 = vfma(wt, _tap(buf, s + q6, two), a6)
        a7 = vfma(wt, _tap(buf, s + q7, two), a7)
    return a0, a1, a2, a3, a4, a5, a6, a7


@njit(inline="always")
def _put(of: np.ndarray, d: int, j: int, nv: int, oy: int, oh: int, ox: int, ow: int, v, act: int, alpha,  # noqa: ANN001
         beta) -> None:  # noqa: ANN001
    """Store accumulator ``j`` of a block (row j // nv, vector j % nv), activated, if its row exists."""
    r = j // nv
    if oy + r < oh:
        c = (j % nv) * vec_width(of)
        _store(of, d + r * ow + c, vact_lanes(v, act, alpha, beta), ow - ox - c)


@njit(inline="always")
def _put_all(of: np.ndarray, d: int, nv: int, oy: int, oh: int, ox: int, ow: int, a: tuple, act: int, alpha,  # noqa: ANN001
             beta) -> None:  # noqa: ANN001
    """Store a block's 8 accumulators (:func:`_put`; the loop unrolls and ``a[j]`` folds to a register)."""
    for j in range(8):
        _put(of, d, j, nv, oy, oh, ox, ow, a[j], act, alpha, beta)


@leaf
def _act_run(of: np.ndarray, o0: int, n: int, act: int, alpha, beta) -> None:  # noqa: ANN001
    """of[o0:o0 + n] = act(of[o0:o0 + n]): the activations not fused into the block stores (one copy of their code
    instead of one per block shape; 8 accumulators kept live through e.g. an exp spilled)."""
    w = vec_width(of)
    full = n - n % w
    for i in range(0, full, w):
        vstore(of, o0 + i, vact_lanes(vload(of, o0 + i), act, alpha, beta))
    if full < n:
        vstore_n(of, o0 + full, vact_lanes(vload_n(of, o0 + full, n - full), act, alpha, beta), n - full)


@leaf
def _rows_act(buf: np.ndarray, rp: int, toff: np.ndarray, wf: np.ndarray, w0: int, vb, act: int,  # noqa: ANN001
              alpha, beta, oh: int, ow: int, sh: int, sw: int, nv: int, of: np.ndarray, o0: int) -> None:  # noqa: ANN001
    """Output rows ``oy < oh`` of one band into ``of[o0 + oy*ow + ox]``: act(vb + taps), 8 // nv rows x nv vectors
    per register block (rows past ``oh`` are computed from the buffer's slack rows and not stored)."""
    literally(sw)
    literally(nv)
    w = vec_width(buf)
    nrb = 8 // nv
    rs = sh * rp  # buffer offset of the next output row
    vs = w * sw  # ... of the next vector along a row
    q0, q1, q2, q3 = 0, (1 // nv) * rs + (1 % nv) * vs, (2 // nv) * rs + (2 % nv) * vs, (3 // nv) * rs + (3 % nv) * vs
    q4, q5, q6, q7 = ((4 // nv) * rs + (4 % nv) * vs, (5 // nv) * rs + (5 % nv) * vs, (6 // nv) * rs + (6 % nv) * vs,
                      (7 // nv) * rs + (7 % nv) * vs)
    for oy in range(0, oh, nrb):
        for ox in range(0, ow, nv * w):
            base = oy * rs + ox * sw
            if sw == 2:
                a = _block(buf, base, toff, wf, w0, vb, True, q0, q1, q2, q3, q4, q5, q6, q7)
            else:
                a = _block(buf, base, toff, wf, w0, vb, False, q0, q1, q2, q3, q4, q5, q6, q7)
            d = o0 + oy * ow + ox
            if act == ACT_RELU:  # (a constant act folds vact's switch: one branch per block, not per vector)
                _put_all(of, d, nv, oy, oh, ox, ow, a, ACT_RELU, alpha, beta)
            elif act == ACT_CLAMP_ORDERED:
                _put_all(of, d, nv, oy, oh, ox, ow, a, ACT_CLAMP_ORDERED, alpha, beta)
            else:
                _put_all(of, d, nv, oy, oh, ox, ow, a, ACT_NONE, alpha, beta)
    if act != ACT_NONE and act != ACT_RELU and act != ACT_CLAMP_ORDERED:
        _act_run(of, o0, oh * ow, act, alpha, beta)


@leaf
def _rows(buf: np.ndarray, rp: int, toff: np.ndarray, wf: np.ndarray, w0: int, vb, act: int,  # noqa: ANN001
          alpha, beta, oh: int, ow: int, sh: int, sw: int, nv: int, of: np.ndarray, o0: int) -> None:  # noqa: ANN001
    """:func:`_rows_act` with a constant stride and block shape in each copy (the accumulators' offsets fold into
    the loads' displacements: with them in registers the loop ran ~20% slower)."""
    if sw == 1:
        if nv == 4:
            _rows_act(buf, rp, toff, wf, w0, vb, act, alpha, beta, oh, ow, sh, 1, 4, of, o0)
        elif nv == 2:
            _rows_act(buf, rp, toff, wf, w0, vb, act, alpha, beta, oh, ow, sh, 1, 2, of, o0)
        else:
            _rows_act(buf, rp, toff, wf, w0, vb, act, alpha, beta, oh, ow, sh, 1, 1, of, o0)
    elif nv == 4:
        _rows_act(buf, rp, toff, wf, w0, vb, act, alpha, beta, oh, ow, sh, 2, 4, of, o0)
    elif nv == 2:
        _rows_act(buf, rp, toff, wf, w0, vb, act, alpha, beta, oh, ow, sh, 2, 2, of, o0)
    else:
        _rows_act(buf, rp, toff, wf, w0, vb, act, alpha, beta, oh, ow, sh, 2, 1, of, o0)


@njit(inline="always")
def depthwise_rows_work(t: int, nt: int, x: np.ndarray, w2: np.ndarray, out3: np.ndarray, p: tuple, epi,  # noqa: ANN001
                        epi_args) -> None:
    """Thread ``t`` of ``nt``: a range of (image, channel, band of output rows) units of a multiplier-1 depthwise
    conv with output pixels in the vector lanes (see the module docstring; :func:`rows_pay` says when)."""
    nb, ch, h, wd = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    kh, kw, sh, sw, pt, pl, dh, dw = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
    oh, ow = p[9], p[10]
    taps = kh * kw
    w = vec_width(out3)
    nvec = (ow + w - 1) // w
    nv = 4 if nvec >= 3 else 2 if nvec == 2 else 1
    # row pitch: left padding + the row, and past the last block's taps (whole vectors, two loads per tap at s2)
    rp = max(pl + wd, sw * ((nvec + nv - 1) // nv * nv * w) + (kw - 1) * dw + w)
    rows = max(1, DWR_BAND_BYTES // (rp * out3.itemsize))
    ob = max(1, min(oh, ((rows - (kh - 1) * dh - 1) // sh + 1)))
    want = (2 * nt + nb * ch - 1) // (nb * ch) if nt > 1 else 1  # at least two units per thread
    ob = max(1, min(ob, (oh + want - 1) // want))
    nbands = (oh + ob - 1) // ob
    hb = (ob - 1) * sh + (kh - 1) * dh + 1  # input rows of a band
    nrb = 8 // nv
    # slack rows: a block's rows past the band (up to nrb - 1 output rows) read zeros, not another buffer
    buf = np.zeros((hb + (nrb - 1) * sh) * rp + 2 * w, out3.dtype)
    toff = np.empty(taps, np.int64)
    for ky in range(kh):
        for kx in range(kw):
            toff[ky * kw + kx] = ky * dh * rp + kx * dw
    fused, fbias, act, alpha, beta = lane_epilogue(epi, epi_args, out3)
    if not fused:
        act = ACT_NONE
    xf = x.reshape(-1)
    wf = w2.reshape(-1)
    u0, u1 = _split(nb * ch * nbands, nt, t, 1)
    for u in range(u0, u1):
        plane = u // nbands  # image * ch + channel
        bi = plane // ch
        c = plane - bi * ch
        oy0 = (u - plane * nbands) * ob
        nrow = min(ob, oh - oy0)
        ytop = oy0 * sh - pt  # input row of the band's first buffer row
        for r in range((nrow - 1) * sh + (kh - 1) * dh + 1):
            iy = ytop + r
            if 0 <= iy < h:
                _fill_row(xf, (plane * h + iy) * wd, wd, buf, r * rp + pl)
            else:
                buf[r * rp:(r + 1) * rp] = 0
        vb = vsplat(fbias[c]) if fused and fbias.size > 0 else vzero(out3)
        of = out3[bi].reshape(-1)
        _rows(buf, rp, toff, wf, c * taps, vb, act, alpha, beta, nrow, ow, sh, sw, nv, of, (c * oh + oy0) * ow)
        if not fused:
            epi(out3[bi], bi, c, c + 1, oy0 * ow, (oy0 + nrow) * ow, epi_args)
