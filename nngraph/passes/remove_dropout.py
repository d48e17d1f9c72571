"""Inference: dropout layers are the identity.

A dropout op recorded by a dropout *layer* (``nn.Dropout``, ``Dropout1d/2d/3d``, ``AlphaDropout``,
``FeatureAlphaDropout``: a graph traced while the layer was training) is removed when compiling for inference.
Dropout that other code requests explicitly (``F.dropout(x, training=True)``, e.g. Monte-Carlo dropout) is part of
the model's semantics and stays, as in torch. Nothing changes in train mode. In an eval-mode trace dropout layers
record nothing, so this pass only acts on graphs traced with dropout layers in train mode.
"""
from __future__ import annotations

from typing import Any

from ..ir.graph import Graph
from ..nn.modules.dropout import _DropoutNd
from .base import PassContext, PassResult, graph_pass

DROPOUT_OPS = ("dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout")


def _is_dropout_layer(root: Any, name: str) -> bool:
    if root is None:
        return False
    try:
        module = root.get_submodule(name) if name else root
    except AttributeError:
        return False
    return isinstance(module, _DropoutNd)


@graph_pass("remove_dropout")
def remove_dropout(graph: Graph, ctx: PassContext) -> PassResult:
    if ctx.training:
        return PassResult(graph, False)
    changed = False
    for node in graph.ops():
        if node.target in DROPOUT_OPS and _is_dropout_layer(ctx.root, node.meta.module):
            graph.replace_all_uses(node.name, node.args[0])
            graph.erase(node.name)
            changed = True
    return PassResult(graph, changed)
