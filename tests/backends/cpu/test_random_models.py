"""Property: random module trees (the pass tests' generator: Sequential and custom containers of Linear, Conv2d,
BatchNorm, activations, residual adds, concatenation -- computed in place at batch 1 --, pooling, upsampling,
Dropout) compiled for the CPU match eager mode with no host steps."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nngraph
from nngraph import nn
from tests.trace.util import assert_same

from ...passes.test_random_models import concat_models, models


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.one_of(models(), concat_models()))
def test_random_model_on_cpu(case: tuple[nn.Module, np.ndarray]) -> None:
    model, x = case
    model.eval()
    compiled = nngraph.compile(model)
    assert_same(compiled(x), model(x), rtol=1e-4, atol=1e-4)
    assert compiled.specializations[0].executable.n_host_steps == 0
