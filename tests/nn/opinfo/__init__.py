"""The op table: sample inputs for every layer and functional op, compared against PyTorch.

Each area file (``conv.py``, ``activation.py``, ...) defines three lists:

* ``MODULE_SAMPLES`` -- ``ModuleSample``: ``make(nn)`` builds the same layer from ``nngraph.nn`` or ``torch.nn``;
  torch's weights are copied into ours through ``state_dict``; outputs (and state after the call, e.g. BatchNorm
  running statistics) are compared in each mode and dtype.
* ``FUNC_SAMPLES`` -- ``FuncSample``: ``fn(F, *inputs)`` is called with ``nngraph.nn.functional`` and
  ``torch.nn.functional`` (inputs converted to tensors for torch).
* ``ERROR_SAMPLES`` -- ``ErrorSample``: bad input must raise ``InputError`` whose message matches ``match``.

Inputs are generated in float64 by ``inputs(rng)``; floating arrays are cast to the sample's dtype, integer and bool
arrays are passed unchanged.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

AREAS = ["linear", "conv", "pooling", "padding", "activation", "normalization", "dropout", "sparse", "vision",
         "distance", "rnn", "attention", "transformer", "loss"]

DEFAULT_TOL = {np.dtype(np.float32): (1e-4, 1e-4), np.dtype(np.float64): (1e-9, 1e-7), np.dtype(np.float16): (1e-2, 1e-2)}


@dataclass
class ModuleSample:
    id: str
    make: Callable[[Any], Any]
    inputs: Callable[[np.random.Generator], tuple]
    kwargs: Callable[[np.random.Generator], dict] | None = None
    dtypes: tuple = (np.float32, np.float64)
    modes: tuple = ("eval", "train")
    random_in_train: bool = False  # train-mode output is random: compared by shape only (statistics tested elsewhere)
    tol: dict = field(default_factory=dict)  # dtype -> (atol, rtol), overrides DEFAULT_TOL
    call: Callable[..., Any] | None = None  # call(module, *inputs, **kwargs); default module(*inputs, **kwargs)

    def tolerance(self, dtype: Any) -> tuple[float, float]:
        return self.tol.get(np.dtype(dtype), DEFAULT_TOL[np.dtype(dtype)])


@dataclass
class FuncSample:
    id: str
    fn: Callable[..., Any]
    inputs: Callable[[np.random.Generator], tuple]
    dtypes: tuple = (np.float32, np.float64)
    random: bool = False  # output is random: compared by shape only
    tol: dict = field(default_factory=dict)

    def tolerance(self, dtype: Any) -> tuple[float, float]:
        return self.tol.get(np.dtype(dtype), DEFAULT_TOL[np.dtype(dtype)])


@dataclass
class ErrorSample:
    id: str
    make: Callable[[Any], Any]  # make(nn) -> module, or a callable taking the inputs
    inputs: Callable[[np.random.Generator], tuple]
    match: str  # regex the message must match


def load(kind: str) -> list:
    """All samples of ``kind`` ('MODULE_SAMPLES', 'FUNC_SAMPLES', 'ERROR_SAMPLES') across areas that exist."""
    out = []
    for area in AREAS:
        try:
            mod = importlib.import_module(f"tests.nn.opinfo.{area}")
        except ModuleNotFoundError as e:
            if e.name == f"tests.nn.opinfo.{area}":
                continue
            raise
        for s in getattr(mod, kind, []):
            out.append((area, s))
    return out


def randn(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    """Shorthand for ``inputs=``: one standard-normal array."""
    return lambda rng: (rng.standard_normal(shape),)
