"""Device-I/O calls without numba's per-call costs: output arrays recycled through ``pool.OutputPool`` and launchers
re-bound only when an I/O pointer changes (``CudaExecutable._call_pointers``).

The pool test runs numba's real ``MemoryPointer`` / ``DeviceNDArray`` classes in a subprocess without the simulator
(they need no GPU to be constructed) over a fake allocator; the binding test runs the executor on the simulator with
its launchers wrapped as pointer-only launchers."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest

import nngraph
from nngraph import nn

POOL_SCRIPT = textwrap.dedent("""
    import ctypes, gc
    import numpy as np
    from numba.cuda.cudadrv import driver
    from nngraph.backends.cuda.pool import OutputPool

    addresses = iter(range(1 << 20, 1 << 30, 1 << 12))
    freed = []

    def alloc(nbytes):
        p = driver.MemoryPointer(None, ctypes.c_void_p(next(addresses)), nbytes, finalizer=lambda: freed.append(1))
        return p

    def ptr(a):
        return a.__cuda_array_interface__["data"][0]

    pool = OutputPool((3, 5), np.float32, alloc, keep=2)
    a = pool.take()
    assert a.shape == (3, 5) and a.strides == (20, 4) and a.dtype == np.float32 and a.size == 15
    assert a.alloc_size == 60 and a._dummy.is_c_contig
    b = pool.take()
    pa, pb = ptr(a), ptr(b)
    assert pa != pb and pool.n_allocated == 2
    del a                                   # the caller drops an output: its block returns
    c = pool.take()
    assert ptr(c) == pa and pool.n_allocated == 2
    v = c.gpu_data.view(20)                 # a view (what c[1:] holds) keeps the block alive
    del c
    d = pool.take()
    assert ptr(d) not in (pa, pb) and pool.n_allocated == 3
    assert v.device_pointer.value == pa + 20
    del v
    e = pool.take()
    assert ptr(e) == pa and e.shape == (3, 5) and e.strides == (20, 4)
    held = [b, d, e]
    del b, d, e
    extra = [pool.take() for _ in range(3)]  # nothing free: three new blocks
    assert pool.n_allocated == 6
    del held, extra
    gc.collect()
    assert len(pool._free) == 2, len(pool._free)  # at most ``keep`` free blocks, the rest went back to numba
    assert len(freed) == 4, freed
    print("ok")
""")


def test_output_pool_recycles_dropped_arrays_only() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    res = subprocess.run([sys.executable, "-c", POOL_SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip().endswith("ok"), res.stdout + res.stderr


class _PointerShim:
    """A simulator launcher presented as a pointer-only one: ``bind`` records the I/O pointers (fake ones: the
    arrays' ids) and ``fire`` runs the real launch on the arrays they stand for."""

    pointer_io = True

    def __init__(self, inner: Any, table: dict[int, Any], n_in: int, n_out: int) -> None:
        self.inner, self.table, self.n_in, self.n_out = inner, table, n_in, n_out
        self.binds: list[Any] = []
        self.ptrs: dict | None = None

    def bind(self, ptrs: dict | None) -> None:
        self.binds.append(ptrs)
        self.ptrs = ptrs

    def fire(self) -> None:
        if self.ptrs is None:
            return self.inner(None, None)
        arrays = [self.table[self.ptrs[f"{k}{i}"][0]] for k, n in (("I", self.n_in), ("O", self.n_out))
                  for i in range(n)]
        self.inner([a.reshape(-1) for a in arrays[:self.n_in]], [a.reshape(-1) for a in arrays[self.n_in:]])


def test_launchers_rebound_only_when_io_pointers_change(monkeypatch: pytest.MonkeyPatch) -> None:
    from numba import cuda

    from nngraph.backends.cuda import executor

    rng = np.random.default_rng(3)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).eval()
    compiled = nngraph.compile(model, target="cuda")
    x = rng.standard_normal((2, 6)).astype(np.float32)
    ref = model(x)
    np.testing.assert_allclose(compiled(x), ref, rtol=1e-5, atol=1e-5)
    exe = compiled.specializations[0].executable
    assert exe.plan.input_arenas == ["I0"] and [a for a, _ in exe.plan.output_arenas] == ["O0"]
    table: dict[int, Any] = {}

    def fake_pointer(arr: Any) -> tuple[int, int]:
        table[id(arr)] = arr
        return id(arr), int(arr.size)

    monkeypatch.setattr(executor, "io_pointer", fake_pointer)
    shims = [_PointerShim(item[0], table, 1, 1) for item in exe._launches]
    exe._launches = [(s, item[1]) for s, item in zip(shims, exe._launches)]
    exe._nd_io = True
    out = cuda.device_array((2, 3), np.float32)

    class SamePool:  # a pool handing out one array: the second call's pointers repeat
        def take(self) -> Any:
            return out

    exe._pools = [SamePool()]
    xd = cuda.to_device(x)
    first = compiled(xd)
    np.testing.assert_allclose(first.copy_to_host(), ref, rtol=1e-5, atol=1e-5)
    assert all(len(s.binds) == 1 for s in shims)
    compiled(xd)  # same input, same output block: nothing re-bound
    assert all(len(s.binds) == 1 for s in shims)
    x2 = rng.standard_normal((2, 6)).astype(np.float32)
    np.testing.assert_allclose(compiled(cuda.to_device(x2)).copy_to_host(), model(x2), rtol=1e-5, atol=1e-5)
    assert all(len(s.binds) == 2 for s in shims)  # a new input pointer
    np.testing.assert_allclose(compiled(x), ref, rtol=1e-5, atol=1e-5)  # numpy I/O: back to the staging buffers
    assert all(s.binds[-1] is None and len(s.binds) == 3 for s in shims)
    compiled(x)
    assert all(len(s.binds) == 3 for s in shims)


@pytest.mark.gpu
def test_pooled_outputs_on_a_gpu() -> None:
    """A held output is never overwritten by a later call; a dropped one's block is reused; PyTorch / CuPy inputs
    (``__cuda_array_interface__``) are read in place."""
    import gc

    from numba import cuda

    rng = np.random.default_rng(4)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).eval()
    compiled = nngraph.compile(model, target="cuda")
    xs = [rng.standard_normal((2, 6)).astype(np.float32) for _ in range(3)]
    outs = [compiled(cuda.to_device(x)) for x in xs]  # all held
    for x, o in zip(xs, outs):
        np.testing.assert_allclose(o.copy_to_host(), model(x), rtol=1e-5, atol=1e-5)
    pool = compiled.specializations[0].executable._pools[0]
    assert pool.n_allocated == 3
    del outs, o
    gc.collect()
    for x in xs * 3:
        np.testing.assert_allclose(compiled(cuda.to_device(x)).copy_to_host(), model(x), rtol=1e-5, atol=1e-5)
    assert pool.n_allocated == 3  # dropped outputs came back
    try:
        import torch
    except ImportError:
        return
    t = torch.as_tensor(xs[0], device="cuda")
    got = torch.as_tensor(compiled(t), device="cuda")
    np.testing.assert_allclose(got.cpu().numpy(), model(xs[0]), rtol=1e-5, atol=1e-5)
