"""``nngraph bench [MODEL ...]``: benchmark nngraph compiled against nngraph eager (and, with ``--compare``, PyTorch
eager and ONNX Runtime): cold and warm compile times in new processes, interleaved latencies (p50/p90/p99) with the
same thread count for every engine, throughput, speedup, accuracy against eager, memory.

Without MODEL: resnet18 at batch 1. MODEL is a zoo name (see --list) or package.module:factory with --input-shape.
Progress goes to stderr, the tables to stdout; --json writes everything including a description of the machine.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .common import CLIError, check_threads
from .modelref import add_input_arguments, ref_from_args

NAME = "bench"
HELP = "benchmark compiled vs eager (vs PyTorch / ONNX Runtime): compile times, latency, accuracy, memory"

DEFAULT_MODEL = "resnet18"
COMPARE_CHOICES = ("eager", "torch", "onnxruntime", "ort", "all")


def _csv(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="*", metavar="MODEL",
                        help=f"zoo names or package.module:factory (default: {DEFAULT_MODEL})")
    parser.add_argument("--batch", type=int, nargs="+", default=[1], metavar="N", help="batch sizes (1)")
    parser.add_argument("--target", default="cpu", metavar="cpu|cuda", help="compile target (cpu)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="threads for every engine (default: all cores Numba may use)")
    parser.add_argument("--warmup", type=int, default=2, metavar="N", help="untimed calls per engine (2)")
    how_long = parser.add_mutually_exclusive_group()
    how_long.add_argument("--repeat", type=int, default=None, metavar="N", help="exactly N timed rounds")
    how_long.add_argument("--seconds", type=float, default=None, metavar="S",
                          help="time budget of the timed rounds per case (default 10; at least 5 rounds)")
    parser.add_argument("--compare", type=_csv, default=[], metavar="ENGINES",
                        help="also time these engines: torch, onnxruntime (comma-separated, or 'all'); "
                             "engines that are not installed are reported as skipped")
    parser.add_argument("--torch-model", metavar="package.module:factory", default=None,
                        help="the torch.nn equivalent of a user model (same state_dict keys), for --compare")
    passes = parser.add_mutually_exclusive_group()
    passes.add_argument("--passes", type=_csv, action="extend", default=None, metavar="P,P",
                        help="run only these passes, in order")
    passes.add_argument("--disable", type=_csv, action="extend", default=None, metavar="P,P",
                        help="skip these passes of the default pipeline")
    parser.add_argument("--no-compile-times", action="store_true",
                        help="skip the cold/warm compile measurements in new processes")
    parser.add_argument("--json", metavar="OUT", default=None, help="write the results as JSON ('-': stdout)")
    parser.add_argument("--plot", metavar="OUT.png", default=None, help="bar chart of the latencies (matplotlib)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    add_input_arguments(parser)


def _check_target(target: str) -> None:
    import nngraph
    from nngraph import nn

    from nngraph.backends.cuda import CudaUnavailableError

    try:
        nngraph.compile(nn.Identity(), target=target)
    except (ValueError, CudaUnavailableError) as e:
        raise CLIError(f"--target {target}: {e}") from None


def _compare(names: list[str]) -> tuple[str, ...]:
    from .benchlib.engines import OPTIONAL_ENGINES, ORT, TORCH

    out: list[str] = []
    for name in names:
        if name not in COMPARE_CHOICES:
            raise CLIError(f"unknown --compare engine {name!r}; choose from eager, torch, onnxruntime, all")
        engines = [TORCH, ORT] if name == "all" else [OPTIONAL_ENGINES[name]]
        out += [e for e in engines if e not in out]
    return tuple(out)


def settings_from_args(args: argparse.Namespace) -> Any:
    from nngraph.passes.manager import resolve_pipeline

    from .benchlib.measure import BenchSettings

    if any(b < 1 for b in args.batch):
        raise CLIError(f"--batch sizes must be at least 1, got {args.batch}")
    if args.warmup < 0 or (args.repeat is not None and args.repeat < 1) or \
            (args.seconds is not None and args.seconds <= 0):
        raise CLIError("--warmup must be >= 0, --repeat >= 1 and --seconds > 0")
    try:
        resolve_pipeline(args.passes or "default", args.disable or ())
    except ValueError as e:
        raise CLIError(str(e)) from None
    return BenchSettings(target=args.target, threads=check_threads(args.threads), warmup=args.warmup,
                         repeat=args.repeat, seconds=args.seconds if args.seconds is not None else 10.0,
                         compare=_compare(args.compare), passes=args.passes or "default",
                         disable=tuple(args.disable or ()), compile_times=not args.no_compile_times, seed=args.seed,
                         pretrained=args.pretrained, torch_factory=args.torch_model)


def execute(args: argparse.Namespace) -> int:
    from .benchlib import plot as plotting
    from .benchlib.coldstart import ColdStartError
    from .benchlib.engines import blas_limit_available
    from .benchlib.machine import machine_info
    from .benchlib.measure import measure_case
    from .benchlib.progress import Progress
    from .benchlib.report import render, to_document

    _check_target(args.target)
    settings = settings_from_args(args)
    if args.plot:
        try:
            plotting.check_available()
        except plotting.PlotUnavailable as e:
            raise CLIError(str(e)) from None
    refs = [ref_from_args(name, args) for name in (args.models or [DEFAULT_MODEL])]
    progress = Progress(len(refs) * len(args.batch), enabled=not args.quiet)
    results = []
    for ref in refs:
        model = ref.build(settings.seed, settings.pretrained)
        for batch in args.batch:
            progress.next_case(f"{ref.name}, batch {batch}: {ref.describe_inputs(batch)}")
            try:
                results.append(measure_case(ref, model, batch, settings, progress))
            except ColdStartError as e:
                raise CLIError(f"{ref.name} at batch {batch}: {e}") from None
    doc = to_document(machine_info(settings.threads), _settings_json(settings, blas_limit_available()), results)
    if args.json == "-":
        print(json.dumps(doc, indent=2, default=str))
    else:
        print(render(doc))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(doc, f, indent=2, default=str)
            print(f"\nwrote {args.json}")
    if args.plot:
        plotting.plot(doc, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr if args.json == "-" else sys.stdout)
    return 0


def _settings_json(s: Any, blas_limited: bool) -> dict[str, Any]:
    return {"target": s.target, "threads": s.threads, "warmup": s.warmup, "repeat": s.repeat,
            "seconds": None if s.repeat is not None else s.seconds, "min_rounds": s.min_rounds,
            "compare": list(s.compare), "passes": s.passes, "disable": list(s.disable),
            "compile_times": s.compile_times, "seed": s.seed, "eager_blas_threads_limited": blas_limited}
