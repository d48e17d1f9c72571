"""Recycled device memory for the arrays a device-I/O call returns.

numba.cuda has no caching allocator: each ``device_array`` is a ``cuMemAlloc`` (about 40 us of host time on an
H100, a third of the MLP's batch-1 call), and numba releases dropped arrays in batches of ``cuMemFree``, which
synchronizes the device. An ``OutputPool`` keeps the blocks of one output slot of one specialization. The array a
call returns owns a memory pointer whose finalizer puts its block back into the pool when the caller drops the last
reference: to the array, to a view of it, or to a CuPy / PyTorch array that borrowed it through
``__cuda_array_interface__`` (they keep the numba array alive). A block that is back is reused by a later call
only, whose kernels are queued on the legacy default stream after all work queued before: work that the caller
queued on another stream and that reads an array it has since dropped is the caller's to synchronize (as with
PyTorch's caching allocator).

The returned arrays are ``numba.cuda`` ``DeviceNDArray`` s built by copying a template's attributes (0.5 us instead
of 6 us for the constructor, which rebuilds the layout description each time).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np


class OutputPool:
    """Device arrays of one shape and dtype whose memory returns to the pool when the caller drops them.

    ``alloc(nbytes)`` returns a numba ``MemoryPointer`` owning fresh device memory (the current context's
    ``memalloc``); at most ``keep`` free blocks are kept, further returned blocks are released to numba."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, alloc: Callable[[int], Any], keep: int = 2) -> None:
        from numba.cuda.cudadrv import devicearray, driver

        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.nbytes = max(int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize, 1)
        self._alloc = alloc
        self._keep = keep
        self._free: list[Any] = []
        self._pointer = driver.MemoryPointer
        self._array = devicearray.DeviceNDArray
        self._template: dict[str, Any] | None = None
        self.n_allocated = 0  # blocks obtained from ``alloc`` (for tests and benchmarks)

    def _release(self, block: Any) -> None:
        # runs from a weakref finalizer, possibly on another thread: list.append is atomic, a lost race only
        # keeps one block more than ``keep``
        if len(self._free) < self._keep:
            self._free.append(block)

    def take(self) -> Any:
        """A ``DeviceNDArray`` of the pool's shape and dtype, on a free block or a new one."""
        try:
            block = self._free.pop()
        except IndexError:
            block = self._alloc(self.nbytes)
            self.n_allocated += 1
        owner = self._pointer(block.context, block.device_pointer, self.nbytes,
                              finalizer=lambda: self._release(block))
        if self._template is None:
            arr = self._array(self.shape, c_strides(self.shape, self.dtype.itemsize), self.dtype, gpu_data=owner)
            self._template = {k: v for k, v in vars(arr).items() if k != "gpu_data"}  # not the first block's owner
            return arr
        arr = self._array.__new__(self._array)
        arr.__dict__.update(self._template)
        arr.gpu_data = owner
        return arr


def c_strides(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """C-order strides in bytes."""
    st, acc = [], itemsize
    for n in reversed(shape):
        st.append(acc)
        acc *= max(int(n), 1)
    return tuple(reversed(st))
