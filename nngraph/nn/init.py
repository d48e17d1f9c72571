"""``nngraph.nn.init``: torch.nn.init's initializers, writing into numpy arrays in place.

Same formulas, distributions and bounds as torch; values come from nngraph's generator (``nngraph.manual_seed``) or
an explicit ``generator=`` (a ``numpy.random.Generator``).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._random import default_generator
from ._epochs import bump_state

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_"]


def _rng(generator: np.random.Generator | None) -> np.random.Generator:
    return generator if generator is not None else default_generator()


def _fill(tensor: np.ndarray, values: Any) -> np.ndarray:
    tensor.view(np.ndarray)[...] = values
    bump_state()
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (torch's table)."""
    linear = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _fan_in_and_fan_out(tensor: np.ndarray) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _correct_fan(tensor: np.ndarray, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: np.ndarray, a: float = 0.0, b: float = 1.0, generator: np.random.Generator | None = None) -> np.ndarray:
    return _fill(tensor, _rng(generator).uniform(a, b, tensor.shape))


def normal_(tensor: np.ndarray, mean: float = 0.0, std: float = 1.0, generator: np.random.Generator | None = None) -> np.ndarray:
    return _fill(tensor, _rng(generator).normal(mean, std, tensor.shape))


def trunc_normal_(tensor: np.ndarray, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator: np.random.Generator | None = None) -> np.ndarray:
    """Normal(mean, std) truncated to [a, b] (rejection sampling: the same distribution as torch's)."""
    rng = _rng(generator)
    values = rng.normal(mean, std, tensor.shape)
    bad = (values < a) | (values > b)
    while bad.any():
        values[bad] = rng.normal(mean, std, int(bad.sum()))
        bad = (values < a) | (values > b)
    return _fill(tensor, values)


def constant_(tensor: np.ndarray, val: float) -> np.ndarray:
    return _fill(tensor, val)


def ones_(tensor: np.ndarray) -> np.ndarray:
    return _fill(tensor, 1)


def zeros_(tensor: np.ndarray) -> np.ndarray:
    return _fill(tensor, 0)


def eye_(tensor: np.ndarray) -> np.ndarray:
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _fill(tensor, np.eye(*tensor.shape))


def dirac_(tensor: np.ndarray, groups: int = 1) -> np.ndarray:
    """Identity-preserving init of a {3,4,5}-D conv weight."""
    if tensor.ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    out_per_group = tensor.shape[0] // groups
    if tensor.shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    n = min(out_per_group, tensor.shape[1])
    values = np.zeros(tensor.shape)
    center = tuple(s // 2 for s in tensor.shape[2:])
    for g in range(groups):
        for d in range(n):
            values[(g * out_per_group + d, d) + center] = 1
    return _fill(tensor, values)


def xavier_uniform_(tensor: np.ndarray, gain: float = 1.0, generator: np.random.Generator | None = None) -> np.ndarray:
    fan_in, fan_out = _fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(2.0 / float(fan_in + fan_out)) * math.sqrt(3.0)
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: np.ndarray, gain: float = 1.0, generator: np.random.Generator | None = None) -> np.ndarray:
    fan_in, fan_out = _fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def kaiming_uniform_(tensor: np.ndarray, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator: np.random.Generator | None = None) -> np.ndarray:
    if 0 in tensor.shape:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_correct_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: np.ndarray, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator: np.random.Generator | None = None) -> np.ndarray:
    if 0 in tensor.shape:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_correct_fan(tensor, mode))
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: np.ndarray, gain: float = 1.0, generator: np.random.Generator | None = None) -> np.ndarray:
    """A (semi-)orthogonal matrix from the QR decomposition of a normal matrix, sign-corrected as torch."""
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.size // rows
    flat = _rng(generator).normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))


def sparse_(tensor: np.ndarray, sparsity: float, std: float = 0.01, generator: np.random.Generator | None = None) -> np.ndarray:
    """2-D init with a ``sparsity`` fraction of each column set to zero, the rest Normal(0, std)."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rng = _rng(generator)
    rows, cols = tensor.shape
    values = rng.normal(0.0, std, (rows, cols))
    zeros = int(math.ceil(sparsity * rows))
    for c in range(cols):
        values[rng.permutation(rows)[:zeros], c] = 0
    return _fill(tensor, values)
