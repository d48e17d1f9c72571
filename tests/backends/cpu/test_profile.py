"""Kernel calls timed in place (``backends/cpu/profile.py``): the instrumented program computes what the executor
computes, and every line of it is attributed to the node it was emitted for."""
from __future__ import annotations

import numpy as np

import nngraph
import nngraph.nn as nn
from nngraph.backends.cpu import profile


def _model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 5)).eval()


def _compiled(seed: int) -> tuple:
    """(model, input, its executable after one call)."""
    model = _model()
    x = np.random.default_rng(seed).standard_normal((2, 3, 8, 8)).astype(np.float32)
    compiled = nngraph.compile(model)
    compiled(x)
    return model, x, compiled.specializations[0].executable


def test_every_line_has_its_node():
    _, _, exe = _compiled(0)
    program = exe.program
    assert program.segment_lines and set(program.segment_lines) == {s for s in program.segments if isinstance(s, str)}
    for name, lines in program.segment_lines.items():
        origins = program.line_origins[name]
        assert len(origins) == len(lines) and lines
        assert all(o in exe.graph for o in origins if o), origins
        for line in lines:
            assert "    " + line in program.source
    # the computing nodes own the lines (folded weights are computed once per weight version, Flatten is a view)
    owners = {o for origins in program.line_origins.values() for o in origins}
    assert owners == {"conv_fused", "max_pool", "conv_1_fused", "adaptive_avg_pool", "linear"}, owners


def test_instrumented_program_computes_the_same_outputs_and_stamps_in_order():
    model, x, exe = _compiled(1)
    program = exe.program
    module = profile.load_instrumented(program, exe._graph_key, exe.use_cache)
    stamps = profile.new_stamps(program)
    outs = [np.full(s.shape, np.nan, dtype=s.dtype) for _, s in program.outputs]
    args = [x.reshape(-1)] + [o.reshape(-1) for o in outs] + exe._weights + exe._workspace()
    for segment in program.segments:
        getattr(module, segment)(*args, stamps[segment])
    np.testing.assert_allclose(outs[0], model(x), rtol=1e-5, atol=1e-5)  # eager nngraph: the reference
    for name, s in stamps.items():
        assert s.size == len(program.segment_lines[name]) + 1
        assert (s > 0).all() and (np.diff(s) >= 0).all(), s


def test_cycle_period_is_plausible():
    period = profile.seconds_per_cycle(0.02)
    assert 1e-11 < period < 1e-8  # a 0.1 - 100 GHz counter
