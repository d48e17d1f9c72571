"""The kernel launch plumbing (``kernels/launch.py``): workers compile on first use, and a worker that fails to
compile raises a clear error in the calling code instead of jumping to a null address; ``standalone`` entry points
run a kernel without linking it into their caller."""
from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from nngraph.backends.cpu.kernels import launch


@njit(inline="always")
def _body_add(t, nt, job):  # noqa: ANN001, ANN202
    x, v = job
    for i in range(t, x.size, nt):
        x[i] += v


@njit(inline="always")
def _body_mul(t, nt, job):  # noqa: ANN001, ANN202
    x, v = job
    for i in range(t, x.size, nt):
        x[i] *= v


@njit(inline="always")
def _body_broken(t, nt, job):  # noqa: ANN001, ANN202
    x, v = job
    x[0] = v.no_such_attribute  # fails to type when the worker is compiled


_run_add = launch.make_runner("test_launch_add", _body_add)
_run_mul = launch.make_runner("test_launch_mul", _body_mul)
_run_broken = launch.make_runner("test_launch_broken", _body_broken)


@njit
def _either(x, v, add):  # noqa: ANN001, ANN202
    if add:
        _run_add(1, (x, v))
    else:
        _run_mul(2, (x, v))


@njit
def _call_broken(x, v):  # noqa: ANN001, ANN202
    _run_broken(1, (x, v))


def _compiled(name: str) -> bool:
    return any(key[0] == name for key in launch._WORKERS)


def test_workers_compile_on_first_use_only():
    """Compiling a function that references two kernels compiles neither worker; each call compiles (once) only the
    worker it runs, on one thread or several."""
    x = np.arange(5.0)
    _either.compile("(float64[::1], float64, boolean)")
    assert not _compiled("test_launch_add") and not _compiled("test_launch_mul")
    _either(x, 2.0, True)
    np.testing.assert_array_equal(x, np.arange(5.0) + 2.0)
    assert _compiled("test_launch_add") and not _compiled("test_launch_mul")
    _either(x, 3.0, False)
    np.testing.assert_array_equal(x, (np.arange(5.0) + 2.0) * 3.0)
    assert _compiled("test_launch_mul")


def test_a_worker_that_fails_to_compile_raises(capfd):
    """The calling code raises a RuntimeError naming the kernel; the compile error is printed; nothing crashes."""
    x = np.zeros(3)
    with pytest.raises(RuntimeError, match="compiling the CPU kernel 'test_launch_broken' failed"):
        _call_broken(x, 1.0)
    assert "no_such_attribute" in capfd.readouterr().err
    np.testing.assert_array_equal(x, np.zeros(3))


@njit
def _fill_or_fail(x, v):  # noqa: ANN001, ANN202
    if v < 0:
        raise ValueError("a negative fill value")
    for i in range(x.size):
        x[i] = v


_fill = launch.standalone(_fill_or_fail)


@njit
def _fill_twice(x, y, v):  # noqa: ANN001, ANN202
    _fill(x, v)
    _fill(y, v + 1.0)


def test_standalone_entry_runs_the_kernel_without_linking_it():
    """A compiled caller runs the kernel (arrays written, scalars passed) while its own machine code holds only the
    entry: the kernel's code (its error message, here) is not in the caller's module. The entry is callable from
    Python too, and is not a closure (Numba keys a closure's disk-cache entries on per-process data)."""
    x, y = np.zeros(3), np.zeros(2, np.float64)
    _fill_twice(x, y, 2.0)
    np.testing.assert_array_equal(x, 2.0)
    np.testing.assert_array_equal(y, 3.0)
    llvm = "".join(_fill_twice.inspect_llvm().values())
    assert "a negative fill value" not in llvm
    _fill_or_fail.compile("(float64[::1], float64)")  # (its worker may have come from the disk cache)
    assert "a negative fill value" in "".join(_fill_or_fail.inspect_llvm().values())
    _fill(x, 5.0)
    np.testing.assert_array_equal(x, 5.0)
    assert _fill.kernel is _fill_or_fail and _fill.py_func.__closure__ is None
    assert (_fill.py_func.__module__, _fill.py_func.__qualname__) == (__name__, "_fill_or_fail")


def test_standalone_entry_raises_when_the_kernel_raises():
    """An exception inside the kernel cannot cross the worker: the entry raises a RuntimeError naming the kernel
    (in compiled callers and from Python) rather than returning as if it had run."""
    with pytest.raises(RuntimeError, match=r"the CPU kernel .*test_launch\._fill_or_fail failed"):
        _fill_twice(np.zeros(2), np.zeros(2), -5.0)
    with pytest.raises(RuntimeError, match="_fill_or_fail failed"):
        _fill(np.zeros(2), -1.0)
