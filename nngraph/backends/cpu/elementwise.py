"""CPU lowering of elementwise work: every elementwise/broadcast op, ``channel_affine`` and fused elementwise nodes
become one generated loop (flat when no input broadcasts but single elements, nested otherwise), parallel when large
enough.

``SCALAR`` maps an op name to its scalar formula: a function of the operand expressions, the node's attributes and
a literal maker (literals are typed in the computation dtype so float32 loops stay float32).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ...ir.node import Node
from ...ops.registry import REGISTRY, TensorSpec, register_lowering
from .buffers import Buf, collapse, pad_dims
from .codegen import Emitter

PARALLEL_MIN_ELEMENTS = 1 << 15

Formula = Callable[[list[str], dict, Callable[[float], str]], str]


def _sigmoid(x: str, L: Callable[[float], str]) -> str:
    return f"({L(1)} / ({L(1)} + math.exp(-{x})) if {x} >= {L(0)} else math.exp({x}) / ({L(1)} + math.exp({x})))"


SCALAR: dict[str, Formula] = {
    # activations (ops/activation.py)
    "relu": lambda a, k, L: f"({a[0]} if not ({a[0]} < {L(0)}) else {L(0)})",
    "leaky_relu": lambda a, k, L: f"({a[0]} if {a[0]} > {L(0)} else {a[0]} * {L(k['negative_slope'])})",
    "hardtanh": lambda a, k, L: f"({L(k['min_val'])} if {a[0]} < {L(k['min_val'])} else "
                                f"({L(k['max_val'])} if {a[0]} > {L(k['max_val'])} else {a[0]}))",
    "threshold": lambda a, k, L: f"({a[0]} if {a[0]} > {L(k['threshold'])} else {L(k['value'])})",
    "elu": lambda a, k, L: f"({a[0]} if {a[0]} > {L(0)} else {L(k['alpha'])} * math.expm1({a[0]}))",
    "celu": lambda a, k, L: f"({a[0]} if {a[0]} > {L(0)} else {L(k['alpha'])} * math.expm1({a[0]} / {L(k['alpha'])}))",
    "selu": lambda a, k, L: f"({L(1.0507009873554804934193349852946)} * ({a[0]} if {a[0]} > {L(0)} else "
                            f"{L(1.6732632423543772848170429916717)} * math.expm1({a[0]})))",
    "sigmoid": lambda a, k, L: _sigmoid(a[0], L),
    "log_sigmoid": lambda a, k, L: f"(min({a[0]}, {L(0)}) - math.log1p(math.exp(-abs({a[0]}))))",
    "tanh": lambda a, k, L: f"math.tanh({a[0]})",
    "silu": lambda a, k, L: f"({a[0]} * {_sigmoid(a[0], L)})",
    "mish": lambda a, k, L: f"({a[0]} * math.tanh(max({a[0]}, {L(0)}) + math.log1p(math.exp(-abs({a[0]})))))",
    "gelu": lambda a, k, L: f"({L(0.5)} * {a[0]} * ({L(1)} + math.erf({a[0]} * {L(math.sqrt(0.5))})))",
    "gelu_tanh": lambda a, k, L: f"({L(0.5)} * {a[0]} * ({L(1)} + math.tanh({L(math.sqrt(2 / math.pi))} * "
                                 f"({a[0]} + {L(0.044715)} * {a[0]} * {a[0]} * {a[0]}))))",
    "softplus": lambda a, k, L: f"({a[0]} if {a[0]} * {L(k['beta'])} > {L(k['threshold'])} else "
                                f"(max({a[0]} * {L(k['beta'])}, {L(0)}) + math.log1p(math.exp(-abs({a[0]} * "
                                f"{L(k['beta'])})))) / {L(k['beta'])})",
    "softsign": lambda a, k, L: f"({a[0]} / ({L(1)} + abs({a[0]})))",
    "hardsigmoid": lambda a, k, L: f"min(max({a[0]} / {L(6)} + {L(0.5)}, {L(0)}), {L(1)})",
    "hardswish": lambda a, k, L: f"({a[0]} * min(max({a[0]} + {L(3)}, {L(0)}), {L(6)}) / {L(6)})",
    "hardshrink": lambda a, k, L: f"({a[0]} if abs({a[0]}) > {L(k['lambd'])} else {L(0)})",
    "softshrink": lambda a, k, L: f"({a[0]} - {L(k['lambd'])} if {a[0]} > {L(k['lambd'])} else ({a[0]} + "
                                  f"{L(k['lambd'])} if {a[0]} < -{L(k['lambd'])} else {L(0)}))",
    "tanhshrink": lambda a, k, L: f"({a[0]} - math.tanh({a[0]}))",
    "prelu": lambda a, k, L: f"({a[0]} if {a[0]} > {L(0)} else {a[1]} * {a[0]})",
    # numpy math (ops/math.py)
    "neg": lambda a, k, L: f"(-{a[0]})",
    "positive": lambda a, k, L: a[0],
    "abs": lambda a, k, L: f"abs({a[0]})",
    "exp": lambda a, k, L: f"math.exp({a[0]})",
    "expm1": lambda a, k, L: f"math.expm1({a[0]})",
    "exp2": lambda a, k, L: f"math.pow({L(2)}, {a[0]})",
    "log": lambda a, k, L: f"np.log({a[0]})",
    "log1p": lambda a, k, L: f"np.log1p({a[0]})",
    "log2": lambda a, k, L: f"np.log2({a[0]})",
    "log10": lambda a, k, L: f"np.log10({a[0]})",
    "sqrt": lambda a, k, L: f"np.sqrt({a[0]})",
    "square": lambda a, k, L: f"({a[0]} * {a[0]})",
    "reciprocal": lambda a, k, L: f"({L(1)} / {a[0]})",
    "sin": lambda a, k, L: f"math.sin({a[0]})", "cos": lambda a, k, L: f"math.cos({a[0]})",
    "tan": lambda a, k, L: f"math.tan({a[0]})", "sinh": lambda a, k, L: f"math.sinh({a[0]})",
    "cosh": lambda a, k, L: f"math.cosh({a[0]})", "arctan": lambda a, k, L: f"math.atan({a[0]})",
    "floor": lambda a, k, L: f"np.floor({a[0]})", "ceil": lambda a, k, L: f"np.ceil({a[0]})",
    "trunc": lambda a, k, L: f"np.trunc({a[0]})", "sign": lambda a, k, L: f"np.sign({a[0]})",
    "isnan": lambda a, k, L: f"np.isnan({a[0]})", "isinf": lambda a, k, L: f"np.isinf({a[0]})",
    "isfinite": lambda a, k, L: f"np.isfinite({a[0]})", "logical_not": lambda a, k, L: f"(not {a[0]})",
    "add": lambda a, k, L: f"({a[0]} + {a[1]})", "sub": lambda a, k, L: f"({a[0]} - {a[1]})",
    "mul": lambda a, k, L: f"({a[0]} * {a[1]})", "div": lambda a, k, L: f"({a[0]} / {a[1]})",
    "pow": lambda a, k, L: f"({a[0]} ** {a[1]})",
    "maximum": lambda a, k, L: f"({a[0]} if ({a[0]} > {a[1]} or {a[0]} != {a[0]}) else {a[1]})",
    "minimum": lambda a, k, L: f"({a[0]} if ({a[0]} < {a[1]} or {a[0]} != {a[0]}) else {a[1]})",
    "eq": lambda a, k, L: f"({a[0]} == {a[1]})", "ne": lambda a, k, L: f"({a[0]} != {a[1]})",
    "lt": lambda a, k, L: f"({a[0]} < {a[1]})", "le": lambda a, k, L: f"({a[0]} <= {a[1]})",
    "gt": lambda a, k, L: f"({a[0]} > {a[1]})", "ge": lambda a, k, L: f"({a[0]} >= {a[1]})",
    "logical_and": lambda a, k, L: f"({a[0]} and {a[1]})", "logical_or": lambda a, k, L: f"({a[0]} or {a[1]})",
    "logical_xor": lambda a, k, L: f"(bool({a[0]}) != bool({a[1]}))",
    "copysign": lambda a, k, L: f"math.copysign({a[0]}, {a[1]})",
    "arcsin": lambda a, k, L: f"np.arcsin({a[0]})", "arccos": lambda a, k, L: f"np.arccos({a[0]})",
    "arctanh": lambda a, k, L: f"np.arctanh({a[0]})", "cbrt": lambda a, k, L: f"np.cbrt({a[0]})",
    "rint": lambda a, k, L: f"np.rint({a[0]})", "signbit": lambda a, k, L: f"np.signbit({a[0]})",
    "floordiv": lambda a, k, L: f"sc.floordiv({a[0]}, {a[1]})", "mod": lambda a, k, L: f"sc.mod({a[0]}, {a[1]})",
    # fmax/fmin: the non-NaN operand; NaN only when both are (maximum/minimum propagate NaN)
    "fmax": lambda a, k, L: f"({a[0]} if ({a[0]} > {a[1]} or {a[1]} != {a[1]}) else {a[1]})",
    "fmin": lambda a, k, L: f"({a[0]} if ({a[0]} < {a[1]} or {a[1]} != {a[1]}) else {a[1]})",
    "hypot": lambda a, k, L: f"np.hypot({a[0]}, {a[1]})", "logaddexp": lambda a, k, L: f"np.logaddexp({a[0]}, {a[1]})",
    "bitwise_and": lambda a, k, L: f"({a[0]} & {a[1]})", "bitwise_or": lambda a, k, L: f"({a[0]} | {a[1]})",
    "bitwise_xor": lambda a, k, L: f"({a[0]} ^ {a[1]})",
    "arctan2": lambda a, k, L: f"math.atan2({a[0]}, {a[1]})",
    "where": lambda a, k, L: f"({a[1]} if {a[0]} else {a[2]})",
    "clip": lambda a, k, L: a[0] if (a[1] is None and a[2] is None) else (
        f"max({a[0]}, {a[1]})" if a[2] is None else f"min({a[0]}, {a[2]})" if a[1] is None else
        f"min(max({a[0]}, {a[1]}), {a[2]})"),
    "cast": lambda a, k, L: a[0],
    "copy": lambda a, k, L: a[0],
    "channel_affine": lambda a, k, L: f"({a[0]} * {a[1]} + {a[2]})",
}

# Operands of these ops are (C,) vectors along the output's axis 1 rather than numpy-broadcast.
CHANNEL_OPERANDS = {"channel_affine": (1, 2)}


def _literal(dtype: np.dtype) -> Callable[[float], str]:
    if dtype == np.float32:
        return lambda v: f"np.float32({float(v)!r})"
    return lambda v: repr(float(v))


def _kernel_source(steps: list[tuple], n_in: int, compute: np.dtype, scalars: frozenset[int] = frozenset()) -> str:
    """Source of a module with flat and strided loop kernels computing ``steps``; the flat kernel reads the operands
    in ``scalars`` (single elements broadcast) once, before the loop."""
    L = _literal(compute if compute.kind == "f" else np.dtype(np.float64))
    body: list[str] = []
    tmps: list[str] = []
    for j, (name, attrs, operands) in enumerate(steps):
        exprs = [f"x{i}" if kind == "in" else tmps[i] if kind == "tmp" else None for kind, i in operands]
        body.append(f"t{j} = {SCALAR[name](exprs, attrs, L)}")
        tmps.append(f"t{j}")
    ins = "".join(f", a{i}, a{i}o" for i in range(n_in))
    ins_st = "".join(f", a{i}, a{i}o, a{i}s" for i in range(n_in))
    # indices are cast to uint64: with a signed index Numba adds a negative-index wraparound branch per access,
    # which keeps LLVM from vectorizing the loop (measured 10x on a 1M-element multiply-add); an arena index is
    # never negative
    flat = [f"def flat(n, out, oo{ins}):"] + [f"    x{i} = a{i}[a{i}o]" for i in sorted(scalars)]
    flat += ["    for i in prange(n):"]
    flat += [f"        x{i} = a{i}[uint64(a{i}o + i)]" for i in range(n_in) if i not in scalars]
    flat += [f"        {b}" for b in body] + [f"        out[uint64(oo + i)] = {tmps[-1]}"]
    strided = [f"def strided(shape, out, oo, os{ins_st}):", "    for i0 in prange(shape[0]):"]
    for d in range(1, 6):
        strided.append("    " * (d + 1) + f"for i{d} in range(shape[{d}]):")
    ind = "    " * 7

    def at(base: str, st: str) -> str:
        return f"uint64({base} + " + " + ".join(f"i{d} * {st}[{d}]" for d in range(6)) + ")"

    strided += [f"{ind}x{i} = a{i}[{at(f'a{i}o', f'a{i}s')}]" for i in range(n_in)]
    strided += [f"{ind}{b}" for b in body] + [f"{ind}out[{at('oo', 'os')}] = {tmps[-1]}"]
    header = "# Generated by nngraph: an elementwise kernel. Do not edit.\nimport numpy as np\n" \
             "from numba import njit, prange, uint64\nfrom nngraph.backends.cpu import fmath as math\n" \
             "from nngraph.backends.cpu import kernels_misc as sc\n\n\n"
    # error_model="numpy": division by zero gives inf/NaN as in numpy instead of raising ZeroDivisionError
    deco = "@njit(cache=True, nogil=True, parallel={par}, error_model=\"numpy\")\n"
    text = header
    for par in (True, False):
        suffix = "" if par else "_serial"
        text += deco.format(par=par) + "\n".join(flat).replace("def flat(", f"def flat{suffix}(") + "\n\n\n"
        text += deco.format(par=par) + "\n".join(strided).replace("def strided(", f"def strided{suffix}(") + \
            "\n\n\n"
    return text


def kernel_module(steps: list[tuple], n_in: int, compute: np.dtype, scalars: frozenset[int] = frozenset()) -> Any:
    from ...runtime import cache

    source = _kernel_source(steps, n_in, compute, scalars)
    return cache.load_module(cache.make_key("ew", source), source)


def flat_scalars(out: Buf, views: list[Buf]) -> frozenset[int] | None:
    """The operands to read once (single elements broadcast: Python scalars' constants) when the flat loop can
    compute ``out`` from ``views`` (every other operand dense in the output's shape), else None (the strided one)."""
    scalars = frozenset(k for k, v in enumerate(views) if not any(v.strides))
    if out.contiguous and all(k in scalars or (v.contiguous and v.shape == out.shape) for k, v in enumerate(views)):
        return scalars
    return None


def lower_loop(em: Emitter, node: Node, operands: list[Buf | None], steps: list[tuple]) -> bool:
    """Emit one loop kernel computing ``steps`` (name, attrs dict, operands) over ``node``'s output."""
    out_spec = node.spec
    if not isinstance(out_spec, TensorSpec) or any(name not in SCALAR for name, _, _ in steps):
        return False
    channel = {i for name, _, ops in steps for pos, (kind, i) in enumerate(ops)
               if kind == "in" and pos in CHANNEL_OPERANDS.get(name, ())}
    views: list[Buf] = []
    remap: dict[int, int] = {}
    used = {i for _, _, ops in steps for k, i in ops if k == "in"}
    for i, b in enumerate(operands):
        if b is None or i not in used:
            continue
        if i in channel:
            axis = 1 if out_spec.ndim > 1 else 0
            strides = tuple(b.strides[0] if d == axis else 0 for d in range(out_spec.ndim))
            b = Buf(b.arena, b.offset, out_spec.shape, strides, b.dtype)
        else:
            b = b.broadcast_to(out_spec.shape)
        remap[i] = len(views)
        views.append(b)
    steps = [(name, attrs, tuple((k, remap[i]) if k == "in" else (k, i) for k, i in ops)) for name, attrs, ops in steps]
    if any(b.dtype == np.float16 for b in views) or out_spec.dtype == np.float16:
        return False  # Numba has no float16 arrays
    out = em.out(node)
    if out.size == 0:
        return True
    floats = [b.dtype for b in views if b.dtype.kind == "f"] + ([out_spec.dtype] if out_spec.dtype.kind == "f" else [])
    compute = np.result_type(*floats) if floats else np.dtype(np.float64)
    serial = "" if out.size >= PARALLEL_MIN_ELEMENTS else "_serial"
    scalars = flat_scalars(out, views)
    if scalars is not None:
        module = kernel_module(steps, len(views), compute, scalars)
        em.call(getattr(module, "flat" + serial), out.size, out, *views)
        return True
    module = kernel_module(steps, len(views), compute)
    shape, strides = collapse(out.shape, out.strides, *(v.strides for v in views))
    if len(shape) > 6:
        return False
    shape, strides = pad_dims(shape, strides)
    args: list[Any] = [shape, out, strides[0]]
    for v, st in zip(views, strides[1:]):
        args += [v, st]
    em.call(getattr(module, "strided" + serial), *args)
    return True


def op_steps(node: Node) -> list[tuple]:
    """The ``(op, attrs, operands)`` steps of an elementwise node: its op alone, or a fused node's chain."""
    if node.target == "fused":
        return [(name, dict(attrs), operands) for name, attrs, operands in node.attrs["steps"]]
    return [(node.target, dict(node.attrs), tuple(("none", 0) if a is None else ("in", i)
                                                  for i, a in enumerate(node.args)))]


def register_for(target: str, loop: Callable[..., bool], epilogue: Callable[..., bool]) -> None:
    """Register ``target``'s lowerings of every SCALAR op and of fused nodes: ``loop(em, node, operands, steps)``
    for elementwise chains, ``epilogue(em, node, steps)`` for a heavy op with its fused epilogue."""

    def single(em: Any, node: Node) -> bool:
        return loop(em, node, [em.buf(a) for a in node.args], op_steps(node))

    def fused(em: Any, node: Node) -> bool:
        if node.attrs["kind"] == "elementwise":
            return loop(em, node, [em.buf(a) for a in node.args], op_steps(node))
        return epilogue(em, node, op_steps(node))

    for name in SCALAR:
        if name in REGISTRY:
            register_lowering(name, target)(single)
    register_lowering("fused", target)(fused)


def _epilogue(em: Emitter, node: Node, steps: list[tuple]) -> bool:
    from . import heavy

    return heavy.lower_epilogue(em, node, steps)


def register() -> None:
    register_for("cpu", lower_loop, _epilogue)
