"""Untraceable code: the smallest enclosing module runs eagerly as one MODULE node, with exactly one
GraphBreakWarning naming the module, file:line and the reason; fullgraph=True raises GraphBreakError instead."""
from __future__ import annotations

import inspect
import math
import re
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
from nngraph.ir import MODULE, Interpreter
from nngraph.trace import GraphBreakError, GraphBreakWarning

from .util import assert_same, rand

X = rand(2, 3, 4)


def _external_library(a: Any) -> Any:
    """Stands in for a call into another library, which needs a concrete array."""
    return np.asarray(a) * 2


def _branch(x: Any) -> Any:
    if x.sum() > 0:  # BREAK
        return x * 2
    return -x


def _to_float(x: Any) -> Any:
    return x * float(x.mean())  # BREAK


def _item(x: Any) -> Any:
    return x + x.max().item()  # BREAK


def _int_index(x: Any) -> Any:
    return x[int(x.argmax()) % 2]  # BREAK


def _math_lib(x: Any) -> Any:
    return x / math.sqrt(x.var())  # BREAK


def _unsupported_function(x: Any) -> Any:
    return np.cumsum(x, axis=-1)  # BREAK


def _unsupported_ufunc_method(x: Any) -> Any:
    return np.add.reduce(x, axis=0)  # BREAK


def _external(x: Any) -> Any:
    return _external_library(x) + 1  # BREAK (the innermost frame outside nngraph is the library's)


def _boolean_mask(x: Any) -> Any:
    return x[x > 0]  # BREAK


def _tolist(x: Any) -> Any:
    return np.array(x.tolist(), dtype=x.dtype) * 2  # BREAK


def _nonzero_where(x: Any) -> Any:
    return np.take(x.reshape(-1), np.where(x.reshape(-1) > 0)[0])  # BREAK


# case -> (inner forward, reason regex)
CASES: dict[str, tuple[Callable[[Any], Any], str]] = {
    "data-dependent-if": (_branch, r"data-dependent control flow"),
    "float()": (_to_float, r"conversion of a traced array to a Python scalar"),
    ".item()": (_item, r"conversion of a traced array to a Python scalar"),
    "int-index": (_int_index, r"conversion of a traced array to a Python scalar"),
    "math-library": (_math_lib, r"conversion of a traced array to a Python scalar"),
    "unsupported-numpy-function": (_unsupported_function, r"numpy\.cumsum is not supported"),
    "unsupported-ufunc-method": (_unsupported_ufunc_method, r"numpy\.add\.reduce is not supported"),
    "external-library": (_external, r"conversion of a traced array to a concrete numpy array"),
    "boolean-mask": (_boolean_mask, r"boolean-mask indexing"),
    "tolist": (_tolist, r"Python scalar"),
    "one-argument-where": (_nonzero_where, r"numpy\.where with one argument"),
}


class Inner(nn.Module):
    def __init__(self, fn: Callable[[Any], Any]) -> None:
        super().__init__()
        self.fn = fn
        self.fc = nn.Linear(4, 4)

    def forward(self, x: Any) -> Any:
        return self.fn(self.fc(x))


class Outer(nn.Module):
    """Traceable code around a breaking grandchild: only 'body.1' becomes opaque."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        super().__init__()
        self.pre = nn.Linear(4, 4)
        self.body = nn.Sequential(nn.ReLU(), Inner(fn), nn.Tanh())
        self.post = nn.Linear(4, 2)

    def forward(self, x: Any) -> Any:
        h = self.body(self.pre(x))
        if h.shape != x.shape:  # shape-changing breaks (boolean masks): reduce to a scalar (a concrete test)
            h = h.sum()
        return self.post(h + x)


def _break_line(fn: Callable[..., Any]) -> int:
    lines, start = inspect.getsourcelines(_external_library if fn is _external else fn)
    marker = "np.asarray" if fn is _external else "# BREAK"
    return start + next(i for i, line in enumerate(lines) if marker in line)


def _trace_warning(model: nn.Module, *args: Any) -> tuple[nngraph.Graph, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph = nngraph.trace(model, *args)
    return graph, [w for w in caught if issubclass(w.category, GraphBreakWarning)]


@pytest.mark.parametrize("case", list(CASES))
def test_graph_break_gives_correct_result_and_one_warning(case: str) -> None:
    fn, reason = CASES[case]
    model = Outer(fn).eval()
    x = X if case != "int-index" else X[:, 0]
    want = model(x)
    graph, caught = _trace_warning(model, x)
    graph.lint()
    assert_same(Interpreter(graph, model).run(x), want)
    # One warning: module name, type, file:line of the untraceable code, the reason.
    assert len(caught) == 1, [str(w.message) for w in caught]
    msg = str(caught[0].message)
    assert "'body.1' (Inner)" in msg
    assert f"{__file__}:{_break_line(fn)}" in msg, msg
    assert re.search(reason, msg), msg
    assert caught[0].filename == __file__  # attributed to the caller of trace
    # Only the smallest enclosing module is opaque; the rest is compiled.
    modules = graph.by_kind(MODULE)
    assert [(n.target, n.attrs["module_type"]) for n in modules] == [("body.1", "Inner")]
    assert {n.target for n in graph.ops("linear")} == {"linear"} and len(graph.ops("linear")) == 2
    assert {n.meta.module for n in graph.ops()} >= {"pre", "body.0", "body.2", "post"}
    assert [b.module for b in graph.breaks] == ["body.1"]
    # Nodes recorded inside the breaking module before the break were rolled back.
    assert not any(n.meta.module.startswith("body.1") for n in graph.nodes() if n.kind in ("op", "param"))


@pytest.mark.parametrize("case", list(CASES))
def test_fullgraph_raises(case: str) -> None:
    fn, reason = CASES[case]
    x = X if case != "int-index" else X[:, 0]
    with pytest.raises(GraphBreakError) as info:
        nngraph.trace(Outer(fn).eval(), x, fullgraph=True)
    msg = str(info.value)
    assert "'body.1' (Inner)" in msg and f"{__file__}:{_break_line(fn)}" in msg and re.search(reason, msg)
    assert "fullgraph=True" in msg


def test_optimize_fullgraph_raises() -> None:
    with pytest.raises(GraphBreakError):
        nngraph.optimize(Outer(_branch).eval(), X, fullgraph=True)


def test_break_in_root_module() -> None:
    class Root(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x: Any) -> Any:
            y = self.fc(x)
            return y if y.mean() > 0 else -y

    m = Root()
    graph, caught = _trace_warning(m, X)
    assert len(caught) == 1 and "the root module (Root)" in str(caught[0].message)
    assert [n.target for n in graph.by_kind(MODULE)] == [""]
    assert_same(Interpreter(graph, m).run(X), m(X))
    assert_same(Interpreter(graph, m).run(-X), m(-X))  # the other branch, taken eagerly


def test_data_dependent_branch_follows_new_inputs() -> None:
    """The opaque module re-runs its Python code: a different input may take the other branch."""
    model = Outer(_branch).eval()
    graph, _ = _trace_warning(model, X)
    interp = Interpreter(graph, model)
    for seed in range(4):
        x = rand(2, 3, 4, seed=seed) * (-1) ** seed
        assert_same(interp.run(x), model(x))


def test_module_called_twice_warns_once() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = Inner(_branch)

        def forward(self, x: Any) -> Any:
            return self.inner(self.inner(x))

    m = Twice()
    graph, caught = _trace_warning(m, X)
    assert len(caught) == 1 and len(graph.breaks) == 1
    assert len(graph.by_kind(MODULE)) == 2
    assert_same(Interpreter(graph, m).run(X), m(X))


def test_break_in_layer_code_names_the_layer_file() -> None:
    """When nngraph's own layer code breaks (here: Embedding max_norm renormalizes its weight in place), the
    location is that layer code's line, not the tracer's internals."""
    m = nn.Embedding(10, 4, max_norm=1.0)
    idx = np.array([[1, 2], [3, 1]])
    graph, caught = _trace_warning(m, idx)
    assert len(caught) == 1
    msg = str(caught[0].message)
    assert "nngraph/trace/" not in msg and re.search(r"nngraph/nn/functional/\w+\.py:\d+", msg), msg


def test_inplace_update_of_outer_value_is_rolled_back() -> None:
    """A breaking module that first updated its input proxy in place must not leave the caller's proxy pointing at
    a rolled-back node."""

    class Mutates(nn.Module):
        def forward(self, x: Any) -> Any:
            x += 1
            if x.sum() > 0:
                return x * 2
            return x

    class Caller(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = Mutates()

        def forward(self, x: Any) -> Any:
            y = x * 1.0
            z = self.m(y)
            return z + y  # eager: y was updated in place by self.m

    m = Caller()
    graph, caught = _trace_warning(m, X)
    graph.lint()
    assert len(caught) == 1
    # The eager module receives the interpreter's array for y and updates it in place, as in eager mode.
    assert_same(Interpreter(graph, m).run(X), m(X))


def test_hooked_module_is_opaque_without_warning() -> None:
    calls: list[tuple] = []
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    model[1].register_forward_hook(lambda mod, args, out: calls.append(out.shape) or out * 2)
    want = model(X)
    calls.clear()
    graph, caught = _trace_warning(model, X)
    assert not caught and not graph.breaks
    assert calls == []  # compiling does not fire hooks
    assert [(n.target, n.attrs["reason"]) for n in graph.by_kind(MODULE)] == [("1", "the module has hooks")]
    assert_same(Interpreter(graph, model).run(X), want)
    assert calls == [(2, 3, 4)]  # running the graph does


def test_global_hook_makes_modules_opaque() -> None:
    from nngraph.nn.modules import hooks

    seen: list[str] = []
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    handle = hooks.register_module_forward_hook(lambda mod, args, out: seen.append(type(mod).__name__))
    try:
        want = model(X)
        graph, caught = _trace_warning(model, X)
        seen.clear()
        assert_same(Interpreter(graph, model).run(X), want)
        assert seen == ["Linear", "ReLU"]
    finally:
        handle.remove()
    assert not caught


def test_break_inside_nested_module_of_opaque_parent_is_not_reported_twice() -> None:
    class Parent(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.child = Inner(_branch)

        def forward(self, x: Any) -> Any:
            return self.child(x) * float(x.shape[0])

    m = Parent()
    graph, caught = _trace_warning(m, X)
    assert len(caught) == 1 and "'child'" in str(caught[0].message)
    assert_same(Interpreter(graph, m).run(X), m(X))


def test_real_errors_are_not_graph_breaks() -> None:
    """An error that also happens eagerly propagates (after the graph break, the eager call raises it)."""
    from nngraph.errors import InputError

    with pytest.raises(InputError):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GraphBreakWarning)
            nngraph.trace(nn.Sequential(nn.Linear(5, 3)), X)
