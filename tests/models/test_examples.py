"""Every example runs with ``--small`` and succeeds (the port example also without torch)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _python(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=180)


@pytest.mark.parametrize("script, expect", [
    ("port_from_torch.py", ["outputs match"]),
    ("hooks_feature_extraction.py", ["hooks removed"]),
    ("compile_resnet.py", ["outputs match", "compile + first call", "ms/call"]),
    ("lstm_transformer_inference.py", ["LSTM tagger", "Transformer classifier", "compiled outputs match eager"]),
    ("graph_break.py", ["GraphBreakWarning: graph break in '2' (RobustScale)", "results match eager",
                        "fullgraph=True raises GraphBreakError"]),
])
def test_example_runs(script: str, expect: list[str]) -> None:
    res = _python(str(EXAMPLES / script), "--small")
    assert res.returncode == 0, res.stderr
    for text in expect:
        assert text in res.stdout


def test_dump_passes_example(tmp_path: Path) -> None:
    res = _python(str(EXAMPLES / "dump_passes.py"), "--small", "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert "the optimized graph computes what the model computes" in res.stdout
    files = {p.name for p in tmp_path.iterdir()}
    assert {"index.md", "00_traced.dot", "02_fold_batchnorm.dot", "04_fuse_epilogue.dot"} <= files
    assert "fused" in (tmp_path / "04_fuse_epilogue.dot").read_text()


def test_port_example_without_torch() -> None:
    code = ("import runpy, sys; sys.modules['torch'] = None; sys.argv = ['port_from_torch.py', '--small']; "
            f"runpy.run_path({str(EXAMPLES / 'port_from_torch.py')!r}, run_name='__main__')")
    res = _python("-c", code)
    assert res.returncode == 0, res.stderr
    assert "torch is not installed" in res.stdout and "outputs match" in res.stdout
