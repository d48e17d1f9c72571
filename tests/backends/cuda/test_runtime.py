"""Runtime semantics of target="cuda": weights re-uploaded on change, hooks, device-array inputs, clear errors."""
from __future__ import annotations

import numpy as np
import pytest

import nngraph
from nngraph import nn
from nngraph.backends import cuda as cuda_backend
from nngraph.backends.cuda.executor import is_device_array

rng = np.random.default_rng(5)


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).eval()


def test_weights_uploaded_once_and_after_load_state_dict() -> None:
    model = _model()
    x = rng.standard_normal((2, 6)).astype(np.float32)
    compiled = nngraph.compile(model, target="cuda")
    compiled(x)
    compiled(x)
    exe = compiled.specializations[0].executable
    assert exe.n_uploads == 1
    other = _model()
    compiled.load_state_dict(other.state_dict())
    np.testing.assert_allclose(compiled(x), other(x), rtol=1e-5, atol=1e-5)
    assert exe.n_uploads == 2
    model[0].weight[...] = 0  # raw in-place write: seen after refresh()
    compiled.refresh()
    np.testing.assert_allclose(compiled(x), model(x), rtol=1e-5, atol=1e-5)


def test_hooks_fire_with_real_intermediates() -> None:
    model = _model()
    seen = []
    model[1].register_forward_hook(lambda m, i, o: seen.append(np.array(o)))
    x = rng.standard_normal((2, 6)).astype(np.float32)
    compiled = nngraph.compile(model, target="cuda")
    np.testing.assert_allclose(compiled(x), model(x), rtol=1e-5, atol=1e-5)
    assert len(seen) >= 2  # compiled, then eager
    # The compiled kernel and numpy's matmul round differently: same tolerance as the outputs.
    np.testing.assert_allclose(seen[0], seen[-1], rtol=1e-5, atol=1e-5)


def test_device_array_inputs_stay_on_device() -> None:
    from numba import cuda

    model = _model()
    x = rng.standard_normal((2, 6)).astype(np.float32)
    compiled = nngraph.compile(model, target="cuda")
    out = compiled(cuda.to_device(x))
    assert is_device_array(out) and out.shape == (2, 3)
    np.testing.assert_allclose(out.copy_to_host(), model(x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(compiled(x), model(x), rtol=1e-5, atol=1e-5)  # numpy in, numpy out


def test_shape_guard_and_bad_input() -> None:
    model = _model()
    compiled = nngraph.compile(model, target="cuda")
    compiled(rng.standard_normal((2, 6)).astype(np.float32))
    y = compiled(rng.standard_normal((4, 6)).astype(np.float32))  # a second specialization
    assert y.shape == (4, 3) and len(compiled.specializations) == 2
    with pytest.raises(Exception) as eager_err:
        model(rng.standard_normal((2, 5)).astype(np.float32))
    with pytest.raises(type(eager_err.value)):
        compiled(rng.standard_normal((2, 5)).astype(np.float32))


def test_train_mode_runs_eagerly() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    compiled = nngraph.compile(model, target="cuda")
    compiled(rng.standard_normal((3, 4)).astype(np.float32))
    assert not compiled.specializations  # train mode: eager, nothing compiled


def test_missing_numba_cuda_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: ANN001, ANN202
        if name == "numba" and fromlist and "cuda" in fromlist:
            raise ImportError("No module named 'numba.cuda'")
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(cuda_backend.CudaUnavailableError, match=r"nngraph\[cuda\]"):
        nngraph.compile(_model(), target="cuda")


def test_no_gpu_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cuda_backend, "simulator", lambda: False)
    from numba import cuda

    monkeypatch.setattr(cuda, "is_available", lambda: False, raising=False)
    with pytest.raises(cuda_backend.CudaUnavailableError, match="NVIDIA GPU"):
        nngraph.compile(_model(), target="cuda")


def test_unknown_target() -> None:
    with pytest.raises(ValueError, match="target"):
        nngraph.compile(_model(), target="tpu")


def test_eager_forward_converts_device_arrays() -> None:
    """The eager paths (train mode, global hooks) give the numpy module host arrays and return device arrays when
    the input was on the device (``executor.eager_forward``; wired into CompiledModule.forward by the runtime)."""
    from numba import cuda

    from nngraph.backends.cuda.executor import eager_forward

    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))  # train mode
    x = rng.standard_normal((3, 4)).astype(np.float32)
    ref = model(x)
    out = eager_forward(model.forward, (cuda.to_device(x),), {})
    assert is_device_array(out)
    np.testing.assert_allclose(out.copy_to_host(), ref, rtol=1e-5, atol=1e-6)
    host = eager_forward(model.forward, (x,), {})
    assert isinstance(host, np.ndarray)
    np.testing.assert_allclose(host, ref, rtol=1e-5, atol=1e-6)


def test_train_mode_with_device_input_runs_eagerly_on_host_copies() -> None:
    """A compiled target="cuda" module in train mode runs its numpy forward on host copies of device inputs and
    returns device arrays; BatchNorm's running statistics update as in eager."""
    from numba import cuda

    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    twin = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    twin.load_state_dict(model.state_dict())
    compiled = nngraph.compile(model, target="cuda")
    x = rng.standard_normal((3, 4)).astype(np.float32)
    out = compiled(cuda.to_device(x))
    assert is_device_array(out)
    np.testing.assert_allclose(out.copy_to_host(), twin(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model[1].running_mean, twin[1].running_mean, rtol=1e-6)


def test_value_checks_report_the_reference_error() -> None:
    """An index a kernel finds out of range fails the call with the numpy reference's located error (the graph is
    replayed in the interpreter), and the next call with good indices works (the flag is reset per call)."""
    from nngraph.ir.interpreter import NodeExecutionError

    from .helpers import Fn

    model = Fn(lambda m, x, i: np.take(x, i, axis=1) * 2.0).eval()
    x = rng.standard_normal((2, 5)).astype(np.float32)
    compiled = nngraph.compile(model, target="cuda")
    good = np.array([0, -1, 3])
    np.testing.assert_allclose(compiled(x, good), model(x, good), rtol=1e-6)
    assert compiled.specializations[0].executable.n_host_steps == 0
    with pytest.raises(NodeExecutionError, match="index 5 is out of bounds for axis 1 with size 5"):
        compiled(x, np.array([0, 5, 1]))
    np.testing.assert_allclose(compiled(x, good), model(x, good), rtol=1e-6)


def test_recurrent_transposed_weights_follow_load_state_dict() -> None:
    """The recurrence kernels read W_hh / W_hr transposed (derived weights): recomputed when the weights change."""
    model = nn.LSTM(3, 4, proj_size=2).eval()
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    compiled = nngraph.compile(model, target="cuda")
    np.testing.assert_allclose(compiled(x)[0], model(x)[0], rtol=1e-5, atol=1e-5)
    other = nn.LSTM(3, 4, proj_size=2).eval()
    compiled.load_state_dict(other.state_dict())
    np.testing.assert_allclose(compiled(x)[0], other(x)[0], rtol=1e-5, atol=1e-5)
    assert compiled.specializations[0].executable.n_host_steps == 0
