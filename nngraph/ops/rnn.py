"""Recurrent primitives: one op per layer recurrence (the whole loop over time) and one per cell step.

Layer ops take the input already projected for every time step (``xw = x @ W_ih.T + b_ih``, one matrix product done
by the caller), time-major: ``xw`` is ``(T, N, G)`` with ``G`` = gates * hidden. A missing initial state (``None``)
means zeros. ``reverse=True`` runs the recurrence from the last time step to the first; outputs stay in input order.

Gate layouts follow torch: LSTM ``i, f, g, o``; GRU ``r, z, n`` with ``n = tanh(xw_n + r * (W_hn h + b_hn))``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .registry import Fusion, TensorSpec, defop

__all__ = ["rnn_layer", "lstm_layer", "gru_layer", "rnn_cell", "lstm_cell", "gru_cell"]


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    """float16 (and smaller) compute in float32; float32/float64 compute as themselves."""
    return np.result_type(dtype, np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Overflow-free logistic function: exp only ever sees non-positive arguments."""
    e = np.exp(-np.abs(x))
    r = 1.0 / (1.0 + e)
    return np.where(x >= 0, r, e * r).astype(x.dtype, copy=False)


def _activation(nonlinearity: str) -> Callable[[np.ndarray], np.ndarray]:
    if nonlinearity == "tanh":
        return np.tanh
    if nonlinearity == "relu":
        return lambda v: np.maximum(v, 0)
    raise ValueError(f"unknown nonlinearity {nonlinearity!r}; expected 'tanh' or 'relu'")


def _state(h: np.ndarray | None, n: int, size: int, dtype: np.dtype) -> np.ndarray:
    return np.zeros((n, size), dtype) if h is None else np.asarray(h, dtype)


def _bias(b: np.ndarray | None, dtype: np.dtype) -> np.ndarray | float:
    return 0.0 if b is None else np.asarray(b, dtype)


def _time_steps(t: int, reverse: bool) -> range:
    return range(t - 1, -1, -1) if reverse else range(t)


# Single steps, shared by the layer and cell ops: ``gx = x W_ih^T + b_ih`` and ``gh = h W_hh^T + b_hh``.
def _lstm_step(gx: np.ndarray, gh: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    i, f, g, o = np.split(gx + gh, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c


def _gru_step(gx: np.ndarray, gh: np.ndarray, h: np.ndarray) -> np.ndarray:
    xr, xz, xn = np.split(gx, 3, axis=-1)
    hr, hz, hn = np.split(gh, 3, axis=-1)
    r = _sigmoid(xr + hr)
    z = _sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    return n + z * (h - n)  # == (1 - z) * n + z * h


# ---------------------------------------------------------------------------------------------------------- layers
def _rnn_layer_shape(xw: TensorSpec, w_hh: TensorSpec, b_hh: TensorSpec | None, h0: TensorSpec | None, *,
                     nonlinearity: str, reverse: bool) -> tuple[TensorSpec, TensorSpec]:
    t, n, _ = xw.shape
    h = w_hh.shape[1]
    return TensorSpec((t, n, h), xw.dtype), TensorSpec((n, h), xw.dtype)


@defop("rnn_layer", fusion=Fusion.OPAQUE, shape=_rnn_layer_shape, n_outputs=2)
def rnn_layer(xw: np.ndarray, w_hh: np.ndarray, b_hh: np.ndarray | None, h0: np.ndarray | None, *,
              nonlinearity: str, reverse: bool) -> tuple[np.ndarray, np.ndarray]:
    """Elman recurrence ``h_t = act(xw_t + h_{t-1} W_hh^T + b_hh)``; returns ``(out (T, N, H), h_T (N, H))``."""
    ct = _compute_dtype(xw.dtype)
    act = _activation(nonlinearity)
    t, n, _ = xw.shape
    hidden = w_hh.shape[1]
    xw_c = np.asarray(xw, ct)
    w_t, b = np.asarray(w_hh, ct).T, _bias(b_hh, ct)
    h = _state(h0, n, hidden, ct)
    out = np.empty((t, n, hidden), ct)
    for s in _time_steps(t, reverse):
        h = act(xw_c[s] + (h @ w_t + b))
        out[s] = h
    return out.astype(xw.dtype, copy=False), h.astype(xw.dtype, copy=True)


def _lstm_layer_shape(xw: TensorSpec, w_hh: TensorSpec, b_hh: TensorSpec | None, w_hr: TensorSpec | None,
                      h0: TensorSpec | None, c0: TensorSpec | None, *, reverse: bool
                      ) -> tuple[TensorSpec, TensorSpec, TensorSpec]:
    t, n, g = xw.shape
    hidden = g // 4
    out = w_hr.shape[0] if w_hr is not None else hidden
    return (TensorSpec((t, n, out), xw.dtype), TensorSpec((n, out), xw.dtype), TensorSpec((n, hidden), xw.dtype))


@defop("lstm_layer", fusion=Fusion.OPAQUE, shape=_lstm_layer_shape, n_outputs=3)
def lstm_layer(xw: np.ndarray, w_hh: np.ndarray, b_hh: np.ndarray | None, w_hr: np.ndarray | None,
               h0: np.ndarray | None, c0: np.ndarray | None, *, reverse: bool
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LSTM recurrence (gates ``i, f, g, o``), with the optional projection ``h_t = (o * tanh(c_t)) W_hr^T``.

    Returns ``(out (T, N, P), h_T (N, P), c_T (N, H))`` where ``P`` is the projection size (``H`` without ``w_hr``).
    """
    ct = _compute_dtype(xw.dtype)
    t, n, g = xw.shape
    hidden = g // 4
    xw_c = np.asarray(xw, ct)
    w_t, b = np.asarray(w_hh, ct).T, _bias(b_hh, ct)
    wr_t = None if w_hr is None else np.asarray(w_hr, ct).T
    out_size = hidden if w_hr is None else w_hr.shape[0]
    h = _state(h0, n, out_size, ct)
    c = _state(c0, n, hidden, ct)
    out = np.empty((t, n, out_size), ct)
    for s in _time_steps(t, reverse):
        h, c = _lstm_step(xw_c[s], h @ w_t + b, c)
        if wr_t is not None:
            h = h @ wr_t
        out[s] = h
    return (out.astype(xw.dtype, copy=False), h.astype(xw.dtype, copy=True), c.astype(xw.dtype, copy=True))


def _gru_layer_shape(xw: TensorSpec, w_hh: TensorSpec, b_hh: TensorSpec | None, h0: TensorSpec | None, *,
                     reverse: bool) -> tuple[TensorSpec, TensorSpec]:
    t, n, _ = xw.shape
    h = w_hh.shape[1]
    return TensorSpec((t, n, h), xw.dtype), TensorSpec((n, h), xw.dtype)


@defop("gru_layer", fusion=Fusion.OPAQUE, shape=_gru_layer_shape, n_outputs=2)
def gru_layer(xw: np.ndarray, w_hh: np.ndarray, b_hh: np.ndarray | None, h0: np.ndarray | None, *,
              reverse: bool) -> tuple[np.ndarray, np.ndarray]:
    """GRU recurrence (gates ``r, z, n``); ``xw`` already holds ``b_ih``. Returns ``(out (T, N, H), h_T (N, H))``."""
    ct = _compute_dtype(xw.dtype)
    t, n, _ = xw.shape
    hidden = w_hh.shape[1]
    xw_c = np.asarray(xw, ct)
    w_t, b = np.asarray(w_hh, ct).T, _bias(b_hh, ct)
    h = _state(h0, n, hidden, ct)
    out = np.empty((t, n, hidden), ct)
    for s in _time_steps(t, reverse):
        h = _gru_step(xw_c[s], h @ w_t + b, h)
        out[s] = h
    return out.astype(xw.dtype, copy=False), h.astype(xw.dtype, copy=True)


# ----------------------------------------------------------------------------------------------------------- cells
def _cell_inputs(x: np.ndarray, h: np.ndarray | None, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray | None,
                 b_hh: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(gx, gh, h)`` in the compute dtype: the input and hidden contributions to the gates, and the state."""
    ct = _compute_dtype(x.dtype)
    h = _state(h, x.shape[0], w_hh.shape[1], ct)
    gx = np.asarray(x, ct) @ np.asarray(w_ih, ct).T + _bias(b_ih, ct)
    gh = h @ np.asarray(w_hh, ct).T + _bias(b_hh, ct)
    return gx, gh, h


def _cell_shape(x: TensorSpec, h: TensorSpec | None, w_ih: TensorSpec, w_hh: TensorSpec, *_: TensorSpec | None,
                **__: object) -> TensorSpec:
    return TensorSpec((x.shape[0], w_hh.shape[1]), x.dtype)


@defop("rnn_cell", fusion=Fusion.OPAQUE, shape=_cell_shape)
def rnn_cell(x: np.ndarray, h: np.ndarray | None, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray | None,
             b_hh: np.ndarray | None, *, nonlinearity: str) -> np.ndarray:
    """One Elman step on ``x (N, I)``, ``h (N, H)``: ``act(x W_ih^T + b_ih + h W_hh^T + b_hh)``."""
    gx, gh, _ = _cell_inputs(x, h, w_ih, w_hh, b_ih, b_hh)
    return _activation(nonlinearity)(gx + gh).astype(x.dtype, copy=False)


def _lstm_cell_shape(x: TensorSpec, h: TensorSpec | None, c: TensorSpec | None, w_ih: TensorSpec, w_hh: TensorSpec,
                     *_: TensorSpec | None) -> tuple[TensorSpec, TensorSpec]:
    spec = TensorSpec((x.shape[0], w_hh.shape[1]), x.dtype)
    return spec, spec


@defop("lstm_cell", fusion=Fusion.OPAQUE, shape=_lstm_cell_shape, n_outputs=2)
def lstm_cell(x: np.ndarray, h: np.ndarray | None, c: np.ndarray | None, w_ih: np.ndarray, w_hh: np.ndarray,
              b_ih: np.ndarray | None, b_hh: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """One LSTM step (gates ``i, f, g, o``); returns ``(h', c')``."""
    gx, gh, _ = _cell_inputs(x, h, w_ih, w_hh, b_ih, b_hh)
    c = _state(c, x.shape[0], w_hh.shape[1], gx.dtype)
    h, c = _lstm_step(gx, gh, c)
    return h.astype(x.dtype, copy=False), c.astype(x.dtype, copy=False)


@defop("gru_cell", fusion=Fusion.OPAQUE, shape=_cell_shape)
def gru_cell(x: np.ndarray, h: np.ndarray | None, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray | None,
             b_hh: np.ndarray | None) -> np.ndarray:
    """One GRU step (gates ``r, z, n``); returns ``h'``."""
    gx, gh, h = _cell_inputs(x, h, w_ih, w_hh, b_ih, b_hh)
    return _gru_step(gx, gh, h).astype(x.dtype, copy=False)
