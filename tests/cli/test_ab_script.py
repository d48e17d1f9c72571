"""``bench/ab.py``: the revision A/B's statistics, tree export and a two-round run on the MLP."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("bench_ab", os.path.join(ROOT, "bench", "ab.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_ab"] = mod  # (dataclasses look their module up)
    spec.loader.exec_module(mod)
    return mod


ab = _load()


def test_identical_sides_resolve_no_difference() -> None:
    base = list(np.random.default_rng(1).uniform(5, 9, 10))  # drifting machine: samples spread widely
    s = ab.paired_summary(base, list(base))
    assert s.ratio == 1 and s.low == 1 and s.high == 1 and s.verdict == "no difference resolved"


def test_a_consistent_change_is_resolved_through_the_drift() -> None:
    rng = np.random.default_rng(2)
    base = rng.uniform(5, 9, 10)  # the machine's phase moves the level by 80% ...
    head = base * 0.9 * rng.uniform(0.98, 1.02, 10)  # ... the pair's ratio only by its own noise
    s = ab.paired_summary(list(base), list(head))
    assert 0.87 < s.low <= s.ratio <= s.high < 0.93
    assert s.verdict.startswith("head faster")
    assert ab.paired_summary(list(head), list(base)).verdict.startswith("head slower")
    assert np.max(head) > np.min(base)  # unpaired, the two sides' samples overlap


def test_few_rounds_give_no_verdict() -> None:
    base = [5.0, 6.0, 7.0]
    assert ab.paired_summary(base, [0.5 * b for b in base]).verdict.startswith("too few rounds")


def test_unequal_rounds_are_an_error() -> None:
    with pytest.raises(ValueError, match="same non-zero number of rounds"):
        ab.paired_summary([1.0, 2.0], [1.0])


def test_checkout_exports_a_revision_once(tmp_path) -> None:  # noqa: ANN001
    if subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True).returncode != 0:
        pytest.skip("not a git checkout")
    assert ab.checkout(ab.WORKTREE, str(tmp_path)) == ROOT
    path = ab.checkout("HEAD", str(tmp_path))
    assert os.path.isfile(os.path.join(path, "nngraph", "__init__.py"))
    marker = os.path.join(path, "marker")
    open(marker, "w").close()
    assert ab.checkout("HEAD", str(tmp_path)) == path and os.path.exists(marker)  # reused, not exported again


def test_cases_parse_zoo_names_and_user_factories() -> None:
    assert ab.parse_case("mlp:64") == ("mlp", 64)
    assert ab.parse_case("resnet18") == ("resnet18", 1)
    assert ab.parse_case("pkg.mod:factory:4") == ("pkg.mod:factory", 4)
    assert ab.parse_case("pkg.mod:factory") == ("pkg.mod:factory", 1)


def test_two_rounds_on_a_user_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the factory imports from the current directory
    name = "tests.cli.tiny_models:tiny_mlp"
    results = ab.compare(ROOT, ROOT, [(name, 2)], [1], rounds=2, calls=5, input_shapes=[[8]])
    (r,) = results
    assert (r["model"], r["batch"], r["threads"]) == (name, 2, 1)
    assert len(r["samples"]["base"]) == len(r["samples"]["head"]) == 2
    assert all(v > 0 for v in r["samples"]["base"] + r["samples"]["head"])
    assert f"| {name}:2 | 1 |" in ab.table(results)


def test_a_side_that_fails_names_the_tree(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(RuntimeError, match="expected the tree"):
        ab.run_side(str(tmp_path), "mlp", 1, 1, 1)  # no nngraph there: the installed one is imported


def test_rename_source_moves_every_import_form_to_the_copy() -> None:
    src = ("import nngraph\n    import nngraph  # lazily\nimport nngraph.nn as nn\nfrom nngraph.ir import graph\n"
           "from nngraph import compile\nfrom .kernels import x  # nngraph internals\nname = 'nngraph_gen_'\n")
    out = ab.rename_source(src, "nngraph_abc")
    assert out == ("import nngraph_abc as nngraph\n    import nngraph_abc as nngraph  # lazily\n"
                   "import nngraph_abc.nn as nn\nfrom nngraph_abc.ir import graph\nfrom nngraph_abc import compile\n"
                   "from .kernels import x  # nngraph internals\nname = 'nngraph_gen_'\n")
    old_launch = 'llvm.add_symbol("nngraph_worker_table", _TABLE.ctypes.data)\n'
    assert ab.rename_source(old_launch, "nngraph_abc") == 'llvm.add_symbol("nngraph_abc_worker_table", ' \
        "_TABLE.ctypes.data)\n"  # revisions before the per-package symbols would share one table


def test_in_process_a_over_a_on_the_mlp(tmp_path) -> None:  # noqa: ANN001
    """Both sides in one process: the working tree under two package names (an A/A), weights shared, outputs
    checked, rounds interleaved; a sample per process."""
    results = ab.compare_in_process(ROOT, ROOT, [("mlp", 2)], [1], rounds=2, calls=3, store=str(tmp_path),
                                    inner_rounds=2)
    (r,) = results
    assert (r["model"], r["batch"], r["threads"]) == ("mlp", 2, 1)
    assert len(r["samples"]["base"]) == len(r["samples"]["head"]) == 2
    assert all(v > 0 for v in r["samples"]["base"] + r["samples"]["head"])
    copies = sorted(os.listdir(tmp_path / "inproc"))
    assert len(copies) == 2 and copies[1] == copies[0] + "_aa", copies
    init = (tmp_path / "inproc" / copies[0] / copies[0] / "runtime" / "cache.py").read_text()
    assert f"import {copies[0]} as nngraph" in init
