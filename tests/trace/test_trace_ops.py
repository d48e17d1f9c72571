"""Every sample of the op table (tests/nn/opinfo) traces, lints, and runs on the interpreter with the eager result;
``nngraph.optimize(..., debug=True)`` keeps it. float32 (or the sample's only dtype); module samples in each of
their modes (train-mode random layers are compared under the same seed), functional samples once.

Samples whose code legitimately cannot be captured are listed in ``ALLOWED_BREAKS``; every other sample is traced
with ``fullgraph=True``.
"""
from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
import nngraph.nn.functional as F
from nngraph.ir import MODULE, PARAM, Interpreter
from nngraph.ir.interpreter import module_state
from nngraph.trace import GraphBreakWarning
from tests.nn.opinfo import FuncSample, ModuleSample, load

from .util import Fn, assert_same

# (regex on "area-id", where: "eval"/"train"/"func", regex the break reason must match). A listed sample may also
# trace fully; it is then still checked, just not with fullgraph=True.
ALLOWED_BREAKS: list[tuple[str, tuple[str, ...], str]] = [
    # max_norm renormalizes the looked-up rows of the weight (a parameter) in place: an eager side effect.
    (r"sparse-(Embedding|EmbeddingBag)-(max_norm.*|from_pretrained-options)", ("eval", "train"),
     r"max_norm renormalizes"),
    # Same; besides, the sample copies the weight with torch's .clone() whenever it is not an ndarray.
    (r"sparse-embedding-max_norm", ("func",), r"clone|max_norm"),
    # Train-mode BatchNorm with running statistics: num_batches_tracked and the statistics update in place.
    (r"normalization-bn[123]d(?!.*no_track).*", ("train",), r"in-place update of parameter/buffer"),
    # Train-mode InstanceNorm with track_running_stats: the running statistics update in place.
    (r"normalization-in[123]d_(.*track.*|batch0)", ("train",), r"in-place update|concrete numpy array"),
    # Functional batch_norm/instance_norm updating the caller's running-statistics arrays in place.
    (r"normalization-(batch|instance)_norm_train_update", ("func",), r"concrete numpy array"),
    # one_hot with num_classes=-1: the output shape depends on the values.
    (r"sparse-one_hot", ("func",), r"num_classes=-1"),
    # The sample picks numpy's or torch's API by isinstance(b, np.ndarray): a traced array takes torch's .double().
    (r"distance-pairwise_distance-mixed-dtype", ("func",), r"double"),
    # The sample's call keeps the output rows selected by a boolean mask (a data-dependent shape).
    (r"transformer-Encoder-kpm-nested.*", ("eval", "train"), r"boolean-mask indexing"),
    # Layer code: F.ctc_loss's _lengths (nngraph/nn/functional/loss.py:433) tests isinstance(lengths, np.ndarray),
    # so traced length arrays go through np.asarray. Remove once the layer accepts traced arrays.
    (r"loss-(CTCLoss-.*|ctc_loss.*)", ("eval", "train", "func"), r"concrete numpy array"),
]


def allowed_break(key: str, where: str) -> str | None:
    """The reason regex if sample ``key`` may graph-break in ``where``, else None."""
    for pattern, wheres, reason in ALLOWED_BREAKS:
        if where in wheres and re.fullmatch(pattern, key):
            return reason
    return None


class Call(nn.Module):
    """A sample's custom ``call(module, *inputs)`` as a module (the layer is the child 'm')."""

    def __init__(self, m: nn.Module, call: Any) -> None:
        super().__init__()
        self.m = m
        self.call = call

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.call(self.m, *args, **kwargs)


def _dtype(sample: Any) -> np.dtype:
    dtypes = [np.dtype(d) for d in sample.dtypes]
    return np.dtype(np.float32) if np.dtype(np.float32) in dtypes else dtypes[0]


def _cast(a: Any, dtype: np.dtype) -> Any:
    return a.astype(dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a


def _state(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in model.state_dict().items()}


def _restore(model: nn.Module, state: dict[str, np.ndarray]) -> None:
    for k, v in model.state_dict().items():
        v[...] = state[k]


def _run(fn: Any, model: nn.Module, inputs: tuple, kwargs: dict) -> tuple[Any, dict[str, np.ndarray]]:
    """``fn(*inputs, **kwargs)`` from the model's current state and seed 0; returns the output and the new state,
    then puts the state back."""
    before = _state(model)
    nngraph.manual_seed(0)
    args = tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in inputs)  # F may update in place
    out = fn(*args, **kwargs)
    after = _state(model)
    _restore(model, before)
    return out, after


def check_sample(key: str, where: str, model: nn.Module, inputs: tuple, kwargs: dict, tol: tuple) -> None:
    rtol_atol = {"rtol": tol[1], "atol": tol[0]}
    want, want_state = _run(model, model, inputs, kwargs)
    reason = allowed_break(key, where)
    state_before = _state(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GraphBreakWarning)
        graph = nngraph.trace(model, *inputs, fullgraph=reason is None, **kwargs)
    assert len([w for w in caught if w.category is GraphBreakWarning]) == len(graph.breaks)
    for b in graph.breaks:
        assert re.search(reason, b.reason), f"unexpected graph break: {b.message()}"
    if reason is None:
        assert not graph.by_kind(MODULE)
    for k, v in model.state_dict().items():  # tracing has no side effects
        np.testing.assert_array_equal(v, state_before[k], err_msg=f"trace changed state {k}")
    graph.lint()
    # Parameters/buffers by their state_dict names; every node's module is a real submodule.
    state_names = set(module_state(model))
    submodules = {name for name, _ in model.named_modules()}
    assert {n.target for n in graph.by_kind(PARAM)} <= state_names
    assert {n.meta.module for n in graph.nodes()} <= submodules
    got, got_state = _run(Interpreter(graph, model).run, model, inputs, kwargs)
    assert_same(got, want, where="interpreter", **rtol_atol)
    for k in want_state:
        np.testing.assert_allclose(got_state[k], want_state[k], err_msg=f"state {k}", **rtol_atol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GraphBreakWarning)
        result = nngraph.optimize(model, *inputs, debug=True, **kwargs)
    optimized, _ = _run(Interpreter(result.graph, model).run, model, inputs, kwargs)
    assert_same(optimized, want, where="optimized", **rtol_atol)


MODULE_CASES = [(area, s, mode) for area, s in load("MODULE_SAMPLES") for mode in ("eval", "train")
                if mode in s.modes]
FUNC_CASES = load("FUNC_SAMPLES")


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch-style deprecation warnings of the samples themselves
@pytest.mark.parametrize("area,sample,mode", MODULE_CASES, ids=[f"{a}-{s.id}-{m}" for a, s, m in MODULE_CASES])
def test_module_sample_traces(area: str, sample: ModuleSample, mode: str) -> None:
    dtype = _dtype(sample)
    rng = np.random.default_rng(1)
    inputs = tuple(_cast(a, dtype) for a in sample.inputs(rng))
    kwargs = {k: _cast(v, dtype) for k, v in (sample.kwargs(rng) if sample.kwargs else {}).items()}
    nngraph.manual_seed(0)
    model = sample.make(nn).to(dtype)
    if sample.call is not None:
        model = Call(model, sample.call)
    model.train(mode == "train")
    check_sample(f"{area}-{sample.id}", mode, model, inputs, kwargs, sample.tolerance(dtype))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("area,sample", FUNC_CASES, ids=[f"{a}-{s.id}" for a, s in FUNC_CASES])
def test_functional_sample_traces(area: str, sample: FuncSample) -> None:
    dtype = _dtype(sample)
    inputs = tuple(_cast(a, dtype) for a in sample.inputs(np.random.default_rng(2)))
    model = Fn(lambda *args: sample.fn(F, *args)).eval()
    check_sample(f"{area}-{sample.id}", "func", model, inputs, {}, sample.tolerance(dtype))


def test_allowlist_entries_are_used() -> None:
    """Every allowlist entry matches some sample (stale entries hide nothing)."""
    keys = [(f"{a}-{s.id}", m) for a, s, m in MODULE_CASES] + [(f"{a}-{s.id}", "func") for a, s in FUNC_CASES]
    for pattern, wheres, _ in ALLOWED_BREAKS:
        assert any(w in wheres and re.fullmatch(pattern, k) for k, w in keys), pattern
