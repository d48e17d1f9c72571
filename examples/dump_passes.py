"""Watch the compiler work: dump the graph before and after every optimization pass (Graphviz ``.dot`` files, plus
``.svg`` when Graphviz is installed, and an ``index.md``).

    python examples/dump_passes.py [--small] [--out DIR]

``nngraph.optimize(..., dump_dir=DIR)`` and ``nngraph.compile(..., dump_dir=DIR)`` write the same files; so does
setting ``NNGRAPH_DUMP=DIR`` in the environment. ``nngraph dump MODEL -o graph.svg`` draws one stage.
"""
from __future__ import annotations

import argparse
import os
import tempfile
from typing import Any

import numpy as np

import nngraph
from nngraph import nn


class Block(nn.Module):
    """Conv-BN-ReLU twice with a residual connection and dropout: something for every pass to do."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.drop = nn.Dropout(0.1)

    def forward(self, x: Any) -> Any:
        y = nn.functional.relu(self.bn1(self.conv1(x)))
        y = self.drop(self.bn2(self.conv2(y)))
        return nn.functional.relu(y + x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="tiny input (for CI)")
    parser.add_argument("--out", default=None, help="directory for the dumps (default: a new temporary directory)")
    args = parser.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="nngraph-passes-")
    size = 8 if args.small else 32

    nngraph.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), Block(8), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(8, 10)).eval()
    x = np.random.default_rng(0).standard_normal((2, 3, size, size), dtype=np.float32)

    result = nngraph.optimize(model, x, dump_dir=out)
    print(result.report())
    print(f"\ndumps in {out}:")
    for name in sorted(os.listdir(out)):
        print(f"  {name}")
    with open(os.path.join(out, "index.md")) as f:
        print("\n" + f.read())
    y = nngraph.Interpreter(result.graph, model).run(x)
    np.testing.assert_allclose(y, model(x), rtol=1e-4, atol=1e-5)
    print("the optimized graph computes what the model computes")


if __name__ == "__main__":
    main()
