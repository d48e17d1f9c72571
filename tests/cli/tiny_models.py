"""Tiny user models for the CLI tests, used as ``tests.cli.tiny_models:FACTORY`` with ``--input-shape``."""
from __future__ import annotations

from typing import Any

import numpy as np

from nngraph import nn


def tiny_mlp() -> nn.Module:
    """Linear(8, 16) -> ReLU -> Linear(16, 4); ``--input-shape 8``."""
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))


def torch_tiny_mlp() -> Any:
    """The torch.nn equivalent of ``tiny_mlp`` (same state_dict keys)."""
    import torch

    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))


def tiny_cnn() -> nn.Module:
    """Conv-BN-ReLU -> pool -> Linear; ``--input-shape 3,8,8``: something to fold and fuse."""
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))


class Breaks(nn.Module):
    """A layer whose numpy code needs the value of its input: a graph break."""

    def forward(self, x: Any) -> Any:
        scale = float(np.abs(np.asarray(x)).max()) + 1.0
        return x / scale


def tiny_break() -> nn.Module:
    """Linear -> a graph-breaking layer -> ReLU -> Linear; ``--input-shape 8``."""
    return nn.Sequential(nn.Linear(8, 16), Breaks(), nn.ReLU(), nn.Linear(16, 4))


def not_a_module() -> Any:
    return object()
