"""Conv/Linear + activation + residual-add fusion: a heavy op and the chain of elementwise ops that consume only
its result become one ``fused`` node (kind "epilogue") applied while the output tile is hot."""
from __future__ import annotations

from ..ir.graph import Graph
from ..ir.node import OP, Node
from ..ops.registry import TensorSpec
from .base import PassContext, PassResult, graph_pass

HEAVY = ("conv", "conv_transpose", "linear", "matmul")
ACTIVATIONS = ("relu", "leaky_relu", "hardtanh", "silu", "gelu", "gelu_tanh", "sigmoid", "tanh", "hardswish",
               "hardsigmoid", "elu", "celu", "selu", "mish", "softplus")
BINARY = ("add", "mul", "sub")


def _epilogue_step(graph: Graph, current: str, user: Node) -> tuple | None:
    """(op name, attrs, extra operand name or None, operand position) if ``user`` can join the epilogue."""
    if user.kind != OP or not isinstance(user.spec, TensorSpec) or user.spec != graph[current].spec:
        return None
    if user.target in ACTIVATIONS and user.args == (current,):
        return (user.target, tuple(sorted(user.attrs.items())), None, 0)
    if user.target in BINARY and len(user.args) == 2 and user.args.count(current) == 1:
        pos = user.args.index(current)
        return (user.target, (), user.args[1 - pos], pos)
    return None


@graph_pass("fuse_epilogue")
def fuse_epilogue(graph: Graph, ctx: PassContext) -> PassResult:
    if ctx.training:
        return PassResult(graph, False)
    changed = False
    for heavy in graph.ops():
        if heavy.target not in HEAVY or not isinstance(heavy.spec, TensorSpec) or heavy.meta.weight_only:
            continue
        steps = [(heavy.target, tuple(sorted(heavy.attrs.items())),
                  tuple(("none", 0) if a is None else ("in", i) for i, a in enumerate(heavy.args)))]
        args = list(heavy.args)
        chain: list[Node] = []
        current = heavy.name
        while True:
            users = graph.users(current)
            if len(users) != 1:
                break
            user = graph[users[0]]
            step = _epilogue_step(graph, current, user)
            if step is None:
                break
            name, attrs, extra, pos = step
            prev = ("tmp", len(steps) - 1)
            if extra is None:
                operands: tuple = (prev,)
            else:
                args.append(extra)
                other = ("in", len(args) - 1)
                operands = (prev, other) if pos == 0 else (other, prev)
            steps.append((name, attrs, operands))
            chain.append(user)
            current = user.name
        if not chain:
            continue
        origin = heavy.meta.fused_from or (heavy.name,)
        meta = heavy.meta.with_(spec=chain[-1].spec, fused_from=origin + tuple(n.name for n in chain))
        fused = graph.add(OP, "fused", args, {"steps": tuple(steps), "kind": "epilogue"}, meta,
                          name=f"{heavy.name}_fused")
        graph.replace_all_uses(chain[-1].name, fused.name)
        for node in reversed(chain):
            graph.erase(node.name)
        graph.erase(heavy.name)
        changed = True
    return PassResult(graph, changed)
