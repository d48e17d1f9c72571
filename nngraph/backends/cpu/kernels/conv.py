"""2-D convolution kernels (NCHW, float32/float64) with fused epilogues, and the algorithm choice.

Algorithms (``ALGO_*``), all batch-looping inside and threaded like the GEMM:

* ``ALGO_IM2COL``: GEMM ``out[b, g] (Og, P) = W_g (Og, Cg*kh*kw) @ col`` where the im2col matrix is never
  materialised: the B-packing routine gathers the input window straight into NR-wide panels (zero padding
  included), one KC x NC block at a time. Handles any stride/padding/dilation/groups (grouped = one GEMM per group).
* ``ALGO_1X1``: 1x1, stride 1, no padding: B is the input itself viewed as (C, H*W); plain panel packing.
* ``ALGO_SHIFT``: groups == 1, any kernel/stride/padding/dilation: no packing of B at all. The input is copied
  once into a zero-padded, stride-phase-split buffer; on that buffer every tap (c, ky, kx) is a constant shift of
  one pixel grid (output rows laid out with the buffer's row pitch), so the micro-kernel reads its B operand in
  place through a table of K offsets (``simd.ukernel_off``). The few junk columns of the grid (pitch - OW per
  row) are computed and dropped when the tile is copied out through the epilogue.
* ``ALGO_DEPTHWISE``: groups == C. Multiplier 1 on output rows of a vector or more at column stride 1 or 2:
  output pixels in the vector lanes, straight on NCHW (``depthwise_rows.py``). Other multiplier-1 convs: channels
  in the vector lanes -- blocks of W planes transposed into a zero-padded (rows, cols, W) buffer, one full-vector
  load per tap and output pixel at any stride, the result transposed back; both apply bias and activation in
  registers. Other multipliers: a direct kernel on a zero-padded, stride-phase-split copy of each plane, where
  every tap is a constant shift of the output grid (as ALGO_SHIFT).

Every kernel comes as ``<name>_std(x, wp, out, p, epi_args)`` (standard epilogue, disk-cached) and
``<name>(x, wp, out, p, epi, epi_args)`` (any epilogue). ``wp`` is the weight prepared once by
:func:`prepare_conv_weight`; ``p`` the int tuple from :func:`conv_params`; ``out`` the (B, O, OH, OW) output.
The epilogue sees ``c = out[b]`` as an (O, OH*OW) matrix: bias along rows (``bias_axis=0``), residual (B, O, OH*OW).

``conv_transpose2d[_std]`` is GEMM (W^T @ x) + col2im + epilogue.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .depthwise_rows import depthwise_rows_work, rows_pay
from .epilogue import ACT_CLAMP_ORDERED, ACT_NONE, ACT_RELU, epi_std, lane_epilogue, vact_lanes
from .gemm import KC, MC, MR, NC, _split, a_packed, gemm_region, pack_a, pack_b_flat, pack_bt, threads_for
from .launch import make_generic_runner, make_runner
from .leaf import leaf
from .simd import (nr_of, prefetch, tile_nr, ukernel_gather, ukernel_off, vadd, vec_width, veven, vfma, vgather_n,
                   vload, vload_n, vload_s2_n, vodd, vsplat, vstore, vstore_n, vtranspose, vtranspose_n, vzero)

ALGO_IM2COL = 0
ALGO_1X1 = 1
ALGO_DEPTHWISE = 2
ALGO_SHIFT = 3
ALGO_SHIFT_OC = 4
ALGO_NAMES = {ALGO_IM2COL: "im2col", ALGO_1X1: "1x1", ALGO_DEPTHWISE: "depthwise", ALGO_SHIFT: "shift",
              ALGO_SHIFT_OC: "shift_oc"}


def conv_params(w_shape: tuple, x_shape: tuple, stride: tuple = (1, 1), padding: tuple = (0, 0, 0, 0),
                dilation: tuple = (1, 1), groups: int = 1) -> tuple:
    """``p`` tuple for the kernels: (kh, kw, sh, sw, pad_top, pad_left, dh, dw, groups, OH, OW).

    ``padding`` is (top, bottom, left, right); ``w_shape`` (O, C/groups, kh, kw); ``x_shape`` (B, C, H, W).
    """
    kh, kw = int(w_shape[2]), int(w_shape[3])
    pt, pb, pl, pr = (int(v) for v in padding)
    sh, sw = (int(v) for v in stride)
    dh, dw = (int(v) for v in dilation)
    oh = (x_shape[2] + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (x_shape[3] + pl + pr - dw * (kw - 1) - 1) // sw + 1
    return (kh, kw, sh, sw, pt, pl, dh, dw, int(groups), int(oh), int(ow))


def choose_conv_algo(c: int, o: int, kh: int, kw: int, stride: tuple = (1, 1), padding: tuple = (0, 0, 0, 0),
                     dilation: tuple = (1, 1), groups: int = 1, h: int = 0, w: int = 0, batch: int = 1) -> int:
    """Pick the kernel for one conv node (call once at graph-compile time).

    Measured here (2-core Zen 4, float32): depthwise convs run 5-20x faster in the direct kernel than as
    per-group GEMMs (Cg = 1 makes K = kh*kw, far too short for the register tile); a 1x1/stride-1/unpadded conv
    skips the im2col gather (same GEMM, cheaper packing); other ungrouped convs (3x3, strided, dilated, padded
    1x1) run as shifted-window GEMM without any packing (3x3 64->64 56x56: 74 -> ~90 GFLOP/s on one thread, the
    im2col gather cost 10-25 %); grouped convs with Cg > 1 are implicit-im2col GEMMs per group. Given the input
    size, the shifted-window GEMM takes the output channels into its vector lanes (ALGO_SHIFT_OC) where that wastes
    less of the register tile than the pixel grid does (:func:`shift_waste` vs :func:`shift_oc_waste`: output
    channels a multiple of NR, most 3x3 layers; 7x7 512->512 1.3x faster), and it takes small unpadded 1x1 convs
    from the 1x1 GEMM (14x14 and 7x7: 1.1-1.2x); unpadded strided 1x1 convs run as the 1x1 GEMM on a subsampled
    input, or through ALGO_SHIFT_OC's gathers in place where the output is small (7x7). The constants are fitted to
    the zoo's conv shapes (one thread, batch 1 and 8): the rule picks the faster algorithm or one within 5% of it,
    and only an applicable one.
    """
    algos = applicable_algos(c, o, kh, kw, stride, padding, groups)
    if ALGO_DEPTHWISE in algos:
        return ALGO_DEPTHWISE
    known = h > 0 and w > 0 and o > 0
    p = conv_params((o, c, kh, kw), (batch, c, h, w), stride, padding, dilation, groups) if known else None
    oc = shift_oc_waste(c * kh * kw, o)
    if ALGO_1X1 in algos:
        # strided: the 1x1 GEMM runs on a subsampled copy (a few % of its time), ALGO_SHIFT_OC gathers in place at
        # the stride (one thread, 2x2: 256->512 56x56 2.35 -> 1.58 ms, 512->1024 28x28 1.82 -> 1.67; 7x7 outputs
        # stay with ALGO_SHIFT_OC, 1024->2048 14x14 1.82 vs 2.02)
        margin = 0.04 if tuple(stride) == (1, 1) else 0.14
        return ALGO_SHIFT_OC if known and ALGO_SHIFT_OC in algos and oc + margin < gemm_waste(p, o, 3.0) \
            else ALGO_1X1
    strided_1x1 = kh * kw == 1 and tuple(stride) != (1, 1)
    if ALGO_SHIFT not in algos or (strided_1x1 and not known):
        return ALGO_IM2COL
    if not known:
        return ALGO_SHIFT
    if strided_1x1:  # padded (unpadded ones take the branch above): the phase split copies sh*sw times the pixels
        return ALGO_SHIFT_OC if oc + 4.0 * stride[0] * stride[1] / o < gemm_waste(p, o, 16.0) else ALGO_IM2COL
    return ALGO_SHIFT_OC if oc < shift_waste(p) else ALGO_SHIFT


def shift_waste(p: tuple, dtype: np.dtype | type = np.float32) -> float:
    """Work of ALGO_SHIFT per useful FLOP: each image's pixel grid (OW + junk columns per row) in NR-wide tiles."""
    nr = nr_of(dtype)
    _, wq, _ = _shift_dims(np.empty((1, 1, 1, 1), dtype), p)
    oh, ow = p[9], p[10]
    return -(-oh * wq // nr) * nr / max(oh * ow, 1)


def gemm_waste(p: tuple, o: int, pack: float, dtype: np.dtype | type = np.float32) -> float:
    """Work of ALGO_IM2COL / ALGO_1X1 per useful FLOP: each image's pixels in NR-wide tiles, plus packing them
    (``pack``/O: shared by the output channels; fitted: 16 for the im2col gather, 3 for the 1x1 panel copy)."""
    nr = nr_of(dtype)
    npix = max(p[9] * p[10], 1)
    return -(-npix // nr) * nr / npix + pack / max(o, 1)


def shift_oc_waste(k: int, o: int, dtype: np.dtype | type = np.float32) -> float:
    """Work of ALGO_SHIFT_OC per useful FLOP: output channels in NR-wide tiles; the transposed store (in-register
    W x W blocks) and the weight stream cost a few FMAs-worth per output value."""
    nr = nr_of(dtype)
    return -(-o // nr) * nr / max(o, 1) * (1.0 + 1.5 / max(k, 1)) + 0.006


def applicable_algos(c: int, o: int, kh: int, kw: int, stride: tuple = (1, 1), padding: tuple = (0, 0, 0, 0),
                     groups: int = 1) -> list[int]:
    """The algorithms that can run this convolution (``im2col`` always)."""
    algos = [ALGO_IM2COL]
    if groups == 1:
        algos += [ALGO_SHIFT, ALGO_SHIFT_OC]
    if kh == 1 and kw == 1 and not any(padding):
        algos.append(ALGO_1X1)
    if groups == c and o % c == 0:
        algos.append(ALGO_DEPTHWISE)
    return algos


def prepare_conv_weight(w: np.ndarray, groups: int, algo: int) -> np.ndarray:
    """Weight in the layout ``algo`` reads (do once per constant weight). ``w`` is (O, C/groups, kh, kw)."""
    w = np.ascontiguousarray(w)
    o = w.shape[0]
    if algo == ALGO_DEPTHWISE:
        return np.ascontiguousarray(w.reshape(o, -1))
    if algo == ALGO_SHIFT_OC:
        return pack_bt(w.reshape(o, -1))
    og = o // groups
    return np.concatenate([pack_a(np.ascontiguousarray(w[g * og:(g + 1) * og].reshape(og, -1)))
                           for g in range(groups)])


def prepare_conv_transpose_weight(w: np.ndarray, groups: int) -> np.ndarray:
    """Packed W^T per group for :func:`conv_transpose2d`; ``w`` is (C, O/groups, kh, kw)."""
    c, og = w.shape[:2]
    cg = c // groups
    taps = w.shape[2] * w.shape[3]
    parts = []
    for g in range(groups):
        wg = w[g * cg:(g + 1) * cg].reshape(cg, og * taps)  # rows c, cols (o, ky, kx)
        parts.append(pack_a(np.ascontiguousarray(wg.T)))
    return np.concatenate(parts)


# --------------------------------------------------------------------------------------------- B providers
# The run helpers below are inlined into @leaf functions only: inlined where reference counting is on, they
# count their array arguments on every call (see leaf.py).


@njit(inline="always")
def _zero_run(dst: np.ndarray, d0: int, n: int) -> None:
    w = vec_width(dst)
    z = vzero(dst)
    full = n - n % w
    for v in range(0, full, w):
        vstore(dst, d0 + v, z)
    if full < n:
        vstore_n(dst, d0 + full, z, n - full)


@njit(inline="always")
def _copy_run(dst: np.ndarray, d0: int, src: np.ndarray, s0: int, n: int) -> None:
    w = vec_width(dst)
    full = n - n % w  # whole vectors unmasked, the tail masked
    for v in range(0, full, w):
        vstore(dst, d0 + v, vload(src, s0 + v))
    if full < n:
        vstore_n(dst, d0 + full, vload_n(src, s0 + full, n - full), n - full)


@njit(inline="always")
def _gather_run(dst: np.ndarray, d0: int, src: np.ndarray, s0: int, stride: int, n: int) -> None:
    """dst[d0 + i] = src[s0 + i*stride] for i < n: stride 2 as deinterleaved vector loads, others as masked
    vector gathers."""
    w = vec_width(dst)
    if stride == 2:
        for v in range(0, n, w):
            c = min(w, n - v)
            vstore_n(dst, d0 + v, vload_s2_n(src, s0 + 2 * v, c), c)
        return
    for v in range(0, n, w):
        c = min(w, n - v)
        vstore_n(dst, d0 + v, vgather_n(src, s0 + v * stride, stride, c), c)


@njit(inline="always")
def _split2_run(dst: np.ndarray, d0: int, n0: int, d1: int, n1: int, src: np.ndarray, s0: int) -> None:
    """dst[d0 + i] = src[s0 + 2i] for i < n0 and dst[d1 + i] = src[s0 + 2i + 1] for i < n1: both column phases of
    a stride-2 row from two vector loads and one shuffle per phase (masked at the row's end)."""
    w = vec_width(dst)
    full = min(n0, n1) // w * w
    for v in range(0, full, w):
        lo = vload(src, s0 + 2 * v)
        hi = vload(src, s0 + 2 * v + w)
        vstore(dst, d0 + v, veven(lo, hi))
        vstore(dst, d1 + v, vodd(lo, hi))
    for v in range(full, max(n0, n1), w):
        c0 = min(max(n0 - v, 0), w)
        c1 = min(max(n1 - v, 0), w)
        span = min(max(2 * c0 - 1, 2 * c1), 2 * w)  # source elements the two phases need
        lo = vload_n(src, s0 + 2 * v, min(span, w))
        hi = vload_n(src, s0 + 2 * v + w, max(span - w, 0))
        vstore_n(dst, d0 + v, veven(lo, hi), c0)
        vstore_n(dst, d1 + v, vodd(lo, hi), c1)


@njit
def b_im2col(src: tuple, bi: int, pc: int, kc: int, jc: int, nc: int, buf: np.ndarray) -> tuple:
    """Pack im2col(x)[pc:pc+kc, jc:jc+nc] of image ``bi`` into NR-column panels without building im2col.

    ``src = (x, p, c0)``: rows k = (c, ky, kx) over the group's channels from ``c0``; columns are output pixels.
    """
    x, p, c0 = src
    _pack_im2col(x, x.reshape(-1), p, c0, bi, pc, kc, jc, nc, buf)
    return buf, 0, kc * tile_nr(buf)


@leaf
def _pack_im2col(x: np.ndarray, xf: np.ndarray, p: tuple, c0: int, bi: int, pc: int, kc: int, jc: int, nc: int,
                 buf: np.ndarray) -> None:
    """:func:`b_im2col`'s packing. Each (k, output row) segment is cut at panel boundaries into runs that are
    contiguous in the panel; with stride 1 a run is a contiguous input span too, copied with masked vectors after
    zero-filling the padding."""
    kh, kw, sh, sw, pt, pl, dh, dw = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
    ow = p[10]
    ch, h, wd = x.shape[1], x.shape[2], x.shape[3]
    nr = tile_nr(buf)
    khw = kh * kw
    xbase = (bi * ch + c0) * h * wd
    end = jc + nc
    for k in range(pc, pc + kc):
        c = k // khw
        r = k - c * khw
        ky = r // kw
        kx = r - ky * kw
        cbase = xbase + c * h * wd
        krow = (k - pc) * nr
        pix = jc
        oy = pix // ow
        ox = pix - oy * ow
        while pix < end:
            rel = pix - jc
            q = rel // nr
            lane = rel - q * nr
            n = min(end - pix, ow - ox, nr - lane)
            d0 = q * kc * nr + krow + lane
            iy = oy * sh + ky * dh - pt
            if iy < 0 or iy >= h:
                _zero_run(buf, d0, n)
            else:
                ix0 = ox * sw + kx * dw - pl
                lo = 0 if ix0 >= 0 else (-ix0 + sw - 1) // sw
                hi = min(n, (wd - 1 - ix0) // sw + 1) if ix0 <= wd - 1 else 0
                if hi <= lo:
                    _zero_run(buf, d0, n)
                else:
                    if lo > 0:
                        _zero_run(buf, d0, lo)
                    if hi < n:
                        _zero_run(buf, d0 + hi, n - hi)
                    s0 = cbase + iy * wd + ix0
                    if sw == 1:
                        _copy_run(buf, d0 + lo, x, s0 + lo, hi - lo)
                    else:
                        _gather_run(buf, d0 + lo, xf, s0 + lo * sw, sw, hi - lo)
            pix += n
            ox += n
            if ox == ow:
                ox = 0
                oy += 1


@njit
def b_1x1(src: tuple, bi: int, pc: int, kc: int, jc: int, nc: int, buf: np.ndarray) -> tuple:
    """``src = (x, p, c0)``: B = x[bi, c0:] viewed as (C, H*W) (1x1, stride 1, no padding)."""
    x, p, c0 = src
    hw = x.shape[2] * x.shape[3]
    pack_b_flat(x, (bi * x.shape[1] + c0) * hw, hw, pc, kc, jc, nc, buf)
    return buf, 0, kc * tile_nr(buf)


@njit
def b_1x1_inplace(src: tuple, bi: int, pc: int, kc: int, jc: int, nc: int, buf: np.ndarray) -> tuple:
    """:func:`b_1x1` read in place: the micro-kernel loads B row k at ``x + k*H*W`` (``ukernel_off``). Pays when
    few register-tile rows reuse each B panel (``B_1X1_IN_PLACE_ROWS``): the packing then costs more than the
    strided reads."""
    x, p, c0 = src
    hw = x.shape[2] * x.shape[3]
    koff = np.arange(pc + kc) * hw
    return (x.reshape(-1), koff), (bi * x.shape[1] + c0) * hw + jc, tile_nr(buf)


#: Output channels (GEMM rows) up to which a 1x1 conv reads its input in place rather than packing it (one thread:
#: 144->24 56x56 0.249 -> 0.207 ms, 32->16 112x112 0.176 -> 0.147; 16->96 112x112 0.508 -> 0.542 the other way).
B_1X1_IN_PLACE_ROWS = 32


# --------------------------------------------------------------------------------------------- GEMM-based conv


@njit(inline="always")
def _split_rows(rows: int, cols: int, nt: int, nr: int) -> bool:
    """Split a single image's GEMM over output channels (rows) rather than pixels (columns)? Rows when there are
    few pixels (under 8 register tiles per thread: a pixel split leaves whole tiles unbalanced and has every
    thread stream all the weights) and at least 4 register-tile rows per thread, or when pixels are too few for
    one tile each."""
    if cols < nt * nr:
        return cols < rows
    return cols < 8 * nt * nr and rows >= 4 * nt * MR


@njit(inline="always")
def conv_gemm_work(t: int, nt: int, x: np.ndarray, wp: np.ndarray, out3: np.ndarray, p: tuple, b_get,  # noqa: ANN001
                   epi, epi_args) -> None:
    """Thread ``t`` of ``nt``: its share of every (image, group) GEMM. Units (image, group) are split across
    threads when there are enough, else output pixels (NR-aligned), else output channels (MR-aligned)."""
    nb, ch = x.shape[0], x.shape[1]
    o, npix = out3.shape[1], out3.shape[2]
    groups = p[8]
    cg = ch // groups
    og = o // groups
    k = cg * p[0] * p[1]
    goff = ((og + MR - 1) // MR) * MR * k
    nr = tile_nr(out3)
    bbuf = np.empty(KC * ((NC + nr - 1) // nr) * nr, out3.dtype)
    units = nb * groups
    u0, u1, m0, m1, n0, n1 = 0, units, 0, og, 0, npix
    if nt > 1:
        if units >= nt and (units % nt == 0 or units >= 4 * nt):
            u0, u1 = _split(units, nt, t, 1)
        elif _split_rows(og, npix, nt, nr):
            m0, m1 = _split(og, nt, t, MR)
        else:
            n0, n1 = _split(npix, nt, t, nr)
    for u in range(u0, u1):
        bi = u // groups
        g = u - bi * groups
        r0 = g * og
        gemm_region(k, r0 + m0, r0 + m1, n0, n1, a_packed, (wp, k, r0, g * goff), b_get, (x, p, g * cg), out3[bi],
                    bi, False, epi, epi_args, bbuf)


@njit(inline="always")
def _flops(x: np.ndarray, out: np.ndarray, p: tuple) -> float:
    return 2.0 * out.size * (x.shape[1] // p[8]) * p[0] * p[1]


def _conv_gemm_body(b_get):  # noqa: ANN001, ANN202
    def body_for(epi):  # noqa: ANN001, ANN202
        @njit(inline="always")
        def body(t, nt, job):  # noqa: ANN001, ANN202
            x, wp, out3, p, epi_args = job
            conv_gemm_work(t, nt, x, wp, out3, p, b_get, epi, epi_args)

        return body

    return body_for


@njit(inline="always")
def conv_1x1_work(t: int, nt: int, x: np.ndarray, wp: np.ndarray, out3: np.ndarray, p: tuple, epi,  # noqa: ANN001
                  epi_args) -> None:
    """:func:`conv_gemm_work` of a 1x1 conv, its input packed or read in place (see B_1X1_IN_PLACE_ROWS)."""
    if out3.shape[1] // p[8] <= B_1X1_IN_PLACE_ROWS:
        conv_gemm_work(t, nt, x, wp, out3, p, b_1x1_inplace, epi, epi_args)
    else:
        conv_gemm_work(t, nt, x, wp, out3, p, b_1x1, epi, epi_args)


def _conv_1x1_body(epi):  # noqa: ANN001, ANN202
    @njit(inline="always")
    def body(t, nt, job):  # noqa: ANN001, ANN202
        x, wp, out3, p, epi_args = job
        conv_1x1_work(t, nt, x, wp, out3, p, epi, epi_args)

    return body


_run_im2col = make_generic_runner("conv2d_im2col", _conv_gemm_body(b_im2col))
_run_1x1 = make_generic_runner("conv2d_1x1", _conv_1x1_body)


@njit
def conv2d_im2col(x: np.ndarray, wp: np.ndarray, out: np.ndarray, p: tuple, epi, epi_args) -> None:  # noqa: ANN001
    """Implicit-im2col GEMM convolution with any epilogue."""
    _run_im2col(threads_for(_flops(x, out, p)), (x, wp, out.reshape(out.shape[0], out.shape[1], -1), p, epi_args),
                epi)


@njit(inline="always")
def subsample_work(t: int, nt: int, x: np.ndarray, xs: np.ndarray, sh: int, sw: int) -> None:
    """Thread ``t`` of ``nt``: xs[b, c] = x[b, c, ::sh, ::sw] (its first OH x OW) for its share of the planes."""
    h, wd = x.shape[2], x.shape[3]
    oh, ow = xs.shape[2], xs.shape[3]
    xf = x.reshape(-1)
    sf = xs.reshape(-1)
    u0, u1 = _split(x.shape[0] * x.shape[1], nt, t, 1)
    for u in range(u0, u1):
        for oy in range(oh):
            if sw == 1:
                _copy_run(sf, (u * oh + oy) * ow, xf, (u * h + oy * sh) * wd, ow)
            else:
                _gather_run(sf, (u * oh + oy) * ow, xf, (u * h + oy * sh) * wd, sw, ow)


@njit(inline="always")
def _body_subsample(t: int, nt: int, job: tuple) -> None:
    x, xs, sh, sw = job
    subsample_work(t, nt, x, xs, sh, sw)


_run_subsample = make_runner("conv2d_subsample", _body_subsample)


@njit
def _pointwise_input(x: np.ndarray, p: tuple, nt: int) -> np.ndarray:
    """The input of an unpadded 1x1 conv on its output grid: ``x`` itself at stride 1, else a subsampled copy (a
    strided 1x1 then runs as the plain 1x1 GEMM; read in place at the stride, its B rows would be gathers)."""
    if p[2] == 1 and p[3] == 1:
        return x
    xs = np.empty((x.shape[0], x.shape[1], p[9], p[10]), x.dtype)
    _run_subsample(min(nt, x.shape[0] * x.shape[1]), (x, xs, p[2], p[3]))
    return xs


@njit
def _launch_1x1(nt, x, wp, out3, p, epi, epi_args) -> None:  # noqa: ANN001
    _run_1x1(nt, (x, wp, out3, p, epi_args), epi)


@njit
def conv2d_1x1(x: np.ndarray, wp: np.ndarray, out: np.ndarray, p: tuple, epi, epi_args) -> None:  # noqa: ANN001
    """Unpadded 1x1 convolution (GEMM on the input as is; a strided one on its subsampled copy) with any
    epilogue."""
    nt = threads_for(_flops(x, out, p))
    _launch_1x1(nt, _pointwise_input(x, p, nt), wp, out.reshape(out.shape[0], out.shape[1], -1), p, epi, epi_args)


@njit(inline="always")
def _body_im2col_std(t: int, nt: int, job: tuple) -> None:
    x, wp, out3, p, epi_args = job
    conv_gemm_work(t, nt, x, wp, out3, p, b_im2col, epi_std, epi_args)


_run_im2col_std = make_runner("conv2d_im2col_std", _body_im2col_std)


@njit
def conv2d_im2col_std(x: np.ndarray, wp: np.ndarray, out: np.ndarray, p: tuple, epi_args: tuple) -> None:
    """:func:`conv2d_im2col` with the standard epilogue."""
    _run_im2col_std(threads_for(_flops(x, out, p)), (x, wp, out.reshape(out.shape[0], out.shape[1], -1), p, epi_args))


@njit(inline="always")
def _body_1x1_std(t: int, nt: int, job: tuple) -> None:
    x, wp, out3, p, epi_args = job
    conv_1x1_work(t, nt, x, wp, out3, p, epi_std, epi_args)


_run_1x1_std = make_runner("conv2d_1x1_std", _body_1x1_std)


@njit
def _launch_1x1_std(nt, x, wp, out3, p, epi_args) -> None:  # noqa: ANN001
    _run_1x1_std(nt, (x, wp, out3, p, epi_args))


@njit
def conv2d_1x1_std(x: np.ndarray, wp: np.ndarray, out: np.ndarray, p: tuple, epi_args: tuple) -> None:
    """:func:`conv2d_1x1` with the standard epilogue."""
    nt = threads_for(_flops(x, out, p))
    _launch_1x1_std(nt, _pointwise_input(x, p, nt), wp, out.reshape(out.shape[0], out.shape[1], -1), p, epi_args)


# --------------------------------------------------------------------------------------------- shifted-window GEMM
#: Grid positions (output pixels incl. junk columns) per block: the block's C tile (MC x NCQ) stays in L2.
NCQ = 256


@njit(inline="always", cache=True)  # (cached: choose_conv_algo calls it from Python)
def _shift_dims(x: np.ndarray, p: tuple) -> tuple:
    """(hq, wq, per-image size) of the phase-split padded input: plane (c, ry, rx) holds xpad[i*sh + ry,
    j*sw + rx] for i < hq, j < wq (xpad = x zero-padded by pad_top/pad_left, and below/right as far as taps read)."""
    kh, kw, sh, sw, dh, dw = p[0], p[1], p[2], p[3], p[6], p[7]
    oh, ow = p[9], p[10]
    hq = ((oh - 1) * sh + (kh - 1) * dh + sh) // sh
    wq = ((ow - 1) * sw + (kw - 1) * dw + sw) // sw
    return hq, wq, x.shape[1] * sh * sw * hq * wq


@njit
def _shift_offsets(c: int, p: tuple, hq: int, wq: int) -> np.ndarray:
    """Offset of tap k = (ci, ky, kx) -- the weight's column order -- from an output grid position."""
    kh, kw, sh, sw, dh, dw = p[0], p[1], p[2], p[3], p[6], p[7]
    koff = np.empty(c * kh * kw, np.int64)
    for ky in range(kh):  # channel 0's taps; channel ci's are sh*sw planes further (no divisions in the big loop)
        ty = ky * dh
        for kx in range(kw):
            tx = kx * dw
            koff[ky * kw + kx] = (((ty % sh) * sw + tx % sw) * hq + ty // sh) * wq + tx // sw
    step = sh * sw * hq * wq
    taps = kh * kw
    for ci in range(1, c):
        for t in range(taps):
            koff[ci * taps + t] = koff[t] + ci * step
    return koff


@njit
def _phase_runs(h: int, wd: int, p: tuple, hq: int, pwq: int) -> np.ndarray:
    """Where each input row lands in its channel's phase planes (the layout of :func:`_shift_dims`, pitch ``pwq``;
    the geometry is the same for every channel, so it is worked out once): rows (d0, n0, d1, n1, s) -- n0 elements
    from input offset s, every sw-th, to d0; with stride 2 also the other column phase (from s + 1) to d1, n1
    elements, so that one pass over the row splits it; otherwise one row per column phase (n1 = 0)."""
    sh, sw, pt, pl = p[2], p[3], p[4], p[5]
    runs = np.zeros((h * sw, 5), np.int64)
    k = 0
    for iy in range(h):
        py = iy + pt
        if py // sh >= hq:
            break
        row = ((py % sh) * sw) * hq + py // sh  # row of column phase 0 in the plane; phase rx adds rx * hq
        if sw == 2:
            # input column 0 lies in phase pl % 2 at column (pl // 2); column 1 in the other phase
            r0, r1 = pl % 2, 1 - pl % 2
            j0, j1 = pl // 2, (1 + pl) // 2
            n0 = max(min((wd + 1) // 2, pwq - j0), 0)
            n1 = max(min(wd // 2, pwq - j1), 0)
            runs[k, 0] = (row + r0 * hq) * pwq + j0
            runs[k, 1] = n0
            runs[k, 2] = (row + r1 * hq) * pwq + j1
            runs[k, 3] = n1
            runs[k, 4] = iy * wd
            k += 1
            continue
        for rx in range(sw):
            ix0 = (rx - pl) % sw  # first input column landing in column phase rx
            jq0 = (ix0 + pl) // sw
            n = min((wd - ix0 + sw - 1) // sw, pwq - jq0)
            if n > 0:
                runs[k, 0] = (row + rx * hq) * pwq + jq0
                runs[k, 1] = n
                runs[k, 4] = iy * wd + ix0
                k += 1
    return runs[:k]


@njit
def _phase_gaps(runs: np.ndarray, sw: int, size: int) -> np.ndarray:
    """The positions of a channel's phase planes (``size`` elements) that :func:`_phase_runs` leaves unwritten (the
    zero padding), as rows (d0, n) in address order."""
    iv = np.empty((2 * runs.shape[0], 2), np.int64)
    m = 0
    for r in range(runs.shape[0]):
        for d, n in ((runs[r, 0], runs[r, 1]), (runs[r, 2], runs[r, 3])):
            if n > 0:
                iv[m, 0] = d
                iv[m, 1] = n
                m += 1
    order = np.argsort(iv[:m, 0])
    gaps = np.empty((m + 1, 2), np.int64)
    g = 0
    pos = 0
    for i in order:
        if iv[i, 0] > pos:
            gaps[g, 0] = pos
            gaps[g, 1] = iv[i, 0] - pos
            g += 1
        pos = iv[i, 0] + iv[i, 1]
    if pos < size:
        gaps[g, 0] = pos
        gaps[g, 1] = size - pos
        g += 1
    return gaps[:g]


@leaf
def _fill_phases(xf: np.ndarray, s0: int, runs: np.ndarray, gaps: np.ndarray, sw: int, dst: np.ndarray,
                 d0: int) -> None:
    """One channel's phase planes at ``dst[d0:]`` from its input plane at ``xf[s0:]``: the ``gaps`` (the padding;
    pass none where ``dst`` still holds zeros there) then the data ``runs``. Short gaps (a few columns between
    rows) are scalar stores: a masked vector store each cost about as much as the row's data."""
    w = vec_width(dst)
    for g in range(gaps.shape[0]):
        if gaps[g, 1] < w:
            for i in range(gaps[g, 1]):
                dst[d0 + gaps[g, 0] + i] = 0.0
        else:
            _zero_run(dst, d0 + gaps[g, 0], gaps[g, 1])
    for r in range(runs.shape[0]):
        if sw == 1:
            _copy_run(dst, d0 + runs[r, 0], xf, s0 + runs[r, 4], runs[r, 1])
        elif sw == 2:
            _split2_run(dst, d0 + runs[r, 0], runs[r, 1], d0 + runs[r, 2], runs[r, 3], xf, s0 + runs[r, 4])
        else:
            _gather_run(dst, d0 + runs[r, 0], xf, s0 + runs[r, 4], sw, runs[r, 1])


@njit(inline="always")
def _phase_tables(x: np.ndarray, p: tuple, hq: int, wq: int) -> tuple:
    """(runs, gaps, size) of one channel's phase planes for the shifted-window convolutions."""
    plane = p[2] * p[3] * hq * wq
    runs = _phase_runs(x.shape[2], x.shape[3], p, hq, wq)
    return runs, _phase_gaps(runs, p[3], plane), plane


@njit(inline="always")
def _fill_planes(x: np.ndarray, u0: int, u1: int, tables: tuple, p: tuple, dst: np.ndarray, d0: int) -> None:
    """Phase planes of input planes u0 <= u < u1 (u = image * C + channel) at ``dst[d0 + (u - u0) * size:]``."""
    runs, gaps, plane = tables
    xf = x.reshape(-1)
    hw = x.shape[2] * x.shape[3]
    for u in range(u0, u1):
        _fill_phases(xf, u * hw, runs, gaps, p[3], dst, d0 + (u - u0) * plane)


@njit(inline="always")
def shift_pad_work(t: int, nt: int, x: np.ndarray, xph: np.ndarray, p: tuple, hq: int, wq: int) -> None:
    """Thread ``t`` of ``nt``: fill the phase planes of its share of the (image, channel) pairs."""
    tables = _phase_tables(x, p, hq, wq)
    u0, u1 = _split(x.shape[0] * x.shape[1], nt, t, 1)
    _fill_planes(x, u0, u1, tables, p, xph, u0 * tables[2])


@leaf
def _shift_store(cbuf: np.ndarray, ldc: int, dst: np.ndarray, r0: int, mc: int, qb: int, nq: int, wq: int,
                 ow: int) -> tuple:
    """Copy the valid columns of grid block [qb, qb+nq) (rows r0..r0+mc of ``cbuf``) into ``dst`` (O, OH*OW);
    returns the output pixel range [j0, j1) written."""
    npix = dst.shape[1]
    df = dst.reshape(-1)
    q = qb
    end = qb + nq
    while q < end:
        oy = q // wq
        ox = q - oy * wq
        n = min(wq - ox, end - q)
        valid = min(ow - ox, n)
        if valid > 0:
            for i in range(mc):
                _copy_run(df, (r0 + i) * npix + oy * ow + ox, cbuf, i * ldc + q - qb, valid)
        q += n
    oy0 = qb // wq
    oy1 = end // wq
    return oy0 * ow + min(qb - oy0 * wq, ow), oy1 * ow + min(end - oy1 * wq, ow)


@njit(inline="always")
def _pads_locally(nb: int, nt: int) -> bool:
    """Each thread owns whole images (one thread, or a batch that splits evenly enough over the threads)."""
    return nt == 1 or (nb >= nt and (nb % nt == 0 or nb >= 4 * nt))


@njit(inline="always")
def shift_work(t: int, nt: int, x: np.ndarray, xph: np.ndarray, img: int, wp: np.ndarray, koff: np.ndarray,
               out3: np.ndarray, p: tuple, wq: int, epi, epi_args) -> None:  # noqa: ANN001
    """Thread ``t`` of ``nt``: its share of out = W @ shifted-windows(xph) + epilogue (images when the batch is
    large, else grid positions (NR-aligned), else output channels (MR-aligned)). When it owns whole images
    (:func:`_pads_locally`) it pads them itself, a few at a time, into a buffer that stays in L2 (``xph`` is then
    unused); otherwise ``xph`` holds the whole padded batch."""
    nb, o = out3.shape[0], out3.shape[1]
    oh, ow = p[9], p[10]
    k = koff.size
    nq = oh * wq
    nr = tile_nr(out3)
    cbuf = np.empty(MC * NCQ, out3.dtype)
    b0, b1, m0, m1, q0, q1 = 0, nb, 0, o, 0, nq
    local = _pads_locally(nb, nt)
    if nt > 1:
        if local:
            b0, b1 = _split(nb, nt, t, 1)
        elif _split_rows(o, nq, nt, nr):
            m0, m1 = _split(o, nt, t, MR)
        else:
            q0, q1 = _split(nq, nt, t, nr)
    nslices = (k + KC - 1) // KC
    kstep = (k + nslices - 1) // nslices
    # Small images (a few register tiles each) are taken several at a time, so each A micro-panel is reused
    # across all of them while it is in L1 (at batch 8 the 7x7 stage would otherwise stream its 9 MB of weights
    # once per image).
    nq_pad = (nq + nr - 1) // nr * nr
    group = max(1, NCQ // nq_pad) if (q0 == 0 and q1 == nq) else 1
    src = xph
    if local:
        ch = x.shape[1]
        runs, gaps, plane = _phase_tables(x, p, img // (ch * p[2] * p[3] * wq), wq)
        src = np.empty(group * img + _shift_slack(x, p), out3.dtype)
        src[group * img:] = 0.0
    for bg in range(b0, b1, group):
        gn = min(group, b1 - bg)
        base = 0
        if local:
            _fill_planes(x, bg * ch, (bg + gn) * ch, (runs, gaps, plane), p, src, 0)
            gaps = gaps[:0]  # the padding of a reused buffer is still zero
        else:
            base = bg * img
        for qb in range(q0, q1, NCQ):
            nqq = min(NCQ, q1 - qb)
            for ic in range(m0, m1, MC):
                mc = min(MC, m1 - ic)
                for pc in range(0, k, kstep):
                    kc = min(kstep, k - pc)
                    for ir in range(0, mc, MR):  # the A micro-panel stays in L1 across the block's tiles
                        a_at = ((ic + ir) // MR) * k * MR + pc * MR
                        mrr = min(MR, mc - ir)
                        for g in range(gn):
                            for jr in range(0, nqq, nr):
                                ukernel_off(kc, wp, a_at, src, base + g * img + qb + jr, koff, pc, cbuf,
                                            ir * NCQ + g * nq_pad + jr, NCQ, pc > 0, mrr, min(nr, nqq - jr))
                for g in range(gn):
                    ob = out3[bg + g]
                    j0, j1 = _shift_store(cbuf[g * nq_pad:], NCQ, ob, ic, mc, qb, nqq, wq, ow)
                    epi(ob, bg + g, ic, ic + mc, j0, j1, epi_args)


@njit(inline="always")
def _body_shift_pad(t: int, nt: int, job: tuple) -> None:
    x, xph, p, hq, wq = job
    shift_pad_work(t, nt, x, xph, p, hq, wq)


_run_shift_pad = make_runner("conv2d_shift_pad", _body_shift_pad)


@njit(inline="always")
def _shift_slack(x: np.ndarray, p: tuple) -> int:
    """Zeros past the last plane: the junk columns of the last tile read up to NR + (kw-1)*dw elements beyond it."""
    return 2 * tile_nr(x) + p[1] * p[7] + 16


@njit(inline="always")
def _shift_prepare(x: np.ndarray, p: tuple, nt: int) -> tuple:
    hq, wq, img = _shift_dims(x, p)
    if _pads_locally(x.shape[0], nt):  # the workers pad their own images
        return np.zeros(1, x.dtype), img, _shift_offsets(x.shape[1], p, hq, wq), wq
    xph = np.empty(x.shape[0] * img + _shift_slack(x, p), x.dtype)  # the workers write every plane position
    xph[x.shape[0] * img:] = 0.0
    _run_shift_pad(min(nt, x.shape[0] * x.shape[1]), (x, xph, p, hq, wq))
    return xph, img, _shift_offsets(x.shape[1], p, hq, wq), wq


def _shift_body(epi):  # noqa: ANN001, ANN202
    @njit(inline="always")
    def body(t, nt, job):  # noqa: ANN001, ANN202
        x, xph, img, wp, koff, out3, p, wq, epi_args = job
        shift_work(t, nt, x, xph, img, wp, koff, out3, p, wq, epi, epi_args)

    return body


_run_shift = make_generic_runner("conv2d_shift", _shift_body)


# The runners pass their job by address without taking references: arrays created here (xph, koff) must be held
# by a caller frame while the workers run, hence the separate (not inlined) launch functions below.


@njit
def _launch_shift(nt, x, xph, img, wp, koff, out3, p, wq, epi, epi_args) -> None:  # noqa: ANN001
    _run_shift(nt, (x, xph, img, wp, koff, out3, p, wq, epi_args), epi)


@njit
def conv2d_shift(x: np.ndarray, wp: np.ndarray, out: np.ndarray, p: tuple, epi, epi_args) -> None:  # noqa: ANN001
    """Shifted-window GEMM convolution (groups == 1) with any epilogue; ``wp`` as for im2col."""
    nt = threads_for(_flops(x, out, p))
    xph, img, koff, wq = _shift_prepare(x, p, nt)
    _launch_shift(nt, x, xph, img, wp, koff, out.reshape(out.shape[0], out.shape[1], -1), p, wq, epi, epi_args)


@njit(inline="always")
def _body_shift_std(t: int, nt: int, job: tuple) -> None:
    x, xph, img, wp, koff, out3, p, wq, epi_args = job
    shift_work(t, nt, x, xph, img, wp, koff, out3, p, wq, epi_std, epi_args)


_run_shift_std = make_runner("conv2d_shift_std", _body_shift_std)


@njit
def _launch_shift_std(nt, x, xph, img, wp, koff, out3, p, wq, epi_args) -> None:  # noqa: ANN001
    _run_shift_std(nt, (x, xph, img, wp, koff, out3, p, wq, epi_args))


@njit
def conv2d_shift_std(x: np.ndarray, wp: np.ndarray, out: np.ndarray, p: tuple, epi_args: tuple) -> None:
    """:func:`conv2d_shift` with the standard epilogue."""
    nt = threads_for(_flops(x, out, p))
    xph, img, koff, wq = _shift_prepare(x, p, nt)
    _launch_shift_std(nt, x, xph, img, wp, koff, out.reshape(out.shape[0], out.shape[1], -1), p, wq, epi_args)


# --------------------------------------------------------------------------------------------- shift, channels in lanes
# ALGO_SHIFT_OC: the same phase-split input and tap offsets as ALGO_SHIFT, the GEMM transposed: the register tile's
# rows are output pixels (their scalars gathered from the padded input, ``simd.ukernel_gather``, through a table
# of the valid pixels' grid positions, so no junk column is computed) and its vector lanes output channels (the
# weight pre-packed as NR-wide panels of W^T). Pays where the pixel grid fills the NR-wide tiles poorly (14x14:
# 224 grid positions for 196 pixels, 7x7: 64 for 49) and the output channels are a multiple of NR; the tile is
# stored transposed (one scalar per output value, a few % of the FLOPs at K >= 1000).

#: Output pixels (tile rows) and output channels per block: the block's C tile (pixel-major) stays in L2.
MQ = 256
NCO = 128
#: K per micro-kernel call: the NR-wide weight micro-panel (KCO x NR, 18 KiB) stays in L1 while the block's pixels
#: sweep it, next to the input lines their gathers touch. At 576 (74 KiB) the panel streamed from L2 for every tile:
#: one thread on a 48 KiB-L1 Xeon, 3x3 convs 64->64 56x56, 128->128 28x28, 256->256 14x14, 512->512 7x7 ran
#: 16%, 7%, 11%, 9% faster at 144 (192: 15%, 5%, 9%, 10%; 288: no gain).
KCO = 144


@njit
def _pixel_rows(p: tuple, wq: int, img: int, nimg: int, xs: int = 1) -> np.ndarray:
    """Row table: position of output pixel m of image m // (OH*OW) -- on the grid of the phase-split buffer
    (pitch ``wq``), or in the input itself (``wq`` = stride * width, ``xs`` = the column stride)."""
    oh, ow = p[9], p[10]
    q = np.empty(nimg * oh * ow, np.int64)
    for g in range(nimg):
        for oy in range(oh):
            for ox in range(ow):
                q[(g * oh + oy) * ow + ox] = g * img + oy * wq + ox * xs
    return q


@njit
def _input_offsets(c: int, p: tuple, h: int, wd: int) -> np.ndarray:
    """Offset of tap k = (ci, ky, kx) -- the weight's column order -- from an output pixel's first input position,
    in the input itself (an unpadded conv, :func:`_unpadded`)."""
    kh, kw, dh, dw = p[0], p[1], p[6], p[7]
    taps = kh * kw
    koff = np.empty(c * taps, np.int64)
    for ky in range(kh):
        for kx in range(kw):
            koff[ky * kw + kx] = ky * dh * wd + kx * dw
    for ci in range(1, c):
        for t in range(taps):
            koff[ci * taps + t] = koff[t] + ci * h * wd
    return koff


@leaf
def _store_transposed(cbuf: np.ndarray, c0: int, ldc: int, dst: np.ndarray, o0: int, no: int, m0: int,
                      nm: int) -> None:
    """dst[o0 + j, m0 + i] = cbuf[c0 + i*ldc + j] for i < nm, j < no (``dst`` an (O, OH*OW) output image): whole
    W x W blocks transposed in registers, the edges element by element."""
    npix = dst.shape[1]
    df = dst.reshape(-1)
    w = vec_width(dst)
    fi = nm - nm % w
    fj = no - no % w
    for i0 in range(0, fi, w):
        for j0 in range(0, fj, w):
            vtranspose(cbuf, c0 + i0 * ldc + j0, ldc, df, (o0 + j0) * npix + m0 + i0, npix)
    for j in range(no):
        row = (o0 + j) * npix + m0
        for i in range(fi if j < fj else 0, nm):
            df[row + i] = cbuf[c0 + i * ldc + j]


@njit(inline="always")
def _act_rows(cbuf: np.ndarray, off: int, ldc: int, nr: int, vb, act: int, alpha, beta, tmp: np.ndarray) -> None:  # noqa: ANN001
    """tmp[r*W:(r+1)*W] = act(cbuf[off + r*ldc:][:W] + vb) for r < nr."""
    w = vec_width(tmp)
    for r in range(nr):
        vstore(tmp, r * w, vact_lanes(vadd(vload(cbuf, off + r * ldc), vb), act, alpha, beta))


@leaf
def _store_transposed_act(cbuf: np.ndarray, c0: int, ldc: int, dst: np.ndarray, o0: int, no: int, m0: int, nm: int,
                          bias: np.ndarray, act: int, alpha, beta, tmp: np.ndarray) -> None:  # noqa: ANN001
    """:func:`_store_transposed` of ``act(cbuf + bias[o0 + j])``, the standard epilogue fused (``lane_epilogue``):
    each W x W block is finished in registers (channels are its lanes: one bias vector), staged in ``tmp`` (L1,
    W x W) and transposed; partial blocks masked. Saves the epilogue's own pass over the stored output."""
    npix = dst.shape[1]
    df = dst.reshape(-1)
    w = vec_width(dst)
    for j0 in range(0, no, w):
        nc = min(w, no - j0)
        vb = vload_n(bias, o0 + j0, nc) if bias.size > 0 else vzero(dst)
        for i0 in range(0, nm, w):
            nr = min(w, nm - i0)
            off = c0 + i0 * ldc + j0
            if act == ACT_RELU:  # (a constant code folds vact's switch)
                _act_rows(cbuf, off, ldc, nr, vb, ACT_RELU, alpha, beta, tmp)
            elif act == ACT_CLAMP_ORDERED:
                _act_rows(cbuf, off, ldc, nr, vb, ACT_CLAMP_ORDERED, alpha, beta, tmp)
            elif act == ACT_NONE:
                _act_rows(cbuf, off, ldc, nr, vb, ACT_NONE, alpha, beta, tmp)
            else:
                _act_rows(cbuf, off, ldc, nr, vb, act, alpha, beta, tmp)
            d = (o0 + j0) * npix + m0 + i0
            if nr == w and nc == w:
                vtranspose(tmp, 0, w, df, d, npix)
            else:
                vtranspose_n(tmp, 0, w, nr, nc, df, d, npix)


@njit(inline="always")
def _prefetch_taps(src: np.ndarray, qoff: np.ndarray, m0: int, nm: int, koff: np.ndarray, k0: int, nk: int) -> None:
    """Prefetch the input lines that pixels m0 <= m < m0 + nm read at taps k0 <= k < k0 + nk (rows of consecutive
    pixels are assumed contiguous: one prefetch per 64-byte line's worth of elements, and the last)."""
    step = 64 // src.itemsize
    for k in range(k0, k0 + nk):
        base = koff[k]
        for m in range(m0, m0 + nm, step):
            prefetch(src, qoff[m] + base)
        prefetch(src, qoff[m0 + nm - 1] + base)


@njit(inline="always")
def _shift_oc_region(src: np.ndarray, qoff: np.ndarray, m0: int, m1: int, img0: int, o0: int, o1: int,
                     wp: np.ndarray, koff: np.ndarray, cbuf: np.ndarray, out3: np.ndarray, epi, epi_args,
                     tmp: np.ndarray) -> None:  # noqa: ANN001
    """out[img0 + m // npix, o0:o1, m % npix] for pixels m0 <= m < m1 of the images in ``src`` (row table ``qoff``),
    then the epilogue (fused into the transposed store when ``lane_epilogue`` allows), one MQ x NCO block at a
    time."""
    npix = out3.shape[2]
    fused, fbias, act, alpha, beta = lane_epilogue(epi, epi_args, out3)
    nr = tile_nr(out3)
    k = koff.size
    pointwise = k == 1 or koff[1] - koff[0] >= npix  # 1x1: each tap a channel plane, read once per pixel block
    nslices = (k + KCO - 1) // KCO
    kstep = (k + nslices - 1) // nslices
    for ob in range(o0, o1, NCO):
        nco = min(NCO, o1 - ob)
        for mb in range(m0, m1, MQ):
            mq = min(MQ, m1 - mb)
            for pc in range(0, k, kstep):
                kc = min(kstep, k - pc)
                if ob == o0 and pointwise:
                    _prefetch_taps(src, qoff, mb, mq, koff, pc, kc)
                for jr in range(0, nco, nr):
                    b_at = ((ob + jr) // nr) * k * nr + pc * nr
                    ncols = min(nr, nco - jr)
                    for ir in range(0, mq, MR):
                        ukernel_gather(kc, src, 0, qoff, mb + ir, koff, pc, wp, b_at, cbuf, ir * NCO + jr, NCO,
                                       pc > 0, min(MR, mq - ir), ncols)
            m = mb
            while m < mb + mq:
                g = m // npix
                pix = m - g * npix
                n = min(npix - pix, mb + mq - m)
                ob3 = out3[img0 + g]
                if fused:
                    _store_transposed_act(cbuf, (m - mb) * NCO, NCO, ob3, ob, nco, pix, n, fbias, act, alpha, beta,
                                          tmp)
                else:
                    _store_transposed(cbuf, (m - mb) * NCO, NCO, ob3, ob, nco, pix, n)
                    epi(ob3, img0 + g, ob, ob + nco, pix, pix + n, epi_args)
                m += n


@njit(inline="always")
def _balance(total: int, align: int, nt: int) -> float:
    """Mean over max work per thread when ``total`` is split on multiples of ``align``."""
    units = (total + align - 1) // align
    return units / (nt * ((units + nt - 1) // nt))


@njit(inline="always")
def shift_oc_work(t: int, nt: int, x: np.ndarray, xph: np.ndarray, img: int, wp: np.ndarray, koff: np.ndarray,
                  qoff: np.ndarray, out3: np.ndarray, p: tuple, wq: int, epi, epi_args) -> None:  # noqa: ANN001
    """Thread ``t`` of ``nt``: its share of the channels-in-lanes shifted-window conv -- whole images, padded here a
    group at a time (:func:`_pads_locally`), or of the output channels (NR-aligned) or pixels (MR-aligned) of the
    batch padded up front in ``xph`` (the input itself for an unpadded conv)."""
    nb, o, npix = out3.shape[0], out3.shape[1], out3.shape[2]
    nr = tile_nr(out3)
    cbuf = np.empty(MQ * NCO, out3.dtype)
    tmp = np.empty(vec_width(out3) ** 2, out3.dtype)
    if _unpadded(x, p) or not _pads_locally(nb, nt):
        o0, o1, m0, m1 = 0, o, 0, nb * npix
        if _balance(o, nr, nt) >= _balance(nb * npix, MR, nt):  # (channels first: no thread re-reads a weight)
            o0, o1 = _split(o, nt, t, nr)
        else:
            m0, m1 = _split(nb * npix, nt, t, MR)
        _shift_oc_region(xph, qoff, m0, m1, 0, o0, o1, wp, koff, cbuf, out3, epi, epi_args, tmp)
        return
    b0, b1 = _split(nb, nt, t, 1)
    ch = x.shape[1]
    runs, gaps, plane = _phase_tables(x, p, img // (ch * p[2] * p[3] * wq), wq)
    group = qoff.size // npix
    buf = np.empty(group * img, out3.dtype)
    for bg in range(b0, b1, group):
        gn = min(group, b1 - bg)
        _fill_planes(x, bg * ch, (bg + gn) * ch, (runs, gaps, plane), p, buf, 0)
        gaps = gaps[:0]  # the padding of a reused buffer is still zero
        _shift_oc_region(buf, qoff, 0, gn * npix, bg, 0, o, wp, koff, cbuf, out3, epi, epi_args, tmp)


@njit(inline="always")
def _unpadded(x: np.ndarray, p: tuple) -> bool:
    """Every tap of every output pixel lies inside the input (no padding): the gathers read the input in place, at
    any stride (a strided 1x1's phase split would copy s_h*s_w times the pixels it reads)."""
    return p[4] == 0 and p[5] == 0 and (p[9] - 1) * p[2] + (p[0] - 1) * p[6] < x.shape[2] and \
        (p[10] - 1) * p[3] + (p[1] - 1) * p[7] < x.shape[3]


@njit(inline="always")
def _shift_oc_prepare(x: np.ndarray, p: tuple, nt: int) -> tuple:
    """(padded batch, the input itself or a placeholder; per-image size, tap offsets, pixel row table, grid
    pitch)."""
    nb = x.shape[0]
    if _unpadded(x, p):
        h, wd = x.shape[2], x.shape[3]
        img = x.shape[1] * h * wd
        return x.reshape(-1), img, _input_offsets(x.shape[1], p, h, wd), _pixel_rows(p, p[2] * wd, img, nb, p[3]), wd
    hq, wq, img = _shift_dims(x, p)
    koff = _shift_offsets(x.shape[1], p, hq, wq)
    if _pads_locally(nb, nt):  # the workers pad their own images, enough per group to fill a pixel block
        group = min(max(1, MQ // (p[9] * p[10])), (nb + nt - 1) // nt)
        return np.zeros(1, x.dtype), img, koff, _pixel_rows(p, wq, img, group), wq
    xph = np.empty(nb * img, x.dtype)  # the gathers read valid grid positions only: no slack
    _run_shift_pad(min(nt, nb * x.shape[1]), (x, xph, p, hq, wq))
    return xph, img, koff, _pixel_rows(p, wq, img, nb), wq


def _shift_oc_body(epi):  # noqa: ANN001, ANN202
    @njit(inline="always")
    def body(t, nt, job):  # noqa: ANN001, ANN202
        x, xph, img, wp, koff, qoff, out3, p, wq, epi_args = job
        shift_oc_work(t, nt, x, xph, img, wp, koff, qoff, out3, p, wq, epi, epi_args)

    return body


_run_shift_oc = make_generic_runner("conv2d_shift_oc", _shift_oc_body)


@njit
def _launch_shift_oc(nt, x, xph, img, wp, koff, qoff, out3, p, wq, epi, epi_args) -> None:  # noqa: ANN001
    _run_shift_oc(nt, (x, xph, img, wp, koff, qoff, out3, p, wq, epi_args), epi)


@njit
def conv2d_shift_oc(x: np.ndarray, wp: np.ndarray, out: np.ndarray, p: tuple, epi, epi_args) -> None:  # noqa: ANN001
    """Shifted-window conv with output channels in the vector lanes (groups == 1), any epilogue; ``wp`` is
    ``pack_bt(w.reshape(O, -1))`` (:func:`prepare_conv_weight`)."""
    nt = threads_for(_flops(x, out, p))
    xph, img, koff, qoff, wq = _shift_oc_prepare(x, p, nt)
    _launch_shift_oc(nt, x, xph, img, wp, koff, qoff, out.reshape(out.shape[0], out.shape[1], -1), p, wq, epi,
                     epi_args)


@njit(inline="always")
def _body_shift_oc_std(t: int, nt: int, job: tuple) -> None:
    x, xph, img, wp, koff, qoff, out3, p, wq, epi_args = job
    shift_oc_work(t, nt, x, xph, img, wp, koff, qoff, out3, p, wq, epi_std, epi_args)


_run_shift_oc_std = make_runner("conv2d_shift_oc_std", _body_shift_oc_std)


@njit
def _launch_shift_oc_std(nt, x, xph, img, wp, koff, qoff, out3, p, wq, epi_args) -> None:  # noqa: ANN001
    _run_shift_oc_std(nt, (x, xph, img, wp, koff, qoff, out3, p, wq, epi_args))


@njit
def conv2d_shift_oc_std(x: np.ndarray, wp: np.ndarray, out: np.ndarray, p: tuple, epi_args: tuple) -> None:
    """:func:`conv2d_shift_oc` with the standard epilogue."""
    nt = threads_for(_flops(x, out, p))
    xph, img, koff, qoff, wq = _shift_oc_prepare(x, p, nt)
    _launch_shift_oc_std(nt, x, xph, img, wp, koff, qoff, out.reshape(out.shape[0], out.shape[1], -1), p, wq,
                         epi_args)


# --------------------------------------------------------------------------------------------- depthwise
# Each input plane is copied into a zero-padded buffer split into stride phases, pitch ``pwq``: there every tap
# (ky, kx) is one constant offset from an output position on a grid of pitch pwq (the output row plus
# ((kw-1)*dw)//sw junk columns), so a tap is one multiply-add of a contiguous vector run that crosses output rows
# (a 7x7 plane is 4 vectors per tap, not 7 row-masked ones). The junk columns are dropped when the grid is copied to
# the output. Planes are filled for a chunk of channels before any is read, and grids computed before any is
# copied out: a vector load overlapping a store still in flight stalls until the store retires.

#: Elements of one chunk's planes or grids (about 16 KiB of float32: the chunk stays in L1).
DW_CHUNK = 4096


@leaf
def _dw_grid(plane: np.ndarray, p0: int, toff: np.ndarray, wf: np.ndarray, w0: int, nq: int, grid: np.ndarray,
             g0: int) -> None:
    """grid[g0 + q] = sum over taps t of wf[w0 + t] * plane[p0 + q + toff[t]], q < nq rounded up to 4 vectors."""
    w = vec_width(grid)
    for q in range(0, nq, 4 * w):
        a0 = vzero(grid)
        a1 = vzero(grid)
        a2 = vzero(grid)
        a3 = vzero(grid)
        for t in range(toff.shape[0]):
            wv = vsplat(wf[w0 + t])
            s = p0 + q + toff[t]
            a0 = vfma(wv, vload(plane, s), a0)
            a1 = vfma(wv, vload(plane, s + w), a1)
            a2 = vfma(wv, vload(plane, s + 2 * w), a2)
            a3 = vfma(wv, vload(plane, s + 3 * w), a3)
        vstore(grid, g0 + q, a0)
        vstore(grid, g0 + q + w, a1)
        vstore(grid, g0 + q + 2 * w, a2)
        vstore(grid, g0 + q + 3 * w, a3)


@leaf
def _dw_emit(grid: np.ndarray, g0: int, pwq: int, of: np.ndarray, o0: int, rows: int, ow: int) -> None:
    """Output rows from grid rows (dropping the junk columns)."""
    for oy in range(rows):
        _copy_run(of, o0 + oy * ow, grid, g0 + oy * pwq, ow)


# Multiplier 1 runs with channels in the vector lanes instead: W planes are transposed into one padded (rows, cols,
# W) buffer, where a tap of any stride or dilation is one full-vector load per output pixel and the weights of a
# tap are one vector; the (pixels, W) result is transposed back into the W output planes. The transposes cost about
# as much as the arithmetic, but nothing is masked, padded to a grid or wasted on junk columns, which on 14x14 and
# 7x7 planes (and any stride 2) was most of the pixel-lane kernel's time (one thread, 3x3 relu6: 960 ch 7x7
# 83 -> 37 us, 576 ch 14x14 stride 2 85 -> 35 us, 384 ch 14x14 67 -> 45 us, 144 ch 56x56 275 -> 230 us).

#: Output pixels per register block of the channel-lane kernel.
DWL_R = 8


@leaf
def _dwl_fill(xf: np.ndarray, x0: int, hw: int, q0: int, q1: int, nc: int, pos: np.ndarray, base: int,
              tmp: np.ndarray, buf: np.ndarray) -> None:
    """buf[pos[q] - base + i] = xf[x0 + i*hw + q] for planes i < nc (W at most), pixels q0 <= q < q1: W x W
    transposes of the flat planes, straight into the buffer when the W pixels lie in one row, else into ``tmp``
    and each pixel's vector then stored at its place."""
    w = vec_width(buf)
    full = q0 + (q1 - q0) // w * w if nc == w else q0
    for q in range(q0, full, w):
        d = pos[q] - base
        if pos[q + w - 1] - base - d == (w - 1) * w:
            vtranspose(xf, x0 + q, hw, buf, d, w)
            continue
        vtranspose(xf, x0 + q, hw, tmp, 0, w)
        for j in range(w):
            vstore(buf, pos[q + j] - base, vload(tmp, j * w))
    for q in range(full, q1, w):
        n = min(w, q1 - q)
        vtranspose_n(xf, x0 + q, hw, nc, n, tmp, 0, w)
        for j in range(n):
            vstore(buf, pos[q + j] - base, vload(tmp, j * w))


@njit(inline="always")
def _dwl_block(buf: np.ndarray, r0: int, st: int, toff: np.ndarray, wv: np.ndarray, vb, act: int, alpha, beta,  # noqa: ANN001
               tb: np.ndarray, o: int) -> None:
    """DWL_R pixel vectors (input pitch ``st``): tb[o + j*W] = act(vb + sum over taps t of wv[t] * buf[r0 +
    j*st + toff[t]]) for j < DWL_R."""
    w = vec_width(buf)
    a0 = vb
    a1 = vb
    a2 = vb
    a3 = vb
    a4 = vb
    a5 = vb
    a6 = vb
    a7 = vb
    for t in range(toff.shape[0]):
        wt = vload(wv, t * w)
        r = r0 + toff[t]
        a0 = vfma(wt, vload(buf, r), a0)
        a1 = vfma(wt, vload(buf, r + st), a1)
        a2 = vfma(wt, vload(buf, r + 2 * st), a2)
        a3 = vfma(wt, vload(buf, r + 3 * st), a3)
        a4 = vfma(wt, vload(buf, r + 4 * st), a4)
        a5 = vfma(wt, vload(buf, r + 5 * st), a5)
        a6 = vfma(wt, vload(buf, r + 6 * st), a6)
        a7 = vfma(wt, vload(buf, r + 7 * st), a7)
    if act != ACT_NONE:
        a0 = vact_lanes(a0, act, alpha, beta)
        a1 = vact_lanes(a1, act, alpha, beta)
        a2 = vact_lanes(a2, act, alpha, beta)
        a3 = vact_lanes(a3, act, alpha, beta)
        a4 = vact_lanes(a4, act, alpha, beta)
        a5 = vact_lanes(a5, act, alpha, beta)
        a6 = vact_lanes(a6, act, alpha, beta)
        a7 = vact_lanes(a7, act, alpha, beta)
    vstore(tb, o, a0)
    vstore(tb, o + w, a1)
    vstore(tb, o + 2 * w, a2)
    vstore(tb, o + 3 * w, a3)
    vstore(tb, o + 4 * w, a4)
    vstore(tb, o + 5 * w, a5)
    vstore(tb, o + 6 * w, a6)
    vstore(tb, o + 7 * w, a7)


@leaf
def _dwl_rows(buf: np.ndarray, toff: np.ndarray, wv: np.ndarray, vb, act: int, alpha, beta, oh: int, ow: int,  # noqa: ANN001
              sh: int, sw: int, wp: int, tb: np.ndarray) -> None:
    """tb[(oy*ow + ox)*W + i] = act(vb[i] + sum over taps t of wv[t*W + i] * buf[(oy*sh*wp + ox*sw)*W + toff[t]
    + i]): DWL_R pixels of a row at a time (the row's last block overlaps the one before; a row narrower than a
    block spills into the next row's pixels, which are computed after it, the last row into ``tb``'s slack). The
    common activations get their own copy of the block (a constant ``act`` folds ``vact``'s switch)."""
    w = vec_width(buf)
    st = sw * w
    for oy in range(oh):
        for ox in range(0, ow, DWL_R):
            s = max(min(ox, ow - DWL_R), 0)
            r0 = (oy * sh * wp + s * sw) * w
            o = (oy * ow + s) * w
            if act == ACT_NONE:
                _dwl_block(buf, r0, st, toff, wv, vb, ACT_NONE, alpha, beta, tb, o)
            elif act == ACT_RELU:
                _dwl_block(buf, r0, st, toff, wv, vb, ACT_RELU, alpha, beta, tb, o)
            elif act == ACT_CLAMP_ORDERED:
                _dwl_block(buf, r0, st, toff, wv, vb, ACT_CLAMP_ORDERED, alpha, beta, tb, o)
            else:
                _dwl_block(buf, r0, st, toff, wv, vb, act, alpha, beta, tb, o)


#: Bytes of the channel-lane kernel's padded input buffer: larger planes are computed in bands of output rows.
DWL_BAND_BYTES = 96 * 1024


@njit(inline="always")
def _dwl_bands(nunits: int, nt: int, oh: int, kh: int, sh: int, dh: int, wp: int, w: int, itemsize: int) -> int:
    """Output rows per band: the band's padded input rows fit DWL_BAND_BYTES, and there are at least two units of
    work per thread."""
    rows = max(1, DWL_BAND_BYTES // (wp * w * itemsize))
    ob = max(1, (rows - (kh - 1) * dh - 1) // sh + 1)
    want = (2 * nt + nunits - 1) // nunits if nt > 1 else 1
    return max(1, min(ob, oh, (oh + want - 1) // want))


@njit(inline="always")
def depthwise_lanes_work(t: int, nt: int, x: np.ndarray, w2: np.ndarray, out3: np.ndarray, p: tuple, epi,  # noqa: ANN001
                         epi_args) -> None:
    """Thread ``t`` of ``nt``: a range of (image, block of W channels, band of output rows) units of a multiplier-1
    depthwise conv, with channels in the vector lanes (see above). The standard epilogue (float32, no residual) is
    applied in registers; any other runs on the stored output (a few blocks at a time when planes are one band)."""
    nb, ch, h, wd = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    kh, kw, sh, sw, pt, pl, dh, dw = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
    oh, ow = p[9], p[10]
    taps = kh * kw
    w = vec_width(out3)
    wp = max(wd + pl, (ow - 1) * sw + (kw - 1) * dw + 1)  # padded columns the taps read
    hw = h * wd
    npix = oh * ow
    nblk = (ch + w - 1) // w
    ob = _dwl_bands(nb * nblk, nt, oh, kh, sh, dh, wp, w, out3.itemsize)
    nbands = (oh + ob - 1) // ob
    hb = (ob - 1) * sh + (kh - 1) * dh + 1  # padded rows of a band
    fused, fbias, act, alpha, beta = lane_epilogue(epi, epi_args, out3)
    if not fused:
        act = ACT_NONE
    # slack: a row narrower than DWL_R pixels computes a full block, reading up to DWL_R*sw pixels past it
    buf = np.zeros((hb * wp + DWL_R * sw + w) * w, out3.dtype)
    tb = np.empty((ob * ow + DWL_R) * w, out3.dtype)  # slack: see _dwl_rows
    tmp = np.zeros(w * w, out3.dtype)
    wv = np.zeros(taps * w, out3.dtype)
    pos = np.empty(hw, np.int64)  # input pixel -> its vector in the padded plane
    for y in range(h):
        for xx in range(wd):
            pos[y * wd + xx] = ((y + pt) * wp + xx + pl) * w
    toff = np.empty(taps, np.int64)
    for ky in range(kh):
        for kx in range(kw):
            toff[ky * kw + kx] = (ky * dh * wp + kx * dw) * w
    xf = x.reshape(-1)
    wf = w2.reshape(-1)
    u0, u1 = _split(nb * nblk * nbands, nt, t, 1)
    e0 = -1  # first channel of this image whose epilogue is still pending (single-band planes)
    c_w = -1  # channel block whose weights are in wv
    for u in range(u0, u1):
        bi = u // (nblk * nbands)
        c0 = (u // nbands - bi * nblk) * w
        oy0 = (u % nbands) * ob
        nrow = min(ob, oh - oy0)
        nc = min(w, ch - c0)
        if c0 != c_w:
            for k in range(0, taps, w):
                vtranspose_n(wf, c0 * taps + k, taps, nc, min(w, taps - k), wv, k * w, w)
            c_w = c0
        vb = vload_n(fbias, c0, nc) if fused and fbias.size > 0 else vzero(out3)
        ytop = oy0 * sh - pt  # input row of the band's first padded row
        y0 = min(max(ytop, 0), h)
        y1 = max(min(ytop + (nrow - 1) * sh + (kh - 1) * dh + 1, h), y0)
        if nbands > 1:  # rows of this band that are padding may hold another band's data
            buf[:max(y0 - ytop, 0) * wp * w] = 0
            buf[max(y1 - ytop, 0) * wp * w:hb * wp * w] = 0
        _dwl_fill(xf, (bi * ch + c0) * hw, hw, y0 * wd, y1 * wd, nc, pos, oy0 * sh * wp * w, tmp, buf)
        _dwl_rows(buf, toff, wv, vb, act, alpha, beta, nrow, ow, sh, sw, wp, tb)
        _store_transposed(tb, 0, w, out3[bi], c0, nc, oy0 * ow, nrow * ow)
        if not fused:
            if nbands > 1:
                epi(out3[bi], bi, c0, c0 + nc, oy0 * ow, (oy0 + nrow) * ow, epi_args)
                continue
            e0 = c0 if e0 < 0 else e0
            c1 = c0 + nc
            if (c1 - e0) * npix >= DW_CHUNK or c1 == ch or u + 1 >= u1:
                epi(out3[bi], bi, e0, c1, 0, npix, epi_args)
                e0 = -1


@njit(inline="always")
def depthwise_work(t: int, nt: int, x: np.ndarray, w2: np.ndarray, out3: np.ndarray, p: tuple, epi,  # noqa: ANN001
                   epi_args) -> None:
    """Thread ``t`` of ``nt``: a range of (image, input channel) planes, a chunk at a time (fill the chunk's planes,
    compute their grids, copy them out, run the epilogue on the chunk's output channels while they are in L1).
    Planes too large for a chunk are computed (and their epilogue run) in bands of output rows."""
    nb, ch, h, wd = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    o = out3.shape[1]
    mult = o // ch
    if mult == 1:
        if rows_pay(p[10], p[3], vec_width(out3)):
            depthwise_rows_work(t, nt, x, w2, out3, p, epi, epi_args)
        else:
            depthwise_lanes_work(t, nt, x, w2, out3, p, epi, epi_args)
        return
    sw, oh, ow = p[3], p[9], p[10]
    taps = p[0] * p[1]
    w = vec_width(out3)
    hq, pwq, img = _shift_dims(x, p)  # the shift conv's phase-split layout, one channel per plane
    psz = img // ch
    rows = min(oh, max(1, DW_CHUNK // pwq))  # grid rows computed at a time
    gsz = (rows * pwq + 4 * w - 1) // (4 * w) * (4 * w)
    kc = max(1, min(DW_CHUNK // psz, DW_CHUNK // (gsz * mult)))
    runs = _phase_runs(h, wd, p, hq, pwq)
    nogaps = np.zeros((0, 2), np.int64)  # the planes' padding stays as zeroed here: same positions for every chunk
    toff = _shift_offsets(1, p, hq, pwq)  # tap ky*kw + kx
    # slack: the last grid vectors read up to 4 vectors past the last plane's taps
    planes = np.zeros(kc * psz + 4 * w + pwq, out3.dtype)
    grids = np.empty(kc * mult * gsz, out3.dtype)
    xf = x.reshape(-1)
    of = out3.reshape(-1)
    wf = w2.reshape(-1)
    u0, u1 = _split(nb * ch, nt, t, 1)
    npix = out3.shape[2]
    e0 = -1  # first channel of this image whose epilogue is still pending (single-band planes)
    u = u0
    while u < u1:
        bi = u // ch
        c0 = u - bi * ch
        c1 = min(ch, c0 + kc, c0 + u1 - u)
        for ci in range(c0, c1):
            _fill_phases(xf, (bi * ch + ci) * h * wd, runs, nogaps, sw, planes, (ci - c0) * psz)
        for oy0 in range(0, oh, rows):
            nr = min(rows, oh - oy0)
            for ci in range(c0, c1):
                for m in range(mult):
                    oc = ci * mult + m
                    _dw_grid(planes, (ci - c0) * psz + oy0 * pwq, toff, wf, oc * taps, nr * pwq, grids,
                             ((ci - c0) * mult + m) * gsz)
            for ci in range(c0, c1):
                for m in range(mult):
                    oc = ci * mult + m
                    _dw_emit(grids, ((ci - c0) * mult + m) * gsz, pwq, of, ((bi * o + oc) * oh + oy0) * ow, nr, ow)
            if rows < oh:
                epi(out3[bi], bi, c0 * mult, c1 * mult, oy0 * ow, (oy0 + nr) * ow, epi_args)
        u += c1 - c0
        if rows >= oh:  # the epilogue over several chunks at once: a call per small chunk cost more than the chunk
            e0 = c0 if e0 < 0 else e0
            if (c1 - e0) * mult * npix >= DW_CHUNK or c1 == ch or u >= u1:
                epi(out3[bi], bi, e0 * mult, c1 * mult, 0, npix, epi_args)
                e0 = -1


def _dw_body(epi):  # noqa: ANN001, ANN202
    @njit(inline="always")
    def body(t, nt, job):  # noqa: ANN001, ANN202
        x, w2, out3, p, epi_args = job
        depthwise_work(t, nt, x, w2, out3, p, epi, epi_args)

    return body


_run_dw = make_generic_runner("conv2d_depthwise", _dw_body)


@njit
def conv2d_depthwise(x: np.ndarray, w2: np.ndarray, out: np.ndarray, p: tuple, epi, epi_args) -> None:  # noqa: ANN001
    """Depthwise convolution (groups == C, O = C * multiplier) with any epilogue; ``w2`` is w viewed (O, kh*kw)."""
    nt = min(threads_for(_flops(x, out, p)), x.shape[0] * x.shape[1])
    _run_dw(nt, (x, w2, out.reshape(out.shape[0], out.shape[1], -1), p, epi_args), epi)


@njit(inline="always")
def _body_dw_std(t: int, nt: int, job: tuple) -> None:
    x, w2, out3, p, epi_args = job
    depthwise_work(t, nt, x, w2, out3, p, epi_std, epi_args)


_run_dw_std = make_runner("conv2d_depthwise_std", _body_dw_std)


@njit
def conv2d_depthwise_std(x: np.ndarray, w2: np.ndarray, out: np.ndarray, p: tuple, epi_args: tuple) -> None:
    """:func:`conv2d_depthwise` with the standard epilogue."""
    nt = min(threads_for(_flops(x, out, p)), x.shape[0] * x.shape[1])
    _run_dw_std(nt, (x, w2, out.reshape(out.shape[0], out.shape[1], -1), p, epi_args))


# --------------------------------------------------------------------------------------------- transposed conv


def conv_transpose_params(w_shape: tuple, x_shape: tuple, out_hw: tuple, stride: tuple = (1, 1),
                          padding: tuple = (0, 0), dilation: tuple = (1, 1), groups: int = 1) -> tuple:
    """``p`` for :func:`conv_transpose2d`: (kh, kw, sh, sw, pad_h, pad_w, dh, dw, groups, OH, OW); ``w_shape`` is
    (C, O/groups, kh, kw); ``out_hw`` the output size (output_padding is implied by it)."""
    return (int(w_shape[2]), int(w_shape[3]), int(stride[0]), int(stride[1]), int(padding[0]), int(padding[1]),
            int(dilation[0]), int(dilation[1]), int(groups), int(out_hw[0]), int(out_hw[1]))


@njit(inline="always")
def conv_transpose_work(t: int, nt: int, x: np.ndarray, wp: np.ndarray, out3: np.ndarray, p: tuple, epi,  # noqa: ANN001
                        epi_args) -> None:
    """(image, group) units split over threads: col = W_g^T @ x_g (one GEMM), col2im scatter-add, epilogue."""
    kh, kw, sh, sw, ph, pw_, dh, dw, groups, oh, ow = p
    nb, ch, h, wd = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    o = out3.shape[1]
    cg = ch // groups
    og = o // groups
    taps = kh * kw
    rows = og * taps
    hw = h * wd
    goff = ((rows + MR - 1) // MR) * MR * cg
    nr = tile_nr(out3)
    bbuf = np.empty(KC * ((NC + nr - 1) // nr) * nr, out3.dtype)
    col = np.empty((rows, hw), out3.dtype)
    u0, u1 = _split(nb * groups, nt, t, 1)
    for u in range(u0, u1):
        bi = u // groups
        g = u - bi * groups
        gemm_region(cg, 0, rows, 0, hw, a_packed, (wp, cg, 0, g * goff), b_1x1, (x, p, g * cg), col, bi, False,
                    _epi_noop, (0,), bbuf)
        dst = out3[bi]
        for oc in range(og):
            orow = g * og + oc
            dst[orow, :] = 0.0
            for ky in range(kh):
                for kx in range(kw):
                    crow = (oc * taps + ky * kw + kx)
                    for iy in range(h):
                        oy = iy * sh - ph + ky * dh
                        if oy < 0 or oy >= oh:
                            continue
                        for ix in range(wd):
                            ox = ix * sw - pw_ + kx * dw
                            if 0 <= ox < ow:
                                dst[orow, oy * ow + ox] += col[crow, iy * wd + ix]
        epi(dst, bi, g * og, (g + 1) * og, 0, oh * ow, epi_args)


@njit
def _epi_noop(c: np.ndarray, b: int, r0: int, r1: int, c0: int, c1: int, args: tuple) -> None:
    return None


def _convt_body(epi):  # noqa: ANN001, ANN202
    @njit(inline="always")
    def body(t, nt, job):  # noqa: ANN001, ANN202
        x, wp, out3, p, epi_args = job
        conv_transpose_work(t, nt, x, wp, out3, p, epi, epi_args)

    return body


_run_convt = make_generic_runner("conv_transpose2d", _convt_body)


@njit
def conv_transpose2d(x: np.ndarray, wp: np.ndarray, out: np.ndarray, p: tuple, epi, epi_args) -> None:  # noqa: ANN001
    """Transposed convolution, ``wp`` from :func:`prepare_conv_transpose_weight`, ``p`` from
    :func:`conv_transpose_params`; any epilogue (bias along rows)."""
    nt = min(threads_for(2.0 * x.size * out.shape[1] // p[8] * p[0] * p[1]), x.shape[0] * p[8])
    _run_convt(nt, (x, wp, out.reshape(out.shape[0], out.shape[1], -1), p, epi_args), epi)


@njit(inline="always")
def _body_convt_std(t: int, nt: int, job: tuple) -> None:
    x, wp, out3, p, epi_args = job
    conv_transpose_work(t, nt, x, wp, out3, p, epi_std, epi_args)


_run_convt_std = make_runner("conv_transpose2d_std", _body_convt_std)


@njit
def conv_transpose2d_std(x: np.ndarray, wp: np.ndarray, out: np.ndarray, p: tuple, epi_args: tuple) -> None:
    """:func:`conv_transpose2d` with the standard epilogue."""
    nt = min(threads_for(2.0 * x.size * out.shape[1] // p[8] * p[0] * p[1]), x.shape[0] * p[8])
    _run_convt_std(nt, (x, wp, out.reshape(out.shape[0], out.shape[1], -1), p, epi_args))


# --------------------------------------------------------------------------------------------- convenience

_STD = {ALGO_IM2COL: conv2d_im2col_std, ALGO_1X1: conv2d_1x1_std, ALGO_DEPTHWISE: conv2d_depthwise_std,
        ALGO_SHIFT: conv2d_shift_std, ALGO_SHIFT_OC: conv2d_shift_oc_std}
_GENERIC = {ALGO_IM2COL: conv2d_im2col, ALGO_1X1: conv2d_1x1, ALGO_DEPTHWISE: conv2d_depthwise,
            ALGO_SHIFT: conv2d_shift, ALGO_SHIFT_OC: conv2d_shift_oc}


def std_kernel(algo: int):  # noqa: ANN201
    """The standard-epilogue kernel of ``algo``: ``kernel(x, wp, out, p, epi_args)``."""
    return _STD[algo]


def conv2d(x: np.ndarray, w: np.ndarray, epi_args: tuple | None = None, *, stride: tuple = (1, 1),
           padding: tuple = (0, 0, 0, 0), dilation: tuple = (1, 1), groups: int = 1, algo: int | None = None,
           epi=None, out: np.ndarray | None = None) -> np.ndarray:  # noqa: ANN001
    """Python-level convenience (tests, benchmarks): choose, prepare and run. ``epi_args`` default: no epilogue."""
    x = np.ascontiguousarray(x)
    p = conv_params(w.shape, x.shape, stride, padding, dilation, groups)
    if algo is None:
        algo = choose_conv_algo(x.shape[1], w.shape[0], w.shape[2], w.shape[3], stride, padding, dilation, groups,
                                x.shape[2], x.shape[3], x.shape[0])
    wp = prepare_conv_weight(w.astype(x.dtype), groups, algo)
    if out is None:
        out = np.empty((x.shape[0], w.shape[0], p[9], p[10]), x.dtype)
    if epi_args is None:
        from .epilogue import std_args
        epi_args = std_args(x.dtype)
    if epi is None:
        std_kernel(algo)(x, wp, out, p, epi_args)
    else:
        _GENERIC[algo](x, wp, out, p, epi, epi_args)
    return out
