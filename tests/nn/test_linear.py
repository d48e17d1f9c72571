"""Linear-area checks outside the op table: initialization, registry entries, 0-d inputs, float16, aliasing."""
from __future__ import annotations

import math

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
import nngraph.nn.functional as F
from nngraph.ops.registry import REGISTRY, Fusion, TensorSpec

torch = pytest.importorskip("torch")


def test_ops_registered_with_fusion_and_shape_rules():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    op = REGISTRY["linear"]
    assert op.fusion is Fusion.HEAVY
    assert op.infer(TensorSpec.of(x), TensorSpec.of(w), TensorSpec.of(b)) == TensorSpec.of(op(x, w, b))
    assert op.infer(TensorSpec.of(x), TensorSpec.of(w), None) == TensorSpec.of(op(x, w, None))
    op = REGISTRY["bilinear"]
    assert op.fusion is Fusion.HEAVY
    x2, wb = rng.standard_normal((2, 3, 2)), rng.standard_normal((5, 4, 2))
    assert op.infer(TensorSpec.of(x), TensorSpec.of(x2), TensorSpec.of(wb), None) == TensorSpec.of(op(x, x2, wb, None))


def test_linear_init_bounds_and_dtype():
    nngraph.manual_seed(0)
    m = nn.Linear(50, 40)
    bound = 1 / math.sqrt(50)
    assert m.weight.dtype == np.float32 and m.bias.dtype == np.float32
    assert np.abs(m.weight).max() <= bound and np.abs(m.bias).max() <= bound
    # uniform(-b, b) has standard deviation b / sqrt(3)
    assert abs(m.weight.std() - bound / math.sqrt(3)) < 0.1 * bound
    m64 = nn.Linear(3, 2, bias=False, device="cpu", dtype=np.float64)
    assert m64.weight.dtype == np.float64 and m64.bias is None
    assert [n for n, _ in m64.named_parameters()] == ["weight"]
    nngraph.manual_seed(1)
    a = nn.Linear(4, 3).weight.copy()
    nngraph.manual_seed(1)
    assert np.array_equal(a, nn.Linear(4, 3).weight)


def test_bilinear_init_and_bad_features():
    m = nn.Bilinear(9, 2, 3)
    assert m.weight.shape == (3, 9, 2) and np.abs(m.weight).max() <= 1 / 3 and np.abs(m.bias).max() <= 1 / 3
    with pytest.raises(ValueError, match="in1_features must be > 0"):
        nn.Bilinear(0, 2, 3)


def test_non_dynamically_quantizable_linear():
    m = nn.NonDynamicallyQuantizableLinear(4, 2)
    assert isinstance(m, nn.Linear)
    assert repr(m) == repr(torch.nn.modules.linear.NonDynamicallyQuantizableLinear(4, 2))


def test_identity_returns_its_input():
    x = np.ones((2, 3))
    assert nn.Identity(1, 2, k=3)(x) is x


@pytest.mark.parametrize("start,end", [(0, -1), (0, 0), (-1, -1)])
def test_flatten_0d_like_torch(start, end):
    x = np.array(2.5, dtype=np.float32)
    ref = torch.nn.Flatten(start, end)(torch.tensor(2.5)).numpy()
    out = nn.Flatten(start, end)(x)
    assert out.shape == ref.shape and np.array_equal(out, ref)


def test_unflatten_rejects_non_int_sizes():
    with pytest.raises(TypeError, match="at pos 1"):
        nn.Unflatten(1, (2, 3.0))
    with pytest.raises(TypeError, match="tuple of ints"):
        nn.Unflatten(1, 6)


def test_linear_float16_close_to_torch():
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float16) for s in [(3, 16), (5, 16), (5,)])
    out = F.linear(x, w, b)
    ref = torch.nn.functional.linear(*(torch.from_numpy(a) for a in (x, w, b))).numpy()
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.astype(np.float32), ref.astype(np.float32), atol=1e-2, rtol=1e-2)


def test_outputs_do_not_alias_inputs_or_weights():
    m = nn.Linear(3, 3, bias=False)
    x = np.zeros((2, 3), np.float32)
    w = m.weight.copy()
    out = m(x)
    out[...] = 7
    assert np.array_equal(m.weight, w) and not x.any()
    assert type(out) is np.ndarray  # derived arrays are not Parameters



@pytest.mark.parametrize("make,shapes,ops", [
    (lambda: nn.Linear(4, 3), [(2, 5, 4)], ["linear"]),
    (lambda: nn.Linear(4, 3, bias=False), [(4,)], ["linear"]),
    (lambda: nn.Bilinear(3, 2, 4), [(5, 3), (5, 2)], ["bilinear"]),
    (lambda: nn.Flatten(), [(2, 3, 4)], ["reshape"]),
    (lambda: nn.Unflatten(1, (2, -1)), [(2, 6)], ["reshape"]),
    (lambda: nn.Identity(), [(2,)], []),
])
def test_traces_into_primitives(make, shapes, ops):
    from nngraph.ir.interpreter import Interpreter
    from nngraph.trace import trace

    rng = np.random.default_rng(0)
    m = make()
    args = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    graph = trace(m, *args, fullgraph=True)
    assert [n.target for n in graph.nodes() if n.kind == "op"] == ops
    np.testing.assert_array_equal(Interpreter(graph, m).run(*args), m(*args))
