"""Graphviz output: DOT text with nodes coloured by kind, clusters by module hierarchy (collapsible to a depth)."""
from __future__ import annotations

import html
import os
import shutil
import subprocess
from collections import defaultdict
from typing import Any

from ..ops.registry import REGISTRY, TensorSpec
from .node import CONSTANT, INPUT, MODULE, OP, OUTPUT, PARAM, Node

COLORS = {INPUT: "#b3e5fc", OUTPUT: "#b3e5fc", PARAM: "#eeeeee", CONSTANT: "#f5f5f5", MODULE: "#ffcdd2"}
FUSION_COLORS = {"heavy": "#ffe0b2", "elementwise": "#c8e6c9", "broadcast": "#c8e6c9", "injective": "#e1bee7",
                 "reduction": "#fff9c4", "opaque": "#d7ccc8"}
FUSED_COLOR = "#ffb74d"


class GraphvizNotFound(RuntimeError):
    """The Graphviz ``dot`` program is needed to render this format."""


def _spec_text(spec: Any) -> str:
    if isinstance(spec, TensorSpec):
        return f"{'x'.join(map(str, spec.shape)) or 'scalar'} {spec.dtype}"
    if isinstance(spec, tuple):
        return ", ".join(_spec_text(s) for s in spec)
    return ""


def _label(node: Node) -> str:
    if node.kind == OP and node.target == "fused":
        steps = [s[0] for s in node.attrs["steps"]]
        title = f"fused {node.attrs['kind']}: " + " → ".join(steps)
    elif node.kind == OP:
        title = node.target
    elif node.kind == MODULE:
        title = f"eager {node.attrs.get('module_type', '')} '{node.target}'"
    elif node.kind == PARAM:
        title = node.target
    else:
        title = node.kind
    rows = [f"<b>{html.escape(title)}</b>", html.escape(_spec_text(node.spec))]
    if node.meta.fused_from and node.kind == OP:
        rows.append(f"<i>from: {html.escape(', '.join(node.meta.fused_from))}</i>")
    return "<" + "<br/>".join(r for r in rows if r) + ">"


def _color(node: Node) -> str:
    if node.kind == OP:
        if node.target == "fused" or node.meta.fused_from:
            return FUSED_COLOR
        return FUSION_COLORS[REGISTRY[node.target].fusion.value]
    return COLORS[node.kind]


def to_dot(graph: Any, depth: int | None = None, show_params: bool = True, title: str = "") -> str:
    """DOT text for ``graph``. ``depth`` collapses module clusters deeper than that many levels (None: all levels);
    ``show_params=False`` hides parameter/constant nodes (large models read better without them)."""
    shown = [n for n in graph.nodes() if show_params or n.kind not in (PARAM, CONSTANT)]
    names = {n.name for n in shown}
    clusters: dict[str, list[Node]] = defaultdict(list)
    for n in shown:
        parts = n.meta.module.split(".") if n.meta.module else []
        if depth is not None:
            parts = parts[:depth]
        clusters[".".join(parts)].append(n)
    lines = ["digraph nngraph {", '  rankdir=TB; node [shape=box, style="rounded,filled", fontname="Helvetica", '
             'fontsize=10]; edge [color="#607d8b"];']
    if title:
        lines.append(f'  label="{title}"; labelloc=t;')

    def emit_cluster(prefix: str, indent: str) -> None:
        for n in clusters.get(prefix, []):
            lines.append(f'{indent}"{n.name}" [label={_label(n)}, fillcolor="{_color(n)}"];')
        children = sorted({p for p in clusters if p.startswith(prefix + ".") or (prefix == "" and p)})
        direct = [c for c in children if "." not in (c[len(prefix) + 1:] if prefix else c)]
        for child in direct:
            cid = child.replace(".", "_")
            lines.append(f'{indent}subgraph "cluster_{cid}" {{ label="{child}"; style="rounded,dashed"; color="#90a4ae";')
            emit_cluster(child, indent + "  ")
            lines.append(f"{indent}}}")

    # Make sure intermediate (empty) levels exist so nesting is preserved.
    for key in list(clusters):
        parts = key.split(".") if key else []
        for i in range(1, len(parts)):
            clusters.setdefault(".".join(parts[:i]), [])
    emit_cluster("", "  ")
    for n in shown:
        for a in n.inputs():
            if a in names:
                lines.append(f'  "{a}" -> "{n.name}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def dump(graph: Any, path: str | os.PathLike, depth: int | None = None, show_params: bool | None = None,
         title: str = "") -> str:
    """Write ``graph`` to ``path``: ``.dot`` as text, ``.svg``/``.png``/``.pdf`` rendered by Graphviz."""
    path = os.fspath(path)
    if show_params is None:
        show_params = len(graph) < 300
    text = to_dot(graph, depth=depth, show_params=show_params, title=title)
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    if fmt in ("dot", "gv", ""):
        with open(path, "w") as f:
            f.write(text)
        return path
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"unknown graph dump format {fmt!r}: use .dot, .svg, .png or .pdf")
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizNotFound(f"rendering {path!r} needs the Graphviz 'dot' program, which is not on PATH; install "
                               "Graphviz (Debian/Ubuntu: apt-get install graphviz) or write a .dot file instead")
    subprocess.run([dot, f"-T{fmt}", "-o", path], input=text.encode(), check=True, capture_output=True)
    return path
