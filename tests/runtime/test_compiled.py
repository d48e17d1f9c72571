"""Runtime semantics of compiled modules: they behave like the module (issue: compiler back half)."""
from __future__ import annotations

import copy
import threading
import warnings

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
from nngraph.ir.interpreter import NodeExecutionError
from nngraph.runtime import SpecializationLimitWarning


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.act = nn.ReLU()
        self.head = nn.Linear(4, 2)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        h = self.act(self.bn(self.conv(x)))
        return self.head(self.drop(h.mean(axis=(2, 3))))


def make(seed: int = 0) -> Block:
    nngraph.manual_seed(seed)
    m = Block()
    rng = np.random.default_rng(seed)
    m.bn.running_mean[:] = rng.standard_normal(4)
    m.bn.running_var[:] = rng.random(4) + 0.5
    return m.eval()


@pytest.fixture
def x() -> np.ndarray:
    return np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)


def close(a, b, tol=1e-5):
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


# ---------------------------------------------------------------- the module facade

def test_compiled_module_looks_like_the_module(x):
    m = make()
    c = nngraph.compile(m)
    assert isinstance(c, nn.Module) and c.original is m
    assert list(c.state_dict()) == list(m.state_dict())
    assert all(p is q for p, q in zip(c.parameters(), m.parameters()))
    assert "Compiled" in repr(c) and repr(m) in repr(c)
    close(c(x), m(x))
    c.train()
    assert m.training and c.training
    c.eval()
    assert not m.training and not c.training


def test_state_dict_round_trips_between_compiled_and_plain(x):
    a, b = make(0), make(1)
    ca = nngraph.compile(a)
    ca(x)
    b.load_state_dict(ca.state_dict())
    close(b(x), a(x))
    cb = nngraph.compile(make(2))
    cb.load_state_dict(b.state_dict())
    close(cb(x), a(x))


# ---------------------------------------------------------------- weights

def test_weight_changes_are_honoured(x):
    m = make()
    c = nngraph.compile(m)
    c(x)
    other = make(5)
    c.load_state_dict(other.state_dict())           # through the compiled module
    close(c(x), other(x))
    m.load_state_dict(make(6).state_dict())          # through the original
    close(c(x), make(6)(x))
    m.conv.weight = nn.Parameter(np.ones_like(m.conv.weight))  # assignment
    close(c(x), m(x))
    m.apply(lambda mod: nn.init.constant_(mod.weight, 0.1) if isinstance(mod, nn.Linear) else None)
    close(c(x), m(x))
    m.bn.running_var[:] = 4.0                        # raw in-place write: documented, needs refresh()
    c.refresh()
    close(c(x), m(x))
    assert c.compile_count == 1


def test_dtype_conversion_recompiles_for_the_new_dtype(x):
    m = make()
    c = nngraph.compile(m)
    c(x)
    m.double()
    x64 = x.astype(np.float64)
    close(c(x64), m(x64), 1e-10)


# ---------------------------------------------------------------- hooks

def test_hooks_fire_with_real_intermediates_before_and_after_compile(x):
    m = make()
    seen = {}
    m.bn.register_forward_hook(lambda mod, a, out: seen.__setitem__("bn_before", out.copy()))
    c = nngraph.compile(m)
    y = c(x)
    close(y, make()(x))
    ref_bn = make().bn(make().conv(x))
    close(seen["bn_before"], ref_bn)  # the BN output exists although BN would otherwise be folded
    h = c.conv.register_forward_hook(lambda mod, a, out: out * 0)  # after compile, replacing the output
    y0 = c(x)
    close(y0, m(x))
    h.remove()
    close(c(x), y)
    calls = []
    c.register_forward_pre_hook(lambda mod, a: calls.append("root-pre"))
    c(x)
    assert calls == ["root-pre"]


def test_hook_changes_respecialize_without_a_storm(x):
    m = make()
    c = nngraph.compile(m)
    c(x)
    n = c.compile_count
    h = m.act.register_forward_hook(lambda *a: None)
    c(x)
    c(x)
    h2 = m.act.register_forward_hook(lambda *a: None)  # same set of hooked modules: no new compile
    c(x)
    assert c.compile_count == n + 1
    h.remove(), h2.remove()
    c(x)  # back to the first specialization
    assert c.compile_count == n + 1


# ---------------------------------------------------------------- modes and shapes

def test_train_eval_switching_compiles_at_most_once_per_mode(x):
    m = make()
    c = nngraph.compile(m)
    for _ in range(3):
        c.eval()
        c(x)
        c.train()
        before = m.bn.num_batches_tracked.copy()
        c(x)  # train mode: eager, BN statistics updated exactly as eager
        assert m.bn.num_batches_tracked == before + 1
    assert c.compile_count == 1


def test_new_shapes_specialize_up_to_the_limit(x):
    m = make()
    c = nngraph.compile(m, max_specializations=2)
    c(x)
    c(x[:1])
    with pytest.warns(SpecializationLimitWarning, match="dimension 0"):
        y = c(np.concatenate([x, x[:1]]))
    close(y, m(np.concatenate([x, x[:1]])))
    assert c.compile_count == 2


# ---------------------------------------------------------------- inputs and outputs

def test_strided_and_fortran_inputs(x):
    m = make()
    c = nngraph.compile(m)
    xf = np.asfortranarray(x)
    close(c(xf), m(x))
    xs = np.random.default_rng(0).standard_normal((2, 3, 8, 16)).astype(np.float32)[..., ::2]
    close(c(xs), m(np.ascontiguousarray(xs)))


def test_repeated_calls_reuse_the_last_specialization_only_when_it_fits(x):
    """A call with the last call's contiguous shapes and dtypes skips the specialization lookup; anything else
    (layout, shape, keyword arguments, a hook, new weights) still takes the full path."""
    m = make()
    c = nngraph.compile(m)
    close(c(x), m(x))
    close(c(x), m(x))
    x2 = x[:, :, ::-1, :]  # same shape and dtype, not contiguous
    close(c(x2), m(np.ascontiguousarray(x2)))
    close(c(np.asfortranarray(x)), m(x))
    close(c(x[:1]), m(x[:1]))
    close(c(x=x), m(x))
    close(c(x), m(x))
    seen = []
    h = m.act.register_forward_hook(lambda mod, a, out: seen.append(out.shape))
    close(c(x), m(x))
    assert seen == [(2, 4, 8, 8)] * 2  # the compiled call and the eager reference
    h.remove()
    m.head.weight[...] = 0.0
    c.refresh()
    close(c(x), m(x))
    m.load_state_dict(make(seed=3).state_dict())
    close(c(x), make(seed=3)(x))
    assert c.compile_count == 4  # (2, 3, 8, 8), (1, 3, 8, 8), keyword call, hooked


def test_wrong_dtype_behaves_as_eager(x):
    m = make()
    c = nngraph.compile(m)
    with pytest.raises(Exception) as eager:
        m(x.astype(np.float64))
    with pytest.raises(type(eager.value)):
        c(x.astype(np.float64))


def test_batch_size_zero_and_nan(x):
    m = make()
    c = nngraph.compile(m)
    empty = x[:0]
    assert c(empty).shape == m(empty).shape == (0, 2)
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    bad[1, 1, 1, 1] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = m(bad)
        got = c(bad)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))


def test_outputs_are_fresh_arrays(x):
    c = nngraph.compile(make())
    y1 = c(x)
    keep = y1.copy()
    c(x * 2)
    np.testing.assert_array_equal(y1, keep)


def test_inputs_and_weights_are_not_modified(x):
    m = make()
    before = copy.deepcopy(m.state_dict())
    xc = x.copy()
    nngraph.compile(m)(x)
    np.testing.assert_array_equal(x, xc)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_concurrent_calls_from_threads(x):
    m = make()
    c = nngraph.compile(m)
    inputs = [np.random.default_rng(i).standard_normal((2, 3, 8, 8)).astype(np.float32) for i in range(8)]
    expected = [m(v) for v in inputs]
    c(inputs[0])
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        for _ in range(5):
            results[i] = c(inputs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(8):
        close(results[i], expected[i])


def test_runtime_error_names_node_and_module():
    class Lookup(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(5, 3)

        def forward(self, idx):
            return self.emb(idx) * 2.0

    m = Lookup().eval()
    c = nngraph.compile(m)
    c(np.array([0, 1]))
    with pytest.raises((NodeExecutionError, ValueError)) as info:
        c(np.array([0, 9]))
    assert "emb" in str(info.value)


def test_compile_options_are_validated():
    with pytest.raises(ValueError, match="target"):
        nngraph.compile(make(), target="tpu")
    with pytest.raises(TypeError, match="Module"):
        nngraph.compile(lambda x: x)
    with pytest.raises(ValueError, match="unknown pass"):
        nngraph.compile(make(), passes=["nope"], example_inputs=(np.zeros((1, 3, 8, 8), np.float32),))
    for threads in (0, 10_000, 1.5, True):  # at compile time, not deep in Numba at the first call
        with pytest.raises(ValueError, match=r"threads must be an int between 1 and \d+ \(NUMBA_NUM_THREADS\), got"):
            nngraph.compile(make(), threads=threads)
