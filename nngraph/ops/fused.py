"""Ops that passes create: BatchNorm folding arithmetic, per-channel affine, and fused nodes.

Fused nodes are ordinary registry ops whose attributes describe what they compute in terms of other registry ops,
so the interpreter runs them from those ops' numpy references and a backend can generate one kernel from them.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .registry import REGISTRY, Fusion, TensorSpec, defop

# ---------------------------------------------------------------------------------------------- BatchNorm folding
# Arithmetic in float64, cast once to the weight's dtype. ``layout`` says where the output channels of the folded
# producer's weight are: "out_first" (conv, linear: (O, ...)) or "transpose" (conv_transpose: (C_in, O/groups, ...)).


def _bn_scale64(var: np.ndarray, gamma: np.ndarray | None, eps: float) -> np.ndarray:
    scale = 1.0 / np.sqrt(var.astype(np.float64) + eps)
    return scale * gamma.astype(np.float64) if gamma is not None else scale


def _fold_weight_shape(w: TensorSpec, var: TensorSpec, gamma: TensorSpec | None, *, eps: float, layout: str,
                       groups: int) -> TensorSpec:
    return w


@defop("bn_fold_weight", fusion=Fusion.OPAQUE, shape=_fold_weight_shape)
def bn_fold_weight(w: np.ndarray, var: np.ndarray, gamma: np.ndarray | None, *, eps: float, layout: str,
                   groups: int) -> np.ndarray:
    """The producer's weight scaled by ``gamma / sqrt(var + eps)`` per output channel."""
    scale = _bn_scale64(var, gamma, eps)
    if layout == "out_first":
        out = w.astype(np.float64) * scale.reshape((-1,) + (1,) * (w.ndim - 1))
    else:
        c_in, og = w.shape[:2]
        wg = w.astype(np.float64).reshape((groups, c_in // groups, og) + w.shape[2:])
        out = (wg * scale.reshape((groups, 1, og) + (1,) * (w.ndim - 2))).reshape(w.shape)
    return out.astype(w.dtype)


def _fold_bias_shape(b: TensorSpec | None, mean: TensorSpec, var: TensorSpec, gamma: TensorSpec | None,
                     beta: TensorSpec | None, *, eps: float, dtype: str) -> TensorSpec:
    return TensorSpec(mean.shape, np.dtype(dtype))


@defop("bn_fold_bias", fusion=Fusion.OPAQUE, shape=_fold_bias_shape)
def bn_fold_bias(b: np.ndarray | None, mean: np.ndarray, var: np.ndarray, gamma: np.ndarray | None,
                 beta: np.ndarray | None, *, eps: float, dtype: str) -> np.ndarray:
    """``(b - mean) * gamma / sqrt(var + eps) + beta`` (b, beta default to 0)."""
    scale = _bn_scale64(var, gamma, eps)
    b64 = b.astype(np.float64) if b is not None else 0.0
    out = (b64 - mean.astype(np.float64)) * scale
    if beta is not None:
        out = out + beta.astype(np.float64)
    return out.astype(dtype)


def _bn_scale_shape(var: TensorSpec, gamma: TensorSpec | None, *, eps: float, dtype: str) -> TensorSpec:
    return TensorSpec(var.shape, np.dtype(dtype))


@defop("bn_scale", fusion=Fusion.OPAQUE, shape=_bn_scale_shape)
def bn_scale(var: np.ndarray, gamma: np.ndarray | None, *, eps: float, dtype: str) -> np.ndarray:
    """``gamma / sqrt(var + eps)``."""
    return _bn_scale64(var, gamma, eps).astype(dtype)


def _channel_affine_shape(x: TensorSpec, scale: TensorSpec, shift: TensorSpec) -> TensorSpec:
    return x


@defop("channel_affine", fusion=Fusion.BROADCAST, shape=_channel_affine_shape)
def channel_affine(x: np.ndarray, scale: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``x * scale + shift`` with (C,) vectors along axis 1 (a BatchNorm with nothing to fold into)."""
    shape = (1, -1) + (1,) * (x.ndim - 2) if x.ndim > 1 else (-1,)
    return (x * scale.reshape(shape) + shift.reshape(shape)).astype(x.dtype, copy=False)


# ---------------------------------------------------------------------------------------------- fused nodes
# A step is (op name, attrs as sorted (key, value) pairs, operands); an operand is ("in", i) for argument i of the
# fused node, ("tmp", j) for the result of step j, or ("none", 0) for an absent optional input. A fused node's value
# is the last step's result.


def _operand(kind: str, i: int, values: list[Any], tmps: list[Any]) -> Any:
    return values[i] if kind == "in" else tmps[i] if kind == "tmp" else None


def run_steps(steps: tuple, values: list[Any]) -> Any:
    tmps: list[Any] = []
    for name, attrs, operands in steps:
        tmps.append(REGISTRY[name].impl(*(_operand(k, i, values, tmps) for k, i in operands), **dict(attrs)))
    return tmps[-1]


def infer_steps(steps: tuple, specs: list[Any]) -> Any:
    tmps: list[Any] = []
    for name, attrs, operands in steps:
        tmps.append(REGISTRY[name].infer(*(_operand(k, i, specs, tmps) for k, i in operands), **dict(attrs)))
    return tmps[-1]


def _fused_shape(*specs: TensorSpec | None, steps: tuple, kind: str) -> Any:
    return infer_steps(steps, list(specs))


@defop("fused", fusion=Fusion.OPAQUE, shape=_fused_shape)
def fused(*args: np.ndarray | None, steps: tuple, kind: str) -> np.ndarray:
    """A fused group of ops. ``kind`` is "epilogue" (step 0 is a heavy op -- conv, linear, matmul -- and the rest
    is its elementwise epilogue, applied while the output tile is hot) or "elementwise" (one loop)."""
    return run_steps(steps, list(args))
