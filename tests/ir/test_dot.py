"""Graphviz output: DOT text (colours by kind, fused-node labels, module clusters, depth), rendering a real SVG,
and a clear error when the ``dot`` program is missing."""
from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
from nngraph.ir.dot import COLORS, FUSED_COLOR, FUSION_COLORS, GraphvizNotFound, to_dot
from nngraph.ir.node import INPUT, MODULE, PARAM

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c)
        self.act = nn.ReLU()

    def forward(self, x: Any) -> Any:
        return self.act(self.bn(self.conv(x)) + x)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.layers = nn.Sequential(Block(4), Block(4))
        self.head = nn.Linear(4, 2)

    def forward(self, x: Any) -> Any:
        return self.head(self.layers(self.stem(x)).mean(axis=(2, 3)))


X = np.random.default_rng(0).standard_normal((1, 3, 6, 6)).astype(np.float32)


@pytest.fixture(scope="module")
def graphs() -> Any:
    return nngraph.optimize(Net().eval(), X)


def _node_lines(dot: str) -> dict[str, str]:
    return {m.group(1): m.group(0) for m in re.finditer(r'^\s*"([^"]+)" \[label=.*$', dot, re.M)}


def test_nodes_coloured_by_kind(graphs: Any) -> None:
    g = graphs.traced
    lines = _node_lines(to_dot(g))
    assert set(lines) == {n.name for n in g.nodes()}
    for n in g.nodes():
        if n.kind == "op":
            want = FUSION_COLORS[nngraph.ops.registry.REGISTRY[n.target].fusion.value]
        else:
            want = COLORS[n.kind]
        assert f'fillcolor="{want}"' in lines[n.name], lines[n.name]
    assert f'fillcolor="{COLORS[PARAM]}"' in lines["stem_weight"] and "stem.weight" in lines["stem_weight"]
    assert f'fillcolor="{COLORS[INPUT]}"' in lines["input_0"] and "1x3x6x6 float32" in lines["input_0"]


def test_edges_follow_arguments(graphs: Any) -> None:
    g = graphs.traced
    edges = set(re.findall(r'^\s*"([^"]+)" -> "([^"]+)";$', to_dot(g), re.M))
    assert edges == {(a, n.name) for n in g.nodes() for a in n.inputs()}


def test_fused_nodes_list_what_they_fused(graphs: Any) -> None:
    g = graphs.graph
    lines = _node_lines(to_dot(g))
    fused = g.ops("fused")
    assert fused
    for n in fused:
        line = lines[n.name]
        assert f'fillcolor="{FUSED_COLOR}"' in line
        steps = " → ".join(s[0] for s in n.attrs["steps"])
        assert f"fused {n.attrs['kind']}: {steps}" in line
        assert "<i>from: " + ", ".join(n.meta.fused_from) + "</i>" in line
    block = next(n for n in fused if n.meta.module == "layers.0.conv")
    assert "conv → add → relu" in lines[block.name] and "batch_norm" in lines[block.name]  # bn folded in


def test_clusters_follow_module_hierarchy_and_collapse(graphs: Any) -> None:
    g = graphs.traced
    dot = to_dot(g)
    for cluster in ("stem", "layers", "layers_0", "layers_0_conv", "layers_1_bn", "head"):
        assert f'subgraph "cluster_{cluster}"' in dot
    # Nesting: layers.0.conv's cluster opens inside layers.0's, which opens inside layers'.
    i_layers, i_0, i_conv = (dot.index(f'"cluster_{c}"') for c in ("layers", "layers_0", "layers_0_conv"))
    assert i_layers < i_0 < i_conv
    assert dot.count("{") == dot.count("}")
    shallow = to_dot(g, depth=1)
    assert 'subgraph "cluster_layers"' in shallow and "cluster_layers_0" not in shallow
    assert set(_node_lines(shallow)) == set(_node_lines(dot))  # collapsing hides clusters, not nodes
    flat = to_dot(g, depth=0)
    assert "subgraph" not in flat


def test_hide_params_and_title(graphs: Any) -> None:
    g = graphs.traced
    dot = to_dot(g, show_params=False, title="before")
    assert "stem_weight" not in dot and 'label="before"' in dot
    assert all(a in _node_lines(dot) for a, _ in re.findall(r'"([^"]+)" -> "([^"]+)"', dot))


def test_module_nodes_are_marked() -> None:
    m = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    m[1].register_forward_hook(lambda *a: None)
    g = nngraph.trace(m, np.ones((2, 4), np.float32))
    line = _node_lines(to_dot(g))["call_1"]
    assert f'fillcolor="{COLORS[MODULE]}"' in line and "eager ReLU &#x27;1&#x27;" in line


def test_dump_dot_text(tmp_path: Path, graphs: Any) -> None:
    path = graphs.graph.dump(str(tmp_path / "g.dot"))
    assert Path(path).read_text() == to_dot(graphs.graph, show_params=True)
    with pytest.raises(ValueError, match=r"unknown graph dump format 'txt'"):
        graphs.graph.dump(str(tmp_path / "g.txt"))


@needs_dot
def test_dump_renders_real_svg(tmp_path: Path, graphs: Any) -> None:
    path = tmp_path / "after.svg"
    graphs.graph.dump(str(path), title="optimized")
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    ns = {"s": "http://www.w3.org/2000/svg"}
    titles = {t.text for t in root.iterfind(".//s:g[@class='node']/s:title", ns)}
    assert titles == {n.name for n in graphs.graph.nodes()}
    clusters = {t.text for t in root.iterfind(".//s:g[@class='cluster']/s:title", ns)}
    assert {"cluster_layers", "cluster_layers_0_conv"} <= clusters
    text = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "fused epilogue" in text and "optimized" in text
    assert FUSED_COLOR.lower() in path.read_text().lower()
    for fmt in ("png", "pdf"):
        out = graphs.graph.dump(str(tmp_path / f"after.{fmt}"))
        assert Path(out).stat().st_size > 0


def test_missing_dot_program_is_a_clear_error(tmp_path: Path, graphs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(GraphvizNotFound, match=r"Graphviz 'dot' program.*not on PATH") as info:
        graphs.graph.dump(str(tmp_path / "g.svg"))
    assert "g.svg" in str(info.value) and not (tmp_path / "g.svg").exists()
    graphs.graph.dump(str(tmp_path / "g.dot"))  # text output needs no Graphviz
    assert (tmp_path / "g.dot").exists()
