"""``nngraph run`` through a subprocess (``python -m nngraph.cli.main``), plus ``main()`` called in-process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import nngraph
from nngraph import models
from nngraph.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, module: str = "nngraph.cli.main") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


@pytest.mark.parametrize("module", ["nngraph.cli.main", "nngraph"])
def test_run_prints_summary(module: str) -> None:
    res = _cli("run", "mlp", "--batch", "3", "--seed", "1", module=module)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "model:       mlp" in out
    assert "parameters:  669,706" in out
    assert "input:       (3, 784) float32" in out
    assert "output:      (3, 10) float32" in out
    assert "ms/call" in out


def test_run_json_and_pretrained(tmp_path: Path) -> None:
    nngraph.manual_seed(0)
    model = models.lenet5()
    nngraph.save(model.state_dict(), tmp_path / "w.safetensors")
    res = _cli("run", "lenet5", "--json", "--runs", "1", "--pretrained", str(tmp_path / "w.safetensors"))
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["model"] == "lenet5" and summary["parameters"] == 61706
    assert summary["input"] == "(1, 1, 28, 28) float32" and summary["output"] == "(1, 10) float32"
    assert summary["eager_ms_median"] > 0 and summary["runs"] == 1


def test_unknown_model_is_a_clean_error() -> None:
    res = _cli("run", "no_such_model")
    assert res.returncode == 2
    assert "unknown model 'no_such_model'" in res.stderr and "resnet18" in res.stderr
    assert "Traceback" not in res.stderr


def test_in_process(capsys: pytest.CaptureFixture) -> None:
    assert main(["run", "lenet5", "--batch", "2", "--runs", "1"]) == 0
    assert "output:      (2, 10) float32" in capsys.readouterr().out
    assert main(["run", "mlp", "--batch", "0"]) == 2
    assert "--batch must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["--list"])
    assert exc.value.code == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in models.ZOO)
    with pytest.raises(SystemExit) as exc:
        main([])  # a subcommand is required
    assert exc.value.code == 2

