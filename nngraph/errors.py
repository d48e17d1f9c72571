"""Errors raised for bad user input. Messages name the module, the expected and the actual value."""
from __future__ import annotations

from typing import Any, Iterable


class InputError(ValueError):
    """Bad input to a layer or functional op.

    Raised by functional ops with ``who`` set to the function name; ``Module.__call__`` replaces ``who`` with the
    innermost module's description (``Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))``) on the way out.
    """

    def __init__(self, who: str, expected: str, got: Any) -> None:
        self.who = who
        self.expected = expected
        self.got = got
        self.attributed = False
        super().__init__()

    def __str__(self) -> str:
        return f"{self.who} expected {self.expected}, got {self.got}"

    def __repr__(self) -> str:
        return f"InputError({str(self)!r})"

    def __reduce__(self) -> tuple:
        return (InputError, (self.who, self.expected, self.got))


def shape_str(shape: Iterable[int]) -> str:
    shape = tuple(int(s) for s in shape)
    return str(shape) if len(shape) != 1 else f"({shape[0]},)"


def check_ndim(who: str, x: Any, ndims: Iterable[int], pattern: str) -> None:
    """Raise unless ``x.ndim`` is one of ``ndims``; ``pattern`` reads like ``(N, 3, H, W) or (3, H, W)``."""
    if x.ndim not in tuple(ndims):
        raise InputError(who, f"input of shape {pattern}", shape_str(x.shape))


def check_dim(who: str, x: Any, axis: int, size: int, pattern: str) -> None:
    """Raise unless ``x.shape[axis] == size``."""
    if x.shape[axis] != size:
        raise InputError(who, f"input of shape {pattern}", shape_str(x.shape))


def check_float(who: str, x: Any, what: str = "input") -> None:
    if not (hasattr(x, "dtype") and x.dtype.kind == "f"):
        raise InputError(who, f"a floating-point {what}", f"dtype {getattr(x, 'dtype', type(x).__name__)}")


def check_int(who: str, x: Any, what: str = "indices") -> None:
    if not (hasattr(x, "dtype") and x.dtype.kind in "iu"):
        raise InputError(who, f"integer {what}", f"dtype {getattr(x, 'dtype', type(x).__name__)}")
