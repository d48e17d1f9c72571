"""Compile a launch plan's kernels to PTX for a real GPU target without a GPU (``numba.cuda.compile_ptx``).

The CUDA simulator runs kernels as Python, so code that types in Python but not in numba.cuda (numpy calls, Python
objects, reflected lists, ...) passes every simulator test. ``compile_plan_ptx`` types and compiles every distinct
(kernel, argument types) pair of a ``Plan`` for a compute capability through NVVM, which catches that. Needs numba
without the simulator (``NUMBA_ENABLE_CUDASIM`` unset) and CUDA's NVVM library; no GPU or driver.

Where CUDA's ``ptxas`` is on the PATH, each PTX is also assembled for the target (``Resources``): that catches inline
PTX the assembler rejects, and launches that ask for more registers or shared memory per block than an SM has --
on a GPU the launch fails with "too many resources requested", which the simulator never reports.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from .codegen import Arena, Launch, Plan


def plan_for(model: Any, *inputs: Any, precision: str = "fp32") -> Plan:
    """The CUDA launch plan of ``model`` (eval mode) specialized for ``inputs``; no device needed."""
    from ...passes import optimize
    from . import register_lowerings
    from .codegen import generate

    register_lowerings()
    model.eval()
    result = optimize(model, *inputs, training=False, numerics=False)
    return generate(result.graph, precision)


def arena_dtypes(plan: Plan) -> dict[str, np.dtype]:
    """dtype of every arena name a plan's launches refer to."""
    from .codegen import weight_arena, work_arena

    out: dict[str, np.dtype] = {}
    for d in plan.arenas.weight_sizes:
        out[weight_arena(np.dtype(d))] = np.dtype(d)
    for d in plan.arenas.work_sizes:
        out[work_arena(np.dtype(d))] = np.dtype(d)
    for k, d in enumerate(plan.input_dtypes):
        out[f"I{k}"] = np.dtype(d)
    for a, spec in plan.output_arenas:
        out[a] = np.dtype(spec.dtype)
    return out


def launch_signature(launch: Launch, dtypes: dict[str, np.dtype]) -> tuple:
    """numba types of a launch's arguments (arenas are 1-d C-contiguous device arrays)."""
    from numba import types
    from numba.np.numpy_support import from_dtype

    sig: list[Any] = []
    for a in launch.args:
        if isinstance(a, Arena):
            sig.append(types.Array(from_dtype(dtypes[a.name]), 1, "C"))
        elif isinstance(a, tuple):
            sig.append(types.UniTuple(types.int64, len(a)) if a else types.Tuple(()))
        elif isinstance(a, np.float64):
            sig.append(types.float64)
        elif isinstance(a, np.int64):
            sig.append(types.int64)
        else:
            raise TypeError(f"unexpected launch argument {a!r} ({type(a).__name__}) in node {launch.node}")
    return tuple(sig)


class _StubDevice:
    def __init__(self, cc: tuple[int, int]) -> None:
        self.compute_capability = cc


def _stub_current_device(cc: tuple[int, int]) -> None:
    """Device functions called from a kernel are compiled for ``get_current_device().compute_capability``, which
    needs a driver: without one, answer ``cc`` (this process only compiles; it never launches)."""
    from numba.cuda import dispatcher

    try:
        from numba import cuda

        if cuda.is_available():
            return
    except Exception:  # noqa: BLE001
        pass
    dispatcher.get_current_device = lambda: _StubDevice(cc)


# per-SM limits of every compute capability the backend targets (sm_70 .. sm_90): a block may use at most this many
# registers (allocated per warp in units of 256) and this much static shared memory
REGS_PER_BLOCK = 65536
REG_ALLOC_UNIT = 256
STATIC_SMEM_PER_BLOCK = 48 * 1024
MAX_THREADS_PER_BLOCK = 1024


@dataclass(frozen=True)
class Resources:
    """What ``ptxas`` allocates for one kernel: registers per thread, spilled bytes, static shared memory bytes, and
    the per-thread stack frame (local memory: arrays the compiler could not keep in registers)."""

    registers: int
    spill_bytes: int
    shared_bytes: int
    stack_bytes: int = 0

    def block_problem(self, threads: int) -> str | None:
        """Why a block of ``threads`` threads cannot launch with these resources, or None."""
        if threads > MAX_THREADS_PER_BLOCK:
            return f"{threads} threads per block > {MAX_THREADS_PER_BLOCK}"
        per_warp = -(-self.registers * 32 // REG_ALLOC_UNIT) * REG_ALLOC_UNIT
        regs = per_warp * -(-threads // 32)
        if regs > REGS_PER_BLOCK:
            return (f"{self.registers} registers x {threads} threads = {regs} registers per block > "
                    f"{REGS_PER_BLOCK}")
        if self.shared_bytes > STATIC_SMEM_PER_BLOCK:
            return f"{self.shared_bytes} bytes of static shared memory > {STATIC_SMEM_PER_BLOCK}"
        return None


def ptxas_path() -> str | None:
    """CUDA's PTX assembler, if installed."""
    return shutil.which("ptxas")


def assemble(ptx: str, cc: tuple[int, int] = (9, 0)) -> Resources:
    """Assemble ``ptx`` with ``ptxas`` for ``sm_<cc>``; raises ``RuntimeError`` with the assembler's message."""
    exe = ptxas_path()
    if exe is None:
        raise RuntimeError("ptxas is not on the PATH")
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "k.ptx")
        with open(src, "w") as f:
            f.write(ptx)
        proc = subprocess.run([exe, f"-arch=sm_{cc[0]}{cc[1]}", "-v", "-o", os.path.join(d, "k.cubin"), src],
                              capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"ptxas failed: {proc.stderr.strip()[:2000]}")
    # -v reports every function; the kernel is the entry (device functions are inlined or report fewer registers)
    regs = [int(v) for v in re.findall(r"Used (\d+) registers", proc.stderr)]
    spills = [int(v) for v in re.findall(r"(\d+) bytes spill stores", proc.stderr)]
    smem = [int(v) for v in re.findall(r"(\d+) bytes smem", proc.stderr)]
    stack = [int(v) for v in re.findall(r"(\d+) bytes stack frame", proc.stderr)]
    return Resources(max(regs, default=0), max(spills, default=0), max(smem, default=0), max(stack, default=0))


def compile_plan_ptx(plan: Plan, cc: tuple[int, int] = (9, 0), seen: set | None = None,
                     resources: dict | None = None) -> list[tuple[str, str]]:
    """PTX-compile every distinct (kernel, signature) of ``plan``; returns the (node, kernel) pairs compiled.
    With ``resources`` (a dict, filled with ``(kernel name, signature) -> Resources``) and ``ptxas`` installed, also
    assemble each kernel and check every launch's block against its registers and shared memory. Raises
    ``RuntimeError`` naming the node and kernel that fail."""
    from numba import cuda

    _stub_current_device(cc)
    dtypes = arena_dtypes(plan)
    seen = set() if seen is None else seen
    done = []
    for step in plan.program:
        if not isinstance(step, Launch):
            continue
        fn = getattr(step.kernel, "py_func", step.kernel)
        sig = launch_signature(step, dtypes)
        key = (fn, sig)
        where = f"kernel {fn.__module__}.{fn.__name__} (node {step.node}) for cc {cc[0]}.{cc[1]}"
        if key not in seen:
            seen.add(key)
            try:
                src, _ = cuda.compile_ptx(fn, sig, cc=cc)
                if resources is not None and ptxas_path() is not None:
                    resources[key] = assemble(src, cc)
            except Exception as e:  # noqa: BLE001 -- name the kernel and node
                raise RuntimeError(f"PTX compile of {where} failed: {type(e).__name__}: {e}") from e
            done.append((step.node, fn.__name__))
        res = None if resources is None else resources.get(key)
        problem = None if res is None else res.block_problem(int(np.prod(step.block)))
        if problem is not None:
            raise RuntimeError(f"launch of {where} with block {tuple(step.block)} cannot run: {problem}")
    return done


class _Attrs(dict):
    """Sample attributes for any scalar formula: 0.5 for every numeric attribute, float32 for ``dtype``."""

    def __missing__(self, key: str) -> Any:
        return np.dtype(np.float32) if key == "dtype" else 0.5


_INT_OPS = ("bitwise_and", "bitwise_or", "bitwise_xor")


def scalar_formula_kernels(dtype: np.dtype) -> list[tuple[str, Any, tuple]]:
    """(op name, flat kernel, signature) of one generated elementwise kernel per formula of the CPU backend's
    ``SCALAR`` table (the CUDA elementwise kernels are generated from it) for ``dtype`` operands."""
    from numba import types
    from numba.np.numpy_support import from_dtype

    from ..cpu.elementwise import SCALAR
    from .elementwise import kernel_source, load

    out = []
    for name in SCALAR:
        dt = np.dtype(np.int64) if name in _INT_OPS else np.dtype(dtype)
        for n_in in (1, 2, 3, 4):
            try:
                SCALAR[name]([f"x{i}" for i in range(n_in)], _Attrs(), repr)
                break
            except (IndexError, ValueError, TypeError):
                continue
        steps = [(name, _Attrs(), tuple(("in", i) for i in range(n_in)))]
        mod = load(kernel_source(steps, n_in, dt if dt.kind == "f" else np.dtype(np.float64)), "cuda_ew")
        arr = types.Array(from_dtype(dt), 1, "C")
        sig = (types.int64, arr, types.int64) + (arr, types.int64) * n_in
        out.append((name, mod.flat, sig))
    return out


def compile_scalar_formulas_ptx(dtype: np.dtype, cc: tuple[int, int] = (9, 0)) -> list[str]:
    """PTX-compile the elementwise kernel of every ``SCALAR`` formula; returns the names of the formulas that fail
    (with the error)."""
    from numba import cuda

    _stub_current_device(cc)
    failed = []
    for name, kernel, sig in scalar_formula_kernels(dtype):
        try:
            cuda.compile_ptx(getattr(kernel, "py_func", kernel), sig, cc=cc)
        except Exception as e:  # noqa: BLE001
            failed.append(f"{name}: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
    return failed


__all__ = ["plan_for", "compile_plan_ptx", "compile_scalar_formulas_ptx", "launch_signature", "assemble",
           "Resources", "ptxas_path"]
