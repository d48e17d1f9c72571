"""CPU lowering of normalizations (ops/normalization.py): batch_norm (eval form, when not folded into a conv or into
a ``channel_affine``), layer_norm, rms_norm, group_norm, instance_norm, local_response_norm. Kernels are in
``kernels_norm.py``; float16 stays on the host."""
from __future__ import annotations

import numpy as np

from ...ir.node import Node
from ...ir.symbolic import prod as sym_prod
from ...ops.registry import TensorSpec, register_lowering
from . import kernels_norm as K
from .buffers import Buf
from .codegen import Emitter

PARALLEL_MIN = 1 << 15  # elements of work below which kernels run serially


def _float(dtype: np.dtype) -> bool:
    return np.dtype(dtype) in (np.float32, np.float64)


def _optional(em: Emitter, name: str | None, like: Buf) -> tuple[Buf, bool]:
    """A dense Buf for an optional operand, or ``like`` as a placeholder (never read) and False."""
    if name is None:
        return like, False
    return em.dense(name), True


def _prod(shape: tuple[int, ...]) -> int:
    return sym_prod(shape)


def _norm(em: Emitter, node: Node, mode: int, rows: int, groups: int, cpg: int, hw: int, per_elem: bool,
          weight: str | None, bias: str | None) -> bool:
    out = em.out(node)
    if out.size == 0:
        return True
    x = em.dense(node.args[0])
    w, has_w = _optional(em, weight, x)
    b, has_b = _optional(em, bias, x)
    par = x.size >= PARALLEL_MIN and rows >= 2
    em.call(K.norm_rows, mode, x, out, w, b, rows, groups, cpg, hw, float(node.attrs["eps"]), per_elem, has_w, has_b,
            par)
    return True


def _check(em: Emitter, node: Node, *operands: str | None) -> bool:
    return _float(node.spec.dtype) and all(a is None or _float(em.graph[a].spec.dtype) for a in operands)


@register_lowering("layer_norm", "cpu")
def _layer_norm(em: Emitter, node: Node) -> bool:
    x, weight, bias = node.args
    if not _check(em, node, x, weight, bias):
        return False
    spec: TensorSpec = node.spec
    n = _prod(tuple(node.attrs["normalized_shape"]))
    rows = _prod(spec.shape) // n if n else 0
    return _norm(em, node, K.MODE_MEAN_VAR, rows, 1, n, 1, True, weight, bias)


@register_lowering("rms_norm", "cpu")
def _rms_norm(em: Emitter, node: Node) -> bool:
    x, weight = node.args
    if not _check(em, node, x, weight):
        return False
    spec: TensorSpec = node.spec
    n = _prod(tuple(node.attrs["normalized_shape"]))
    rows = _prod(spec.shape) // n if n else 0
    return _norm(em, node, K.MODE_RMS, rows, 1, n, 1, True, weight, None)


@register_lowering("group_norm", "cpu")
def _group_norm(em: Emitter, node: Node) -> bool:
    x, weight, bias = node.args
    if not _check(em, node, x, weight, bias):
        return False
    shape = node.spec.shape
    groups = int(node.attrs["num_groups"])
    if len(shape) < 2 or groups <= 0 or shape[1] % groups:
        return False
    return _norm(em, node, K.MODE_MEAN_VAR, shape[0] * groups, groups, shape[1] // groups, _prod(shape[2:]), False,
                 weight, bias)


@register_lowering("instance_norm", "cpu")
def _instance_norm(em: Emitter, node: Node) -> bool:
    x, weight, bias = node.args
    if not _check(em, node, x, weight, bias):
        return False
    shape = node.spec.shape
    if len(shape) < 2:
        return False
    return _norm(em, node, K.MODE_MEAN_VAR, shape[0] * shape[1], shape[1], 1, _prod(shape[2:]), False, weight, bias)


@register_lowering("batch_norm", "cpu")
def _batch_norm(em: Emitter, node: Node) -> bool:
    x, mean, var, weight, bias = node.args
    if not _check(em, node, x, mean, var, weight, bias) or mean is None or var is None:
        return False
    shape = node.spec.shape
    if len(shape) < 2:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    xb = em.dense(x)
    n, c, hw = shape[0], shape[1], _prod(shape[2:])
    w, has_w = _optional(em, weight, xb)
    b, has_b = _optional(em, bias, xb)
    coef = em.scratch((2 * c,), xb.dtype)
    par = xb.size >= PARALLEL_MIN and (n if hw == 1 else n * c) >= 2
    em.call(K.batch_norm, xb, out, em.dense(mean), em.dense(var), w, b, coef, n, c, hw, float(node.attrs["eps"]),
            has_w, has_b, par)
    return True


@register_lowering("local_response_norm", "cpu")
def _local_response_norm(em: Emitter, node: Node) -> bool:
    if not _check(em, node, node.args[0]):
        return False
    shape = node.spec.shape
    if len(shape) < 3:
        return False
    out = em.out(node)
    if out.size == 0:
        return True
    x = em.dense(node.args[0])
    size = int(node.attrs["size"])
    n, c, hw = shape[0], shape[1], _prod(shape[2:])
    tasks = n * c * ((hw + K.COLS - 1) // K.COLS)
    par = x.size * size >= PARALLEL_MIN and tasks >= 2
    em.call(K.local_response_norm, x, out, n, c, hw, size, float(node.attrs["alpha"]) / size,
            float(node.attrs["beta"]), float(node.attrs["k"]), par)
    return True
