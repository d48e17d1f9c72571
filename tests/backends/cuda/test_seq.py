"""Attention, recurrent layers, pad, transposed convolution (``lower_seq.py``) compiled on CUDA (the simulator
without a GPU) vs the IR interpreter and eager mode, float32 and float64, no host steps."""
from __future__ import annotations

import numpy as np
import pytest

from .cases import OP_CASES
from .helpers import check

TOL = {np.float32: 1e-4, np.float64: 1e-9}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", [n for n, _ in OP_CASES])
def test_case(name: str, dtype: type) -> None:
    model, inputs = dict(OP_CASES)[name](dtype)
    check(model, *inputs, rtol=TOL[dtype], atol=TOL[dtype])
