"""Eval-mode BatchNorm folding: into the weight and bias of a preceding conv / conv_transpose / linear whose only
user it is; a BatchNorm with nothing to fold into becomes a per-channel ``channel_affine``. The folding arithmetic
(float64, cast once) lives in the ``bn_fold_*`` ops, which depend on parameters only, so the runtime recomputes them
when the weights change."""
from __future__ import annotations

from ..ir.graph import Graph
from ..ir.node import CONSTANT, OP, PARAM, Node
from ..ops.registry import TensorSpec
from .base import PassContext, PassResult, graph_pass

FOLDABLE = ("conv", "conv_transpose", "linear")


def is_weight(graph: Graph, name: str | None) -> bool:
    """Whether a value is known at compile time up to the weights (params, constants, functions of them)."""
    if name is None:
        return True
    node = graph[name]
    return node.kind in (PARAM, CONSTANT) or node.meta.weight_only


def _foldable_producer(graph: Graph, bn: Node) -> Node | None:
    producer = graph[bn.args[0]]
    if producer.kind != OP or producer.target not in FOLDABLE or graph.users(producer.name) != [bn.name]:
        return None
    if not all(is_weight(graph, a) for a in producer.args[1:]):
        return None
    if producer.target == "linear" and producer.spec.ndim != 2:  # BatchNorm1d on (N, L, C) normalizes L, not C
        return None
    return producer


def _weight_meta(graph: Graph, bn: Node, spec: TensorSpec):  # noqa: ANN202
    return bn.meta.with_(spec=spec, weight_only=True, fused_from=())


@graph_pass("fold_batchnorm")
def fold_batchnorm(graph: Graph, ctx: PassContext) -> PassResult:
    if ctx.training:
        return PassResult(graph, False)
    changed = False
    for bn in graph.ops("batch_norm"):
        x, mean, var, gamma, beta = bn.args
        if not all(is_weight(graph, a) for a in (mean, var, gamma, beta)):
            continue
        eps = bn.attrs["eps"]
        producer = _foldable_producer(graph, bn)
        if producer is not None:
            w, b = producer.args[1], producer.args[2]
            wspec = graph[w].spec
            layout = "transpose" if producer.target == "conv_transpose" else "out_first"
            new_w = graph.add(OP, "bn_fold_weight", (w, var, gamma),
                              {"eps": eps, "layout": layout, "groups": producer.attrs.get("groups", 1)},
                              _weight_meta(graph, bn, wspec), name=f"{producer.name}_w_folded")
            bias_spec = TensorSpec(graph[mean].spec.shape, wspec.dtype)
            new_b = graph.add(OP, "bn_fold_bias", (b, mean, var, gamma, beta), {"eps": eps, "dtype": wspec.dtype.str},
                              _weight_meta(graph, bn, bias_spec), name=f"{producer.name}_b_folded")
            graph.set_args(producer.name, (producer.args[0], new_w.name, new_b.name) + producer.args[3:])
            origin = producer.meta.fused_from or (producer.name,)
            producer.meta = producer.meta.with_(fused_from=origin + (bn.name,))
            graph.replace_all_uses(bn.name, producer.name)
        else:
            vspec = graph[var].spec
            dtype = bn.spec.dtype.str
            scale = graph.add(OP, "bn_scale", (var, gamma), {"eps": eps, "dtype": dtype},
                              _weight_meta(graph, bn, TensorSpec(vspec.shape, bn.spec.dtype)), name=f"{bn.name}_scale")
            shift = graph.add(OP, "bn_fold_bias", (None, mean, var, gamma, beta), {"eps": eps, "dtype": dtype},
                              _weight_meta(graph, bn, TensorSpec(vspec.shape, bn.spec.dtype)), name=f"{bn.name}_shift")
            affine = graph.add(OP, "channel_affine", (x, scale.name, shift.name), {},
                               bn.meta.with_(fused_from=(bn.name,)), name=f"{bn.name}_affine")
            graph.replace_all_uses(bn.name, affine.name)
        graph.erase(bn.name)
        changed = True
    return PassResult(graph, changed)
