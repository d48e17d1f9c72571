"""The on-disk compilation cache: reuse across processes, corrupted entries rebuilt, concurrent writers."""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import nngraph
    from nngraph import nn
    nngraph.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3), nn.Tanh()).eval()
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    c = nngraph.compile(m)
    t = time.perf_counter()
    y = c(x)
    elapsed = time.perf_counter() - t
    exe = c.specializations[0].executable
    segments = [s for s in exe.steps if callable(s)]
    misses = sum(sum(s.stats.cache_misses.values()) for s in segments)
    hits = sum(sum(s.stats.cache_hits.values()) for s in segments)
    print(json.dumps({"err": float(np.abs(y - m(x)).max()), "misses": misses, "hits": hits,
                      "segments": len(segments), "seconds": elapsed}))
""")


def run(cache_dir: str) -> dict:
    env = dict(os.environ, NNGRAPH_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_new_process_reuses_compiled_code(tmp_path):
    first = run(str(tmp_path))
    assert first["err"] < 1e-5
    second = run(str(tmp_path))
    assert second["err"] < 1e-5
    if second["segments"]:
        assert second["misses"] == 0 and second["hits"] >= 1
    assert glob.glob(str(tmp_path / "nngraph_gen_*.py"))


@pytest.mark.parametrize("what", ["source", "numba-index"])
def test_corrupted_entries_are_rebuilt(tmp_path, what):
    run(str(tmp_path))
    if what == "source":
        targets = glob.glob(str(tmp_path / "nngraph_gen_*.py"))
    else:
        targets = glob.glob(str(tmp_path / "__pycache__" / "*.nbi")) + glob.glob(str(tmp_path / "__pycache__" / "*.nbc"))
    assert targets
    for path in targets:
        with open(path, "wb") as f:
            f.write(b"\x00garbage(((")
    again = run(str(tmp_path))
    assert again["err"] < 1e-5


def test_concurrent_processes_share_a_cache(tmp_path):
    env = dict(os.environ, NNGRAPH_CACHE_DIR=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert json.loads(out.strip().splitlines()[-1])["err"] < 1e-5
    assert run(str(tmp_path))["err"] < 1e-5
