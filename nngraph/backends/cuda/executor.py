"""``CudaExecutable``: one specialized graph as a prepared list of numba.cuda kernel launches over device arenas.

Prepared once per specialization: the device arenas (weights per dtype, workspace per dtype from the memory plan,
input and output staging buffers) and every launch's configured kernel and argument list. A call with numpy inputs
copies them into the staging buffers, runs the launches as prepared, and copies the outputs back into fresh host
arrays. A call with device arrays (``__cuda_array_interface__``: numba, CuPy, PyTorch) uses them in place and returns
fresh device arrays, whose memory is recycled once the caller drops them (``pool.py``). Weights are uploaded by
``refresh`` (weight epoch changes), into the same device arrays. Calls are serialized by a lock (one workspace per
specialization).
"""
from __future__ import annotations

import threading
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ...ir.graph import Graph
from ...ir.interpreter import NodeExecutionError, call_opaque_module
from ...ir.node import MODULE, Node
from ...ops.registry import REGISTRY
from ...runtime.executor import has_cai, locate_failure, weight_arenas
from ..cpu.buffers import Buf
from ..cpu.codegen import Step
from . import blas, require_cuda
from .codegen import Arena, Check, Launch, Plan, generate
from .launch import io_pointer
from .pool import c_strides


def is_device_array(v: Any) -> bool:
    """A CUDA array (``__cuda_array_interface__``: numba, CuPy, PyTorch), or a simulator array."""
    return not isinstance(v, np.ndarray) and (has_cai(v) or type(v).__name__ == "FakeCUDAArray")


def leaf_key(v: Any) -> tuple:
    """(shape, dtype str) of a numpy or CUDA-array-interface leaf (for specialization keys)."""
    if isinstance(v, np.ndarray) or not has_cai(v) or hasattr(v, "copy_to_host"):
        return tuple(v.shape), np.dtype(v.dtype).str  # numpy, simulator and numba arrays: numpy dtypes
    cai = v.__cuda_array_interface__
    return tuple(cai["shape"]), np.dtype(cai["typestr"]).str


def to_host(v: Any) -> Any:
    """A numpy copy of a device array leaf (anything else unchanged)."""
    if not is_device_array(v):
        return v
    cuda = require_cuda()
    return cuda.as_cuda_array(v).copy_to_host() if not hasattr(v, "copy_to_host") else v.copy_to_host()


def eager_forward(forward: Any, args: tuple, kwargs: dict) -> Any:
    """``forward(*args, **kwargs)`` for the eager paths of a ``target="cuda"`` module (train mode, global hooks,
    past the specialization limit): device-array arguments are copied to host arrays for the numpy module, and its
    array results come back as device arrays when any argument was on the device (the compiled path's rule)."""
    from ...ir.pytree import flatten, unflatten

    leaves, tree = flatten((args, kwargs), lambda v: isinstance(v, np.ndarray) or is_device_array(v))
    if not any(is_device_array(v) for v in leaves):
        return forward(*args, **kwargs)
    args, kwargs = unflatten([to_host(v) for v in leaves], tree)
    result = forward(*args, **kwargs)
    cuda = require_cuda()
    out, otree = flatten(result, lambda v: isinstance(v, np.ndarray))
    return unflatten([cuda.to_device(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v for v in out],
                     otree)


class ValueCheckFailed(ValueError):
    """A checking kernel set its flag (see ``codegen.Check``)."""


class _ValueCheck:
    name = "value_check"
    pointer_io = True  # reads no graph input or output

    def __init__(self, check: Check, arrays: dict[str, Any]) -> None:
        self.what = check.what
        self.flag = arrays[check.flag.arena][check.flag.offset:check.flag.offset + 1]  # the workspace: fixed

    def __call__(self, ins: list[Any] | None, outs: list[Any] | None) -> None:
        self.fire()

    def bind(self, ptrs: dict[str, tuple[int, int]] | None) -> None:
        pass

    def fire(self) -> None:
        if self.flag.copy_to_host()[0]:
            raise ValueCheckFailed(self.what)


class CudaOutOfMemoryError(MemoryError):
    """The GPU could not hold a specialization's arenas."""


class CudaExecutable:
    """Runs one optimized graph on the GPU (see module docstring)."""

    def __init__(self, graph: Graph, root: Any, use_cache: bool = True, precision: str = "fp32",
                 autotune: bool = False, blas_choice: dict[str, bool] | None = None) -> None:
        self.cuda = require_cuda()
        self.graph = graph
        self.root = root
        self.use_cache = use_cache
        self.precision = precision
        if autotune:  # cuBLAS or the kernels per node, timed (autotune.py)
            from .autotune import tuned_plan

            self.plan: Plan = tuned_plan(graph, precision, lambda choice: CudaExecutable(
                graph, root, use_cache, precision, blas_choice=choice))
        else:
            self.plan = generate(graph, precision, blas_choice)
        self._lock = threading.Lock()
        self._weights_version: Any = object()
        arenas = self.plan.arenas
        self.planned_bytes = self.plan.planned_bytes() + sum(
            int(np.prod(graph[n].spec.shape)) * graph[n].spec.dtype.itemsize for n in self.plan.inputs) + \
            sum(int(np.prod(s.shape)) * s.dtype.itemsize for _, s in self.plan.output_arenas)
        self.fixed: dict[str, Any] = {}
        from .codegen import weight_arena, work_arena

        for d, n in arenas.weight_sizes.items():
            self.fixed[weight_arena(np.dtype(d))] = self._alloc(n, np.dtype(d), zero=True)
        for d, n in arenas.work_sizes.items():
            self.fixed[work_arena(np.dtype(d))] = self._alloc(n, np.dtype(d))
        self._staging_in = [self._alloc(int(np.prod(graph[n].spec.shape)), graph[n].spec.dtype)
                            for n in self.plan.inputs]
        self._out_sizes = [int(np.prod(s.shape)) for _, s in self.plan.output_arenas]
        self._staging_out = [self._alloc(n, s.dtype) for n, (_, s) in zip(self._out_sizes, self.plan.output_arenas)]
        self._out_views = [dev[:int(np.prod(s.shape))] if int(np.prod(s.shape)) else None
                           for dev, (_, s) in zip(self._staging_out, self.plan.output_arenas)]
        self._pools: list[Any] | None = None  # per output, made on the first device-I/O call
        self._in_info = [(arena, name, graph[name].spec.dtype, staging) for arena, name, staging in
                         zip(self.plan.input_arenas, self.plan.inputs, self._staging_in)]
        self._out_arena_names = [arena for arena, _ in self.plan.output_arenas]
        self._prepare()
        # device-array I/O without flat views when every step only needs pointers and sizes
        self._nd_io = all(isinstance(item, tuple) and getattr(item[0], "pointer_io", False) for item in self._launches)
        self._bound: tuple | None = None  # the I/O pointers the pointer-only launchers are bound to (None: staging)
        # CUDA graphs (graphs.py): "eager" (off, or not capturable), "first" (next call eager), "graph" (capture /
        # replay)
        from . import simulator
        from .graphs import graphs_mode

        capturable = self._nd_io and all(hasattr(item[0], "set_stream") for item in self._launches)
        self._graph_state = "first" if graphs_mode() and capturable and not simulator() else "eager"
        self._graph: Any = None

    # -- set-up -------------------------------------------------------------------------------------------------------
    def _alloc(self, n: int, dtype: np.dtype, zero: bool = False) -> Any:
        try:
            arr = self.cuda.device_array(max(int(n), 1), dtype=dtype)
            if zero:
                arr.copy_to_device(np.zeros(max(int(n), 1), dtype=dtype))
            return arr
        except Exception as e:  # noqa: BLE001
            self._raise_oom(e, "this specialization's arenas")
            raise

    def _raise_oom(self, e: Exception, what: str) -> None:
        if "OUT_OF_MEMORY" in str(e).upper() or "out of memory" in str(e).lower():
            raise CudaOutOfMemoryError(
                f"the GPU ran out of memory allocating {what}: {self.planned_bytes} bytes planned (weights "
                f"{sum(self.plan.arenas.weight_sizes.values())} and workspace "
                f"{sum(self.plan.arenas.work_sizes.values())} elements, plus inputs and outputs); use a smaller batch "
                "or free GPU memory") from e

    def _block(self, nbytes: int) -> Any:
        """Device memory for an output pool (``pool.OutputPool``)."""
        try:
            return self.cuda.current_context().memalloc(nbytes)
        except Exception as e:  # noqa: BLE001
            self._raise_oom(e, "an output array")
            raise

    def _output_arrays(self) -> list[Any]:
        """Fresh device arrays for a device-I/O call's outputs: from the output pools on a GPU (``pool.py``), from
        ``device_array`` on the simulator; empty outputs get a 1-element stand-in (replaced by the caller)."""
        if self._pools is None:
            from . import simulator
            from .pool import OutputPool

            self._pools = [None if simulator() or not n else OutputPool(s.shape, s.dtype, self._block)
                           for n, (_, s) in zip(self._out_sizes, self.plan.output_arenas)]
        return [p.take() if p is not None else self.cuda.device_array(s.shape if n else (1,), dtype=s.dtype)
                for p, n, (_, s) in zip(self._pools, self._out_sizes, self.plan.output_arenas)]

    def _resolve(self, inputs: list[Any], outputs: list[Any]) -> dict[str, Any]:
        arrays = dict(self.fixed)
        arrays.update({a: v for a, v in zip(self.plan.input_arenas, inputs)})
        arrays.update({a: v for (a, _), v in zip(self.plan.output_arenas, outputs)})
        return arrays

    def _prepare(self) -> None:
        """Prepare every launch once for the staging buffers (``launch.prepare``); remember which arguments are
        graph inputs/outputs, replaced per call by device-array arguments."""
        from . import simulator
        from .launch import prepare

        arrays = self._resolve(self._staging_in, self._staging_out)
        self._launches: list[tuple[Any, str] | Step] = []
        for step in self.plan.program:
            if isinstance(step, Launch):
                args = [arrays[a.name] if isinstance(a, Arena) else a for a in step.args]
                io = [(i, a.name) for i, a in enumerate(step.args)
                      if isinstance(a, Arena) and a.name[0] in "IO"]
                self._launches.append((prepare(step.kernel, step.grid, step.block, args, io, simulator(),
                                               step.cooperative), step.node))
            elif isinstance(step, blas.Gemm):
                self._launches.append((blas.prepare(step, arrays, self.precision), step.node))
            elif isinstance(step, Check):
                self._launches.append((_ValueCheck(step, arrays), step.node))
            else:
                self._launches.append(step)

    @property
    def launch_kinds(self) -> set[str]:
        """The launcher classes in use (``PreparedLaunch``, ``DispatcherLaunch``)."""
        return {type(item[0]).__name__ for item in self._launches if isinstance(item, tuple)}

    @property
    def n_host_steps(self) -> int:
        return sum(1 for s in self.plan.program if isinstance(s, Step))

    @property
    def n_launches(self) -> int:
        return self.plan.n_launches

    # -- weights ------------------------------------------------------------------------------------------------------
    def refresh(self, state: dict[str, np.ndarray], version: Any) -> None:
        """Recompute weight-derived values (folded BatchNorm, ...) and upload the weight arenas."""
        with self._lock:
            if version is not None and version == self._weights_version:
                return
            host = weight_arenas(self.graph, self.plan.arenas, state)
            from .codegen import weight_arena

            for d, h in host.items():
                self.fixed[weight_arena(np.dtype(d))].copy_to_device(h)
            self.n_uploads = getattr(self, "n_uploads", 0) + 1
            self._weights_version = version

    # -- calling ------------------------------------------------------------------------------------------------------
    def __call__(self, leaves: list[Any]) -> tuple:
        try:
            return self._call(leaves)
        except NodeExecutionError as e:
            if not isinstance(e.__cause__, ValueCheckFailed):
                raise
            raise locate_failure(self.graph, self.root, [to_host(v) for v in leaves], e) from e

    def _call(self, leaves: list[Any]) -> tuple:
        with self._lock:
            on_device = any(is_device_array(v) for v in leaves)
            if not on_device:
                for dev, v, name in zip(self._staging_in, leaves, self.plan.inputs):
                    if v.size:
                        dev.copy_to_device(np.ascontiguousarray(v, dtype=self.graph[name].spec.dtype).reshape(-1))
                if self._nd_io:
                    self._run_bound(None)
                else:
                    self._run(None, None)
                return tuple(view.copy_to_host().reshape(s.shape) if view is not None else np.empty(s.shape, s.dtype)
                             for view, (_, s) in zip(self._out_views, self.plan.output_arenas))
            if self._nd_io:
                results = self._call_pointers(leaves)
            else:
                ins = [self._device_flat(v, name) for v, name in zip(leaves, self.plan.inputs)]
                results = self._output_arrays()
                self._run(ins, [r.reshape(-1) for r in results])
            return tuple(r if n else self.cuda.device_array(s.shape, dtype=s.dtype)
                         for r, n, (_, s) in zip(results, self._out_sizes, self.plan.output_arenas))

    def _call_pointers(self, leaves: list[Any]) -> list[Any]:
        """Device I/O when every launcher only needs pointers: inputs are read through their
        ``__cuda_array_interface__`` (no numba array made for a CuPy / PyTorch input), outputs come from the pools, and
        the launchers are re-bound only when a pointer differs from the previous call's."""
        ptrs: dict[str, tuple[int, int]] = {}
        keep = []  # contiguous copies of strided inputs, alive until the launches are queued
        for v, (arena, name, dtype, staging) in zip(leaves, self._in_info):
            arr = self._device_input(v, name, dtype)
            if arr is not v:
                keep.append(arr)
            ptrs[arena] = io_pointer(arr) if arr.size else io_pointer(staging)
        results = self._output_arrays()
        for arena, r in zip(self._out_arena_names, results):
            ptrs[arena] = io_pointer(r)
        self._run_bound(ptrs)
        return results

    def _device_input(self, v: Any, name: str, want: np.dtype) -> Any:
        """``v`` (a device array) if the kernels can read it in place: the compiled dtype (else TypeError),
        C-contiguous, and on a stream that the legacy default stream orders after (else numba synchronizes it); a
        contiguous device copy otherwise."""
        if hasattr(v, "copy_to_host"):  # numba (or the simulator's arrays)
            dtype, contiguous = v.dtype, v.is_c_contiguous()
        else:
            cai = v.__cuda_array_interface__
            dtype = np.dtype(cai["typestr"])
            contiguous = _c_contiguous(tuple(cai["shape"]), cai.get("strides"), dtype.itemsize)
            if cai.get("stream") not in (None, 1, 2):  # a non-default stream: numba's view synchronizes it
                v = self.cuda.as_cuda_array(v)
        if dtype != want:
            raise TypeError(f"input '{name}' is {dtype}; this specialization was compiled for {want}")
        if not contiguous:  # rare: a strided input
            arr = v if hasattr(v, "copy_to_host") else self.cuda.as_cuda_array(v)
            return self.cuda.to_device(np.ascontiguousarray(arr.copy_to_host()))
        return v

    @property
    def graph_captured(self) -> bool:
        """Whether calls replay a captured CUDA graph (``NNGRAPH_CUDA_GRAPHS=1``, see ``graphs.py``)."""
        return self._graph is not None

    def _run_graph(self, ptrs: dict[str, tuple[int, int]] | None) -> bool:
        """Replay the captured graph over the staging buffers, with the device I/O at ``ptrs`` copied in and out;
        False when the capture failed (the executable then launches eagerly from now on)."""
        if self._graph is None:
            import warnings

            from .graphs import CapturedProgram

            for launcher, _ in self._launches:  # type: ignore[misc]
                launcher.bind(None)
            self._bound = None
            try:
                self._graph = CapturedProgram([launcher for launcher, _ in self._launches])  # type: ignore[misc]
            except Exception as e:  # noqa: BLE001 -- fall back to launching kernel by kernel
                warnings.warn(f"CUDA graph capture failed, launching kernel by kernel: {type(e).__name__}: {e}",
                              RuntimeWarning, stacklevel=2)
                self._graph_state = "eager"
                return False
            from .launch import device_pointer

            in_info = [(arena, device_pointer(st), np.dtype(dt).itemsize) for arena, _, dt, st in self._in_info]
            out_info = [(arena, device_pointer(st), s.dtype.itemsize) for arena, st, (_, s) in
                        zip(self._out_arena_names, self._staging_out, self.plan.output_arenas)]
            self._graph_io = (in_info, out_info)
        g = self._graph
        ins, outs = self._graph_io
        if ptrs is not None:
            for arena, staging, itemsize in ins:
                ptr, n = ptrs[arena]
                if ptr != staging:
                    g.copy(staging, ptr, n * itemsize)
        g.launch()
        if ptrs is not None:
            for arena, staging, itemsize in outs:
                ptr, n = ptrs[arena]
                g.copy(ptr, staging, n * itemsize)
        return True

    def _run_bound(self, ptrs: dict[str, tuple[int, int]] | None) -> None:
        """Run the pointer-only launchers with graph I/O at ``ptrs`` (None: the staging buffers)."""
        if self._graph_state == "graph" and self._run_graph(ptrs):
            return
        if self._graph_state == "first":
            self._graph_state = "graph"  # the first call launches eagerly: it loads every module, sets up cuBLAS
        key = None if ptrs is None else tuple(ptrs.values())
        if key != self._bound:
            for launcher, _ in self._launches:  # type: ignore[misc]
                launcher.bind(ptrs)
            self._bound = key
        for launcher, node in self._launches:  # type: ignore[misc]
            try:
                launcher.fire()
            except Exception as e:  # noqa: BLE001 -- name the node and its module
                raise NodeExecutionError(self.graph[node], e) from e

    def _device_flat(self, v: Any, name: str) -> Any:
        if not is_device_array(v):
            dev = self.cuda.to_device(np.ascontiguousarray(v).reshape(-1))
            return dev if dev.size else self.cuda.device_array(1, dtype=dev.dtype)
        arr = v if hasattr(v, "copy_to_host") else self.cuda.as_cuda_array(v)
        if arr.dtype != self.graph[name].spec.dtype:
            raise TypeError(f"input '{name}' is {arr.dtype}; this specialization was compiled for "
                            f"{self.graph[name].spec.dtype}")
        if hasattr(arr, "is_c_contiguous") and not arr.is_c_contiguous():
            arr = self.cuda.to_device(np.ascontiguousarray(arr.copy_to_host()).reshape(-1))  # rare: strided input
        if not arr.size:
            return self.cuda.device_array(1, dtype=arr.dtype)
        return arr.reshape(-1) if arr.ndim != 1 else arr

    def _run(self, ins: list[Any] | None, outs: list[Any] | None) -> None:
        arrays = None
        for item in self._launches:
            if isinstance(item, Step):
                if arrays is None:
                    arrays = self._resolve(ins if ins is not None else self._staging_in,
                                           outs if outs is not None else self._staging_out)
                self._host(item, arrays)
                continue
            launcher, node = item
            try:
                launcher(ins, outs)
            except Exception as e:  # noqa: BLE001 -- name the node and its module
                raise NodeExecutionError(self.graph[node], e) from e

    def _host(self, step: Step, arrays: dict[str, Any]) -> None:
        node: Node = step.host
        values = [None if b is None else (tuple(_download(arrays, x) for x in b) if isinstance(b, tuple)
                                          else _download(arrays, b)) for b in step.host_args]
        try:
            if node.kind == MODULE:
                result: Any = call_opaque_module(self.root, node, values)
            else:
                result = REGISTRY[node.target].impl(*values, **node.attrs)
        except NodeExecutionError:
            raise
        except Exception as e:  # noqa: BLE001
            raise NodeExecutionError(node, e) from e
        results = result if isinstance(result, tuple) else (result,)
        for dst, value in zip(step.host_outs, results):
            _upload(arrays, dst, value)


def _c_contiguous(shape: tuple[int, ...], strides: tuple[int, ...] | None, itemsize: int) -> bool:
    """Whether ``__cuda_array_interface__`` strides (bytes; None: C order) describe a C-contiguous array (the
    strides of dims of size 1 do not matter)."""
    return strides is None or all(n == 1 or s == c for n, s, c in zip(shape, strides, c_strides(shape, itemsize)))


def _download(arrays: dict[str, Any], b: Buf) -> np.ndarray:
    """A host copy of the (possibly strided) view ``b``."""
    if b.size == 0:
        return np.empty(b.shape, b.dtype)
    lo = b.offset + sum(min(0, (s - 1) * st) for s, st in zip(b.shape, b.strides))
    hi = b.offset + sum(max(0, (s - 1) * st) for s, st in zip(b.shape, b.strides)) + 1
    host = arrays[b.arena][lo:hi].copy_to_host()
    return np.array(as_strided(host[b.offset - lo:], shape=b.shape,
                               strides=tuple(s * host.itemsize for s in b.strides)))


def _upload(arrays: dict[str, Any], dst: Buf, value: Any) -> None:
    if dst.size == 0:
        return
    v = np.ascontiguousarray(np.broadcast_to(np.asarray(value), dst.shape), dtype=dst.dtype).reshape(-1)
    arrays[dst.arena][dst.offset:dst.offset + dst.size].copy_to_device(v)
