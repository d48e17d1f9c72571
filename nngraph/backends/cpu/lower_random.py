"""CPU lowering of the random ops (ops/dropout.py: dropout, feature_dropout, alpha_dropout, feature_alpha_dropout;
ops/activation.py: rrelu, gumbel_softmax) in the cases that draw no random numbers.

These ops exist in a graph only where randomness was asked for: in eval mode ``F`` records the identity (dropout
family) or ``leaky_relu`` with slope (lower + upper) / 2 (rrelu) instead, and those lower like any elementwise op.
When an op does draw (``F.dropout(x, training=True)`` in a forward, a graph traced with dropout layers in train mode
and compiled with ``remove_dropout`` disabled), it stays on the host on purpose: its numpy reference draws from
nngraph's generator (``nngraph._random.default_generator()``), so the compiled module consumes the random stream
exactly as eager execution does and ``nngraph.manual_seed`` reproduces its masks. A Numba kernel has its own
generator state. What is lowered: empty inputs (nothing is drawn) and dropout with ``p >= 1`` (``x * 0``, without a
draw, so NaN and inf give NaN as in torch).
"""
from __future__ import annotations

from ...ir.node import Node
from ...ops.registry import register_lowering
from . import elementwise
from .codegen import Emitter

DROPOUT_OPS = ("dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout")

elementwise.SCALAR["dropout:zero"] = lambda a, k, L: f"({a[0]} * {L(0)})"  # private name: never a fused step


def _random(em: Emitter, node: Node) -> bool:
    if 0 in node.spec.shape:  # an empty draw leaves the generator unchanged
        em.out(node)
        return True
    if node.target in DROPOUT_OPS and node.attrs["p"] >= 1:
        return elementwise.lower_loop(em, node, [em.buf(node.args[0])], [("dropout:zero", {}, (("in", 0),))])
    return False  # draws from nngraph's generator: the host keeps the eager random stream (module docstring)


for _name in DROPOUT_OPS + ("rrelu", "gumbel_softmax"):
    register_lowering(_name, "cpu")(_random)
