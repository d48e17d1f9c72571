"""The IR: building and editing graphs, lint failures, printing, the interpreter, and the structural-equality
helper the pass tests use."""
from __future__ import annotations

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
from nngraph.ir import CONSTANT, OP, OUTPUT, PARAM, Graph, Interpreter, LintError, Node, NodeMeta
from nngraph.ir.interpreter import NodeExecutionError
from nngraph.ir.pytree import count_leaves, flatten, unflatten
from nngraph.ops.registry import TensorSpec

from .build import Builder, assert_structurally_equal, structurally_equal

F32 = np.float32


def small() -> tuple[Builder, dict[str, str]]:
    """x -> linear(w, b) -> relu -> add(x_proj) ... a little graph with params, an op chain and an output."""
    b = Builder()
    x = b.input((2, 4))
    w, bias = b.param("fc.weight", (3, 4)), b.param("fc.bias", (3,))
    lin = b.op("linear", x, w, bias, module="fc")
    act = b.op("relu", lin, module="act")
    out = b.op("mul", act, b.const(np.float32(2.0)))
    b.output(out)
    return b, {"x": x, "w": w, "b": bias, "lin": lin, "act": act, "out": out}


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):  # noqa: ANN001, ANN201
        return np.maximum(self.fc(x), 0) * 2


# ---------------------------------------------------------------------------------------------- building, queries
def test_add_makes_unique_names_and_edges() -> None:
    b, n = small()
    g = b.graph
    assert n["w"] == "fc_weight" and g[n["w"]].target == "fc.weight"
    again = g.add(OP, "relu", (n["lin"],), meta=NodeMeta(spec=g[n["lin"]].spec), name="relu")
    assert again.name == "relu_1"
    assert g.users(n["lin"]) == [n["act"], "relu_1"]
    assert g.nx.has_edge(n["lin"], "relu_1")
    with pytest.raises(LintError, match="not in the graph"):
        g.add(OP, "relu", ("nope",))


def test_queries() -> None:
    b, n = small()
    g = b.graph
    assert len(g) == 8 and repr(g) == "<Graph: 8 nodes, 3 ops>"
    assert [x.name for x in g.inputs] == ["input_0"] and g.output.kind == OUTPUT
    assert [x.target for x in g.ops()] == ["linear", "relu", "mul"] and [x.name for x in g.ops("relu")] == ["relu"]
    assert {x.target for x in g.by_kind(PARAM)} == {"fc.weight", "fc.bias"}
    assert g.op_counts() == {"input": 1, "param": 2, "linear": 1, "relu": 1, "constant": 1, "mul": 1, "output": 1}
    assert n["x"] in g and "nope" not in g
    names = [x.name for x in g]  # topological, stable (insertion order breaks ties)
    assert names.index(n["lin"]) < names.index(n["act"]) < names.index(n["out"]) < names.index("output")


def test_set_args_replace_all_uses_erase() -> None:
    b, n = small()
    g = b.graph
    tanh = g.add(OP, "tanh", (n["lin"],), meta=NodeMeta(spec=g[n["lin"]].spec), name="tanh")
    assert g.replace_all_uses(n["act"], tanh.name) == 1
    assert g[n["out"]].args[0] == "tanh" and g.users(n["act"]) == []
    g.erase(n["act"])
    assert n["act"] not in g
    with pytest.raises(LintError, match="still used"):
        g.erase(n["lin"])
    g.set_args(n["out"], (n["lin"], g[n["out"]].args[1]))
    assert g.users("tanh") == [] and g.nx.has_edge(n["lin"], n["out"])
    g.erase("tanh")
    g.lint()


def test_copy_is_independent() -> None:
    b, n = small()
    g = b.graph
    c = g.copy()
    c[n["act"]].attrs["x"] = 1
    c.set_args(n["out"], (n["lin"], c[n["out"]].args[1]))
    assert "x" not in g[n["act"]].attrs and g[n["out"]].args[0] == n["act"]
    assert c.input_tree == g.input_tree
    assert_structurally_equal(g, b.graph)


def test_subgraph_copy() -> None:
    b, n = small()
    sub = b.graph.subgraph_copy([n["x"], n["w"], n["b"], n["lin"]])
    assert sorted(x.name for x in sub.nodes()) == sorted([n["x"], n["w"], n["b"], n["lin"]])
    assert sub[n["lin"]].args == (n["x"], n["w"], n["b"])


def test_node_kinds_are_closed_and_describe() -> None:
    with pytest.raises(ValueError, match="unknown node kind"):
        Node("a", "weird", "t")
    b, n = small()
    text = b.graph[n["lin"]].describe()
    assert text == "%linear = op[linear](%input_0, %fc_weight, %fc_bias) @ fc"
    node = Node("c", OP, "sum", ("x", None), {"axis": (1,), "keepdims": False})
    assert node.describe() == "%c = op[sum](%x, None) {axis=(1,), keepdims=False}" and node.inputs() == ["x"]


def test_pytree_roundtrip() -> None:
    obj = ({"a": np.zeros(1), "b": [np.ones(2), 3]}, (np.zeros(3),), None)
    leaves, tree = flatten(obj, lambda v: isinstance(v, np.ndarray))
    assert len(leaves) == 3 == count_leaves(tree)
    back = unflatten(leaves, tree)
    assert back[0]["b"][1] == 3 and back[2] is None and back[1][0] is leaves[2]


# ---------------------------------------------------------------------------------------------- lint
def test_lint_accepts_traced_and_built_graphs() -> None:
    small()[0].graph.lint()
    nngraph.trace(Tiny(), np.ones((2, 4), F32)).lint()


def _lint_error(g: Graph, match: str) -> None:
    with pytest.raises(LintError, match=match):
        g.lint()


def test_lint_cycle() -> None:
    b, n = small()
    b.graph.set_args(n["lin"], (n["out"], n["w"], n["b"]))
    _lint_error(b.graph, "cycle")


def test_lint_missing_and_stray_edges() -> None:
    b, n = small()
    b.graph[n["act"]].args = (n["x"],)  # args changed without the edges
    _lint_error(b.graph, "missing edge")
    b, n = small()
    b.graph.nx.add_edge(n["x"], n["out"])
    _lint_error(b.graph, "stray edge")


def test_lint_leaf_kinds() -> None:
    b, n = small()
    b.graph.nx.add_edge(n["x"], n["w"])
    b.graph[n["w"]].args = (n["x"],)
    _lint_error(b.graph, "param node takes no arguments")
    b, n = small()
    const = next(x for x in b.graph.nodes() if x.kind == CONSTANT)
    const.attrs["value"] = 2.0
    _lint_error(b.graph, "constant without an array value")


def test_lint_unknown_op_and_arity() -> None:
    b, n = small()
    b.graph[n["act"]].target = "no_such_op"
    _lint_error(b.graph, "no op 'no_such_op' in the registry")
    b, n = small()
    b.graph.set_args(n["out"], (n["act"],))  # mul with one argument
    _lint_error(b.graph, r"%mul = op\[mul\]\(%relu\).*shape rule failed")
    b, n = small()
    b.graph[n["lin"]].attrs["bogus"] = 1
    _lint_error(b.graph, "shape rule failed")


def test_lint_shape_and_dtype_mismatch() -> None:
    b, n = small()
    node = b.graph[n["act"]]
    node.meta = node.meta.with_(spec=TensorSpec((2, 4), F32))
    _lint_error(b.graph, r"%relu.*recorded TensorSpec\(shape=\(2, 4\).*shape rule gives TensorSpec\(shape=\(2, 3\)")
    b, n = small()
    node = b.graph[n["act"]]
    node.meta = node.meta.with_(spec=TensorSpec((2, 3), np.float64))
    _lint_error(b.graph, "float64")
    b, n = small()
    w = b.graph[n["w"]]
    w.meta = w.meta.with_(spec=TensorSpec((5, 4), F32))  # the linear's recorded (2, 3) no longer follows
    _lint_error(b.graph, "%linear")


def test_lint_output_rules() -> None:
    b, n = small()
    b.graph.add(OUTPUT, "output", (n["act"],), {"tree": ("leaf",)}, name="output")
    _lint_error(b.graph, "exactly one output node, found 2")
    b, n = small()
    b.graph.add(OP, "relu", ("output",), meta=NodeMeta(spec=TensorSpec((2, 3), F32)))
    with pytest.raises(LintError):
        b.graph.lint()


# ---------------------------------------------------------------------------------------------- printing
def test_print_is_a_table() -> None:
    b, n = small()
    text = str(b.graph)
    lines = text.splitlines()
    assert lines[0].split() == ["name", "kind", "target", "args", "shape", "dtype", "module"]
    assert len(lines) == len(b.graph) + 1
    row = next(line for line in lines if line.startswith("linear "))
    assert row.split() == ["linear", "op", "linear", "input_0,", "fc_weight,", "fc_bias", "(2,", "3)", "float32", "fc"]
    assert next(line for line in lines if line.startswith("fc_weight")).split()[1:3] == ["param", "fc.weight"]
    # Columns line up.
    col = lines[0].index("kind")
    assert all(line[col - 2:col] == "  " for line in lines[1:])


def test_print_multi_output_node() -> None:
    g = nngraph.trace(nn.LSTM(4, 3), np.ones((5, 2, 4), F32))
    row = next(line for line in str(g).splitlines() if line.startswith("lstm_layer "))
    assert "(5, 2, 3) (2, 3) (2, 3)" in row and "float32 float32 float32" in row
    assert str(g).splitlines()[-1].split()[:2] == ["output", "output"]


# ---------------------------------------------------------------------------------------------- interpreter
def test_interpreter_runs_built_graph() -> None:
    b, _ = small()
    m = nn.Module()
    m.fc = nn.Linear(4, 3)
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(F32)
    want = np.maximum(x @ m.fc.weight.T + m.fc.bias, 0) * 2
    np.testing.assert_allclose(Interpreter(b.graph, m).run(x), want, rtol=1e-6)
    params = {"fc.weight": np.ones((3, 4), F32), "fc.bias": np.zeros(3, F32)}
    np.testing.assert_allclose(Interpreter(b.graph, params=params).run(x), np.maximum(x.sum(1, keepdims=True), 0)
                               * np.ones((1, 3)) * 2, rtol=1e-6)


def test_interpreter_keep_and_free() -> None:
    b, n = small()
    interp = Interpreter(b.graph, params={"fc.weight": np.ones((3, 4), F32), "fc.bias": np.zeros(3, F32)})
    interp.run(np.ones((2, 4), F32))
    assert n["lin"] not in interp.env  # freed after its last use
    interp.run(np.ones((2, 4), F32), keep=True)
    assert {n["lin"], n["act"], n["out"]} <= set(interp.env)


def test_interpreter_error_names_node_and_module() -> None:
    b, n = small()
    with pytest.raises(NodeExecutionError, match=r"%fc_weight = param\[fc.weight\].*module 'fc'.*no parameter"):
        Interpreter(b.graph, params={}).run(np.ones((2, 4), F32))
    g = nngraph.trace(Tiny(), np.ones((2, 4), F32))
    with pytest.raises(NodeExecutionError, match=r"%linear.*module 'fc'.*recorded at .*test_graph.py"):
        Interpreter(g, params={"fc.weight": np.ones((3, 5), F32), "fc.bias": np.zeros(3, F32)}).run(
            np.ones((2, 4), F32))


def test_interpreter_checks_call_structure() -> None:
    g = nngraph.trace(Tiny(), np.ones((2, 4), F32))
    with pytest.raises(ValueError, match="argument structure"):
        Interpreter(g, Tiny()).run(np.ones((2, 4), F32), np.ones(1))


# ---------------------------------------------------------------------------------------------- structural equality
def test_structural_equality_ignores_names() -> None:
    traced = nngraph.trace(Tiny(), np.ones((2, 4), F32))
    b = Builder()
    x = b.input((2, 4))
    lin = b.op("linear", x, b.param("fc.weight", (3, 4)), b.param("fc.bias", (3,)))
    b.output(b.op("mul", b.op("maximum", lin, b.const(np.asarray(0, F32))), b.const(np.asarray(2, F32))))
    assert_structurally_equal(traced, b.graph)


def test_structural_equality_sees_differences() -> None:
    base = small()[0].graph
    for change in ("attr", "target", "arg-order", "const", "extra-node", "spec"):
        b, n = small()
        g = b.graph
        if change == "attr":
            g[n["act"]].attrs["inplace"] = True
        elif change == "target":
            g[n["act"]].target = "tanh"
        elif change == "arg-order":
            g.set_args(n["out"], tuple(reversed(g[n["out"]].args)))
        elif change == "const":
            const = next(x for x in g.nodes() if x.kind == CONSTANT)
            const.attrs["value"] = np.float32(3.0)
        elif change == "extra-node":
            b.op("relu", n["act"])
        else:
            node = g[n["act"]]
            node.meta = node.meta.with_(spec=TensorSpec((2, 3), np.float64))
        assert not structurally_equal(g, base), change
    assert structurally_equal(small()[0].graph, base)


def test_lint_structures() -> None:
    b, n = small()
    out = b.graph.output
    out.attrs["tree"] = ("tuple", (("leaf",), ("leaf",)))
    _lint_error(b.graph, "its tree has 2 leaves for 1 arguments")
    b, n = small()
    b.graph.input_tree = ("tuple", (("tuple", (("leaf",), ("leaf",))), ("dict", (), ())))
    _lint_error(b.graph, r"input nodes at positions \[0\] do not match the 2 array leaves")
    m = nn.Sequential(nn.Linear(4, 4))
    m[0].register_forward_hook(lambda *a: None)
    g = nngraph.trace(m, np.ones((2, 4), F32))
    call = g.by_kind("module")[0]
    call.meta = call.meta.with_(spec=(call.spec[0], call.spec[0]))
    _lint_error(g, r"%call_0 = module\[0\].*do not match its call structure \(1 arrays in, 1 out\)")
