"""CUDA lowering rules: softmax/log_softmax, layer_norm, reductions, pooling, embedding, pixel shuffle."""
from __future__ import annotations

import numpy as np

from ...ir.node import Node
from ...ops.registry import register_lowering
from ..cpu.buffers import Buf, collapse
from . import kernels_misc as K
from . import rows as R
from .codegen import CudaEmitter
from .kernels_basic import emit_copy


def _float(*dtypes: np.dtype) -> bool:
    return all(np.dtype(d) in (np.float32, np.float64) for d in dtypes)


@register_lowering("softmax", "cuda")
@register_lowering("log_softmax", "cuda")
def _softmax(em: CudaEmitter, node: Node) -> bool:
    x = em.buf(node.args[0])
    if not _float(x.dtype, node.spec.dtype):
        return False
    axis = node.attrs["axis"]
    a = x.shape[axis]
    out = em.out(node)
    if out.size == 0:
        return True
    x = em.dense(node.args[0])
    inner = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
    rows = x.size // a
    em.launch_grid(R.softmax_rows, R.row_grid(rows), (R.row_threads(a),), rows, a, inner, x, out,
                   node.target == "log_softmax")
    return True


@register_lowering("layer_norm", "cuda")
def _layer_norm(em: CudaEmitter, node: Node) -> bool:
    x_name, w_name, b_name = node.args
    d = int(np.prod(node.attrs["normalized_shape"], dtype=np.int64))
    return _norm(em, node, x_name, w_name, b_name, d, 1, d, False)  # affine parameters indexed by row position


# a block per output (rows.reduce_block) for reductions of at least this many elements into fewer outputs than
# this; one thread per output otherwise (kernels_misc.reduce_axes)
LONG_REDUCTION, FEW_OUTPUTS = 64, 4096

_REDUCE = {"sum": 0, "mean": 1, "max": 2, "min": 3, "prod": 4, "any": 5, "all": 6, "var": 7, "std": 8,
           "argmax": 9, "argmin": 10}


def _reduce(em: CudaEmitter, node: Node) -> bool:
    x = em.buf(node.args[0])
    op = _REDUCE[node.target]
    kinds = "fiub" if node.target in ("any", "all", "argmax", "argmin") else "f" if op >= 4 else "fiu"
    if x.dtype.kind not in kinds or node.spec.dtype.kind not in "fiub":
        return False
    axis = node.attrs["axis"]
    axes = tuple(range(x.ndim)) if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
    if op >= 9 and x.dtype.kind == "b":
        return False
    return emit_reduce(em, x, axes, em.out(node), op, int(node.attrs.get("ddof", 0)))


def emit_reduce(em: CudaEmitter, x: Buf, axes: tuple[int, ...], out: Buf, op: int, ddof: int = 0) -> bool:
    """``out`` (dense, the kept dims in order) = reduction ``op`` of ``x`` over ``axes`` (``kernels_misc.
    reduce_axes``'s codes); False (before launching) when it cannot."""
    axes = tuple(sorted(a % x.ndim for a in axes)) if x.ndim else ()
    kept = [d for d in range(x.ndim) if d not in axes]
    red = [d for d in axes]
    if out.size == 0:
        return True
    r_total = int(np.prod([x.shape[d] for d in red], dtype=np.int64))
    if r_total == 0 and op in (2, 3, 9, 10):
        return False  # numpy raises: let the host say so
    ks, (kst,) = collapse(tuple(x.shape[d] for d in kept), tuple(x.strides[d] for d in kept))
    rs, (rst,) = collapse(tuple(x.shape[d] for d in red), tuple(x.strides[d] for d in red))
    if len(ks) > 4 or len(rs) > 4:
        return False
    ks, kst = (1,) * (4 - len(ks)) + ks, (0,) * (4 - len(kst)) + kst
    rs, rst = (1,) * (4 - len(rs)) + rs, (0,) * (4 - len(rst)) + rst
    if op in (0, 1, 2, 3, 7, 8) and r_total >= LONG_REDUCTION and out.size < FEW_OUTPUTS:
        em.launch_grid(R.reduce_block, R.row_grid(out.size), (R.row_threads(r_total),), out.size, ks, kst, r_total,
                       rs, rst, x, out, op, ddof)
        return True
    em.launch(K.reduce_axes, out.size, out.size, ks, kst, r_total, rs, rst, x, out, op, ddof)
    return True


for _n in _REDUCE:
    register_lowering(_n, "cuda")(_reduce)


def _norm(em: CudaEmitter, node: Node, x_name: str, w_name: str | None, b_name: str | None, d: int, wdiv: int,
          wmod: int, rms: bool) -> bool:
    x = em.buf(x_name)
    if not _float(x.dtype, node.spec.dtype) or any(n is not None and not _float(em.buf(n).dtype)
                                                   for n in (w_name, b_name)):
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    if d == 0:
        return False
    x = em.dense(x_name)
    w = em.dense(w_name) if w_name is not None else out
    b = em.dense(b_name) if b_name is not None else out
    rows = x.size // d
    em.launch_grid(R.norm_rows, R.row_grid(rows), (R.row_threads(d),), rows, d, x, w, w_name is not None, b,
                   b_name is not None, float(node.attrs["eps"]), max(wdiv, 1), max(wmod, 1), rms, out)
    return True


@register_lowering("group_norm", "cuda")
def _group_norm(em: CudaEmitter, node: Node) -> bool:
    x_name, w, b = node.args
    shape = em.buf(x_name).shape
    if len(shape) < 2:
        return False
    spatial = int(np.prod(shape[2:], dtype=np.int64))
    d = shape[1] // node.attrs["num_groups"] * spatial
    return _norm(em, node, x_name, w, b, d, spatial, shape[1], False)


@register_lowering("instance_norm", "cuda")
def _instance_norm(em: CudaEmitter, node: Node) -> bool:
    x_name, w, b = node.args
    shape = em.buf(x_name).shape
    if len(shape) < 3:
        return False
    spatial = int(np.prod(shape[2:], dtype=np.int64))
    return _norm(em, node, x_name, w, b, spatial, spatial, shape[1], False)


@register_lowering("rms_norm", "cuda")
def _rms_norm(em: CudaEmitter, node: Node) -> bool:
    x_name, w = node.args
    d = int(np.prod(node.attrs["normalized_shape"], dtype=np.int64))
    return _norm(em, node, x_name, w, None, d, 1, d, True)


def _with_depth(x: Buf, ndim: int) -> Buf | None:
    """A batched (N, C, *spatial) buffer with size-1 leading spatial dims inserted up to ``ndim`` dims (1-d and 2-d
    pooling run as 2-d or 3-d); None where it has fewer than 3 or more than ``ndim`` dims."""
    if x.ndim < 3 or x.ndim > ndim:
        return None
    k = ndim - x.ndim
    return Buf(x.arena, x.offset, x.shape[:2] + (1,) * k + x.shape[2:], x.strides[:2] + (0,) * k + x.strides[2:],
               x.dtype)


def _pool_input(em: CudaEmitter, node: Node) -> Buf | None:
    """The pooled input as a floating (N, C, D, H, W) buffer, or None where this backend does not pool it."""
    x = _with_depth(em.buf(node.args[0]), 5)
    return x if x is not None and _float(x.dtype) else None


def _lead(v: tuple, n: int, fill: int) -> tuple:
    """``v`` with ``fill`` prepended up to ``n`` entries (a 1-d/2-d window as a 2-d/3-d one)."""
    return (fill,) * (n - len(v)) + tuple(v)


@register_lowering("lp_pool", "cuda")
def _lp_pool(em: CudaEmitter, node: Node) -> bool:
    x = _pool_input(em, node)
    if x is None:
        return False
    a = node.attrs
    out = em.out(node)
    if out.size == 0:
        return True
    em.launch(K.lp_pool3d, out.size, out.size, x.shape[1], *_lead(out.shape[2:], 3, 1), *x.shape[2:], x.strides,
              _lead(a["kernel_size"], 3, 1), _lead(a["stride"], 3, 1), x, out, float(a["norm_type"]),
              int(np.prod(a["kernel_size"])))
    return True


@register_lowering("max_pool", "cuda")
@register_lowering("avg_pool", "cuda")
def _pool(em: CudaEmitter, node: Node) -> bool:
    x = _pool_input(em, node)
    if x is None:
        return False
    a = node.attrs
    out = em.out(node)
    if out.size == 0:
        return True
    avg = node.target == "avg_pool"
    divisor = (a["divisor_override"] or 0) if avg else 0
    em.launch(K.pool3d, out.size, out.size, x.shape[1], *_lead(out.shape[2:], 3, 1), *x.shape[2:], x.strides,
              _lead(a["kernel_size"], 3, 1), _lead(a["stride"], 3, 1), _lead(a["padding"], 3, 0),
              _lead(a.get("dilation", ()), 3, 1), x, out, int(avg), bool(a.get("count_include_pad", True)),
              divisor)
    return True


@register_lowering("adaptive_avg_pool", "cuda")
@register_lowering("adaptive_max_pool", "cuda")
def _adaptive(em: CudaEmitter, node: Node) -> bool:
    x = _pool_input(em, node)
    if x is None:
        return False
    out = em.out(node)
    if out.size:
        em.launch(K.adaptive_pool3d, out.size, out.size, x.shape[1], *_lead(out.shape[2:], 3, 1), *x.shape[2:],
                  x.strides, x, out, int(node.target == "adaptive_avg_pool"))
    return True


@register_lowering("max_pool_with_indices", "cuda")
@register_lowering("adaptive_max_pool_with_indices", "cuda")
def _pool_indices(em: CudaEmitter, node: Node) -> bool:
    x = _pool_input(em, node)
    if x is None:
        return False
    a = node.attrs
    adaptive = node.target == "adaptive_max_pool_with_indices"
    if adaptive:
        geo = ((1, 1, 1), (1, 1, 1), (0, 0, 0), (1, 1, 1))
    else:
        geo = (_lead(a["kernel_size"], 3, 1), _lead(a["stride"], 3, 1), _lead(a["padding"], 3, 0),
               _lead(a["dilation"], 3, 1))
    values, indices = (em.scratch(s.shape, s.dtype) for s in node.spec)
    em.bufs[node.name] = (values, indices)
    if values.size == 0:
        return True
    em.launch(K.pool3d_indices, values.size, values.size, x.shape[1], *_lead(values.shape[2:], 3, 1), *x.shape[2:],
              x.strides, *geo, adaptive, x, values, indices)
    return True


@register_lowering("take", "cuda")
def _take(em: CudaEmitter, node: Node) -> bool:
    x_name, idx_name = node.args
    xs, ids = em.graph[x_name].spec, em.graph[idx_name].spec
    if ids.dtype.kind not in "iu" or xs.ndim == 0:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    axis = int(node.attrs["axis"]) % xs.ndim
    size = xs.shape[axis]
    post = int(np.prod(xs.shape[axis + 1:], dtype=np.int64))
    x, idx = em.dense(x_name), em.dense(idx_name)
    with em.value_check(f"take: an index outside [-{size}, {size})") as flag:
        em.launch(K.take_axis, out.size, out.size, idx.size, size, post, x, idx, flag, out)
    return True


@register_lowering("batch_norm_stats", "cuda")
def _batch_norm_stats(em: CudaEmitter, node: Node) -> bool:
    x = em.buf(node.args[0])
    if not _float(x.dtype) or x.ndim < 2:
        return False
    mean, var = (em.scratch(s.shape, s.dtype) for s in node.spec)
    em.bufs[node.name] = (mean, var)
    if mean.size == 0:
        return True
    x = em.dense(node.args[0])
    n, c = x.shape[:2]
    x3 = x.reshape((n, c, x.size // (n * c) if n * c else 0))
    em.launch(K.channel_moments, c, c, n, x3.shape[2], x3, x3.strides, mean, var)
    return True


@register_lowering("embedding_bag", "cuda")
def _embedding_bag(em: CudaEmitter, node: Node) -> bool:
    wn, indn, offn, pswn = node.args
    w, ind, off = em.buf(wn), em.buf(indn), em.buf(offn)
    if w.ndim != 2 or not _float(w.dtype) or ind.dtype.kind not in "iu" or off.dtype.kind not in "iu" or \
            ind.size == 0 or off.size == 0:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    a = node.attrs
    pad = a["padding_idx"]
    em.launch(K.embedding_bag_rows, out.size, out.size, w.shape[1], off.size, ind.size, bool(a["include_last_offset"]),
              em.dense(wn), em.dense(indn), em.dense(offn), em.dense(pswn) if pswn is not None else out,
              pswn is not None, {"sum": 0, "mean": 1, "max": 2}[a["mode"]], 0 if pad is None else int(pad),
              pad is not None, out)
    return True


@register_lowering("embedding", "cuda")
def _embedding(em: CudaEmitter, node: Node) -> bool:
    w, ind = em.buf(node.args[0]), em.buf(node.args[1])
    if w.ndim != 2 or ind.dtype.kind not in "iu":
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    w, ind = em.dense(node.args[0]), em.dense(node.args[1])
    em.launch(K.embedding_gather, out.size, out.size, w.shape[1], w, ind, out)
    return True


@register_lowering("pixel_shuffle", "cuda")
def _pixel_shuffle(em: CudaEmitter, node: Node) -> bool:
    r = node.attrs["upscale_factor"]
    x = em.dense(node.args[0])
    *batch, c, h, w = x.shape
    nb = len(batch)
    y = x.reshape((*batch, c // (r * r), r, r, h, w)).transpose(
        tuple(range(nb)) + (nb, nb + 3, nb + 1, nb + 4, nb + 2))
    out = em.out(node)
    emit_copy(em, y, out.reshape(y.shape))
    return True


# ------------------------------------------------------------------------------------------------ norms of vectors
def _split_axes(shape: tuple, axes: tuple, *stride_sets: tuple) -> tuple | None:
    """Kept and reduced (shape, [strides per set]) collapsed to 4-d each, or None past 4 dims."""
    axes = tuple(sorted(a % len(shape) for a in axes))
    kept = [d for d in range(len(shape)) if d not in axes]
    res = []
    for dims in (kept, list(axes)):
        sh, sts = collapse(tuple(shape[d] for d in dims), *(tuple(st[d] for d in dims) for st in stride_sets))
        if len(sh) > 4:
            return None
        res.append(((1,) * (4 - len(sh)) + sh, [(0,) * (4 - len(st)) + st for st in sts]))
    return res


@register_lowering("normalize", "cuda")
def _normalize(em: CudaEmitter, node: Node) -> bool:
    x = em.buf(node.args[0])
    if not _float(x.dtype) or x.ndim == 0:
        return False
    dim = node.attrs["dim"]
    axes = (dim,) if isinstance(dim, int) else tuple(dim)
    out = em.out(node)
    if out.size == 0:
        return True
    x = em.dense(node.args[0])
    split = _split_axes(x.shape, axes, x.strides)
    if split is None:
        return False
    (ks, (kst,)), (rs, (rst,)) = split
    n_out = int(np.prod(ks))
    em.launch(K.pnorm_reduce, n_out, n_out, ks, kst, kst, int(np.prod(rs)), rs, rst, rst, x, x, False, 0.0,
              float(node.attrs["p"]), float(node.attrs["eps"]), 1, out)
    return True


def _pair_reduce(em: CudaEmitter, node: Node, axis: int, kernel: object, *scalars: object) -> bool:
    """Launch ``kernel`` (pnorm_reduce, cosine_reduce) over ``axis`` of the two broadcast operands: its arguments
    are the collapsed kept/reduced shapes and strides of both, the operands, ``scalars`` and the output."""
    a, b = em.buf(node.args[0]), em.buf(node.args[1])
    if not _float(a.dtype, b.dtype, node.spec.dtype):
        return False
    shape = tuple(np.broadcast_shapes(a.shape, b.shape))
    if len(shape) == 0:
        return False
    a, b = a.broadcast_to(shape), b.broadcast_to(shape)
    out = em.out(node)
    if out.size == 0:
        return True
    split = _split_axes(shape, (axis,), a.strides, b.strides)
    if split is None:
        return False
    (ks, (kst, kbst)), (rs, (rst, rbst)) = split
    n_out = int(np.prod(ks))
    em.launch(kernel, n_out, n_out, ks, kst, kbst, int(np.prod(rs)), rs, rst, rbst, a, b, *scalars, out)
    return True


@register_lowering("pairwise_distance", "cuda")
def _pairwise_distance(em: CudaEmitter, node: Node) -> bool:
    return _pair_reduce(em, node, -1, K.pnorm_reduce, True, float(node.attrs["eps"]), float(node.attrs["p"]), 0.0, 0)


@register_lowering("bilinear", "cuda")
def _bilinear(em: CudaEmitter, node: Node) -> bool:
    x1n, x2n, wn, bn = node.args
    if not _float(node.spec.dtype, *(em.graph[a].spec.dtype for a in node.args if a is not None)):
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    w = em.dense(wn)
    o, i1, i2 = w.shape
    n = out.size // o
    x1, x2 = em.dense(x1n).reshape((n, i1)), em.dense(x2n).reshape((n, i2))
    em.launch(K.bilinear_rows, out.size, out.size, o, i1, i2, x1, x1.strides, x2, x2.strides, w,
              em.buf(bn) if bn is not None else out, bn is not None, out)
    return True


@register_lowering("pdist", "cuda")
def _pdist(em: CudaEmitter, node: Node) -> bool:
    x = em.buf(node.args[0])
    if not _float(x.dtype, node.spec.dtype) or x.ndim != 2:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    i, j = np.triu_indices(x.shape[0], k=1)  # row-major pair order, as the reference
    ti, tj = em.constant(i.astype(np.int64), "pdist_i"), em.constant(j.astype(np.int64), "pdist_j")
    m = x.shape[1]
    em.launch(K.pdist_rows, out.size, out.size, ti, tj, (1, 1, 1, m), (0, 0, 0, x.strides[1]), x, x.strides[0],
              float(node.attrs["p"]), out)
    return True


@register_lowering("cosine_similarity", "cuda")
def _cosine_similarity(em: CudaEmitter, node: Node) -> bool:
    return _pair_reduce(em, node, node.attrs["dim"], K.cosine_reduce, float(node.attrs["eps"]))


@register_lowering("local_response_norm", "cuda")
def _local_response_norm(em: CudaEmitter, node: Node) -> bool:
    x = em.buf(node.args[0])
    if not _float(x.dtype) or x.ndim < 2:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    x = em.dense(node.args[0])
    a = node.attrs
    inner = int(np.prod(x.shape[2:], dtype=np.int64))
    em.launch(K.lrn, out.size, out.size, x.shape[1], inner, int(a["size"]), float(a["alpha"]), float(a["beta"]),
              float(a["k"]), x, out)
    return True


@register_lowering("batch_norm", "cuda")
def _batch_norm(em: CudaEmitter, node: Node) -> bool:
    x_name, mean, var, w, b = node.args
    x = em.buf(x_name)
    if not _float(x.dtype, *(em.buf(a).dtype for a in (mean, var, w, b) if a is not None)) or x.ndim < 2:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    x = em.dense(x_name)
    inner = int(np.prod(x.shape[2:], dtype=np.int64))
    wb = [(em.dense(a), True) if a is not None else (out, False) for a in (w, b)]
    em.launch(K.batch_norm_ch, out.size, out.size, inner, x.shape[1], x, em.dense(mean), em.dense(var), *wb[0],
              *wb[1], float(node.attrs["eps"]), out)
    return True


@register_lowering("one_hot", "cuda")
def _one_hot(em: CudaEmitter, node: Node) -> bool:
    ind = em.buf(node.args[0])
    if ind.dtype.kind not in "iu":
        return False
    out = em.out(node)
    if out.size:
        em.launch(K.one_hot, out.size, out.size, int(node.attrs["num_classes"]), em.dense(node.args[0]), out)
    return True
