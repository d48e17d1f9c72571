"""Conv/Linear + activation + residual-add fusion: a heavy op and the chain of elementwise ops that consume only
its result become one ``fused`` node (kind "epilogue") applied while the output tile is hot. The chain may pass
through reshapes (e.g. a batch-1 ``batch_first`` transpose, canonicalized to a reshape): the fused node computes in
the heavy op's layout, its extra operands are viewed in that layout, and a reshape after it restores the chain's."""
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
        frame = heavy.spec.shape  # the fused kernel computes in the heavy op's layout
        while True:
            users = graph.users(current)
            if len(users) != 1:
                break
            user = graph[users[0]]
            via = None
            if user.kind == OP and user.target == "reshape" and len(graph.users(user.name)) == 1 and \
                    user.spec.static and heavy.spec.static:
                via, user = user, graph[graph.users(user.name)[0]]
            step = _epilogue_step(graph, (via or graph[current]).name, user)
            if step is None:
                break
            name, attrs, extra, pos = step
            if extra is not None and user.spec.shape != frame:
                # past a reshape: the operand is viewed in the heavy op's layout, which needs its full shape
                if graph[extra].spec.shape != user.spec.shape:
                    break
                extra = graph.add(OP, "reshape", (extra,), {"shape": frame},
                                  graph[extra].meta.with_(spec=TensorSpec(frame, graph[extra].spec.dtype)),
                                  name=f"{extra}_as_{heavy.name}").name
            prev = ("tmp", len(steps) - 1)
            if extra is None:
                operands: tuple = (prev,)
            else:
                args.append(extra)
                other = ("in", len(args) - 1)
                operands = (prev, other) if pos == 0 else (other, prev)
            steps.append((name, attrs, operands))
            chain += [via, user] if via is not None else [user]
            current = user.name
        if not chain:
            continue
        origin = heavy.meta.fused_from or (heavy.name,)
        last = chain[-1].spec
        meta = heavy.meta.with_(spec=TensorSpec(frame, last.dtype), fused_from=origin + tuple(n.name for n in chain))
        fused = graph.add(OP, "fused", args, {"steps": tuple(steps), "kind": "epilogue"}, meta,
                          name=f"{heavy.name}_fused")
        if last.shape != frame:
            fused = graph.add(OP, "reshape", (fused.name,), {"shape": last.shape}, chain[-1].meta,
                              name=f"{chain[-1].name}_view")
        graph.replace_all_uses(chain[-1].name, fused.name)
        for node in reversed(chain):
            graph.erase(node.name)
        graph.erase(heavy.name)
        changed = True
    return PassResult(graph, changed)
