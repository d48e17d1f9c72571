"""Prepared launches (``backends/cuda/launch.py``) compute what numba's dispatcher launches compute."""
from __future__ import annotations

import numpy as np
import pytest

import nngraph
from nngraph import nn
from nngraph.backends.cuda import simulator
from nngraph.backends.cuda.launch import launch_mode

rng = np.random.default_rng(11)


def _model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.Flatten(),
                         nn.Linear(16 * 6 * 6, 10)).eval()


def test_launch_mode_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NNGRAPH_CUDA_LAUNCH", "fast")
    with pytest.raises(ValueError, match="NNGRAPH_CUDA_LAUNCH must be 'prepared', 'dispatcher' or 'driver', got 'fast'"):
        launch_mode()
    monkeypatch.delenv("NNGRAPH_CUDA_LAUNCH")
    assert launch_mode() == "driver"


def test_simulator_uses_dispatcher_launches() -> None:
    if not simulator():
        pytest.skip("simulator only")
    compiled = nngraph.compile(_model(), target="cuda")
    compiled(rng.standard_normal((2, 3, 6, 6)).astype(np.float32))
    assert compiled.specializations[0].executable.launch_kinds == {"DispatcherLaunch"}


@pytest.mark.gpu
def test_prepared_launches_match_dispatcher_launches(monkeypatch: pytest.MonkeyPatch) -> None:
    from numba import cuda

    model = _model()
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    x2 = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    results = {}
    kind = {"prepared": "PreparedLaunch", "dispatcher": "DispatcherLaunch", "driver": "DriverLaunch"}
    for mode in ("prepared", "dispatcher", "driver"):
        monkeypatch.setenv("NNGRAPH_CUDA_LAUNCH", mode)
        compiled = nngraph.compile(model, target="cuda")
        host = compiled(x)
        kinds = compiled.specializations[0].executable.launch_kinds
        assert kinds == {kind[mode]}, kinds
        dev = compiled(cuda.to_device(x)).copy_to_host()  # device inputs/outputs replace the staging buffers
        dev2 = compiled(cuda.to_device(x2)).copy_to_host()
        host2 = compiled(x2)  # numpy I/O again after device I/O: the staging buffers are back in the parameters
        results[mode] = (host, dev, dev2, host2)
        np.testing.assert_allclose(host, model(x), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(dev2, model(x2), rtol=1e-4, atol=1e-4)
    for mode in ("prepared", "driver"):
        for a, b in zip(results[mode], results["dispatcher"]):
            np.testing.assert_array_equal(a, b)
