"""Op table: RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell and their functional forms (torch.lstm, torch.gru_cell, ...).

Shapes follow torch's docs: L sequence length, N batch, D directions. LSTM states travel as two separate inputs
(the runner casts top-level arrays only) and are packed into ``(h, c)`` by ``call``.
"""
from __future__ import annotations

import importlib

import numpy as np

from tests.nn.opinfo import ErrorSample, FuncSample, ModuleSample, randn


def seq(*x_shape: int, states: tuple = (), scale: float = 1.0):
    """``inputs=``: an input of ``x_shape`` (times ``scale``) followed by one standard-normal array per state shape."""
    return lambda rng: (scale * rng.standard_normal(x_shape), *(rng.standard_normal(s) for s in states))


def lstm_call(m, x, h=None, c=None):
    return m(x) if h is None else m(x, (h, c))


def f32(*shapes: tuple):
    """Error-sample inputs in the modules' default dtype, so that the intended check is the one that fires."""
    return lambda rng: tuple(rng.standard_normal(s).astype(np.float32) for s in shapes)


MODULE_SAMPLES = [
    # RNN: tanh and relu, layers, directions, batch_first, bias, initial state, unbatched, empty batch.
    ModuleSample("RNN-tanh", lambda nn: nn.RNN(4, 6), seq(5, 3, 4)),
    ModuleSample("RNN-tanh-h0-2layer", lambda nn: nn.RNN(4, 6, 2), seq(5, 3, 4, states=[(2, 3, 6)])),
    ModuleSample("RNN-relu", lambda nn: nn.RNN(4, 6, nonlinearity="relu"), seq(5, 3, 4)),
    ModuleSample("RNN-relu-positional", lambda nn: nn.RNN(4, 6, 2, "relu"), seq(4, 2, 4)),
    ModuleSample("RNN-relu-bidir-batch_first-h0",
                 lambda nn: nn.RNN(4, 6, 2, nonlinearity="relu", batch_first=True, bidirectional=True),
                 seq(3, 5, 4, states=[(4, 3, 6)])),
    ModuleSample("RNN-nobias", lambda nn: nn.RNN(4, 6, bias=False), seq(5, 2, 4)),
    ModuleSample("RNN-unbatched-bidir-h0", lambda nn: nn.RNN(4, 6, 2, bidirectional=True),
                 seq(5, 4, states=[(4, 6)])),
    ModuleSample("RNN-unbatched-batch_first", lambda nn: nn.RNN(4, 6, batch_first=True), seq(5, 4)),
    ModuleSample("RNN-batch0", lambda nn: nn.RNN(4, 6, 2, bidirectional=True), seq(5, 0, 4)),
    ModuleSample("RNN-seq1-batch1", lambda nn: nn.RNN(4, 6), seq(1, 1, 4)),
    ModuleSample("RNN-size1", lambda nn: nn.RNN(1, 1, 2), seq(3, 2, 1)),
    ModuleSample("RNN-dropout", lambda nn: nn.RNN(4, 6, 3, dropout=0.5), seq(5, 3, 4), random_in_train=True),

    # LSTM: proj_size everywhere it combines (layers, directions, states, bias, batch_first, unbatched).
    ModuleSample("LSTM", lambda nn: nn.LSTM(4, 6), seq(5, 3, 4)),
    ModuleSample("LSTM-2layer-bidir-states", lambda nn: nn.LSTM(4, 6, 2, bidirectional=True),
                 seq(5, 3, 4, states=[(4, 3, 6), (4, 3, 6)]), call=lstm_call),
    ModuleSample("LSTM-batch_first-states", lambda nn: nn.LSTM(4, 6, batch_first=True),
                 seq(3, 5, 4, states=[(1, 3, 6), (1, 3, 6)]), call=lstm_call),
    ModuleSample("LSTM-proj", lambda nn: nn.LSTM(4, 6, proj_size=3), seq(5, 3, 4)),
    ModuleSample("LSTM-proj-2layer-bidir-batch_first-states",
                 lambda nn: nn.LSTM(4, 6, 2, batch_first=True, bidirectional=True, proj_size=3),
                 seq(3, 5, 4, states=[(4, 3, 3), (4, 3, 6)]), call=lstm_call),
    ModuleSample("LSTM-proj-nobias-bidir", lambda nn: nn.LSTM(4, 6, 2, bias=False, bidirectional=True, proj_size=2),
                 seq(4, 2, 4)),
    ModuleSample("LSTM-nobias-3layer", lambda nn: nn.LSTM(4, 6, 3, bias=False), seq(4, 2, 4)),
    ModuleSample("LSTM-unbatched-bidir-states", lambda nn: nn.LSTM(4, 6, 2, bidirectional=True),
                 seq(5, 4, states=[(4, 6), (4, 6)]), call=lstm_call),
    ModuleSample("LSTM-unbatched-proj-batch_first", lambda nn: nn.LSTM(4, 6, batch_first=True, proj_size=4),
                 seq(5, 4)),
    ModuleSample("LSTM-batch0-proj", lambda nn: nn.LSTM(4, 6, 2, proj_size=2), seq(5, 0, 4)),
    ModuleSample("LSTM-seq1", lambda nn: nn.LSTM(4, 6, bidirectional=True), seq(1, 2, 4)),
    # Saturated gates: the sigmoid/tanh must neither overflow nor lose the tails.
    ModuleSample("LSTM-large-inputs", lambda nn: nn.LSTM(4, 6, 2), seq(6, 2, 4, scale=30.0)),
    ModuleSample("LSTM-dropout-bidir", lambda nn: nn.LSTM(4, 6, 3, dropout=0.5, bidirectional=True),
                 seq(5, 3, 4), random_in_train=True),
    ModuleSample("LSTM-dropout1", lambda nn: nn.LSTM(4, 6, 2, dropout=1.0), seq(4, 2, 4), random_in_train=True),

    # GRU
    ModuleSample("GRU", lambda nn: nn.GRU(4, 6), seq(5, 3, 4)),
    ModuleSample("GRU-2layer-bidir-h0", lambda nn: nn.GRU(4, 6, 2, bidirectional=True),
                 seq(5, 3, 4, states=[(4, 3, 6)])),
    ModuleSample("GRU-batch_first-nobias-h0", lambda nn: nn.GRU(4, 6, 2, bias=False, batch_first=True),
                 seq(3, 5, 4, states=[(2, 3, 6)])),
    ModuleSample("GRU-3layer", lambda nn: nn.GRU(4, 5, 3), seq(4, 2, 4)),
    ModuleSample("GRU-unbatched-h0", lambda nn: nn.GRU(4, 6, bidirectional=True), seq(5, 4, states=[(2, 6)])),
    ModuleSample("GRU-unbatched-batch_first", lambda nn: nn.GRU(4, 6, 2, batch_first=True), seq(5, 4)),
    ModuleSample("GRU-batch0", lambda nn: nn.GRU(4, 6), seq(5, 0, 4)),
    ModuleSample("GRU-large-inputs", lambda nn: nn.GRU(4, 6, bidirectional=True), seq(6, 2, 4, scale=30.0)),
    ModuleSample("GRU-dropout-bidir", lambda nn: nn.GRU(4, 6, 2, dropout=0.3, bidirectional=True, batch_first=True),
                 seq(3, 5, 4), random_in_train=True),

    # Cells: with and without a state, unbatched, no bias, empty batch.
    ModuleSample("RNNCell", lambda nn: nn.RNNCell(4, 6), seq(3, 4)),
    ModuleSample("RNNCell-hx", lambda nn: nn.RNNCell(4, 6), seq(3, 4, states=[(3, 6)])),
    ModuleSample("RNNCell-relu-nobias-hx", lambda nn: nn.RNNCell(4, 6, bias=False, nonlinearity="relu"),
                 seq(3, 4, states=[(3, 6)])),
    ModuleSample("RNNCell-unbatched", lambda nn: nn.RNNCell(4, 6, nonlinearity="relu"), seq(4)),
    ModuleSample("RNNCell-unbatched-hx", lambda nn: nn.RNNCell(4, 6), seq(4, states=[(6,)])),
    ModuleSample("RNNCell-batch0", lambda nn: nn.RNNCell(4, 6), seq(0, 4)),
    ModuleSample("LSTMCell", lambda nn: nn.LSTMCell(4, 6), seq(3, 4)),
    ModuleSample("LSTMCell-hx", lambda nn: nn.LSTMCell(4, 6), seq(3, 4, states=[(3, 6), (3, 6)]), call=lstm_call),
    ModuleSample("LSTMCell-nobias-hx", lambda nn: nn.LSTMCell(4, 6, bias=False),
                 seq(3, 4, states=[(3, 6), (3, 6)]), call=lstm_call),
    ModuleSample("LSTMCell-unbatched", lambda nn: nn.LSTMCell(4, 6), seq(4)),
    ModuleSample("LSTMCell-unbatched-hx", lambda nn: nn.LSTMCell(4, 6), seq(4, states=[(6,), (6,)]),
                 call=lstm_call),
    ModuleSample("LSTMCell-batch0", lambda nn: nn.LSTMCell(4, 6), seq(0, 4)),
    ModuleSample("LSTMCell-large-inputs", lambda nn: nn.LSTMCell(4, 6), seq(3, 4, scale=30.0)),
    ModuleSample("GRUCell", lambda nn: nn.GRUCell(4, 6), seq(3, 4)),
    ModuleSample("GRUCell-hx", lambda nn: nn.GRUCell(4, 6), seq(3, 4, states=[(3, 6)])),
    ModuleSample("GRUCell-nobias-hx", lambda nn: nn.GRUCell(4, 6, bias=False), seq(3, 4, states=[(3, 6)])),
    ModuleSample("GRUCell-unbatched-hx", lambda nn: nn.GRUCell(4, 6), seq(4, states=[(6,)])),
    ModuleSample("GRUCell-batch0", lambda nn: nn.GRUCell(4, 6), seq(0, 4)),

    # A cell and a layer inside a container.
    ModuleSample("GRU-in-ModuleList", lambda nn: nn.ModuleList([nn.GRU(4, 6), nn.GRUCell(6, 3)]), seq(5, 2, 4),
                 call=lambda m, x: m[1](m[0](x)[0][-1])),
]


def _fn(F, name: str):
    """``F.<name>`` for nngraph; torch keeps its recurrent functions in ``torch`` itself."""
    if F.__name__.startswith("nngraph"):
        return getattr(F, name)
    return getattr(importlib.import_module("torch"), name)


def _weights(layers: list[tuple[int, int]], gates: int, hidden: int, bias: bool = True, proj: int = 0):
    """Shapes of a flat weight list for ``(layer_input, directions)`` per layer, in torch's order."""
    out = []
    for layer_input, dirs in layers:
        for _ in range(dirs):
            out += [(gates * hidden, layer_input), (gates * hidden, proj or hidden)]
            if bias:
                out += [(gates * hidden,), (gates * hidden,)]
            if proj:
                out.append((proj, hidden))
    return out


_LSTM_W = _weights([(4, 2), (6, 2)], 4, 5, proj=3)
_GRU_W = _weights([(4, 1), (5, 1)], 3, 5, bias=False)
_RNN_W = _weights([(4, 2)], 1, 5)

FUNC_SAMPLES = [
    FuncSample("lstm-proj-bidir-states",
               lambda F, x, h, c, *w: _fn(F, "lstm")(x, (h, c), list(w), True, 2, 0.0, False, True, False),
               seq(5, 3, 4, states=[(4, 3, 3), (4, 3, 5), *_LSTM_W])),
    FuncSample("gru-nobias-batch_first",
               lambda F, x, h, *w: _fn(F, "gru")(x, h, list(w), False, 2, 0.0, False, False, True),
               seq(3, 5, 4, states=[(2, 3, 5), *_GRU_W])),
    FuncSample("rnn_tanh-bidir",
               lambda F, x, h, *w: _fn(F, "rnn_tanh")(x, h, list(w), True, 1, 0.0, False, True, False),
               seq(5, 3, 4, states=[(2, 3, 5), *_RNN_W])),
    FuncSample("rnn_relu-bidir",
               lambda F, x, h, *w: _fn(F, "rnn_relu")(x, h, list(w), True, 1, 0.0, False, True, False),
               seq(5, 3, 4, states=[(2, 3, 5), *_RNN_W])),
    FuncSample("lstm_cell", lambda F, x, h, c, *w: _fn(F, "lstm_cell")(x, (h, c), *w),
               seq(3, 4, states=[(3, 5), (3, 5), (20, 4), (20, 5), (20,), (20,)])),
    FuncSample("lstm_cell-nobias", lambda F, x, h, c, *w: _fn(F, "lstm_cell")(x, (h, c), *w),
               seq(3, 4, states=[(3, 5), (3, 5), (20, 4), (20, 5)])),
    FuncSample("gru_cell", lambda F, x, h, *w: _fn(F, "gru_cell")(x, h, *w),
               seq(3, 4, states=[(3, 5), (15, 4), (15, 5), (15,), (15,)])),
    FuncSample("rnn_tanh_cell", lambda F, x, h, *w: _fn(F, "rnn_tanh_cell")(x, h, *w),
               seq(3, 4, states=[(3, 5), (5, 4), (5, 5), (5,), (5,)])),
    FuncSample("rnn_relu_cell-nobias", lambda F, x, h, *w: _fn(F, "rnn_relu_cell")(x, h, *w),
               seq(3, 4, states=[(3, 5), (5, 4), (5, 5)])),
]


def _gru_cell_fn(nn):
    w_ih, w_hh = np.zeros((18, 4), np.float32), np.zeros((18, 6), np.float32)
    return lambda x, h: nn.functional.gru_cell(x, h, w_ih, w_hh)


ERROR_SAMPLES = [
    # Layers: rank, input_size, dtype, sequence length, state shapes and ranks.
    ErrorSample("LSTM-input_size", lambda nn: nn.LSTM(4, 6), f32((5, 3, 5)),
                r"^LSTM\(4, 6\) expected input of shape \(L, N, 4\) or \(L, 4\), got \(5, 3, 5\)$"),
    ErrorSample("GRU-batch_first-rank4", lambda nn: nn.GRU(4, 6, batch_first=True), f32((2, 5, 3, 4)),
                r"^GRU\(4, 6, batch_first=True\) expected input of shape \(N, L, 4\) or \(L, 4\), got "
                r"\(2, 5, 3, 4\)$"),
    ErrorSample("RNN-rank1", lambda nn: nn.RNN(4, 6), f32((4,)),
                r"expected input of shape \(L, N, 4\) or \(L, 4\), got \(4,\)"),
    ErrorSample("RNN-int-input", lambda nn: nn.RNN(4, 6), lambda rng: (np.ones((5, 3, 4), np.int64),),
                r"^RNN\(4, 6\) expected a floating-point input, got dtype int64$"),
    ErrorSample("LSTM-dtype-mismatch", lambda nn: nn.LSTM(4, 6), randn(5, 3, 4),
                r"expected input of dtype float32 \(the weights' dtype\), got dtype float64"),
    ErrorSample("GRU-seq0", lambda nn: nn.GRU(4, 6), f32((0, 3, 4)),
                r"^GRU\(4, 6\) expected input of shape \(L, N, 4\) or \(L, 4\) with L > 0, got \(0, 3, 4\)$"),
    ErrorSample("GRU-h0-layers", lambda nn: nn.GRU(4, 6, 2), f32((5, 3, 4), (1, 3, 6)),
                r"^GRU\(4, 6, num_layers=2\) expected h_0 of shape \(2, 3, 6\), got \(1, 3, 6\)$"),
    ErrorSample("RNN-h0-batch", lambda nn: nn.RNN(4, 6, bidirectional=True), f32((5, 3, 4), (2, 2, 6)),
                r"expected h_0 of shape \(2, 3, 6\), got \(2, 2, 6\)"),
    ErrorSample("RNN-h0-batch_first", lambda nn: nn.RNN(4, 6, batch_first=True), f32((3, 5, 4), (1, 5, 6)),
                r"expected h_0 of shape \(1, 3, 6\), got \(1, 5, 6\)"),
    ErrorSample("RNN-unbatched-h0-3d", lambda nn: nn.RNN(4, 6), f32((5, 4), (1, 1, 6)),
                r"expected h_0 of shape \(1, 6\), got \(1, 1, 6\)"),
    ErrorSample("GRU-batched-h0-2d", lambda nn: nn.GRU(4, 6), f32((5, 3, 4), (1, 6)),
                r"expected h_0 of shape \(1, 3, 6\), got \(1, 6\)"),
    ErrorSample("GRU-h0-dtype", lambda nn: nn.GRU(4, 6), lambda rng: (np.zeros((5, 3, 4), np.float32),
                                                                      np.zeros((1, 3, 6))),
                r"expected h_0 of dtype float32 \(the weights' dtype\), got dtype float64"),
    ErrorSample("LSTM-proj-h0", lambda nn: nn.LSTM(4, 6, proj_size=3),
                lambda rng: (np.zeros((5, 3, 4), np.float32), (np.zeros((1, 3, 6), np.float32),
                                                               np.zeros((1, 3, 6), np.float32))),
                r"^LSTM\(4, 6, proj_size=3\) expected h_0 of shape \(1, 3, 3\), got \(1, 3, 6\)$"),
    ErrorSample("LSTM-c0", lambda nn: nn.LSTM(4, 6, 2, bidirectional=True),
                lambda rng: (np.zeros((5, 3, 4), np.float32), (np.zeros((4, 3, 6), np.float32),
                                                               np.zeros((2, 3, 6), np.float32))),
                r"expected c_0 of shape \(4, 3, 6\), got \(2, 3, 6\)"),
    ErrorSample("LSTM-hx-not-tuple", lambda nn: nn.LSTM(4, 6), f32((5, 3, 4), (1, 3, 6)),
                r"expected hx as a tuple \(h_0, c_0\), got ndarray"),
    # Cells
    ErrorSample("RNNCell-input_size", lambda nn: nn.RNNCell(4, 6), f32((3, 5)),
                r"^RNNCell\(4, 6\) expected input of shape \(N, 4\) or \(4,\), got \(3, 5\)$"),
    ErrorSample("GRUCell-rank3", lambda nn: nn.GRUCell(4, 6), f32((2, 3, 4)),
                r"expected input of shape \(N, 4\) or \(4,\), got \(2, 3, 4\)"),
    ErrorSample("GRUCell-hx-batch", lambda nn: nn.GRUCell(4, 6), f32((3, 4), (2, 6)),
                r"^GRUCell\(4, 6\) expected hx of shape \(3, 6\), got \(2, 6\)$"),
    ErrorSample("RNNCell-unbatched-hx-2d", lambda nn: nn.RNNCell(4, 6, nonlinearity="relu"), f32((4,), (1, 6)),
                r"^RNNCell\(4, 6, nonlinearity=relu\) expected hx of shape \(6,\), got \(1, 6\)$"),
    ErrorSample("LSTMCell-c", lambda nn: nn.LSTMCell(4, 6),
                lambda rng: (np.zeros((3, 4), np.float32), (np.zeros((3, 6), np.float32),
                                                            np.zeros((3, 5), np.float32))),
                r"^LSTMCell\(4, 6\) expected hx\[1\] of shape \(3, 6\), got \(3, 5\)$"),
    ErrorSample("LSTMCell-int-input", lambda nn: nn.LSTMCell(4, 6), lambda rng: (np.ones((3, 4), np.int32),),
                r"expected a floating-point input, got dtype int32"),
    ErrorSample("F.gru_cell-hx", _gru_cell_fn, f32((3, 4), (3, 5)),
                r"^gru_cell expected hx of shape \(3, 6\), got \(3, 5\)$"),
]
