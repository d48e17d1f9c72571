"""Recurrent layers and cells, with the signatures of ``torch.lstm`` / ``torch.gru`` / ``torch.rnn_tanh`` and
``torch.lstm_cell`` / ``torch.gru_cell`` / ``torch.rnn_tanh_cell`` (torch keeps these outside ``torch.nn.functional``).

Extensions over torch's functions: ``hx=None`` means zero initial states, and unbatched input (``(L, H_in)``
sequences, ``(H_in,)`` cell inputs) is accepted, as the modules accept it.

Each layer and direction costs one ``linear`` (the input projection of every time step at once) and one recurrence
primitive (``rnn_layer`` / ``lstm_layer`` / ``gru_layer``) that the compiler lowers to a single loop kernel.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...errors import InputError, check_float, shape_str
from ...ops import rnn as _ops
from ...ops import shape as _shape
from .dropout import dropout as _dropout
from .linear import linear as _linear

__all__ = ["rnn_tanh", "rnn_relu", "lstm", "gru", "rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell"]

_GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def _check_dtype(who: str, x: Any, dtype: np.dtype, what: str) -> None:
    check_float(who, x, what)
    if x.dtype != dtype:
        raise InputError(who, f"{what} of dtype {dtype} (the weights' dtype)", f"dtype {x.dtype}")


def _check_state(who: str, name: str, h: Any, expected: tuple[int, ...], dtype: np.dtype) -> None:
    if tuple(h.shape) != expected:
        raise InputError(who, f"{name} of shape {shape_str(expected)}", shape_str(h.shape))
    _check_dtype(who, h, dtype, name)


def _split_params(who: str, mode: str, params: Sequence[Any], has_biases: bool, groups: int
                  ) -> list[tuple[Any, Any, Any, Any, Any]]:
    """``params`` flat in torch's ``_flat_weights`` order -> ``(w_ih, w_hh, b_ih, b_hh, w_hr)`` per layer/direction."""
    params = list(params)
    base = 4 if has_biases else 2
    per = len(params) // groups if groups else 0
    if groups <= 0 or len(params) != per * groups or per not in ((base, base + 1) if mode == "lstm" else (base,)):
        raise ValueError(f"{who}: got {len(params)} weight arrays for {groups} layer-directions with "
                         f"has_biases={has_biases}")
    out = []
    for k in range(groups):
        g = params[k * per:(k + 1) * per]
        b_ih, b_hh = (g[2], g[3]) if has_biases else (None, None)
        out.append((g[0], g[1], b_ih, b_hh, g[base] if per > base else None))
    return out


def _stack(states: list[Any]) -> Any:
    """Per layer-direction final states ``(N, H)`` -> ``(layers * directions, N, H)``."""
    return states[0][None] if len(states) == 1 else _shape.stack(*states, axis=0)


def _initial_states(who: str, mode: str, hx: Any, lead: tuple[int, ...], out_size: int, hidden: int,
                    dtype: np.dtype) -> tuple[Any, Any]:
    """Validate ``hx`` (``h_0``, or ``(h_0, c_0)`` for LSTM) against ``lead + (size,)``; returns batched
    ``(h_0, c_0)`` of shape ``(layers * directions, N, size)``, None where the state starts at zero."""
    if hx is None:
        return None, None
    if mode == "lstm":
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise InputError(who, "hx as a tuple (h_0, c_0)", type(hx).__name__)
        h0, c0 = hx
    else:
        h0, c0 = hx, None
    for name, h, size in (("h_0", h0, out_size), ("c_0", c0, hidden)):
        if h is not None:
            _check_state(who, name, h, lead + (size,), dtype)
    if len(lead) == 1:  # unbatched
        h0 = None if h0 is None else h0[:, None]
        c0 = None if c0 is None else c0[:, None]
    return h0, c0


def _recurrent(mode: str, input: Any, hx: Any, params: Sequence[Any], has_biases: bool, num_layers: int,
               dropout: float, train: bool, bidirectional: bool, batch_first: bool) -> tuple[Any, ...]:
    """Shared body of the four layer functions; returns ``(output, h_n)`` or, for ``lstm``, ``(output, h_n, c_n)``."""
    who = mode
    dirs = 2 if bidirectional else 1
    weights = _split_params(who, mode, params, has_biases, num_layers * dirs)
    w_ih0, w_hh0, _, _, w_hr0 = weights[0]
    input_size, hidden = w_ih0.shape[1], w_hh0.shape[0] // _GATES[mode]
    out_size = hidden if w_hr0 is None else w_hr0.shape[0]
    dtype = w_ih0.dtype

    check_float(who, input)
    seq = "N, L" if batch_first else "L, N"
    pattern = f"({seq}, {input_size}) or (L, {input_size})"
    if input.ndim not in (2, 3) or input.shape[-1] != input_size:
        raise InputError(who, f"input of shape {pattern}", shape_str(input.shape))
    _check_dtype(who, input, dtype, "input")
    batched = input.ndim == 3
    if not batched:
        x = input[:, None]
    else:
        x = input.transpose(1, 0, 2) if batch_first else input
    steps, batch = x.shape[0], x.shape[1]
    if steps == 0:
        raise InputError(who, f"input of shape {pattern} with L > 0", shape_str(input.shape))

    h0, c0 = _initial_states(who, mode, hx, (num_layers * dirs, batch) if batched else (num_layers * dirs,),
                             out_size, hidden, dtype)

    layer_in = x
    h_n: list[Any] = []
    c_n: list[Any] = []
    for layer in range(num_layers):
        outs = []
        # every time step's input projection in one matrix product per direction, both directions' before either
        # recurrence: a compiled graph then has the two (independent) recurrences next to each other
        xws = [_linear(layer_in, weights[layer * dirs + d][0], weights[layer * dirs + d][2]) for d in range(dirs)]
        for d, xw in enumerate(xws):
            k = layer * dirs + d
            _, w_hh, _, b_hh, w_hr = weights[k]
            h0_k = None if h0 is None else h0[k]
            if mode == "lstm":
                c0_k = None if c0 is None else c0[k]
                out, h, c = _ops.lstm_layer(xw, w_hh, b_hh, w_hr, h0_k, c0_k, reverse=d == 1)
                c_n.append(c)
            elif mode == "gru":
                out, h = _ops.gru_layer(xw, w_hh, b_hh, h0_k, reverse=d == 1)
            else:
                out, h = _ops.rnn_layer(xw, w_hh, b_hh, h0_k, nonlinearity=mode.removeprefix("rnn_"), reverse=d == 1)
            outs.append(out)
            h_n.append(h)
        layer_in = outs[0] if dirs == 1 else _shape.concat(*outs, axis=2)
        if train and dropout > 0 and layer < num_layers - 1:
            layer_in = _dropout(layer_in, dropout, True)

    output = layer_in
    states = [_stack(h_n)] if mode != "lstm" else [_stack(h_n), _stack(c_n)]
    if not batched:
        return (output[:, 0], *(s[:, 0] for s in states))
    if batch_first:
        output = output.transpose(1, 0, 2)
    return (output, *states)


def rnn_tanh(input: Any, hx: Any, params: Sequence[Any], has_biases: bool, num_layers: int, dropout: float,
             train: bool, bidirectional: bool, batch_first: bool) -> tuple[Any, Any]:
    """Elman RNN with tanh (``torch.rnn_tanh``): returns ``(output, h_n)``."""
    return _recurrent("rnn_tanh", input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
                      batch_first)


def rnn_relu(input: Any, hx: Any, params: Sequence[Any], has_biases: bool, num_layers: int, dropout: float,
             train: bool, bidirectional: bool, batch_first: bool) -> tuple[Any, Any]:
    """Elman RNN with ReLU (``torch.rnn_relu``): returns ``(output, h_n)``."""
    return _recurrent("rnn_relu", input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
                      batch_first)


def lstm(input: Any, hx: Any, params: Sequence[Any], has_biases: bool, num_layers: int, dropout: float,
         train: bool, bidirectional: bool, batch_first: bool) -> tuple[Any, Any, Any]:
    """LSTM (``torch.lstm``), with a projection when each layer-direction has a 5th/3rd weight ``w_hr``.

    ``hx`` is ``(h_0, c_0)`` or None; returns ``(output, h_n, c_n)``.
    """
    return _recurrent("lstm", input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
                      batch_first)


def gru(input: Any, hx: Any, params: Sequence[Any], has_biases: bool, num_layers: int, dropout: float,
        train: bool, bidirectional: bool, batch_first: bool) -> tuple[Any, Any]:
    """GRU (``torch.gru``): returns ``(output, h_n)``."""
    return _recurrent("gru", input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)


def _cell_args(who: str, input: Any, states: Sequence[Any], w_ih: Any, w_hh: Any) -> tuple[bool, Any, list[Any]]:
    """Validate a cell call; returns ``(batched, input (N, I), states (N, H) or None)``."""
    input_size, hidden, dtype = w_ih.shape[1], w_hh.shape[1], w_ih.dtype
    check_float(who, input)
    if input.ndim not in (1, 2) or input.shape[-1] != input_size:
        raise InputError(who, f"input of shape (N, {input_size}) or ({input_size},)", shape_str(input.shape))
    _check_dtype(who, input, dtype, "input")
    batched = input.ndim == 2
    lead = (input.shape[0],) if batched else ()
    out = []
    for i, h in enumerate(states):
        name = "hx" if len(states) == 1 else f"hx[{i}]"
        if h is not None:
            _check_state(who, name, h, lead + (hidden,), dtype)
            h = h if batched else h[None]
        out.append(h)
    return batched, (input if batched else input[None]), out


def _rnn_cell(nonlinearity: str, input: Any, hx: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any) -> Any:
    batched, x, (h,) = _cell_args(f"rnn_{nonlinearity}_cell", input, [hx], w_ih, w_hh)
    out = _ops.rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity=nonlinearity)
    return out if batched else out[0]


def rnn_tanh_cell(input: Any, hx: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None) -> Any:
    """One tanh RNN step (``torch.rnn_tanh_cell``); ``hx=None`` means zeros."""
    return _rnn_cell("tanh", input, hx, w_ih, w_hh, b_ih, b_hh)


def rnn_relu_cell(input: Any, hx: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None) -> Any:
    """One ReLU RNN step (``torch.rnn_relu_cell``); ``hx=None`` means zeros."""
    return _rnn_cell("relu", input, hx, w_ih, w_hh, b_ih, b_hh)


def lstm_cell(input: Any, hx: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None) -> tuple[Any, Any]:
    """One LSTM step (``torch.lstm_cell``): ``hx`` is ``(h, c)`` or None; returns ``(h', c')``."""
    who = "lstm_cell"
    if hx is None:
        hx = (None, None)
    elif not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise InputError(who, "hx as a tuple (h, c)", type(hx).__name__)
    batched, x, (h, c) = _cell_args(who, input, list(hx), w_ih, w_hh)
    h, c = _ops.lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh)
    return (h, c) if batched else (h[0], c[0])


def gru_cell(input: Any, hx: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None) -> Any:
    """One GRU step (``torch.gru_cell``); ``hx=None`` means zeros."""
    batched, x, (h,) = _cell_args("gru_cell", input, [hx], w_ih, w_hh)
    out = _ops.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh)
    return out if batched else out[0]
