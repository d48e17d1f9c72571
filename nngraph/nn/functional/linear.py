"""torch.nn.functional's fully connected ops: ``linear`` and ``bilinear``."""
from __future__ import annotations

from typing import Any

from ...errors import InputError, check_float, shape_str
from ...ops import linear as _ops

__all__ = ["linear", "bilinear"]


def _check_same_dtype(who: str, x: Any, other: Any, what: str) -> None:
    if other.dtype != x.dtype:
        raise InputError(who, f"{what} of the input's dtype {x.dtype}", f"dtype {other.dtype}")


def linear(input: Any, weight: Any, bias: Any | None = None) -> Any:
    """``input @ weight.T + bias`` over the last dimension of ``input`` (any leading dimensions)."""
    who = "linear"
    check_float(who, input)
    if input.ndim < 1:
        raise InputError(who, "input of at least 1 dimension", shape_str(input.shape))
    if weight.ndim not in (1, 2):
        raise InputError(who, "weight of shape (out_features, in_features) or (in_features,)", shape_str(weight.shape))
    in_features = weight.shape[-1]
    if input.shape[-1] != in_features:
        raise InputError(who, f"input of shape (*, {in_features})", shape_str(input.shape))
    _check_same_dtype(who, input, weight, "weight")
    if weight.ndim == 1:
        # torch contracts a 1-D weight with the last input dimension, which disappears.
        if bias is not None:
            raise InputError(who, "no bias with a 1-D weight", f"bias of shape {shape_str(bias.shape)}")
        return _ops.linear(input, weight[None, :], None)[..., 0]
    out_features = weight.shape[0]
    if bias is None or tuple(bias.shape) == (out_features,):
        if bias is not None:
            _check_same_dtype(who, input, bias, "bias")
        return _ops.linear(input, weight, bias)
    # A bias torch broadcasts against the output (shape (1,), a full output shape, ...).
    _check_same_dtype(who, input, bias, "bias")
    out_shape = tuple(input.shape[:-1]) + (out_features,)
    if not _broadcasts_to(tuple(bias.shape), out_shape):
        raise InputError(who, f"bias broadcastable to {shape_str(out_shape)}", f"shape {shape_str(bias.shape)}")
    return _ops.linear(input, weight, None) + bias


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    if len(shape) > len(target):
        return False
    return all(s in (1, t) for s, t in zip(shape[::-1], target[::-1]))


def bilinear(input1: Any, input2: Any, weight: Any, bias: Any | None = None) -> Any:
    """``y = x1^T A x2 + b`` over the last dimensions; ``input1`` and ``input2`` share their leading dimensions."""
    who = "bilinear"
    check_float(who, input1, "input1")
    check_float(who, input2, "input2")
    if weight.ndim != 3:
        raise InputError(who, "weight of shape (out_features, in1_features, in2_features)", shape_str(weight.shape))
    n_out, n_in1, n_in2 = (int(s) for s in weight.shape)
    if input1.ndim < 1 or input1.shape[-1] != n_in1:
        raise InputError(who, f"input1 of shape (*, {n_in1})", shape_str(input1.shape))
    if input2.ndim < 1 or input2.shape[-1] != n_in2:
        raise InputError(who, f"input2 of shape (*, {n_in2})", shape_str(input2.shape))
    if tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        lead = ", ".join(str(int(s)) for s in input1.shape[:-1])
        raise InputError(who, f"input2 of shape ({lead}{', ' if lead else ''}{n_in2}) (same leading dimensions as "
                              f"input1 {shape_str(input1.shape)})", shape_str(input2.shape))
    if bias is not None and tuple(bias.shape) != (n_out,):
        raise InputError(who, f"bias of shape ({n_out},)", shape_str(bias.shape))
    _check_same_dtype(who, input1, input2, "input2")
    _check_same_dtype(who, input1, weight, "weight")
    if bias is not None:
        _check_same_dtype(who, input1, bias, "bias")
    return _ops.bilinear(input1, input2, weight, bias)
