"""``kernel_profile``: per node, the kernel calls of the compiled segments timed in place."""
from __future__ import annotations

import numpy as np
import pytest

import nngraph
from nngraph.cli.profiling import kernel_profile

from .tiny_models import tiny_break, tiny_cnn


def test_kernel_profile_times_every_lowered_node():
    model = tiny_cnn().eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    compiled = nngraph.compile(model, threads=1)
    compiled(x)
    rows, kernels_ms, run_ms = kernel_profile(compiled, (x,), repeat=3)
    program = compiled.specializations[-1].executable.program
    owners = [o for origins in program.line_origins.values() for o in origins]
    assert [r.name for r in rows] == list(dict.fromkeys(o or "(outputs)" for o in owners))  # program order
    assert all(r.ms > 0 for r in rows)
    assert abs(sum(r.ms for r in rows) - kernels_ms) < 1e-9
    assert 0 < kernels_ms <= run_ms
    conv = next(r for r in rows if r.name.startswith("conv"))
    assert "conv" in conv.what and "conv_tuned" in conv.what and conv.module == "0"
    np.testing.assert_allclose(compiled(x), model(x), rtol=1e-5, atol=1e-5)  # the module still works


def test_kernel_profile_runs_host_steps_between_segments():
    model = tiny_break().eval()
    x = np.random.default_rng(1).standard_normal((3, 8)).astype(np.float32)
    compiled = nngraph.compile(model)
    compiled(x)
    rows, kernels_ms, run_ms = kernel_profile(compiled, (x,), repeat=2)
    names = [r.name for r in rows]
    assert len(names) == 3 and names[0] == "linear" and names[-1] == "linear_1", names  # the break is a host step
    assert all("linear_packed" in r.what for r in rows if r.name.startswith("linear"))
    assert kernels_ms < run_ms


def test_kernel_profile_refuses_symbolic_sizes():
    model = tiny_cnn().eval()
    compiled = nngraph.compile(model, dynamic=True)
    rng = np.random.default_rng(2)
    for batch in (2, 3):  # a specialization with a symbolic batch
        x = rng.standard_normal((batch, 3, 8, 8)).astype(np.float32)
        compiled(x)
    assert compiled.specializations[-1].executable.symbols
    with pytest.raises(ValueError, match="symbolic sizes"):
        kernel_profile(compiled, (x,))
