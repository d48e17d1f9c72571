"""What a pass is: a named function ``graph -> PassResult(graph, changed)``; the pass table by name."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..ir.graph import Graph


@dataclass
class PassResult:
    graph: Graph
    changed: bool
    fused: dict[str, tuple[str, ...]] = field(default_factory=dict)  # new node -> original nodes it replaces


@dataclass
class PassContext:
    """What a pass may look at besides the graph."""

    training: bool = False
    example: tuple | None = None  # (args, kwargs) the graph was traced with, for numerics checks
    root: Any = None  # the module (resolves PARAM nodes)


PassFn = Callable[[Graph, PassContext], PassResult]
PASSES: dict[str, PassFn] = {}


def graph_pass(name: str) -> Callable[[PassFn], PassFn]:
    """Register a pass under ``name`` (the name users pass in ``passes=`` / ``disable=``)."""

    def wrap(fn: PassFn) -> PassFn:
        fn.pass_name = name  # type: ignore[attr-defined]
        PASSES[name] = fn
        return fn

    return wrap


def pass_name(fn: Any) -> str:
    return getattr(fn, "pass_name", getattr(fn, "__name__", repr(fn)))
