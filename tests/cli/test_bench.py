"""``nngraph bench``: the table, the JSON document and the plot (subprocess, tiny models, few rounds), errors, and
the benchmark library's pieces in-process."""
from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import pytest

from nngraph.cli.benchlib import engines, report, timing
from nngraph.cli.benchlib.machine import core_scaling, describe_scaling, machine_info
from nngraph.cli.benchlib.progress import Progress
from nngraph.cli.main import main

from .helpers import nngraph_cli

HAS_MPL = importlib.util.find_spec("matplotlib") is not None
HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_ORT = importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None
TINY = ["tests.cli.tiny_models:tiny_mlp", "--input-shape", "8"]


def test_bench_table_json_plot(tmp_path: Path) -> None:
    """Cold/warm compile in new processes, every engine, the JSON fields and the PNG."""
    out, png = tmp_path / "bench.json", tmp_path / "bench.png"
    args = [*TINY, "--repeat", "5", "--warmup", "1", "--threads", "1", "--compare", "torch,onnxruntime",
            "--torch-model", "tests.cli.tiny_models:torch_tiny_mlp", "--json", str(out)]
    res = nngraph_cli("bench", *args, *(["--plot", str(png)] if HAS_MPL else []))
    assert res.returncode == 0, res.stderr
    table = res.stdout
    for column in ("cold s", "warm s", "p50 ms", "p90 ms", "p99 ms", "items/s", "vs eager", "max abs", "max rel",
                   "peak MiB"):
        assert column in table
    assert "nngraph compiled" in table and "nngraph eager" in table
    assert "cold compile" in res.stderr and "timing" in res.stderr  # progress on stderr

    doc = json.loads(out.read_text())
    assert doc["schema"] == report.SCHEMA
    m = doc["machine"]
    assert m["cpu"]["model"] and isinstance(m["cpu"]["flags"], list) and m["cores"] >= 1 and m["threads"] == 1
    assert {"numpy", "numba", "nngraph", "torch", "onnxruntime"} <= set(m["versions"])
    assert "numpy_build" in m["blas"] and isinstance(m["env"], dict)
    assert doc["settings"]["threads"] == 1 and doc["settings"]["repeat"] == 5
    assert "tracemalloc" in doc["memory_method"]
    (r,) = doc["results"]
    assert r["model"] == TINY[0] and r["batch"] == 1 and r["inputs"] == "(1, 8) float32"
    c = r["compile"]
    assert c["cold_s"] > 0 and c["warm_s"] > 0 and c["in_process_s"] > 0 and c["cold_peak_rss_mib"] > 0
    e = r["engines"]["nngraph compiled"]
    assert e["runs"] == 5 and 0 < e["p50_ms"] <= e["p90_ms"] <= e["p99_ms"]
    assert e["throughput_per_s"] > 0 and e["speedup_vs_eager"] > 0 and e["compiled_speedup"] == 1.0
    assert e["max_abs_diff"] < 1e-4 and e["max_rel_diff"] < 1e-4 and e["peak_mib"] >= 0
    assert "activation_arena_mib" in e
    assert r["engines"]["nngraph eager"]["max_abs_diff"] == 0
    for name, ok in (("torch eager", HAS_TORCH), ("onnxruntime", HAS_TORCH and HAS_ORT)):
        if ok:
            assert r["engines"][name]["max_abs_diff"] < 1e-4 and name in table
        else:
            assert name in r["skipped"]
    assert r["graph"]["fused_nodes"] >= 1 and r["graph"]["graph_breaks"] == []
    if HAS_MPL:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_batches_json_stdout_without_torch() -> None:
    """Two batch sizes, ``--json -``, a pass disabled; torch and ONNX Runtime missing are skipped, not a crash."""
    res = nngraph_cli("bench", *TINY, "--batch", "1", "3", "--repeat", "3", "--warmup", "0", "--no-compile-times",
                      "--compare", "all", "--disable", "fuse_epilogue", "--json", "-", "-q",
                      pre="import sys; sys.modules['torch'] = None; sys.modules['onnxruntime'] = None")
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == "" or "Traceback" not in res.stderr
    doc = json.loads(res.stdout)
    assert [r["batch"] for r in doc["results"]] == [1, 3]
    assert doc["settings"]["disable"] == ["fuse_epilogue"] and doc["settings"]["compile_times"] is False
    for r in doc["results"]:
        assert set(r["engines"]) == {"nngraph compiled", "nngraph eager"}
        assert set(r["skipped"]) == {"torch eager", "onnxruntime"}
        assert "not installed" in r["skipped"]["torch eager"]
        assert r["compile"].keys() == {"in_process_s"}
        assert r["graph"]["fused_nodes"] == 0  # fuse_epilogue disabled
    assert doc["results"][1]["engines"]["nngraph compiled"]["throughput_per_s"] > 0


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """CUDA unavailable, whatever this process saw before (an xdist worker that ran the CUDA simulator tests has a
    "usable" simulated GPU)."""
    import nngraph.backends.cuda as cuda_backend

    def unavailable() -> None:
        raise cuda_backend.CudaUnavailableError("target='cuda' needs a usable NVIDIA GPU (test: none)")

    monkeypatch.setattr(cuda_backend, "require_cuda", unavailable)


@pytest.mark.parametrize("argv, message", [
    (["--target", "cuda"], "target='cuda'"),
    (["no_such_model"], "unknown model 'no_such_model'"),
    (["tests.cli.tiny_models:tiny_mlp"], "needs --input-shape"),
    (["tests.cli.tiny_models:missing", "--input-shape", "8"], "has no attribute 'missing'"),
    (["tests.cli.tiny_models:not_a_module", "--input-shape", "8"], "not an nngraph.nn.Module"),
    (["mlp", "--compare", "tensorflow"], "unknown --compare engine 'tensorflow'"),
    (["mlp", "--threads", "999"], "--threads must be between 1"),
    (["mlp", "--disable", "no_such_pass"], "no_such_pass"),
    (["mlp", "--batch", "0"], "--batch sizes must be at least 1"),
])
def test_bench_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture, no_gpu: None) -> None:
    assert main(["bench", *argv, "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nngraph bench: error:") and message in err


def test_cuda_message_names_the_backend(capsys: pytest.CaptureFixture, no_gpu: None) -> None:
    assert main(["bench", "--target", "cuda"]) == 2
    assert "cuda" in capsys.readouterr().err.lower()


# -- the library, in-process -------------------------------------------------------------------------------------
def test_interleaved_timing_and_stats() -> None:
    calls: list[str] = []
    samples = timing.time_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                                      repeat=4, warmup=1)
    assert calls == ["a", "b"] + ["a", "b"] * 4 and all(len(v) == 4 for v in samples.values())
    budget = timing.time_interleaved({"a": lambda: None}, repeat=10**6, warmup=0, budget_s=0.0, min_rounds=3)
    assert len(budget["a"]) == 3
    stats = timing.latency_stats([0.001, 0.002, 0.003, 0.004], batch=8)
    assert stats["p50_ms"] == pytest.approx(2.5) and stats["runs"] == 4 and stats["min_ms"] == pytest.approx(1.0)
    assert stats["p50_ms"] <= stats["p90_ms"] <= stats["p99_ms"] <= 4.0
    assert stats["throughput_per_s"] == pytest.approx(8 / 0.0025)


def test_differences() -> None:
    ref = [np.array([1.0, -4.0]), np.array([[2.0]])]
    d = engines.differences([np.array([1.5, -4.0]), np.array([[2.0]])], ref)
    assert d == {"max_abs_diff": 0.5, "max_rel_diff": 0.125}
    assert engines.differences([np.zeros(3)], [np.zeros(2)])["max_abs_diff"] == float("inf")
    assert engines.differences([np.array([np.nan])], [np.array([np.nan])])["max_abs_diff"] == 0.0
    assert [a.shape for a in engines.leaves({"x": (np.zeros(2), [np.ones((1, 3))])})] == [(2,), (1, 3)]


def test_progress_plain_text() -> None:
    stream = io.StringIO()
    p = Progress(2, stream=stream)
    p.next_case("mlp, batch 1")
    p.phase("timing")
    for i in range(1, 5):
        p.bar(i / 4, f"{i} rounds")
    p.done("4 rounds")
    text = stream.getvalue()
    assert "[1/2] mlp, batch 1" in text and "[##############################] 4 rounds" in text
    assert "timing: 4 rounds" in text and "\r" not in text
    quiet = io.StringIO()
    Progress(1, enabled=False, stream=quiet).phase("x")
    assert quiet.getvalue() == ""


def _fake_doc() -> dict:
    def engine(p50: float) -> dict:
        return {"p50_ms": p50, "p90_ms": p50 * 1.1, "p99_ms": p50 * 1.2, "mean_ms": p50, "min_ms": p50, "runs": 5,
                "throughput_per_s": 1e3 / p50, "max_abs_diff": 1e-7, "max_rel_diff": 1e-7,
                "speedup_vs_eager": 4.0 / p50, "compiled_speedup": p50 / 2.0, "peak_mib": 0.5}

    result = {"model": "m", "batch": 1, "inputs": "(1, 8) float32",
              "compile": {"cold_s": 12.0, "warm_s": 0.5, "in_process_s": 0.4},
              "engines": {"nngraph compiled": engine(2.0), "nngraph eager": engine(4.0), "torch eager": engine(3.0)},
              "skipped": {"onnxruntime": "not installed (onnxruntime)"},
              "graph": {"graph_breaks": ["graph break in 'x' (X) at f.py:1: reason."]}}
    return report.to_document(machine_info(2), {"threads": 2, "compare": ["torch eager"]}, [result])


def test_render_and_document() -> None:
    doc = _fake_doc()
    text = report.render(doc)
    assert "12.0" in text and "0.50" in text and "2.00x" in text  # cold s, warm s, vs eager
    assert "onnxruntime" in text and "skipped" in text and "not installed" in text
    assert "graph break in 'x'" in text and "tracemalloc" in text
    assert ("machine check: 2 compute-bound loops" in text) == (doc["machine"]["core_scaling"] is not None)
    json.dumps(doc)  # JSON-able


def test_core_scaling_measures_the_machine_and_restores_numba_threads() -> None:
    import numba

    assert core_scaling(1) is None and describe_scaling(None) == ""
    before = numba.get_num_threads()
    c = core_scaling(2, rounds=3, iters=100_000)
    assert numba.get_num_threads() == before
    if numba.config.NUMBA_NUM_THREADS < 2:
        assert c is None
        return
    assert c["threads"] == 2 and 0 < c["low"] <= c["speedup"] <= c["high"] and c["ms_one_thread"] > 0
    assert "ideal 2.00x" in describe_scaling(c)


@pytest.mark.skipif(not HAS_MPL, reason="matplotlib not installed (the 'plot' extra)")
def test_plot(tmp_path: Path) -> None:
    from nngraph.cli.benchlib.plot import plot

    path = plot(_fake_doc(), str(tmp_path / "p.png"))
    assert Path(path).read_bytes()[:4] == b"\x89PNG"


def test_plot_without_matplotlib(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["bench", "mlp", "--plot", "x.png", "-q"]) == 2
    assert "matplotlib" in capsys.readouterr().err
