"""The kernel launch plumbing (``kernels/launch.py``): workers compile on first use, and a worker that fails to
compile raises a clear error in the calling code instead of jumping to a null address."""
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
