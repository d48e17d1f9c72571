"""Host calls from generated executors: ops without a compiled lowering and opaque module calls run here, inside
``numba.objmode``. Each generated module registers its table of callables under its module name."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

_TABLES: dict[str, list[Callable[..., Any]]] = {}


def register(module_name: str, table: list[Callable[..., Any]]) -> None:
    _TABLES[module_name] = table


def _contiguous(v: Any) -> np.ndarray:
    a = np.ascontiguousarray(v)
    return a.reshape(1) if a.ndim == 0 else a


def call(module_name: str, index: int, args: tuple) -> Any:
    """Run host callable ``index`` of ``module_name``; returns C-contiguous arrays (0-d as 1-element arrays)."""
    result = _TABLES[module_name][index](*args)
    if isinstance(result, tuple):
        return tuple(_contiguous(r) for r in result)
    return _contiguous(result)
