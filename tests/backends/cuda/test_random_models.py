"""Property: random module trees (the pass tests' generator: Sequential and custom containers of Linear, Conv2d,
BatchNorm, activations, residual adds, concatenation, pooling, upsampling, Dropout) compiled for CUDA match the IR
interpreter and eager mode with no host steps."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nngraph import nn

from ...passes.test_random_models import concat_models, models
from .helpers import check


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.one_of(models(), concat_models()))
def test_random_model_on_cuda(case: tuple[nn.Module, np.ndarray]) -> None:
    model, x = case
    check(model.eval(), x, rtol=1e-4, atol=1e-4)
