"""Padding layers: Zero/Constant/Reflection/Replication/CircularPad 1d, 2d and 3d."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import InputError, shape_str
from .. import functional as F
from .module import Module

__all__ = ["CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
           "ReplicationPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d"]


def _ntuple(value: Any, n: int) -> tuple[int, ...]:
    """torch's ``_pair/_quadruple/_ntuple(6)``: repeat a scalar, keep an iterable as a tuple."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    return tuple(value)


class _PadNd(Module):
    """A padding layer of ``_nd`` dimensions; ``padding`` is an int or ``2 * _nd`` ints, last dimension first."""

    _nd: int = 0
    _mode: str = ""

    def __init__(self, padding: Any) -> None:
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._nd)

    def forward(self, input: Any) -> Any:
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _CircularPadNd(_PadNd):
    _mode = "circular"

    def forward(self, input: Any) -> Any:
        if input.ndim not in (self._nd + 1, self._nd + 2):
            raise InputError(type(self).__name__, f"{self._nd + 1}D or {self._nd + 2}D input",
                             f"input of shape {shape_str(input.shape)}")
        return super().forward(input)


class CircularPad1d(_CircularPadNd):
    """Pads the last dimension of ``(N, C, W)`` or ``(C, W)`` input by wrapping around."""

    _nd = 1


class CircularPad2d(_CircularPadNd):
    """Pads the last two dimensions of ``(N, C, H, W)`` or ``(C, H, W)`` input by wrapping around."""

    _nd = 2


class CircularPad3d(_CircularPadNd):
    """Pads the last three dimensions of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input by wrapping around."""

    _nd = 3


class _ConstantPadNd(_PadNd):
    _mode = "constant"

    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Any) -> Any:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dimension with ``value``."""

    _nd = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads the last two dimensions with ``value``."""

    _nd = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last three dimensions with ``value``."""

    _nd = 3


class ZeroPad1d(ConstantPad1d):
    """Pads the last dimension with zeros."""

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pads the last two dimensions with zeros."""

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """Pads the last three dimensions with zeros."""

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Pads the last dimension of ``(N, C, W)`` or ``(C, W)`` input with its reflection (edge not repeated)."""

    _nd, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Pads the last two dimensions of ``(N, C, H, W)`` or ``(C, H, W)`` input with their reflection."""

    _nd, _mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """Pads the last three dimensions of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input with their reflection."""

    _nd, _mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """Pads the last dimension of ``(N, C, W)`` or ``(C, W)`` input by repeating the edge value."""

    _nd, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Pads the last two dimensions of ``(N, C, H, W)`` or ``(C, H, W)`` input by repeating the edge values."""

    _nd, _mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """Pads the last three dimensions of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input by repeating the edge
    values."""

    _nd, _mode = 3, "replicate"
