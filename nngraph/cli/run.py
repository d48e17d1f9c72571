"""``nngraph run MODEL``: build a zoo model, run eager forwards on its example input, print a summary (parameter
count, input/output shapes, milliseconds per call)."""
from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from .common import CLIError, add_model_arguments, count_parameters, describe, load_model

NAME = "run"
HELP = "run a zoo model eagerly on its example input and print a summary"


def configure(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--runs", type=int, default=3, metavar="R", help="timed calls (3), after one warm-up call")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def summarize(args: argparse.Namespace) -> dict[str, Any]:
    """Build, warm up, time; the summary as a dict."""
    if args.runs < 1:
        raise CLIError(f"--runs must be at least 1, got {args.runs}")
    loaded = load_model(args)
    model, inputs = loaded.model, loaded.inputs
    out = model(*inputs)  # warm-up
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        out = model(*inputs)
        times.append((time.perf_counter() - start) * 1e3)
    return {
        "model": loaded.name,
        "description": loaded.spec.description,
        "parameters": count_parameters(model),
        "input": describe(inputs[0]),
        "output": describe(out),
        "batch": args.batch,
        "seed": args.seed,
        "runs": args.runs,
        "eager_ms_median": statistics.median(times),
        "eager_ms_min": min(times),
    }


def execute(args: argparse.Namespace) -> int:
    summary = summarize(args)
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"model:       {summary['model']}  ({summary['description']})")
    print(f"parameters:  {summary['parameters']:,}")
    print(f"input:       {summary['input']}")
    print(f"output:      {summary['output']}")
    print(f"eager:       {summary['eager_ms_median']:.2f} ms/call (median of {summary['runs']}, "
          f"min {summary['eager_ms_min']:.2f} ms)")
    return 0
