"""A/B of two nngraph revisions on zoo models: alternating fresh processes, paired ratios, a bootstrap interval.

Why: on a shared VM the machine's speed drifts by tens of percent from one minute to the next, so latencies from
separate runs (or a table made an hour ago) cannot tell a 5% change from noise. Here each round runs every case once
per side, seconds apart, each in a new process importing that side's nngraph (compile from the warm cache, warm-up,
then ``--calls`` timed calls; the process reports their median). The ratio head/base is taken per round -- both
halves of a pair see the same machine phase -- and the sides alternate ABBA across rounds so neither always runs
second. The verdict is the median ratio with a 90% bootstrap interval: "faster"/"slower" only when the interval
excludes 1.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/ab.py --base HEAD~1 \\
        --cases mobilenet_v2:1 resnet18:1 --threads 1 2 --rounds 8

Cases are zoo models (``mobilenet_v2:1``) or user factories with ``--input-shape`` (``pkg.mod:factory:1``; a
single layer makes a kernel A/B), imported from the current directory. ``--base``/``--head`` take a git revision
(exported with ``git archive`` into ``--store``, default ``/tmp/nngraph-ab/<commit>``, and kept: its Numba caches
stay warm for the next comparison) or ``WORKTREE``, the working tree as it is (the default head). The first process
of each side compiles the kernel library if that tree never has; it is untimed. A verdict needs at least
``MIN_ROUNDS`` rounds (the bootstrap of fewer is overconfident). Run it on an otherwise idle machine; the OpenBLAS
variables are unset for benchmarks.

``--in-process`` runs both sides in one process instead: the two trees' packages are imported side by side (each
copied under ``--store`` as ``nngraph_<commit>``, imports rewritten; their kernel worker tables are per package),
the head's model weights are loaded into the base's model, the outputs are checked to agree, then ``INNER_ROUNDS``
ABBA rounds of ``--calls`` timed calls per side, milliseconds apart -- far closer than fresh processes, so the
machine's drift cancels. But one process's two instances differ by where their code and arrays landed: A/As of the
MLP read 0.91, 1.02, 1.05 in three processes, each interval narrow. So ``--rounds`` counts processes here (their
order of building the sides alternates), each contributes its medians, and the interval is over processes.
Zoo models only.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKTREE = "WORKTREE"
MIN_ROUNDS = 6
INNER_ROUNDS = 10  # ABBA rounds inside one --in-process process


# --------------------------------------------------------------------------------------------- trees


def checkout(rev: str, store: str, repo: str = ROOT) -> str:
    """A directory holding ``rev``'s files (``WORKTREE``: the repository itself); exported once per commit."""
    if rev == WORKTREE:
        return repo
    sha = subprocess.run(["git", "-C", repo, "rev-parse", "--verify", f"{rev}^{{commit}}"], check=True,
                         capture_output=True, text=True).stdout.strip()
    path = os.path.join(store, sha)
    if not os.path.isdir(path):
        os.makedirs(store, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=store, prefix=f".{sha[:12]}-")
        archive = subprocess.run(["git", "-C", repo, "archive", "--format=tar", sha], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        try:
            os.rename(tmp, path)
        except OSError:  # another run exported it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    return path


# --------------------------------------------------------------------------------------------- one process


def _child(request: dict[str, Any]) -> dict[str, Any]:
    """Runs in the side's process: compile the case, warm up, time ``calls`` calls."""
    import nngraph
    from nngraph.cli.modelref import resolve

    here = os.path.realpath(os.path.dirname(nngraph.__file__))
    if not here.startswith(os.path.realpath(request["tree"]) + os.sep):
        raise RuntimeError(f"imported nngraph from {here}, expected the tree {request['tree']}")
    ref = resolve(request["model"], request.get("input_shapes"))
    model = ref.build()
    model.eval()
    inputs = ref.inputs(request["batch"])
    compiled = nngraph.compile(model, threads=request["threads"])
    end = time.perf_counter() + request["warmup_s"]
    compiled(*inputs)
    while time.perf_counter() < end:
        compiled(*inputs)
    times = _time_calls(compiled, inputs, request["calls"])
    return {"median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3}


def _time_calls(fn: Any, inputs: tuple, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        fn(*inputs)
        times.append(time.perf_counter() - t)
    return times


def run_side(tree: str, model: str, batch: int, threads: int, calls: int, warmup_s: float = 0.5,
             input_shapes: list[list[int]] | None = None, timeout: float = 1800) -> dict[str, Any]:
    """One fresh process on ``tree``'s nngraph (its directory first on the import path), in the current directory
    (user model factories import from it)."""
    request = {"tree": tree, "model": model, "batch": batch, "threads": threads, "calls": calls,
               "warmup_s": warmup_s, "input_shapes": input_shapes}
    path = [tree] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", json.dumps(request)],
                          capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{model}:{batch} on {tree} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------- one process, both sides


def _tree_key(tree: str) -> str:
    """Name of a tree's package copy: its commit (a ``checkout`` directory) or a hash of the working tree's sources."""
    base = os.path.basename(os.path.normpath(tree))
    if re.fullmatch(r"[0-9a-f]{40}", base):
        return base[:12]
    h = hashlib.sha1()
    for folder, dirs, files in sorted(os.walk(os.path.join(tree, "nngraph"))):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                h.update(name.encode())
                with open(os.path.join(folder, name), "rb") as f:
                    h.update(f.read())
    return "wt" + h.hexdigest()[:10]


def rename_source(text: str, pkg: str) -> str:
    """A module of the ``nngraph`` package rewritten to live in package ``pkg``."""
    text = re.sub(r"^(\s*)import nngraph(\s*(#.*)?)$", rf"\1import {pkg} as nngraph\2", text, flags=re.M)
    text = re.sub(r"^(\s*)import nngraph\.", rf"\1import {pkg}.", text, flags=re.M)
    text = re.sub(r"\bfrom nngraph(\.[\w.]+)? import\b", rf"from {pkg}\1 import", text)
    if "_worker_table" in text and "_SYM" not in text:  # revisions whose worker symbols were not per package
        text = text.replace('"nngraph_worker_', f'"{pkg}_worker_')
    return text


def renamed_copy(tree: str, store: str, suffix: str = "") -> tuple[str, str]:
    """(directory to put on ``sys.path``, package name): ``tree``'s nngraph copied as ``nngraph_<key><suffix>``,
    kept under ``store`` so its Numba caches stay warm."""
    pkg = f"nngraph_{_tree_key(tree)}{suffix}"
    parent = os.path.join(store, "inproc")
    root = os.path.join(parent, pkg)
    if not os.path.isdir(root):
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=parent, prefix=f".{pkg}-")
        src = os.path.join(tree, "nngraph")
        for folder, dirs, files in os.walk(src):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            dest = os.path.join(tmp, pkg, os.path.relpath(folder, src))
            os.makedirs(dest, exist_ok=True)
            for name in files:
                if name.endswith(".py"):
                    with open(os.path.join(folder, name), encoding="utf-8") as f:
                        text = rename_source(f.read(), pkg)
                    with open(os.path.join(dest, name), "w", encoding="utf-8") as f:
                        f.write(text)
                else:
                    shutil.copy2(os.path.join(folder, name), os.path.join(dest, name))
        try:
            os.rename(tmp, root)
        except OSError:  # another run made it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    return root, pkg


def _child_in_process(request: dict[str, Any]) -> dict[str, Any]:
    """Both sides in this process: build the case on each package, same weights, check the outputs agree, then
    ``rounds`` ABBA rounds of (warm-up call, ``calls`` timed calls) per side; one sample = their median."""
    sides = {}
    for side in request["order"]:
        sys.path.insert(0, request[side]["path"])
        pkg = importlib.import_module(request[side]["pkg"])
        ref = importlib.import_module(f"{request[side]['pkg']}.cli.modelref").resolve(request["model"])
        model = ref.build()
        model.eval()
        sides[side] = (pkg, model, ref)
    weights = {k: np.array(v) for k, v in sides["head"][1].state_dict().items()}
    sides["base"][1].load_state_dict(weights)
    inputs = sides["head"][2].inputs(request["batch"])
    fns, outs = {}, {}
    for side in request["order"]:
        pkg, model, _ = sides[side]
        compiled = pkg.compile(model, threads=request["threads"])
        outs[side] = compiled(*inputs)
        fns[side] = compiled
    a, b = (np.asarray(o[0] if isinstance(o, tuple) else o) for o in (outs["base"], outs["head"]))
    if not np.allclose(a, b, rtol=1e-3, atol=1e-3):
        raise RuntimeError(f"base and head disagree on {request['model']}: max |diff| {np.abs(a - b).max():.3g}")
    samples: dict[str, list[float]] = {"base": [], "head": []}
    for r in range(request["rounds"]):
        for side in (("base", "head") if r % 2 == 0 else ("head", "base")):
            fns[side](*inputs)
            samples[side].append(statistics.median(_time_calls(fns[side], inputs, request["calls"])) * 1e3)
    return samples


def compare_in_process(base_tree: str, head_tree: str, cases: list[tuple[str, int]], threads: list[int],
                       rounds: int, calls: int, store: str, log: Any = None, inner_rounds: int = INNER_ROUNDS,
                       timeout: float = 3600) -> list[dict[str, Any]]:
    """Every (case, threads): ``rounds`` fresh processes holding both sides (:func:`_child_in_process`); a sample is
    one process's median per side."""
    sides = {}
    for side, tree in (("base", base_tree), ("head", head_tree)):
        # an A/A (one tree on both sides) needs a second copy under another name
        suffix = "_aa" if side == "base" and _tree_key(base_tree) == _tree_key(head_tree) else ""
        path, pkg = renamed_copy(tree, store, suffix)
        sides[side] = {"path": path, "pkg": pkg}
    if log is not None:
        print(f"in one process: base as {sides['base']['pkg']}, head as {sides['head']['pkg']}", file=log)
    results = []
    for model, batch in cases:
        for t in threads:
            samples: dict[str, list[float]] = {"base": [], "head": []}
            for r in range(rounds):
                request = {"model": model, "batch": batch, "threads": t, "rounds": inner_rounds, "calls": calls,
                           "order": ("base", "head") if r % 2 == 0 else ("head", "base"), **sides}
                proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child-in-process",
                                       json.dumps(request)], capture_output=True, text=True, timeout=timeout)
                if proc.returncode != 0:
                    raise RuntimeError(f"{model}:{batch} in one process failed:\n{proc.stderr[-3000:]}")
                inner = json.loads(proc.stdout.strip().splitlines()[-1])
                for side in samples:
                    samples[side].append(statistics.median(inner[side]))
                _log_pair(log, f"{model}:{batch} threads={t} process {r + 1}", samples)
            results.append(_result(model, batch, t, samples))
    return results


def _log_pair(log: Any, what: str, samples: dict[str, list[float]]) -> None:
    """One progress line: the latest base and head sample."""
    if log is not None:
        print(f"  {what}: base {samples['base'][-1]:.3f} ms, head {samples['head'][-1]:.3f} ms", file=log, flush=True)


def _result(model: str, batch: int, threads: int, samples: dict[str, list[float]]) -> dict[str, Any]:
    return {"model": model, "batch": batch, "threads": threads, "summary": paired_summary(samples["base"],
                                                                                          samples["head"]),
            "samples": samples}


# --------------------------------------------------------------------------------------------- statistics


@dataclass
class Summary:
    base_ms: float  # median over rounds of each process's median
    head_ms: float
    ratio: float  # median over rounds of head / base
    low: float  # bootstrap interval of that median
    high: float
    rounds: int

    @property
    def verdict(self) -> str:
        if self.rounds < MIN_ROUNDS:
            return f"too few rounds for a verdict (< {MIN_ROUNDS})"
        if self.high < 1:
            return f"head faster ({(1 - self.ratio) * 100:.0f}%)"
        if self.low > 1:
            return f"head slower ({(self.ratio - 1) * 100:.0f}%)"
        return "no difference resolved"


def paired_summary(base: list[float], head: list[float], level: float = 0.90, resamples: int = 4000,
                   seed: int = 0) -> Summary:
    """Median of the per-round ratios head/base with a percentile-bootstrap interval at ``level``."""
    if len(base) != len(head) or not base:
        raise ValueError(f"need the same non-zero number of rounds per side, got {len(base)} and {len(head)}")
    ratios = np.asarray(head, float) / np.asarray(base, float)
    rng = np.random.default_rng(seed)
    meds = np.median(rng.choice(ratios, size=(resamples, ratios.size), replace=True), axis=1)
    tail = (1 - level) / 2 * 100
    return Summary(float(np.median(base)), float(np.median(head)), float(np.median(ratios)),
                   float(np.percentile(meds, tail)), float(np.percentile(meds, 100 - tail)), ratios.size)


# --------------------------------------------------------------------------------------------- driver


def compare(base_tree: str, head_tree: str, cases: list[tuple[str, int]], threads: list[int], rounds: int,
            calls: int, log: Any = None, input_shapes: list[list[int]] | None = None) -> list[dict[str, Any]]:
    """Every (case, threads): an untimed warm-up process per side, then ``rounds`` ABBA-ordered pairs."""
    results = []
    for model, batch in cases:
        for t in threads:
            for tree in (base_tree, head_tree):
                run_side(tree, model, batch, t, 1, input_shapes=input_shapes)  # compiles into the tree's caches
            samples: dict[str, list[float]] = {"base": [], "head": []}
            for r in range(rounds):
                order = ("base", "head") if r % 2 == 0 else ("head", "base")
                for side in order:
                    tree = base_tree if side == "base" else head_tree
                    samples[side].append(run_side(tree, model, batch, t, calls, input_shapes=input_shapes)[
                        "median_ms"])
                _log_pair(log, f"{model}:{batch} threads={t} round {r + 1}", samples)
            results.append(_result(model, batch, t, samples))
    return results


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| case | threads | base ms | head ms | head/base (90% CI) | rounds | verdict |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        s: Summary = r["summary"]
        lines.append(f"| {r['model']}:{r['batch']} | {r['threads']} | {s.base_ms:.3f} | {s.head_ms:.3f} | "
                     f"{s.ratio:.3f} ({s.low:.3f}-{s.high:.3f}) | {s.rounds} | {s.verdict} |")
    return "\n".join(lines)


def parse_case(text: str) -> tuple[str, int]:
    """``mlp:64`` -> ("mlp", 64); ``pkg.mod:factory:4`` -> ("pkg.mod:factory", 4); no batch -> 1."""
    name, _, last = text.rpartition(":")
    if name and last.isdigit():
        return name, int(last)
    return text, 1


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-in-process", help=argparse.SUPPRESS)
    ap.add_argument("--in-process", action="store_true",
                    help="both sides in one process per case, interleaved call batches (zoo models only)")
    ap.add_argument("--base", default="HEAD", help="git revision or WORKTREE (default HEAD)")
    ap.add_argument("--head", default=WORKTREE, help="git revision or WORKTREE (default)")
    ap.add_argument("--cases", nargs="+", type=parse_case, default=[("mobilenet_v2", 1), ("resnet18", 1)],
                    help="model:batch ...")
    ap.add_argument("--input-shape", action="append", default=None,
                    help="a user model's input shape without the batch dimension (3,32,32); repeat per input")
    ap.add_argument("--threads", nargs="+", type=int, default=[1])
    ap.add_argument("--rounds", type=int, default=8, help="pairs of processes (--in-process: processes)")
    ap.add_argument("--calls", type=int, default=100, help="timed calls per process (their median is one sample)")
    ap.add_argument("--store", default=os.path.join(tempfile.gettempdir(), "nngraph-ab"))
    ap.add_argument("--json", help="write the samples and summaries here")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return
    if args.child_in_process:
        print(json.dumps(_child_in_process(json.loads(args.child_in_process))))
        return
    from nngraph.cli.modelref import parse_shape  # (the runner's nngraph: parsing only)
    base, head = checkout(args.base, args.store), checkout(args.head, args.store)
    print(f"base {args.base}: {base}\nhead {args.head}: {head}", file=sys.stderr)
    shapes = [list(parse_shape(t)) for t in args.input_shape] if args.input_shape else None
    if args.in_process:
        if shapes or any(":" in model for model, _ in args.cases):
            ap.error("--in-process takes zoo models only (a user factory imports the plain nngraph package)")
        results = compare_in_process(base, head, args.cases, args.threads, args.rounds, args.calls, args.store,
                                     log=sys.stderr)
    else:
        results = compare(base, head, args.cases, args.threads, args.rounds, args.calls, log=sys.stderr,
                          input_shapes=shapes)
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"base": args.base, "head": args.head, "results": [
                dict(r, summary=vars(r["summary"]) | {"verdict": r["summary"].verdict}) for r in results]}, f,
                indent=1)


if __name__ == "__main__":
    main()
