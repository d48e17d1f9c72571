"""``nngraph.compile(dynamic=...)``: symbolic dimensions compile once and match eager execution at every size."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nngraph
import nngraph.nn as nn
from nngraph.ir.symbolic import SymbolicUnsupported, SymInt, align_up, recording
from nngraph.models import ZOO
from nngraph.runtime.compiled import DynamicShapeWarning


def close(a, b, tol=1e-5):
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def n_dynamic(c) -> int:
    return sum(1 for s in c.specializations if s.symbolic is not None)


def n_static(c) -> int:
    return sum(1 for s in c.specializations if s.symbolic is None)


def run(c, m, x, tol=1e-5):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DynamicShapeWarning)
        got = c(x)
    want = m(x)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        assert g.shape == w.shape
        close(g, w, tol)


# ---------------------------------------------------------------- SymInt

def test_symint_arithmetic_guards_and_alignment():
    n, s = SymInt.symbol("n", 5), SymInt.symbol("s", 7)
    x = n * 3136 + 16
    assert int(x) == 5 * 3136 + 16 and x.evaluate({"n": 9}) == 9 * 3136 + 16
    assert x == n * 3136 + 16 and hash(x) == hash(3136 * n + 16)
    assert (n * s * 64) // s == n * 64 and n * s - s * n == 0
    with pytest.raises(SymbolicUnsupported):
        n // 2
    with recording() as rec:
        assert n >= 2 and n * 4 > n * 2  # provable for sizes >= 2: no guard
        assert not rec.guards
        assert n > 4 and n != s
    assert len(rec.guards) == 2
    a = align_up(8 * n - 4, 16)
    assert all(a.evaluate({"n": v}) % 16 == 0 and a.evaluate({"n": v}) >= 8 * v - 4 for v in range(0, 40))


# ---------------------------------------------------------------- small graphs

class Shapes(nn.Module):
    """reshape(n, -1), flatten, concat, slicing and reversal on the dynamic dim, a reduction over it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(15, 4)

    def forward(self, x):
        n = x.shape[0]
        y = self.fc(x.reshape(n, -1))
        z = np.concatenate([y, y[::-1] * 2.0], axis=0)
        w = z[1:] - z[:-1]
        return np.tanh(w).T.reshape(-1), w[: n - 1], np.maximum(w, 0).sum(axis=1), z.mean(axis=0)


def test_small_graph_compiles_once_for_every_size():
    nngraph.manual_seed(0)
    m = Shapes().eval()
    c = nngraph.compile(m, dynamic={"x": {0: "batch"}})
    rng = np.random.default_rng(0)
    for n in (3, 5, 17, 4):
        run(c, m, rng.standard_normal((n, 3, 5)).astype(np.float32))
    assert c.compile_count == 1 and n_dynamic(c) == 1
    sig = c.specializations[0].symbolic
    assert "batch" in sig.describe()
    assert c.specializations[0].executable.n_host_steps == 0
    for n in (1, 0):  # sizes 0 and 1 keep static specializations
        x = rng.standard_normal((n, 3, 5)).astype(np.float32)
        if n == 0:
            with pytest.raises(Exception):
                m(x)
            continue
        run(c, m, x)
    assert n_static(c) == 1 and n_dynamic(c) == 1


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(3, 40), min_size=1, max_size=4))
def test_random_sizes_match_eager(sizes):
    m = _SHAPES
    for n in sizes:
        x = np.random.default_rng(n).standard_normal((n, 3, 5)).astype(np.float32)
        run(_SHAPES_C, m, x)
    assert n_dynamic(_SHAPES_C) == 1 and n_static(_SHAPES_C) == 0


nngraph.manual_seed(1)
_SHAPES = Shapes().eval()
_SHAPES_C = nngraph.compile(_SHAPES, dynamic={0: {0: "n"}})


def test_automatic_dynamic_at_the_second_shape():
    nngraph.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3), nn.Tanh()).eval()
    c = nngraph.compile(m, dynamic=True)
    rng = np.random.default_rng(0)
    run(c, m, rng.standard_normal((4, 6)).astype(np.float32))
    assert c.compile_count == 1 and n_dynamic(c) == 0  # the first shape is static
    for n in (7, 3, 17, 9):
        run(c, m, rng.standard_normal((n, 6)).astype(np.float32))
    assert c.compile_count == 2 and n_dynamic(c) == 1
    assert c.specializations[-1].symbolic.leaves[0][2][1] == 6  # the feature dim stayed static


def test_dynamic_false_keeps_per_shape_specializations():
    m = nn.Sequential(nn.Linear(6, 3)).eval()
    c = nngraph.compile(m)
    for n in (2, 3):
        run(c, m, np.ones((n, 6), np.float32))
    assert c.compile_count == 2 and n_dynamic(c) == 0
    with pytest.raises(TypeError, match="dynamic="):
        nngraph.compile(m, dynamic="batch")
    with pytest.raises(ValueError, match="no parameter 'inputs'"):
        nngraph.compile(m, dynamic={"inputs": {0: "batch"}})(np.ones((3, 6), np.float32))


def test_guards_rank_dtype_and_static_dims():
    nngraph.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 5), nn.ReLU()).eval()
    c = nngraph.compile(m, dynamic={0: {0: "batch"}})
    x = np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32)
    run(c, m, x)
    run(c, m, x[:2])
    assert c.compile_count == 1
    run(c, m, np.stack([x, x]))  # another rank: another specialization
    assert c.compile_count == 2
    for bad in (np.ones((3, 7), np.float32), x.astype(np.float64)):  # a wrong static dim or dtype: eager's error
        with pytest.raises(Exception) as eager:
            m(bad)
        with pytest.raises(type(eager.value)):
            c(bad)
    m64 = nn.Sequential(nn.Linear(6, 5)).eval()
    m64.to(np.float64)
    c64 = nngraph.compile(m64, dynamic={0: {0: "batch"}})
    run(c64, m64, x.astype(np.float64))
    run(c64, m64, x[:2].astype(np.float64))
    assert c64.compile_count == 1 and n_dynamic(c64) == 1


def test_symbols_shared_between_inputs_must_agree():
    class Add(nn.Module):
        def forward(self, a, b):
            return a * 2.0 + b

    m = Add().eval()
    c = nngraph.compile(m, dynamic={"a": {0: "n"}, "b": {0: "n"}})
    a = np.ones((4, 3), np.float32)
    close(c(a, a + 1), m(a, a + 1))
    close(c(a[:3], a[:3] + 1), m(a[:3], a[:3] + 1))
    assert c.compile_count == 1
    # different sizes for one symbol: not this specialization (eager broadcasting rules apply)
    close(c(a[:1], a[:3]), m(a[:1], a[:3]))
    assert c.compile_count == 2


def test_hooks_fire_and_weight_refresh():
    nngraph.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)).eval()
    seen = []
    m[1].register_forward_hook(lambda mod, args, out: seen.append(out.shape))
    c = nngraph.compile(m, dynamic={0: {0: "batch"}})
    rng = np.random.default_rng(0)
    for n in (3, 5):
        run(c, m, rng.standard_normal((n, 6)).astype(np.float32))
    assert c.compile_count == 1
    assert seen == [(3, 5), (3, 5), (5, 5), (5, 5)]  # compiled and eager call each
    nn.init.constant_(m[2].weight, 0.25)  # nngraph sees this change
    run(c, m, rng.standard_normal((4, 6)).astype(np.float32))
    m[2].bias[...] = 1.5  # a raw in-place write: refresh()
    c.refresh()
    run(c, m, rng.standard_normal((6, 6)).astype(np.float32))
    assert c.compile_count == 1


class Halves(nn.Module):
    def forward(self, x):
        return x[: x.shape[0] // 2] * 3.0  # n // 2 is not a polynomial of n


def test_fallback_warns_once_and_stays_correct():
    m = Halves().eval()
    c = nngraph.compile(m, dynamic={0: {0: "n"}})
    x = np.arange(40, dtype=np.float32).reshape(10, 4)
    with pytest.warns(DynamicShapeWarning, match="getitem"):
        close(c(x), m(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DynamicShapeWarning)
        for n in (5, 7):
            close(c(x[:n]), m(x[:n]))
    assert n_dynamic(c) == 0 and c.compile_count == 3


# ---------------------------------------------------------------- zoo models

def _zoo(name, **kw):
    nngraph.manual_seed(0)
    return ZOO[name].build(**kw).eval()


def test_mlp():
    m = _zoo("mlp")
    c = nngraph.compile(m, dynamic={0: {0: "batch"}})
    rng = np.random.default_rng(0)
    for n in (2, 3, 5, 17):
        run(c, m, rng.standard_normal((n, 784)).astype(np.float32))
    assert c.compile_count == 1
    run(c, m, rng.standard_normal((1, 784)).astype(np.float32))
    with pytest.raises(ValueError):  # as eager: reshape(0, -1) is ambiguous
        c(np.zeros((0, 784), np.float32))
    assert n_dynamic(c) == 1 and n_static(c) == 1


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_cnn_batch(name):
    m = _zoo(name)
    c = nngraph.compile(m, dynamic={0: {0: "batch"}})
    rng = np.random.default_rng(0)
    for n in (3, 5, 2):
        run(c, m, rng.standard_normal((n, 3, 32, 32)).astype(np.float32), 1e-4)
    assert c.compile_count == 1 and n_dynamic(c) == 1
    assert c.specializations[0].executable.n_host_steps == 0
    run(c, m, rng.standard_normal((1, 3, 32, 32)).astype(np.float32), 1e-4)
    assert n_static(c) == 1


def test_bert_batch_and_sequence():
    m = _zoo("bert_tiny", max_position=32)
    c = nngraph.compile(m, dynamic={"input_ids": {0: "batch", 1: "seq"}})
    rng = np.random.default_rng(0)
    for b, s in ((3, 9), (5, 12), (2, 16), (4, 5)):
        run(c, m, rng.integers(0, 1000, (b, s)), 1e-4)
    assert c.compile_count == 1 and n_dynamic(c) == 1
    assert "seq" in c.specializations[0].symbolic.describe()
    run(c, m, rng.integers(0, 1000, (1, 7)), 1e-4)  # batch 1: static, seq still symbolic
    run(c, m, rng.integers(0, 1000, (1, 11)), 1e-4)
    assert c.compile_count == 2 and n_dynamic(c) == 2
    assert c.specializations[1].symbolic.leaves[0][2][0] == 1


def test_lstm_batch_and_sequence():
    m = _zoo("lstm_classifier", vocab_size=200, embed_dim=16, hidden_size=16)
    c = nngraph.compile(m, dynamic={0: {0: "batch", 1: "seq"}})
    rng = np.random.default_rng(0)
    for b, s in ((3, 12), (5, 7), (2, 9), (3, 5)):
        run(c, m, rng.integers(0, 200, (b, s)), 1e-4)
    assert c.compile_count == 1 and n_dynamic(c) == 1
    guards = c.specializations[0].symbolic.describe()
    if "batch - 4 != 0" in guards:  # batch 4 meets the 4 LSTM states: compiled separately, without a warning
        run(c, m, rng.integers(0, 200, (4, 6)), 1e-4)
        assert c.compile_count == 2


def test_automatic_dynamic_shares_symbols_between_inputs():
    class Masked(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x, mask):
            return self.fc(x) * mask[..., None]

    nngraph.manual_seed(0)
    m = Masked().eval()
    c = nngraph.compile(m, dynamic=True)
    rng = np.random.default_rng(0)
    for b, s in ((2, 5), (3, 7), (4, 6), (6, 9)):
        x, mask = rng.standard_normal((b, s, 3)).astype(np.float32), (rng.random((b, s)) > 0.5).astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("error", DynamicShapeWarning)
            close(c(x, mask), m(x, mask))
    assert c.compile_count == 2 and n_dynamic(c) == 1
    x_dims, mask_dims = (leaf[2] for leaf in c.specializations[-1].symbolic.leaves)
    assert x_dims[:2] == mask_dims and isinstance(x_dims[0], str) and x_dims[2] == 3


def test_forward_failing_at_neighbouring_sizes_falls_back_quietly():
    m = _zoo("bert_tiny", max_position=16)
    c = nngraph.compile(m, dynamic={0: {1: "seq"}})
    rng = np.random.default_rng(0)
    run(c, m, rng.integers(0, 1000, (2, 15)), 1e-4)  # seq + 2 > 16 rows of positions: static
    assert n_dynamic(c) == 0 and c.compile_count == 1
    for s in (5, 9):
        run(c, m, rng.integers(0, 1000, (2, s)), 1e-4)
    assert n_dynamic(c) == 1 and c.compile_count == 2
    assert "seq" in c.specializations[-1].symbolic.describe()


# ---------------------------------------------------------------- on-disk cache

SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    import nngraph
    from nngraph import nn
    nngraph.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3), nn.Tanh()).eval()
    c = nngraph.compile(m, dynamic={0: {0: "batch"}})
    errs = []
    for n in (3, 8):
        x = np.random.default_rng(n).standard_normal((n, 6)).astype(np.float32)
        errs.append(float(np.abs(c(x) - m(x)).max()))
    exe = c.specializations[0].executable
    segments = [s for s in exe.steps if callable(s)]
    misses = sum(sum(s.stats.cache_misses.values()) for s in segments)
    print(json.dumps({"err": max(errs), "misses": misses, "count": c.compile_count, "segments": len(segments)}))
""")


def test_new_process_reuses_the_dynamic_specialization(tmp_path):
    env = dict(os.environ, NNGRAPH_CACHE_DIR=str(tmp_path))
    results = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    for r in results:
        assert r["err"] < 1e-5 and r["count"] == 1 and r["segments"] >= 1
    assert results[1]["misses"] == 0
