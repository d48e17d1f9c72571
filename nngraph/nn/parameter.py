"""``Parameter`` and ``Buffer``: the arrays a Module owns."""
from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ._epochs import bump_state

_PLAIN_RESULT_METHODS = ("__getitem__", "reshape", "transpose", "swapaxes", "ravel", "flatten", "squeeze", "view",
                         "astype", "copy", "sum", "mean", "max", "min", "clip", "round", "dot", "__neg__", "__pos__",
                         "__abs__")


class Parameter(np.ndarray):
    """A module weight: an ``np.ndarray`` subclass with ``requires_grad`` and ``grad``.

    Arrays derived from a Parameter (arithmetic, slicing, reshape) are plain ndarrays, as in torch derived tensors
    are not Parameters. ``.data`` is the underlying plain ndarray (same memory).
    """

    def __new__(cls, data: Any = None, requires_grad: bool = True) -> "Parameter":
        if data is None:
            data = np.empty((0,), dtype=np.float32)
        arr = np.asarray(data)
        if isinstance(data, np.ndarray) and arr is data and not isinstance(data, Parameter):
            obj = arr.view(cls)  # wrap in place: like torch, Parameter(t) shares t's storage
        else:
            obj = np.array(arr, copy=True).view(cls)
        obj.requires_grad = bool(requires_grad)
        obj.grad = None
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        self.requires_grad = getattr(obj, "requires_grad", True)
        self.grad = None

    def __array_wrap__(self, out_arr: np.ndarray, context: Any = None, return_scalar: bool = False) -> Any:
        out = out_arr.view(np.ndarray)
        return out[()] if return_scalar else out

    @property
    def data(self) -> np.ndarray:  # type: ignore[override]
        return self.view(np.ndarray)

    @data.setter
    def data(self, value: Any) -> None:
        value = np.asarray(value)
        if value.shape != self.shape:
            raise ValueError(f"Parameter.data: cannot assign an array of shape {value.shape} to a parameter of shape "
                             f"{self.shape}; assign a new Parameter to the module attribute instead")
        self.view(np.ndarray)[...] = value
        bump_state()

    def requires_grad_(self, requires_grad: bool = True) -> "Parameter":
        self.requires_grad = bool(requires_grad)
        return self

    def __repr__(self) -> str:
        return "Parameter containing:\n" + repr(self.view(np.ndarray))

    def __reduce__(self) -> Any:
        return (_rebuild_parameter, (self.view(np.ndarray).copy(), self.requires_grad))

    def __deepcopy__(self, memo: dict) -> "Parameter":
        result = Parameter(self.view(np.ndarray).copy(), self.requires_grad)
        result.grad = copy.deepcopy(self.grad, memo)
        memo[id(self)] = result
        return result


def _plain(name: str) -> Any:
    base = getattr(np.ndarray, name)

    def method(self: Parameter, *args: Any, **kwargs: Any) -> Any:
        out = base(self, *args, **kwargs)
        return out.view(np.ndarray) if isinstance(out, Parameter) else out

    method.__name__ = name
    return method


for _name in _PLAIN_RESULT_METHODS:
    setattr(Parameter, _name, _plain(_name))

Parameter.T = property(lambda self: self.view(np.ndarray).T)  # type: ignore[attr-defined]


def _rebuild_parameter(data: np.ndarray, requires_grad: bool) -> Parameter:
    return Parameter(data, requires_grad)


class Buffer:
    """Marks an array to be registered as a buffer when assigned to a Module attribute (torch's ``nn.Buffer``)."""

    def __init__(self, data: Any, *, persistent: bool = True) -> None:
        self.data = np.asarray(data)
        self.persistent = persistent
