"""Convolutions: ``conv1d/2d/3d`` and ``conv_transpose1d/2d/3d`` with torch.nn.functional's API.

Arguments are validated and normalized here (int -> tuple, ``'same'``/``'valid'`` -> explicit padding, unbatched ->
batched); the computation is the ``conv`` / ``conv_transpose`` primitives of ``nngraph.ops.conv``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...errors import InputError, check_float, shape_str
from ...ops import conv as _ops

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]

_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


def _ntuple(who: str, name: str, value: Any, nd: int) -> tuple[int, ...]:
    """``value`` as ``nd`` ints: an int, or a sequence of 1 or ``nd`` ints (torch expands length 1)."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * nd
    try:
        t = tuple(int(v) for v in value)
    except TypeError:
        raise InputError(who, f"{name} to be an int or a tuple of {nd} ints", repr(value)) from None
    if len(t) == 1:
        return t * nd
    if len(t) != nd:
        raise InputError(who, f"{name} to be an int or a tuple of {nd} ints", repr(value))
    return t


def _check_positive(who: str, name: str, values: tuple[int, ...], minimum: int = 1) -> None:
    if any(v < minimum for v in values):
        what = "positive" if minimum == 1 else "non-negative"
        raise InputError(who, f"{what} {name}", f"{name}={values}")


def _input_pattern(channels: int, nd: int) -> str:
    return f"(N, {channels}, {_SPATIAL[nd]}) or ({channels}, {_SPATIAL[nd]})"


def _check_common(who: str, x: Any, weight: Any, bias: Any, groups: int, nd: int, transposed: bool) -> None:
    """Dtypes, ranks, channel counts and bias shape shared by convolution and transposed convolution."""
    check_float(who, x)
    if not (hasattr(weight, "ndim") and weight.ndim == nd + 2):
        layout = "(in_channels, out_channels/groups, " if transposed else "(out_channels, in_channels/groups, "
        raise InputError(who, f"weight of shape {layout}{'kernel ' + _SPATIAL[nd]})",
                         shape_str(np.shape(weight)))
    if weight.dtype != x.dtype:
        raise InputError(who, f"weight of the input's dtype {x.dtype}", f"dtype {weight.dtype}")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise InputError(who, "groups to be a positive integer", groups)
    lead = weight.shape[0]
    if lead % groups != 0 or lead < groups:
        what = "in_channels" if transposed else "out_channels"
        raise InputError(who, f"weight.shape[0] ({what}) divisible by groups={groups}", shape_str(weight.shape))
    channels = lead if transposed else weight.shape[1] * groups
    out_channels = weight.shape[1] * groups if transposed else lead
    pattern = _input_pattern(channels, nd)
    if x.ndim not in (nd + 1, nd + 2) or x.shape[-nd - 1] != channels:
        raise InputError(who, f"input of shape {pattern}", shape_str(x.shape))
    if bias is not None:
        if not (hasattr(bias, "shape") and tuple(bias.shape) == (out_channels,)):
            raise InputError(who, f"bias of shape ({out_channels},)", shape_str(np.shape(bias)))
        if bias.dtype != x.dtype:
            raise InputError(who, f"bias of the input's dtype {x.dtype}", f"dtype {bias.dtype}")


def _conv_padding(who: str, padding: Any, kernel: Sequence[int], stride: tuple[int, ...], dilation: tuple[int, ...],
                  nd: int) -> tuple[tuple[int, int], ...]:
    """torch's padding argument as explicit (before, after) pairs; ``'same'`` puts any odd remainder after."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding != "same":
            raise InputError(who, "padding to be 'same', 'valid', an int or a tuple of ints", repr(padding))
        if any(s != 1 for s in stride):
            raise InputError(who, "stride 1 with padding='same' (strided 'same' convolutions are not supported)",
                             f"stride={stride}")
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in total)
    pad = _ntuple(who, "padding", padding, nd)
    _check_positive(who, "padding", pad, minimum=0)
    return tuple((p, p) for p in pad)


def _conv(who: str, nd: int, input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any,
          groups: int) -> Any:
    _check_common(who, input, weight, bias, groups, nd, transposed=False)
    stride_ = _ntuple(who, "stride", stride, nd)
    dilation_ = _ntuple(who, "dilation", dilation, nd)
    _check_positive(who, "stride", stride_)
    _check_positive(who, "dilation", dilation_)
    kernel = tuple(weight.shape[2:])
    pads = _conv_padding(who, padding, kernel, stride_, dilation_, nd)
    spatial = tuple(input.shape[-nd:])
    if 0 in spatial:  # torch refuses these even when padding would make room for the kernel
        raise InputError(who, f"input of shape {_input_pattern(weight.shape[1] * groups, nd)} with non-empty "
                              "spatial dimensions", shape_str(input.shape))
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(spatial, pads))
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation_))
    if any(p < s for p, s in zip(padded, span)):
        raise InputError(who, f"padded input size per channel at least {span} (kernel {kernel}, dilation "
                              f"{dilation_}, padding {tuple(lo + hi for lo, hi in pads)} in total)",
                         f"input of shape {shape_str(input.shape)}")
    batched = input.ndim == nd + 2
    x = input if batched else input[None]
    out = _ops.conv(x, weight, bias, stride=stride_, padding=pads, dilation=dilation_, groups=int(groups))
    return out if batched else out[0]


def _conv_transpose(who: str, nd: int, input: Any, weight: Any, bias: Any, stride: Any, padding: Any,
                    output_padding: Any, groups: int, dilation: Any) -> Any:
    _check_common(who, input, weight, bias, groups, nd, transposed=True)
    if isinstance(padding, str):
        raise InputError(who, "padding to be an int or a tuple of ints (no 'same'/'valid' for transposed "
                              "convolution)", repr(padding))
    stride_ = _ntuple(who, "stride", stride, nd)
    dilation_ = _ntuple(who, "dilation", dilation, nd)
    padding_ = _ntuple(who, "padding", padding, nd)
    output_padding_ = _ntuple(who, "output_padding", output_padding, nd)
    _check_positive(who, "stride", stride_)
    _check_positive(who, "dilation", dilation_)
    _check_positive(who, "padding", padding_, minimum=0)
    _check_positive(who, "output_padding", output_padding_, minimum=0)
    if any(op >= max(s, d) for op, s, d in zip(output_padding_, stride_, dilation_)):
        raise InputError(who, f"output_padding smaller than either stride {stride_} or dilation {dilation_}",
                         f"output_padding={output_padding_}")
    kernel = tuple(weight.shape[2:])
    spatial = tuple(input.shape[-nd:])
    out_sp = tuple(_ops.conv_transpose_output_size(n, k, s, p, op, d)
                   for n, k, s, p, op, d in zip(spatial, kernel, stride_, padding_, output_padding_, dilation_))
    if any(o < 1 for o in out_sp):
        raise InputError(who, f"a positive output size (padding {padding_} is too large for this input)",
                         f"output size {out_sp} for input of shape {shape_str(input.shape)}")
    batched = input.ndim == nd + 2
    x = input if batched else input[None]
    out = _ops.conv_transpose(x, weight, bias, stride=stride_, padding=padding_, output_padding=output_padding_,
                              dilation=dilation_, groups=int(groups))
    return out if batched else out[0]


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Any:
    """1-d convolution of ``(N, C, L)`` or ``(C, L)`` input with weight ``(O, C/groups, kL)``."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Any:
    """2-d convolution of ``(N, C, H, W)`` or ``(C, H, W)`` input with weight ``(O, C/groups, kH, kW)``."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Any:
    """3-d convolution of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input with weight ``(O, C/groups, kD, kH, kW)``."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Any:
    """1-d transposed convolution of ``(N, C, L)`` or ``(C, L)`` input with weight ``(C, O/groups, kL)``."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Any:
    """2-d transposed convolution of ``(N, C, H, W)`` or ``(C, H, W)`` input with weight ``(C, O/groups, kH, kW)``."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose3d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Any:
    """3-d transposed convolution of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input with weight
    ``(C, O/groups, kD, kH, kW)``."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)
