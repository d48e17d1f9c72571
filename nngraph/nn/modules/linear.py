"""Fully connected and shape layers: Identity, Linear, Bilinear, Flatten, Unflatten."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ...errors import InputError, shape_str
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["Identity", "Linear", "NonDynamicallyQuantizableLinear", "Bilinear", "Flatten", "Unflatten"]


def _dtype(dtype: Any) -> np.dtype:
    return np.dtype(np.float32 if dtype is None else dtype)


class Identity(Module):
    """Returns its input; accepts and ignores any constructor arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


class Linear(Module):
    """``y = x W^T + b`` over the last dimension; any number of leading dimensions."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(np.empty((out_features, in_features), dtype=_dtype(dtype)))
        if bias:
            self.bias = Parameter(np.empty((out_features,), dtype=_dtype(dtype)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # a=sqrt(5) makes the weight bound 1/sqrt(in_features), the same as the bias bound.
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Any) -> Any:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class NonDynamicallyQuantizableLinear(Linear):
    """torch's marker subclass of Linear (``MultiheadAttention.out_proj``); behaves exactly like Linear."""


class Bilinear(Module):
    """``y = x1^T A x2 + b`` with weight ``(out_features, in1_features, in2_features)``."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(np.empty((out_features, in1_features, in2_features), dtype=_dtype(dtype)))
        if bias:
            self.bias = Parameter(np.empty((out_features,), dtype=_dtype(dtype)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.in1_features <= 0:
            raise ValueError(f"in1_features must be > 0, but got (in1_features={self.in1_features})")
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Any, input2: Any) -> Any:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


def _wrap_dim(who: str, dim: int, ndim: int, x: Any, what: str) -> int:
    """torch's dimension wrapping: a 0-d array accepts dims -1 and 0 as if it were 1-d."""
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise InputError(who, f"{what} in range [{-rank}, {rank - 1}] for an input of shape {shape_str(x.shape)}",
                         dim)
    return dim % rank


class Flatten(Module):
    """Flattens dimensions ``start_dim`` to ``end_dim`` into one."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Any) -> Any:
        who = "flatten"
        start = _wrap_dim(who, self.start_dim, input.ndim, input, "start_dim")
        end = _wrap_dim(who, self.end_dim, input.ndim, input, "end_dim")
        if start > end:
            raise InputError(who, "start_dim not after end_dim", f"start_dim={self.start_dim}, end_dim={self.end_dim}")
        shape = tuple(input.shape)
        if input.ndim == 0:
            return input.reshape(1)
        return input.reshape(shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dimension ``dim`` into ``unflattened_size`` (one entry may be -1)."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError("unflattened_size must be a tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        for idx, elem in enumerate(unflattened_size):
            if not isinstance(elem, int):
                raise TypeError(f"unflattened_size must be tuple of ints, but found element of type "
                                f"{type(elem).__name__} at pos {idx}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input: Any) -> Any:
        who = "unflatten"
        if input.ndim == 0:
            raise InputError(who, "an input of at least 1 dimension", shape_str(input.shape))
        dim = _wrap_dim(who, self.dim, input.ndim, input, "dim")
        sizes = tuple(self.unflattened_size)
        size = int(input.shape[dim])
        if not sizes:
            raise InputError(who, "a non-empty unflattened_size", sizes)
        if sum(s == -1 for s in sizes) > 1 or any(s < -1 for s in sizes):
            raise InputError(who, "unflattened_size of sizes >= 0 with at most one -1", sizes)
        known = math.prod(s for s in sizes if s != -1)
        if -1 in sizes:
            if known == 0 or size % known:
                raise InputError(who, f"unflattened_size whose product divides the size {size} of dim {dim}", sizes)
            sizes = tuple(size // known if s == -1 else s for s in sizes)
        elif known != size:
            raise InputError(who, f"unflattened_size multiplying up to the size {size} of dim {dim}", sizes)
        shape = tuple(input.shape)
        return input.reshape(shape[:dim] + sizes + shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
