"""``Graph``: the IR, a networkx DiGraph of ``Node`` records (edge u -> v: v uses u's value)."""
from __future__ import annotations

import copy as _copy
from typing import Any, Iterable, Iterator

import networkx as nx
import numpy as np

from ..ops.registry import REGISTRY, TensorSpec
from .node import CONSTANT, INPUT, MODULE, OP, OUTPUT, PARAM, Node, NodeMeta
from .pytree import Tree, count_leaves


class LintError(ValueError):
    """The graph violates an IR invariant."""


class Graph:
    """A dataflow graph. Inputs are flattened (``input_tree`` rebuilds the call's positional/keyword arguments);
    the single OUTPUT node's ``attrs["tree"]`` rebuilds the returned structure from its args."""

    def __init__(self) -> None:
        self.nx = nx.DiGraph()
        self._seq = 0  # insertion counter: a stable tie-break for topological order
        self.input_tree: Tree = ("tuple", ())
        self.breaks: list = []  # BreakInfo records of graph breaks found while tracing
        self.memory_plan: Any = None  # set by the plan_memory pass

    # ------------------------------------------------------------------ building
    def _unique(self, base: str) -> str:
        base = base.replace(".", "_") or "v"
        name, i = base, 1
        while name in self.nx:
            name = f"{base}_{i}"
            i += 1
        return name

    def add(self, kind: str, target: Any, args: Iterable[str | None] = (), attrs: dict | None = None,
            meta: NodeMeta | None = None, name: str | None = None) -> Node:
        """Create a node and its edges; ``name`` is made unique."""
        args = tuple(args)
        for a in args:
            if a is not None and a not in self.nx:
                raise LintError(f"argument %{a} of new node is not in the graph")
        node = Node(self._unique(name or str(target)), kind, target, args, dict(attrs or {}), meta or NodeMeta())
        self._seq += 1
        self.nx.add_node(node.name, node=node, seq=self._seq)
        for a in node.inputs():
            self.nx.add_edge(a, node.name)
        return node

    def set_args(self, name: str, args: Iterable[str | None]) -> None:
        node = self[name]
        for a in node.inputs():
            self.nx.remove_edge(a, name)
        node.args = tuple(args)
        for a in node.inputs():
            self.nx.add_edge(a, name)

    def replace_all_uses(self, old: str, new: str) -> int:
        """Point every user of ``old`` at ``new``; returns how many users changed."""
        users = self.users(old)
        for u in users:
            if u == new:
                continue
            self.set_args(u, tuple(new if a == old else a for a in self[u].args))
        return len(users)

    def erase(self, name: str) -> None:
        if self.users(name):
            raise LintError(f"cannot erase %{name}: still used by {self.users(name)}")
        self.nx.remove_node(name)

    def copy(self) -> "Graph":
        g = Graph()
        g.nx = self.nx.copy()
        for n in g.nx.nodes:
            g.nx.nodes[n]["node"] = _copy.copy(self.nx.nodes[n]["node"])
            g.nx.nodes[n]["node"].attrs = dict(g.nx.nodes[n]["node"].attrs)
        g._seq, g.input_tree, g.breaks = self._seq, self.input_tree, list(self.breaks)
        return g

    def subgraph_copy(self, names: Iterable[str]) -> "Graph":
        """A new graph holding copies of ``names`` (arguments outside the set must be in it too)."""
        g = Graph()
        for node in self.nodes():
            if node.name in set(names):
                g.add(node.kind, node.target, node.args, node.attrs, node.meta, name=node.name)
        return g

    # ------------------------------------------------------------------ queries
    def __getitem__(self, name: str) -> Node:
        return self.nx.nodes[name]["node"]

    def __contains__(self, name: str) -> bool:
        return name in self.nx

    def __len__(self) -> int:
        return self.nx.number_of_nodes()

    def users(self, name: str) -> list[str]:
        return sorted(self.nx.successors(name), key=lambda n: self.nx.nodes[n]["seq"])

    def nodes(self) -> list[Node]:
        """All nodes in a stable topological order."""
        order = nx.lexicographical_topological_sort(self.nx, key=lambda n: self.nx.nodes[n]["seq"])
        return [self[n] for n in order]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes())

    def by_kind(self, kind: str) -> list[Node]:
        return [n for n in self.nodes() if n.kind == kind]

    def ops(self, target: str | None = None) -> list[Node]:
        return [n for n in self.nodes() if n.kind == OP and (target is None or n.target == target)]

    @property
    def inputs(self) -> list[Node]:
        return sorted(self.by_kind(INPUT), key=lambda n: n.target)

    @property
    def output(self) -> Node:
        outs = self.by_kind(OUTPUT)
        if len(outs) != 1:
            raise LintError(f"a graph has exactly one output node, found {len(outs)}")
        return outs[0]

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for n in self.nodes():
            key = n.target if n.kind == OP else n.kind
            counts[key] = counts.get(key, 0) + 1
        return counts

    # ------------------------------------------------------------------ validation
    def lint(self) -> None:
        """Check the IR invariants; raises ``LintError`` naming the node."""
        if not nx.is_directed_acyclic_graph(self.nx):
            raise LintError(f"graph has a cycle: {nx.find_cycle(self.nx)}")
        out = self.output
        for node in self.nodes():
            for a in node.inputs():
                if not self.nx.has_edge(a, node.name):
                    raise LintError(f"{node.describe()}: missing edge from %{a}")
            for a in self.nx.predecessors(node.name):
                if a not in node.args:
                    raise LintError(f"{node.describe()}: stray edge from %{a}")
            if node.kind in (INPUT, PARAM, CONSTANT) and node.args:
                raise LintError(f"{node.describe()}: a {node.kind} node takes no arguments")
            if node.kind == CONSTANT and not isinstance(node.attrs.get("value"), np.ndarray):
                raise LintError(f"{node.describe()}: constant without an array value")
            if node.kind == OP:
                self._lint_op(node)
            elif node.kind == MODULE:
                self._lint_module(node)
        if self.users(out.name):
            raise LintError("the output node has users")
        if count_leaves(out.attrs["tree"]) != len(out.args):
            raise LintError(f"{out.describe()}: its tree has {count_leaves(out.attrs['tree'])} leaves for "
                            f"{len(out.args)} arguments")
        positions = sorted(n.target for n in self.by_kind(INPUT))
        if positions != list(range(count_leaves(self.input_tree))):
            raise LintError(f"input nodes at positions {positions} do not match the {count_leaves(self.input_tree)} "
                            "array leaves of the input structure")

    def _lint_module(self, node: Node) -> None:
        n_args, n_out = count_leaves(node.attrs["call_tree"]), count_leaves(node.attrs["out_tree"])
        if n_args != len(node.args) or not isinstance(node.spec, tuple) or len(node.spec) != n_out:
            raise LintError(f"{node.describe()}: {len(node.args)} arguments and {node.spec} outputs do not match "
                            f"its call structure ({n_args} arrays in, {n_out} out)")

    def _lint_op(self, node: Node) -> None:
        if node.target not in REGISTRY:
            raise LintError(f"{node.describe()}: no op {node.target!r} in the registry")
        op = REGISTRY[node.target]
        specs = [None if a is None else self[a].spec for a in node.args]
        try:
            inferred = op.infer(*specs, **node.attrs)
        except Exception as e:  # noqa: BLE001 -- any failure of the shape rule is an arity/attribute error
            raise LintError(f"{node.describe()}: shape rule failed for argument specs {specs}: {e}") from e
        if not _same_spec(inferred, node.spec):
            raise LintError(f"{node.describe()}: recorded {node.spec} but the shape rule gives {inferred}")

    # ------------------------------------------------------------------ printing
    def __str__(self) -> str:
        rows = [("name", "kind", "target", "args", "shape", "dtype", "module")]
        for n in self.nodes():
            spec = n.spec
            if isinstance(spec, TensorSpec):
                shape, dtype = str(spec.shape), str(spec.dtype)
            elif isinstance(spec, tuple):
                shape, dtype = " ".join(str(s.shape) for s in spec), " ".join(str(s.dtype) for s in spec)
            else:
                shape = dtype = "-"
            args = ", ".join("None" if a is None else a for a in n.args)
            rows.append((n.name, n.kind, str(n.target), args, shape, dtype, n.meta.module))
        widths = [min(max(len(r[i]) for r in rows), 48) for i in range(len(rows[0]))]
        return "\n".join("  ".join(c[:48].ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)

    def __repr__(self) -> str:
        return f"<Graph: {len(self)} nodes, {len(self.ops())} ops>"

    def dump(self, path: str, **kwargs: Any) -> str:
        """Write the graph as .dot, or render .svg/.png/.pdf with Graphviz; returns the path."""
        from .dot import dump

        return dump(self, path, **kwargs)


def _same_spec(a: Any, b: Any) -> bool:
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same_spec(x, y) for x, y in zip(a, b))
    return isinstance(a, TensorSpec) and isinstance(b, TensorSpec) and a == b
