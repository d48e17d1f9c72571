"""Kernels for sequence ops (lowered by ``lower_sequence.py``): batched strided matrix products (matmul, einsum,
attention_context), fused attention (scaled_dot_product_attention, attention_weights) and the recurrences
(rnn/lstm/gru layers and cells).

All heavy arithmetic goes through the project's GEMM register tile (``kernels/simd.ukernel``) straight from strided
arena views (so transposed/sliced/broadcast operands need no copy): B operands are packed here, A operands read
in place through row/column offset tables (``simd.ukernel_gather``); the block sizes are those of
``kernels/gemm.py``. The ``kernels/gemm.py`` drivers take C-contiguous 2-D operands with one A per call, which
does not cover per-item batched A/B with broadcast strides, so the (small) blocked driver is here.

* ``bmm``        C[b] = A[b] @ B[b] over up to 4 broadcast batch dims (element strides, 0 = broadcast; an optional
                 divisor on the last batch dim of B for grouped-query attention). Threads split the batch, else
                 rows/columns of each item.
* ``attention``  per (batch, head) item and block of NR queries: S^T = K Q^T (K read in place as the A operand,
                 the query block as one B panel), a softmax over the keys vectorized across the NR
                 queries, O^T = V^T E^T with the exponentials E^T already in B-panel layout, normalized in the
                 one transposed store. Same semantics as the numpy reference: scale, float/bool/causal masks,
                 fully masked rows -> 0 ('zero') or NaN ('nan'), non-finite row maxima, NaN scores.
* ``recurrent``  the whole loop over time of rnn/lstm/gru in one call: per step h_{t-1} @ W_hh^T with W_hh packed
                 gate-blocked (the NR-wide panels of all gates of NR hidden units together), so one task computes
                 every gate of its hidden units in a register-tile pass and applies the cell math right away;
                 h is kept in the packed A layout for the next step. Threads take groups of batch rows for the
                 whole sequence (no synchronization) or split every step's hidden blocks (each keeps its share of
                 W_hh in its own cache).

float32 gate/softmax math is explicit SIMD with exp/sigmoid/tanh polynomials (a few ulp; exact 0 for exp(-inf),
NaN/inf propagate like numpy); float64 uses libm scalars with the reference's formulas.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from .kernels.gemm import KC, MC, NC, num_threads
from .kernels.launch import standalone
from .kernels.simd import (MR, NV, Vec, nr_of, ukernel, ukernel_gather, vadd, vload, vload_n, vmax, vmul, vsplat,
                           vstore, vstore_n, vsub, width_of)

assert NV == 2, "the vector code below unrolls the two vectors of an NR-wide tile row"

_PFLAGS = dict(cache=True, nogil=True, error_model="numpy", parallel=True)
_HELPER = dict(nogil=True, error_model="numpy")


MODE_RNN_TANH, MODE_RNN_RELU, MODE_LSTM, MODE_GRU = 0, 1, 2, 3
ATT_CONTEXT, ATT_WEIGHTS_ZERO, ATT_WEIGHTS_NAN = 0, 1, 2
MASK_NONE, MASK_BOOL, MASK_FLOAT = 0, 1, 2


# --------------------------------------------------------------------------------------------- dtype constants
def _nr(a):  # noqa: ANN001, ANN202
    pass


@overload(_nr)
def _ov_nr(a):  # noqa: ANN001, ANN202
    n = nr_of(a.dtype)
    return lambda a: n


def _vw(a):  # noqa: ANN001, ANN202
    pass


@overload(_vw)
def _ov_vw(a):  # noqa: ANN001, ANN202
    n = width_of(a.dtype)
    return lambda a: n


# --------------------------------------------------------------------------------------------- vector math (IR)
# Lane-wise float32 functions emitted once per module as internal LLVM functions (cheap to compile, unlike the
# same math as many small Numba functions). Semantics follow the numpy references: exp(-inf) = 0, overflow -> inf,
# NaN -> NaN (results below ~1.2e-38 flush to 0); a few ulp of error.

def _vconst(vty, x):  # noqa: ANN001, ANN202
    return ir.Constant(vty, [ir.Constant(vty.element, float(x))] * vty.count)


def _vcall(b, name, vty, *args):  # noqa: ANN001, ANN202
    sfx = f"v{vty.count}{'f32' if vty.element == ir.FloatType() else 'f64'}"
    fn = cgutils.get_or_insert_function(b.module, ir.FunctionType(vty, [vty] * len(args)), f"llvm.{name}.{sfx}")
    return b.call(fn, list(args))


def _sel_lt(b, a, c, x, y):  # noqa: ANN001, ANN202
    return b.select(b.fcmp_ordered("<", a, c), x, y)


def _ir_exp(b, vty, x):  # noqa: ANN001, ANN202
    lo, hi = -87.33654, 88.72283
    xc = _vcall(b, "minnum", vty, _vcall(b, "maxnum", vty, x, _vconst(vty, lo)), _vconst(vty, hi))
    n = _vcall(b, "floor", vty, _vcall(b, "fma", vty, xc, _vconst(vty, 1.44269504088896341), _vconst(vty, 0.5)))
    r = _vcall(b, "fma", vty, n, _vconst(vty, -0.693359375), xc)
    r = _vcall(b, "fma", vty, n, _vconst(vty, 2.12194440e-4), r)
    p = _vconst(vty, 1.9875691500e-4)
    for c in (1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1):
        p = _vcall(b, "fma", vty, p, r, _vconst(vty, c))
    p = b.fadd(_vcall(b, "fma", vty, p, b.fmul(r, r), r), _vconst(vty, 1.0))
    half = _vcall(b, "floor", vty, b.fmul(n, _vconst(vty, 0.5)))
    y = _ir_ldexp(b, vty, _ir_ldexp(b, vty, p, half), b.fsub(n, half))
    y = b.fadd(y, b.fmul(b.fsub(x, xc), _vconst(vty, 0.0)))  # NaN in -> NaN out (the clamps drop NaN)
    y = _sel_lt(b, x, _vconst(vty, lo), _vconst(vty, 0.0), y)
    return _sel_lt(b, _vconst(vty, hi), x, _vconst(vty, np.inf), y)


def _ir_ldexp(b, vty, x, n):  # noqa: ANN001, ANN202
    ity = ir.VectorType(ir.IntType(32), vty.count)
    ni = b.add(b.fptosi(n, ity), ir.Constant(ity, [ir.Constant(ir.IntType(32), 127)] * vty.count))
    bits = b.shl(ni, ir.Constant(ity, [ir.Constant(ir.IntType(32), 23)] * vty.count))
    return b.fmul(x, b.bitcast(bits, vty))


def _ir_sigmoid(b, vty, x):  # noqa: ANN001, ANN202
    """The reference's overflow-free logistic: e = exp(-|x|), r = 1/(1+e), x >= 0 ? r : e*r."""
    e = _ir_exp(b, vty, b.fsub(_vconst(vty, 0.0), _vcall(b, "fabs", vty, x)))
    r = b.fdiv(_vconst(vty, 1.0), b.fadd(_vconst(vty, 1.0), e))
    return _sel_lt(b, x, _vconst(vty, 0.0), b.fmul(e, r), r)


def _ir_tanh(b, vty, x):  # noqa: ANN001, ANN202
    """Cephes tanhf: odd polynomial for |x| < 0.625, 1 - 2/(exp(2|x|)+1) otherwise (NaN propagates)."""
    ax = _vcall(b, "fabs", vty, x)
    z = b.fmul(x, x)
    p = _vconst(vty, -5.70498872745e-3)
    for c in (2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1):
        p = _vcall(b, "fma", vty, p, z, _vconst(vty, c))
    small = _vcall(b, "fma", vty, b.fmul(p, z), x, x)
    e = _ir_exp(b, vty, b.fadd(ax, ax))
    big = b.fsub(_vconst(vty, 1.0), b.fdiv(_vconst(vty, 2.0), b.fadd(e, _vconst(vty, 1.0))))
    return _sel_lt(b, ax, _vconst(vty, 0.625), small, _vcall(b, "copysign", vty, big, x))


def _ir_relu(b, vty, x):  # noqa: ANN001, ANN202
    return _sel_lt(b, x, _vconst(vty, 0.0), _vconst(vty, 0.0), x)  # NaN stays NaN (np.maximum)


def _ir_finite_or_zero(b, vty, x):  # noqa: ANN001, ANN202
    return _sel_lt(b, _vcall(b, "fabs", vty, x), _vconst(vty, np.inf), x, _vconst(vty, 0.0))


def _unary(name, build, f32_only=True):  # noqa: ANN001, ANN202
    @intrinsic
    def _impl(typingctx, x):  # noqa: ANN001, ANN202
        if not isinstance(x, Vec) or (f32_only and x.dtype != types.float32):
            return None

        def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
            vty = args[0].type
            fname = f"nngraph_seq_{name}_v{vty.count}{'f32' if vty.element == ir.FloatType() else 'f64'}"
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty]), fname)
            if fn.is_declaration:
                fn.linkage = "internal"
                bb = ir.IRBuilder(fn.append_basic_block("entry"))
                bb.ret(build(bb, vty, fn.args[0]))
            return builder.call(fn, [args[0]])

        return x(x), codegen

    _impl.__name__ = f"v_{name}"
    return _impl


v_exp = _unary("exp", _ir_exp)
v_sigmoid = _unary("sigmoid", _ir_sigmoid)
v_tanh = _unary("tanh", _ir_tanh)
v_relu = _unary("relu", _ir_relu, f32_only=False)
v_finite_or_zero = _unary("finite_or_zero", _ir_finite_or_zero, f32_only=False)


@njit(inline="always")
def _ld(a, i, n, w):  # noqa: ANN001, ANN201
    return vload(a, i) if n >= w else vload_n(a, i, n)


@njit(inline="always")
def _st(a, i, v, n, w):  # noqa: ANN001, ANN201
    if n >= w:
        vstore(a, i, v)
    else:
        vstore_n(a, i, v, n)


@njit(inline="always")
def _xg(xa, xr, g, H, u, bxa, bxo, has_bx):  # noqa: ANN001, ANN201, N803
    v = xa[xr + g * H + u]
    if has_bx:
        v = v + bxa[bxo + g * H + u]
    return v


@njit(inline="always")
def _hg(tile, tr, g, nr, j, ba, bo, has_b, H, u):  # noqa: ANN001, ANN201, N803
    v = tile[tr + g * nr + j]
    if has_b:
        v = v + ba[bo + g * H + u]
    return v


@njit(inline="always")
def _sigmoid(x):  # noqa: ANN001, ANN201
    e = math.exp(-abs(x))
    r = 1.0 / (1.0 + e)
    return r if x >= 0 else e * r


# --------------------------------------------------------------------------------------------- packing
@njit(**_HELPER)
def pack_b(src, off, rs, cs, k0, kc, j0, nc, dst, doff):  # noqa: ANN001, ANN201
    """B[k0:k0+kc, j0:j0+nc] (element (k, j) at ``off + k*rs + j*cs``) -> NR-column panels (zero padded) at
    ``dst[doff:]``: element (k, j) of panel q at ``q*kc*NR + k*NR + j``."""
    nr = _nr(dst)
    w = _vw(dst)
    for q in range((nc + nr - 1) // nr):
        jq = j0 + q * nr
        n = min(nr, j0 + nc - jq)
        base = doff + q * kc * nr
        if cs == 1:  # rows of the panel are contiguous: two (masked) vector copies per k
            c0 = min(n, w)
            c1 = n - c0
            for k in range(kc):
                s = off + (k0 + k) * rs + jq
                d = base + k * nr
                vstore(dst, d, _ld(src, s, c0, w))
                vstore(dst, d + w, vload_n(src, s + w, c1) if c1 < w else vload(src, s + w))
        elif rs == 1:  # columns contiguous in the source (a transposed view): read along k
            for j in range(n):
                s = off + k0 + (jq + j) * cs
                for k in range(kc):
                    dst[base + k * nr + j] = src[s + k]
            for j in range(n, nr):
                for k in range(kc):
                    dst[base + k * nr + j] = 0.0
        else:
            for k in range(kc):
                s = off + (k0 + k) * rs + jq * cs
                d = base + k * nr
                for j in range(n):
                    dst[d + j] = src[s + j * cs]
                for j in range(n, nr):
                    dst[d + j] = 0.0


# --------------------------------------------------------------------------------------------- batched GEMM
@njit(**_HELPER)
def mm_region(k, m0, m1, n0, n1, a, ao, ars, acs, b, bo, brs, bcs, c, co, ldc, arow, acol, bbuf):  # noqa: ANN001, ANN201
    """C[m0:m1, n0:n1] = A[m0:m1, :] @ B[:, n0:n1] (C element (i, j) at ``co + i*ldc + j``), blocked like
    kernels/gemm.py (NC columns x KC depth of B packed, register tiles of MR x NR reading A in place through the
    tables ``arow`` = arange(MC) * ars and ``acol`` = arange(k) * acs)."""
    nr = _nr(c)
    if m1 <= m0 or n1 <= n0:
        return
    if k == 0:
        for i in range(m0, m1):
            for j in range(n0, n1):
                c[co + i * ldc + j] = 0.0
        return
    for jc in range(n0, n1, NC):
        nc = min(NC, n1 - jc)
        for pc in range(0, k, KC):
            kc = min(KC, k - pc)
            load = pc > 0
            pack_b(b, bo, brs, bcs, pc, kc, jc, nc, bbuf, 0)
            for ic in range(m0, m1, MC):
                mc = min(MC, m1 - ic)
                for i_r in range(0, mc, MR):
                    mr = min(MR, mc - i_r)
                    ct = co + (ic + i_r) * ldc + jc
                    for jr in range(0, nc, nr):
                        ukernel_gather(kc, a, ao + ic * ars, arow, i_r, acol, pc, bbuf, (jr // nr) * kc * nr, c,
                                       ct + jr, ldc, load, mr, min(nr, nc - jr))


@njit(inline="always")
def _split(total, parts, part, align):  # noqa: ANN001, ANN201
    units = (total + align - 1) // align
    lo = (units * part) // parts
    hi = (units * (part + 1)) // parts
    return min(lo * align, total), min(hi * align, total)


@njit(inline="always")
def _item_offset(b, shape, st, group):  # noqa: ANN001, ANN201
    """Element offset of flat batch item ``b`` over 4 batch dims with strides ``st`` (last index // group)."""
    i3 = b % shape[3]
    b //= shape[3]
    i2 = b % shape[2]
    b //= shape[2]
    i1 = b % shape[1]
    i0 = b // shape[1]
    return i0 * st[0] + i1 * st[1] + i2 * st[2] + (i3 // group) * st[3]


@njit(**_HELPER)
def _bmm_tasks(t0, t1, mparts, nparts, bshape, m, n, k, aa, ao, ast, ars, acs, ba, bo, bst, brs,  # noqa: ANN001, ANN201
               bcs, bgroup, oa, oo):
    if t1 <= t0:
        return
    nr = _nr(oa)
    kb = max(min(KC, k), 1)
    arow, acol = np.arange(MC) * ars, np.arange(k) * acs
    bbuf = np.empty(kb * ((min(NC, n) + nr - 1) // nr) * nr, oa.dtype)
    per = mparts * nparts
    for task in range(t0, t1):
        item = task // per
        r = task % per
        m0, m1 = _split(m, mparts, r // nparts, MR)
        n0, n1 = _split(n, nparts, r % nparts, nr)
        a_off = ao + _item_offset(item, bshape, ast, 1)
        b_off = bo + _item_offset(item, bshape, bst, bgroup)
        mm_region(k, m0, m1, n0, n1, aa, a_off, ars, acs, ba, b_off, brs, bcs, oa, oo + item * m * n, n, arow, acol,
                  bbuf)


@njit(**_PFLAGS)
def bmm(bshape, m, n, k, aa, ao, ast, ars, acs, ba, bo, bst, brs, bcs, bgroup, oa, oo, par):  # noqa: ANN001, ANN201
    """out[b] (dense (nb, m, n) at ``oo``) = A[b] @ B[b]; A[b] element (i, kk) at ``ao + off_b + i*ars + kk*acs``
    with ``off_b`` from the 4 batch strides ``ast`` (0 = broadcast), same for B with ``bst`` (last batch index
    divided by ``bgroup``: grouped-query attention)."""
    nb = bshape[0] * bshape[1] * bshape[2] * bshape[3]
    if nb == 0 or m == 0 or n == 0:
        return
    nr = _nr(oa)
    nt = num_threads() if par else 1
    mparts, nparts = 1, 1
    if nb < nt:
        parts = (nt + nb - 1) // nb
        if n >= nt * nr or n >= m:
            nparts = min(parts, (n + nr - 1) // nr)
        else:
            mparts = min(parts, (m + MR - 1) // MR)
    ntask = nb * mparts * nparts
    if nt > 1 and ntask > 1:
        for t in prange(nt):
            _bmm_tasks((ntask * t) // nt, (ntask * (t + 1)) // nt, mparts, nparts, bshape, m, n, k, aa, ao, ast, ars,
                       acs, ba, bo, bst, brs, bcs, bgroup, oa, oo)
    else:
        _bmm_tasks(0, ntask, mparts, nparts, bshape, m, n, k, aa, ao, ast, ars, acs, ba, bo, bst, brs, bcs, bgroup,
                   oa, oo)


# --------------------------------------------------------------------------------------------- attention
def _cast_like(x, arr):  # noqa: ANN001, ANN202
    pass


@overload(_cast_like)
def _ov_cast_like(x, arr):  # noqa: ANN001, ANN202
    dt = arr.dtype
    return lambda x, arr: dt(x)


def _exp_rows(st, et, s, mfa, tot):  # noqa: ANN001, ANN202
    pass


@overload(_exp_rows)
def _ov_exp_rows(st, et, s, mfa, tot):  # noqa: ANN001, ANN202
    """e = exp(score - mf[lane]) for ``s`` rows of an NR-lane tile; tot[lane] = sum of e over the rows."""
    if st.dtype == types.float32:
        def impl(st, et, s, mfa, tot):  # noqa: ANN001, ANN202
            w = _vw(st)
            m0 = vload(mfa, 0)
            m1 = vload(mfa, w)
            t0 = vsplat(np.float32(0.0))
            t1 = vsplat(np.float32(0.0))
            nr = 2 * w
            for k in range(s):
                e0 = v_exp(vsub(vload(st, k * nr), m0))
                e1 = v_exp(vsub(vload(st, k * nr + w), m1))
                vstore(et, k * nr, e0)
                vstore(et, k * nr + w, e1)
                t0 = vadd(t0, e0)
                t1 = vadd(t1, e1)
            vstore(tot, 0, t0)
            vstore(tot, w, t1)
        return impl

    def impl(st, et, s, mfa, tot):  # noqa: ANN001, ANN202
        nr = _nr(st)
        for q in range(nr):
            tot[q] = 0.0
        for k in range(s):
            for q in range(nr):
                e = math.exp(st[k * nr + q] - mfa[q])
                et[k * nr + q] = e
                tot[q] += e
    return impl


@njit(**_HELPER)
def _attn_block(mode, l, q0, nq, lshape, L, S, E, Ev, qa, qo, qst, qrs, qcs, fma, bma, mo, mst,  # noqa: ANN001, ANN201
                mrs, mcs, mkind, causal, scale, oa, oo, ost, ors, ocs, ka, kb, krow, kcol, va, vb, vrow, vcol, qp, st,
                et, ot, mfa, tot):
    """One block of ``nq`` <= NR queries of lead item ``l``. K and V^T are the register tile's A operands, read in
    place (``simd.ukernel_gather``): K element (s, e) at ``ka[kb + krow[s] + kcol[e]]``, V^T (e, s) at
    ``va[vb + vrow[e] + vcol[s]]``."""
    nr = _nr(st)
    w = _vw(st)
    ninf = _cast_like(-np.inf, st)
    # S^T (keys x queries) = K Q^T
    pack_b(qa, qo + _item_offset(l, lshape, qst, 1) + q0 * qrs, qcs, qrs, 0, E, 0, nq, qp, 0)
    for p in range((S + MR - 1) // MR):
        ukernel_gather(E, ka, kb, krow, p * MR, kcol, 0, qp, 0, st, p * MR * nr, nr, False, min(MR, S - p * MR), nr)
    # scale and masks
    sc = _cast_like(scale, st)
    scv = vsplat(sc)
    m_lead = mo + _item_offset(l, lshape, mst, 1)
    mx0 = vsplat(ninf)
    mx1 = mx0
    for k in range(S):
        row = k * nr
        if mkind == MASK_NONE or mrs == 0:
            x0 = vmul(vload(st, row), scv)
            x1 = vmul(vload(st, row + w), scv)
            if mkind == MASK_FLOAT:
                mv = vsplat(fma[m_lead + k * mcs])
                x0 = vadd(x0, mv)
                x1 = vadd(x1, mv)
            elif mkind == MASK_BOOL and not bma[m_lead + k * mcs]:
                x0 = vsplat(ninf)
                x1 = x0
            vstore(st, row, x0)
            vstore(st, row + w, x1)
            mx0 = vmax(mx0, x0)
            mx1 = vmax(mx1, x1)
        else:
            for q in range(nq):
                x = st[row + q] * sc
                mi = m_lead + (q0 + q) * mrs + k * mcs
                if mkind == MASK_FLOAT:
                    x = x + fma[mi]
                elif not bma[mi]:
                    x = ninf
                st[row + q] = x
        if causal:  # query q0+q sees keys <= q0+q
            for q in range(max(0, min(nq, k - q0))):
                st[row + q] = ninf
    if causal or not (mkind == MASK_NONE or mrs == 0):  # the row maxima after every mask
        mx0 = vsplat(ninf)
        mx1 = mx0
        for k in range(S):
            mx0 = vmax(mx0, vload(st, k * nr))
            mx1 = vmax(mx1, vload(st, k * nr + w))
    # softmax over the keys, lane-wise: e = exp(s - max) (max 0 where it is not finite, as the reference)
    vstore(mfa, 0, v_finite_or_zero(mx0))
    vstore(mfa, w, v_finite_or_zero(mx1))
    _exp_rows(st, et, S, mfa, tot)
    for q in range(nq):
        t = tot[q]
        if t != t and mfa[q] != 0:  # NaN scores: the reference's max is NaN, so it subtracts 0
            t = 0.0
            for k in range(S):
                e = math.exp(st[k * nr + q])
                et[k * nr + q] = e
                t += e
            tot[q] = t
        if mode != ATT_WEIGHTS_NAN and not (tot[q] > 0):
            tot[q] = 1.0  # fully masked rows: zeros
    if mode == ATT_CONTEXT:
        # O^T (Ev x queries) = V^T E^T; E^T (unnormalized) is already a B panel
        for p in range((Ev + MR - 1) // MR):
            ukernel_gather(S, va, vb, vrow, p * MR, vcol, 0, et, 0, ot, p * MR * nr, nr, False, min(MR, Ev - p * MR),
                           nr)
        o_lead = oo + _item_offset(l, lshape, ost, 1)
        for q in range(nq):  # normalized here: (sum_k e_k v_k) / total
            o = o_lead + (q0 + q) * ors
            d = tot[q]
            for e in range(Ev):
                oa[o + e * ocs] = ot[e * nr + q] / d
    else:
        o_lead = oo + _item_offset(l, lshape, ost, 1)
        for q in range(nq):
            o = o_lead + (q0 + q) * ors
            d = tot[q]
            for k in range(S):
                oa[o + k * ocs] = et[k * nr + q] / d


@njit(**_HELPER)
def _attn_tasks(t0, t1, mode, lshape, L, S, E, Ev, qa, qo, qst, qrs, qcs, ka, ko, kst, krs, kcs,  # noqa: ANN001, ANN201
                kgroup, va, vo, vst, vrs, vcs, vgroup, fma, bma, mo, mst, mrs, mcs, mkind, causal, scale, oa, oo, ost,
                ors, ocs):
    if t1 <= t0:
        return
    nr = _nr(oa)
    dt = oa.dtype
    nqb = (L + nr - 1) // nr
    spad = (S + MR - 1) // MR * MR
    evpad = (Ev + MR - 1) // MR * MR
    krow, kcol = np.arange(S) * krs, np.arange(E) * kcs  # K (S x E) read in place: no packing
    vrow, vcol = np.arange(Ev) * vcs, np.arange(S) * vrs  # V^T (Ev x S)
    qp = np.empty(max(E * nr, 1), dt)
    st = np.empty(max(spad, 1) * nr, dt)
    et = np.empty(max(spad, 1) * nr, dt)
    ot = np.empty(max(evpad, 1) * nr, dt)
    mfa = np.empty(nr, dt)
    tot = np.empty(nr, dt)
    for task in range(t0, t1):
        l = task // nqb
        qb = task % nqb
        kb = ko + _item_offset(l, lshape, kst, kgroup)
        vb = vo + _item_offset(l, lshape, vst, vgroup)
        q0 = qb * nr
        _attn_block(mode, l, q0, min(nr, L - q0), lshape, L, S, E, Ev, qa, qo, qst, qrs, qcs, fma, bma, mo, mst, mrs,
                    mcs, mkind, causal, scale, oa, oo, ost, ors, ocs, ka, kb, krow, kcol, va, vb, vrow, vcol, qp, st,
                    et, ot, mfa, tot)


@standalone
@njit(**_PFLAGS)
def attention(mode, lshape, L, S, E, Ev, qa, qo, qst, qrs, qcs, ka, ko, kst, krs, kcs, kgroup,  # noqa: ANN001, ANN201
              va, vo, vst, vrs, vcs, vgroup, fma, bma, mo, mst, mrs, mcs, mkind, causal, scale, oa, oo, ost, ors, ocs,
              par):
    """softmax(Q K^T * scale + mask) [@ V] for every lead item (4 broadcast lead dims: strides per operand, the
    last one divided by ``kgroup``/``vgroup`` for grouped-query attention). ``mode``: ATT_CONTEXT writes the
    context (nl, L, Ev), ATT_WEIGHTS_* the probabilities (nl, L, S) with fully masked rows 0 or NaN. ``mkind``:
    no mask, a bool mask in ``bma`` (True = take part) or a float mask in ``fma`` (added; the output dtype),
    element (l, i, j) at ``mo + off_l + i*mrs + j*mcs`` (the other array is any placeholder of its type).
    ``causal``: query i sees keys j <= i. The output is strided like the operands: lead strides ``ost``, row stride
    ``ors``, column stride ``ocs`` (a transposed layout its user wants, ``Emitter.out_for_transpose``)."""
    nl = lshape[0] * lshape[1] * lshape[2] * lshape[3]
    if nl == 0 or L == 0 or (mode == ATT_CONTEXT and Ev == 0) or (mode != ATT_CONTEXT and S == 0):
        return
    nr = _nr(oa)
    ntask = nl * ((L + nr - 1) // nr)
    nt = num_threads() if par else 1
    if nt > 1 and ntask > 1:
        nt = min(nt, ntask)
        for t in prange(nt):
            _attn_tasks((ntask * t) // nt, (ntask * (t + 1)) // nt, mode, lshape, L, S, E, Ev, qa, qo, qst, qrs, qcs,
                        ka, ko, kst, krs, kcs, kgroup, va, vo, vst, vrs, vcs, vgroup, fma, bma, mo, mst, mrs, mcs,
                        mkind, causal, scale, oa, oo, ost, ors, ocs)
    else:
        _attn_tasks(0, ntask, mode, lshape, L, S, E, Ev, qa, qo, qst, qrs, qcs, ka, ko, kst, krs, kcs, kgroup, va, vo,
                    vst, vrs, vcs, vgroup, fma, bma, mo, mst, mrs, mcs, mkind, causal, scale, oa, oo, ost, ors, ocs)


# --------------------------------------------------------------------------------------------- recurrences
def _cell_math(mode, tile, toff, ldt, ng, mr, nrb, n0, u0, H, xa, xrow, G, bxa, bxo, has_bx, ba,  # noqa: ANN001, ANN202
               bo, has_b, ca, co, hp, hin, P):
    pass


@overload(_cell_math)
def _ov_cell_math(mode, tile, toff, ldt, ng, mr, nrb, n0, u0, H, xa, xrow, G, bxa, bxo, has_bx,  # noqa: ANN001, ANN202
                  ba, bo, has_b, ca, co, hp, hin, P):
    """Gate math of one tile: rows i < mr (batch rows n0 + i), hidden units u0 + j, j < nrb. Gate g's recurrent
    pre-activation sits at ``tile[toff + i*ldt + g*NR + j]``; the new hidden value (LSTM: before the projection)
    is written to slot ``ng``; LSTM cell states are updated in place in ``ca``. Follows the references' rounding:
    ``xw + (h W^T + b)``, cells ``(x W^T + b_ih) + (h W^T + b_hh)``."""
    if tile.dtype == types.float32:
        def impl(mode, tile, toff, ldt, ng, mr, nrb, n0, u0, H, xa, xrow, G, bxa, bxo, has_bx,  # noqa: ANN001, ANN202
                 ba, bo, has_b, ca, co, hp, hin, P):
            w = _vw(tile)
            nr = 2 * w
            for i in range(mr):
                n = n0 + i
                xr = xrow + i * G
                tr = toff + i * ldt
                for v in range(2):
                    j = v * w
                    cnt = min(w, nrb - j)
                    if cnt <= 0:
                        break
                    u = u0 + j
                    x0 = _ld(xa, xr + u, cnt, w)
                    h0 = vload(tile, tr + j)
                    if has_bx:
                        x0 = vadd(x0, _ld(bxa, bxo + u, cnt, w))
                    if has_b:
                        h0 = vadd(h0, _ld(ba, bo + u, cnt, w))
                    if mode == MODE_RNN_TANH:
                        res = v_tanh(vadd(x0, h0))
                    elif mode == MODE_RNN_RELU:
                        res = v_relu(vadd(x0, h0))
                    else:
                        x1 = _ld(xa, xr + H + u, cnt, w)
                        h1 = vload(tile, tr + nr + j)
                        x2 = _ld(xa, xr + 2 * H + u, cnt, w)
                        h2 = vload(tile, tr + 2 * nr + j)
                        if has_bx:
                            x1 = vadd(x1, _ld(bxa, bxo + H + u, cnt, w))
                            x2 = vadd(x2, _ld(bxa, bxo + 2 * H + u, cnt, w))
                        if has_b:
                            h1 = vadd(h1, _ld(ba, bo + H + u, cnt, w))
                            h2 = vadd(h2, _ld(ba, bo + 2 * H + u, cnt, w))
                        if mode == MODE_LSTM:
                            x3 = _ld(xa, xr + 3 * H + u, cnt, w)
                            h3 = vload(tile, tr + 3 * nr + j)
                            if has_bx:
                                x3 = vadd(x3, _ld(bxa, bxo + 3 * H + u, cnt, w))
                            if has_b:
                                h3 = vadd(h3, _ld(ba, bo + 3 * H + u, cnt, w))
                            ig = v_sigmoid(vadd(x0, h0))
                            fg = v_sigmoid(vadd(x1, h1))
                            gg = v_tanh(vadd(x2, h2))
                            og = v_sigmoid(vadd(x3, h3))
                            c = _ld(ca, co + n * H + u, cnt, w)
                            c = vadd(vmul(fg, c), vmul(ig, gg))
                            _st(ca, co + n * H + u, c, cnt, w)
                            res = vmul(og, v_tanh(c))
                        else:  # GRU: n + z * (h - n), h gathered from the packed state
                            r = v_sigmoid(vadd(x0, h0))
                            z = v_sigmoid(vadd(x1, h1))
                            nn = v_tanh(vadd(x2, vmul(r, h2)))
                            hb = hin + (n0 // MR) * P * MR + u * MR + i
                            for jj in range(cnt):
                                tile[tr + ng * nr + j + jj] = hp[hb + jj * MR]
                            res = vadd(nn, vmul(z, vsub(vload(tile, tr + ng * nr + j), nn)))
                    vstore(tile, tr + ng * nr + j, res)
        return impl

    def impl(mode, tile, toff, ldt, ng, mr, nrb, n0, u0, H, xa, xrow, G, bxa, bxo, has_bx, ba,  # noqa: ANN001, ANN202
             bo, has_b, ca, co, hp, hin, P):
        nr = _nr(tile)
        for i in range(mr):
            n = n0 + i
            xr = xrow + i * G
            tr = toff + i * ldt
            for j in range(nrb):
                u = u0 + j
                x0 = _xg(xa, xr, 0, H, u, bxa, bxo, has_bx)
                h0 = _hg(tile, tr, 0, nr, j, ba, bo, has_b, H, u)
                if mode == MODE_RNN_TANH:
                    res = math.tanh(x0 + h0)
                elif mode == MODE_RNN_RELU:
                    a = x0 + h0
                    res = a if not (a < 0) else 0.0 * a
                else:
                    x1 = _xg(xa, xr, 1, H, u, bxa, bxo, has_bx)
                    h1 = _hg(tile, tr, 1, nr, j, ba, bo, has_b, H, u)
                    x2 = _xg(xa, xr, 2, H, u, bxa, bxo, has_bx)
                    h2 = _hg(tile, tr, 2, nr, j, ba, bo, has_b, H, u)
                    if mode == MODE_LSTM:
                        x3 = _xg(xa, xr, 3, H, u, bxa, bxo, has_bx)
                        h3 = _hg(tile, tr, 3, nr, j, ba, bo, has_b, H, u)
                        c = ca[co + n * H + u]
                        c = _sigmoid(x1 + h1) * c + _sigmoid(x0 + h0) * math.tanh(x2 + h2)
                        ca[co + n * H + u] = c
                        res = _sigmoid(x3 + h3) * math.tanh(c)
                    else:
                        r = _sigmoid(x0 + h0)
                        z = _sigmoid(x1 + h1)
                        nn = math.tanh(x2 + r * h2)
                        h = hp[hin + (n0 // MR) * P * MR + u * MR + i]
                        res = nn + z * (h - nn)
                tile[tr + ng * nr + j] = res
    return impl


@njit(**_HELPER)
def _rec_phase(phase, t0, t1, p0, p1, step_s, mode, ng, N, H, P, xa, xo, bxa, bxo, has_bx, wp,  # noqa: ANN001, ANN201
               wpo, ba, bo, has_b, rp, rpo, has_r, ca, co, oa, oo, hp, hin, hout, mp, tile, toff):
    """Tasks [t0, t1) of one phase of time step ``step_s`` over row panels [p0, p1) (column-block major, so the
    row panels of a block reuse its weights from cache). Phase 0: every gate of NR hidden units (h W_hh^T tiles and
    the cell math); the new h goes to the packed state ``hp[hout:]`` and ``out`` (or, with a projection, to ``mp``).
    Phase 1: the projection h = m W_hr^T of NR output columns."""
    nr = _nr(tile)
    ldt = (ng + 1) * nr
    G = ng * H
    npp = p1 - p0
    for task in range(t0, t1):
        blk = task // npp
        p = p0 + task % npp
        n0 = p * MR
        mr = min(MR, N - n0)
        j0 = blk * nr
        if phase == 1:
            nrq = min(nr, P - j0)
            ukernel(H, mp, p * H * MR, rp, rpo + blk * H * nr, tile, toff, nr, False, mr, nr)
            for i in range(mr):
                dst = hout + p * P * MR + j0 * MR + i
                src = toff + i * nr
                o = oo + (step_s * N + n0 + i) * P + j0
                for j in range(nrq):
                    v = tile[src + j]
                    hp[dst + j * MR] = v
                    oa[o + j] = v
            continue
        nrb = min(nr, H - j0)
        for g in range(ng):
            ukernel(P, hp, hin + p * P * MR, wp, wpo + (blk * ng + g) * P * nr, tile, toff + g * nr, ldt, False, mr,
                    nr)
        _cell_math(mode, tile, toff, ldt, ng, mr, nrb, n0, j0, H, xa, xo + (step_s * N + n0) * G, G, bxa, bxo, has_bx,
                   ba, bo, has_b, ca, co, hp, hin, P)
        for i in range(mr):
            src = toff + i * ldt + ng * nr
            if has_r:
                dst = p * H * MR + j0 * MR + i
                for j in range(nrb):
                    mp[dst + j * MR] = tile[src + j]
            else:
                dst = hout + p * P * MR + j0 * MR + i
                for j in range(nrb):
                    hp[dst + j * MR] = tile[src + j]
                o = oo + (step_s * N + n0 + i) * P + j0
                for j in range(nrb):
                    oa[o + j] = tile[src + j]


SPLIT_NONE, SPLIT_BATCH, SPLIT_STEP = 0, 1, 2


@njit(**_HELPER)
def _rec_run(t, nt, split, it, T, reverse, mode, ng, N, H, P, xa, xo, bxa, bxo, has_bx, wp, wpo,  # noqa: ANN001, ANN201
             ba, bo, has_b, rp, rpo, has_r, ca, co, oa, oo, hp, mp, tiles):
    """Share ``t`` of ``nt``. SPLIT_NONE / SPLIT_BATCH: the whole recurrence of row panels (independent sequences)
    share ``t``, no synchronization. SPLIT_STEP: share ``t`` of the hidden blocks of step/phase ``it``."""
    nr = _nr(oa)
    npan = (N + MR - 1) // MR
    hps = npan * MR * P
    nphase = 2 if has_r else 1
    toff = t * MR * (ng + 1) * nr
    nblk = ((H + nr - 1) // nr, (P + nr - 1) // nr)
    if split == SPLIT_STEP:
        step = it // nphase
        phase = it % nphase
        s = T - 1 - step if reverse else step
        ntask = npan * nblk[phase]
        _rec_phase(phase, (ntask * t) // nt, (ntask * (t + 1)) // nt, 0, npan, s, mode, ng, N, H, P, xa, xo, bxa, bxo,
                   has_bx, wp, wpo, ba, bo, has_b, rp, rpo, has_r, ca, co, oa, oo, hp, (step % 2) * hps,
                   (1 - step % 2) * hps, mp, tiles, toff)
        return
    p0 = (npan * t) // nt
    p1 = (npan * (t + 1)) // nt
    for step in range(T):
        s = T - 1 - step if reverse else step
        for phase in range(nphase):
            _rec_phase(phase, 0, nblk[phase] * (p1 - p0), p0, p1, s, mode, ng, N, H, P, xa, xo, bxa, bxo, has_bx, wp,
                       wpo, ba, bo, has_b, rp, rpo, has_r, ca, co, oa, oo, hp, (step % 2) * hps, (1 - step % 2) * hps,
                       mp, tiles, toff)


@njit(**_HELPER)
def _pack_weight(wa, wo, packed, ng, rows, k):  # noqa: ANN001, ANN201
    """(array, offset) of the gate-blocked packed W^T of W (ng*rows, k) at ``wa[wo:]``: the region itself when
    ``packed``, else packed here into a new array (per call: weights that are not constants)."""
    if packed:
        return wa, wo
    nr = _nr(wa)
    nblk = (rows + nr - 1) // nr
    dst = np.empty(max(nblk * ng * k * nr, 1), wa.dtype)
    for blk in range(nblk):
        r0 = blk * nr
        for g in range(ng):
            pack_b(wa, wo, 1, k, 0, k, g * rows + r0, min(nr, rows - r0), dst, (blk * ng + g) * k * nr)
    return dst, 0


@standalone
@njit(**_PFLAGS)
def recurrent(mode, T, N, H, P, reverse, xa, xo, bxa, bxo, has_bx, wa, wo, w_packed, ba, bo,  # noqa: ANN001, ANN201
              has_b, ra, ro, r_packed, has_r, h0a, h0o, has_h0, c0a, c0o, has_c0, oa, oo, hta, hto, ca, co, split):
    """The whole recurrence of an rnn (tanh/relu), LSTM (optionally projected) or GRU layer.

    ``xw`` (T, N, ng*H) at ``xo`` (+ ``bx`` (ng*H,) when ``has_bx``: a cell's input bias); W_hh (ng*H, P) at
    ``wo``, pre-packed (``pack_gates_host``) when ``w_packed``; ``b`` (ng*H,) the recurrent bias; W_hr (P, H) at
    ``ro`` when ``has_r`` (LSTM projection); initial states h0 (N, P), c0 (N, H) or zeros. Writes out (T, N, P),
    h_T (N, P) and, for LSTM, c_T (N, H) at ``co`` (also the working cell state). ``reverse`` runs from the last
    step to the first. ``split``: SPLIT_BATCH runs groups of batch rows on the threads for the whole sequence
    (no synchronization), SPLIT_STEP splits every step's hidden units (one parallel region per step)."""
    ng = 4 if mode == MODE_LSTM else 3 if mode == MODE_GRU else 1
    nr = _nr(oa)
    npan = (N + MR - 1) // MR
    hps = npan * MR * P
    hp = np.empty(max(2 * hps, 1), oa.dtype)
    mp = np.empty(max(npan * MR * H, 1) if has_r else 1, oa.dtype)
    wp, wpo = _pack_weight(wa, wo, w_packed, ng, H, P)
    rp, rpo = _pack_weight(ra, ro, r_packed, 1, P, H) if has_r else (wp, wpo)
    for n in range(N):
        base = (n // MR) * P * MR + n % MR
        for k in range(P):
            hp[base + k * MR] = h0a[h0o + n * P + k] if has_h0 else 0.0
    if mode == MODE_LSTM:
        for e in range(N * H):
            ca[co + e] = c0a[c0o + e] if has_c0 else 0.0
    nphase = 2 if has_r else 1
    nt = num_threads() if split != SPLIT_NONE else 1
    if split == SPLIT_BATCH:
        nt = min(nt, npan)
    nt = max(nt, 1)
    tiles = np.empty(nt * MR * (ng + 1) * nr, oa.dtype)
    if nt > 1:
        for it in range(T * nphase if split == SPLIT_STEP else 1):
            for t in prange(nt):
                _rec_run(t, nt, split, it, T, reverse, mode, ng, N, H, P, xa, xo, bxa, bxo, has_bx, wp, wpo, ba, bo,
                         has_b, rp, rpo, has_r, ca, co, oa, oo, hp, mp, tiles)
    else:
        _rec_run(0, 1, SPLIT_NONE, 0, T, reverse, mode, ng, N, H, P, xa, xo, bxa, bxo, has_bx, wp, wpo, ba, bo, has_b,
                 rp, rpo, has_r, ca, co, oa, oo, hp, mp, tiles)
    cur = T % 2
    for n in range(N):
        base = cur * hps + (n // MR) * P * MR + n % MR
        for k in range(P):
            hta[hto + n * P + k] = hp[base + k * MR]


def packed_gates_size(ng: int, rows: int, k: int, dtype: np.dtype) -> int:
    nr = nr_of(dtype)
    return ((rows + nr - 1) // nr) * ng * k * nr


def pack_gates_host(w: np.ndarray, ng: int) -> np.ndarray:
    """numpy version of the in-kernel packing of W (ng*rows, k) (for weights packed once per weight change): the
    NR-wide panel of W^T for gate g and hidden block blk at ``(blk*ng + g)*k*NR``, zero padded."""
    w = np.asarray(w)
    rows, k = w.shape[0] // ng, w.shape[1]
    nr = nr_of(w.dtype)
    nblk = (rows + nr - 1) // nr
    wp = np.zeros((ng, nblk * nr, k), w.dtype)
    wp[:, :rows] = w.reshape(ng, rows, k)
    return np.ascontiguousarray(wp.reshape(ng, nblk, nr, k).transpose(1, 0, 3, 2)).reshape(-1)


# --------------------------------------------------------------------------------------------- attention helpers
@njit(cache=True, nogil=True, error_model="numpy")
def mean_axis1(n, h, inner, wa, wo, oa, oo):  # noqa: ANN001, ANN201
    """out (n, inner) = mean over axis 1 of w (n, h, inner), dense: numpy's order (first item, then += the others
    in axis order, then / h)."""
    for i in range(n):
        o = oo + i * inner
        src = wo + i * h * inner
        if h == 0:
            for j in range(inner):
                oa[o + j] = 0.0
        else:
            for j in range(inner):
                oa[o + j] = wa[src + j]
        for k in range(1, h):
            s = src + k * inner
            for j in range(inner):
                oa[o + j] += wa[s + j]
        d = _cast_like(h, oa)
        for j in range(inner):
            oa[o + j] = oa[o + j] / d


@njit(cache=True, nogil=True, error_model="numpy")
def mask_bias(n, ma, mo, oa, oo):  # noqa: ANN001, ANN201
    """out = -inf where the (dense, boolean) mask is True, else 0."""
    ninf = _cast_like(-np.inf, oa)
    zero = _cast_like(0.0, oa)
    for i in range(n):
        oa[oo + i] = ninf if ma[mo + i] else zero
