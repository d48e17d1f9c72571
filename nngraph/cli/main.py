"""``nngraph`` command-line entry point: argparse with one module per subcommand.

A subcommand module ``nngraph/cli/<name>.py`` defines ``NAME``, ``HELP``, ``configure(parser)`` (adds its
arguments) and ``execute(args) -> int`` (exit status; raise ``common.CLIError`` for user errors). To add one, append
its module name to ``COMMANDS``.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from .common import CLIError

COMMANDS: tuple[str, ...] = ("run", "bench", "explain", "dump")


def _list_models() -> str:
    from nngraph.models import ZOO

    inputs = {name: f"{tuple(s.input_shape)} {s.dtype}" for name, s in ZOO.items()}
    w1, w2 = max(map(len, ZOO)), max(map(len, inputs.values()))
    lines = [f"  {name:<{w1}}  {inputs[name]:<{w2}}  {s.description}" for name, s in ZOO.items()]
    return "models (input shape without the batch dimension):\n" + "\n".join(lines)


class _ListModels(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="list the zoo models and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        print(_list_models())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    from nngraph import __version__

    parser = argparse.ArgumentParser(prog="nngraph", description="nngraph: torch.nn-compatible models on numpy.")
    parser.add_argument("--version", action="version", version=f"nngraph {__version__}")
    parser.add_argument("--list", action=_ListModels)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"{__package__}.{name}")
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.__doc__)
        p.add_argument("--list", action=_ListModels)
        module.configure(p)
        p.set_defaults(_execute=module.execute)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the subcommand, return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._execute(args) or 0)
    except CLIError as e:
        print(f"nngraph {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
