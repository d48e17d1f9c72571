"""Recurrent layers beyond the op table: inter-layer dropout statistics, the primitive-op structure the compiler
relies on (with their shape rules), constructor checks and parameter initialization."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
from nngraph.ir import pytree
from nngraph.ir.interpreter import Interpreter
from nngraph.ops import REGISTRY, registry
from nngraph.trace import trace


def _identity_relu_rnn(size: int, p: float) -> nn.RNN:
    """A 2-layer ReLU RNN whose layers copy their (non-negative) input, so its output is dropout(x) exactly."""
    m = nn.RNN(size, size, 2, nonlinearity="relu", dropout=p)
    for layer in (0, 1):
        getattr(m, f"weight_ih_l{layer}")[...] = np.eye(size, dtype=np.float32)
        for name in ("weight_hh", "bias_ih", "bias_hh"):
            getattr(m, f"{name}_l{layer}")[...] = 0
    return m


class TestDropout:
    def test_train_mode_drops_with_probability_p_and_rescales(self):
        p = 0.3
        m = _identity_relu_rnn(16, p)
        x = np.random.default_rng(0).uniform(0.5, 1.5, (50, 40, 16)).astype(np.float32)
        nngraph.manual_seed(0)
        out, _ = m(x)
        dropped = out == 0
        assert abs(dropped.mean() - p) < 0.01  # 32000 Bernoulli draws: std 0.0026
        np.testing.assert_allclose(out[~dropped], (x / (1 - p))[~dropped], rtol=1e-6)

    def test_eval_mode_and_dropout_zero_are_deterministic(self):
        x = np.random.default_rng(1).uniform(0.5, 1.5, (6, 3, 5)).astype(np.float32)
        m = _identity_relu_rnn(5, 0.5).eval()
        np.testing.assert_array_equal(m(x)[0], x)
        m.dropout = 0.0
        m.train()
        np.testing.assert_array_equal(m(x)[0], x)

    @pytest.mark.parametrize("make", [lambda: nn.LSTM(4, 8, 3, dropout=0.5), lambda: nn.GRU(4, 8, 2, dropout=0.5),
                                      lambda: nn.RNN(4, 8, 2, dropout=0.5, bidirectional=True)])
    def test_train_changes_outputs_eval_does_not(self, make):
        nngraph.manual_seed(0)
        m = make()
        x = np.random.default_rng(2).standard_normal((7, 3, 4)).astype(np.float32)
        m.train()
        a, b = m(x)[0], m(x)[0]
        assert not np.allclose(a, b)
        m.eval()
        np.testing.assert_array_equal(m(x)[0], m(x)[0])
        assert not np.allclose(m(x)[0], a)

    def test_seeded(self):
        m = nn.GRU(4, 8, 2, dropout=0.5)
        x = np.random.default_rng(3).standard_normal((5, 2, 4)).astype(np.float32)
        nngraph.manual_seed(7)
        a = m(x)[0]
        nngraph.manual_seed(7)
        np.testing.assert_array_equal(m(x)[0], a)

    def test_last_layer_is_not_dropped(self):
        nngraph.manual_seed(0)
        m = nn.LSTM(4, 8, 1, dropout=0.0).train()
        x = np.random.default_rng(4).standard_normal((5, 2, 4)).astype(np.float32)
        np.testing.assert_array_equal(m(x)[0], m(x)[0])


def _traced(m, *inputs):
    """Trace ``m`` without graph breaks, lint the graph (shape rules agree with the recorded specs), check that the
    interpreter reproduces eager mode, and return the op counts."""
    graph = trace(m, *inputs, fullgraph=True)
    graph.lint()
    ours = Interpreter(graph, m).run(*inputs)
    ref = m(*inputs)
    for a, b in zip(pytree.flatten(ours, _is_array)[0], pytree.flatten(ref, _is_array)[0], strict=True):
        np.testing.assert_array_equal(a, b)
    return graph.op_counts()


def _is_array(v: object) -> bool:
    return isinstance(v, np.ndarray)


class TestPrimitives:
    @pytest.mark.parametrize("steps", [1, 50])
    def test_one_projection_and_one_recurrence_per_layer_direction(self, steps):
        m = nn.LSTM(4, 6, 2, batch_first=True, bidirectional=True, proj_size=3).eval()
        x = np.random.default_rng(0).standard_normal((2, steps, 4)).astype(np.float32)
        counts = _traced(m, x, (np.zeros((4, 2, 3), np.float32), np.ones((4, 2, 6), np.float32)))
        assert counts["linear"] == 4 and counts["lstm_layer"] == 4
        assert {k for k in counts if counts[k]} <= {"input", "param", "output", "linear", "lstm_layer", "concat",
                                                   "stack", "transpose", "getitem", "tuple_getitem"}

    @pytest.mark.parametrize("make,op", [(lambda: nn.GRU(4, 6, 3), "gru_layer"),
                                         (lambda: nn.RNN(4, 6, nonlinearity="relu"), "rnn_layer")])
    def test_layer_ops(self, make, op):
        x = np.random.default_rng(0).standard_normal((9, 2, 4)).astype(np.float32)
        counts = _traced(make().eval(), x)
        assert counts[op] == counts["linear"] == make().num_layers

    @pytest.mark.parametrize("make,op", [(lambda: nn.LSTMCell(4, 6), "lstm_cell"),
                                         (lambda: nn.GRUCell(4, 6), "gru_cell"),
                                         (lambda: nn.RNNCell(4, 6), "rnn_cell")])
    def test_cells_are_one_op(self, make, op):
        counts = _traced(make(), np.ones((3, 4), np.float32))
        assert counts[op] == 1 and "linear" not in counts

    def test_unbatched_and_train_mode_dropout_trace(self):
        m = nn.GRU(4, 6, 2, dropout=0.5, bidirectional=True).train()
        graph = trace(m, np.ones((5, 4), np.float32), fullgraph=True)
        graph.lint()
        assert graph.op_counts()["dropout"] == 1

    def test_fusion_classes(self):
        for name in ("rnn_layer", "lstm_layer", "gru_layer", "rnn_cell", "lstm_cell", "gru_cell"):
            assert REGISTRY[name].fusion is registry.Fusion.OPAQUE

    def test_layer_ops_do_not_alias_inputs(self):
        xw = np.ones((1, 2, 8), np.float32)
        h0 = np.zeros((2, 2), np.float32)
        c0 = np.zeros((2, 2), np.float32)
        out, h, c = REGISTRY["lstm_layer"].impl(xw, np.zeros((8, 2), np.float32), None, None, h0, c0, reverse=False)
        for r in (out, h, c):
            assert not any(np.shares_memory(r, a) for a in (xw, h0, c0))

    def test_float16_computes_in_float32(self):
        rng = np.random.default_rng(0)
        xw = rng.standard_normal((6, 2, 12)).astype(np.float16)
        w = (0.3 * rng.standard_normal((12, 4))).astype(np.float16)
        out16, h16 = REGISTRY["gru_layer"].impl(xw, w, None, None, reverse=True)
        out32, _ = REGISTRY["gru_layer"].impl(xw.astype(np.float32), w.astype(np.float32), None, None, reverse=True)
        assert out16.dtype == h16.dtype == np.float16
        np.testing.assert_allclose(out16, out32, atol=2e-3)


class TestConstructor:
    def test_errors_like_torch(self):
        with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
            nn.GRU(4, 6, proj_size=2)
        with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
            nn.LSTM(4, 6, proj_size=6)
        with pytest.raises(ValueError, match="dropout should be a number in range"):
            nn.LSTM(4, 6, dropout=1.5)
        with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'"):
            nn.RNN(4, 6, nonlinearity="gelu")
        with pytest.raises(TypeError, match="hidden_size should be of type int"):
            nn.GRU(4, 6.0)
        with pytest.raises(ValueError, match="num_layers must be greater than zero"):
            nn.RNN(4, 6, 0)

    def test_dropout_warning_with_one_layer(self):
        with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
            nn.LSTM(4, 6, dropout=0.2)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            nn.LSTM(4, 6, 2, dropout=0.2)

    def test_init_range_and_dtype(self):
        nngraph.manual_seed(0)
        m = nn.LSTM(4, 16, 2, proj_size=3, dtype=np.float64, device="cpu")
        bound = 1 / math.sqrt(16)
        for name, p in m.named_parameters():
            assert p.dtype == np.float64, name
            assert np.abs(p).max() <= bound and np.abs(p).max() > 0.8 * bound, name
        cell = nn.GRUCell(3, 25)
        assert all(p.dtype == np.float32 and np.abs(p).max() <= 0.2 for p in cell.parameters())

    def test_all_weights_and_flat_weights_follow_loaded_state(self):
        m = nn.GRU(3, 4, 2, bidirectional=True, bias=False)
        assert [len(w) for w in m.all_weights] == [2, 2, 2, 2]
        sd = {k: np.full(v.shape, 0.5, v.dtype) for k, v in m.state_dict().items()}
        m.load_state_dict(sd)
        assert all(np.all(w == 0.5) for w in m._flat_weights)
        m.flatten_parameters()

    def test_to_dtype(self):
        m = nn.LSTM(3, 4).to(np.float64)
        out, (h, c) = m(np.zeros((2, 1, 3)))
        assert out.dtype == h.dtype == c.dtype == np.float64
