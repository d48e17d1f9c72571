"""``precision="tf32"/"fp16"``: float32 GEMMs and convolutions on tensor cores (inline-PTX mma.sync kernels, or cuBLAS's
FAST_TF32/FAST_16F compute types), within the documented tolerance of a float64 reference."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import nngraph
from nngraph import nn
from nngraph.backends.cuda import simulator

from .helpers import Fn

rng = np.random.default_rng(31)

# docs/backend-cuda.md: relative Frobenius error of a GEMM/convolution output with operands rounded to 10 mantissa bits
TOLERANCE = {"tf32": 5e-3, "fp16": 5e-3}


def _rel(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(got, np.float64) - ref) / np.linalg.norm(ref))


def test_precision_is_validated() -> None:
    with pytest.raises(ValueError, match="precision must be 'fp32', 'tf32' or 'fp16', got 'bf16'"):
        nngraph.compile(nn.Linear(2, 2), target="cuda", precision="bf16")
    with pytest.raises(ValueError, match="precision='tf32' needs target='cuda'"):
        nngraph.compile(nn.Linear(2, 2), precision="tf32")


def test_simulator_runs_fp32_kernels() -> None:
    if not simulator():
        pytest.skip("simulator only")
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU()).eval()
    x = rng.standard_normal((3, 8)).astype(np.float32)
    got = nngraph.compile(model, target="cuda", precision="tf32")(x)
    np.testing.assert_allclose(got, model(x), rtol=1e-5, atol=1e-5)


def _cases() -> list[tuple[str, nn.Module, tuple, object]]:
    lin = nn.Sequential(nn.Linear(200, 130), nn.ReLU(), nn.Linear(130, 70)).eval()
    x = rng.standard_normal((67, 200)).astype(np.float32)
    conv = nn.Sequential(nn.Conv2d(16, 40, 3, padding=1), nn.ReLU(), nn.Conv2d(40, 24, 1)).eval()
    xc = rng.standard_normal((3, 16, 13, 11)).astype(np.float32)
    bmm = Fn(lambda m, a, b: a @ b.transpose(0, 2, 1)).eval()
    a, b = (rng.standard_normal((3, 70, 90)).astype(np.float32), rng.standard_normal((3, 50, 90)).astype(np.float32))

    def ref_lin(x: np.ndarray) -> np.ndarray:
        h = np.maximum(x.astype(np.float64) @ lin[0].weight.T.astype(np.float64) + lin[0].bias, 0)
        return h @ lin[2].weight.T.astype(np.float64) + lin[2].bias

    return [("mlp", lin, (x,), ref_lin),
            ("conv", conv, (xc,), lambda x: copy.deepcopy(conv).double()(x.astype(np.float64))),
            ("bmm", bmm, (a, b), lambda a, b: a.astype(np.float64) @ b.astype(np.float64).transpose(0, 2, 1))]


@pytest.mark.gpu
@pytest.mark.parametrize("use_blas", ["off", "auto"])
@pytest.mark.parametrize("precision", ["tf32", "fp16"])
def test_tensor_core_gemms_within_tolerance(precision: str, use_blas: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from nngraph.backends.cuda import blas

    monkeypatch.setenv("NNGRAPH_CUDA_BLAS", use_blas)
    monkeypatch.setattr(blas, "MIN_MACS", 0)
    if use_blas == "auto" and not blas.enabled():
        pytest.skip("CuPy (cuBLAS) is not usable here")
    for name, model, inputs, ref_fn in _cases():
        ref = ref_fn(*inputs)
        got = nngraph.compile(model, target="cuda", precision=precision)(*inputs)
        exe_err = _rel(got, ref)
        fp32 = nngraph.compile(model, target="cuda")(*inputs)
        assert exe_err < TOLERANCE[precision], (name, exe_err)
        assert _rel(fp32, ref) < 1e-5, name
        if use_blas == "off":  # cuBLAS's FAST compute types allow, not require, rounding (it keeps fp32 on small GEMMs)
            assert exe_err > 1e-5, (name, exe_err, "no operand rounding seen: the tensor-core path did not run")
