"""A graph break: a layer whose numpy code needs actual values (here ``float(...)`` of a traced array) cannot be
traced. nngraph warns, runs that one module eagerly inside the compiled graph, compiles the rest, and the results
stay right; ``fullgraph=True`` turns the warning into an error.

    python examples/graph_break.py [--small]
"""
from __future__ import annotations

import argparse
import warnings
from typing import Any

import numpy as np

import nngraph
from nngraph import nn
from nngraph.trace import GraphBreakError, GraphBreakWarning


class RobustScale(nn.Module):
    """Divide by the batch's 95th percentile of |x| when it is large: data-dependent numpy code."""

    def forward(self, x: Any) -> Any:
        scale = float(np.percentile(np.abs(np.asarray(x)), 95))
        if scale > 1.0:  # a Python branch on a value: tracing cannot follow it
            return x / scale
        return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="tiny model (for CI)")
    args = parser.parse_args()
    width = 8 if args.small else 256

    nngraph.manual_seed(0)
    model = nn.Sequential(nn.Linear(width, width), nn.ReLU(), RobustScale(), nn.Linear(width, 4)).eval()
    compiled = nngraph.compile(model)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, width), dtype=np.float32)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GraphBreakWarning)
        y = compiled(x)
    for w in caught:
        if issubclass(w.category, GraphBreakWarning):
            print(f"GraphBreakWarning: {w.message}")
    assert any(issubclass(w.category, GraphBreakWarning) for w in caught), "expected a graph break"
    np.testing.assert_allclose(y, model(x), rtol=1e-4, atol=1e-5)

    # The eager module re-runs its Python code on every call, so the branch follows the actual input.
    for scale in (0.01, 100.0):
        x2 = (scale * rng.standard_normal((4, width))).astype(np.float32)
        np.testing.assert_allclose(compiled(x2), model(x2), rtol=1e-4, atol=1e-5)
    print("results match eager (both branches of the data-dependent code)")

    try:
        nngraph.compile(model, fullgraph=True)(x)
    except GraphBreakError as e:
        print(f"fullgraph=True raises GraphBreakError: {str(e).splitlines()[0][:100]}...")


if __name__ == "__main__":
    main()
