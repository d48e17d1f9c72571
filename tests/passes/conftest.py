"""Fixtures for pass tests."""
from __future__ import annotations

from typing import Iterator

import numpy as np
import pytest

from nngraph import _random
from nngraph.ops.registry import REGISTRY, Fusion, defop, same_as_first

RANDOM_OP = "test_random_noise"


@pytest.fixture
def random_op() -> Iterator[str]:
    """A registered elementwise op flagged ``random=True`` (drawing from nngraph's generator), removed afterwards."""

    @defop(RANDOM_OP, fusion=Fusion.ELEMENTWISE, shape=same_as_first, random=True)
    def noise(x: np.ndarray) -> np.ndarray:
        return x + _random.default_generator().standard_normal(x.shape).astype(x.dtype)

    try:
        yield RANDOM_OP
    finally:
        del REGISTRY[RANDOM_OP]
