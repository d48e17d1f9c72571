"""Convolution layers: Conv1d/2d/3d and ConvTranspose1d/2d/3d."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ...errors import InputError
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(value: Any, n: int) -> tuple[int, ...]:
    """torch's ``_single/_pair/_triple``: repeat a scalar, keep an iterable as a tuple."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    return tuple(value)


class _ConvNd(Module):
    """Shared constructor, initialization and ``extra_repr`` of every convolution layer."""

    _nd: int = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, ...], stride: tuple[int, ...],
                 padding: str | tuple[int, ...], dilation: tuple[int, ...], transposed: bool,
                 output_padding: tuple[int, ...], groups: int, bias: bool, padding_mode: str, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'same', 'valid'}}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {set(_PADDING_MODES)}, "
                             f"but got padding_mode='{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = output_padding
        self.groups = groups
        self.padding_mode = padding_mode
        # F.pad amounts (last dim first) for the non-zeros padding modes; 'same' puts an odd remainder after.
        if isinstance(padding, str):
            self._reversed_padding_repeated_twice = [0, 0] * len(kernel_size)
            if padding == "same":
                for i, (k, d) in enumerate(zip(reversed(kernel_size), reversed(dilation))):
                    total = d * (k - 1)
                    self._reversed_padding_repeated_twice[2 * i] = total // 2
                    self._reversed_padding_repeated_twice[2 * i + 1] = total - total // 2
        else:
            self._reversed_padding_repeated_twice = tuple(p for p in reversed(padding) for _ in range(2))
        dt = np.dtype(np.float32 if dtype is None else dtype)
        if transposed:
            shape = (in_channels, out_channels // groups, *kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(np.empty((out_channels,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # torch's default: kaiming_uniform_(a=sqrt(5)) gives bound 1/sqrt(fan_in), the bias bound too. fan_in is
        # weight.shape[1] * kernel volume, also for the transposed layout (in, out/groups, *k), as in torch.
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.weight.shape[2:])
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """Conv1d/2d/3d: torch's constructor and forward (non-zeros padding modes pad with ``F.pad`` first)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        nd = self._nd
        super().__init__(in_channels, out_channels, _ntuple(kernel_size, nd), _ntuple(stride, nd),
                         padding if isinstance(padding, str) else _ntuple(padding, nd), _ntuple(dilation, nd),
                         False, (0,) * nd, groups, bias, padding_mode, device=device, dtype=dtype)

    def _conv_forward(self, input: Any, weight: Any, bias: Any) -> Any:
        conv = getattr(F, f"conv{self._nd}d")
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return conv(padded, weight, bias, self.stride, (0,) * self._nd, self.dilation, self.groups)
        return conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input: Any) -> Any:
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """1-d convolution over ``(N, C_in, L)`` or ``(C_in, L)`` input."""

    _nd = 1


class Conv2d(_Conv):
    """2-d convolution over ``(N, C_in, H, W)`` or ``(C_in, H, W)`` input."""

    _nd = 2


class Conv3d(_Conv):
    """3-d convolution over ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)`` input."""

    _nd = 3


class _ConvTransposeNd(_ConvNd):
    """ConvTranspose1d/2d/3d: torch's constructor (note ``dilation`` after ``bias``) and ``forward(input,
    output_size=None)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        nd = self._nd
        super().__init__(in_channels, out_channels, _ntuple(kernel_size, nd), _ntuple(stride, nd),
                         _ntuple(padding, nd), _ntuple(dilation, nd), True, _ntuple(output_padding, nd), groups,
                         bias, padding_mode, device=device, dtype=dtype)

    def _output_padding(self, input: Any, output_size: Sequence[int]) -> tuple[int, ...]:
        """The output_padding that yields ``output_size`` (spatial sizes, optionally with leading N, C)."""
        nd = self._nd
        lead = 2 if input.ndim == nd + 2 else 1
        size = [int(s) for s in output_size]
        if len(size) == lead + nd:
            size = size[lead:]
        if len(size) != nd:
            raise InputError(type(self).__name__, f"output_size of {nd} or {lead + nd} elements for a {input.ndim}D "
                                                   "input", f"{len(size)} elements")
        smallest = [(n - 1) * s - 2 * p + d * (k - 1) + 1 for n, s, p, d, k in
                    zip(input.shape[-nd:], self.stride, self.padding, self.dilation, self.kernel_size)]
        largest = [lo + s - 1 for lo, s in zip(smallest, self.stride)]
        if any(not lo <= n <= hi for n, lo, hi in zip(size, smallest, largest)):
            raise InputError(type(self).__name__, f"output_size between {smallest} and {largest} for an input of "
                                                   f"spatial size {list(input.shape[-nd:])}", size)
        return tuple(n - lo for n, lo in zip(size, smallest))

    def forward(self, input: Any, output_size: Sequence[int] | None = None) -> Any:
        output_padding = self.output_padding
        if output_size is not None and input.ndim in (self._nd + 1, self._nd + 2):  # else F reports the bad rank
            output_padding = self._output_padding(input, output_size)
        conv = getattr(F, f"conv_transpose{self._nd}d")
        return conv(input, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups,
                    self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """1-d transposed convolution over ``(N, C_in, L)`` or ``(C_in, L)`` input."""

    _nd = 1


class ConvTranspose2d(_ConvTransposeNd):
    """2-d transposed convolution over ``(N, C_in, H, W)`` or ``(C_in, H, W)`` input."""

    _nd = 2


class ConvTranspose3d(_ConvTransposeNd):
    """3-d transposed convolution over ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)`` input."""

    _nd = 3
