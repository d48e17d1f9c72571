"""``nngraph dump MODEL -o graph.svg``: draw a model's graph with Graphviz, as traced or after the passes.

The format follows the extension: ``.dot`` (text, no Graphviz needed), ``.svg``/``.png``/``.pdf`` (rendered by
Graphviz's ``dot``). ``--depth N`` collapses module clusters below N levels; ``--no-params`` hides parameters.
"""
from __future__ import annotations

import argparse
import os
import warnings

from .common import CLIError
from .modelref import add_input_arguments, ref_from_args

NAME = "dump"
HELP = "draw a model's graph (traced or optimized) as .dot/.svg/.png/.pdf"


def _csv(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a zoo name (see --list) or package.module:factory")
    parser.add_argument("-o", "--output", required=True, metavar="PATH",
                        help="output file: .dot, .svg, .png or .pdf")
    parser.add_argument("--stage", choices=("traced", "optimized"), default="optimized",
                        help="the graph as traced, or after the passes (default)")
    parser.add_argument("--depth", type=int, default=None, metavar="N",
                        help="collapse module clusters deeper than N levels (default: all levels)")
    parser.add_argument("--batch", type=int, default=1, metavar="N", help="batch size of the example input (1)")
    params = parser.add_mutually_exclusive_group()
    params.add_argument("--params", dest="show_params", action="store_true", default=None,
                        help="show parameter/constant nodes (default: only for graphs under 300 nodes)")
    params.add_argument("--no-params", dest="show_params", action="store_false", help="hide parameter nodes")
    passes = parser.add_mutually_exclusive_group()
    passes.add_argument("--passes", type=_csv, action="extend", default=None, metavar="P,P",
                        help="run only these passes, in order (optimized stage)")
    passes.add_argument("--disable", type=_csv, action="extend", default=None, metavar="P,P",
                        help="skip these passes of the default pipeline (optimized stage)")
    add_input_arguments(parser)


def execute(args: argparse.Namespace) -> int:
    import nngraph
    from nngraph.ir.dot import GraphvizNotFound
    from nngraph.trace import GraphBreakWarning

    fmt = os.path.splitext(args.output)[1].lstrip(".").lower()
    if fmt not in ("dot", "gv", "svg", "png", "pdf"):
        raise CLIError(f"unknown output format {fmt or '(none)'!r}: use .dot, .svg, .png or .pdf")
    if args.batch < 1 or (args.depth is not None and args.depth < 0):
        raise CLIError("--batch must be at least 1 and --depth at least 0")
    ref = ref_from_args(args.model, args)
    model = ref.build(args.seed, args.pretrained)
    inputs = ref.inputs(args.batch, args.seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GraphBreakWarning)
        try:
            if args.stage == "traced":
                graph = nngraph.trace(model, *inputs)
            else:
                graph = nngraph.optimize(model, *inputs, passes=args.passes or "default",
                                         disable=args.disable or ()).graph
        except ValueError as e:
            if "pass" in str(e):
                raise CLIError(str(e)) from None
            raise
    title = f"{ref.name}, {args.stage}, input {ref.describe_inputs(args.batch)}"
    try:
        graph.dump(args.output, depth=args.depth, show_params=args.show_params, title=title)
    except GraphvizNotFound as e:
        raise CLIError(str(e)) from None
    for w in caught:
        if isinstance(w.message, GraphBreakWarning):
            print(f"note: {w.message}")
    print(f"wrote {args.output}: {args.stage} graph of {ref.name}, {len(graph)} nodes ({len(graph.ops())} ops)")
    return 0
