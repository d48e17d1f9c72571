"""Which model a subcommand works on: a zoo name or a user model ``package.module:factory``, with its input shapes.

``--input-shape`` gives one input's shape *without* the batch dimension (``3,32,32`` or ``3x32x32``); repeat it for
models taking several arrays. For zoo models it overrides the default shape (e.g. ``resnet18 --input-shape
3,64,64``); user models need it. A user factory is called with no arguments and must return an ``nngraph.nn.Module``;
the current directory is importable, as with ``python -m``.
"""
from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .common import CLIError

__all__ = ["ModelRef", "resolve", "parse_shape", "add_input_arguments", "ref_from_args", "import_factory"]

_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def parse_shape(text: str) -> tuple[int, ...]:
    """``"3,32,32"`` / ``"3x32x32"`` / ``"(3, 32, 32)"`` -> ``(3, 32, 32)``; ``""`` or ``"()"`` -> ``()``."""
    body = text.strip().strip("()[] ")
    if not body:
        return ()
    try:
        dims = tuple(int(p) for p in re.split(r"[,x\s]+", body) if p)
    except ValueError:
        raise CLIError(f"bad --input-shape {text!r}: expected integers like 3,32,32") from None
    if any(d < 0 for d in dims):
        raise CLIError(f"bad --input-shape {text!r}: dimensions must be non-negative")
    return dims


def import_factory(path: str) -> Callable[..., Any]:
    """``package.module:attr`` -> the attribute (the current directory is put on ``sys.path`` first)."""
    module_name, _, attr = path.partition(":")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise CLIError(f"cannot import {module_name!r} for model {path!r}: {e}") from e
    try:
        return getattr(module, attr)
    except AttributeError:
        raise CLIError(f"module {module_name!r} has no attribute {attr!r} (model {path!r})") from None


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: how to build it and how to make its example inputs for a batch size."""

    name: str
    description: str
    factory: Callable[..., Any]
    input_shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[np.dtype, ...]
    token_range: tuple[int, int] | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    zoo: bool = True

    def build(self, seed: int = 0, pretrained: str | None = None) -> Any:
        """The model in eval mode, its random weights drawn from ``seed`` (or loaded from ``pretrained``)."""
        import nngraph
        from nngraph.nn import Module

        nngraph.manual_seed(seed)
        kwargs = dict(self.kwargs)
        if pretrained is not None and self.zoo:
            kwargs["pretrained"] = pretrained
        try:
            model = self.factory(**kwargs)
        except (OSError, ValueError, RuntimeError) as e:
            if pretrained is None:
                raise
            raise CLIError(f"cannot load --pretrained {pretrained!r}: {e}") from e
        if not isinstance(model, Module):
            raise CLIError(f"{self.name!r} returned {type(model).__name__}, not an nngraph.nn.Module")
        if pretrained is not None and not self.zoo:
            from nngraph.models import load_pretrained

            try:
                load_pretrained(model, pretrained)
            except (OSError, ValueError, RuntimeError, KeyError) as e:
                raise CLIError(f"cannot load --pretrained {pretrained!r}: {e}") from e
        return model.eval()

    def inputs(self, batch: int, seed: int = 0) -> tuple[np.ndarray, ...]:
        """One ``(batch, *shape)`` array per input: token ids in ``token_range`` for integer inputs of zoo token
        models (``[0, 10)`` for other integer inputs), standard normals otherwise."""
        rng = np.random.default_rng(seed)
        out = []
        for shape, dtype in zip(self.input_shapes, self.dtypes):
            full = (int(batch), *shape)
            if dtype.kind in "iu":
                low, high = self.token_range or (0, 10)
                out.append(rng.integers(low, high, size=full, dtype=dtype))
            elif dtype.kind == "b":
                out.append(rng.integers(0, 2, size=full).astype(bool))
            else:
                out.append(rng.standard_normal(full, dtype=np.float32).astype(dtype, copy=False))
        return tuple(out)

    def describe_inputs(self, batch: int) -> str:
        return ", ".join(f"{(batch, *s)} {d}" for s, d in zip(self.input_shapes, self.dtypes))

    def to_args(self) -> dict[str, Any]:
        """What ``resolve`` needs to rebuild this reference in another process."""
        return {"name": self.name, "input_shapes": [list(s) for s in self.input_shapes],
                "dtypes": [d.str for d in self.dtypes]}


def resolve(name: str, input_shapes: Sequence[Sequence[int]] | None = None,
            input_dtype: str | Sequence[str] | None = None) -> ModelRef:
    """A zoo name or ``package.module:factory`` -> ``ModelRef``; ``input_shapes`` exclude the batch dimension."""
    shapes = tuple(tuple(int(d) for d in s) for s in input_shapes) if input_shapes else None
    if isinstance(input_dtype, str):
        dtypes_in: list[str] | None = [input_dtype]
    else:
        dtypes_in = list(input_dtype) if input_dtype else None
    try:
        dtypes = [np.dtype(d) for d in dtypes_in] if dtypes_in else None
    except TypeError as e:
        raise CLIError(f"bad --input-dtype {input_dtype!r}: {e}") from None

    if ":" in name:
        if not _FACTORY.match(name):
            raise CLIError(f"bad model {name!r}: expected a zoo name or package.module:factory")
        if not shapes:
            raise CLIError(f"user model {name!r} needs --input-shape (the input shape without the batch dimension)")
        factory = import_factory(name)
        if not callable(factory):
            raise CLIError(f"{name!r} is not callable")
        dts = _broadcast_dtypes(dtypes, len(shapes), np.dtype(np.float32))
        return ModelRef(name, f"user model {name}", factory, shapes, dts, zoo=False)

    from nngraph.models import ZOO

    if name not in ZOO:
        raise CLIError(f"unknown model {name!r}; available: {', '.join(ZOO)} (or package.module:factory)")
    spec = ZOO[name]
    shapes = shapes or (tuple(spec.input_shape),)
    dts = _broadcast_dtypes(dtypes, len(shapes), np.dtype(spec.dtype))
    return ModelRef(name, spec.description, spec.factory, shapes, dts, spec.token_range, dict(spec.kwargs), zoo=True)


def _broadcast_dtypes(dtypes: list[np.dtype] | None, n: int, default: np.dtype) -> tuple[np.dtype, ...]:
    if not dtypes:
        return (default,) * n
    if len(dtypes) == 1:
        return tuple(dtypes) * n
    if len(dtypes) != n:
        raise CLIError(f"{len(dtypes)} --input-dtype values for {n} --input-shape values")
    return tuple(dtypes)


def add_input_arguments(parser: argparse.ArgumentParser, seed: bool = True) -> None:
    """``--input-shape`` (repeatable), ``--input-dtype``, ``--seed``, ``--pretrained``."""
    parser.add_argument("--input-shape", action="append", type=parse_shape, metavar="SHAPE", default=None,
                        help="an input's shape without the batch dimension, e.g. 3,32,32 (repeat for several "
                             "inputs); required for package.module:factory models, overrides a zoo model's default")
    parser.add_argument("--input-dtype", action="append", default=None, metavar="DTYPE",
                        help="input dtype (default: the zoo model's, float32 for user models); one, or one per input")
    if seed:
        parser.add_argument("--seed", type=int, default=0, metavar="S",
                            help="seed of the random weights and of the example input (0)")
    parser.add_argument("--pretrained", metavar="PATH", default=None,
                        help="load weights from a .safetensors/.npz state_dict (e.g. exported from PyTorch)")


def ref_from_args(name: str, args: argparse.Namespace) -> ModelRef:
    return resolve(name, getattr(args, "input_shape", None), getattr(args, "input_dtype", None))
