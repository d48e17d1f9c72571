"""The numba.cuda backend (``nngraph.compile(model, target="cuda")``).

Importing this package is cheap and never touches the GPU; ``require_cuda()`` checks that numba.cuda is importable
and that a GPU (or the CUDA simulator, ``NUMBA_ENABLE_CUDASIM=1``) is usable, then imports the lowering rules, which
register themselves with ``register_lowering(op, "cuda")``.
"""
from __future__ import annotations

from typing import Any


_READY: list[bool] = []


class CudaUnavailableError(RuntimeError):
    """``target="cuda"`` without numba.cuda or without a usable GPU."""


def simulator() -> bool:
    """True when numba runs CUDA kernels in its Python simulator (``NUMBA_ENABLE_CUDASIM=1``)."""
    from numba import config

    return bool(config.ENABLE_CUDASIM)


def cuda_module() -> Any:
    try:
        from numba import cuda
    except Exception as e:  # noqa: BLE001 -- numba-cuda missing or broken (e.g. numpy too new for it)
        raise CudaUnavailableError(
            f"target='cuda' needs numba.cuda, which failed to import ({type(e).__name__}: {e}); install the extra: "
            "pip install 'nngraph[cuda]' (numba-cuda with numpy < 2.5)") from e
    return cuda


def require_cuda() -> Any:
    """numba.cuda, after checking a GPU (or the simulator) is usable; registers the CUDA lowerings once."""
    cuda = cuda_module()
    if not simulator():
        try:
            ok = cuda.is_available()
            reason = "" if ok else "numba.cuda.is_available() is False"
        except Exception as e:  # noqa: BLE001
            ok, reason = False, f"{type(e).__name__}: {e}"
        if not ok:
            raise CudaUnavailableError(
                f"target='cuda' needs a usable NVIDIA GPU and CUDA driver ({reason or 'no device found'}); "
                "run `python -c 'from numba import cuda; cuda.detect()'` to see what numba finds, or set "
                "NUMBA_ENABLE_CUDASIM=1 (before importing numba) to run on the slow CUDA simulator")
    register_lowerings()
    return cuda


def register_lowerings() -> None:
    """Import the lowering rules (once); they register themselves for target "cuda". Needs numba.cuda, not a GPU
    (the PTX compile check plans launches without one)."""
    if not _READY:
        from . import (elementwise, gemm, lower_loss, lower_misc, lower_random,  # noqa: F401 -- register the
                       lower_seq, lower_vision, shape)  # CUDA lowerings

        elementwise.register()
        shape.register()
        _READY.append(True)
