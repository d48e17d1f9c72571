"""cuBLAS GEMM steps (``blas.py``, ``lower_blas.py``): planned operand transposes, leading dimensions, batch strides,
im2col chunks, bias and fused epilogues are checked against the interpreter and eager mode. On the simulator the
``Gemm`` steps run through the numpy reference (``NNGRAPH_CUDA_BLAS=reference``); on a GPU with CuPy through cuBLAS."""
from __future__ import annotations

from typing import Iterator

import numpy as np
import pytest

from nngraph import nn
from nngraph.backends.cuda import blas, simulator

from .helpers import Fn, check

rng = np.random.default_rng(21)


@pytest.fixture(autouse=True)
def all_gemms_on_blas(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if simulator():
        monkeypatch.setenv("NNGRAPH_CUDA_BLAS", "reference")
    elif not blas.enabled():
        pytest.skip("CuPy (cuBLAS) is not usable here")
    monkeypatch.setattr(blas, "MIN_MACS", 0)
    yield


def _n_gemms(compiled) -> int:  # noqa: ANN001
    return sum(isinstance(s, blas.Gemm) for s in compiled.specializations[0].executable.plan.program)


def f32(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def test_mode_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NNGRAPH_CUDA_BLAS", "cublas")
    with pytest.raises(ValueError, match="NNGRAPH_CUDA_BLAS must be 'auto', 'off' or 'reference', got 'cublas'"):
        blas.mode()
    monkeypatch.setenv("NNGRAPH_CUDA_BLAS", "off")
    assert not blas.enabled()


@pytest.mark.parametrize("bias", [True, False])
def test_linear_with_epilogue(bias: bool) -> None:
    model = nn.Sequential(nn.Linear(12, 20, bias=bias), nn.ReLU(), nn.Linear(20, 5, bias=bias), nn.Tanh())
    compiled = check(model, f32(3, 12))
    assert _n_gemms(compiled) == 2


def test_linear_on_3d_input_and_float64() -> None:
    model = nn.Linear(6, 9).double()
    compiled = check(model, rng.standard_normal((2, 4, 6)), rtol=1e-10, atol=1e-10)
    assert _n_gemms(compiled) == 1


@pytest.mark.parametrize("case", ["plain", "transposed_b", "transposed_a", "broadcast_b", "vector_row"])
def test_batched_matmul_operand_layouts(case: str) -> None:
    fns = {"plain": (lambda m, a, b: a @ b, (2, 3, 4, 5), (2, 3, 5, 6)),
           "transposed_b": (lambda m, a, b: a @ b.transpose(0, 2, 1), (4, 5, 7), (4, 6, 7)),
           "transposed_a": (lambda m, a, b: a.transpose(0, 2, 1) @ b, (4, 7, 5), (4, 7, 6)),
           "broadcast_b": (lambda m, a, b: a @ b, (3, 5, 7), (7, 4)),
           "vector_row": (lambda m, a, b: a @ b, (1, 7), (7, 9))}
    fn, sa, sb = fns[case]
    compiled = check(Fn(fn), f32(*sa), f32(*sb))
    assert _n_gemms(compiled) == 1


@pytest.mark.parametrize("geo", [dict(kernel_size=3, padding=1), dict(kernel_size=3, stride=2, padding=1),
                                 dict(kernel_size=1), dict(kernel_size=1, stride=2), dict(kernel_size=(2, 3),
                                                                                          dilation=2, padding=(1, 0))])
def test_conv2d_bias_bn_relu_residual(geo: dict) -> None:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(5, 16, **geo)
            self.bn = nn.BatchNorm2d(16)

        def forward(self, x: np.ndarray) -> np.ndarray:
            y = self.bn(self.conv(x))
            return np.maximum(y + 0.5 * y[:, :1], 0)

    block = Block()
    block.bn.running_mean[...] = rng.standard_normal(16)
    block.bn.running_var[...] = rng.uniform(0.5, 2, 16)
    compiled = check(block, f32(3, 5, 9, 8), rtol=1e-4, atol=1e-4)
    assert _n_gemms(compiled) >= 1


def test_conv_im2col_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blas, "COL_BYTES", 5 * 9 * 36 * 4 * 2)  # two images per chunk
    model = nn.Sequential(nn.Conv2d(5, 16, 3, padding=1, bias=False), nn.ReLU())
    compiled = check(model, f32(5, 5, 6, 6))
    assert _n_gemms(compiled) == 3


def test_conv1d_and_grouped_fallback() -> None:
    compiled = check(nn.Conv1d(4, 16, 3, padding=2, dilation=2), f32(2, 4, 11))
    assert _n_gemms(compiled) == 1
    compiled = check(nn.Conv2d(32, 32, 3, groups=2), f32(1, 32, 5, 5))  # grouped: the numba kernel
    assert _n_gemms(compiled) == 0


def test_device_inputs_and_outputs_replace_staging() -> None:
    from numba import cuda

    model = nn.Linear(8, 16).eval()
    compiled = check(model, f32(4, 8))
    x = f32(4, 8)
    got = compiled(cuda.to_device(x)).copy_to_host()
    np.testing.assert_allclose(got, model(x), rtol=1e-5, atol=1e-5)


def _kernels(compiled) -> list[str]:  # noqa: ANN001
    return [getattr(getattr(s, "kernel", None), "__name__", type(s).__name__)
            for s in compiled.specializations[0].executable.plan.program]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("after", ["none", "relu", "reads_gemm"])
def test_residual_prefilled_into_the_accumulator(bias: bool, after: str) -> None:
    """A leading residual add is pre-filled with the bias (beta = 1): linear + residual is fill + GEMM, no epilogue
    kernel; an activation after it still runs as one; a later step reading the bare GEMM result keeps the add."""
    tails = {"none": lambda y, x: y + x, "relu": lambda y, x: nn.functional.relu(y + x),
             "reads_gemm": lambda y, x: (y + x) * y}

    def fn(m: nn.Module, x: np.ndarray) -> np.ndarray:
        return tails[after](m.lin(x), x)

    compiled = check(Fn(fn, lin=nn.Linear(8, 8, bias=bias)), f32(2, 3, 8))
    expected = {"none": ["bias_fill", "Gemm"], "relu": ["bias_fill", "Gemm", "flat"],
                "reads_gemm": ["bias_fill", "Gemm", "flat"] if bias else ["Gemm", "flat"]}[after]
    assert _kernels(compiled) == expected


@pytest.mark.parametrize("case", ["blas", "split_k"])
def test_conv_residual_prefilled(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if case == "split_k":  # the numba split-K convolution pre-fills its accumulator the same way
        monkeypatch.setenv("NNGRAPH_CUDA_BLAS", "off")
    conv = nn.Conv2d(16, 16, 3, padding=1)
    x = f32(1, 16, 4, 4)
    compiled = check(Fn(lambda m, x: nn.functional.relu(m.conv(x) + x), conv=conv), x, rtol=1e-4, atol=1e-4)
    # the residual is in the fill; the one kernel after the GEMM is the ReLU
    assert _kernels(compiled) == {"blas": ["bias_fill", "im2col", "Gemm", "flat"],
                                  "split_k": ["bias_fill", "conv_split", "flat"]}[case]
