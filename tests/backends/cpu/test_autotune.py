"""``nngraph.compile(autotune=True)``: every applicable conv algorithm is timed once per geometry and machine, the
fastest is used, the choice is recorded in the cache directory and reused; results equal eager whatever wins."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
from nngraph.backends.cpu import autotune
from nngraph.backends.cpu.kernels import conv as kconv
from nngraph.ir.interpreter import module_state
from nngraph.runtime.executor import CpuExecutable


@pytest.fixture
def cache(tmp_path, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: ANN001
    monkeypatch.setenv("NNGRAPH_CACHE_DIR", str(tmp_path))
    return str(tmp_path)


def _model(seed: int = 0) -> nn.Module:
    nngraph.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 1), nn.Conv2d(8, 8, 3, stride=2,
                         padding=1, groups=8)).eval()


X = np.random.default_rng(0).standard_normal((2, 4, 9, 9)).astype(np.float32)


def test_autotune_times_every_candidate_and_records_the_choice(cache: str) -> None:
    model = _model()
    compiled = nngraph.compile(model, autotune=True)
    np.testing.assert_allclose(compiled(X), model(X), rtol=1e-5, atol=1e-5)
    db = json.load(open(os.path.join(cache, "autotune-v1.json")))
    assert len(db) == 3  # the three conv geometries
    for key, entry in db.items():
        geometry = json.loads(key)
        c, o, kh, kw, stride, pad, groups = geometry[2], geometry[5], geometry[6], geometry[7], geometry[8], \
            geometry[9], geometry[11]
        names = {kconv.ALGO_NAMES[a] for a in autotune.conv_candidates(c, o, kh, kw, tuple(stride), tuple(pad), groups)}
        assert set(entry["times_us"]) == names
        assert kconv.ALGO_NAMES[entry["algo"]] == min(entry["times_us"], key=entry["times_us"].get)


def test_recorded_choice_is_reused_without_timing(cache: str, monkeypatch: pytest.MonkeyPatch) -> None:
    nngraph.compile(_model(), autotune=True)(X)

    def no_timing(*_: object) -> float:
        raise AssertionError("timed again")

    monkeypatch.setattr(autotune, "_time_conv", no_timing)
    model = _model(seed=1)  # other weights, same geometry
    np.testing.assert_allclose(nngraph.compile(model, autotune=True)(X), model(X), rtol=1e-5, atol=1e-5)


def test_any_winner_gives_the_same_result(cache: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Force each algorithm to win in turn (fake timings): the compiled result never changes."""
    model = _model()
    want = model(X)
    for winner in (kconv.ALGO_IM2COL, kconv.ALGO_SHIFT, kconv.ALGO_SHIFT_OC, kconv.ALGO_1X1,
                   kconv.ALGO_DEPTHWISE):
        db = os.path.join(cache, "autotune-v1.json")
        if os.path.exists(db):
            os.remove(db)
        monkeypatch.setattr(autotune, "_time_conv", lambda algo, *_: 0.0 if algo == winner else 1.0)
        with autotune.enabled():
            result = nngraph.optimize(model, X)
            exe = CpuExecutable(result.graph, model, use_cache=False, extra_key=f"test-{winner}")
        exe.refresh(module_state(model), 0)
        np.testing.assert_allclose(exe([X])[0], want, rtol=1e-5, atol=1e-5)
        chosen = {e["algo"] for e in autotune.load_db().values()}
        assert winner in chosen


@pytest.mark.parametrize("first, second", [((8, 4, 3, 3), (8, 8, 1, 1)), ((8, 8, 1, 1), (8, 4, 3, 3))])
def test_new_choices_for_a_graph_compiled_before_in_the_process(cache: str, monkeypatch: pytest.MonkeyPatch,
                                                                 first: tuple, second: tuple) -> None:
    """The same graph compiled again in one process after its tuning choices changed (the database was replaced,
    or another process tuned it) runs the new code with the new weight layout, not the module imported first."""
    db = os.path.join(cache, "autotune-v1.json")
    for shape in (first, second, first):
        if os.path.exists(db):
            os.remove(db)
        # shift_oc wins for the conv of weight shape ``shape``, im2col everywhere else
        monkeypatch.setattr(autotune, "_time_conv", lambda algo, x, w, p, g, shape=shape: 0.0 if (
            algo == kconv.ALGO_SHIFT_OC and w.shape == shape) else 0.5 if algo == kconv.ALGO_IM2COL else 1.0)
        model = _model(seed=1)
        np.testing.assert_allclose(nngraph.compile(model, autotune=True)(X), model(X), rtol=1e-5, atol=1e-5)
        assert {(json.loads(k)[5], json.loads(k)[2], json.loads(k)[6]): e["algo"] for k, e in
                autotune.load_db().items()}[shape[0], shape[1], shape[2]] == kconv.ALGO_SHIFT_OC


def test_off_by_default(cache: str) -> None:
    nngraph.compile(_model())(X)
    assert not os.path.exists(os.path.join(cache, "autotune-v1.json"))
