"""The generated executor's source (``codegen.py``)."""
from __future__ import annotations

import re

import numpy as np

import nngraph
import nngraph.nn as nn


def _segment_bodies(source: str) -> str:
    return "\n".join(re.findall(r"^def segment_\d+\(.*?(?=^\S|\Z)", source, flags=re.S | re.M))


def test_constant_kernel_arguments_are_module_globals():
    """Numbers and tuples of numbers passed to kernels are module-level constants (one typed value each for Numba,
    instead of a lookup and a call to type in the body); equal values share a name; results are unchanged."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1),
                          nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5)).eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    compiled = nngraph.compile(model)
    np.testing.assert_allclose(compiled(x), model(x), rtol=1e-5, atol=1e-5)
    source = compiled.specializations[0].executable.source
    body = _segment_bodies(source)
    assert body.count("k_") >= 5, source
    assert "np.int64(" not in body and "np.float64(" not in body, source
    constants = dict(re.findall(r"^(c\d+) = (.+)$", source, flags=re.M))
    assert constants and len(set(constants.values())) == len(constants), source
    used = set(re.findall(r"\bc\d+\b", body))
    assert used == set(constants), (used, set(constants))
