"""CUDA lowering of ``unfold`` (im2col: the kernel the cuBLAS convolutions use) and ``fold`` (col2im as a gather: each
output pixel sums the blocks that cover it, so no atomics), for 2-d windows (``nn.functional``'s; other ranks run on
the host)."""
from __future__ import annotations

from numba import cuda

from ...ir.node import Node
from ...ops.registry import register_lowering
from ...ops.vision import _blocks
from .codegen import CudaEmitter
from .lower_blas import emit_im2col


@cuda.jit(cache=True)
def col2im(total, C, OH, OW, BH, BW, KH, KW, sh, sw, ph, pw, dh, dw, x, xo, xs, out, oo):
    """``out[n, c, h, w]`` = the sum over taps (kh, kw) of the block entry whose window puts that tap on (h, w)."""
    i = cuda.grid(1)
    step = cuda.gridsize(1)
    while i < total:
        w = i % OW
        r = i // OW
        h = r % OH
        r //= OH
        c = r % C
        n = r // C
        acc = 0.0
        for kh in range(KH):
            y = h + ph - kh * dh
            if y < 0 or y % sh != 0 or y // sh >= BH:
                continue
            for kw in range(KW):
                z = w + pw - kw * dw
                if z < 0 or z % sw != 0 or z // sw >= BW:
                    continue
                acc += x[xo + n * xs[0] + ((c * KH + kh) * KW + kw) * xs[1] + ((y // sh) * BW + z // sw) * xs[2]]
        out[oo + i] = acc
        i += step


def _geometry(attrs: dict) -> tuple[tuple[int, int], ...]:
    """(kernel, stride, padding, dilation) pairs."""
    return tuple(tuple(attrs[k]) for k in ("kernel_size", "stride", "padding", "dilation"))  # type: ignore[misc]


@register_lowering("unfold", "cuda")
def _unfold(em: CudaEmitter, node: Node) -> bool:
    x = em.buf(node.args[0])
    nd = len(node.attrs["kernel_size"])
    if x.dtype.kind != "f" or nd != 2 or x.ndim != 4:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = _geometry(node.attrs)
    bh, bw = _blocks(x.shape[2:], (kh, kw), (dh, dw), (ph, pw), (sh, sw))
    emit_im2col(em, x, out, x.shape[0], x.shape[1] * kh * kw, bh * bw, bw, (kh, kw, sh, sw, ph, pw, dh, dw))
    return True


@register_lowering("fold", "cuda")
def _fold(em: CudaEmitter, node: Node) -> bool:
    x = em.buf(node.args[0])
    nd = len(node.attrs["kernel_size"])
    if x.dtype.kind != "f" or nd != 2 or x.ndim != 3:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = _geometry(node.attrs)
    oh, ow = node.attrs["output_size"]
    bh, bw = _blocks((oh, ow), (kh, kw), (dh, dw), (ph, pw), (sh, sw))
    em.launch(col2im, out.size, out.size, out.shape[1], oh, ow, bh, bw, kh, kw, sh, sw, ph, pw, dh, dw, x,
              tuple(x.strides), out)
    return True
