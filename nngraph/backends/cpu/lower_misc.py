"""CPU lowering of the ops no other family covers.

* tile / repeat / setitem / attention_append: strided copies between ``Buf`` views (``lower_vision.copy``): the
  output is viewed with one extra (repetition) dim per tiled or repeated axis, the source is broadcast over it.
* normalize / cosine_similarity / pairwise_distance / pdist: p-norms with the reference's scaling by the largest
  magnitude (``kernels_misc.pnorm``).
* batch_norm_stats: per-channel mean and biased variance in float64 (two passes, as the reference).
* bilinear: ``x1 @ W`` as one GEMM, then a batched contraction with ``x2``.
* max_unpool: a scatter with the reference's range check.
* conv_transpose (1-3 spatial dims, groups, dilation, output_padding): per (image, group) one GEMM
  ``W_g^T (taps*O/G, C/G) @ x_g (C/G, in pixels)`` then col2im (``kernels_misc.col2im3``; when stride == kernel
  and nothing is padded every output gets one tap, ``col2im3_disjoint`` writes each once: 2.1x faster on
  U-Net's 2x2 stride-2 upsampling, unet 0.953 (0.933-0.958) at two threads, ``bench/ab.py --in-process``).

``embedding_renorm`` stays on the host: see the comment at its entry below.

float32/float64 (the copies also integers and bool); float16 stays on the host (Numba has no float16 arrays).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ...ir.node import Node
from ...ops.registry import register_lowering
from . import kernels_misc as K
from .buffers import Buf
from .codegen import Emitter
from .lower_vision import FLOATS, copy, dense, spatial3


def _copyable(dtype: np.dtype) -> bool:
    return np.dtype(dtype).kind in "fiub" and np.dtype(dtype) != np.float16


# ---------------------------------------------------------------------------------------------------- data movement
def _tiled(buf: Buf, dims: list[tuple[int, int, int]]) -> Buf:
    """A view of ``buf`` with each dim split into (outer, inner) parts: ``dims`` holds (dim, outer, inner)."""
    shape: list[int] = []
    strides: list[int] = []
    for d, (size, st) in enumerate(zip(buf.shape, buf.strides)):
        split = [x for x in dims if x[0] == d]
        if split:
            _, outer, inner = split[0]
            shape += [outer, inner]
            strides += [inner * st, st]
        else:
            shape.append(size)
            strides.append(st)
    return Buf(buf.arena, buf.offset, tuple(shape), tuple(strides), buf.dtype)


@register_lowering("tile", "cpu")
def _tile(em: Emitter, node: Node) -> bool:
    x = em.buf(node.args[0])
    if not _copyable(x.dtype):
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    reps = tuple(int(r) for r in node.attrs["reps"])
    nd = out.ndim
    reps = (1,) * (nd - len(reps)) + reps
    lead = nd - x.ndim
    xs = Buf(x.arena, x.offset, (1,) * lead + x.shape, (0,) * lead + x.strides, x.dtype)
    # out[r * s + i] (per dim) = x[i]: out viewed as (reps, size) pairs, x broadcast over the reps
    dst = _tiled(out, [(d, reps[d], xs.shape[d]) for d in range(nd)])
    src_shape, src_strides = [], []
    for d in range(nd):
        src_shape += [reps[d], xs.shape[d]]
        src_strides += [0, xs.strides[d]]
    return copy(em, Buf(xs.arena, xs.offset, tuple(src_shape), tuple(src_strides), x.dtype), dst)


@register_lowering("repeat", "cpu")
def _repeat(em: Emitter, node: Node) -> bool:
    x = em.buf(node.args[0])
    if not _copyable(x.dtype):
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    repeats, axis = int(node.attrs["repeats"]), node.attrs["axis"]
    if axis is None or x.ndim == 0:
        x = dense(em, node.args[0])
        if x is None:
            return False
        x, axis = x.reshape((x.size,)), 0
    axis %= x.ndim
    # out[i * repeats + r] = x[i] along axis: out viewed as (size, repeats), x broadcast over the repeats
    shape = x.shape[:axis + 1] + (repeats,) + x.shape[axis + 1:]
    dst_st = out.strides[:axis] + (out.strides[axis] * repeats, out.strides[axis]) + out.strides[axis + 1:]
    src_st = x.strides[:axis + 1] + (0,) + x.strides[axis + 1:]
    src = Buf(x.arena, x.offset, shape, src_st, x.dtype)
    return copy(em, src, Buf(out.arena, out.offset, shape, dst_st, out.dtype))


@register_lowering("setitem", "cpu")
def _setitem(em: Emitter, node: Node) -> bool:
    """Functional ``x[index] = value``: a copy of ``x``, then ``value`` (broadcast, cast) into the indexed view."""
    x, v = em.buf(node.args[0]), em.buf(node.args[1])
    if not (_copyable(x.dtype) and _copyable(v.dtype)) or not np.can_cast(v.dtype, x.dtype, "same_kind"):
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    target = out.index(node.attrs["index"])
    return copy(em, x, out) and copy(em, v.broadcast_to(target.shape), target)


@register_lowering("attention_append", "cpu")
def _attention_append(em: Emitter, node: Node) -> bool:
    x = em.buf(node.args[0])
    extra = em.buf(node.args[1]) if node.args[1] is not None else None
    if not _copyable(x.dtype) or (extra is not None and not _copyable(extra.dtype)):
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    axis = node.attrs["axis"] % out.ndim
    n = x.shape[axis]

    def part(start: int, stop: int) -> Buf:
        return out.index(tuple(("s", start, stop, None) if d == axis else ("s", None, None, None)
                               for d in range(out.ndim)))

    if not copy(em, x, part(0, n)):
        return False
    tail = part(n, out.shape[axis])
    if extra is None:
        return _fill(em, tail, 0)
    return copy(em, extra.broadcast_to(tail.shape), tail)


def _fill(em: Emitter, dst: Buf, value: float) -> bool:
    """``dst[...] = value`` for a view of up to 6 (collapsed) dims."""
    from .buffers import collapse, pad_dims

    if dst.size == 0:
        return True
    shape, (st,) = collapse(dst.shape, dst.strides)
    if len(shape) > 6:
        return False
    shape, (st,) = pad_dims(shape, [st])
    em.call(K.fill, dst, st, shape, value)
    return True


# ---------------------------------------------------------------------------------------------------- norms
def _float_dense(em: Emitter, name: str, shape: tuple[int, ...]) -> Buf | None:
    """``name`` broadcast to ``shape`` as a dense float32/float64 Buf (copied when it is a view), or None."""
    b = em.buf(name)
    if b.dtype not in FLOATS:
        return None
    if b.shape == shape and b.contiguous:
        return b
    dst = em.scratch(shape, b.dtype)
    return dst if copy(em, b.broadcast_to(shape), dst) else None


def _p_ok(p: float) -> bool:
    """p-norms the kernel matches: p >= 0 and -inf (a negative finite p raises tiny powers in float32 past its
    range, where float64 does not)."""
    return p >= 0 or p == -math.inf


def _blocks(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, int, int] | None:
    """(outer, reduced, inner) sizes when ``axes`` are consecutive, else None."""
    axes = tuple(sorted(a % len(shape) for a in axes))
    if not axes or axes != tuple(range(axes[0], axes[0] + len(axes))):
        return None
    return (math.prod(shape[:axes[0]]), math.prod(shape[axes[0]:axes[-1] + 1]), math.prod(shape[axes[-1] + 1:]))


@register_lowering("normalize", "cpu")
def _normalize(em: Emitter, node: Node) -> bool:
    spec = node.spec
    p, dim = float(node.attrs["p"]), node.attrs["dim"]
    if spec.dtype not in FLOATS or not _p_ok(p):
        return False
    shape = spec.shape or (1,)
    blocks = _blocks(shape, tuple(dim) if isinstance(dim, (tuple, list)) else (dim,))
    if blocks is None:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    x = _float_dense(em, node.args[0], spec.shape)
    if x is None:
        return False
    em.call(K.normalize, x, out, *blocks, p, float(node.attrs["eps"]))
    return True


def _pair(em: Emitter, node: Node) -> tuple[Buf, Buf, tuple[int, ...]] | None:
    a, b = (em.graph[n].spec for n in node.args[:2])
    if node.spec.dtype not in FLOATS or a.dtype != b.dtype:
        return None
    shape = tuple(np.broadcast_shapes(a.shape, b.shape))
    x1, x2 = _float_dense(em, node.args[0], shape), _float_dense(em, node.args[1], shape)
    return None if x1 is None or x2 is None else (x1, x2, shape)


@register_lowering("cosine_similarity", "cpu")
def _cosine_similarity(em: Emitter, node: Node) -> bool:
    out = em.out(node)
    if out.size == 0:
        return node.spec.dtype in FLOATS
    pair = _pair(em, node)
    if pair is None:
        return False
    x1, x2, shape = pair
    outer, r, inner = _blocks(shape or (1,), (node.attrs["dim"],))
    em.call(K.cosine, x1, x2, out, outer, r, inner, float(node.attrs["eps"]))
    return True


@register_lowering("pairwise_distance", "cpu")
def _pairwise_distance(em: Emitter, node: Node) -> bool:
    p = float(node.attrs["p"])
    out = em.out(node)
    if out.size == 0:
        return node.spec.dtype in FLOATS
    if not _p_ok(p):
        return False
    pair = _pair(em, node)
    if pair is None:
        return False
    x1, x2, shape = pair
    r = shape[-1] if shape else 1
    em.call(K.pairwise, x1, x2, out, out.size, r, p, float(node.attrs["eps"]))
    return True


@register_lowering("pdist", "cpu")
def _pdist(em: Emitter, node: Node) -> bool:
    p = float(node.attrs["p"])
    if node.spec.dtype not in FLOATS or not _p_ok(p):
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    x = _float_dense(em, node.args[0], em.graph[node.args[0]].spec.shape)
    if x is None:
        return False
    em.call(K.pdist, x, out, x.shape[0], x.shape[1], p)
    return True


# ---------------------------------------------------------------------------------------------------- statistics
@register_lowering("batch_norm_stats", "cpu")
def _batch_norm_stats(em: Emitter, node: Node) -> bool:
    xs = em.graph[node.args[0]].spec
    if xs.dtype not in FLOATS or xs.ndim < 2:
        return False
    mean_spec, var_spec = node.spec
    mean, var = em.scratch(mean_spec.shape, mean_spec.dtype), em.scratch(var_spec.shape, var_spec.dtype)
    em.bufs[node.name] = (mean, var)
    n, c = xs.shape[:2]
    if c == 0:
        return True
    s = math.prod(xs.shape[2:])
    x = dense(em, node.args[0]) if n * s else em.buf(node.args[0])
    if x is None:
        return False
    em.call(K.channel_moments, x, mean, var, n, c, s)
    return True


# ---------------------------------------------------------------------------------------------------- bilinear
def _bilinear_weight(w: np.ndarray) -> np.ndarray:
    """(out, in1, in2) -> (in1, out * in2), flat: the right operand of ``x1 @ W``."""
    return np.ascontiguousarray(w.transpose(1, 0, 2)).reshape(-1)


@register_lowering("bilinear", "cpu")
def _bilinear(em: Emitter, node: Node) -> bool:
    from .kernels.epilogue import ACT_NONE
    from .kernels_heavy import matmul_2d

    spec = node.spec
    x1n, x2n, wn, bn = node.args
    ws = em.graph[wn].spec
    if spec.dtype not in FLOATS or any(em.graph[a].spec.dtype != spec.dtype for a in (x1n, x2n, wn)) or \
            (bn is not None and em.graph[bn].spec.dtype != spec.dtype):
        return False
    n_out, n_in1, n_in2 = ws.shape
    out = em.out(node)
    if out.size == 0:
        return True
    n = out.size // n_out
    x1, x2 = dense(em, x1n), dense(em, x2n)
    if x1 is None or x2 is None:
        return False
    if em.is_weight(wn):
        wt = em.derived_weight(wn, _bilinear_weight, math.prod(ws.shape),
                               "bilinear_t")
    else:
        wt = em.scratch((n_in1, n_out, n_in2), spec.dtype)
        if not copy(em, em.buf(wn).transpose((1, 0, 2)), wt):
            return False
    t = em.scratch((n, n_out * n_in2), spec.dtype)
    if n_in1 == 0:
        _fill(em, t, 0)
    else:
        em.call(matmul_2d, n, n_in1, n_out * n_in2, x1, wt, t, 0, ACT_NONE, 0.0, 0.0, t)
    bias = dense(em, bn) if bn is not None else None
    em.call(K.bilinear_contract, t, x2, *((bias, 1) if bias is not None else (out, 0)), out, n, n_out, n_in2)
    return True


# ---------------------------------------------------------------------------------------------------- max unpool
@register_lowering("max_unpool", "cpu")
def _max_unpool(em: Emitter, node: Node) -> bool:
    xs, ids = (em.graph[a].spec for a in node.args)
    if not _copyable(xs.dtype) or ids.dtype.kind not in "iu" or xs.ndim < 2:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    x, idx = dense(em, node.args[0]), dense(em, node.args[1])
    if x is None or idx is None:
        return False
    planes = xs.shape[0] * xs.shape[1]
    em.call(K.max_unpool, x, idx, out, planes, x.size // planes if planes else 0, out.size // planes)
    return True


# ---------------------------------------------------------------------------------------------------- conv_transpose
@register_lowering("conv_transpose", "cpu")
def _conv_transpose(em: Emitter, node: Node) -> bool:
    spec = node.spec
    xn, wn, bn = node.args
    xs, ws = em.graph[xn].spec, em.graph[wn].spec
    nd = xs.ndim - 2
    if spec.dtype not in FLOATS or ws.dtype != spec.dtype or xs.dtype != spec.dtype or not 1 <= nd <= 3 or \
            (bn is not None and em.graph[bn].spec.dtype != spec.dtype):
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    a = node.attrs
    n, c = xs.shape[:2]
    g = int(a["groups"])
    og = ws.shape[1]
    if 0 in xs.shape or 0 in ws.shape:
        return False
    x, w = dense(em, xn), dense(em, wn)
    if x is None or w is None:
        return False
    k3 = spatial3(ws.shape[2:], 1)
    i3, o3 = spatial3(xs.shape[2:], 1), spatial3(spec.shape[2:], 1)
    taps, pin = math.prod(k3), math.prod(i3)
    prepared = em.is_weight(wn)  # a parameter: transposed once per weight version, not per call
    if prepared:
        wt = em.derived_weight(wn, functools.partial(_conv_transpose_weight, groups=g), math.prod(ws.shape),
                               "convt_t")
    else:
        wt = em.scratch((math.prod(ws.shape),), spec.dtype)
    cb = em.scratch((taps * og * pin,), spec.dtype)
    bias = dense(em, bn) if bn is not None else None
    em.call(K.conv_transpose, x, w, *((bias, 1) if bias is not None else (out, 0)), out, n, c, og, g, i3, o3, k3,
            spatial3(a["stride"], 1), spatial3(a["dilation"], 1), spatial3(a["padding"], 0), wt, int(prepared), cb)
    return True


def _conv_transpose_weight(w: np.ndarray, groups: int) -> np.ndarray:
    """The GEMM operand of :func:`kernels_misc.conv_transpose`: wt[g, t*og + m, ci] = w[g*cg + ci, m, t]."""
    c, og = w.shape[:2]
    return np.ascontiguousarray(w.reshape(groups, c // groups, og, -1).transpose(0, 3, 2, 1)).reshape(-1)


# embedding_renorm stays on the host. nn.Embedding(max_norm=...) renormalizes the user's weight IN PLACE, which a
# compiled graph cannot do (its weight arena is a copy of the parameter), so F.embedding graph-breaks there and the
# module runs eagerly: the op never reaches a compiled graph from a layer. Only a direct call of the functional op
# records it; lowering that (sound: it writes a fresh output) is not worth a kernel.
