"""Concatenation in place (``MemoryPlan.into``) on the CPU: the arguments computed into their slices give the same
results as eager execution, and the concatenation's copies of them are gone."""
from __future__ import annotations

import numpy as np
import pytest

import nngraph
from nngraph.passes import plan_memory
from tests.passes.test_plan_memory import _Skip
from tests.trace.util import assert_same


def _copies(source: str) -> int:
    return source.count("copy_flat(") + source.count("copy_strided(")


@pytest.mark.parametrize("batch", [1, 2])
def test_concat_in_place_matches_eager(monkeypatch: pytest.MonkeyPatch, batch: int) -> None:
    model = _Skip().eval()
    x = np.random.default_rng(0).standard_normal((batch, 3, 6, 6)).astype(np.float32)
    counts = []
    for into in (True, False):
        if not into:
            monkeypatch.setattr(plan_memory, "_concat_slices", lambda *a: {})
        compiled = nngraph.compile(model)
        assert_same(compiled(x), model(x), rtol=1e-5, atol=1e-5)
        spec = compiled.specializations[0]
        counts.append((_copies(spec.executable.source), len(spec.result.graph.memory_plan.into)))
    (with_into, n_into), (without, _) = counts
    assert with_into == without - n_into and n_into == (8 if batch == 1 else 2), counts
