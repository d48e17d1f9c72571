"""CUDA graphs: a specialization's launches captured once and replayed with one ``cuGraphLaunch`` per call.

Opt-in with ``NNGRAPH_CUDA_GRAPHS=1`` (read when a specialization is built). A batch-1 transformer issues one to two
hundred launches of a few microseconds of host time each; a replayed graph costs one launch plus one device-to-device
copy per graph input and output. Not yet measured on a GPU, hence off by default.

How it stays correct:

* Everything runs on one private stream created with ``CU_STREAM_DEFAULT``: a blocking stream, ordered both ways
  with the legacy default stream on which numba copies, the caller's PyTorch / CuPy default-stream work and the
  staging uploads of numpy inputs run. Capture cannot use the legacy stream itself.
* The graph reads and writes the executable's staging buffers, never the caller's arrays: the caller's input
  pointers and the pooled output arrays change from call to call, the captured kernel parameters do not. Each call
  copies device inputs into the staging buffers and the staging outputs into the returned arrays on the same stream.
* Weights are re-uploaded into the same device arrays, so a weight refresh needs no new capture.
* The first call runs the launches eagerly (it loads every module and initializes cuBLAS); the second captures. A
  capture that fails warns once and the executable keeps launching eagerly. Plans with host steps or value checks
  (which read a flag back between launches) are never captured.
"""
from __future__ import annotations

import os
from typing import Any


def graphs_mode() -> bool:
    """Whether ``NNGRAPH_CUDA_GRAPHS`` asks for CUDA graphs (``1``/``on``; default off)."""
    mode = os.environ.get("NNGRAPH_CUDA_GRAPHS", "0").lower()
    if mode not in ("0", "1", "on", "off"):
        raise ValueError(f"NNGRAPH_CUDA_GRAPHS must be '1'/'on' or '0'/'off', got {mode!r}")
    return mode in ("1", "on")


class GraphError(RuntimeError):
    """A CUDA driver call for graph capture or replay failed."""


class CapturedProgram:
    """``launchers`` (objects with ``set_stream(handle)`` and ``fire()``, bound to the staging buffers) captured into
    one executable CUDA graph on a private blocking stream. ``drv``: the ``cuda.bindings.driver`` module (a stand-in
    in tests)."""

    def __init__(self, launchers: list[Any], drv: Any = None) -> None:
        if drv is None:
            from cuda.bindings import driver as drv
        self._drv = drv
        self._exec = None
        self.stream = self._ok(drv.cuStreamCreate(0), "cuStreamCreate")  # 0: CU_STREAM_DEFAULT (blocking)
        handle = int(self.stream)
        try:
            for launcher in launchers:
                launcher.set_stream(handle)
            mode = drv.CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL
            self._ok(drv.cuStreamBeginCapture(self.stream, mode), "cuStreamBeginCapture")
            try:
                for launcher in launchers:
                    launcher.fire()
            finally:
                # always end the capture: a stream left capturing breaks every later call on it
                ended = drv.cuStreamEndCapture(self.stream)
            graph = self._ok(ended, "cuStreamEndCapture")
            try:
                self._exec = self._ok(drv.cuGraphInstantiate(graph, 0), "cuGraphInstantiate")
            finally:
                drv.cuGraphDestroy(graph)
        except BaseException:
            for launcher in launchers:
                launcher.set_stream(0)
            self.close()
            raise
        self.n_nodes = len(launchers)

    def _ok(self, result: Any, what: str) -> Any:
        """The value of a ``cuda.bindings`` call's ``(err, value...)`` result; GraphError when ``err`` is not 0."""
        err, *value = result if isinstance(result, tuple) else (result,)
        if int(err) != 0:
            raise GraphError(f"{what} failed: {err}")
        return value[0] if len(value) == 1 else None

    def copy(self, dst: int, src: int, nbytes: int) -> None:
        """Queue a device-to-device copy on the graph's stream."""
        if nbytes:
            self._ok(self._drv.cuMemcpyDtoDAsync(dst, src, nbytes, self.stream), "cuMemcpyDtoDAsync")

    def launch(self) -> None:
        self._ok(self._drv.cuGraphLaunch(self._exec, self.stream), "cuGraphLaunch")

    def close(self) -> None:
        drv, self._drv = self._drv, None
        if drv is None:
            return
        try:
            if self._exec is not None:
                drv.cuGraphExecDestroy(self._exec)
            if getattr(self, "stream", None) is not None:
                drv.cuStreamDestroy(self.stream)
        except Exception:  # noqa: BLE001 -- at interpreter exit the driver may be gone already
            pass

    def __del__(self) -> None:
        self.close()


__all__ = ["CapturedProgram", "GraphError", "graphs_mode"]
