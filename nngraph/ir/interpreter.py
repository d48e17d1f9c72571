"""The reference interpreter: runs any graph node by node with the registry's numpy implementations.

It is the semantic definition every backend is tested against.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..ops.registry import REGISTRY
from .graph import Graph
from .node import CONSTANT, INPUT, MODULE, OP, OUTPUT, PARAM, Node
from .pytree import flatten, unflatten


class NodeExecutionError(RuntimeError):
    """A node failed while executing; the message names the node and the module it came from."""

    def __init__(self, node: Node, cause: BaseException) -> None:
        self.node = node
        where = f" (module '{node.meta.module}')" if node.meta.module else " (the root module)"
        src = f", recorded at {node.meta.source}" if node.meta.source else ""
        super().__init__(f"While executing {node.describe()}{where}{src}: {type(cause).__name__}: {cause}")


def module_state(root: Any) -> dict[str, np.ndarray]:
    """Every parameter and buffer of ``root`` by qualified name (shared ones under each of their names)."""
    state: dict[str, np.ndarray] = {}
    for name, p in root.named_parameters(remove_duplicate=False):
        state[name] = p
    for name, b in root.named_buffers(remove_duplicate=False):
        state[name] = b
    return state


def flatten_inputs(graph: Graph, args: tuple, kwargs: dict) -> list[Any]:
    leaves, tree = flatten((tuple(args), dict(kwargs)), is_leaf=lambda v: isinstance(v, np.ndarray))
    if tree != graph.input_tree:
        raise ValueError(f"the call's argument structure {tree} differs from the traced one {graph.input_tree}")
    return leaves


class Interpreter:
    """Executes ``graph``. ``root`` resolves PARAM nodes (by qualified name) and MODULE nodes (opaque calls)."""

    def __init__(self, graph: Graph, root: Any = None, params: Mapping[str, np.ndarray] | None = None) -> None:
        self.graph = graph
        self.root = root
        self.params = params if params is not None else (module_state(root) if root is not None else {})
        self.env: dict[str, Any] = {}

    def run(self, *args: Any, keep: bool = False, **kwargs: Any) -> Any:
        """Run the graph on a call's arguments; ``keep=True`` keeps every node's value in ``self.env``."""
        leaves = flatten_inputs(self.graph, args, kwargs)
        nodes = self.graph.nodes()
        remaining = {n.name: len(self.graph.users(n.name)) for n in nodes}
        env: dict[str, Any] = {}
        self.env = env
        result = None
        for node in nodes:
            try:
                if node.kind == INPUT:
                    value = leaves[node.target]
                elif node.kind == OUTPUT:
                    result = unflatten([env[a] for a in node.args], node.attrs["tree"])
                    continue
                else:
                    value = self.run_node(node, [None if a is None else env[a] for a in node.args])
            except NodeExecutionError:
                raise
            except Exception as e:  # noqa: BLE001 -- re-raised with the node and module named
                raise NodeExecutionError(node, e) from e
            env[node.name] = value
            if not keep:
                for a in node.inputs():
                    remaining[a] -= 1
                    if remaining[a] == 0 and self.graph[a].kind != OUTPUT:
                        env.pop(a, None)
        return result

    def run_node(self, node: Node, args: list[Any]) -> Any:
        if node.kind == PARAM:
            try:
                return self.params[node.target]
            except KeyError:
                raise KeyError(f"no parameter or buffer named {node.target!r} in the module") from None
        if node.kind == CONSTANT:
            return node.attrs["value"]
        if node.kind == OP:
            return REGISTRY[node.target].impl(*args, **node.attrs)
        if node.kind == MODULE:
            return call_opaque_module(self.root, node, args)
        raise ValueError(f"cannot execute node kind {node.kind!r}")


def call_opaque_module(root: Any, node: Node, args: list[Any]) -> tuple:
    """Run a MODULE node eagerly (hooks fire as in eager mode); returns the flattened output leaves."""
    module = root.get_submodule(node.target)
    call_args, call_kwargs = unflatten(list(args), node.attrs["call_tree"])
    out = module(*call_args, **call_kwargs)
    leaves, tree = flatten(out, is_leaf=lambda v: isinstance(v, np.ndarray))
    if tree != node.attrs["out_tree"]:
        raise ValueError(f"module '{node.target}' returned a structure {tree} different from the traced one "
                         f"{node.attrs['out_tree']}")
    return tuple(leaves)
