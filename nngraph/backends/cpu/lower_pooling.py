"""CPU lowering of the pooling ops (ops/pooling.py).

* max_pool / avg_pool / lp_pool, and adaptive pooling with equal bins: ``kernels_pooling.window_pool``.
* max_pool_with_indices / adaptive_max_pool(_with_indices): ``kernels_pooling.argmax_pool`` (values and torch's
  int64 indices; the values-only op with unequal bins writes its indices to scratch).
* adaptive_avg_pool: equal bins (global pooling among them) as windows (``window_pool``), others as separable
  ``resample_axis`` passes with the reference's bin weights (``kernels_vision``).

1-3 spatial dims (padded to (D, H, W) with 1s); float32 and float64 (integer and float16 input stay on the host).
"""
from __future__ import annotations

import math

import numpy as np

from ...ir.node import Node
from ...ops.pooling import _divisors, _out_sizes
from ...ops.registry import register_lowering
from .codegen import Emitter
from .kernels_pooling import AVG, LP, LP_MAX_ABS, LP_MIN_ABS, MAX, argmax_pool, window_pool
from .kernels_vision import ADAPTIVE_AVG
from .lower_vision import FLOATS, dense, emit_resample, planes_of, spatial3


def _pool_input(em: Emitter, node: Node):  # noqa: ANN202
    """The input Buf when the node can be lowered (float32/64, 1-3 spatial dims), else None."""
    x = em.buf(node.args[0])
    if x.dtype not in FLOATS or not 1 <= x.ndim - 2 <= 3:
        return None
    return x


def _window(em: Emitter, node: Node, kind: int, k: tuple, s: tuple, p: tuple, d: tuple, ip: tuple,
            fp: tuple) -> bool:
    out = em.out(node)
    if out.size == 0:
        return True
    x = dense(em, node.args[0])
    if x is None:
        return False
    em.call(window_pool, kind, x, out, planes_of(x.shape), spatial3(x.shape[2:], 1), spatial3(out.shape[2:], 1),
            spatial3(k, 1), spatial3(s, 1), spatial3(p, 0), spatial3(d, 1), tuple(int(v) for v in ip),
            tuple(float(v) for v in fp))
    return True


@register_lowering("max_pool", "cpu")
def _max_pool(em: Emitter, node: Node) -> bool:
    if _pool_input(em, node) is None:
        return False
    a = node.attrs
    return _window(em, node, MAX, a["kernel_size"], a["stride"], a["padding"], a["dilation"], (0, 0), (0.0, 0.0, 0.0))


@register_lowering("avg_pool", "cpu")
def _avg_pool(em: Emitter, node: Node) -> bool:
    if _pool_input(em, node) is None:
        return False
    a = node.attrs
    nd = len(a["kernel_size"])
    override = a["divisor_override"]
    ip = (int(bool(a["count_include_pad"])), 0 if override is None else int(override))
    return _window(em, node, AVG, a["kernel_size"], a["stride"], a["padding"], (1,) * nd, ip, (0.0, 0.0, 0.0))


@register_lowering("lp_pool", "cpu")
def _lp_pool(em: Emitter, node: Node) -> bool:
    x = _pool_input(em, node)
    if x is None:
        return False
    a = node.attrs
    k, s = tuple(a["kernel_size"]), tuple(a["stride"])
    nd = len(k)
    ones, zeros = (1,) * nd, (0,) * nd
    pw = float(a["norm_type"])
    if math.isinf(pw):
        return _window(em, node, LP_MAX_ABS if pw > 0 else LP_MIN_ABS, k, s, zeros, ones, (0, 0), (0.0, 0.0, 0.0))
    spatial = tuple(x.shape[2:])
    out = _out_sizes(spatial, k, s, zeros, ones, a["ceil_mode"])
    full = float(np.prod(k))
    rescale = not bool(np.all(_divisors(spatial, out, k, s, zeros, True) == full))
    return _window(em, node, LP, k, s, zeros, ones, (int(rescale), 0), (pw, 1.0 / pw, full))


def _argmax(em: Emitter, node: Node, adaptive: bool, k: tuple, s: tuple, p: tuple, d: tuple) -> bool:
    """Values and torch's int64 indices (a two-output node), or the values alone (the indices go to scratch)."""
    if isinstance(node.spec, tuple):
        values_spec, indices_spec = node.spec
        values = em.scratch(values_spec.shape, values_spec.dtype)
        indices = em.scratch(indices_spec.shape, indices_spec.dtype)
        em.bufs[node.name] = (values, indices)
    else:
        values = em.out(node)
        indices = em.scratch(values.shape, np.dtype(np.int64))
    if values.size == 0:
        return True
    x = dense(em, node.args[0])
    if x is None:
        return False
    em.call(argmax_pool, int(adaptive), x, values, indices, planes_of(x.shape), spatial3(x.shape[2:], 1),
            spatial3(values.shape[2:], 1), spatial3(k, 1), spatial3(s, 1), spatial3(p, 0), spatial3(d, 1))
    return True


@register_lowering("max_pool_with_indices", "cpu")
def _max_pool_with_indices(em: Emitter, node: Node) -> bool:
    if _pool_input(em, node) is None:
        return False
    a = node.attrs
    return _argmax(em, node, False, a["kernel_size"], a["stride"], a["padding"], a["dilation"])


def _equal_bins(em: Emitter, node: Node) -> tuple | None:
    """The bin size per spatial dim of an adaptive pooling whose bins are all equal (each output size divides its
    input size), else None. Such bins are windows with kernel = stride = n / o."""
    spatial, out = em.buf(node.args[0]).shape[2:], tuple(node.attrs["output_size"])
    if isinstance(node.spec, tuple) or not all(o and n % o == 0 for n, o in zip(spatial, out)):
        return None
    return tuple(n // o for n, o in zip(spatial, out))


def _adaptive_max(em: Emitter, node: Node) -> bool:
    x = _pool_input(em, node)
    if x is None:
        return False
    spatial, out = x.shape[2:], tuple(node.attrs["output_size"])
    nd = len(spatial)
    k = _equal_bins(em, node)
    if k is not None:
        return _window(em, node, MAX, k, k, (0,) * nd, (1,) * nd, (0, 0), (0.0, 0.0, 0.0))
    # kernel: the largest bin per dim (only sizes the parallel threshold)
    k = tuple(-(-n // o) + 1 if o else 1 for n, o in zip(spatial, out))
    return _argmax(em, node, True, k, (1,) * nd, (0,) * nd, (1,) * nd)


register_lowering("adaptive_max_pool", "cpu")(_adaptive_max)
register_lowering("adaptive_max_pool_with_indices", "cpu")(_adaptive_max)


@register_lowering("adaptive_avg_pool", "cpu")
def _adaptive_avg_pool(em: Emitter, node: Node) -> bool:
    x = _pool_input(em, node)
    if x is None:
        return False
    spatial, bins = x.shape[2:], _equal_bins(em, node)
    if bins is not None:  # equal bins (global pooling among them) are non-overlapping windows
        nd = len(spatial)
        return _window(em, node, AVG, bins, bins, (0,) * nd, (1,) * nd, (0, 0), (0.0, 0.0, 0.0))
    out = em.out(node)
    if out.size == 0:
        return True
    x = dense(em, node.args[0])
    if x is None:
        return False
    emit_resample(em, x, out, [(axis, ADAPTIVE_AVG, False, None) for axis in range(2, x.ndim)])
    return True
