"""CPU lowering of lookups: ``take`` (ops/shape.py: integer-array indexing along one axis), ``embedding``,
``embedding_bag`` and ``one_hot`` (ops/sparse.py). Kernels are in ``kernels_sparse.py``."""
from __future__ import annotations

import numpy as np

from ...ir.node import Node
from ...ir.symbolic import prod as sym_prod
from ...ops.registry import register_lowering
from . import kernels_sparse as K
from .buffers import Buf
from .codegen import Emitter

PARALLEL_MIN = 1 << 15  # elements copied below which kernels run serially


def _value_dtype(dtype: np.dtype) -> bool:
    dtype = np.dtype(dtype)
    return dtype in (np.float32, np.float64) or dtype.kind in "iub"


def _index_dtype(dtype: np.dtype) -> bool:
    return np.dtype(dtype).kind in "iu"


def _gather_layout(x: Buf, axis: int) -> tuple[int, int, int, int] | None:
    """(outer, outer stride, axis stride, inner) when x's dims after ``axis`` form one contiguous run and its dims
    before ``axis`` one strided dim; else None."""
    def merged(dims: list[tuple[int, int]]) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for s, st in dims:
            if s == 1:
                continue
            if out and out[-1][1] == st * s:
                out[-1] = (out[-1][0] * s, st)
            else:
                out.append((s, st))
        return out

    before = merged(list(zip(x.shape[:axis], x.strides[:axis])))
    after = merged(list(zip(x.shape[axis + 1:], x.strides[axis + 1:])))
    if len(before) > 1 or len(after) > 1 or (after and after[0][1] != 1):
        return None
    outer, so = before[0] if before else (1, 0)
    inner = after[0][0] if after else 1
    return outer, so, x.strides[axis], inner


def _gather(em: Emitter, node: Node, x_name: str, idx_name: str, axis: int) -> bool:
    x_spec = em.graph[x_name].spec
    idx_spec = em.graph[idx_name].spec
    if not (_value_dtype(x_spec.dtype) and _index_dtype(idx_spec.dtype)) or x_spec.ndim == 0:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    x = em.buf(x_name)
    layout = _gather_layout(x, axis)
    if layout is None:
        x = em.dense(x_name)
        layout = _gather_layout(x, axis)
    outer, so, sa, inner = layout
    nidx = sym_prod(idx_spec.shape)  # symbolic-safe (dynamic shapes)
    # outer * ceil(nidx / GATHER_CHUNK) >= 2, written without division (nidx, outer >= 1 here)
    par = out.size >= PARALLEL_MIN and (outer >= 2 or nidx > K.GATHER_CHUNK)
    em.call(K.gather, x, em.dense(idx_name), out, outer, x.shape[axis], sa, so, nidx, inner, par)
    return True


@register_lowering("take", "cpu")
def _take(em: Emitter, node: Node) -> bool:
    x, idx = node.args
    return _gather(em, node, x, idx, int(node.attrs["axis"]) % max(em.graph[x].spec.ndim, 1))


@register_lowering("embedding", "cpu")
def _embedding(em: Emitter, node: Node) -> bool:
    weight, idx = node.args
    return _gather(em, node, weight, idx, 0)


@register_lowering("one_hot", "cpu")
def _one_hot(em: Emitter, node: Node) -> bool:
    idx_spec = em.graph[node.args[0]].spec
    if not _index_dtype(idx_spec.dtype) or node.spec.dtype != np.int64:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    n = sym_prod(idx_spec.shape)
    nc = int(node.attrs["num_classes"])
    em.call(K.one_hot, em.dense(node.args[0]), out, n, nc, out.size >= PARALLEL_MIN and n >= 2)
    return True


@register_lowering("embedding_bag", "cpu")
def _embedding_bag(em: Emitter, node: Node) -> bool:
    weight, idx, offsets, psw = node.args
    w_spec = em.graph[weight].spec
    if w_spec.dtype not in (np.float32, np.float64) or w_spec.ndim != 2 or em.graph[idx].spec.ndim != 1 \
            or em.graph[offsets].spec.ndim != 1 or not _index_dtype(em.graph[idx].spec.dtype) \
            or not _index_dtype(em.graph[offsets].spec.dtype):
        return False
    mode = {"sum": K.MODE_SUM, "mean": K.MODE_MEAN, "max": K.MODE_MAX}.get(node.attrs["mode"])
    if mode is None or (psw is not None and em.graph[psw].spec.dtype != w_spec.dtype):
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    w = em.dense(weight)
    ib = em.dense(idx)
    ob = em.dense(offsets)
    pb = em.dense(psw) if psw is not None else w
    pad = node.attrs["padding_idx"]
    nrows, dim = w_spec.shape
    n_bags = node.spec.shape[0]
    par = out.size >= PARALLEL_MIN and n_bags >= 2
    em.call(K.embedding_bag, w, nrows, dim, ib, ib.shape[0], ob, ob.shape[0], pb, psw is not None, out, mode,
            bool(node.attrs["include_last_offset"]), -1 if pad is None else int(pad), pad is not None, par)
    return True
