"""Shared helpers of the CUDA backend tests: compile on CUDA, compare with the IR interpreter and eager mode."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

import nngraph
from nngraph import nn
from nngraph.ir.interpreter import Interpreter


class Fn(nn.Module):
    """A module whose forward is ``fn`` (numpy code, traced)."""

    def __init__(self, fn: Callable[..., Any], **children: nn.Module) -> None:
        super().__init__()
        self.fn = fn
        for k, v in children.items():
            setattr(self, k, v)

    def forward(self, *xs: Any) -> Any:
        return self.fn(self, *xs)


def leaves(v: Any) -> list[np.ndarray]:
    return [x for item in v for x in leaves(item)] if isinstance(v, (tuple, list)) else [v]


def check(model: nn.Module, *inputs: np.ndarray, rtol: float = 1e-5, atol: float = 1e-5,
          host_steps: int | None = 0) -> Any:
    """Compile ``model`` for CUDA, run it, compare with the interpreter over the optimized graph and with eager
    mode; assert the number of host steps (None: don't)."""
    model.eval()
    compiled = nngraph.compile(model, target="cuda")
    got = compiled(*inputs)
    spec = compiled.specializations[0]
    ref = Interpreter(spec.result.graph, model).run(*inputs)
    eager = model(*inputs)
    for g, r, e in zip(leaves(got), leaves(ref), leaves(eager)):
        g, r = np.asarray(g), np.asarray(r)
        assert g.shape == r.shape and g.dtype == r.dtype, (g.shape, g.dtype, r.shape, r.dtype)
        np.testing.assert_allclose(g, r, rtol=rtol, atol=atol)
        np.testing.assert_allclose(g, np.asarray(e), rtol=max(rtol, 1e-4), atol=max(atol, 1e-4))
    exe = spec.executable
    if host_steps is not None:
        assert exe.n_host_steps == host_steps, exe.plan.host_nodes
    return compiled
