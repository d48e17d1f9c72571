"""Running the ``nngraph`` command in a subprocess from the repository root."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def nngraph_cli(*args: str, timeout: float = 300, pre: str = "") -> subprocess.CompletedProcess:
    """``python -m nngraph ARGS`` (after running ``pre``, e.g. ``sys.modules['torch'] = None``)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    if pre:
        argv = [sys.executable, "-c", f"{pre}; import sys; from nngraph.cli.main import main; "
                                      "sys.exit(main(sys.argv[1:]))", *args]
    else:
        argv = [sys.executable, "-m", "nngraph", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
