"""The Numba CPU backend. Importing it registers the CPU lowering rules in the op registry.

Numba's on-disk cache of a kernel is keyed by the file that defines it, not by the files it calls into (a kernel in
``gemm.py`` inlines code from ``simd.py``), so a change to one kernel source could leave stale machine code behind
for another. ``_check_kernel_caches`` hashes every kernel source file and clears this package's Numba caches when the
hash differs from the one recorded beside them.
"""
from __future__ import annotations

import glob
import hashlib
import os


def kernel_stamp() -> str:
    """Hash of every kernel source file (part of the cache key of generated executors, which link kernel code)."""
    here = os.path.dirname(os.path.abspath(__file__))
    sources = sorted(glob.glob(os.path.join(here, "kernels*.py")) + glob.glob(os.path.join(here, "kernels", "*.py")))
    digest = hashlib.sha256()
    for path in sources:
        with open(path, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


KERNEL_STAMP = kernel_stamp()


def _check_kernel_caches() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    stamp = KERNEL_STAMP
    marker = os.path.join(here, "__pycache__", "nngraph-kernels.stamp")
    try:
        with open(marker) as f:
            if f.read() == stamp:
                return
    except OSError:
        pass
    for pattern in ("__pycache__/*.nbi", "__pycache__/*.nbc", "kernels/__pycache__/*.nbi", "kernels/__pycache__/*.nbc"):
        for path in glob.glob(os.path.join(here, pattern)):
            try:
                os.remove(path)
            except OSError:
                pass
    try:
        os.makedirs(os.path.dirname(marker), exist_ok=True)
        with open(marker, "w") as f:
            f.write(stamp)
    except OSError:  # a read-only install: Numba then cannot write caches there either
        pass


_check_kernel_caches()

from . import elementwise, heavy, shape  # noqa: E402
from . import lower_norm, lower_reduce, lower_sparse  # noqa: E402,F401 -- register at import
from . import lower_pooling, lower_vision  # noqa: E402,F401 -- pooling, padding and vision lowerings
from . import lower_sequence  # noqa: E402,F401 -- matmul/einsum, attention, recurrences
from . import lower_loss, lower_random  # noqa: E402,F401 -- losses; random ops that draw nothing
from . import lower_misc  # noqa: E402,F401 -- tile/repeat/setitem, norms and distances, conv_transpose, ...

elementwise.register()
heavy.register()
shape.register()
