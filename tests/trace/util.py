"""Shared helpers for tracer tests: wrap a function as a module, trace and compare with eager execution."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

import nngraph
import nngraph.nn as nn
from nngraph.ir import Graph, Interpreter


class Fn(nn.Module):
    """A module whose forward is ``fn(*args, **kwargs)`` (traced like any other forward)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


def assert_same(got: Any, want: Any, rtol: float = 1e-6, atol: float = 1e-6, where: str = "output") -> None:
    """Same nested structure (tuple/list/dict types and keys), same array shapes and dtypes, close values."""
    if isinstance(want, (tuple, list)):
        assert type(got) is type(want), f"{where}: {type(got).__name__} != {type(want).__name__}"
        assert len(got) == len(want), f"{where}: {len(got)} items != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, rtol, atol, f"{where}[{i}]")
        return
    if isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), f"{where}: keys {list(got)} != {list(want)}"
        for k in want:
            assert_same(got[k], want[k], rtol, atol, f"{where}[{k!r}]")
        return
    if want is None or isinstance(want, (int, float, str, bool)):
        assert got == want, f"{where}: {got!r} != {want!r}"
        return
    want = np.asarray(want)  # numpy scalars (np.float32) and 0-d arrays compare alike
    assert isinstance(got, (np.ndarray, np.generic)), f"{where}: expected an ndarray, got {type(got).__name__}"
    got = np.asarray(got)
    assert got.shape == want.shape, f"{where}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{where}: dtype {got.dtype} != {want.dtype}"
    if want.dtype.kind in "fc":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=where)
    else:
        np.testing.assert_array_equal(got, want, err_msg=where)


def check_trace(model: nn.Module, *args: Any, fullgraph: bool = True, rtol: float = 1e-6, atol: float = 1e-6,
                **kwargs: Any) -> Graph:
    """Trace ``model`` on the inputs, lint, and check that the interpreter reproduces the eager output."""
    want = model(*args, **kwargs)
    graph = nngraph.trace(model, *args, fullgraph=fullgraph, **kwargs)
    graph.lint()
    assert_same(Interpreter(graph, model).run(*args, **kwargs), want, rtol, atol)
    return graph


def rand(*shape: int, seed: int = 0, dtype: Any = np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)
