"""CPU lowering of heavy ops (linear, matmul, conv) and fused epilogue nodes.

A fused "epilogue" node (see ``passes/fuse_epilogue.py``) whose steps after the heavy op are an optional residual
``add`` and an optional activation maps onto the GEMM kernels' standard epilogue ``act(c + bias + residual)``,
applied per output block while it is in cache. Other epilogues run as the heavy op plus one elementwise loop.
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ...ir.node import OP, Node
from ...ops.registry import REGISTRY, TensorSpec, register_lowering
from .buffers import Buf
from .codegen import Emitter
from .kernels.epilogue import ACTIVATIONS
from . import autotune, kernels_heavy as kern

# epilogue op name -> (std activation name, alpha attr or value, beta attr or value)
_ACT = {"relu": ("relu", 0.0, 0.0), "silu": ("silu", 0.0, 0.0), "gelu": ("gelu", 0.0, 0.0),
        "gelu_tanh": ("gelu_tanh", 0.0, 0.0), "sigmoid": ("sigmoid", 0.0, 0.0), "tanh": ("tanh", 0.0, 0.0),
        "hardswish": ("hardswish", 0.0, 0.0), "hardsigmoid": ("hardsigmoid", 0.0, 0.0),
        "leaky_relu": ("leaky_relu", "negative_slope", 0.0), "hardtanh": ("clamp", "min_val", "max_val"),
        "elu": ("elu", "alpha", 0.0)}


def std_epilogue(node_args: tuple, steps: list[tuple], out_spec: TensorSpec) -> tuple | None:
    """(residual arg index or None, act code, alpha, beta) when ``steps[1:]`` fit ``act(c + residual)``."""
    rest = list(steps[1:])
    residual = None
    if rest and rest[0][0] == "add":
        ops = rest[0][2]
        others = [op for op in ops if op != ("tmp", 0)]
        if len(others) != 1 or others[0][0] != "in":
            return None
        residual = others[0][1]
        rest = rest[1:]
    act, alpha, beta = "none", 0.0, 0.0
    if rest:
        name, attrs, _ = rest[0]
        if len(rest) > 1 or name not in _ACT:
            return None
        act, a, b = _ACT[name]
        alpha = float(attrs[a]) if isinstance(a, str) else a
        beta = float(attrs[b]) if isinstance(b, str) else b
    return residual, ACTIVATIONS[act][0], alpha, beta





def _lower_linear(em: Emitter, node: Node, steps: list[tuple]) -> bool:
    x_name, w_name, b_name = (node.args[i] if k == "in" else None for k, i in steps[0][2])
    spec = node.spec
    if spec.dtype.kind != "f" or spec.dtype.itemsize < 4 or em.graph[w_name].spec.dtype != spec.dtype:
        return False
    epi = std_epilogue(node.args, steps, spec)
    if epi is None:
        return False
    res_idx, act, alpha, beta = epi
    x = em.dense(x_name)
    n, k = em.graph[w_name].spec.shape
    m = x.size // k if k else 0
    out = em.out(node)
    if out.size == 0:
        return True
    if m == 0 or k == 0:
        return False
    bias = em.buf(b_name) if b_name is not None else None
    res = em.dense(node.args[res_idx]) if res_idx is not None else None
    if res is not None and res.shape != spec.shape:
        return False
    b_args = (bias, bias.size) if bias is not None else (out, 0)
    r_args = (res, res.size) if res is not None else (out, 0)
    if em.is_weight(w_name):
        size = kern.packed_size(n, k, spec.dtype)
        packed = em.derived_weight(w_name, kern.pack_linear_weight, size, "packed_bt")
        em.call(kern.linear_packed, m, k, n, x, packed, size, *b_args, *r_args, act, alpha, beta, out)
    else:
        w = em.dense(w_name)
        em.call(kern.linear_raw, m, k, n, x, w, *b_args, *r_args, act, alpha, beta, out)
    return True


def _lower_conv(em: Emitter, node: Node, steps: list[tuple]) -> bool:
    x_name, w_name, b_name = (node.args[i] if k == "in" else None for k, i in steps[0][2])
    attrs = dict(steps[0][1])
    spec = node.spec
    xs, ws = em.graph[x_name].spec, em.graph[w_name].spec
    nd = xs.ndim - 2
    if nd not in (1, 2) or spec.dtype.kind != "f" or spec.dtype.itemsize < 4 or ws.dtype != spec.dtype:
        return False
    epi = std_epilogue(node.args, steps, spec)
    if epi is None:
        return False
    res_idx, act, alpha, beta = epi
    out = em.out(node)
    if out.size == 0:
        return True
    if 0 in xs.shape:
        return False
    pad = attrs["padding"]
    if nd == 1:  # as 2-D with height 1
        (n, c, w), (o, cg, kw), (oh, ow) = xs.shape, ws.shape, (1, spec.shape[2])
        h, kh, sh, dh, pt = 1, 1, 1, 1, 0
        sw, dw, pl = attrs["stride"][0], attrs["dilation"][0], pad[0][0]
    else:
        (n, c, h, w), (o, cg, kh, kw), (oh, ow) = xs.shape, ws.shape, spec.shape[2:]
        (sh, sw), (dh, dw), pt, pl = attrs["stride"], attrs["dilation"], pad[0][0], pad[1][0]
    g = attrs["groups"]
    x = em.dense(x_name)
    wb = em.dense(w_name)
    bias = em.buf(b_name) if b_name is not None else None
    res = em.dense(node.args[res_idx]) if res_idx is not None else None
    if res is not None and res.shape != spec.shape:
        return False
    b_args = (bias, bias.size) if bias is not None else (out, 0)
    r_args = (res, res.size) if res is not None else (out, 0)
    geo = (kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)
    if TUNED_CONV and nd == 2 and em.is_weight(w_name):
        from .kernels import conv as kconv

        pads = (pad[0][0], pad[0][1], pad[1][0], pad[1][1])
        algo = autotune.conv_algo(n, c, h, w, o, kh, kw, (sh, sw), pads, (dh, dw), g, spec.dtype)
        p = kconv.conv_params(ws.shape, xs.shape, (sh, sw), pads, (dh, dw), g)
        size = int(kconv.prepare_conv_weight(np.zeros(ws.shape, ws.dtype), g, algo).size)
        prepared = em.derived_weight(w_name, functools.partial(_prepare_conv, groups=g, algo=algo), size,
                                     f"conv{algo}")
        em.call(kern.conv_tuned, algo, n, c, h, w, o, p, x, prepared, size, *b_args, *r_args, act, alpha, beta, out)
        return True
    if g == c and cg == 1:
        em.call(kern.conv_depthwise, n, c, h, w, *geo, o // c, x, wb, *b_args, *r_args, act, alpha, beta, out)
        return True
    cols = em.scratch((cg * kh * kw * oh * ow,), spec.dtype)
    em.call(kern.conv_gemm, n, c, h, w, o, *geo, g, x, wb, *b_args, *r_args, act, alpha, beta, out, cols)
    return True


def _prepare_conv(w: np.ndarray, groups: int, algo: int) -> np.ndarray:
    from .kernels import conv as kconv

    return kconv.prepare_conv_weight(w, groups, algo).reshape(-1)


TUNED_CONV = True  # the kernels/conv.py algorithms; False: im2col + GEMM per (image, group) (kernels_heavy)

EPILOGUE_RULES = {"linear": _lower_linear, "conv": _lower_conv}


def _plain(name: str):  # noqa: ANN202
    def rule(em: Emitter, node: Node) -> bool:
        from .elementwise import op_steps

        return EPILOGUE_RULES[name](em, node, op_steps(node))

    return rule


def lower_epilogue(em: Emitter, node: Node, steps: list[tuple]) -> bool:
    """A heavy op and its elementwise epilogue: inside the heavy kernel when it fits the standard epilogue, else the
    heavy op (compiled or on the host) followed by one loop over its output."""
    from .elementwise import SCALAR, lower_loop

    base_name, base_attrs, base_ops = steps[0]
    rule = EPILOGUE_RULES.get(base_name)
    if rule is not None and rule(em, node, steps):
        return True
    if any(name not in SCALAR for name, _, _ in steps[1:]):
        return False
    base_args = tuple(None if k == "none" else node.args[i] for k, i in base_ops)
    spec = REGISTRY[base_name].infer(*(None if a is None else em.graph[a].spec for a in base_args), **base_attrs)
    base = Node(f"{node.name}__base", OP, base_name, base_args, dict(base_attrs), node.meta.with_(spec=spec))
    em.bufs[base.name] = em.scratch(spec.shape, spec.dtype)
    base_rule = REGISTRY[base_name].lowerings.get("cpu")
    if base_rule is None or not base_rule(em, base):
        em.host(base)
    operands = [em.bufs[base.name]] + [em.buf(a) for a in node.args]
    shifted = []
    for name, attrs, ops in steps[1:]:
        shifted.append((name, attrs, tuple(("in", 0) if (k == "tmp" and i == 0) else ("tmp", i - 1) if k == "tmp"
                                           else ("in", i + 1) if k == "in" else (k, i) for k, i in ops)))
    return lower_loop(em, node, operands, shifted)


def register() -> None:
    for name in EPILOGUE_RULES:
        register_lowering(name, "cpu")(_plain(name))


__all__ = ["lower_epilogue", "register", "std_epilogue", "math"]
