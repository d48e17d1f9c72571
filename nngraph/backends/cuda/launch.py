"""Prepared kernel launches: arguments marshalled once per specialization, not per call.

A numba.cuda launch (``kernel[grid, block](*args)``) types every argument, looks up the overload and converts each
argument to its kernel parameters on every call: with this backend's 20-40 arguments per kernel that measured 120-270
us of host time per launch on an H100 (bench/cuda_check.py), more than most kernels run. ``PreparedLaunch`` does the
lookup and the conversion once and then calls ``cuda.core.launch`` (which numba-cuda itself launches through) with the
stored parameters. Graph inputs and outputs given as device arrays replace the staging buffers' parameters per call.

``DriverLaunch`` (the default) goes one level lower: the kernel parameters live in ctypes storage built once, patched
in place for device-array I/O, and each launch is one ``cuLaunchKernel`` call through ``cuda.bindings`` (H100:
ResNet-18 batch 1 0.90 ms vs 1.16 ms with ``PreparedLaunch``, MLP batch 1 0.128 vs 0.150 ms).
``NNGRAPH_CUDA_LAUNCH=prepared`` / ``dispatcher`` select the ``cuda.core`` launch / numba's own launch path (the
latter is also used on the simulator and when the installed numba-cuda predates ``cuda.core``).
"""
from __future__ import annotations

import os
from typing import Any, Callable


def launch_mode() -> str:
    """``"driver"`` (default), ``"prepared"`` or ``"dispatcher"`` (``NNGRAPH_CUDA_LAUNCH``)."""
    mode = os.environ.get("NNGRAPH_CUDA_LAUNCH", "driver")
    if mode not in ("prepared", "dispatcher", "driver"):
        raise ValueError(f"NNGRAPH_CUDA_LAUNCH must be 'prepared', 'dispatcher' or 'driver', got {mode!r}")
    return mode


class DispatcherLaunch:
    """``kernel[grid, block](*args)`` through numba's dispatcher (argument I/O positions patched per call)."""

    def __init__(self, configured: Callable[..., Any], args: list[Any], io: list[tuple[int, str]],
                 name: str) -> None:
        self.configured, self.args, self.io, self.name = configured, args, io, name

    def __call__(self, ins: list[Any] | None, outs: list[Any] | None) -> None:
        args = self.args
        if ins is not None and self.io:
            args = list(args)
            for i, arena in self.io:
                args[i] = ins[int(arena[1:])] if arena[0] == "I" else outs[int(arena[1:])]
        self.configured(*args)


class PreparedLaunch:
    """One launch with its kernel parameters computed once (see module docstring)."""

    def __init__(self, dispatcher: Any, grid: tuple[int, ...], block: tuple[int, ...], args: list[Any],
                 io: list[tuple[int, str]]) -> None:
        from cuda.core import LaunchConfig, launch  # numba-cuda >= 0.2x launches through cuda.core
        from numba.cuda.cudadrv.driver import _to_core_stream

        self._launch = launch
        self.name = _name(dispatcher)
        self.stream = _to_core_stream(0)
        kernel = dispatcher.compile(tuple(dispatcher.typeof_pyval(a) for a in args))
        self.kernel = kernel
        self.params: list[Any] = []
        self.spans: list[tuple[int, int]] = []
        for t, v in zip(kernel.argument_types, args):
            start = len(self.params)
            kernel._prepare_args(t, v, 0, [], self.params)
            self.spans.append((start, len(self.params)))
        self.cukernel = kernel._codelibrary.get_cufunc().kernel
        self.config = LaunchConfig(grid=_dim3(grid), block=_dim3(block), shmem_size=0)
        self.io = [(self.spans[i], kernel.argument_types[i], arena) for i, arena in io]

    def __call__(self, ins: list[Any] | None, outs: list[Any] | None) -> None:
        params = self.params
        if ins is not None and self.io:
            params = list(params)
            for (lo, hi), ty, arena in self.io:
                value = ins[int(arena[1:])] if arena[0] == "I" else outs[int(arena[1:])]
                if hi - lo == 7 and value.ndim == 1:
                    # a 1-D C-contiguous array of the staging buffer's dtype: (meminfo, parent, nitems, itemsize,
                    # data, shape, stride) -- only the pointer and the length change
                    params[lo + 2] = params[lo + 5] = value.size
                    params[lo + 4] = device_pointer(value)
                    continue
                new: list[Any] = []
                self.kernel._prepare_args(ty, value, 0, [], new)
                params[lo:hi] = new
        self._launch(self.stream, self.config, self.cukernel, *params)


class DriverLaunch(PreparedLaunch):
    """A ``PreparedLaunch`` issued as one ``cuLaunchKernel`` over parameter storage built once."""

    pointer_io = True  # device-array I/O patches pointers and sizes: N-d arrays need no flat views

    def __init__(self, dispatcher: Any, grid: tuple[int, ...], block: tuple[int, ...], args: list[Any],
                 io: list[tuple[int, str]], cooperative: bool = False) -> None:
        import ctypes

        from cuda.bindings import driver as drv

        super().__init__(dispatcher, grid, block, args, io)
        self._launch_fn = drv.cuLaunchKernel
        if cooperative:
            # a grid that synchronizes must be co-resident: as many blocks as fit (the kernel loops over the rest)
            try:
                fits = int(self.kernel.max_cooperative_grid_blocks(_dim3(block)))
            except AttributeError:  # a numba-cuda without the occupancy query: one block is always co-resident
                fits = 1
            grid = (max(1, min(_dim3(grid)[0], fits)),) + _dim3(grid)[1:]
            self._launch_fn = _cooperative(drv)
        self.cooperative = cooperative
        if any(isinstance(p, bool) or not isinstance(p, (int, ctypes._SimpleCData)) for p in self.params) or \
                any(hi - lo != 7 for (lo, hi), _, _ in self.io):
            raise TypeError("parameters this launcher does not pack")
        self._drv = drv
        self._ok = drv.CUresult.CUDA_SUCCESS
        # Python ints are the 64-bit array fields (meminfo, parent, nitems, itemsize, data, shape, strides)
        self._storage = [p if isinstance(p, ctypes._SimpleCData) else ctypes.c_int64(p) for p in self.params]
        self._argv = (ctypes.c_void_p * len(self._storage))(*[ctypes.addressof(v) for v in self._storage])
        self._argp = ctypes.addressof(self._argv)
        self._func = drv.CUfunction(int(self.kernel._codelibrary.get_cufunc().handle))
        self._dims = _dim3(grid) + _dim3(block)
        self._hstream = drv.CUstream(0)
        self._staged = [(lo, self.params[lo + 2], self.params[lo + 4]) for (lo, _), _, _ in self.io]
        self._patched = False

    def bind(self, ptrs: dict[str, tuple[int, int]] | None) -> None:
        """Point the graph input/output parameters at ``ptrs[arena] = (device pointer, elements)``, or back at the
        staging buffers (None)."""
        st = self._storage
        if ptrs is None:
            for lo, n, ptr in self._staged:
                st[lo + 2].value = st[lo + 5].value = n
                st[lo + 4].value = ptr
            return
        for (lo, _), _, arena in self.io:
            ptr, n = ptrs[arena]
            st[lo + 4].value = ptr
            st[lo + 2].value = st[lo + 5].value = n

    def set_stream(self, handle: int) -> None:
        """Launch on the stream ``handle`` (0: the legacy default stream; see ``graphs.py``)."""
        self._hstream = self._drv.CUstream(handle)

    def fire(self) -> None:
        """Launch with the bound parameters."""
        gx, gy, gz, bx, by, bz = self._dims
        (err,) = self._launch_fn(self._func, gx, gy, gz, bx, by, bz, 0, self._hstream, self._argp, 0)
        if err != self._ok:
            raise RuntimeError(f"cuLaunchKernel({self.name}) failed: {err}")

    def __call__(self, ins: list[Any] | None, outs: list[Any] | None) -> None:
        if ins is not None and self.io:
            self.bind({arena: io_pointer(ins[int(arena[1:])] if arena[0] == "I" else outs[int(arena[1:])])
                       for _, _, arena in self.io})
            self._patched = True
        elif self._patched:
            self.bind(None)
            self._patched = False
        self.fire()


def _cooperative(drv: Any) -> Callable[..., tuple]:
    """``cuLaunchCooperativeKernel`` with ``cuLaunchKernel``'s arguments (it has no ``extra``)."""
    def launch(f: Any, gx: int, gy: int, gz: int, bx: int, by: int, bz: int, smem: int, stream: Any, params: int,
               extra: int) -> tuple:
        return drv.cuLaunchCooperativeKernel(f, gx, gy, gz, bx, by, bz, smem, stream, params)
    return launch


def device_pointer(arr: Any) -> int:
    """The device address of a numba device array or a ``__cuda_array_interface__`` object."""
    if hasattr(arr, "gpu_data"):
        p = arr.device_ctypes_pointer  # ctypes c_void_p, or a cuda.bindings CUdeviceptr
        return int(getattr(p, "value", p) or 0)
    return int(arr.__cuda_array_interface__["data"][0])


def io_pointer(arr: Any) -> tuple[int, int]:
    """(device pointer, elements) of an I/O array, as ``DriverLaunch.bind`` takes them."""
    return device_pointer(arr), int(arr.size)


def _dim3(d: tuple[int, ...]) -> tuple[int, int, int]:
    return tuple(d) + (1,) * (3 - len(d))  # type: ignore[return-value]


def _name(kernel: Any) -> str:
    return getattr(getattr(kernel, "py_func", None), "__name__", type(kernel).__name__)


def prepare(kernel: Any, grid: tuple[int, ...], block: tuple[int, ...], args: list[Any],
            io: list[tuple[int, str]], simulated: bool,
            cooperative: bool = False) -> Callable[[list[Any] | None, list[Any] | None], None]:
    """The fastest launcher that works here for ``kernel[grid, block](*args)``.

    A ``cooperative`` kernel (one that synchronizes its grid and loops over the blocks it was not given) is launched
    cooperatively with as many blocks as can be co-resident by ``DriverLaunch``; every other launcher -- and the
    simulator, which runs blocks one after another -- gives it a grid of one block."""
    mode = launch_mode()
    if mode == "driver" and not simulated:
        try:
            return DriverLaunch(kernel, grid, block, args, io, cooperative)
        except (ImportError, TypeError):
            mode = "prepared"
    if cooperative:
        grid = (1,) + tuple(grid[1:])  # only DriverLaunch launches cooperatively
    if simulated:
        # the simulator's ``kernel[grid, block]`` mutates and returns the kernel itself: configure per call
        return DispatcherLaunch(lambda *a: kernel[grid, block](*a), args, io, _name(kernel))
    if mode == "prepared":
        try:
            return PreparedLaunch(kernel, grid, block, args, io)
        except ImportError:
            pass  # numba-cuda without cuda.core: its own launch path
    return DispatcherLaunch(kernel[grid, block], args, io, _name(kernel))
