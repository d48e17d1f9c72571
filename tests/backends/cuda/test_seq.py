"""Attention, recurrent layers, pad, transposed convolution (``lower_seq.py``) compiled on CUDA (the simulator
without a GPU) vs the IR interpreter and eager mode, float32 and float64, no host steps."""
from __future__ import annotations

import numpy as np
import pytest

from .cases import OP_CASES
from .helpers import check

TOL = {np.float32: 1e-4, np.float64: 1e-9}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", [n for n, _ in OP_CASES])
def test_case(name: str, dtype: type) -> None:
    model, inputs = dict(OP_CASES)[name](dtype)
    check(model, *inputs, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_sdpa_unfused(monkeypatch: pytest.MonkeyPatch, dtype: type) -> None:
    """The three-kernel SDPA (GEMM, masked softmax, GEMM) that longer sequences take: the ``sdpa`` case with the
    fused kernel's size limit at 0."""
    from nngraph.backends.cuda import lower_seq

    monkeypatch.setattr(lower_seq, "FUSED_MAX_SCORES", 0)
    model, inputs = dict(OP_CASES)["sdpa"](dtype)
    names = _kernels(check(model, *inputs, rtol=TOL[dtype], atol=TOL[dtype]))
    assert "attention_rows" not in names and names.count("attn_softmax") == 7, names


def test_sdpa_fused_chunks_masks_and_layouts() -> None:
    """``attention_rows`` on the simulator (4 threads: chunks of 4 keys): a row whose first chunk is wholly masked,
    a fully masked row (zeros), a NaN query row (NaN), strided q/k/v views, 3-d operands broadcast against 4-d ones,
    and a transposing user (the output is written in its layout); lead dims beyond two take the unfused path."""
    import nngraph.nn.functional as F

    from .helpers import Fn

    rng = np.random.default_rng(11)
    q, kv = rng.standard_normal((2, 3, 4, 5)).astype(np.float32), rng.standard_normal((2, 9, 3, 5)).astype(np.float32)
    q[1, 2, 3] = np.nan
    keep = rng.random((4, 9)) > 0.4
    keep[0, :4], keep[0, 6] = False, True
    keep[2] = False
    bias = np.where(keep, 0.0, -np.inf).astype(np.float32)
    q5 = rng.standard_normal((2, 2, 2, 3, 5)).astype(np.float32)

    def f(m, q, kv, q5):  # noqa: ANN001, ANN202
        k, v = kv.transpose(0, 2, 1, 3), kv[:, ::2].transpose(0, 2, 1, 3)  # strided (2, 3, 9, 5) / (2, 3, 5, 5)
        a = F.scaled_dot_product_attention(q, k, v[:, :, :1].repeat(9, axis=2), attn_mask=keep)
        b = F.scaled_dot_product_attention(q, k, k[0], attn_mask=bias, scale=0.7)
        c = F.scaled_dot_product_attention(q[0], k[0], k[0], is_causal=True)
        d = F.scaled_dot_product_attention(q5, q5, q5)
        return a.transpose(2, 0, 1, 3).reshape(4, 2, 15) + 1.0, b, c, d

    compiled = check(Fn(f), q, kv, q5, rtol=1e-4, atol=1e-4)
    names = _kernels(compiled)
    assert names.count("attention_rows") == 3 and names.count("attn_softmax") == 1, names


def _kernels(compiled: object) -> list[str]:
    plan = compiled.specializations[0].executable.plan  # type: ignore[attr-defined]
    return [getattr(getattr(s, "kernel", None), "__name__", "") for s in plan.program]


def test_bidirectional_directions_share_a_launch() -> None:
    """The two directions of each bidirectional layer run as one ``recurrence`` launch (grid (N, 2)); the GRU and the
    ReLU RNN that follow are independent too, but not alike (another mode), so they keep their own launches."""
    model, inputs = dict(OP_CASES)["recurrent"](np.float32)
    plan = check(model, *inputs, rtol=1e-4, atol=1e-4).specializations[0].executable.plan
    grids = [s.grid for s in plan.program if getattr(getattr(s, "kernel", None), "__name__", "") == "recurrence"]
    assert grids == [(2, 2), (2, 2), (2,), (2,), (2, 2), (2, 2), (2, 2), (2, 2)], grids


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_recurrence_grid(monkeypatch: pytest.MonkeyPatch, dtype: type) -> None:
    """``NNGRAPH_CUDA_RECURRENCE=grid``: the layers without a projection run ``recurrence_grid`` (on the simulator in
    a grid of one block that loops over every virtual block: H = 5 and 4 with 4 units per virtual block, so one
    virtual block is partial), bidirectional, with and without initial states; projections keep ``recurrence``."""
    monkeypatch.setenv("NNGRAPH_CUDA_RECURRENCE", "grid")
    model, inputs = dict(OP_CASES)["recurrent"](dtype)
    names = _kernels(check(model, *inputs, rtol=TOL[dtype], atol=TOL[dtype]))
    assert names.count("recurrence_grid") == 6 and names.count("recurrence") == 4, names  # directions merged


def test_recurrence_grid_row_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """More gate rows per virtual block than threads (batch 20 x 4 gates x 4 units = 320 > 256): several passes of
    one thread per row."""
    from nngraph import nn

    from .helpers import Fn

    monkeypatch.setenv("NNGRAPH_CUDA_RECURRENCE", "grid")
    rng = np.random.default_rng(5)
    lstm = nn.LSTM(3, 6)
    x = rng.standard_normal((2, 20, 3)).astype(np.float32)
    names = _kernels(check(Fn(lambda m, x: m.lstm(x), lstm=lstm), x, rtol=1e-4, atol=1e-4))
    assert "recurrence_grid" in names, names


def test_recurrence_grid_split_dot_products(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fewer gate rows per virtual block than threads: each dot product is split over KS threads and summed in shared
    memory (LSTM H = 24: 16 rows x 4 threads; GRU H = 20: 12 rows x 5 threads, with 4 threads left over)."""
    from nngraph import nn

    from .helpers import Fn

    monkeypatch.setenv("NNGRAPH_CUDA_RECURRENCE", "grid")
    rng = np.random.default_rng(9)
    model = Fn(lambda m, x: (m.lstm(x), m.gru(x)), lstm=nn.LSTM(3, 24), gru=nn.GRU(3, 20))
    x = rng.standard_normal((3, 1, 3)).astype(np.float32)
    plan = check(model, x, rtol=1e-4, atol=1e-4).specializations[0].executable.plan
    blocks = [s.block for s in plan.program if getattr(getattr(s, "kernel", None), "__name__", "") == "recurrence_grid"]
    assert blocks == [(64,), (64,)], blocks


def test_recurrence_mode_rejects_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    from nngraph.backends.cuda.lower_seq import recurrence_mode

    monkeypatch.setenv("NNGRAPH_CUDA_RECURRENCE", "persistent")
    with pytest.raises(ValueError, match="NNGRAPH_CUDA_RECURRENCE must be 'block' or 'grid', got 'persistent'"):
        recurrence_mode()


@pytest.mark.gpu
@pytest.mark.parametrize("graphs", ["0", "1"])
def test_recurrence_grid_on_a_gpu(monkeypatch: pytest.MonkeyPatch, graphs: str) -> None:
    """On a real GPU the grid is cooperative and several blocks wide (H = 128: 32 virtual blocks of 4 units), eager
    and captured into a CUDA graph; repeated calls reuse the barrier's state."""
    from nngraph import nn

    from .helpers import Fn

    monkeypatch.setenv("NNGRAPH_CUDA_RECURRENCE", "grid")
    monkeypatch.setenv("NNGRAPH_CUDA_GRAPHS", graphs)
    rng = np.random.default_rng(8)
    model = Fn(lambda m, x: (m.lstm(x), m.gru(x)), lstm=nn.LSTM(16, 128, num_layers=2, bidirectional=True),
               gru=nn.GRU(16, 96))
    x = rng.standard_normal((20, 3, 16)).astype(np.float32)
    compiled = check(model, x, rtol=1e-4, atol=1e-4)
    launchers = [item[0] for item in compiled.specializations[0].executable._launches if isinstance(item, tuple)]
    grid = [ln for ln in launchers if getattr(ln, "cooperative", False)]
    assert len(grid) == 5 and all(ln._dims[0] > 1 for ln in grid), [getattr(ln, "_dims", None) for ln in grid]
    for _ in range(3):
        check_again = compiled(x)
        np.testing.assert_allclose(check_again[0][0], model(x)[0][0], rtol=1e-4, atol=1e-4)
