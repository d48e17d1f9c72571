"""Flatten nested tuples/lists/dicts of arrays into leaves plus a hashable structure, and back."""
from __future__ import annotations

from typing import Any, Callable

# A tree is ("leaf",) | ("const", value) | ("tuple"|"list", (children...)) | ("dict", keys, (children...))
Tree = tuple


def flatten(obj: Any, is_leaf: Callable[[Any], bool]) -> tuple[list[Any], Tree]:
    leaves: list[Any] = []

    def walk(o: Any) -> Tree:
        if is_leaf(o):
            leaves.append(o)
            return ("leaf",)
        if isinstance(o, (tuple, list)) and not hasattr(o, "_fields"):
            return ("tuple" if isinstance(o, tuple) else "list", tuple(walk(x) for x in o))
        if isinstance(o, tuple):  # namedtuple
            return ("namedtuple", type(o), tuple(walk(x) for x in o))
        if isinstance(o, dict):
            keys = tuple(o.keys())
            return ("dict", keys, tuple(walk(o[k]) for k in keys))
        return ("const", o)

    return leaves, walk(obj)


def unflatten(leaves: list[Any], tree: Tree) -> Any:
    it = iter(leaves)

    def build(t: Tree) -> Any:
        kind = t[0]
        if kind == "leaf":
            return next(it)
        if kind == "const":
            return t[1]
        if kind == "tuple":
            return tuple(build(c) for c in t[1])
        if kind == "list":
            return [build(c) for c in t[1]]
        if kind == "namedtuple":
            return t[1](*(build(c) for c in t[2]))
        if kind == "dict":
            return {k: build(c) for k, c in zip(t[1], t[2])}
        raise ValueError(f"bad tree node {t!r}")

    return build(tree)


def count_leaves(tree: Tree) -> int:
    kind = tree[0]
    if kind == "leaf":
        return 1
    if kind == "const":
        return 0
    children = tree[2] if kind in ("dict", "namedtuple") else tree[1]
    return sum(count_leaves(c) for c in children)
