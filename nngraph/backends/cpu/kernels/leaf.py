"""``leaf``: how small array helpers called from kernels' inner loops are compiled."""
from __future__ import annotations

from typing import Callable

from numba import njit
from numba.core.cpu import CPUTargetOptions

#: Numba's (underscored, long-standing) option compiling a function without NRT; a Numba without it gets plain njit.
_NO_NRT = {"_nrt": False} if hasattr(CPUTargetOptions, "_nrt") else {}


def leaf(fn: Callable) -> Callable:
    """``njit`` without NRT reference counting, for helpers that borrow arrays from their caller.

    Numba counts references to every array an inlined helper binds or a called function receives, with ``lock``
    instructions, and its pruning pass misses the pairs that straddle the helper's branches and loops: a row copy
    called per output row paid up to six atomic operations per call (18 % of mobilenet_v2's time at batch 1, 10 % of
    resnet18's; two threads working on the same output contend for the same counter). A leaf helper only reads and
    writes arrays its caller holds, so it needs no counting. With NRT off it must not allocate, and must not return
    or store an array (the caller would release a reference it was never given).
    """
    return njit(**_NO_NRT)(fn)
