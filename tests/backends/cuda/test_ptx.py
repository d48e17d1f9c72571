"""The backend's kernels compile for a real GPU (PTX for compute capability 9.0), not only in the simulator."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def test_kernels_compile_to_ptx_for_sm90() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run([sys.executable, os.path.join(HERE, "ptx_check.py"), "--cc", "9.0"], env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode == 77:
        pytest.skip(proc.stdout.strip())
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert "compiled" in proc.stdout
