"""The op registry: every primitive op is declared exactly once, here or in a sibling file.

An op entry holds
  * ``impl``   -- the numpy reference implementation (the semantic definition),
  * ``shape``  -- the shape/dtype rule: ``shape(*specs, **attrs) -> TensorSpec | tuple[TensorSpec, ...]``,
  * ``fusion`` -- its fusion class, which decides what passes may fuse it with,
  * ``lowerings`` -- per-target lowering rules, added later by backends by op name.

Calling convention: positional arguments are arrays (or ``None`` for an absent optional array, e.g. a bias);
every other parameter is a keyword attribute with a hashable value (int, float, bool, str, None, tuples of them).
Calling an ``OpDef`` runs ``impl`` eagerly, or records a node when a tracer is active and an argument is traced.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


class Fusion(enum.Enum):
    """What an op may fuse with (TVM's classes)."""

    ELEMENTWISE = "elementwise"  # out[i] = f(in[i]); same shape in and out
    BROADCAST = "broadcast"  # elementwise with numpy broadcasting of its inputs
    INJECTIVE = "injective"  # each output element reads one input element: reshape, transpose, slice, concat
    REDUCTION = "reduction"  # sum/mean/max over axes, softmax, normalization
    HEAVY = "heavy"  # conv, matmul, linear: may take an elementwise epilogue
    OPAQUE = "opaque"  # everything else (recurrences, sorting, random ops)


@dataclass(frozen=True)
class TensorSpec:
    """Abstract value of an array: shape and dtype."""

    shape: tuple[int, ...]
    dtype: np.dtype

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(s if getattr(s, "symbolic", False) else int(s) for s in self.shape))
        object.__setattr__(self, "dtype", np.dtype(self.dtype))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def static(self) -> bool:
        """No symbolic sizes in the shape."""
        return not any(getattr(s, "symbolic", False) for s in self.shape)

    @classmethod
    def of(cls, array: Any) -> "TensorSpec":
        return cls(tuple(array.shape), array.dtype)


# The active tracer, if any. A tracer has ``is_traced(value) -> bool`` and ``record(op, args, attrs)``.
_ACTIVE_TRACER: list[Any] = []


@dataclass(eq=False)
class OpDef:
    name: str
    impl: Callable[..., Any]
    shape: Callable[..., Any]
    fusion: Fusion
    n_outputs: int = 1
    random: bool = False  # draws from the RNG: never folded, deduplicated or removed as dead code in train mode
    # The implementation validates the data (index ranges, empty reductions): the tracer computes its value at once
    # so that a bad example input fails where eager execution fails (other ops' values are computed lazily).
    checks_values: bool = False
    lowerings: dict[str, Callable[..., Any]] = field(default_factory=dict)

    def __call__(self, *args: Any, **attrs: Any) -> Any:
        if _ACTIVE_TRACER:
            tracer = _ACTIVE_TRACER[-1]
            if any(tracer.is_traced(a) for a in args):
                return tracer.record(self, args, attrs)
        return self.impl(*args, **attrs)

    def infer(self, *specs: TensorSpec | None, **attrs: Any) -> Any:
        """Apply the shape rule."""
        return self.shape(*specs, **attrs)

    def __repr__(self) -> str:
        return f"<op {self.name} ({self.fusion.value})>"


REGISTRY: dict[str, OpDef] = {}


def defop(name: str, *, fusion: Fusion, shape: Callable[..., Any], n_outputs: int = 1,
          random: bool = False, checks_values: bool = False) -> Callable[[Callable[..., Any]], OpDef]:
    """Decorator: register ``impl`` as the numpy reference of op ``name``."""

    def wrap(impl: Callable[..., Any]) -> OpDef:
        if name in REGISTRY:
            raise ValueError(f"op {name!r} is already registered")
        op = OpDef(name=name, impl=impl, shape=shape, fusion=fusion, n_outputs=n_outputs, random=random,
                   checks_values=checks_values)
        op.__doc__ = impl.__doc__
        REGISTRY[name] = op
        return op

    return wrap


def get_op(name: str) -> OpDef:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"no op named {name!r} is registered") from None


def register_lowering(op_name: str, target: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator used by backends: ``@register_lowering("conv2d", "cpu")``."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        get_op(op_name).lowerings[target] = fn
        return fn

    return wrap


# Shape-rule helpers shared by many ops.
def same_as_first(x: TensorSpec, *_: Any, **__: Any) -> TensorSpec:
    return x


def broadcast_specs(*specs: TensorSpec | None, **_: Any) -> TensorSpec:
    present = [s for s in specs if s is not None]
    shape = np.broadcast_shapes(*(s.shape for s in present))
    dtype = np.result_type(*(s.dtype for s in present))
    return TensorSpec(shape, dtype)
