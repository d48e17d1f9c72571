"""Explicit SIMD for Numba: a vector value type, a few vector intrinsics, and the GEMM micro-kernel.

Everything here is emitted as LLVM IR through ``numba.extending.intrinsic`` so it is callable from any nopython
function and does not depend on the loop vectorizer (which Numba runs without SLP and without noalias facts).

Vector width follows the host: 16 x f32 / 8 x f64 with AVX-512F, 8 / 4 with AVX, else 4 / 2 (LLVM legalises the
generic vector IR to whatever the target has, so the same code is correct everywhere; only speed differs).
"""
from __future__ import annotations


import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

# --------------------------------------------------------------------------------------------- host features
_FEATURES = llvm.get_host_cpu_features()
HAS_AVX512 = bool(_FEATURES.get("avx512f", False))
HAS_AVX = bool(_FEATURES.get("avx", False))
HAS_FMA = bool(_FEATURES.get("fma", False))

#: Bytes per vector register: 64 (AVX-512), 32 (AVX/AVX2), 16 (SSE, NEON, ...).
VBYTES = 64 if HAS_AVX512 else 32 if HAS_AVX else 16
#: Number of vector registers the register tile may plan for.
NREGS = 32 if HAS_AVX512 else 16


def width_of(dtype: np.dtype | types.Type) -> int:
    """Lanes of one vector register for ``dtype`` (float32 or float64)."""
    name = str(dtype) if isinstance(dtype, types.Type) else np.dtype(dtype).name
    itemsize = 4 if name == "float32" else 8
    return VBYTES // itemsize


# GEMM register tile: MR rows x (NV vectors of W lanes) columns. Rows are broadcast from packed A, columns are
# loaded from packed B. MR*NV accumulators + NV B vectors + 1 broadcast must fit the register file.
if HAS_AVX512:
    MR, NV = 8, 2
elif HAS_AVX:
    MR, NV = 6, 2
else:
    MR, NV = 4, 2


def nr_of(dtype: np.dtype | types.Type) -> int:
    """Columns of the GEMM register tile for ``dtype``."""
    return NV * width_of(dtype)


# --------------------------------------------------------------------------------------------- vector type


class Vec(types.Type):
    """A SIMD register value: ``width`` lanes of ``dtype`` (an LLVM ``<width x T>``)."""

    def __init__(self, dtype: types.Float, width: int) -> None:
        self.dtype = dtype
        self.width = width
        super().__init__(name=f"Vec({dtype}x{width})")


@register_model(Vec)
class _VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):  # noqa: ANN001
        be_type = ir.VectorType(dmm.lookup(fe_type.dtype).get_value_type(), fe_type.width)
        super().__init__(dmm, fe_type, be_type)


def _vec_of(dtype: types.Type) -> Vec:
    return Vec(dtype, width_of(dtype))


def _data_ptr(context, builder, aryty, ary, idx):  # noqa: ANN001, ANN202
    """Pointer to element ``idx`` (a flat element offset from the array's data pointer)."""
    data = context.make_array(aryty)(context, builder, ary).data
    return builder.gep(data, [idx])


def _vptr(builder, ptr, vty):  # noqa: ANN001, ANN202
    return builder.bitcast(ptr, vty.as_pointer())


def _lane_mask(builder, n, width):  # noqa: ANN001, ANN202
    """<width x i1> with lanes [0, n) set."""
    lanes = ir.Constant(ir.VectorType(ir.IntType(64), width), [ir.Constant(ir.IntType(64), i) for i in range(width)])
    nv = builder.insert_element(ir.Constant(ir.VectorType(ir.IntType(64), width), ir.Undefined), n,
                                ir.Constant(ir.IntType(32), 0))
    nv = builder.shuffle_vector(nv, nv, ir.Constant(ir.VectorType(ir.IntType(32), width), [0] * width))
    return builder.icmp_signed("<", lanes, nv)


def _intrinsic_fn(builder, name, vty, nargs):  # noqa: ANN001, ANN202
    fnty = ir.FunctionType(vty, [vty] * nargs)
    return cgutils.get_or_insert_function(builder.module, fnty, name)


def _suffix(vty) -> str:  # noqa: ANN001
    el = "f32" if vty.element == ir.FloatType() else "f64"
    return f"v{vty.count}{el}"


def _splat(builder, x, vty):  # noqa: ANN001, ANN202
    v = builder.insert_element(ir.Constant(vty, ir.Undefined), x, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(ir.IntType(32), vty.count), [0] * vty.count))


def _masked_load_fn(module, vty):  # noqa: ANN001, ANN202
    """``llvm.masked.load`` for ``vty``: (pointer, alignment, lane mask, passthrough) -> vector."""
    sfx = _suffix(vty)
    fnty = ir.FunctionType(vty, [vty.as_pointer(), ir.IntType(32), ir.VectorType(ir.IntType(1), vty.count), vty])
    return cgutils.get_or_insert_function(module, fnty, f"llvm.masked.load.{sfx}.p0{sfx}")


def _masked_store_fn(module, vty):  # noqa: ANN001, ANN202
    """``llvm.masked.store`` for ``vty``: (vector, pointer, alignment, lane mask)."""
    sfx = _suffix(vty)
    fnty = ir.FunctionType(ir.VoidType(), [vty, vty.as_pointer(), ir.IntType(32), ir.VectorType(ir.IntType(1),
                                                                                               vty.count)])
    return cgutils.get_or_insert_function(module, fnty, f"llvm.masked.store.{sfx}.p0{sfx}")


# --------------------------------------------------------------------------------------------- intrinsics


@intrinsic
def vload(typingctx, ary, idx):  # noqa: ANN001, ANN201
    """Unaligned vector load of ``ary`` flat elements ``[idx, idx + W)`` (no bounds check)."""
    vt = _vec_of(ary.dtype)

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        ptr = _data_ptr(context, builder, sig.args[0], args[0], args[1])
        vty = context.get_value_type(vt)
        return builder.load(_vptr(builder, ptr, vty), align=1)

    return vt(ary, types.intp), codegen


@intrinsic
def prefetch(typingctx, ary, idx):  # noqa: ANN001, ANN201
    """Prefetch the cache line of ``ary`` flat element ``idx`` for reading, into all levels (no bounds check)."""

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        ptr = _data_ptr(context, builder, sig.args[0], args[0], args[1])
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                            "llvm.prefetch.p0i8")
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.none(ary, types.intp), codegen


@intrinsic
def vload_n(typingctx, ary, idx, n):  # noqa: ANN001, ANN201
    """Masked vector load of ``n`` (0..W) elements from ``idx``; other lanes are 0 and never touched in memory."""
    vt = _vec_of(ary.dtype)

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        ptr = _data_ptr(context, builder, sig.args[0], args[0], args[1])
        vty = context.get_value_type(vt)
        mask = _lane_mask(builder, args[2], vt.width)
        fn = _masked_load_fn(builder.module, vty)
        return builder.call(fn, [_vptr(builder, ptr, vty), ir.Constant(ir.IntType(32), 1), mask,
                                 ir.Constant(vty, None)])

    return vt(ary, types.intp, types.intp), codegen


@intrinsic
def vgather_n(typingctx, ary, idx, stride, n):  # noqa: ANN001, ANN201
    """Lanes i < n load flat element ``idx + i*stride`` (masked gather); other lanes are 0 and not accessed."""
    vt = _vec_of(ary.dtype)

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        vty = context.get_value_type(vt)
        w = vt.width
        i64 = ir.IntType(64)
        ptr = _data_ptr(context, builder, sig.args[0], args[0], args[1])
        lanes = ir.Constant(ir.VectorType(i64, w), [ir.Constant(i64, i) for i in range(w)])
        vi64 = ir.VectorType(i64, w)
        size = ir.Constant(i64, 4 if vt.dtype == types.float32 else 8)
        offs = builder.mul(lanes, _splat(builder, builder.mul(args[2], size), vi64))
        addrs = builder.add(_splat(builder, builder.ptrtoint(ptr, i64), vi64), offs)
        pvty = ir.VectorType(vty.element.as_pointer(), w)
        ptrs = builder.inttoptr(addrs, pvty)
        mask = _lane_mask(builder, args[3], w)
        fnty = ir.FunctionType(vty, [pvty, ir.IntType(32), mask.type, vty])
        fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.masked.gather.{_suffix(vty)}.v{w}p0{_suffix(vty)[len(str(w)) + 1:]}")
        return builder.call(fn, [ptrs, ir.Constant(ir.IntType(32), 4), mask, ir.Constant(vty, None)])

    return vt(ary, types.intp, types.intp, types.intp), codegen


def _lanes_intrinsic(first: int):  # noqa: ANN202
    @intrinsic
    def _impl(typingctx, a, b):  # noqa: ANN001, ANN202
        if not (isinstance(a, Vec) and a == b):
            return None

        def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
            w = sig.args[0].width
            idx = ir.Constant(ir.VectorType(ir.IntType(32), w), [ir.Constant(ir.IntType(32), 2 * i + first)
                                                                  for i in range(w)])
            return builder.shuffle_vector(args[0], args[1], idx)

        return a(a, b), codegen

    return _impl


#: Even / odd lanes of the 2W-lane concatenation ``a, b`` (deinterleave: a stride-2 split in one shuffle each).
veven = _lanes_intrinsic(0)
vodd = _lanes_intrinsic(1)


@intrinsic
def vload_s2_n(typingctx, ary, idx, n):  # noqa: ANN001, ANN201
    """Lanes i < n load flat element ``idx + 2*i`` (stride-2 load as two masked vector loads and a deinterleaving
    shuffle: a hardware gather is several times slower); other lanes are 0 and their memory is not accessed."""
    vt = _vec_of(ary.dtype)

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        vty = context.get_value_type(vt)
        w = vt.width
        i64 = ir.IntType(64)
        ptr = _data_ptr(context, builder, sig.args[0], args[0], args[1])
        span = builder.sub(builder.mul(args[2], ir.Constant(i64, 2)), ir.Constant(i64, 1))  # elements spanned
        span = builder.select(builder.icmp_signed(">", span, ir.Constant(i64, 0)), span, ir.Constant(i64, 0))
        n_lo = builder.select(builder.icmp_signed(">", span, ir.Constant(i64, w)), ir.Constant(i64, w), span)
        n_hi = builder.sub(span, n_lo)
        fn = _masked_load_fn(builder.module, vty)
        zero = ir.Constant(vty, None)
        one = ir.Constant(ir.IntType(32), 1)
        lo = builder.call(fn, [_vptr(builder, ptr, vty), one, _lane_mask(builder, n_lo, w), zero])
        hi = builder.call(fn, [_vptr(builder, builder.gep(ptr, [ir.Constant(i64, w)]), vty), one,
                               _lane_mask(builder, n_hi, w), zero])
        even = ir.Constant(ir.VectorType(ir.IntType(32), w), [ir.Constant(ir.IntType(32), 2 * i) for i in range(w)])
        return builder.shuffle_vector(lo, hi, even)

    return vt(ary, types.intp, types.intp), codegen


@intrinsic
def vstore(typingctx, ary, idx, v):  # noqa: ANN001, ANN201
    """Unaligned vector store of ``v`` to ``ary`` flat elements ``[idx, idx + W)`` (no bounds check)."""

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        ptr = _data_ptr(context, builder, sig.args[0], args[0], args[1])
        builder.store(args[2], _vptr(builder, ptr, args[2].type), align=1)
        return context.get_dummy_value()

    return types.none(ary, types.intp, v), codegen


def _butterfly(builder, rows):  # noqa: ANN001, ANN202
    """Transpose W vectors in registers: log2(W) stages swapping the off-diagonal d x d blocks of every 2d x 2d
    block with two-vector shuffles."""
    n = len(rows)
    i32 = ir.IntType(32)
    d = n // 2
    while d >= 1:
        lo = ir.Constant(ir.VectorType(i32, n), [k if k & d == 0 else n + k - d for k in range(n)])
        hi = ir.Constant(ir.VectorType(i32, n), [k + d if k & d == 0 else n + k for k in range(n)])
        new = list(rows)
        for i in range(n):
            if i & d == 0:
                new[i] = builder.shuffle_vector(rows[i], rows[i + d], lo)
                new[i + d] = builder.shuffle_vector(rows[i], rows[i + d], hi)
        rows = new
        d //= 2
    return rows


@intrinsic
def vtranspose(typingctx, src, s0, lds, dst, d0, ldd):  # noqa: ANN001, ANN201
    """Transpose one W x W block: ``dst[d0 + j*ldd + i] = src[s0 + i*lds + j]`` for i, j < W (W vector loads, a
    log2(W)-stage butterfly of two-vector shuffles, W vector stores; about 0.5 cycles an element against ~3 for
    the strided scalar copy)."""
    if not (isinstance(src, types.Array) and isinstance(dst, types.Array) and src.dtype == dst.dtype):
        return None
    vt = _vec_of(src.dtype)

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        src_, s0_, lds_, dst_, d0_, ldd_ = args
        vty = context.get_value_type(vt)
        rows = []
        for i in range(vty.count):
            idx = builder.add(s0_, builder.mul(lds_, ir.Constant(lds_.type, i)))
            ptr = _data_ptr(context, builder, sig.args[0], src_, idx)
            rows.append(builder.load(_vptr(builder, ptr, vty), align=1))
        for j, row in enumerate(_butterfly(builder, rows)):
            idx = builder.add(d0_, builder.mul(ldd_, ir.Constant(ldd_.type, j)))
            ptr = _data_ptr(context, builder, sig.args[3], dst_, idx)
            builder.store(row, _vptr(builder, ptr, vty), align=1)
        return context.get_dummy_value()

    return types.none(src, types.intp, types.intp, dst, types.intp, types.intp), codegen


@intrinsic
def vtranspose_n(typingctx, src, s0, lds, nr, nc, dst, d0, ldd):  # noqa: ANN001, ANN201
    """The edge of a transpose: ``dst[d0 + j*ldd + i] = src[s0 + i*lds + j]`` for i < nr, j < nc (nr, nc <= W),
    through masked loads and stores: nothing outside the nr x nc block is read or written."""
    if not (isinstance(src, types.Array) and isinstance(dst, types.Array) and src.dtype == dst.dtype):
        return None
    vt = _vec_of(src.dtype)

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        src_, s0_, lds_, nr_, nc_, dst_, d0_, ldd_ = args
        vty = context.get_value_type(vt)
        n = vty.count
        zero = ir.Constant(nr_.type, 0)
        i32 = ir.IntType(32)

        def mask(k, limit, lanes):  # lanes [0, lanes) of row k, none when k >= limit
            return _lane_mask(builder, builder.select(builder.icmp_signed("<", ir.Constant(limit.type, k), limit),
                                                      lanes, zero), n)

        load = _masked_load_fn(builder.module, vty)
        store = _masked_store_fn(builder.module, vty)
        rows = []
        for i in range(n):
            idx = builder.add(s0_, builder.mul(lds_, ir.Constant(lds_.type, i)))
            ptr = _vptr(builder, _data_ptr(context, builder, sig.args[0], src_, idx), vty)
            rows.append(builder.call(load, [ptr, ir.Constant(i32, 1), mask(i, nr_, nc_), ir.Constant(vty, None)]))
        for j, row in enumerate(_butterfly(builder, rows)):
            idx = builder.add(d0_, builder.mul(ldd_, ir.Constant(ldd_.type, j)))
            ptr = _vptr(builder, _data_ptr(context, builder, sig.args[5], dst_, idx), vty)
            builder.call(store, [row, ptr, ir.Constant(i32, 1), mask(j, nc_, nr_)])
        return context.get_dummy_value()

    return types.none(src, types.intp, types.intp, types.intp, types.intp, dst, types.intp, types.intp), codegen


@intrinsic
def vstore_n(typingctx, ary, idx, v, n):  # noqa: ANN001, ANN201
    """Masked store of the first ``n`` lanes of ``v`` to ``ary[idx:idx+n]``."""

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        ptr = _data_ptr(context, builder, sig.args[0], args[0], args[1])
        vty = args[2].type
        mask = _lane_mask(builder, args[3], vty.count)
        fn = _masked_store_fn(builder.module, vty)
        builder.call(fn, [args[2], _vptr(builder, ptr, vty), ir.Constant(ir.IntType(32), 1), mask])
        return context.get_dummy_value()

    return types.none(ary, types.intp, v, types.intp), codegen


@intrinsic
def vzero(typingctx, ary):  # noqa: ANN001, ANN201
    """A zero vector of ``ary``'s dtype."""
    vt = _vec_of(ary.dtype)

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        return ir.Constant(context.get_value_type(vt), None)

    return vt(ary), codegen


@intrinsic
def vsplat(typingctx, x):  # noqa: ANN001, ANN201
    """All lanes = ``x`` (float32 -> f32 vector, float64 -> f64 vector)."""
    vt = _vec_of(x)

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        return _splat(builder, args[0], context.get_value_type(vt))

    return vt(x), codegen


def _binop(op: str):  # noqa: ANN202
    @intrinsic
    def _impl(typingctx, a, b):  # noqa: ANN001, ANN202
        if not (isinstance(a, Vec) and a == b):
            return None

        def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
            return getattr(builder, op)(*args)

        return a(a, b), codegen

    return _impl


vadd = _binop("fadd")
vsub = _binop("fsub")
vmul = _binop("fmul")
vdiv = _binop("fdiv")


def _llvm_math(name: str, nargs: int):  # noqa: ANN202
    """Intrinsic calling ``llvm.<name>.<vector type>`` on 1..3 same-typed vectors (fixed arity for Numba)."""

    def _typer(*args):  # noqa: ANN002, ANN202
        if not all(isinstance(t, Vec) and t == args[0] for t in args):
            return None

        def codegen(context, builder, sig, llargs):  # noqa: ANN001, ANN202
            vty = llargs[0].type
            return builder.call(_intrinsic_fn(builder, f"llvm.{name}.{_suffix(vty)}", vty, nargs), list(llargs))

        return args[0](*args), codegen

    if nargs == 1:
        def _impl(typingctx, a):  # noqa: ANN001, ANN202
            return _typer(a)
    elif nargs == 2:
        def _impl(typingctx, a, b):  # noqa: ANN001, ANN202
            return _typer(a, b)
    else:
        def _impl(typingctx, a, b, c):  # noqa: ANN001, ANN202
            return _typer(a, b, c)
    _impl.__name__ = f"v_{name}"
    return intrinsic(_impl)


#: ``vfma(a, b, c) = a * b + c`` (one rounding).
vfma = _llvm_math("fma", 3)
vmax = _llvm_math("maxnum", 2)
vmin = _llvm_math("minnum", 2)
vfloor = _llvm_math("floor", 1)
vrint = _llvm_math("rint", 1)
vabs = _llvm_math("fabs", 1)
vsqrt = _llvm_math("sqrt", 1)


@intrinsic
def vmax_taps(typingctx, acc, v):  # noqa: ANN001, ANN201
    """Lane-wise ``v if (v > acc or v is NaN) else acc``: a pooling tap loop's max, so a NaN already in ``acc``
    stays and a NaN in ``v`` is taken (``llvm.maximum`` does the same; its x86 lowering measured slower here)."""
    if not (isinstance(acc, Vec) and acc == v):
        return None

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        a, x = args
        take = builder.or_(builder.fcmp_ordered(">", x, a), builder.fcmp_unordered("uno", x, x))
        return builder.select(take, x, a)

    return acc(acc, v), codegen


@intrinsic
def vhsum(typingctx, v):  # noqa: ANN001, ANN201
    """Sum of all lanes."""
    if not isinstance(v, Vec):
        return None

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        vty = args[0].type
        fnty = ir.FunctionType(vty.element, [vty.element, vty])
        fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.vector.reduce.fadd.{_suffix(vty)}")
        return builder.call(fn, [ir.Constant(vty.element, -0.0), args[0]], fastmath=("reassoc",))

    return v.dtype(v), codegen


def _const_intrinsic(fn_of_dtype):  # noqa: ANN001, ANN202
    """Intrinsic ``f(array) -> intp`` folding ``fn_of_dtype(array.dtype)`` to a constant (no call, no compile)."""

    @intrinsic
    def _impl(typingctx, ary):  # noqa: ANN001, ANN202
        if not isinstance(ary, types.Array):
            return None
        val = fn_of_dtype(ary.dtype)

        def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
            return context.get_constant(types.intp, val)

        return types.intp(ary), codegen

    return _impl


#: ``tile_nr(arr)``: GEMM tile columns for arr's dtype, as a compile-time constant.
tile_nr = _const_intrinsic(lambda dt: nr_of(dt))
#: ``vec_width(arr)``: SIMD lanes for arr's dtype, as a compile-time constant.
vec_width = _const_intrinsic(lambda dt: width_of(dt))


class VecIR:
    """Builds lane-wise vector math as LLVM IR (used to write activations as one intrinsic, which is far cheaper
    to compile than the same math as many small Numba functions)."""

    def __init__(self, builder: ir.IRBuilder, vty: ir.VectorType) -> None:
        self.b = builder
        self.vty = vty
        self.sfx = _suffix(vty)

    def c(self, x: float) -> ir.Constant:
        return ir.Constant(self.vty, [ir.Constant(self.vty.element, float(x))] * self.vty.count)

    def splat(self, x: ir.Value) -> ir.Value:
        return _splat(self.b, x, self.vty)

    def _call(self, name: str, *args: ir.Value) -> ir.Value:
        return self.b.call(_intrinsic_fn(self.b, f"llvm.{name}.{self.sfx}", self.vty, len(args)), list(args))

    def add(self, x, y):  # noqa: ANN001, ANN201
        return self.b.fadd(x, y)

    def sub(self, x, y):  # noqa: ANN001, ANN201
        return self.b.fsub(x, y)

    def mul(self, x, y):  # noqa: ANN001, ANN201
        return self.b.fmul(x, y)

    def div(self, x, y):  # noqa: ANN001, ANN201
        return self.b.fdiv(x, y)

    def fma(self, x, y, z):  # noqa: ANN001, ANN201
        return self._call("fma", x, y, z)

    def max(self, x, y):  # noqa: ANN001, ANN201
        """NaN if either is NaN, as numpy and torch (a zero's sign may differ). Written as a select rather than
        llvm.maximum, which x86 expands to a dozen instructions: with ``y`` a constant this is one vmaxps."""
        b = self.b
        return b.select(b.or_(b.fcmp_ordered("<", x, y), b.fcmp_unordered("uno", y, y)), y, x)

    def min(self, x, y):  # noqa: ANN001, ANN201
        """NaN if either is NaN (see :meth:`max`)."""
        b = self.b
        return b.select(b.or_(b.fcmp_ordered(">", x, y), b.fcmp_unordered("uno", y, y)), y, x)

    def floor(self, x):  # noqa: ANN001, ANN201
        return self._call("floor", x)

    def abs(self, x):  # noqa: ANN001, ANN201
        return self._call("fabs", x)

    def copysign(self, mag, sgn):  # noqa: ANN001, ANN201
        return self._call("copysign", mag, sgn)

    def select_lt(self, a, b, x, y):  # noqa: ANN001, ANN201
        """x where a < b else y."""
        return self.b.select(self.b.fcmp_ordered("<", a, b), x, y)

    def poly(self, x, coeffs):  # noqa: ANN001, ANN201
        """Horner: coeffs[0]*x^(n-1) + ... + coeffs[-1]."""
        p = self.c(coeffs[0])
        for k in coeffs[1:]:
            p = self.fma(p, x, self.c(k))
        return p

    def ldexp(self, x, n):  # noqa: ANN001, ANN201
        """x * 2**n for integral float lanes n within the normal exponent range (exponent-bit construction)."""
        f32 = self.vty.element == ir.FloatType()
        ity = ir.VectorType(ir.IntType(32 if f32 else 64), self.vty.count)
        bias, shift = (127, 23) if f32 else (1023, 52)
        ni = self.b.add(self.b.fptosi(n, ity), ir.Constant(ity, [ir.Constant(ity.element, bias)] * ity.count))
        bits = self.b.shl(ni, ir.Constant(ity, [ir.Constant(ity.element, shift)] * ity.count))
        return self.b.fmul(x, self.b.bitcast(bits, self.vty))


# --------------------------------------------------------------------------------------------- GEMM micro-kernel
# C[0:mr, 0:nr] (+)= sum_k A[k, 0:mr] (x) B[k, 0:nr] with A packed as kc rows of MR values and B as kc rows of NR
# values (zero padded). Accumulators live in vector phis for the whole k loop; A values are broadcast. Edge rows
# run smaller row-count variants (no wasted FMAs); the nr < NR column edge uses masked C loads/stores, so callers
# never need a scratch tile.


#: Operand modes of the micro-kernel: both packed; B read in place at per-k offsets (``b + koff[k]``); A gathered
#: in place (row i at step k is ``x[koff[k] + qoff[i]]``, the ``a`` argument being the qoff row table).
PACKED, B_OFFSETS, A_GATHER = "packed", "off", "gather"


def _ukernel_type(elty: ir.Type, mode: str) -> tuple:
    """(type of the ``a`` argument, types of the mode's extra trailing arguments)."""
    i64 = ir.IntType(64)
    pty = elty.as_pointer()
    a_ty = i64.as_pointer() if mode == A_GATHER else pty
    extra = {PACKED: [], B_OFFSETS: [i64.as_pointer()], A_GATHER: [i64.as_pointer(), pty]}[mode]
    return a_ty, extra


def _build_ukernel_rows(module: ir.Module, elty: ir.Type, w: int, mr: int, nv: int, mode: str = PACKED
                        ) -> ir.Function:
    """``void(kc, a*, b*, c*, ldc, load_c, nr[, koff*[, x*]])`` for exactly ``mr`` rows.

    B is a packed panel (NR values per k), or (``B_OFFSETS``) any array where step k reads the NR values at
    ``b + koff[k]`` (a convolution reading shifted windows of its input directly, see conv.py). A is a packed
    panel (MR values per k), or (``A_GATHER``) row i at step k is the scalar ``x[koff[k] + a[i]]`` (``a`` an int64
    row table: a convolution with output channels across the vector lanes and output pixels as the tile's rows).

    Accumulators start at zero and C is added after the k loop (not loaded before it): a C tile that has left the
    cache (large M*N) then costs no stall at the start, and the prefetches issued on entry have ~kc*NV*mr FMAs of
    time to bring it in.
    """
    name = f"nngraph_ukernel_{'f32' if elty == ir.FloatType() else 'f64'}_{mr}x{nv}x{w}_stride{MR}" + \
        ("" if mode == PACKED else "_" + mode)
    vty = ir.VectorType(elty, w)
    i64 = ir.IntType(64)
    i32 = ir.IntType(32)
    pty = elty.as_pointer()
    a_ty, extra = _ukernel_type(elty, mode)
    fnty = ir.FunctionType(ir.VoidType(), [i64, a_ty, pty, pty, i64, ir.IntType(1), i64] + extra)
    fn = cgutils.get_or_insert_function(module, fnty, name)
    if not fn.is_declaration:
        return fn
    fn.linkage = "internal"
    # Kept out of line: it is big, and inlining it at every call site multiplies LLVM time in every caller.
    fn.attributes.add("noinline")
    for i in (1, 2, 3):
        fn.args[i].add_attribute("noalias")
    kc, a0, b0, c0, ldc, load_c, nr = fn.args[:7]
    offsets = mode == B_OFFSETS
    gather = mode == A_GATHER
    koff = fn.args[7] if mode != PACKED else None
    xg = fn.args[8] if gather else None
    fma = cgutils.get_or_insert_function(module, ir.FunctionType(vty, [vty] * 3), f"llvm.fma.{_suffix(vty)}")
    mload = _masked_load_fn(module, vty)
    mstore = _masked_store_fn(module, vty)
    i8p = ir.IntType(8).as_pointer()
    prefetch = cgutils.get_or_insert_function(module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                              "llvm.prefetch.p0i8")
    one32 = ir.Constant(i32, 1)
    zero = ir.Constant(vty, None)

    entry = fn.append_basic_block("entry")
    bld = ir.IRBuilder(entry)
    row_ptrs = [bld.gep(c0, [bld.mul(ldc, ir.Constant(i64, i))]) for i in range(mr)]
    qrow = [bld.load(bld.gep(a0, [ir.Constant(i64, i)])) for i in range(mr)] if gather else None
    full = bld.icmp_signed(">=", nr, ir.Constant(i64, nv * w))
    masks = [_lane_mask(bld, bld.sub(nr, ir.Constant(i64, j * w)), w) for j in range(nv)]
    line = 64 // (4 if elty == ir.FloatType() else 8)
    for i in range(mr):  # prefetch the C tile for writing (it is read back, or written, after the k loop)
        for off in range(0, nv * w, line):
            bld.call(prefetch, [bld.bitcast(bld.gep(row_ptrs[i], [ir.Constant(i64, off)]), i8p), one32,
                                ir.Constant(i32, 3), one32])

    def cptr(b, i, j):  # noqa: ANN001, ANN202
        return b.bitcast(b.gep(row_ptrs[i], [ir.Constant(i64, j * w)]), vty.as_pointer())

    blk_loop = fn.append_basic_block("loop")
    blk_exit = fn.append_basic_block("exit")
    blk_full = fn.append_basic_block("full")
    blk_full_add = fn.append_basic_block("full_add")
    blk_full_st = fn.append_basic_block("full_store")
    blk_mask = fn.append_basic_block("masked")
    blk_mask_add = fn.append_basic_block("masked_add")
    blk_mask_st = fn.append_basic_block("masked_store")
    bld.cbranch(bld.icmp_signed(">", kc, ir.Constant(i64, 0)), blk_loop, blk_exit)

    lb = ir.IRBuilder(blk_loop)
    k = lb.phi(i64)
    ap = None if gather else lb.phi(pty)
    bpp = None if offsets else lb.phi(pty)
    accs = [[lb.phi(vty) for _ in range(nv)] for _ in range(mr)]  # (phis first: LLVM requires it)
    bcur = lb.gep(b0, [lb.load(lb.gep(koff, [k]))]) if offsets else bpp
    if offsets:  # B read in place: masked past column nr (the input may end there)
        bvec = [lb.call(mload, [lb.bitcast(lb.gep(bcur, [ir.Constant(i64, j * w)]), vty.as_pointer()), one32,
                                masks[j], zero]) for j in range(nv)]
    else:
        bvec = [lb.load(lb.bitcast(lb.gep(bcur, [ir.Constant(i64, j * w)]), vty.as_pointer()), align=1)
                for j in range(nv)]
    xk = lb.gep(xg, [lb.load(lb.gep(koff, [k]))]) if gather else None
    new = []
    for i in range(mr):
        aptr = lb.gep(xk, [qrow[i]]) if gather else lb.gep(ap, [ir.Constant(i64, i)])
        av = _splat(lb, lb.load(aptr), vty)
        new.append([lb.call(fma, [av, bvec[j], accs[i][j]]) for j in range(nv)])
    k1 = lb.add(k, ir.Constant(i64, 1))
    ap1 = None if gather else lb.gep(ap, [ir.Constant(i64, MR)])
    bp1 = None if offsets else lb.gep(bpp, [ir.Constant(i64, nv * w)])
    lb.cbranch(lb.icmp_signed("<", k1, kc), blk_loop, blk_exit)
    k.add_incoming(ir.Constant(i64, 0), entry)
    k.add_incoming(k1, blk_loop)
    if not gather:
        ap.add_incoming(a0, entry)
        ap.add_incoming(ap1, blk_loop)
    if not offsets:
        bpp.add_incoming(b0, entry)
        bpp.add_incoming(bp1, blk_loop)
    for i in range(mr):
        for j in range(nv):
            accs[i][j].add_incoming(zero, entry)
            accs[i][j].add_incoming(new[i][j], blk_loop)

    eb = ir.IRBuilder(blk_exit)
    final = []
    for i in range(mr):
        row = []
        for j in range(nv):
            phi = eb.phi(vty)
            phi.add_incoming(zero, entry)
            phi.add_incoming(new[i][j], blk_loop)
            row.append(phi)
        final.append(row)
    eb.cbranch(full, blk_full, blk_mask)

    def tail(blk, blk_add, blk_st, masked):  # noqa: ANN001, ANN202
        ir.IRBuilder(blk).cbranch(load_c, blk_add, blk_st)
        ba = ir.IRBuilder(blk_add)
        summed = []
        for i in range(mr):
            for j in range(nv):
                cv = (ba.call(mload, [cptr(ba, i, j), one32, masks[j], zero]) if masked
                      else ba.load(cptr(ba, i, j), align=1))
                summed.append(ba.fadd(final[i][j], cv))
        ba.branch(blk_st)
        bs = ir.IRBuilder(blk_st)
        stores = []
        for idx, (i, j) in enumerate((i, j) for i in range(mr) for j in range(nv)):
            phi = bs.phi(vty)
            phi.add_incoming(final[i][j], blk)
            phi.add_incoming(summed[idx], blk_add)
            stores.append((i, j, phi))
        for i, j, v in stores:
            if masked:
                bs.call(mstore, [v, cptr(bs, i, j), one32, masks[j]])
            else:
                bs.store(v, cptr(bs, i, j), align=1)
        bs.ret_void()

    tail(blk_full, blk_full_add, blk_full_st, False)
    tail(blk_mask, blk_mask_add, blk_mask_st, True)
    return fn


def _build_ukernel(module: ir.Module, elty: ir.Type, w: int, mode: str = PACKED) -> ir.Function:
    """``void(kc, a*, b*, c*, ldc, load_c, mr, nr[, koff*[, x*]])``: mr == MR runs the full tile, any other mr runs
    its binary decomposition (4 + 2 + 1 rows), so only four row-count variants exist (less code for LLVM to chew).
    ``a`` advances by rows: a packed A panel holds MR values per k, an A_GATHER row table one offset per row."""
    name = f"nngraph_ukernel_{'f32' if elty == ir.FloatType() else 'f64'}_{MR}x{NV}x{w}" + \
        ("" if mode == PACKED else "_" + mode)
    i64 = ir.IntType(64)
    pty = elty.as_pointer()
    a_ty, extra_ty = _ukernel_type(elty, mode)
    fnty = ir.FunctionType(ir.VoidType(), [i64, a_ty, pty, pty, i64, ir.IntType(1), i64, i64] + extra_ty)
    fn = cgutils.get_or_insert_function(module, fnty, name)
    if not fn.is_declaration:
        return fn
    fn.linkage = "internal"
    kc, a0, b0, c0, ldc, load_c, mr, nr = fn.args[:8]
    extra = list(fn.args[8:])
    bld = ir.IRBuilder(fn.append_basic_block("entry"))
    with bld.if_else(bld.icmp_signed("==", mr, ir.Constant(i64, MR))) as (then, otherwise):
        with then:
            bld.call(_build_ukernel_rows(module, elty, w, MR, NV, mode), [kc, a0, b0, c0, ldc, load_c, nr] + extra)
        with otherwise:
            row = ir.Constant(i64, 0)
            for bit in (4, 2, 1):
                if bit >= MR:
                    continue
                take = bld.icmp_unsigned("!=", bld.and_(mr, ir.Constant(i64, bit)), ir.Constant(i64, 0))
                with bld.if_then(take):
                    bld.call(_build_ukernel_rows(module, elty, w, bit, NV, mode),
                             [kc, bld.gep(a0, [row]), b0, bld.gep(c0, [bld.mul(row, ldc)]), ldc, load_c, nr] + extra)
                row = bld.add(row, bld.select(take, ir.Constant(i64, bit), ir.Constant(i64, 0)))
    bld.ret_void()
    return fn


@intrinsic
def ukernel(typingctx, kc, a, aoff, b, boff, c, coff, ldc, load_c, mr, nr):  # noqa: ANN001, ANN201
    """Register-tile update ``C[i, j] (+)= sum_k a[aoff + k*MR + i] * b[boff + k*NR + j]``, i < mr, j < nr.

    ``a``, ``b`` are packed panels (A: MR values per k, B: NR values per k); ``c`` rows are ``ldc`` elements apart
    from flat element ``coff``; ``load_c`` selects += (True) or = (False). Only the mr x nr corner of C is touched.
    """
    if not (isinstance(a, types.Array) and a.dtype == b.dtype == c.dtype and a.dtype in (types.float32, types.float64)):
        return None

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        kc_, a_, aoff_, b_, boff_, c_, coff_, ldc_, load_, mr_, nr_ = args
        elty = context.get_value_type(sig.args[1].dtype)
        fn = _build_ukernel(builder.module, elty, width_of(sig.args[1].dtype))
        ap = _data_ptr(context, builder, sig.args[1], a_, aoff_)
        bp = _data_ptr(context, builder, sig.args[3], b_, boff_)
        cp = _data_ptr(context, builder, sig.args[5], c_, coff_)
        flag = builder.icmp_unsigned("!=", load_, ir.Constant(load_.type, 0))
        builder.call(fn, [kc_, ap, bp, cp, ldc_, flag, mr_, nr_])
        return context.get_dummy_value()

    sig = types.none(types.intp, a, types.intp, b, types.intp, c, types.intp, types.intp, types.boolean, types.intp,
                     types.intp)
    return sig, codegen


@intrinsic
def ukernel_off(typingctx, kc, a, aoff, x, xoff, koff, koff0, c, coff, ldc, load_c, mr, nr):  # noqa: ANN001, ANN201
    """:func:`ukernel` with B read in place: step k loads the ``nr`` values at ``x[xoff + koff[koff0 + k]:]``
    (masked loads: nothing past them is read); ``koff`` is an int64 array."""
    if not (isinstance(a, types.Array) and a.dtype == x.dtype == c.dtype and a.dtype in (types.float32, types.float64)
            and isinstance(koff, types.Array) and koff.dtype == types.int64):
        return None

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        kc_, a_, aoff_, x_, xoff_, koff_, koff0_, c_, coff_, ldc_, load_, mr_, nr_ = args
        elty = context.get_value_type(sig.args[1].dtype)
        fn = _build_ukernel(builder.module, elty, width_of(sig.args[1].dtype), B_OFFSETS)
        ap = _data_ptr(context, builder, sig.args[1], a_, aoff_)
        xp = _data_ptr(context, builder, sig.args[3], x_, xoff_)
        kp = _data_ptr(context, builder, sig.args[5], koff_, koff0_)
        cp = _data_ptr(context, builder, sig.args[7], c_, coff_)
        flag = builder.icmp_unsigned("!=", load_, ir.Constant(load_.type, 0))
        builder.call(fn, [kc_, ap, xp, cp, ldc_, flag, mr_, nr_, kp])
        return context.get_dummy_value()

    sig = types.none(types.intp, a, types.intp, x, types.intp, koff, types.intp, c, types.intp, types.intp,
                     types.boolean, types.intp, types.intp)
    return sig, codegen


@intrinsic
def ukernel_gather(typingctx, kc, x, xoff, qoff, q0, koff, koff0, b, boff, c, coff, ldc, load_c, mr,  # noqa: ANN001
                   nr):  # noqa: ANN001, ANN201
    """:func:`ukernel` with A gathered in place: row i at step k is ``x[xoff + koff[koff0 + k] + qoff[q0 + i]]``
    (scalars, broadcast); B a packed panel as for :func:`ukernel`. ``qoff``, ``koff`` are int64 arrays."""
    if not (isinstance(x, types.Array) and x.dtype == b.dtype == c.dtype and x.dtype in (types.float32, types.float64)
            and all(isinstance(t, types.Array) and t.dtype == types.int64 for t in (qoff, koff))):
        return None

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        kc_, x_, xoff_, q_, q0_, koff_, koff0_, b_, boff_, c_, coff_, ldc_, load_, mr_, nr_ = args
        elty = context.get_value_type(sig.args[1].dtype)
        fn = _build_ukernel(builder.module, elty, width_of(sig.args[1].dtype), A_GATHER)
        xp = _data_ptr(context, builder, sig.args[1], x_, xoff_)
        qp = _data_ptr(context, builder, sig.args[3], q_, q0_)
        kp = _data_ptr(context, builder, sig.args[5], koff_, koff0_)
        bp = _data_ptr(context, builder, sig.args[7], b_, boff_)
        cp = _data_ptr(context, builder, sig.args[9], c_, coff_)
        flag = builder.icmp_unsigned("!=", load_, ir.Constant(load_.type, 0))
        builder.call(fn, [kc_, qp, bp, cp, ldc_, flag, mr_, nr_, kp, xp])
        return context.get_dummy_value()

    sig = types.none(types.intp, x, types.intp, qoff, types.intp, koff, types.intp, b, types.intp, c, types.intp,
                     types.intp, types.boolean, types.intp, types.intp)
    return sig, codegen
