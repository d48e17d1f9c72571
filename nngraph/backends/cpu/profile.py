"""Kernel calls timed in place: a compiled program's segments generated again with a cycle-counter read between
their lines, so each kernel is timed where it runs -- its inputs where the previous kernel left them, the worker
threads as warm as in a real call -- instead of alone from Python (where every call also pays the dispatcher).

The timestamps are the processor's time-stamp counter (``llvm.readcyclecounter``), converted to seconds by one
calibration against ``time.perf_counter``; a read costs a few nanoseconds and orders with the calls around it.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ...runtime import cache
from .codegen import Program

__all__ = ["cycles", "seconds_per_cycle", "instrumented_source", "load_instrumented"]

#: Parameter of an instrumented segment: int64 array, one timestamp before each line and one after the last.
STAMPS = "_stamps"


@intrinsic
def cycles(typingctx):  # noqa: ANN001, ANN201
    """The time-stamp counter (``llvm.readcyclecounter``)."""

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(64), []),
                                            "llvm.readcyclecounter")
        return builder.call(fn, [])

    return types.int64(), codegen


@njit(cache=True)
def _now() -> int:
    return cycles()


def seconds_per_cycle(interval: float = 0.05) -> float:
    """Counter period, measured against ``time.perf_counter`` over ``interval`` seconds."""
    _now()
    c0, t0 = _now(), time.perf_counter()
    time.sleep(interval)
    c1, t1 = _now(), time.perf_counter()
    if c1 <= c0:
        raise RuntimeError("nngraph: the processor's cycle counter did not advance; kernel profiles need it")
    return (t1 - t0) / (c1 - c0)


def instrumented_source(program: Program) -> str:
    """The program's module with every segment taking a last parameter ``_stamps`` (int64, lines + 1) filled with
    the counter before each line and after the last."""
    params = ", ".join(program.params + [STAMPS])
    chunks = []
    for name, lines in program.segment_lines.items():
        body = []
        for i, line in enumerate(lines):
            body += [f"    {STAMPS}[{i}] = _cycles()", f"    {line}"]
        body.append(f"    {STAMPS}[{len(lines)}] = _cycles()")
        chunks.append(f"@njit(cache=True, nogil=True)\ndef {name}({params}):\n" + "\n".join(body) + "\n")
    header = program.header + f"\nfrom {__name__} import cycles as _cycles"
    return header + "\n\n\n" + "\n\n".join(chunks)


def load_instrumented(program: Program, graph_key: str, use_cache: bool = True) -> Any:
    """Import :func:`instrumented_source` of ``program`` (cached like executors, under its own key)."""
    source = instrumented_source(program)
    return cache.load_module(cache.make_key(graph_key, "profile", source), source, use_cache=use_cache)


def new_stamps(program: Program) -> dict[str, np.ndarray]:
    """A timestamp array per segment, for the instrumented segments' last argument."""
    return {name: np.zeros(len(lines) + 1, np.int64) for name, lines in program.segment_lines.items()}
