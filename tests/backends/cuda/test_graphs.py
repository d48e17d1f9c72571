"""CUDA graphs (``graphs.py``, ``NNGRAPH_CUDA_GRAPHS=1``). The simulator has no graphs, so the capture and replay
are checked against a stand-in driver that behaves like CUDA's: work fired while a stream captures is recorded,
not run; a graph launch runs what was recorded, with the parameters bound at capture; device copies move data. The
executor's graph path then runs for real on the simulator's arrays (via the pointer-only launcher shims of
``test_pool.py``). The real driver is exercised by the ``gpu`` test."""
from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import nngraph
from nngraph import nn
from nngraph.backends.cuda import graphs
from nngraph.backends.cuda.graphs import CapturedProgram, GraphError, graphs_mode

from .test_pool import _PointerShim


class FakeDriver:
    """The ``cuda.bindings.driver`` calls ``CapturedProgram`` makes; ``fail`` maps a call name to an error code."""

    CUstreamCaptureMode = SimpleNamespace(CU_STREAM_CAPTURE_MODE_THREAD_LOCAL=1)

    def __init__(self, table: dict[int, Any] | None = None, fail: dict[str, int] | None = None) -> None:
        self.calls: list[tuple] = []
        self.capturing: list | None = None
        self.table = table if table is not None else {}
        self.fail = fail or {}

    def _r(self, name: str, *value: Any) -> tuple:
        self.calls.append((name,) + value)
        return (self.fail.get(name, 0),) + value

    def fired(self, launcher: Any) -> bool:
        """Called by a launcher's ``fire``: True when captured (not run)."""
        if self.capturing is None:
            return False
        self.capturing.append((launcher, launcher.ptrs))
        return True

    def cuStreamCreate(self, flags: int) -> tuple:
        assert flags == 0  # a blocking stream: ordered with the legacy default stream
        return self._r("cuStreamCreate", 77)

    def cuStreamBeginCapture(self, stream: int, mode: int) -> tuple:
        assert stream == 77 and self.capturing is None
        self.capturing = []
        return self._r("cuStreamBeginCapture")

    def cuStreamEndCapture(self, stream: int) -> tuple:
        graph, self.capturing = self.capturing, None
        return self._r("cuStreamEndCapture", graph)

    def cuGraphInstantiate(self, graph: list, flags: int) -> tuple:
        return self._r("cuGraphInstantiate", list(graph))

    def cuGraphDestroy(self, graph: list) -> tuple:
        return self._r("cuGraphDestroy")

    def cuGraphLaunch(self, exe: list, stream: int) -> tuple:
        assert stream == 77
        for launcher, ptrs in exe:  # replay with the parameters bound at capture time
            launcher.ptrs = ptrs
            launcher.run()
        return self._r("cuGraphLaunch", len(exe))

    def cuMemcpyDtoDAsync(self, dst: int, src: int, nbytes: int, stream: int) -> tuple:
        assert stream == 77
        d, s = self.table[dst], self.table[src]
        n = nbytes // d.dtype.itemsize
        flat = d.copy_to_host().reshape(-1)
        flat[:n] = s.copy_to_host().reshape(-1)[:n]
        d.copy_to_device(flat.reshape(d.shape))
        return self._r("cuMemcpyDtoDAsync", nbytes)

    def cuGraphExecDestroy(self, exe: list) -> tuple:
        return self._r("cuGraphExecDestroy")

    def cuStreamDestroy(self, stream: int) -> tuple:
        return self._r("cuStreamDestroy")


class Recorder:
    def __init__(self, drv: FakeDriver, name: str, log: list, error: Exception | None = None) -> None:
        self.drv, self.name, self.log, self.error = drv, name, log, error
        self.stream, self.ptrs = 0, None

    def set_stream(self, handle: int) -> None:
        self.stream = handle

    def fire(self) -> None:
        if self.error is not None:
            raise self.error
        if not self.drv.fired(self):
            self.run()

    def run(self) -> None:
        self.log.append((self.name, self.stream))


def test_capture_then_replay() -> None:
    drv, log = FakeDriver(), []
    launchers = [Recorder(drv, n, log) for n in "abc"]
    prog = CapturedProgram(launchers, drv=drv)
    assert log == [] and prog.n_nodes == 3  # captured, not run
    assert all(r.stream == 77 for r in launchers)
    assert [c[0] for c in drv.calls] == ["cuStreamCreate", "cuStreamBeginCapture", "cuStreamEndCapture",
                                         "cuGraphInstantiate", "cuGraphDestroy"]
    prog.launch()
    prog.launch()
    assert log == [("a", 77), ("b", 77), ("c", 77)] * 2
    prog.close()
    assert [c[0] for c in drv.calls[-2:]] == ["cuGraphExecDestroy", "cuStreamDestroy"]
    prog.close()  # idempotent
    assert len([c for c in drv.calls if c[0] == "cuStreamDestroy"]) == 1


def test_failed_capture_ends_capture_and_restores_streams() -> None:
    drv, log = FakeDriver(), []
    launchers = [Recorder(drv, "a", log), Recorder(drv, "b", log, error=RuntimeError("boom"))]
    with pytest.raises(RuntimeError, match="boom"):
        CapturedProgram(launchers, drv=drv)
    names = [c[0] for c in drv.calls]
    assert "cuStreamEndCapture" in names and drv.capturing is None and names[-1] == "cuStreamDestroy"
    assert all(r.stream == 0 for r in launchers)


def test_driver_errors_name_the_call() -> None:
    drv = FakeDriver(fail={"cuGraphInstantiate": 999})
    with pytest.raises(GraphError, match="cuGraphInstantiate failed: 999"):
        CapturedProgram([Recorder(drv, "a", [])], drv=drv)
    assert drv.calls[-1][0] == "cuStreamDestroy"


def test_mode_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NNGRAPH_CUDA_GRAPHS", raising=False)
    assert not graphs_mode()
    monkeypatch.setenv("NNGRAPH_CUDA_GRAPHS", "1")
    assert graphs_mode()
    monkeypatch.setenv("NNGRAPH_CUDA_GRAPHS", "yes")
    with pytest.raises(ValueError, match="NNGRAPH_CUDA_GRAPHS must be"):
        graphs_mode()


class _GraphShim(_PointerShim):
    """A pointer-only simulator launcher that the stand-in driver can capture."""

    def __init__(self, drv: FakeDriver, *args: Any) -> None:
        super().__init__(*args)
        self.drv = drv

    def set_stream(self, handle: int) -> None:
        self.stream = handle

    def fire(self) -> None:
        if not self.drv.fired(self):
            self.run()

    def run(self) -> None:
        _PointerShim.fire(self)


def _shim(exe: Any, drv: FakeDriver, table: dict[int, Any], monkeypatch: pytest.MonkeyPatch) -> list[_GraphShim]:
    """Make ``exe`` (a simulator executable) run its launches through ``_GraphShim`` s and ``drv``, with array ids as
    device pointers."""
    from nngraph.backends.cuda import executor, launch

    def fake_pointer(arr: Any) -> int:
        table[id(arr)] = arr
        return id(arr)

    monkeypatch.setattr(executor, "io_pointer", lambda arr: (fake_pointer(arr), int(arr.size)))
    monkeypatch.setattr(launch, "device_pointer", fake_pointer)
    monkeypatch.setattr(graphs, "CapturedProgram", functools.partial(CapturedProgram, drv=drv))
    shims = [_GraphShim(drv, item[0], table, 1, 1) for item in exe._launches]
    exe._launches = [(s, item[1]) for s, item in zip(shims, exe._launches)]
    exe._nd_io = True
    return shims


def test_executor_replays_the_graph_over_staging_buffers(monkeypatch: pytest.MonkeyPatch) -> None:
    """First call eager, second captures (over the staging buffers) and replays; device inputs are copied into the
    staging buffers and staging outputs into the returned arrays each call, numpy I/O uses the staging buffers."""
    from numba import cuda

    rng = np.random.default_rng(5)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).eval()
    compiled = nngraph.compile(model, target="cuda")
    x0 = rng.standard_normal((2, 6)).astype(np.float32)
    compiled(x0)
    exe = compiled.specializations[0].executable
    table: dict[int, Any] = {}
    drv = FakeDriver(table)
    shims = _shim(exe, drv, table, monkeypatch)
    exe._graph_state = "first"

    xs = [rng.standard_normal((2, 6)).astype(np.float32) for _ in range(4)]
    outs = [compiled(cuda.to_device(xs[0]))]  # eager, bound to the call's arrays
    assert not exe.graph_captured and drv.calls == []
    outs += [compiled(cuda.to_device(x)) for x in xs[1:3]]  # capture, then replay; outputs held: new blocks
    assert exe.graph_captured
    assert [c[0] for c in drv.calls].count("cuGraphLaunch") == 2
    assert all(s.binds[-1] is None for s in shims)  # captured over the staging buffers
    for x, o in zip(xs, outs):
        np.testing.assert_allclose(o.copy_to_host(), model(x), rtol=1e-5, atol=1e-5)
    copies = [c for c in drv.calls if c[0] == "cuMemcpyDtoDAsync"]
    assert [c[1] for c in copies] == [2 * 6 * 4, 2 * 3 * 4] * 2  # per call: the input in, the output out
    np.testing.assert_allclose(compiled(xs[3]), model(xs[3]), rtol=1e-5, atol=1e-5)  # numpy I/O: no copies
    assert [c[0] for c in drv.calls[-1:]] == ["cuGraphLaunch"]


def test_failed_capture_falls_back_to_eager(monkeypatch: pytest.MonkeyPatch) -> None:
    from numba import cuda

    model = nn.Sequential(nn.Linear(6, 3)).eval()
    compiled = nngraph.compile(model, target="cuda")
    x = np.ones((2, 6), np.float32)
    compiled(x)
    exe = compiled.specializations[0].executable
    drv = FakeDriver(fail={"cuStreamBeginCapture": 900})
    shims = _shim(exe, drv, {}, monkeypatch)
    exe._graph_state = "graph"
    with pytest.warns(RuntimeWarning, match="CUDA graph capture failed.*cuStreamBeginCapture failed: 900"):
        y = compiled(cuda.to_device(x))
    np.testing.assert_allclose(y.copy_to_host(), model(x), rtol=1e-5, atol=1e-5)
    assert exe._graph_state == "eager" and not exe.graph_captured
    assert all(s.stream == 0 for s in shims)


@pytest.mark.gpu
def test_graphs_on_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a real GPU: captured after the first call, the same results as eager for numpy and device I/O, with new
    input arrays and held outputs (new pointers) every call, and after a weight change."""
    from numba import cuda

    monkeypatch.setenv("NNGRAPH_CUDA_GRAPHS", "1")
    rng = np.random.default_rng(6)
    layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0, batch_first=True).eval()
    compiled = nngraph.compile(layer, target="cuda")
    xs = [rng.standard_normal((1, 5, 16)).astype(np.float32) for _ in range(4)]
    held = [compiled(cuda.to_device(x)) for x in xs]
    exe = compiled.specializations[0].executable
    assert exe.graph_captured
    for x, y in zip(xs, held):
        np.testing.assert_allclose(y.copy_to_host(), layer(x), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(compiled(xs[0]), layer(xs[0]), rtol=1e-4, atol=1e-4)
    layer.linear1.weight[...] *= 0.5  # re-uploaded into the same arrays: the graph stays valid
    np.testing.assert_allclose(compiled(cuda.to_device(xs[1])).copy_to_host(), layer(xs[1]), rtol=1e-4, atol=1e-4)
