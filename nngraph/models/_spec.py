"""``ModelSpec`` (a zoo entry: factory + default input) and the ``pretrained=`` weight loading shared by factories."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Union

import numpy as np

from ..nn import Module
from ..serialization import load

__all__ = ["ModelSpec", "Pretrained", "load_pretrained"]

#: What a factory's ``pretrained=`` accepts.
Pretrained = Union[str, os.PathLike, Mapping[str, Any], None]


def load_pretrained(model: Module, pretrained: Pretrained) -> Module:
    """Load ``pretrained`` into ``model`` (strict) and return it: ``None`` (keep the random init), a path to a
    ``.safetensors``/``.npz`` state_dict (e.g. exported from PyTorch with ``safetensors.torch.save_file``), or a
    state_dict mapping."""
    if pretrained is None:
        return model
    state = pretrained if isinstance(pretrained, Mapping) else load(pretrained)
    model.load_state_dict(state)
    return model


@dataclass(frozen=True)
class ModelSpec:
    """A zoo entry.

    ``input_shape`` excludes the batch dimension. Token models have an integer ``dtype`` and a ``token_range``
    ``(low, high)`` (high exclusive) their example ids are drawn from; image/feature models draw standard normals.
    ``kwargs`` are passed to ``factory`` by ``build``.
    """

    name: str
    factory: Callable[..., Module]
    input_shape: tuple[int, ...]
    dtype: np.dtype = field(default_factory=lambda: np.dtype(np.float32))
    token_range: tuple[int, int] | None = None
    description: str = ""
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def build(self, **overrides: Any) -> Module:
        """Call the factory with the spec's ``kwargs`` updated by ``overrides`` (e.g. ``pretrained=path``)."""
        return self.factory(**{**self.kwargs, **overrides})

    def example_input(self, batch: int = 1, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """A ``(batch, *input_shape)`` input of the spec's dtype; ``rng`` is a Generator or a seed."""
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        shape = (int(batch), *self.input_shape)
        dtype = np.dtype(self.dtype)
        if self.token_range is not None:
            low, high = self.token_range
            return gen.integers(low, high, size=shape, dtype=dtype)
        return gen.standard_normal(shape, dtype=np.float32).astype(dtype, copy=False)
