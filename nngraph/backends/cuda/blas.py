"""cuBLAS GEMMs through CuPy, for the linear/matmul/convolution nodes where they beat the numba.cuda kernels.

Measured on an H100 (bench/cuda_check.py): the tiled numba.cuda SGEMM reaches 10 TFLOP/s at 4096^3 against cuBLAS's
45, and 0.3-1.3 ms against 0.06-0.09 ms on batch-1/batch-32 shapes; the implicit-GEMM convolution ~1.6 TFLOP/s on
ResNet-18 batch 32. Where CuPy is installed (and ``NNGRAPH_CUDA_BLAS`` is not ``off``), the planner therefore emits a
``Gemm`` step for every float32/float64 GEMM above ``MIN_MACS`` multiply-adds whose operands have a unit stride in
one dimension; its bias and fused epilogue run as the existing elementwise kernels around it. Convolutions with one
group run as one strided-batched GEMM per chunk of images (1x1 stride-1 convolutions read the input in place, others
through an ``im2col`` buffer of at most ``COL_BYTES``).

cuBLAS is column-major: the row-major ``C (m, n) = A (m, k) @ B (k, n)`` is issued as ``C^T = B^T A^T``. The calls
go to the legacy default stream, which the numba launches use too, so they are ordered with them. A private cuBLAS
handle keeps CuPy's own handle settings untouched; its math mode is plain fp32, and ``precision="tf32"``/``"fp16"``
call ``cublasGemmStridedBatchedEx`` with the FAST_TF32 / FAST_16F compute types (tensor cores, fp32 accumulation).

``NNGRAPH_CUDA_BLAS=reference`` runs the same ``Gemm`` steps with numpy on the CUDA simulator's arrays: the tests
check the planning (operand transposes, leading dimensions, batch strides, im2col, epilogues) without a GPU.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..cpu.buffers import Buf

MIN_MACS = 1 << 22  # smaller GEMMs keep the single fused numba kernel (one launch instead of up to three)
COL_BYTES = 128 << 20  # the im2col buffer of a chunk of images
OP_N, OP_T = 0, 1


@dataclass
class Gemm:
    """``C[z] = alpha * op(A[z]) @ op(B[z]) + beta * C[z]`` (column-major, cuBLAS's conventions), z < batch;
    operands are element offsets into arenas."""

    node: str
    dtype: np.dtype
    transa: int
    transb: int
    m: int
    n: int
    k: int
    a: Buf
    lda: int
    stride_a: int
    b: Buf
    ldb: int
    stride_b: int
    c: Buf
    ldc: int
    stride_c: int
    batch: int
    beta: float


def mode() -> str:
    """``NNGRAPH_CUDA_BLAS``: ``auto`` (CuPy's cuBLAS when importable on a real GPU), ``off``, or ``reference``."""
    m = os.environ.get("NNGRAPH_CUDA_BLAS", "auto")
    if m not in ("auto", "off", "reference"):
        raise ValueError(f"NNGRAPH_CUDA_BLAS must be 'auto', 'off' or 'reference', got {m!r}")
    return m


_AVAILABLE: dict[str, bool] = {}


def enabled() -> bool:
    """Whether the planner emits ``Gemm`` steps."""
    from . import simulator

    m = mode()
    if m == "off":
        return False
    if m == "reference":
        return simulator()
    if simulator():
        return False
    if "cupy" not in _AVAILABLE:
        try:
            import cupy
            from cupy_backends.cuda.libs import cublas  # noqa: F401

            _AVAILABLE["cupy"] = cupy.cuda.runtime.getDeviceCount() > 0
        except Exception:  # noqa: BLE001 -- not installed, or no usable GPU for it
            _AVAILABLE["cupy"] = False
    return _AVAILABLE["cupy"]


def _operand(rows: int, cols: int, rs: int, cs: int) -> tuple[int, int] | None:
    """cuBLAS (op, ld) reading the column-major ``rows x cols`` matrix whose element (i, j) is at ``i*rs + j*cs``,
    or None when neither dimension has unit stride. A dimension of size 1 may have any stride."""
    if rows == 1:
        rs = 1
    if cols == 1:
        cs = max(rows, 1) if rs == 1 else 1
    if rs == 1 and cs >= max(rows, 1):
        return OP_N, cs
    if cs == 1 and rs >= max(cols, 1):
        return OP_T, rs
    return None


def plan_gemm(node: str, a: Buf, b: Buf, out: Buf, batch: int, a_bs: int, b_bs: int, c_bs: int, m: int, n: int,
              k: int, beta: float) -> Gemm | None:
    """The ``Gemm`` for row-major ``out[z] (m, n) = a[z] (m, k) @ b[z] (k, n)`` (``out`` rows dense with stride
    ``n``), or None when an operand has no unit stride."""
    if out.strides[-1] != 1 and n > 1:
        return None
    # C^T (n x m) = B^T (n x k) @ A^T (k x m): B^T(i, j) = b[j, i], A^T(i, j) = a[j, i]
    ob = _operand(n, k, b.strides[-1], b.strides[-2])
    oa = _operand(k, m, a.strides[-1], a.strides[-2])
    if ob is None or oa is None or max(m, n, k, batch) >= 2 ** 31:
        return None
    return Gemm(node, np.dtype(out.dtype), ob[0], oa[0], n, m, k, b, ob[1], b_bs, a, oa[1], a_bs, out, n, c_bs,
                batch, beta)


def worth_it(batch: int, m: int, n: int, k: int) -> bool:
    return enabled() and batch * m * n * k >= MIN_MACS


# -- execution ------------------------------------------------------------------------------------------------------
def prepare(g: Gemm, arrays: dict[str, Any], precision: str = "fp32") -> Callable[[list[Any] | None, list[Any] | None],
                                                                                     None]:
    """A launcher ``(ins, outs) -> None`` for ``g`` over the executable's arrays (graph inputs/outputs given as device
    arrays replace the staging arenas per call)."""
    if mode() == "reference":
        return _ReferenceGemm(g, arrays)
    return _CublasGemm(g, arrays, precision)


def _pick(arrays: dict[str, Any], arena: str, ins: list[Any] | None, outs: list[Any] | None) -> Any:
    if ins is not None and arena[0] in "IO":
        return ins[int(arena[1:])] if arena[0] == "I" else outs[int(arena[1:])]
    return arrays[arena]


# cublasComputeType_t: fp32 inputs/outputs, operands rounded to TF32 / FP16 for the tensor cores
_COMPUTE = {"tf32": 77, "fp16": 74}  # CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_COMPUTE_32F_FAST_16F
_CUDA_R_32F = 0
_GEMM_DEFAULT = -1


class _CublasGemm:
    _handle: list[int] = []
    _handle_stream = [0]  # the stream the shared handle is set to
    pointer_io = True  # device-array I/O: only pointers are read (see executor._nd_io)

    def __init__(self, g: Gemm, arrays: dict[str, Any], precision: str) -> None:
        from cupy_backends.cuda.libs import cublas

        self.g, self.arrays = g, arrays
        if not self._handle:
            h = cublas.create()  # private: CuPy's own handle keeps its settings
            cublas.setMathMode(h, 0)  # CUBLAS_DEFAULT_MATH: IEEE fp32 unless a call asks for a faster compute type
            cublas.setPointerMode(h, 0)  # host scalars
            self._handle.append(h)
        self.handle = self._handle[0]
        if g.dtype == np.float32 and precision in _COMPUTE:
            compute = _COMPUTE[precision]

            def ex(h, ta, tb, m, n, k, alpha, pa, lda, sa, pb, ldb, sb, beta, pc, ldc, sc, batch):  # noqa: ANN001
                cublas.gemmStridedBatchedEx(h, ta, tb, m, n, k, alpha, pa, _CUDA_R_32F, lda, sa, pb, _CUDA_R_32F,
                                            ldb, sb, beta, pc, _CUDA_R_32F, ldc, sc, batch, compute, _GEMM_DEFAULT)

            self.fn = ex
        else:
            self.fn = cublas.sgemmStridedBatched if g.dtype == np.float32 else cublas.dgemmStridedBatched
        self.scalars = np.array([1.0, g.beta], dtype=g.dtype)  # alpha, beta (host memory, kept alive here)
        self.name = "cublas_gemm"
        self.ptrs = [self._ptr(b, None, None) for b in (g.a, g.b, g.c)]
        self.bound = self.ptrs
        self.io = any(b.arena[0] in "IO" for b in (g.a, g.b, g.c))
        self.stream = 0
        self._set_stream = cublas.setStream

    def set_stream(self, handle: int) -> None:
        """Run on the stream ``handle`` (0: the legacy default stream; see ``graphs.py``)."""
        self.stream = int(handle)

    def _ptr(self, b: Buf, ins: list[Any] | None, outs: list[Any] | None) -> int:
        arr = _pick(self.arrays, b.arena, ins, outs)
        return int(arr.__cuda_array_interface__["data"][0]) + b.offset * self.g.dtype.itemsize

    def bind(self, ptrs: dict[str, tuple[int, int]] | None) -> None:
        """``launch.DriverLaunch.bind``: graph inputs/outputs at ``ptrs[arena][0]``, or the staging buffers."""
        g = self.g
        self.bound = self.ptrs if ptrs is None else [
            ptrs[b.arena][0] + b.offset * g.dtype.itemsize if b.arena[0] in "IO" else p
            for b, p in zip((g.a, g.b, g.c), self.ptrs)]

    def fire(self) -> None:
        self._gemm(*self.bound)

    def __call__(self, ins: list[Any] | None, outs: list[Any] | None) -> None:
        g = self.g
        self._gemm(*(self.ptrs if ins is None or not self.io else [self._ptr(x, ins, outs) for x in (g.a, g.b, g.c)]))

    def _gemm(self, pa: int, pb: int, pc: int) -> None:
        g = self.g
        if self._handle_stream[0] != self.stream:
            self._set_stream(self.handle, self.stream)
            self._handle_stream[0] = self.stream
        alpha = self.scalars.ctypes.data
        self.fn(self.handle, g.transa, g.transb, g.m, g.n, g.k, alpha, pa, g.lda, g.stride_a, pb, g.ldb, g.stride_b,
                alpha + g.dtype.itemsize, pc, g.ldc, g.stride_c, g.batch)


class _ReferenceGemm:
    """The ``Gemm`` in numpy on the simulator's arrays (tests only)."""

    name = "reference_gemm"

    def __init__(self, g: Gemm, arrays: dict[str, Any]) -> None:
        self.g, self.arrays = g, arrays

    def _matrix(self, b: Buf, rows: int, cols: int, ld: int, stride: int, ins: Any, outs: Any) -> np.ndarray:
        flat = _pick(self.arrays, b.arena, ins, outs)
        flat = getattr(flat, "_ary", flat)
        isz = flat.itemsize
        view = np.lib.stride_tricks.as_strided(flat[b.offset:], shape=(self.g.batch, cols, rows),
                                               strides=(stride * isz, ld * isz, isz), writeable=True)
        return view.transpose(0, 2, 1)  # column-major rows x cols

    def __call__(self, ins: list[Any] | None, outs: list[Any] | None) -> None:
        g = self.g
        a = self._matrix(g.a, *((g.m, g.k) if g.transa == OP_N else (g.k, g.m)), g.lda, g.stride_a, ins, outs)
        b = self._matrix(g.b, *((g.k, g.n) if g.transb == OP_N else (g.n, g.k)), g.ldb, g.stride_b, ins, outs)
        c = self._matrix(g.c, g.m, g.n, g.ldc, g.stride_c, ins, outs)
        opa = a if g.transa == OP_N else a.transpose(0, 2, 1)
        opb = b if g.transb == OP_N else b.transpose(0, 2, 1)
        res = np.matmul(opa.astype(np.float64), opb.astype(np.float64))
        c[...] = (res + g.beta * c.astype(np.float64)).astype(g.dtype) if g.beta else res.astype(g.dtype)
