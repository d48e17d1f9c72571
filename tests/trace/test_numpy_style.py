"""numpy-style forward code traces fully (fullgraph=True) and the interpreter reproduces eager execution."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
from nngraph.ir import OP, Interpreter
from nngraph.trace import GraphBreakWarning

from .util import Fn, assert_same, check_trace, rand

X = rand(2, 3, 4)
Y = rand(2, 3, 4, seed=1)
M = rand(4, 5, seed=2)
V = rand(4, seed=3)
I = np.array([[1, 0, 3], [2, 2, 1]], dtype=np.int64)  # noqa: E741


def _shape_code(x: Any) -> Any:
    n, c, w = x.shape  # concrete ints
    assert isinstance(n, int) and isinstance(x.ndim, int) and isinstance(len(x), int)
    y = x.reshape(n, -1) / (c * w)
    rows = [y[i] * (i + 1) for i in range(len(x))]  # a Python loop over a concrete length
    return np.stack(rows) if x.ndim == 3 else y


def _inplace(x: Any) -> Any:
    y = x * 1.0
    y += 1
    y *= x
    y -= 0.5
    y /= 2
    y[:, 0] = 0.0
    y[..., 1:3] += x[..., :2]
    np.multiply(y, 2, out=y)
    return y


def _setitem_array_value(x: Any, y: Any) -> Any:
    out = x.copy()
    out[0] = y[1]
    return out


# id -> (function, inputs). Each is run eagerly on numpy arrays and traced with fullgraph=True.
CASES: dict[str, tuple[Callable[..., Any], tuple]] = {
    # operators, both operand orders, Python scalars keep float32 (NEP 50)
    "arith": (lambda x, y: (x + y, x - y, x * y, x / y, x ** 2, -x, abs(x), +x), (X, Y)),
    "arith-reflected": (lambda x: (1 + x, 2 - x, 3 * x, 1 / (x * x + 1), 2.0 ** x, 7 // (abs(x) + 1), 5 % (abs(x) + 1)),
                        (X,)),
    "floordiv-mod-pow": (lambda x, y: (x // 0.7, x % 0.3, abs(x) ** y), (X, Y)),
    "comparisons": (lambda x, y: (x < y, x <= y, x > 0, x >= y, x == y, x != 0.0), (X, Y)),
    "bool-ops": (lambda x, y: ((x > 0) & (y > 0), (x > 0) | (y > 0), (x > 0) ^ (y > 0), ~(x > 0)), (X, Y)),
    "int-bitwise": (lambda i: (i & 1, i | 2, i ^ 3, i * 2, i + 1.5), (I,)),
    "matmul-operator": (lambda x, m: (x @ m, m.T @ x.transpose(0, 2, 1), m.T @ np.ones(4, np.float32)), (X, M)),
    "matmul-vector": (lambda v, m: (v @ m, m @ m.T @ v), (V, M)),
    "numpy-scalar-operand": (lambda x: x * np.float32(3) + np.float64(1.5), (X,)),
    "array-constant-operand": (lambda x: x + np.arange(4, dtype=np.float32), (X,)),
    # ufuncs and numpy functions
    "ufuncs": (lambda x, y: (np.exp(x), np.log(np.abs(x) + 1), np.sqrt(np.abs(x)), np.tanh(x), np.maximum(x, y),
                             np.minimum(x, 0.0), np.sin(x), np.abs(x), np.negative(y), np.square(x),
                             np.floor(x)), (X, Y)),
    "ufunc-dtype": (lambda x: np.add(x, 1, dtype=np.float64), (X,)),
    "where": (lambda x, y: (np.where(x > 0, x, y), np.where(x > 0, x, 0.0), np.where(y < 0, 1.0, x)), (X, Y)),
    "concatenate-stack": (lambda x, y: (np.concatenate([x, y], axis=1), np.concatenate((x, y), -1),
                                        np.concatenate([x, y], axis=None), np.stack([x, y]), np.stack([x, y], axis=-1),
                                        np.hstack([x, y]), np.vstack([x, y])), (X, Y)),
    "matmul-einsum-dot": (lambda x, m: (np.matmul(x, m), np.einsum("bij,jk->bik", x, m), np.einsum("bij->bj", x),
                                        np.dot(x, m), np.dot(x, 2.0)), (X, M)),
    "reductions-np": (lambda x: (np.mean(x), np.mean(x, axis=1), np.sum(x, axis=(0, 2)), np.max(x, axis=-1),
                                 np.max(x, axis=1, keepdims=True), np.min(x), np.prod(x, axis=0), np.var(x, axis=2),
                                 np.std(x, axis=(1, 2), ddof=1), np.amax(x, 0), np.argmax(x, axis=1),
                                 np.any(x > 1, axis=0), np.all(x > -5)), (X,)),
    "shape-functions": (lambda x: (np.reshape(x, (6, 4)), np.transpose(x), np.transpose(x, (1, 0, 2)),
                                   np.swapaxes(x, 0, 2), np.expand_dims(x, 1), np.squeeze(np.expand_dims(x, 0)),
                                   np.moveaxis(x, 0, -1), np.ravel(x), np.flip(x, 1),
                                   np.broadcast_to(x[:, :1], (2, 3, 4)), np.tile(x, (1, 2, 1)),
                                   np.repeat(x, 2, axis=0), np.clip(x, -0.5, 0.5)), (X,)),
    "split-take": (lambda x: (*np.split(x, 2, axis=2), *np.array_split(x, 2, axis=1), np.take(x, [0, 2], axis=1)),
                   (X,)),
    "shape-queries": (lambda x: x * np.shape(x)[0] + np.ndim(x) + np.size(x) + np.size(x, 1), (X,)),
    "like-constants": (lambda x: (x + np.zeros_like(x), x * np.ones_like(x), np.full_like(x, 2.5) - x), (X,)),
    "result-type": (lambda x, i: x.astype(np.result_type(x, i)), (X, I)),
    # array methods
    "methods": (lambda x: (x.reshape(6, 4), x.reshape((4, -1)), x.reshape(-1), x.transpose(), x.transpose(2, 0, 1),
                           x.T, x.swapaxes(1, 2), x.flatten(), x.ravel(), x.squeeze(), x[None].squeeze(0),
                           x.astype(np.float64), x.astype(np.int32), x.clip(-1, 1), x.clip(min=0), x.copy(),
                           x.dot(np.ones((4, 2), np.float32)), x.repeat(2, axis=1)), (X,)),
    "method-reductions": (lambda x: (x.mean(), x.mean(axis=(1, 2)), x.sum(1), x.sum(axis=-1, keepdims=True),
                                     x.max(), x.max(axis=0), x.min(1), x.prod(2), x.var(), x.std(axis=0),
                                     x.argmax(), x.argmin(axis=2), (x > 0).any(), (x > -9).all(axis=1)), (X,)),
    # indexing and slicing
    "basic-indexing": (lambda x: (x[0], x[:, 1], x[..., 2], x[:, 1:3], x[::-1], x[:, ::2, 1:], x[None],
                                  x[:, None, :, None], x[1, 2, 3], x[-1, ..., -2], x[0, :, None]), (X,)),
    "integer-array-indexing": (lambda x, i: (x[[1, 0]], x[:, [2, 0, 1]], x[:, :, np.array([3, 3])], x[i[0] % 2],
                                             x[:, i[1] % 3]), (X, I)),
    "shape-dependent-code": (_shape_code, (X,)),
    "inplace-operators": (_inplace, (X,)),
    "setitem-array": (_setitem_array_value, (X, Y)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_numpy_style_code_traces(case: str) -> None:
    fn, inputs = CASES[case]
    graph = check_trace(Fn(fn), *inputs)
    assert not graph.breaks
    assert all(n.kind != "module" for n in graph.nodes())


def test_python_scalars_keep_array_dtype() -> None:
    """NEP 50: a Python float next to a float32 array stays float32; next to an int array it promotes."""
    graph = check_trace(Fn(lambda x, i: (x * 2.5, i * 2.5, i + 1, x > 1)), X, I)
    out = Interpreter(graph, None).run(X, I)
    assert [o.dtype for o in out] == [np.float32, np.float64, np.int64, np.bool_]


def test_shape_ndim_len_are_concrete_ints() -> None:
    seen: list[Any] = []

    def fn(x: Any) -> Any:
        seen.extend([x.shape, x.ndim, len(x), x.size, x.dtype])
        return x

    nngraph.trace(Fn(fn), X, fullgraph=True)
    assert seen == [(2, 3, 4), 3, 2, 24, np.dtype(np.float32)]
    assert all(type(v) is int for v in seen[0]) and all(type(v) is int for v in seen[1:4])


def test_shape_specializes_graph_to_example() -> None:
    """Python branches on shapes pick one side at trace time; the graph holds only that side."""

    def fn(x: Any) -> Any:
        return x.sum(axis=-1) if x.shape[-1] > 3 else x * 2

    graph = nngraph.trace(Fn(fn), X, fullgraph=True)
    assert [n.target for n in graph.ops()] == ["sum"]


class _Structured(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 2)

    def forward(self, pair: tuple, items: list, named: dict, scale: float = 1.0, *, bias: Any = None) -> Any:
        a, b = pair
        out = {"sum": self.lin(a + b) * scale, "list": [items[0] * 2, items[1].mean()], "none": None, "k": 3}
        if bias is not None:
            out["bias"] = named["w"] @ bias
        return out, (a, [b])


def test_nested_inputs_and_outputs() -> None:
    m = _Structured()
    args = ((X, Y), [X[0], Y[1]], {"w": M})
    graph = check_trace(m, *args, scale=0.5, bias=rand(5, 2, seed=9))
    assert len(graph.inputs) == 6
    # Calling with another structure is an error, not a silent mismatch.
    with pytest.raises(ValueError, match="argument structure"):
        Interpreter(graph, m).run(X, [X[0], Y[1]], {"w": M}, scale=0.5, bias=rand(5, 2, seed=9))


def test_output_aliases_input_and_repeats() -> None:
    graph = check_trace(Fn(lambda x, y: (x, x, y + 1, {"again": x})), X, Y)
    assert graph.output.args.count("input_0") == 3


def test_traced_graph_generalizes_to_new_values() -> None:
    """The graph depends on the example's shapes only: new values give the eager result."""
    m = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 3))
    fn = Fn(lambda x: np.concatenate([m(x), x.mean(-1, keepdims=True)], -1))
    fn.m = m
    graph = nngraph.trace(fn, X, fullgraph=True)
    other = rand(2, 3, 4, seed=42)
    assert_same(Interpreter(graph, fn).run(other), fn(other))


def test_every_numpy_op_records_a_node_with_module_and_source() -> None:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x: Any) -> Any:
            return np.maximum(self.fc(x), 0) + x  # recorded in scope 'blocks.1'

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.Sequential(Block(), Block())

        def forward(self, x: Any) -> Any:
            return self.blocks(x).sum(-1)

    graph = check_trace(Net(), X)
    by_target = {(n.target, n.meta.module) for n in graph.ops()}
    assert ("linear", "blocks.0.fc") in by_target and ("maximum", "blocks.1") in by_target
    assert ("add", "blocks.1") in by_target and ("sum", "") in by_target
    assert all(n.meta.source.startswith(__file__) for n in graph.ops() if n.target in ("maximum", "add", "sum"))
    params = {n.target: n.meta.module for n in graph.by_kind("param")}
    assert params == {"blocks.0.fc.weight": "blocks.0.fc", "blocks.0.fc.bias": "blocks.0.fc",
                      "blocks.1.fc.weight": "blocks.1.fc", "blocks.1.fc.bias": "blocks.1.fc"}


def test_shared_parameter_is_one_param_node() -> None:
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = nn.Linear(4, 4)
            self.b.weight = self.a.weight

        def forward(self, x: Any) -> Any:
            return self.b(self.a(x))

    graph = check_trace(Tied(), X)
    assert sorted(n.target for n in graph.by_kind("param")) == ["a.bias", "a.weight", "b.bias"]


def test_buffers_enter_as_params_and_constants_as_constants() -> None:
    class WithBuffer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("scale", np.full(4, 2.0, np.float32))
            self.offset = np.ones(4, np.float32)  # a plain attribute: a constant

        def forward(self, x: Any) -> Any:
            return x * self.scale + self.offset

    graph = check_trace(WithBuffer(), X)
    assert [n.target for n in graph.by_kind("param")] == ["scale"]
    consts = graph.by_kind("constant")
    assert len(consts) == 1 and np.array_equal(consts[0].attrs["value"], np.ones(4, np.float32))


def test_param_nodes_read_current_weights() -> None:
    """PARAM nodes are resolved from the module at run time: updating weights needs no re-trace."""
    m = nn.Linear(4, 3)
    graph = nngraph.trace(m, X, fullgraph=True)
    m.weight[...] = 0.5
    assert_same(Interpreter(graph, m).run(X), m(X))


def test_trace_leaves_model_and_inputs_alone() -> None:
    m = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(3), nn.Dropout(0.3)).train()
    x = X.copy()
    state = {k: v.copy() for k, v in m.state_dict().items()}
    nngraph.manual_seed(7)
    rng_before = nngraph._random.default_generator().bit_generator.state
    with pytest.warns(GraphBreakWarning):  # BatchNorm's running statistics: an in-place update
        nngraph.trace(m, x)
    assert nngraph._random.default_generator().bit_generator.state == rng_before
    np.testing.assert_array_equal(x, X)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, state[k], err_msg=k)


def test_op_nodes_use_registry_ops_only() -> None:
    graph = check_trace(Fn(lambda x: np.tanh(x) * x.mean()), X)
    from nngraph.ops.registry import REGISTRY

    assert all(n.target in REGISTRY for n in graph.nodes() if n.kind == OP)


def test_reduction_dtype_argument() -> None:
    graph = check_trace(Fn(lambda x, i: (x.sum(axis=1, dtype=np.float64), np.mean(x, dtype=np.float64),
                                         i.mean(axis=0, dtype=np.float32), x.sum(dtype=np.float32))), X, I)
    assert [n.attrs["dtype"] for n in graph.ops("cast")] == ["<f8", "<f8", "<f4"]


def test_round_and_norm() -> None:
    check_trace(Fn(lambda x, i: (np.round(x), np.round(x * 100, 1), np.around(x, 2), np.round(i), np.round(x, -1))),
                X, I)
    check_trace(Fn(lambda x, v: (np.linalg.norm(x), np.linalg.norm(x, axis=-1), np.linalg.norm(x, axis=(1, 2)),
                                 np.linalg.norm(x, ord=1, axis=1, keepdims=True), np.linalg.norm(v, np.inf),
                                 np.linalg.norm(v, 2))), X, V, rtol=1e-5)


def _inplace_casts(x: Any, d: Any) -> Any:
    y = x.copy()
    y += d  # float64 operand: the float32 array stays float32 (same_kind casting)
    y *= 2
    np.add(y, d, out=y)
    return y


def _fill_buffer(x: Any) -> Any:
    out = np.zeros_like(x)
    out[:, 1:] = x[:, :-1]  # shift right; a traceable zeros_like buffer
    ones = np.ones_like(x, dtype=np.float64)
    return out, ones + x


def test_inplace_keeps_dtype_and_buffer_patterns() -> None:
    graph = check_trace(Fn(_inplace_casts), X, np.full(4, 0.25))
    assert Interpreter(graph, None).run(X, np.full(4, 0.25)).dtype == np.float32
    check_trace(Fn(_fill_buffer), X)


@pytest.mark.parametrize("fn", [
    lambda x: x.__iadd__(np.ones((2,) + x.shape, np.float32)),  # the in-place result cannot grow
    lambda x: (x > 0).astype(np.int32).__iadd__(1.5),  # float into int: not same_kind
])
def test_inplace_errors_match_numpy(fn: Callable[[Any], Any]) -> None:
    with pytest.raises((TypeError, ValueError)):
        fn(X.copy())
    with pytest.raises((TypeError, ValueError)):  # the eager re-run of the broken module raises numpy's error
        nngraph.trace(Fn(fn), X)


def test_out_arguments_of_numpy_functions_break() -> None:
    with pytest.warns(GraphBreakWarning, match=r"numpy.concatenate with out="):
        nngraph.trace(Fn(lambda x: np.concatenate([x, x], out=np.empty((4, 3, 4), np.float32))), X)


def test_inplace_layer_side_effect_is_traced() -> None:
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc, self.act = nn.Linear(4, 4), nn.ReLU(inplace=True)

        def forward(self, x: Any) -> Any:
            y = self.fc(x)
            self.act(y)  # relies on the in-place update of y
            return y

    check_trace(M(), X)


def test_inplace_write_back_pattern_traces() -> None:
    """The layers' in-place path under tracing: ``x[...] = out`` over the whole array rebinds the caller's proxy
    to ``out`` itself (no setitem node, so fusion is not blocked)."""

    def fn(x: Any) -> Any:
        y = x * 2
        y[...] = np.maximum(y, 0)
        return y

    graph = check_trace(Fn(fn), X)
    result = nngraph.optimize(Fn(fn), X, debug=True)
    assert not graph.ops("setitem") and not result.graph.ops("setitem")
