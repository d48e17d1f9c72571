"""Helpers for pass tests: run one pass, compare numerics of two graphs."""
from __future__ import annotations

from typing import Any

import numpy as np

from nngraph.ir import Graph, Interpreter
from nngraph.passes import PASSES, PassContext, PassResult

from ..trace.util import assert_same


def run_pass(name: str, graph: Graph, *, training: bool = False, root: Any = None) -> PassResult:
    """Run pass ``name`` on a copy of ``graph``; the result's graph must lint."""
    result = PASSES[name](graph.copy(), PassContext(training=training, root=root))
    result.graph.lint()
    return result


def assert_same_numerics(before: Graph, after: Graph, root: Any, *inputs: Any, rtol: float = 1e-5,
                         atol: float = 1e-5, params: dict[str, np.ndarray] | None = None) -> None:
    """Both graphs give the same outputs on ``inputs``."""
    a = Interpreter(before, root, params).run(*inputs)
    b = Interpreter(after, root, params).run(*inputs)
    assert_same(b, a, rtol=rtol, atol=atol)


def random_bn(*mods: Any, seed: int = 0) -> None:
    """Non-trivial BatchNorm statistics and affine parameters (so folding is really exercised)."""
    rng = np.random.default_rng(seed)
    for root in mods:
        for m in root.modules():
            if type(m).__name__.startswith("BatchNorm") and m.track_running_stats:
                c = m.num_features
                m.running_mean[...] = rng.standard_normal(c)
                m.running_var[...] = rng.uniform(0.5, 2.0, c)
                if m.affine:
                    m.weight[...] = rng.uniform(0.5, 1.5, c)
                    m.bias[...] = rng.standard_normal(c)
