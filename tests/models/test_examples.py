"""The examples run (``--small``) and succeed, with and without torch available."""
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


@pytest.mark.parametrize("script, expect", [("port_from_torch.py", "outputs match"),
                                            ("hooks_feature_extraction.py", "hooks removed")])
def test_example_runs(script: str, expect: str) -> None:
    res = _python(str(EXAMPLES / script), "--small")
    assert res.returncode == 0, res.stderr
    assert expect in res.stdout


def test_port_example_without_torch() -> None:
    code = ("import runpy, sys; sys.modules['torch'] = None; sys.argv = ['port_from_torch.py', '--small']; "
            f"runpy.run_path({str(EXAMPLES / 'port_from_torch.py')!r}, run_name='__main__')")
    res = _python("-c", code)
    assert res.returncode == 0, res.stderr
    assert "torch is not installed" in res.stdout and "outputs match" in res.stdout
