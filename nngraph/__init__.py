"""nngraph: torch.nn-compatible modules on numpy, and a graph compiler that lowers them to Numba."""
from __future__ import annotations

__version__ = "0.1.0"

from . import nn  # noqa: E402
from ._random import manual_seed  # noqa: E402
from .serialization import load, save  # noqa: E402

__all__ = ["__version__", "nn", "manual_seed", "save", "load"]
