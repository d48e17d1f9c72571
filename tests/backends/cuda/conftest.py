"""CUDA backend tests: on a machine without a usable NVIDIA GPU they run on numba's CUDA simulator.

This conftest is only loaded when this directory is collected; it switches numba to the simulator before anything
imports ``numba.cuda`` (nngraph imports it lazily, only for target="cuda"). The simulator setting only concerns
``numba.cuda``: the CPU backend's @njit code is unaffected, so CPU tests in the same xdist worker still run natively
(tests/backends/cuda/test_isolation.py checks this).
"""
from __future__ import annotations

import ctypes.util
import os
import sys

import pytest


def _real_gpu() -> bool:
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return False
    return os.path.exists("/dev/nvidiactl") and ctypes.util.find_library("cuda") is not None


REAL_GPU = _real_gpu()
if not REAL_GPU:
    if "numba.cuda" in sys.modules and not getattr(sys.modules["numba"].config, "ENABLE_CUDASIM", 0):
        raise RuntimeError("numba.cuda was imported before tests/backends/cuda/conftest.py could select the simulator")
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    import numba

    numba.config.ENABLE_CUDASIM = 1


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="needs a real NVIDIA GPU (running on the CUDA simulator)")
    for item in items:
        if "gpu" in item.keywords and not REAL_GPU:
            item.add_marker(skip)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gpu: needs a real NVIDIA GPU (skipped on the CUDA simulator)")
