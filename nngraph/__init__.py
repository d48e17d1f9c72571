"""nngraph: torch.nn-compatible modules on numpy, and a graph compiler that lowers them to Numba."""
from __future__ import annotations

__version__ = "0.1.0"

from . import nn, ops  # noqa: E402
from .ir import Graph, Interpreter  # noqa: E402
from .ir.dot import to_dot  # noqa: E402
from .passes import optimize  # noqa: E402
from .trace import trace  # noqa: E402
from .runtime import compile  # noqa: E402,A004
from . import models  # noqa: E402
from ._random import manual_seed  # noqa: E402
from .serialization import load, save  # noqa: E402

__all__ = ["__version__", "nn", "ops", "models", "manual_seed", "save", "load", "trace", "optimize", "compile", "to_dot", "Graph", "Interpreter"]
