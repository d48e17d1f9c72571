"""IR nodes: a closed set of kinds, ordered arguments, attributes and one typed metadata record."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Union

import numpy as np

from ..ops.registry import TensorSpec

# The closed set of node kinds.
INPUT = "input"  # a graph input; target = its position among the flattened inputs
PARAM = "param"  # a module parameter or buffer; target = its state_dict-style key (refreshed from the module)
CONSTANT = "constant"  # a literal array made during forward; attrs["value"]
OP = "op"  # a registry op; target = op name
MODULE = "module"  # an opaque module call executed eagerly (graph break, hooked module); target = qualified name
OUTPUT = "output"  # the single output node; attrs["tree"] rebuilds the returned structure from its args
KINDS = (INPUT, PARAM, CONSTANT, OP, MODULE, OUTPUT)

Spec = Union[TensorSpec, tuple]  # a tuple of TensorSpec for multi-output nodes


@dataclass(frozen=True)
class NodeMeta:
    """Everything known about a node's value and origin."""

    spec: Spec | None = None  # shape and dtype of the value (a tuple for multi-output nodes)
    module: str = ""  # qualified name of the module that produced it ('' = the root)
    fused_from: tuple[str, ...] = ()  # names of the original nodes this node replaces (fusion/folding)
    source: str = ""  # 'file:line' of the Python code that recorded it
    weight_only: bool = False  # depends only on params/constants: computed once per weight version

    def with_(self, **changes: Any) -> "NodeMeta":
        return replace(self, **changes)


@dataclass(eq=False)
class Node:
    """One IR node. ``args`` are names of other nodes or ``None`` (an absent optional input)."""

    name: str
    kind: str
    target: Any
    args: tuple[str | None, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)
    meta: NodeMeta = field(default_factory=NodeMeta)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown node kind {self.kind!r}; expected one of {KINDS}")
        self.args = tuple(self.args)

    @property
    def spec(self) -> Spec | None:
        return self.meta.spec

    def inputs(self) -> list[str]:
        """Distinct argument node names, in order."""
        seen: list[str] = []
        for a in self.args:
            if a is not None and a not in seen:
                seen.append(a)
        return seen

    def describe(self) -> str:
        """``%conv1 = op[conv](%x, %conv1.weight) {stride=(1, 1)} @ layer1.0.conv1``"""
        args = ", ".join("None" if a is None else f"%{a}" for a in self.args)
        attrs = {k: v for k, v in self.attrs.items() if k not in ("value", "tree")}
        attr_txt = " {" + ", ".join(f"{k}={_short(v)}" for k, v in attrs.items()) + "}" if attrs else ""
        where = f" @ {self.meta.module}" if self.meta.module else ""
        return f"%{self.name} = {self.kind}[{self.target}]({args}){attr_txt}{where}"


def _short(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"array{v.shape}"
    text = repr(v)
    return text if len(text) < 60 else text[:57] + "..."
