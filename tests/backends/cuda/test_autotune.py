"""``autotune=True`` on CUDA (``autotune.py``): every node that could use cuBLAS or the numba kernels is timed both
ways, the choice is recorded per GPU and geometry and reused, and results match the interpreter whatever wins. On the
simulator the cuBLAS path is the numpy reference (``NNGRAPH_CUDA_BLAS=reference``); the timings mean nothing there,
the mechanism is what is tested."""
from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pytest

import nngraph
from nngraph import nn
from nngraph.backends.cuda import autotune, blas, simulator
from nngraph.ir.interpreter import Interpreter

rng = np.random.default_rng(8)


@pytest.fixture
def cache(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("NNGRAPH_CACHE_DIR", str(tmp_path))
    if simulator():
        monkeypatch.setenv("NNGRAPH_CUDA_BLAS", "reference")
        monkeypatch.setattr(autotune, "REPEATS", 1)  # simulated kernels are slow, and their timings mean nothing
    elif not blas.enabled():
        pytest.skip("CuPy (cuBLAS) is not usable here")
    return str(tmp_path)


def _model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(2, 16, 1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 2 * 2, 6), nn.ReLU(),
                         nn.Linear(6, 3)).eval()


def test_autotune_times_both_paths_records_and_reuses(cache: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model()
    x = rng.standard_normal((1, 2, 2, 2)).astype(np.float32)
    timed: list[list[str]] = []
    real = autotune.node_times
    monkeypatch.setattr(autotune, "node_times", lambda exe, nodes: timed.append(list(nodes)) or real(exe, nodes))
    compiled = nngraph.compile(model, target="cuda", autotune=True)
    got = compiled(x)
    spec = compiled.specializations[0]
    np.testing.assert_allclose(got, Interpreter(spec.result.graph, model).run(x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, model(x), rtol=1e-4, atol=1e-4)
    plan = spec.executable.plan
    assert len(plan.gemm_nodes) == 3 and len(timed) == 2 and all(sorted(t) == sorted(plan.gemm_nodes) for t in timed)
    db = json.load(open(os.path.join(cache, "autotune-v1.json")))
    entries = {k: v for k, v in db.items() if k.startswith(f"cuda:{autotune.device_name()}:")}
    assert len(entries) == 3
    assert all(set(e) == {"blas", "blas_us", "kernels_us"} and e["blas"] == (e["blas_us"] < e["kernels_us"])
               for e in entries.values())
    n_gemm_steps = sum(isinstance(s, blas.Gemm) for s in plan.program)
    assert n_gemm_steps == sum(e["blas"] for e in entries.values())  # the plan follows the recorded choices
    timed.clear()
    again = nngraph.compile(_model(), target="cuda", autotune=True)  # same geometry: the recorded choices
    again.load_state_dict(model.state_dict())
    np.testing.assert_allclose(again(x), got, rtol=1e-6, atol=1e-6)
    assert timed == []


@pytest.mark.parametrize("choice", [True, False])
def test_forced_choices_compute_the_same(cache: str, choice: bool) -> None:
    """Both plans the timing compares are correct."""
    from nngraph.backends.cuda.executor import CudaExecutable

    model = _model()
    x = rng.standard_normal((1, 2, 2, 2)).astype(np.float32)
    compiled = nngraph.compile(model, target="cuda")
    compiled(x)
    graph = compiled.specializations[0].result.graph
    exe = CudaExecutable(graph, model, blas_choice={n: choice for n in
                                                     compiled.specializations[0].executable.plan.gemm_nodes})
    from nngraph.ir.interpreter import module_state

    exe.refresh(module_state(model), None)
    (out,) = exe([x])
    assert sum(isinstance(s, blas.Gemm) for s in exe.plan.program) == (3 if choice else 0)
    np.testing.assert_allclose(out, model(x), rtol=1e-4, atol=1e-4)
