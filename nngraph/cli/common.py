"""Pieces shared by subcommands: the model-selection arguments and building a zoo model with its example input."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CLIError", "LoadedModel", "add_model_arguments", "load_model", "describe", "count_parameters",
           "check_threads"]


class CLIError(Exception):
    """A user error: ``main`` prints ``nngraph COMMAND: error: MESSAGE`` and exits with status 2."""


@dataclass
class LoadedModel:
    name: str
    spec: Any  # nngraph.models.ModelSpec
    model: Any  # nngraph.nn.Module, in eval mode
    inputs: tuple[np.ndarray, ...]


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``MODEL`` (a ``nngraph.models.ZOO`` name), ``--batch``, ``--seed``, ``--pretrained``."""
    parser.add_argument("model", metavar="MODEL", help="a model zoo name (see --list)")
    parser.add_argument("--batch", type=int, default=1, metavar="N", help="batch size of the example input (1)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="seed of the random weights and of the example input (0)")
    parser.add_argument("--pretrained", metavar="PATH", default=None,
                        help="load weights from a .safetensors/.npz state_dict (e.g. exported from PyTorch)")


def load_model(args: argparse.Namespace) -> LoadedModel:
    """Build ``args.model`` from the zoo (seeded, eval mode) and make its example input."""
    import nngraph
    from nngraph.models import ZOO

    if args.model not in ZOO:
        raise CLIError(f"unknown model {args.model!r}; available: {', '.join(ZOO)}")
    if args.batch < 1:
        raise CLIError(f"--batch must be at least 1, got {args.batch}")
    spec = ZOO[args.model]
    nngraph.manual_seed(args.seed)
    try:
        model = spec.build(pretrained=args.pretrained).eval()
    except (OSError, ValueError, RuntimeError) as e:
        if args.pretrained is None:
            raise
        raise CLIError(f"cannot load --pretrained {args.pretrained!r}: {e}") from e
    inputs = (spec.example_input(args.batch, np.random.default_rng(args.seed)),)
    return LoadedModel(args.model, spec, model, inputs)


def count_parameters(model: Any) -> int:
    return int(sum(p.size for p in model.parameters()))


def describe(value: Any) -> str:
    """``(2, 10) float32`` for an array; nested tuples/lists/dicts of arrays described item by item."""
    if isinstance(value, np.ndarray):
        return f"{tuple(value.shape)} {value.dtype}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(describe(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {describe(v)}" for k, v in value.items()) + "}"
    return type(value).__name__


def check_threads(requested: int | None) -> int:
    """``--threads``: between 1 and Numba's thread count (``NUMBA_NUM_THREADS``, the default)."""
    import numba

    limit = numba.config.NUMBA_NUM_THREADS
    if requested is None:
        return limit
    if not 1 <= requested <= limit:
        raise CLIError(f"--threads must be between 1 and {limit} (NUMBA_NUM_THREADS), got {requested}")
    return requested
