"""Build graphs by hand (TVM-style "Before"/"Expected" graphs) and compare graphs structurally."""
from __future__ import annotations

from typing import Any

import numpy as np

from nngraph.ir import CONSTANT, INPUT, OP, OUTPUT, PARAM, Graph, NodeMeta
from nngraph.ops.registry import REGISTRY, TensorSpec


class Builder:
    """``b = Builder(); x = b.input((2, 3)); y = b.op("relu", x); b.output(y); b.graph``. Specs come from the ops'
    shape rules, so a built graph lints; ``module=`` sets the recording module of the next nodes."""

    def __init__(self) -> None:
        self.graph = Graph()
        self.n_inputs = 0
        self.module = ""

    def input(self, shape: tuple[int, ...], dtype: Any = np.float32) -> str:
        node = self.graph.add(INPUT, self.n_inputs, meta=NodeMeta(spec=TensorSpec(shape, dtype)),
                              name=f"input_{self.n_inputs}")
        self.n_inputs += 1
        self.graph.input_tree = ("tuple", (("tuple", (("leaf",),) * self.n_inputs), ("dict", (), ())))
        return node.name

    def param(self, key: str, shape: tuple[int, ...], dtype: Any = np.float32) -> str:
        meta = NodeMeta(spec=TensorSpec(shape, dtype), module=key.rpartition(".")[0])
        return self.graph.add(PARAM, key, meta=meta, name=key).name

    def const(self, value: Any) -> str:
        value = np.asarray(value)
        return self.graph.add(CONSTANT, "constant", attrs={"value": value},
                              meta=NodeMeta(spec=TensorSpec.of(value), module=self.module), name="const").name

    def op(self, target: str, *args: str | None, module: str | None = None, meta: dict | None = None,
           **attrs: Any) -> str:
        specs = [None if a is None else self.graph[a].spec for a in args]
        spec = REGISTRY[target].infer(*specs, **attrs)
        m = NodeMeta(spec=spec, module=self.module if module is None else module, **(meta or {}))
        return self.graph.add(OP, target, args, attrs, m, name=target).name

    def output(self, *names: str) -> Graph:
        tree = ("leaf",) if len(names) == 1 else ("tuple", (("leaf",),) * len(names))
        self.graph.add(OUTPUT, "output", names, {"tree": tree}, NodeMeta(), name="output")
        return self.graph


def _attr_key(value: Any) -> Any:
    if isinstance(value, (np.ndarray, np.generic)):
        value = np.asarray(value)
        return ("array", type(value).__name__, value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, dict):
        return tuple(sorted((k, _attr_key(v)) for k, v in value.items()))
    if isinstance(value, (tuple, list)):
        return tuple(_attr_key(v) for v in value)
    return value


def canonical(graph: Graph, name: str, memo: dict[str, Any] | None = None) -> Any:
    """A hashable description of the value ``name`` computes, independent of node names: kind, target,
    attributes (arrays by value), and the canonical forms of its arguments."""
    memo = {} if memo is None else memo
    if name in memo:
        return memo[name]
    node = graph[name]
    args = tuple(None if a is None else canonical(graph, a, memo) for a in node.args)
    if node.kind in (INPUT, PARAM):
        key: Any = (node.kind, node.target)
    elif node.kind == CONSTANT:
        key = (node.kind, _attr_key(node.attrs["value"]))
    else:
        key = (node.kind, node.target, _attr_key(node.attrs), args)
    memo[name] = key
    return key


def structurally_equal(a: Graph, b: Graph, check_specs: bool = True) -> bool:
    """Same computation up to node names: the output's canonical forms match, every node of one graph has a
    counterpart in the other (no extra dead nodes), and (optionally) counterparts have the same spec."""
    ma: dict[str, Any] = {}
    mb: dict[str, Any] = {}
    if canonical(a, a.output.name, ma) != canonical(b, b.output.name, mb):
        return False
    forms_a = sorted(map(repr, (canonical(a, n.name, ma) for n in a.nodes())))
    forms_b = sorted(map(repr, (canonical(b, n.name, mb) for n in b.nodes())))
    if forms_a != forms_b:
        return False
    if check_specs:
        spec_a = {repr(canonical(a, n.name, ma)): n.spec for n in a.nodes()}
        spec_b = {repr(canonical(b, n.name, mb)): n.spec for n in b.nodes()}
        return spec_a == spec_b
    return True


def assert_structurally_equal(got: Graph, want: Graph, check_specs: bool = True) -> None:
    assert structurally_equal(got, want, check_specs), f"graphs differ\n--- got:\n{got}\n--- expected:\n{want}"


__all__ = ["Builder", "canonical", "structurally_equal", "assert_structurally_equal"]
