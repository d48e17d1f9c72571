"""Threaded kernel launch through C-callable workers (compile-time plumbing for the ``*_std`` entry points).

Why: a ``parallel=True`` entry point re-optimises the whole kernel body (parfor gufunc + caller) and Numba links a
callee's full LLVM IR into every caller, so each kernel cost ~6 s of extra LLVM time per entry point and again in
every graph executor calling it. Instead each kernel body is compiled once per (kernel, dtype) as a ``@cfunc``
worker ``void(t, nt, job_address)`` (disk-cached), and the entry points are tiny @njit functions that pack their
arguments into a ``job`` tuple on the stack and call the worker -- directly, or through one shared cached
``prange`` launcher. Callers link only the tiny entry IR; the worker is referenced by its native symbol.

Workers are created lazily, when an entry point is first compiled for a dtype (entry points are deliberately not
disk-cached: they are cheap, and compiling them is what loads the worker). A function calling the entry points
that is itself *loaded* from Numba's disk cache in a new process needs the workers loaded first: call
``kernels.preload()`` (cheap once the workers are on disk).
"""
from __future__ import annotations

import os
from typing import Callable

import llvmlite.binding as llvm
from llvmlite import ir
from numba import cfunc, njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

_WORKER_SIG = types.void(types.intp, types.intp, types.intp)
_FILE = os.path.abspath(__file__)
_WORKERS: dict[tuple, object] = {}


@intrinsic
def job_addr(typingctx, job):  # noqa: ANN001, ANN201
    """Address of a stack copy of ``job`` (valid until the calling function returns; refcounts are not taken)."""

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        slot = cgutils.alloca_once_value(builder, args[0])
        return builder.ptrtoint(slot, context.get_value_type(types.intp))

    return types.intp(job), codegen


@intrinsic
def load_job(typingctx, addr, jobty):  # noqa: ANN001, ANN201
    """The job tuple stored at ``addr`` by :func:`job_addr` (a new reference, as Numba expects of a value)."""
    ty = jobty.instance_type

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        ptr = builder.inttoptr(args[0], context.get_value_type(ty).as_pointer())
        val = builder.load(ptr)
        context.nrt.incref(builder, ty, val)
        return val

    return ty(addr, jobty), codegen


@intrinsic
def call_worker(typingctx, fn, t, nt, ctx):  # noqa: ANN001, ANN201
    """Call the C worker at address ``fn`` as ``fn(t, nt, ctx)``."""

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        i64 = ir.IntType(64)
        fnty = ir.FunctionType(ir.VoidType(), [i64, i64, i64])
        fptr = builder.inttoptr(args[0], fnty.as_pointer())
        builder.call(fptr, [context.cast(builder, a, ty, types.int64)
                            for a, ty in zip(args[1:], sig.args[1:])])
        return context.get_dummy_value()

    return types.none(types.intp, types.intp, types.intp, types.intp), codegen


@njit(parallel=True, cache=True)
def launch(nt: int, fn: int, ctx: int) -> None:
    """Run worker ``fn`` on ``nt`` threads (``fn(t, nt, ctx)`` for t in 0..nt-1); shared by every kernel."""
    for t in prange(nt):
        call_worker(fn, t, nt, ctx)


def _make_worker(name: str, body: Callable, job_type: types.Type) -> object:
    """Compile (or load from disk) ``cfunc`` ``name(t, nt, ctx): body(t, nt, load_job(ctx, JOB))``.

    The function is created from source with this file as its filename so Numba's cache can locate it; its
    index key is the bytecode, and the file's stamp invalidates it when this package changes.
    """
    key = (name, job_type)
    if key in _WORKERS:
        return _WORKERS[key]
    fname = "_worker_" + "".join(ch if ch.isalnum() else "_" for ch in f"{name}_{job_type}")[:180]
    ns = {"__name__": __name__, "body": body, "load_job": load_job, "JOB": job_type}
    code = compile(f"def {fname}(t, nt, ctx):\n    body(t, nt, load_job(ctx, JOB))\n", _FILE, "exec")
    exec(code, ns)  # noqa: S102 - fixed template, names only
    worker = cfunc(_WORKER_SIG, cache=True)(ns[fname])
    # Make the symbol resolvable from any later module (callers declare it by name, see make_runner).
    llvm.add_symbol(worker.native_name, worker.address)
    _WORKERS[key] = worker
    return worker


def make_runner(name: str, body: Callable) -> Callable:
    """Intrinsic ``run(nt, job)``: run ``body(t, nt, job)`` for t < nt (serially when nt == 1) via the worker
    compiled for ``typeof(job)``. ``body`` must be an @njit(inline="always") function of (t, nt, job)."""

    @intrinsic
    def _worker_fn(typingctx, job):  # noqa: ANN001, ANN202
        worker = _make_worker(name, body, job)
        symbol = worker.native_name

        def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
            i64 = ir.IntType(64)
            fnty = ir.FunctionType(ir.VoidType(), [i64, i64, i64])
            fn = cgutils.get_or_insert_function(builder.module, fnty, symbol)
            return builder.ptrtoint(fn, context.get_value_type(types.intp))

        return types.intp(job), codegen

    @njit(inline="always")
    def run(nt, job):  # noqa: ANN001, ANN202
        fn = _worker_fn(job)
        ctx = job_addr(job)
        if nt == 1:
            call_worker(fn, 0, 1, ctx)
        else:
            launch(nt, fn, ctx)

    return run
