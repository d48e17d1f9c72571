"""Tensor-core GEMM for ``precision="tf32"`` / ``"fp16"``: warp-level ``mma.sync`` through inline PTX.

numba.cuda has no tensor-core API; ``mma_tf32`` and ``mma_f16`` are ``@intrinsic`` functions emitting one PTX
``mma.sync`` (m16n8k8 TF32, m16n8k16 FP16, both accumulating in fp32) with the fp32 -> tf32/f16 conversions in the
same asm block, so kernels pass plain float32 values. Fragment ownership (PTX ISA, "Matrix fragments for mma"):
lane ``l`` has ``g = l // 4``, ``t = l % 4``; TF32 A (16x8) registers hold (g, t), (g+8, t), (g, t+4), (g+8, t+4),
B (8x8) (t, g), (t+4, g); FP16 A registers hold the pairs (g, 2t..2t+1), (g+8, 2t..), (g, 2t+8..), (g+8, 2t+8..),
B (2t..2t+1, g), (2t+8.., g); C/D (16x8) (g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1) in both.

``gemm_tc_source(precision)`` generates the GEMM kernel (same arguments as ``gemm.py``'s ``gemm``): 128 threads, a
64x64 output tile, K staged 16 at a time through shared memory (rows padded to 72 words: the fragment reads are
bank-conflict free for TF32), each warp a 32x32 sub-tile of 2x4 mma tiles held in 32 scalar registers.
Not runnable on the CUDA simulator (inline PTX); tested on a GPU and compiled to PTX in CI.
"""
from __future__ import annotations

from llvmlite import ir
from numba.cuda.extending import intrinsic

try:  # numba-cuda >= 0.2x has its own type system
    from numba.cuda.types import UniTuple, float32
except ImportError:  # numba's built-in numba.cuda
    from numba.core.types import UniTuple, float32

_TF32_ASM = """{
.reg .b32 ta<4>, tb<2>;
cvt.rna.tf32.f32 ta0, $4;
cvt.rna.tf32.f32 ta1, $5;
cvt.rna.tf32.f32 ta2, $6;
cvt.rna.tf32.f32 ta3, $7;
cvt.rna.tf32.f32 tb0, $8;
cvt.rna.tf32.f32 tb1, $9;
mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {$0, $1, $2, $3}, {ta0, ta1, ta2, ta3}, {tb0, tb1}, {$10, $11, $12, $13};
}"""

# cvt.rn.f16x2.f32 d, hi, lo: the lower half (lower k) is the last operand
_F16_ASM = """{
.reg .b32 ta<4>, tb<2>;
cvt.rn.f16x2.f32 ta0, $5, $4;
cvt.rn.f16x2.f32 ta1, $7, $6;
cvt.rn.f16x2.f32 ta2, $9, $8;
cvt.rn.f16x2.f32 ta3, $11, $10;
cvt.rn.f16x2.f32 tb0, $13, $12;
cvt.rn.f16x2.f32 tb1, $15, $14;
mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {$0, $1, $2, $3}, {ta0, ta1, ta2, ta3}, {tb0, tb1}, {$16, $17, $18, $19};
}"""


def _asm_codegen(asm: str, n_in: int):  # noqa: ANN202
    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        f32 = ir.FloatType()
        fnty = ir.FunctionType(ir.LiteralStructType([f32] * 4), [f32] * n_in)
        call = builder.asm(fnty, asm, ",".join(["=f"] * 4 + ["f"] * n_in), list(args), side_effect=False)
        return context.make_tuple(builder, sig.return_type, [builder.extract_value(call, i) for i in range(4)])

    return codegen


@intrinsic
def mma_tf32(typingctx, a0, a1, a2, a3, b0, b1, c0, c1, c2, c3):  # noqa: ANN001, ANN201
    """D = A (16x8 tf32) @ B (8x8 tf32) + C, this lane's fragments (see module docstring)."""
    return UniTuple(float32, 4)(*([float32] * 10)), _asm_codegen(_TF32_ASM, 10)


@intrinsic
def mma_f16(typingctx, a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, c0, c1, c2, c3):  # noqa: ANN001, ANN201
    """D = A (16x16 f16) @ B (16x8 f16) + C; A/B given as 8/4 fp32 values in fragment order (pairs low k first)."""
    return UniTuple(float32, 4)(*([float32] * 16)), _asm_codegen(_F16_ASM, 16)


def _frag_lines(precision: str) -> list[str]:
    """Fragment reads and mma calls for one 16-deep K slab of the shared tiles (indent 8)."""
    lines: list[str] = []
    if precision == "tf32":
        for ks in (0, 8):
            for mi in range(2):
                r = f"wm + {mi * 16} + g"
                lines += [f"a{mi}_0 = As[{ks} + t, {r}]", f"a{mi}_1 = As[{ks} + t, {r} + 8]",
                          f"a{mi}_2 = As[{ks + 4} + t, {r}]", f"a{mi}_3 = As[{ks + 4} + t, {r} + 8]"]
            for ni in range(4):
                c = f"wn + {ni * 8} + g"
                lines += [f"b{ni}_0 = Bs[{ks} + t, {c}]", f"b{ni}_1 = Bs[{ks + 4} + t, {c}]"]
            for mi in range(2):
                for ni in range(4):
                    acc = ", ".join(f"c{mi}{ni}_{q}" for q in range(4))
                    lines.append(f"{acc} = mma_tf32(a{mi}_0, a{mi}_1, a{mi}_2, a{mi}_3, b{ni}_0, b{ni}_1, {acc})")
        return lines
    for mi in range(2):
        r = f"wm + {mi * 16} + g"
        names = []
        for q, (dk, dm) in enumerate([(0, 0), (1, 0), (0, 8), (1, 8), (8, 0), (9, 0), (8, 8), (9, 8)]):
            lines.append(f"a{mi}_{q} = As[2 * t + {dk}, {r} + {dm}]")
            names.append(f"a{mi}_{q}")
    for ni in range(4):
        c = f"wn + {ni * 8} + g"
        for q, dk in enumerate([0, 1, 8, 9]):
            lines.append(f"b{ni}_{q} = Bs[2 * t + {dk}, {c}]")
    for mi in range(2):
        for ni in range(4):
            acc = ", ".join(f"c{mi}{ni}_{q}" for q in range(4))
            a = ", ".join(f"a{mi}_{q}" for q in range(8))
            b = ", ".join(f"b{ni}_{q}" for q in range(4))
            lines.append(f"{acc} = mma_f16({a}, {b}, {acc})")
    return lines


def gemm_tc_source(precision: str) -> str:
    """The ``gemm_tc`` kernel template (``__EPI__``/``__RES__``/``__EARGS__`` filled by ``gemm._epilogue_module``)."""
    accs = [f"c{mi}{ni}_{q}" for mi in range(2) for ni in range(4) for q in range(4)]
    init = "\n".join(f"    {a} = float32(0)" for a in accs)
    frags = "\n".join("        " + ln for ln in _frag_lines(precision))
    spill = "\n".join(f"    acc[{i}] = {a}" for i, a in enumerate(accs))
    return f"""\
@cuda.jit(cache=True)
def gemm_tc(M, N, K, a, ao, a_bs, a_ms, a_ks, b, bo, b_bs, b_ks, b_ns, b_kfast, out, oo, o_bs, o_ms, bias, bo_,
            bias_mode, eshape__EARGS__):
    As = cuda.shared.array((16, 72), float32)
    Bs = cuda.shared.array((16, 72), float32)
    tid = cuda.threadIdx.x
    lane = tid % 32
    warp = tid // 32
    g = lane // 4
    t = lane % 4
    wm = (warp // 2) * 32
    wn = (warp % 2) * 32
    z = cuda.blockIdx.z
    row0 = cuda.blockIdx.y * 64
    col0 = cuda.blockIdx.x * 64
    abase = ao + z * a_bs
    bbase = bo + z * b_bs
    a_kfast = a_ks == 1
{init}
    for k0 in range(0, K, 16):
        for l in range(8):
            e = tid + l * 128
            if a_kfast:
                r = e // 16
                kk = e % 16
            else:
                r = e % 64
                kk = e // 64
            gr = row0 + r
            gk = k0 + kk
            As[kk, r] = a[abase + gr * a_ms + gk * a_ks] if (gr < M and gk < K) else float32(0)
            if b_kfast:
                c = e // 16
                kb = e % 16
            else:
                c = e % 64
                kb = e // 64
            gc = col0 + c
            gk = k0 + kb
            Bs[kb, c] = b[bbase + gk * b_ks + gc * b_ns] if (gc < N and gk < K) else float32(0)
        cuda.syncthreads()
{frags}
        cuda.syncthreads()
    acc = cuda.local.array(32, float32)
{spill}
    for q in range(32):
        rr = q % 4
        m = row0 + wm + (q // 16) * 16 + g + 8 * (rr // 2)
        n = col0 + wn + ((q // 4) % 4) * 8 + 2 * t + rr % 2
        if m < M and n < N:
            v = acc[q]
            if bias_mode == 1:
                v += bias[bo_ + n]
            elif bias_mode == 2:
                v += bias[bo_ + m]
            idx = z * o_bs + m * o_ms + n
__EPI__
            out[oo + idx] = __RES__
"""
