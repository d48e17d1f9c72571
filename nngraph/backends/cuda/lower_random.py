"""CUDA lowering of the random ops (dropout, feature_dropout, alpha_dropout, feature_alpha_dropout, rrelu,
gumbel_softmax) in the cases that draw no random numbers, as on the CPU.

The reasoning is the CPU backend's (``backends/cpu/lower_random.py``): an op that draws stays a host step on purpose,
so that its numpy reference draws from nngraph's generator and the compiled module consumes the random stream exactly
as eager execution does (``nngraph.manual_seed`` reproduces its masks); a GPU generator would not. Lowered: empty
inputs (nothing is drawn) and the dropout family with ``p >= 1`` (``x * 0``: NaN and inf give NaN, as in torch),
through the CPU's private scalar formula "dropout:zero".
"""
from __future__ import annotations

from ...ir.node import Node
from ...ops.registry import register_lowering
from ..cpu.lower_random import DROPOUT_OPS  # also registers the "dropout:zero" formula
from .codegen import CudaEmitter
from .elementwise import lower_loop


def _random(em: CudaEmitter, node: Node) -> bool:
    if 0 in node.spec.shape:  # an empty draw leaves the generator unchanged
        em.out(node)
        return True
    if node.target in DROPOUT_OPS and node.attrs["p"] >= 1:
        return lower_loop(em, node, [em.buf(node.args[0])], [("dropout:zero", {}, (("in", 0),))])
    return False  # draws from nngraph's generator: a host step keeps the eager random stream


for _name in DROPOUT_OPS + ("rrelu", "gumbel_softmax"):
    register_lowering(_name, "cuda")(_random)
