"""CPU lowering of heavy ops (conv, linear, matmul) and fused epilogue nodes."""
from __future__ import annotations

from ...ir.node import OP, Node
from ...ops.registry import REGISTRY
from .codegen import Emitter

# Epilogue-capable heavy lowerings: op name -> rule(em, node, base_args, epilogue_steps) -> bool.
EPILOGUE_RULES: dict = {}


def lower_epilogue(em: Emitter, node: Node, steps: list[tuple]) -> bool:
    """A heavy op and its elementwise epilogue: inside the heavy kernel when it supports epilogues, else the heavy
    op (compiled or on the host) followed by one loop over its output."""
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
    """Register heavy-op lowerings."""
