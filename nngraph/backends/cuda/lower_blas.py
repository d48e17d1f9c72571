"""Lower GEMMs and convolutions to cuBLAS ``Gemm`` steps (``blas.py``) -- bias and a leading residual add pre-filled
into the accumulator (``beta = 1``), the rest of the fused epilogue as one elementwise kernel after the GEMM,
convolutions through ``im2col`` -- or, for ``precision`` "tf32"/"fp16" without cuBLAS, to the tensor-core GEMM
kernel (``mma.py``)."""
from __future__ import annotations

from numba import cuda, int32

from ...ir.node import Node
from ..cpu.buffers import Buf
from . import blas
from .codegen import CudaEmitter
from .elementwise import lower_loop


@cuda.jit(cache=True)
def im2col(planes, Cg, P, OW, KH, KW, xs, H, W, sh, sw, ph, pw, dh, dw, x, xo, col, co):
    """``col[n, ci * KH * KW + t, p]`` = the input pixel under tap ``t`` of output pixel ``p`` (0 in the padding)
    for the images of ``x`` (offset ``xo`` at the chunk's first image). Grid: x over pixels, y (strided) over the
    ``planes`` = images x input channels; a thread writes all KH x KW taps of its pixel in a plane (coalesced rows,
    no per-element division: int64 division costs tens of instructions on the GPU)."""
    p = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    if p >= P:
        return
    ow32 = int32(OW)
    p32 = int32(p)
    oh = p32 // ow32
    ih0 = oh * sh - ph
    iw0 = (p32 - oh * ow32) * sw - pw
    cg32 = int32(Cg)
    stride = KH * KW * P
    q = cuda.blockIdx.y
    while q < planes:
        q32 = int32(q)
        n = q32 // cg32
        src = xo + n * xs[0] + (q32 - n * cg32) * xs[1]
        dst = co + q * stride + p
        for kh in range(KH):
            ih = ih0 + kh * dh
            inside = ih >= 0 and ih < H
            for kw in range(KW):
                iw = iw0 + kw * dw
                if inside and iw >= 0 and iw < W:
                    col[dst] = x[src + ih * xs[2] + iw * xs[3]]
                else:
                    col[dst] = 0
                dst += P
        q += cuda.gridDim.y


def emit_im2col(em: CudaEmitter, x: Buf, col: Buf, images: int, kdim: int, p: int, ow: int, geo: tuple) -> None:
    kh, kw, sh, sw, ph, pw, dh, dw = geo
    planes = images * x.shape[1]
    block = min(256, 32 * -(-p // 32))
    em.launch_grid(im2col, (-(-p // block), min(planes, 65535)), (block,), planes, x.shape[1], p, ow, kh, kw,
                   tuple(x.strides), x.shape[2], x.shape[3], sh, sw, ph, pw, dh, dw, x, col)


def epilogue_after(em: CudaEmitter, node: Node, steps: list[tuple], acc: Buf) -> bool:
    """``steps[1:]`` (the fused elementwise chain) over the accumulator ``acc`` holding the heavy op's result (bias
    included: pre-filled, measured faster than a broadcast bias operand, which makes the epilogue a strided kernel)."""
    if len(steps) == 1:
        return True
    operands = [acc] + [em.buf(a) for a in node.args]
    shifted = [(name, attrs, tuple(("in", 0) if (k == "tmp" and i == 0) else ("tmp", i - 1) if k == "tmp"
                                   else ("in", i + 1) if k == "in" else (k, i) for k, i in ops))
               for name, attrs, ops in steps[1:]]
    return lower_loop(em, node, operands, shifted)


def take_residual(em: CudaEmitter, node: Node | None, steps: list[tuple], out: Buf) -> tuple[list[tuple], Buf | None]:
    """``(steps, None)``, or, when the epilogue starts with a residual add (a dense operand of the output's shape and
    dtype) and no later step reads the bare GEMM result, ``(steps without that add, the residual)``: the residual is
    then pre-filled into the accumulator with the bias and the GEMM adds onto it (``beta = 1``), one elementwise
    kernel fewer."""
    if node is None or len(steps) < 2:
        return steps, None
    name, _, ops = steps[1]
    others = [o for o in ops if o != ("tmp", 0)]
    if name != "add" or len(others) != 1 or others[0][0] != "in" or \
            any(("tmp", 0) in later for _, _, later in steps[2:]):
        return steps, None
    res = em.buf(node.args[others[0][1]])
    if res.shape != out.shape or res.dtype != out.dtype or not res.contiguous:
        return steps, None
    rest = [(n, a, tuple(("tmp", j - 1) if k == "tmp" else (k, j) for k, j in later)) for n, a, later in steps[2:]]
    return [steps[0]] + rest, res


def prefill(em: CudaEmitter, acc: Buf, bias: Buf | None, inner: int, channels: int, res: Buf | None) -> None:
    """``acc = bias (channel (i // inner) % channels) + res`` (either may be None: 0) before a GEMM with beta = 1."""
    from .gemm import _split_module

    em.launch(_split_module(acc.dtype).bias_fill, acc.size, acc.size, inner, channels,
              bias if bias is not None else acc, bias is not None, res if res is not None else acc, res is not None,
              acc)


def gemm(em: CudaEmitter, node: Node | None, steps: list[tuple], a: Buf, b: Buf, batch: int, a_bs: int, b_bs: int,
         m: int, n: int, k: int, bias: Buf | None, bias_mode: int, out: Buf) -> bool:
    """``out[z] = a[z] @ b[z] (+ bias) -> epilogue`` as one cuBLAS call; False when the operands do not suit it."""
    steps, res = take_residual(em, node, steps, out)
    acc = out if len(steps) == 1 else em.scratch(out.shape, out.dtype)
    filled = bias is not None or res is not None
    g = blas.plan_gemm(em.node, a, b, acc, batch, a_bs, b_bs, m * n, m, n, k, 1.0 if filled else 0.0)
    if g is None:
        return False
    if filled:
        prefill(em, acc, bias, 1 if bias_mode == 1 else n, n if bias_mode == 1 else m, res)
    em.program.append(g)
    return epilogue_after(em, node, steps, acc)


def conv2d(em: CudaEmitter, node: Node, steps: list[tuple], x: Buf, w: Buf, bias: Buf | None, out: Buf,
           geo: tuple, on_blas: bool = True) -> bool:
    """A one-group 2-d convolution (1-d as height 1) as strided-batched GEMMs: per image ``out (O, P) = w (O, K) @
    col (K, P)``; ``col`` is the input itself for 1x1 stride-1 unpadded kernels, else an im2col buffer filled per
    chunk of images. The GEMMs are cuBLAS ``Gemm`` steps (``on_blas``; bias pre-filled) or the tensor-core kernel
    (``precision`` "tf32"/"fp16" without cuBLAS; bias added by the kernel)."""
    kh, kw, sh, sw, ph, pw, dh, dw = geo
    nb, c, h, wd = x.shape
    o = w.shape[0]
    p = out.shape[2] * out.shape[3] if out.ndim == 4 else out.shape[2]
    ow = out.shape[-1]
    kdim = c * kh * kw
    steps, res = take_residual(em, node, steps, out) if on_blas else (steps, None)
    acc = out if len(steps) == 1 else em.scratch(out.shape, out.dtype)
    w2 = Buf(w.arena, w.offset, (o, kdim), (kdim, 1), w.dtype)
    xs = x.strides
    col = None
    # (input chunk to im2col or None, images, B matrix, destination, B batch stride, K)
    if kh == kw == 1 and sh == sw == 1 and ph == pw == 0 and (h == 1 or xs[2] == wd * xs[3]):
        chunks = [(None, nb, Buf(x.arena, x.offset, (c, p), (xs[1], xs[3]), x.dtype), acc, xs[0], c)]
    else:
        per_image = kdim * p
        step = max(1, min(nb, blas.COL_BYTES // (per_image * x.dtype.itemsize)))
        col = em.scratch((step * per_image,), x.dtype)
        cb = Buf(col.arena, col.offset, (kdim, p), (p, 1), col.dtype)
        chunks = [(Buf(x.arena, x.offset + n0 * xs[0], x.shape, xs, x.dtype), min(step, nb - n0), cb,
                   Buf(acc.arena, acc.offset + n0 * o * p, (o, p), (p, 1), acc.dtype), per_image, kdim)
                  for n0 in range(0, nb, step)]
    if on_blas:
        filled = bias is not None or res is not None
        gemms = [blas.plan_gemm(em.node, w2, b, dst, cnt, 0, b_bs, o * p, o, p, k, 1.0 if filled else 0.0)
                 for _, cnt, b, dst, b_bs, k in chunks]
        if any(g is None for g in gemms):
            return False
        if filled:
            prefill(em, acc, bias, p, o, res)
    from .gemm import tc_gemm

    for i, (xn, cnt, b, dst, b_bs, k) in enumerate(chunks):
        if xn is not None:
            emit_im2col(em, xn, col, cnt, kdim, p, ow, geo)
        if on_blas:
            em.program.append(gemms[i])
        else:
            tc_gemm(em, w2, b, dst, cnt, 0, b_bs, o * p, o, p, k, bias, 2)
    return epilogue_after(em, node, steps, acc)
