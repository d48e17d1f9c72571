"""Threaded kernel launch through C-callable workers (compile-time plumbing for the ``*_std`` entry points).

Why: a ``parallel=True`` entry point re-optimises the whole kernel body (parfor gufunc + caller), and Numba links a
callee's full LLVM IR into every caller and re-optimises it there, so each kernel cost ~6 s of extra LLVM time per
entry point and again in every graph executor calling it. Instead each kernel body is compiled once per (kernel,
job type) as a ``@cfunc`` worker ``void(t, nt, job_address)`` (disk-cached), and the entry points are tiny @njit
functions that pack their arguments into a ``job`` tuple on the stack and call the worker -- directly, or through
one shared cached ``prange`` launcher. Callers link only the tiny entry code.

Workers are found at run time through a process-wide table (``nngraph_worker_table``): an entry point reads its
worker's slot; if the slot is empty -- the first call of that kernel in this process -- it calls back into Python
once (``nngraph_worker_resolve``) to compile the worker or load it from disk. So code calling the entry points may
itself use ``cache=True``, and only the kernels a model runs are ever compiled.

The same table serves :func:`standalone` entry points: the kernels that generated executors call (the conv
dispatcher, pooling, attention, ...) run whole in a worker, so an executor links a few instructions per kernel
instead of compiling each kernel's code again.
"""
from __future__ import annotations

import ctypes
import hashlib
import inspect
import os
import pickle
import traceback
from typing import Callable

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import cfunc, njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from .. import KERNEL_STAMP

_WORKER_SIG = types.void(types.intp, types.intp, types.intp)
_FILE = os.path.abspath(__file__)
_WORKERS: dict[tuple, object] = {}
_BODIES: dict[str, Callable] = {}

#: Prefix of the process-wide symbols below: the top-level package's name, so that a second copy of the package in
#: one process (an A/B of two revisions, say) keeps its own table and callback instead of sharing this one's slots.
_SYM = __name__.split(".")[0]

_TABLE_BITS = 12
_TABLE_SIZE = 1 << _TABLE_BITS
_TABLE = np.zeros(_TABLE_SIZE, np.int64)  # worker address per slot
_KEYS = np.zeros(_TABLE_SIZE, np.int64)  # 63-bit key hash owning the slot
llvm.add_symbol(f"{_SYM}_worker_table", _TABLE.ctypes.data)
llvm.add_symbol(f"{_SYM}_worker_keys", _KEYS.ctypes.data)


#: Worker names carry the hash of every kernel source file (``kernel_stamp``: this package and the kernel modules
#: beside it, whose entry points run in workers too, :func:`standalone`), so editing any of them retires old cache
#: entries (Numba's own cache only watches the decorated function's file, not the kernels it inlines).
_DIGEST = KERNEL_STAMP[:12]


def _make_worker(name: str, job_type: types.Type) -> object:
    """Compile (or load from disk) ``cfunc`` ``name(t, nt, ctx): body(t, nt, load_job(ctx, JOB))``.

    The function is created from source with this file as its filename so Numba's cache can locate it; the name
    carries the job type and the sources digest, so a cache entry can only ever match the same code.
    """
    key = (name, job_type)
    if key in _WORKERS:
        return _WORKERS[key]
    tkey = hashlib.sha1(str(job_type).encode()).hexdigest()[:12]
    fname = f"_worker_{name}_{tkey}_{_DIGEST}"
    ns = {"__name__": __name__, "body": _BODIES[name], "load_job": load_job, "JOB": job_type}
    code = compile(f"def {fname}(t, nt, ctx):\n    body(t, nt, load_job(ctx, JOB))\n", _FILE, "exec")
    exec(code, ns)  # noqa: S102 - fixed template, names only
    worker = cfunc(_WORKER_SIG, cache=True)(ns[fname])
    _WORKERS[key] = worker
    return worker


def _slot_of(blob: bytes) -> tuple[int, int]:
    h = int.from_bytes(hashlib.sha1(blob).digest()[:8], "little") & ((1 << 63) - 1)
    return h % _TABLE_SIZE, max(h, 1)


def _install(blob: bytes, worker: object) -> int:
    slot, h = _slot_of(blob)
    if _KEYS[slot] in (0, h):  # first come keeps the slot; a colliding key resolves through Python each call
        _TABLE[slot] = worker.address
        _KEYS[slot] = h
    return worker.address


@ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64)
def _resolve(ptr: int, size: int) -> int:
    """Called from compiled code when a worker slot is empty: compile/load the worker, fill the slot. On failure
    the traceback goes to stderr and 0 comes back (the caller raises; an exception cannot cross the C frame)."""
    try:
        blob = ctypes.string_at(ptr, size)
        name, job_type = pickle.loads(blob)
        return _install(blob, _make_worker(name, job_type))
    except BaseException:  # noqa: BLE001 - must not unwind through compiled code
        traceback.print_exc()
        return 0


llvm.add_symbol(f"{_SYM}_worker_resolve", ctypes.cast(_resolve, ctypes.c_void_p).value)


# --------------------------------------------------------------------------------------------- intrinsics


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
        builder.call(fptr, [context.cast(builder, a, ty, types.int64) for a, ty in zip(args[1:], sig.args[1:])])
        return context.get_dummy_value()

    return types.none(types.intp, types.intp, types.intp, types.intp), codegen


@njit(parallel=True, cache=True)
def launch(nt: int, fn: int, ctx: int) -> None:
    """Run worker ``fn`` on ``nt`` threads (``fn(t, nt, ctx)`` for t in 0..nt-1); shared by every kernel."""
    for t in prange(nt):
        call_worker(fn, t, nt, ctx)


def _external_array(module: ir.Module, name: str) -> ir.GlobalVariable:
    arr_ty = ir.ArrayType(ir.IntType(64), _TABLE_SIZE)
    gv = module.globals.get(name)
    if gv is None:
        gv = ir.GlobalVariable(module, arr_ty, name)
        gv.linkage = "external"
    return gv


def make_runner(name: str, body: Callable) -> Callable:
    """Intrinsic-backed ``run(nt, job)``: ``body(t, nt, job)`` for t < nt (serially when nt == 1) in the worker
    compiled for ``typeof(job)``. ``body`` must be an @njit(inline="always") function of (t, nt, job).

    The workers read ``job`` by address, without a reference: every array in it must stay referenced by the
    caller until ``run`` returns. An array allocated only to be put in the job is dead to Numba once the tuple is
    built, and freed before the workers read it (heap corruption) -- pass it through a non-inlined function, as
    the conv entry points do (``_launch_shift_std``), or use it after ``run``."""
    _BODIES[name] = body

    @intrinsic
    def _worker_fn(typingctx, job):  # noqa: ANN001, ANN202
        # The worker is compiled on the first call that needs it, not here: a caller such as the conv dispatcher
        # references every algorithm's kernel, and compiling them all made a first ResNet-18 compile ~20 s longer
        # for a depthwise kernel it never runs.
        blob = pickle.dumps((name, job))
        slot, h = _slot_of(blob)

        def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
            i64 = ir.IntType(64)
            mod = builder.module
            zero = ir.Constant(ir.IntType(32), 0)
            idx = ir.Constant(ir.IntType(32), slot)
            fn = builder.load(builder.gep(_external_array(mod, f"{_SYM}_worker_table"), [zero, idx]))
            owner = builder.load(builder.gep(_external_array(mod, f"{_SYM}_worker_keys"), [zero, idx]))
            ok = builder.and_(builder.icmp_signed("==", owner, ir.Constant(i64, h)),
                              builder.icmp_signed("!=", fn, ir.Constant(i64, 0)))
            result = cgutils.alloca_once_value(builder, fn)
            with builder.if_then(builder.not_(ok), likely=False):
                gname = f"{_SYM}_worker_key_{slot}_{h}"
                gv = mod.globals.get(gname)
                if gv is None:
                    gv = cgutils.global_constant(mod, gname, cgutils.make_bytearray(blob))
                ptr = builder.bitcast(gv, ir.IntType(8).as_pointer())
                rty = ir.FunctionType(i64, [ir.IntType(8).as_pointer(), i64])
                resolve = cgutils.get_or_insert_function(mod, rty, f"{_SYM}_worker_resolve")
                found = builder.call(resolve, [ptr, ir.Constant(i64, len(blob))])
                with builder.if_then(builder.icmp_signed("==", found, ir.Constant(i64, 0)), likely=False):
                    context.call_conv.return_user_exc(builder, RuntimeError, (
                        f"nngraph: compiling the CPU kernel {name!r} failed (the error is printed above)",))
                builder.store(found, result)
            return builder.load(result)

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


def make_generic_runner(name: str, body_for: Callable) -> Callable:
    """Like :func:`make_runner` for kernels taking a user epilogue: ``run(nt, job, epi)``.

    ``body_for(epi)`` returns the inline body for one epilogue function; its worker is compiled per (epilogue,
    job type) and not disk-cached (the epilogue is arbitrary code). The entry point embeds the worker address, so
    functions calling it are not disk-cacheable either -- use the ``*_std`` kernels for cached code."""
    bodies: dict = {}

    @intrinsic
    def _worker_fn(typingctx, job, epi):  # noqa: ANN001, ANN202
        disp = epi.dispatcher
        key = (name, job, disp)
        if key not in _WORKERS:
            if disp not in bodies:
                bodies[disp] = body_for(disp)
            ns = {"body": bodies[disp], "load_job": load_job, "JOB": job}
            exec("def worker(t, nt, ctx):\n    body(t, nt, load_job(ctx, JOB))\n", ns)  # noqa: S102
            _WORKERS[key] = cfunc(_WORKER_SIG)(ns["worker"])
        address = _WORKERS[key].address

        def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
            return ir.Constant(ir.IntType(64), address)

        return types.intp(job, epi), codegen

    @njit(inline="always")
    def run(nt, job, epi):  # noqa: ANN001, ANN202
        fn = _worker_fn(job, epi)
        ctx = job_addr(job)
        if nt == 1:
            call_worker(fn, 0, 1, ctx)
        else:
            launch(nt, fn, ctx)

    return run


@intrinsic
def _flag_slot(typingctx):  # noqa: ANN001, ANN201
    """Address of a zeroed int64 in the calling function's frame."""

    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        i64 = ir.IntType(64)
        slot = cgutils.alloca_once_value(builder, ir.Constant(i64, 0))
        return builder.ptrtoint(slot, i64)

    return types.intp(), codegen


@intrinsic
def _flag_get(typingctx, addr):  # noqa: ANN001, ANN201
    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        return builder.load(builder.inttoptr(args[0], ir.IntType(64).as_pointer()))

    return types.int64(types.intp), codegen


@intrinsic
def _flag_set(typingctx, addr):  # noqa: ANN001, ANN201
    def codegen(context, builder, sig, args):  # noqa: ANN001, ANN202
        builder.store(ir.Constant(ir.IntType(64), 1), builder.inttoptr(args[0], ir.IntType(64).as_pointer()))
        return context.get_dummy_value()

    return types.none(types.intp), codegen


def standalone(kernel: Callable) -> Callable:
    """An @njit entry point that runs ``kernel`` (an @njit function returning nothing) in a disk-cached worker.

    Why: Numba links a callee's whole LLVM IR into its caller and optimises and compiles it again there, so every
    generated executor calling the conv or pooling dispatcher compiled each of them again (1-2 s apiece, for every
    new model) although their machine code was cached. Through the worker table a caller links only this small
    entry, itself disk-cached. ``kernel`` must not raise on purpose: an exception inside it (a failed allocation,
    say) cannot cross the worker; it becomes a ``RuntimeError`` naming the kernel, without the original message."""
    py = kernel.py_func
    name = f"{py.__module__.rsplit('.', 1)[-1]}_{py.__qualname__}"
    message = f"nngraph: the CPU kernel {py.__module__}.{py.__qualname__} failed"

    @njit(inline="always")
    def body(t, nt, job):  # noqa: ANN001, ANN202
        flag, args = job
        try:
            kernel(*args)
        except Exception:  # noqa: BLE001
            _flag_set(flag)

    run = make_runner(name, body)

    # The entry is made from source, not as a closure: Numba keys a closure's cache entries on its pickled cell
    # contents, which differ between processes (every process would add an entry). It carries the kernel's name and
    # file: the generated executors import it under that name, and its cache files sit beside the kernel's.
    ns = {"__name__": py.__module__, "run": run, "flag_slot": _flag_slot, "flag_get": _flag_get, "message": message}
    src = (f"def {py.__name__}(*args):\n    flag = flag_slot()\n    run(1, (flag, args))\n"
           "    if flag_get(flag) != 0:\n        raise RuntimeError(message)\n")
    exec(compile(src, inspect.getfile(py), "exec"), ns)  # noqa: S102 - fixed template, names only
    entry = ns[py.__name__]
    entry.__qualname__ = py.__qualname__
    entry.__doc__ = py.__doc__
    out = njit(nogil=True, cache=True)(entry)
    out.kernel = kernel
    return out
