"""Tiny user models for the CLI tests (``tests.cli.tiny_models:tiny_mlp`` with ``--input-shape 8``)."""
from __future__ import annotations

from typing import Any

import numpy as np

from nngraph import nn


def tiny_mlp() -> nn.Module:
    """Linear(8, 16) -> ReLU -> Linear(16, 4)."""
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))


class _Breaks(nn.Module):
    """A layer whose numpy code needs the value of its input: a graph break."""

    def forward(self, x: Any) -> Any:
        scale = float(np.abs(np.asarray(x)).max()) + 1.0
        return x / scale


def tiny_break() -> nn.Module:
    """Linear -> a graph-breaking layer -> ReLU -> Linear."""
    return nn.Sequential(nn.Linear(8, 16), _Breaks(), nn.ReLU(), nn.Linear(16, 4))


def not_a_module() -> Any:
    return object()
