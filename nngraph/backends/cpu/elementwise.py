"""CPU lowering of elementwise work: every elementwise/broadcast op, ``channel_affine`` and fused elementwise nodes
become one generated loop (flat when no input broadcasts, nested otherwise), parallel when large enough.

``SCALAR`` maps an op name to its scalar formula: a function of the operand expressions, the node's attributes and
a literal maker (literals are typed in the computation dtype so float32 loops stay float32).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ...ir.node import Node
from ...ops.registry import REGISTRY, TensorSpec, register_lowering
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
    "arctan2": lambda a, k, L: f"math.atan2({a[0]}, {a[1]})",
    "where": lambda a, k, L: f"({a[1]} if {a[0]} else {a[2]})",
    "clip": lambda a, k, L: a[0] if (a[1] is None and a[2] is None) else (
        f"max({a[0]}, {a[1]})" if a[2] is None else f"min({a[0]}, {a[2]})" if a[1] is None else
        f"min(max({a[0]}, {a[1]}), {a[2]})"),
    "cast": lambda a, k, L: a[0],
    "copy": lambda a, k, L: a[0],
    "channel_affine": lambda a, k, L: f"({a[0]} * {a[1]} + {a[2]})",
}

# Operands indexed along the output's axis 1 instead of by numpy broadcasting.
CHANNEL_OPERANDS = {"channel_affine": (1, 2)}


def _literal(dtype: np.dtype) -> Callable[[float], str]:
    if dtype == np.float32:
        return lambda v: f"np.float32({float(v)!r})"
    return lambda v: repr(float(v))


def _access(em: Emitter, var: str, spec: TensorSpec, out: TensorSpec, idx: list[str], channel: bool) -> str:
    if spec.ndim == 0:
        return f"{var}[()]"
    if channel:
        return f"{var}[{idx[1] if out.ndim > 1 else idx[0]}]"
    lead = out.ndim - spec.ndim
    parts = ["0" if spec.shape[d] == 1 and out.shape[lead + d] != 1 else idx[lead + d] for d in range(spec.ndim)]
    return f"{var}[{', '.join(parts)}]"


def lower_loop(em: Emitter, node: Node, args: list[str | None], steps: list[tuple],
               in_specs: list[TensorSpec | None] | None = None, contiguous: list[bool] | None = None) -> bool:
    """Emit one loop computing ``steps`` (name, attrs dict, operands) elementwise over ``node``'s output shape.
    ``args`` are the operand variables (``in_specs``/``contiguous`` describe them; default: ``node.args``)."""
    out_spec: TensorSpec = node.spec
    if any(name not in SCALAR for name, _, _ in steps):
        return False
    if in_specs is None:
        in_specs = [None if a is None else em.spec(a) for a in node.args]
        contiguous = [a is None or em.is_contiguous(a) for a in node.args]
    out = em.var(node.name)
    em.emit(f"{out} = {em.alloc(node)}")
    compute = np.result_type(*(s.dtype for s in in_specs if s is not None and s.dtype.kind == "f"), out_spec.dtype) \
        if out_spec.dtype.kind == "f" else np.dtype(np.float64)
    L = _literal(compute if compute.kind == "f" else np.dtype(np.float64))
    n = int(np.prod(out_spec.shape))
    if n == 0:
        return True
    channel_inputs = {op_i for name, _, ops in steps for pos, (kind, op_i) in enumerate(ops)
                      if kind == "in" and pos in CHANNEL_OPERANDS.get(name, ())}
    flat = out_spec.ndim > 0 and not channel_inputs and all(
        s is None or s.shape == out_spec.shape or s.ndim == 0 for s in in_specs) and all(
        c or s is None or s.ndim == 0 for c, s in zip(contiguous, in_specs))
    rng = "prange" if n >= PARALLEL_MIN_ELEMENTS else "range"
    body: list[str] = []
    if flat:
        i = em.tmp("i")
        views = {}
        for k, (a, s) in enumerate(zip(args, in_specs)):
            if a is None:
                continue
            if s.ndim == 0:
                views[k] = f"{a}[()]"
            else:
                v = em.tmp("f")
                em.emit(f"{v} = {a}.reshape(-1)")
                views[k] = f"{v}[{i}]"
        of = em.tmp("o")
        em.emit(f"{of} = {out}.reshape(-1)")
        loop_head = [f"for {i} in {rng}({n}):"]
        target = f"{of}[{i}]"
        access = views
    else:
        shape = out_spec.shape if out_spec.ndim else (1,)
        idx = [em.tmp("i") for _ in shape]
        loop_head = [("    " * d) + f"for {idx[d]} in {rng if d == 0 and shape[0] > 1 else 'range'}({shape[d]}):"
                     for d in range(len(shape))]
        access = {k: _access(em, a, s, out_spec, idx, k in channel_inputs)
                  for k, (a, s) in enumerate(zip(args, in_specs)) if a is not None}
        target = f"{out}[{', '.join(idx)}]" if out_spec.ndim else f"{out}[()]"
    indent = "    " * len(loop_head)
    tmps: list[str] = []
    for j, (name, attrs, operands) in enumerate(steps):
        exprs = [access[i] if kind == "in" else tmps[i] if kind == "tmp" else None for kind, i in operands]
        t = em.tmp("s")
        body.append(f"{indent}{t} = {SCALAR[name](exprs, attrs, L)}")
        tmps.append(t)
    body.append(f"{indent}{target} = {tmps[-1]}")
    for line in loop_head + body:
        em.emit(line)
    em.mark_contiguous(node.name)
    return True


def _single(em: Emitter, node: Node, args: list[str | None]) -> bool:
    if not isinstance(node.spec, TensorSpec):
        return False
    steps = [(node.target, dict(node.attrs), tuple(("none", 0) if a is None else ("in", i)
                                                   for i, a in enumerate(node.args)))]
    return lower_loop(em, node, args, steps)


def _fused(em: Emitter, node: Node, args: list[str | None]) -> bool:
    steps = [(name, dict(attrs), operands) for name, attrs, operands in node.attrs["steps"]]
    if node.attrs["kind"] == "elementwise":
        return lower_loop(em, node, args, steps)
    return lower_epilogue(em, node, args, steps)


def lower_epilogue(em: Emitter, node: Node, args: list[str | None], steps: list[tuple]) -> bool:
    """A heavy op followed by its epilogue: the heavy kernel's own epilogue support when it has one, else the
    heavy op (compiled or on the host) and then one loop over its output."""
    from . import heavy

    if heavy.lower_with_epilogue(em, node, args, steps):
        return True
    if any(name not in SCALAR for name, _, _ in steps[1:]):
        return False
    base_name, base_attrs, base_ops = steps[0]
    base_args = tuple(None if k == "none" else node.args[i] for k, i in base_ops)
    base = Node(f"{node.name}__base", "op", base_name, base_args, base_attrs,
                node.meta.with_(spec=REGISTRY[base_name].infer(*(None if a is None else em.spec(a)
                                                                  for a in base_args), **base_attrs)))
    base_vars = [None if a is None else em.var(a) for a in base_args]
    rule = REGISTRY[base_name].lowerings.get("cpu")
    if rule is None or not rule(em, base, base_vars):
        from .codegen import emit_hostcall

        emit_hostcall(em, base, base_vars)
    # Operand 0 of the loop is the heavy result; the rest are the fused node's extra arguments.
    loop_args = [em.var(base.name)] + list(args)
    loop_specs = [base.spec] + [None if a is None else em.spec(a) for a in node.args]
    loop_contig = [em.is_contiguous(base.name)] + [a is None or em.is_contiguous(a) for a in node.args]
    shifted = []
    for name, attrs, operands in steps[1:]:
        ops = tuple(("in", 0) if (k == "tmp" and i == 0) else ("tmp", i - 1) if k == "tmp" else
                    ("in", i + 1) if k == "in" else (k, i) for k, i in operands)
        shifted.append((name, attrs, ops))
    return lower_loop(em, node, loop_args, shifted, loop_specs, loop_contig)


def register() -> None:
    for name in SCALAR:
        if name in REGISTRY:
            register_lowering(name, "cpu")(_single)
    register_lowering("fused", "cpu")(_fused)
