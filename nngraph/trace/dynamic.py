"""Symbolic graphs by tracing several times: ``symbolic_trace`` for dynamic shapes.

The tracer specializes shape-dependent Python on concrete sizes. To make some input dimensions symbolic, the model is
traced at the corners of a small grid of sizes (each symbol at ``v`` and ``v + 1``, ``v`` the call's size) and once
more at ``v + 2`` for verification. The traces must have the same structure (nodes, ops, arguments, non-integer
attributes, constant arrays); every integer that differs (in shapes, reshape targets, slice bounds, ...) becomes the
multilinear polynomial of the symbols interpolating the grid, which must reproduce the verification trace exactly.
Anything else raises ``NotShapePolymorphic`` naming the node, and the caller falls back to static shapes.
"""
from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np

from ..ir.graph import Graph
from ..ir.pytree import flatten, unflatten
from ..ir.symbolic import SymInt
from ..ops.registry import TensorSpec


class NotShapePolymorphic(Exception):
    """The traced graph is not the same program at every size of the dynamic dimensions."""


def _is_array(v: Any) -> bool:
    return isinstance(v, np.ndarray)


def resize(x: np.ndarray, dim: int, n: int) -> np.ndarray:
    """``x`` with ``n`` entries along ``dim``, tiling its data (integer inputs such as token ids stay valid)."""
    return np.ascontiguousarray(np.take(x, np.arange(n) % x.shape[dim], axis=dim))


class _Fitter:
    def __init__(self, names: list[str], base: list[int], corners: list[tuple[int, ...]]) -> None:
        self.names, self.base, self.corners = names, base, corners
        self.symbols = [SymInt.symbol(s, v) for s, v in zip(names, base)]

    def fit_int(self, values: list[int], where: str) -> Any:
        k = len(self.names)
        by_corner = dict(zip(self.corners, values))
        result: Any = 0
        for subset in itertools.product((0, 1), repeat=k):
            delta = 0
            for sub in itertools.product((0, 1), repeat=k):
                if all(b <= s for b, s in zip(sub, subset)):
                    delta += (-1) ** (sum(subset) - sum(sub)) * by_corner[sub]
            if delta:
                term: Any = delta
                for i, bit in enumerate(subset):
                    if bit:
                        term = term * (self.symbols[i] - self.base[i])
                result = result + term
        verify = {s: v + 2 for s, v in zip(self.names, self.base)}
        got = result.evaluate(verify) if isinstance(result, SymInt) else result
        if got != values[-1]:
            raise NotShapePolymorphic(f"{where}: an integer is not a multilinear function of the dynamic sizes "
                                      f"({values[0]} at the call's sizes, {values[-1]} at the verification sizes)")
        return result

    def fit(self, values: list[Any], where: str) -> Any:
        v0 = values[0]
        if any(type(v) is not type(v0) for v in values):
            raise NotShapePolymorphic(f"{where}: value types differ between sizes")
        if isinstance(v0, (bool, np.bool_)) or v0 is None:
            pass
        elif isinstance(v0, (int, np.integer)):
            if all(v == v0 for v in values):
                return v0
            return self.fit_int([int(v) for v in values], where)
        elif type(v0) in (tuple, list):
            if any(len(v) != len(v0) for v in values):
                raise NotShapePolymorphic(f"{where}: lengths differ between sizes")
            return type(v0)(self.fit([v[i] for v in values], where) for i in range(len(v0)))
        elif type(v0) is dict:
            if any(v.keys() != v0.keys() for v in values):
                raise NotShapePolymorphic(f"{where}: attribute names differ between sizes")
            return {k: self.fit([v[k] for v in values], f"{where}.{k}") for k in v0}
        elif isinstance(v0, TensorSpec):
            if any(v.dtype != v0.dtype for v in values):
                raise NotShapePolymorphic(f"{where}: dtypes differ between sizes")
            return TensorSpec(self.fit([v.shape for v in values], where), v0.dtype)
        elif isinstance(v0, np.ndarray):
            if any(v.shape != v0.shape or v.dtype != v0.dtype or not np.array_equal(v, v0, equal_nan=v0.dtype.kind
                                                                                   in "fc") for v in values):
                raise NotShapePolymorphic(f"{where}: a constant array made during forward depends on the sizes")
            return v0
        try:
            same = all(bool(v == v0) for v in values)
        except Exception:  # noqa: BLE001
            same = all(repr(v) == repr(v0) for v in values)
        if not same:
            raise NotShapePolymorphic(f"{where}: {v0!r} changes with the sizes")
        return v0


def symbolic_trace(model: Any, args: tuple, kwargs: dict, dims: dict[tuple[int, int], str],
                   fullgraph: bool = False) -> tuple[Graph, dict[str, int]]:
    """Trace ``model`` with the flattened input dims ``dims`` ((leaf index, dim) -> symbol) symbolic.

    Returns the graph (shapes and attributes hold ``SymInt`` with the call's sizes as hints) and the call's symbol
    values. Raises ``NotShapePolymorphic`` when the traces differ in structure."""
    from .tracer import trace

    leaves, tree = flatten((args, kwargs), _is_array)
    names = sorted(set(dims.values()), key=lambda s: min(k for k, v in dims.items() if v == s))
    base = []
    for s in names:
        sizes = {leaves[i].shape[d] for (i, d), t in dims.items() if t == s}
        if len(sizes) != 1:
            raise NotShapePolymorphic(f"symbol {s!r} names dimensions of different sizes {sorted(sizes)}")
        base.append(sizes.pop())
    corners = list(itertools.product((0, 1), repeat=len(names)))
    points = [tuple(v + b for v, b in zip(base, c)) for c in corners] + [tuple(v + 2 for v in base)]
    graphs: list[Graph] = []
    for p, point in enumerate(points):
        env = dict(zip(names, point))
        new = list(leaves)
        for (i, d), s in dims.items():
            new[i] = resize(new[i], d, env[s])
        a, kw = unflatten(new, tree) if p else (args, kwargs)
        if p == 0:
            graphs.append(trace(model, *a, fullgraph=fullgraph, **kw))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graphs.append(trace(model, *a, fullgraph=fullgraph, **kw))
    fitter = _Fitter(names, base, corners)
    g0 = graphs[0]
    structure = [[(n.name, n.kind, n.target, n.args) for n in g.nodes()] for g in graphs]
    for g, st in zip(graphs[1:], structure[1:]):
        if st != structure[0]:
            diff = next((a, b) for a, b in zip(structure[0], st + [None] * len(structure[0])) if a != b)
            raise NotShapePolymorphic(f"the traced graph changes with the sizes (node %{diff[0][0]}: {diff[0][2]})")
        if g.input_tree != g0.input_tree or [b.message() for b in g.breaks] != [b.message() for b in g0.breaks]:
            raise NotShapePolymorphic("the input structure or the graph breaks change with the sizes")
    out = g0.copy()
    for node in out.nodes():
        others = [g[node.name] for g in graphs]
        where = f"%{node.name} ({node.kind}[{node.target}])"
        node.attrs = fitter.fit([o.attrs for o in others], where)
        node.meta = node.meta.with_(spec=fitter.fit([o.meta.spec for o in others], where))
    return out, dict(zip(names, base))


def rehint(graph: Graph, env: dict[str, int]) -> Graph:
    """A copy of ``graph`` whose symbolic sizes carry the hints of ``env``."""

    def sub(v: Any) -> Any:
        if isinstance(v, SymInt):
            return v.rehint(env)
        if type(v) in (tuple, list):
            return type(v)(sub(x) for x in v)
        if type(v) is dict:
            return {k: sub(x) for k, x in v.items()}
        if isinstance(v, TensorSpec):
            return TensorSpec(sub(v.shape), v.dtype)
        return v

    out = graph.copy()
    for node in out.nodes():
        node.attrs = sub(node.attrs)
        node.meta = node.meta.with_(spec=sub(node.meta.spec))
    return out


def thaw_symbolic_weights(graph: Graph) -> Graph:
    """Weight-only values whose shape or attributes involve a symbolic size (``pos_embedding[:seq]``) cannot be
    precomputed into the weight arena: they become ordinary computed values (as does everything derived from them)."""
    from ..ir.symbolic import contains_symbols

    thawed: set[str] = set()
    for node in graph.nodes():
        if not node.meta.weight_only:
            continue
        spec = node.meta.spec
        shapes = [s.shape for s in (spec if isinstance(spec, tuple) else (spec,)) if isinstance(s, TensorSpec)]
        if contains_symbols(shapes) or contains_symbols(node.attrs) or any(a in thawed for a in node.args):
            node.meta = node.meta.with_(weight_only=False)
            thawed.add(node.name)
    return graph
