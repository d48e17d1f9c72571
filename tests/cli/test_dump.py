"""``nngraph dump``: a model's graph as traced or optimized, as DOT text or rendered by Graphviz."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nngraph.cli.main import main

from .helpers import nngraph_cli

CNN = ["tests.cli.tiny_models:tiny_cnn", "--input-shape", "3,8,8"]


def test_dump_stages_as_dot(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    traced, optimized = tmp_path / "traced.dot", tmp_path / "optimized.dot"
    assert main(["dump", *CNN, "-o", str(traced), "--stage", "traced"]) == 0
    assert main(["dump", *CNN, "-o", str(optimized)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {traced}: traced graph" in out and f"wrote {optimized}: optimized graph" in out
    t, o = traced.read_text(), optimized.read_text()
    assert t.startswith("digraph") and o.startswith("digraph")
    assert "batch_norm" in t and "fused epilogue" not in t
    assert "fused epilogue" in o and "from: " in o
    assert "tiny_cnn, optimized, input (1, 3, 8, 8) float32" in o


def test_dump_depth_and_params(tmp_path: Path) -> None:
    path = tmp_path / "g.dot"
    assert main(["dump", "resnet18", "--input-shape", "3,32,32", "-o", str(path), "--depth", "1",
                 "--no-params"]) == 0
    text = path.read_text()
    assert 'label="layer1"' in text and 'label="layer1.0"' not in text  # clusters collapsed below depth 1
    assert "conv1.weight" not in text  # parameters hidden
    full = tmp_path / "full.dot"
    assert main(["dump", "resnet18", "--input-shape", "3,32,32", "-o", str(full), "--params"]) == 0
    assert 'label="layer1.0"' in full.read_text() and "conv1.weight" in full.read_text()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' not installed")
def test_dump_svg_subprocess(tmp_path: Path) -> None:
    path = tmp_path / "graph.svg"
    res = nngraph_cli("dump", "tests.cli.tiny_models:tiny_break", "--input-shape", "8", "-o", str(path))
    assert res.returncode == 0, res.stderr
    assert path.read_text().lstrip().startswith(("<?xml", "<svg"))
    assert "note: graph break in '1' (Breaks)" in res.stdout


def test_dump_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["dump", "mlp", "-o", str(tmp_path / "g.txt")]) == 2
    assert "unknown output format 'txt'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["dump", "mlp", "--stage", "lowered", "-o", str(tmp_path / "g.dot")])
