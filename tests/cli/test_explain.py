"""``nngraph explain``: passes, fusions with their modules, graph breaks, memory, numerics, and the profiles."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nngraph.cli.main import main

from .helpers import nngraph_cli

CNN = ["tests.cli.tiny_models:tiny_cnn", "--input-shape", "3,8,8"]


def test_explain_fusions_memory_numerics(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    out = tmp_path / "explain.json"
    assert main(["explain", *CNN, "--batch", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    for section in ("passes", "fold_batchnorm", "fuse_epilogue", "fusions and folds", "graph breaks (0)",
                    "activation memory", "numerics"):
        assert section in text
    assert "input:  (2, 3, 8, 8) float32" in text
    rep = json.loads(out.read_text())
    assert [p["pass"] for p in rep["passes"]][:4] == ["remove_dropout", "fold_batchnorm", "canonicalize_views",
                                                      "fuse_epilogue"]
    fold = next(p for p in rep["passes"] if p["pass"] == "fold_batchnorm")
    assert "-1 batch_norm" in fold["ops"]
    (fusion,) = [f for f in rep["fusions"] if "fused" in f["what"]]
    assert fusion["what"] == "fused epilogue: conv > relu"
    assert {o["op"] for o in fusion["from"]} == {"conv", "batch_norm", "relu"}
    assert fusion["modules"] == ["0", "1", "2"]  # Conv2d, BatchNorm2d, ReLU of the Sequential
    assert rep["graph_breaks"] == []
    mem = rep["memory"]
    assert mem["planned_bytes"] <= mem["unplanned_bytes"] and mem["buffers"] >= 1 and mem["concat_in_place"] == 0
    assert rep["numerics"] and all(n["ok"] for n in rep["numerics"])
    assert "profile" not in rep


def test_explain_graph_break_and_profile() -> None:
    res = nngraph_cli("explain", "tests.cli.tiny_models:tiny_break", "--input-shape", "8", "--profile", "--top", "3",
                      "--repeat", "2", "--threads", "1")
    assert res.returncode == 0, res.stderr
    text = res.stdout
    assert "graph breaks (1)" in text and "graph break in '1' (Breaks)" in text
    assert "tiny_models.py" in text and "concrete numpy array" in text  # where and why
    assert "profile 1: the optimized graph node by node in the reference interpreter" in text
    assert "profile 2: the compiled executor's steps" in text
    assert "host step, eager module Breaks" in text and "compiled segment" in text
    assert "a whole compiled call" in text
    table1 = text.split("profile 1")[1].split("profile 2")[0].splitlines()[1:]
    rows = [ln for ln in table1 if ln.strip() and not ln.startswith(("-", "node ", "  "))]
    assert len(rows) == 3  # --top 3 of the 5 nodes
    assert "5 nodes" in text
    assert "profile 3: kernel calls timed in place inside the compiled segments, per node (3 nodes, threads=1" in text
    table3 = text.split("profile 3")[1].splitlines()[3:6]
    assert {ln.split()[0] for ln in table3} == {"linear", "linear_1", "relu"}, table3
    assert "[kernels_heavy_linear_packed]" in text and "a whole instrumented run" in text


def test_explain_json_stdout_and_errors(capsys: pytest.CaptureFixture) -> None:
    assert main(["explain", "mlp", "--json", "-"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["model"] == "mlp" and rep["parameters"] == 669706
    assert len([f for f in rep["fusions"] if f["pass"] == "fuse_epilogue"]) == 2
    assert main(["explain", "mlp", "--passes", "nope"]) == 2
    assert "unknown pass 'nope'" in capsys.readouterr().err
    assert main(["explain", "mlp", "--top", "0"]) == 2
    assert main(["explain", "mlp", "--threads", "0"]) == 2
    assert main(["explain", "mlp", "--threads", "10000", "--profile"]) == 2
    assert "--threads must be between 1 and" in capsys.readouterr().err
