"""Regenerate docs/architecture-before.svg and docs/architecture-after.svg: a small residual CNN as traced and
after the default pass pipeline (``python docs/make_architecture_figure.py``; needs Graphviz's ``dot``)."""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nngraph  # noqa: E402
from nngraph import nn  # noqa: E402


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c)
        self.relu = nn.ReLU()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.relu(self.bn(self.conv(x)) + x)


class SmallNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.block = Block(8)
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(8, 10))

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.head(self.block(self.stem(x)).mean(axis=(2, 3)))


def main() -> None:
    nngraph.manual_seed(0)
    model = SmallNet().eval()
    x = np.random.default_rng(0).standard_normal((1, 3, 16, 16)).astype(np.float32)
    result = nngraph.optimize(model, x, debug=True)
    here = os.path.dirname(os.path.abspath(__file__))
    result.traced.dump(os.path.join(here, "architecture-before.svg"), show_params=False, title="traced")
    result.graph.dump(os.path.join(here, "architecture-after.svg"), show_params=False, title="after the passes")
    print(result.report())


if __name__ == "__main__":
    main()
