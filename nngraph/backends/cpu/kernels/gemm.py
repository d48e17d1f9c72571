"""Packed, cache-blocked GEMM with a fused epilogue: ``C = A @ B`` then ``epi`` on each finished block.

Public entry points (all @njit, callable from nopython code and from Python; arrays are C-contiguous 2-D,
float32 or float64, all of one dtype; ``c`` is overwritten):

    gemm_std(a, b, c, epi_args)            C = A(M,K) @ B(K,N), standard epilogue (``std_args``; bias_axis=1)
    gemm_bt_std(a, w, c, epi_args)         C = A(M,K) @ W(N,K).T  (linear layers, W row-major (out, in))
    gemm_packed_std(a, bp, c, epi_args)    C = A @ B with B pre-packed by ``pack_b(b)`` / ``pack_bt(w)`` (constant
                                           weights: pack once at graph-compile time; no B packing per call)
    gemm / gemm_bt / gemm_packed(..., epi, epi_args)   the same with any @njit epilogue (see epilogue.py)

Blocking (BLIS-like, per thread): for each NC column block, MB row band and K slice (<= KC, near-equal slices),
the B block is packed into NR-wide panels (or taken from a pre-pack); A is read in place, the register tile
gathering each row's values (``simd.ukernel_gather``: packing A had cost 12-25% of the GEMM time at these
sizes), or from a pre-packed weight (convolutions); the register tile (MR x NR = 8 x 32 f32 with AVX-512) sweeps
the block. After
the last K slice of an MC x NC block the epilogue runs on it while it is still in L1/L2 -- never as a separate pass.

Threads: ``thread_work`` gives each thread one stripe of N (NR-aligned), or of M when N is narrow, or a range of
batch items; the ``*_std`` entry points run it in a disk-cached C worker through ``launch.py``. Below
``PAR_MIN_FLOPS`` a call runs serially on the calling thread (no parallel region at all).
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload
from numba.np.ufunc import parallel as _nb_parallel

from .epilogue import epi_std
from .launch import make_generic_runner, make_runner
from .simd import MR, NV, nr_of, tile_nr, ukernel, ukernel_gather, ukernel_off, vec_width, vload, vload_n, vstore

# Block sizes (elements). The packed B block (KC x NC) stays in L2 while MB rows of A stream past it; an MR x KC A
# panel sits in L1. K is cut into near-equal slices of at most KC. Tuned on the shapes in bench/kernels.py; on this
# (shared, noisy) machine the results are flat within +-10% over KC 384..1024, NC 256..512, MB 64..256.
KC = 640
NC = 256
MC = 8 * MR
#: Rows swept per K slice: bounds the A + C traffic through L2 so the packed B block stays resident (large M).
MB = 256
#: Below this many flops a call runs on one thread. Measured on the 2-core machine (linear_packed, 2 threads vs 1):
#: M=1 GEMVs of 0.5-0.8 MFLOP run 1.75x faster on two threads (memory-bound), 0.5-1 MFLOP GEMMs with M >= 4
#: 1.05-1.17x, 0.2 MFLOP 1.13x, 0.13 MFLOP 0.96x.
PAR_MIN_FLOPS = 200_000


# --------------------------------------------------------------------------------------------- packing
# Packed A: panel p holds rows [p*MR, p*MR+MR) as kc groups of MR values (k-major), zero padded.
# Packed B: panel q holds columns [q*NR, q*NR+NR) as kc groups of NR values, zero padded.
# A full pre-pack (k0=0, kc=K) has panel stride K*MR (K*NR); the slice for K offset pc starts pc*MR (pc*NR) in.


@njit
def pack_b_flat(src: np.ndarray, base: int, ld: int, k0: int, kc: int, j0: int, nc: int, dst: np.ndarray) -> None:
    """Pack B[k0:k0+kc, j0:j0+nc] into NR-column panels, where B[k, j] = src.flat[base + k*ld + j] (any C-contiguous
    array: a matrix, or an NCHW activation seen as (C, H*W) for 1x1 convolutions)."""
    nr = tile_nr(dst)
    w = vec_width(dst)
    for q in range((nc + nr - 1) // nr):
        jq = j0 + q * nr
        n = min(nr, j0 + nc - jq)
        at = q * kc * nr
        if n == nr:
            for k in range(kc):
                s0 = base + (k0 + k) * ld + jq
                for v in range(NV):
                    vstore(dst, at + k * nr + v * w, vload(src, s0 + v * w))
        else:  # edge panel: masked loads read only the n valid columns and zero the rest
            for k in range(kc):
                s0 = base + (k0 + k) * ld + jq
                for v in range(NV):
                    cnt = min(max(n - v * w, 0), w)
                    vstore(dst, at + k * nr + v * w, vload_n(src, s0 + v * w, cnt))


@njit
def pack_b_block(b: np.ndarray, k0: int, kc: int, j0: int, nc: int, dst: np.ndarray) -> None:
    """Pack ``b[k0:k0+kc, j0:j0+nc]`` (C-contiguous 2-D) into NR-column panels."""
    pack_b_flat(b, 0, b.shape[1], k0, kc, j0, nc, dst)


@njit
def pack_bt_block(wt: np.ndarray, k0: int, kc: int, j0: int, nc: int, dst: np.ndarray) -> None:
    """Pack ``wt.T[k0:k0+kc, j0:j0+nc]`` for ``wt`` (N, K) C-contiguous (a linear layer's weight)."""
    nr = tile_nr(dst)
    ld = wt.shape[1]
    wf = wt.reshape(-1)
    for q in range((nc + nr - 1) // nr):
        jq = j0 + q * nr
        n = min(nr, j0 + nc - jq)
        base = q * kc * nr
        for j in range(n):
            src = (jq + j) * ld + k0
            for k in range(kc):
                dst[base + k * nr + j] = wf[src + k]
        for j in range(n, nr):
            for k in range(kc):
                dst[base + k * nr + j] = 0.0


def packed_a_size(m: int, k: int) -> int:
    """Elements of a full pre-packed A (M, K)."""
    return -(-m // MR) * MR * k


def packed_b_size(n: int, k: int, dtype: np.dtype | type) -> int:
    """Elements of a full pre-packed B (K, N) (or of ``pack_bt`` of an (N, K) weight) for ``dtype``."""
    nr = nr_of(dtype)
    return -(-n // nr) * nr * k


def pack_a(a: np.ndarray) -> np.ndarray:
    """Pre-pack a whole A (M, K) (e.g. a conv weight viewed as (O, C*kh*kw)): MR-row panels, k-major, zero padded.

    Plain numpy: done once per constant weight at graph-compile time, so it costs no JIT compile."""
    m, k = a.shape
    mp = -(-m // MR) * MR
    ap = np.zeros((mp, k), a.dtype)
    ap[:m] = a
    return np.ascontiguousarray(ap.reshape(mp // MR, MR, k).transpose(0, 2, 1)).reshape(-1)


def pack_b(b: np.ndarray) -> np.ndarray:
    """Pre-pack a whole B (K, N) for :func:`gemm_packed`: NR-column panels, k-major, zero padded (numpy)."""
    k, n = b.shape
    nr = nr_of(b.dtype)
    npad = -(-n // nr) * nr
    bp = np.zeros((k, npad), b.dtype)
    bp[:, :n] = b
    return np.ascontiguousarray(bp.reshape(k, npad // nr, nr).transpose(1, 0, 2)).reshape(-1)


def pack_bt(w: np.ndarray) -> np.ndarray:
    """Pre-pack ``w.T`` for ``w`` (N, K) -- a linear weight (out, in) -- for :func:`gemm_packed`."""
    return pack_b(np.asarray(w).T)


# --------------------------------------------------------------------------------------------- operand providers
# A provider returns (operand, offset of the first panel, panel stride) for A[ic:ic+mc, pc:pc+kc] (A is never packed
# per call: pre-packed weights, or read in place); a B provider the same for B[pc:pc+kc, jc:jc+nc] of batch item
# ``bi``, packing into the buffer it is given. Providers are passed as first-class functions so one driver
# serves plain, transposed, pre-packed and implicit-im2col operands.


@njit(inline="always")
def a_rows(a: np.ndarray) -> tuple:
    """Source for :func:`a_inplace`: A (M, K) flat with its gather tables -- row i of a block at offset i*K,
    column k at offset k."""
    m, k = a.shape
    return a.reshape(-1), np.arange(MC) * k, np.arange(k)


@njit
def a_inplace(src: tuple, ic: int, mc: int, pc: int, kc: int) -> tuple:
    """A read in place (no packing): the micro-kernel gathers each row's values (``simd.ukernel_gather``).
    Packing cost 14% of bert_tiny (M = 128 tokens, K = 128: each element is used for only N/NR tiles)."""
    return src, ic * src[2].size, 0


@njit
def a_packed(src: tuple, ic: int, mc: int, pc: int, kc: int) -> tuple:
    """``src = (packed, K, row0, offset)``: a full pre-pack of rows starting at C row ``row0`` (a conv group's
    first output channel), stored from flat element ``offset``."""
    ap, k, row0, off = src
    return ap, off + ((ic - row0) // MR) * k * MR + pc * MR, k * MR


@njit
def b_raw(src: np.ndarray, bi: int, pc: int, kc: int, jc: int, nc: int, buf: np.ndarray) -> tuple:
    pack_b_block(src, pc, kc, jc, nc, buf)
    return buf, 0, kc * tile_nr(buf)


@njit
def b_rawt(src: np.ndarray, bi: int, pc: int, kc: int, jc: int, nc: int, buf: np.ndarray) -> tuple:
    pack_bt_block(src, pc, kc, jc, nc, buf)
    return buf, 0, kc * tile_nr(buf)


@njit
def b_packed(src: tuple, bi: int, pc: int, kc: int, jc: int, nc: int, buf: np.ndarray) -> tuple:
    """``src = (packed, K)``."""
    bp, k = src
    nr = tile_nr(bp)
    return bp, (jc // nr) * k * nr + pc * nr, k * nr


# --------------------------------------------------------------------------------------------- driver


def _tile(kc, ap, aoff, aps, ir, pc, bp, b_at, c, c_at, ldc, load, mr, nr):  # noqa: ANN001, ANN202
    """Register tile at rows ``ir`` of the A block from ``a_get``: packed panels, or (a tuple from
    :func:`a_inplace`) A gathered in place."""


@overload(_tile, inline="always")
def _tile_impl(kc, ap, aoff, aps, ir, pc, bp, b_at, c, c_at, ldc, load, mr, nr):  # noqa: ANN001, ANN202
    if isinstance(ap, types.BaseTuple):
        def gather(kc, ap, aoff, aps, ir, pc, bp, b_at, c, c_at, ldc, load, mr, nr):  # noqa: ANN001, ANN202
            af, qoff, koff = ap
            ukernel_gather(kc, af, aoff, qoff, ir, koff, pc, bp, b_at, c, c_at, ldc, load, mr, nr)
        return gather

    if isinstance(bp, types.BaseTuple):
        def b_inplace(kc, ap, aoff, aps, ir, pc, bp, b_at, c, c_at, ldc, load, mr, nr):  # noqa: ANN001, ANN202
            xf, koff = bp
            ukernel_off(kc, ap, aoff + (ir // MR) * aps, xf, b_at, koff, pc, c, c_at, ldc, load, mr, nr)
        return b_inplace

    def packed(kc, ap, aoff, aps, ir, pc, bp, b_at, c, c_at, ldc, load, mr, nr):  # noqa: ANN001, ANN202
        ukernel(kc, ap, aoff + (ir // MR) * aps, bp, b_at, c, c_at, ldc, load, mr, nr)
    return packed


@njit(inline="always")
def gemm_region(k: int, m0: int, m1: int, n0: int, n1: int, a_get, asrc, b_get, bsrc, c: np.ndarray,  # noqa: ANN001
                bi: int, accumulate: bool, epi, epi_args, bbuf: np.ndarray) -> None:
    """Serial blocked GEMM for ``c[m0:m1, n0:n1]`` (2-D C-contiguous) of batch item ``bi``.

    ``m0`` must be a multiple of MR when A is pre-packed and ``n0`` a multiple of NR when B is pre-packed.
    """
    nr = tile_nr(c)
    ldc = c.shape[1]
    if m1 <= m0 or n1 <= n0:
        return
    if k == 0:
        if not accumulate:
            for i in range(m0, m1):
                c[i, n0:n1] = 0.0
        epi(c, bi, m0, m1, n0, n1, epi_args)
        return
    # K slices of near-equal length <= KC (576 -> one slice, 784 -> 2 x 392, 4608 -> 8 x 576)
    kstep = (k + (k + KC - 1) // KC - 1) // ((k + KC - 1) // KC)
    for jc in range(n0, n1, NC):
        nc = min(NC, n1 - jc)
        for mb in range(m0, m1, MB):
            mb1 = min(mb + MB, m1)
            for pc in range(0, k, kstep):
                kc = min(kstep, k - pc)
                last = pc + kc >= k
                load = accumulate or pc > 0
                bp, boff, bps = b_get(bsrc, bi, pc, kc, jc, nc, bbuf)
                for ic in range(mb, mb1, MC):
                    mc = min(MC, mb1 - ic)
                    ap, aoff, aps = a_get(asrc, ic, mc, pc, kc)
                    for jr in range(0, nc, nr):  # B micro-panel reused down the MC rows, A block from L2
                        b_at = boff + (jr // nr) * bps
                        c_at = ic * ldc + jc + jr
                        nrr = min(nr, nc - jr)
                        for ir in range(0, mc, MR):
                            _tile(kc, ap, aoff, aps, ir, pc, bp, b_at, c, c_at + ir * ldc, ldc, load,
                                  min(MR, mc - ir), nrr)
                    if last:
                        epi(c, bi, ic, ic + mc, jc, jc + nc, epi_args)


@njit(inline="always")
def _split(total: int, parts: int, part: int, align: int) -> tuple:
    """Part ``part`` of ``[0, total)`` cut into ``parts`` near-equal pieces on multiples of ``align``."""
    units = (total + align - 1) // align
    lo = (units * part) // parts
    hi = (units * (part + 1)) // parts
    return min(lo * align, total), min(hi * align, total)


@njit(inline="always")
def thread_work(t: int, nt: int, nb: int, m: int, n: int, k: int, a_get, asrc, b_get, bsrc,  # noqa: ANN001
                out: np.ndarray, accumulate: bool, epi, epi_args) -> None:
    """Share ``t`` of ``nt`` of ``out[bi] (+)= A @ B_bi`` + epilogue over all batch items ``bi``.

    Splits the batch when it is large, else a stripe of N (NR-aligned), or of M when N is narrow.
    """
    nr = tile_nr(out)
    bbuf = np.empty(KC * ((NC + nr - 1) // nr) * nr, out.dtype)
    b0, b1, m0, m1, n0, n1 = 0, nb, 0, m, 0, n
    if nt > 1:
        if nb >= nt and (nb % nt == 0 or nb >= 4 * nt):
            b0, b1 = _split(nb, nt, t, 1)
        elif n >= nt * nr or n >= m:
            n0, n1 = _split(n, nt, t, nr)
        else:
            m0, m1 = _split(m, nt, t, MR)
    for bi in range(b0, b1):
        gemm_region(k, m0, m1, n0, n1, a_get, asrc, b_get, bsrc, out[bi], bi, accumulate, epi, epi_args, bbuf)


# numba.get_num_threads() calls through a ctypes pointer, a "dynamic global" that makes the caller uncacheable;
# this intrinsic calls the threading layer's registered symbol instead (registered by _launch_threads).
_nb_parallel._launch_threads()
num_threads = _nb_parallel._iget_num_threads


@njit(inline="always")
def threads_for(flops: float) -> int:
    """Threads to use for a call of ``flops`` (1 below ``PAR_MIN_FLOPS``; numba.set_num_threads applies)."""
    return num_threads() if flops >= PAR_MIN_FLOPS else 1


# --------------------------------------------------------------------------------------------- public API
# *_std entry points run their body in a disk-cached C worker (see launch.py): they compile in a fraction of a
# second once the worker exists, and a caller links only this small function, not the kernel.


def _generic_body(a_get, b_get):  # noqa: ANN001, ANN202
    """``body_for(epi)`` for make_generic_runner: jobs are (a, b_source, out, epi_args)."""

    def body_for(epi):  # noqa: ANN001, ANN202
        @njit(inline="always")
        def body(t, nt, job):  # noqa: ANN001, ANN202
            a, bsrc, out, epi_args = job
            thread_work(t, nt, 1, a.shape[0], out.shape[2], a.shape[1], a_get, a_rows(a), b_get, bsrc, out, False,
                        epi, epi_args)

        return body

    return body_for


_run_gemm = make_generic_runner("gemm", _generic_body(a_inplace, b_raw))
_run_gemm_bt = make_generic_runner("gemm_bt", _generic_body(a_inplace, b_rawt))
_run_gemm_packed = make_generic_runner("gemm_packed", _generic_body(a_inplace, b_packed))


@njit
def gemm(a: np.ndarray, b: np.ndarray, c: np.ndarray, epi, epi_args) -> None:  # noqa: ANN001
    """``c[:] = epi(a @ b)``; a (M, K), b (K, N), c (M, N), C-contiguous, one float dtype; ``epi`` any @njit
    epilogue (see epilogue.py), compiled into its own worker on first use."""
    m, k = a.shape
    n = b.shape[1]
    _run_gemm(threads_for(2.0 * m * n * k), (a, b, c.reshape(1, m, n), epi_args), epi)


@njit(inline="always")
def _body_gemm_std(t: int, nt: int, job: tuple) -> None:
    a, b, out, epi_args = job
    thread_work(t, nt, 1, a.shape[0], out.shape[2], a.shape[1], a_inplace, a_rows(a), b_raw, b, out, False,
                epi_std, epi_args)


_run_gemm_std = make_runner("gemm_std", _body_gemm_std)


@njit
def gemm_std(a: np.ndarray, b: np.ndarray, c: np.ndarray, epi_args: tuple) -> None:
    """:func:`gemm` with the standard epilogue (``epi_args`` from ``std_args``; bias_axis 1 = per column)."""
    m, k = a.shape
    n = b.shape[1]
    _run_gemm_std(threads_for(2.0 * m * n * k), (a, b, c.reshape(1, m, n), epi_args))


@njit
def gemm_bt(a: np.ndarray, w: np.ndarray, c: np.ndarray, epi, epi_args) -> None:  # noqa: ANN001
    """``c[:] = epi(a @ w.T)``; a (M, K), w (N, K) (a linear weight), c (M, N)."""
    m, k = a.shape
    n = w.shape[0]
    _run_gemm_bt(threads_for(2.0 * m * n * k), (a, w, c.reshape(1, m, n), epi_args), epi)


@njit(inline="always")
def _body_gemm_bt_std(t: int, nt: int, job: tuple) -> None:
    a, w, out, epi_args = job
    thread_work(t, nt, 1, a.shape[0], out.shape[2], a.shape[1], a_inplace, a_rows(a), b_rawt, w, out, False,
                epi_std, epi_args)


_run_gemm_bt_std = make_runner("gemm_bt_std", _body_gemm_bt_std)


@njit
def gemm_bt_std(a: np.ndarray, w: np.ndarray, c: np.ndarray, epi_args: tuple) -> None:
    """:func:`gemm_bt` with the standard epilogue."""
    m, k = a.shape
    n = w.shape[0]
    _run_gemm_bt_std(threads_for(2.0 * m * n * k), (a, w, c.reshape(1, m, n), epi_args))


@njit
def gemm_packed(a: np.ndarray, bp: np.ndarray, c: np.ndarray, epi, epi_args) -> None:  # noqa: ANN001
    """``c[:] = epi(a @ B)`` with ``bp = pack_b(B)`` or ``pack_bt(W)`` (B = W.T); N is ``c.shape[1]``."""
    m, k = a.shape
    n = c.shape[1]
    _run_gemm_packed(threads_for(2.0 * m * n * k), (a, (bp, k), c.reshape(1, m, n), epi_args), epi)


@njit(inline="always")
def _body_gemm_packed_std(t: int, nt: int, job: tuple) -> None:
    a, bp, out, epi_args = job
    k = a.shape[1]
    thread_work(t, nt, 1, a.shape[0], out.shape[2], k, a_inplace, a_rows(a), b_packed, (bp, k), out, False,
                epi_std, epi_args)


_run_gemm_packed_std = make_runner("gemm_packed_std", _body_gemm_packed_std)


@njit
def gemm_packed_std(a: np.ndarray, bp: np.ndarray, c: np.ndarray, epi_args: tuple) -> None:
    """:func:`gemm_packed` with the standard epilogue."""
    m, k = a.shape
    n = c.shape[1]
    _run_gemm_packed_std(threads_for(2.0 * m * n * k), (a, bp, c.reshape(1, m, n), epi_args))
