"""The backend's kernels compile for a real GPU (PTX for compute capability 9.0), not only in the simulator."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def test_kernels_compile_to_ptx_for_sm90() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run([sys.executable, os.path.join(HERE, "ptx_check.py"), "--cc", "9.0"], env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode == 77:
        pytest.skip(proc.stdout.strip())
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert "compiled" in proc.stdout


def test_block_resources_limits() -> None:
    from nngraph.backends.cuda.ptx import Resources

    assert Resources(124, 0, 8192).block_problem(256) is None
    # registers are allocated per warp in units of 256: 65 registers round up to 72 per thread
    assert Resources(64, 0, 0).block_problem(1024) is None
    assert "registers per block" in Resources(65, 0, 0).block_problem(1024)
    assert "threads per block" in Resources(16, 0, 0).block_problem(2048)
    assert "shared memory" in Resources(16, 0, 49 * 1024).block_problem(128)


_PTX = """.version 8.0
.target sm_90
.address_size 64
.visible .entry k(.param .u64 p)
{
    .reg .b64 %rd<3>;
    .reg .f32 %f<2>;
    ld.param.u64 %rd1, [p];
    cvta.to.global.u64 %rd2, %rd1;
    ld.global.f32 %f1, [%rd2];
    BODY
    st.global.f32 [%rd2], %f1;
    ret;
}
"""


def test_ptxas_assembles_and_rejects() -> None:
    from nngraph.backends.cuda.ptx import assemble, ptxas_path

    if ptxas_path() is None:
        pytest.skip("ptxas is not on the PATH")
    res = assemble(_PTX.replace("BODY", "add.f32 %f1, %f1, %f1;"), (9, 0))
    assert 0 < res.registers < 32 and res.spill_bytes == 0 and res.shared_bytes == 0
    with pytest.raises(RuntimeError, match="ptxas failed"):
        assemble(_PTX.replace("BODY", "frobnicate.f32 %f1, %f1;"), (9, 0))


_LOCAL_PTX = """.version 8.0
.target sm_90
.address_size 64
.visible .entry k(.param .u64 p, .param .u32 i)
{
    .local .align 4 .b8 buf[64];
    .reg .b64 %rd<6>;
    .reg .b32 %r<3>;
    .reg .f32 %f<2>;
    ld.param.u64 %rd1, [p];
    ld.param.u32 %r1, [i];
    cvta.to.global.u64 %rd2, %rd1;
    ld.global.f32 %f1, [%rd2];
    mul.wide.u32 %rd3, %r1, 4;
    mov.u64 %rd4, buf;
    add.u64 %rd5, %rd4, %rd3;
    st.local.f32 [%rd5], %f1;
    ld.local.f32 %f1, [buf+8];
    st.global.f32 [%rd2], %f1;
    ret;
}
"""


def test_ptxas_reports_local_memory() -> None:
    """An array indexed with a variable lives in local memory: the stack frame the PTX check fails kernels on."""
    from nngraph.backends.cuda.ptx import assemble, ptxas_path

    if ptxas_path() is None:
        pytest.skip("ptxas is not on the PATH")
    assert assemble(_LOCAL_PTX, (9, 0)).stack_bytes == 64
    assert assemble(_PTX.replace("BODY", "add.f32 %f1, %f1, %f1;"), (9, 0)).stack_bytes == 0
