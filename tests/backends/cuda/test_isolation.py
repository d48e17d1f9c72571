"""The simulator switch of this directory's conftest leaves the CPU backend native (same xdist worker)."""
from __future__ import annotations

import numpy as np

import nngraph
from nngraph import nn


def test_cpu_backend_still_native_in_this_process() -> None:
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU()).eval()
    x = np.random.default_rng(0).standard_normal((2, 5)).astype(np.float32)
    compiled = nngraph.compile(model)  # target="cpu"
    np.testing.assert_allclose(compiled(x), model(x), rtol=1e-5, atol=1e-5)
    exe = compiled.specializations[0].executable
    assert exe.n_host_steps == 0
    assert all(type(s).__name__ == "CPUDispatcher" for s in exe.steps if callable(s))
