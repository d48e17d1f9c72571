"""torch.nn.functional's activations and softmax family.

``inplace=True`` (and the ``*_`` variants) write the result into the input array and return it, as torch does;
under the tracer, where arrays are symbolic, they are functional.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ...errors import InputError, check_float, shape_str
from ...ops import activation as P

__all__ = [
    "threshold", "threshold_", "relu", "relu_", "relu6", "hardtanh", "hardtanh_", "elu", "elu_", "selu", "selu_",
    "celu", "celu_", "leaky_relu", "leaky_relu_", "prelu", "rrelu", "rrelu_", "glu", "gelu", "logsigmoid",
    "hardshrink", "tanhshrink", "softsign", "softplus", "softshrink", "tanh", "sigmoid", "hardsigmoid", "silu",
    "mish", "hardswish", "softmin", "softmax", "log_softmax", "gumbel_softmax",
]


def _real(who: str, x: Any) -> None:
    """Integer or floating input (clamps and rectifiers keep integer dtypes, as in torch)."""
    if not (hasattr(x, "dtype") and x.dtype.kind in "iuf"):
        got = f"dtype {getattr(x, 'dtype', type(x).__name__)}"
        raise InputError(who, "a numeric (integer or floating-point) input", got)


def _result(x: Any, out: Any, inplace: bool) -> Any:
    """``out``, or with ``inplace`` the input array overwritten with ``out``."""
    if inplace and hasattr(x, "shape") and hasattr(out, "shape"):  # arrays and traced arrays alike
        x[...] = out
        return x
    return out


def _axis(who: str, x: Any, dim: int) -> int:
    """``dim`` as a non-negative axis; 0-d arrays accept dim 0 and -1, like torch."""
    n = max(x.ndim, 1)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or not -n <= dim < n:
        raise InputError(who, f"dim in range [{-n}, {n - 1}] for an input of shape {shape_str(x.shape)}", dim)
    return int(dim) % n


# ---- rectifiers and clamps -------------------------------------------------------------------------------------


def threshold(input: Any, threshold: float, value: float, inplace: bool = False) -> Any:
    """``value`` where input <= threshold, else input."""
    _real("threshold", input)
    return _result(input, P.threshold(input, threshold=float(threshold), value=float(value)), inplace)


_threshold = threshold  # reachable where a parameter named ``threshold`` shadows the function


def threshold_(input: Any, threshold: float, value: float) -> Any:
    """In-place :func:`threshold`."""
    return _threshold(input, threshold, value, inplace=True)


def relu(input: Any, inplace: bool = False) -> Any:
    """max(input, 0)."""
    _real("relu", input)
    return _result(input, P.relu(input), inplace)


def relu_(input: Any) -> Any:
    """In-place :func:`relu`."""
    return relu(input, inplace=True)


def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Any:
    """clamp(input, min_val, max_val)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    _real("hardtanh", input)
    if input.dtype.kind == "u" and (min_val < 0 or max_val < 0):
        raise InputError("hardtanh", "non-negative limits for an unsigned input", f"({min_val}, {max_val})")
    return _result(input, P.hardtanh(input, min_val=float(min_val), max_val=float(max_val)), inplace)


def hardtanh_(input: Any, min_val: float = -1.0, max_val: float = 1.0) -> Any:
    """In-place :func:`hardtanh`."""
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Any, inplace: bool = False) -> Any:
    """min(max(input, 0), 6)."""
    _real("relu6", input)
    return _result(input, P.hardtanh(input, min_val=0.0, max_val=6.0), inplace)


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> Any:
    """input if input > 0 else negative_slope * input."""
    check_float("leaky_relu", input)
    return _result(input, P.leaky_relu(input, negative_slope=float(negative_slope)), inplace)


def leaky_relu_(input: Any, negative_slope: float = 0.01) -> Any:
    """In-place :func:`leaky_relu`."""
    return leaky_relu(input, negative_slope, inplace=True)


def prelu(input: Any, weight: Any) -> Any:
    """input if input > 0 else weight * input; a 1-D ``weight`` holds one slope per channel (axis 1)."""
    check_float("prelu", input)
    check_float("prelu", weight, "weight")
    if weight.ndim > 1:
        raise InputError("prelu", "a scalar or 1-D weight", f"weight of shape {shape_str(weight.shape)}")
    n = weight.shape[0] if weight.ndim == 1 else 1
    channels = input.shape[1] if input.ndim >= 2 else 1
    if n != 1 and n != channels:
        raise InputError("prelu", f"input of shape (N, {n}, ...) to match {n} weights", shape_str(input.shape))
    if weight.dtype != input.dtype:
        raise InputError("prelu", f"weight of the input's dtype {input.dtype}", f"dtype {weight.dtype}")
    w = weight.reshape(()) if n == 1 else weight.reshape((n,) + (1,) * (input.ndim - 2))
    return P.prelu(input, w)


def rrelu(input: Any, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Any:
    """Randomized leaky ReLU: slopes ~ U(lower, upper) in training, the fixed slope (lower + upper) / 2 otherwise."""
    if lower > upper:
        raise ValueError("Lower bound should be less than or equal to the upper bound")
    check_float("rrelu", input)
    if training:
        out = P.rrelu(input, lower=float(lower), upper=float(upper))
    else:
        out = P.leaky_relu(input, negative_slope=(lower + upper) / 2)
    return _result(input, out, inplace)


def rrelu_(input: Any, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False) -> Any:
    """In-place :func:`rrelu`."""
    return rrelu(input, lower, upper, training, inplace=True)


def elu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Any:
    """input if input > 0 else alpha * (exp(input) - 1)."""
    check_float("elu", input)
    return _result(input, P.elu(input, alpha=float(alpha)), inplace)


def elu_(input: Any, alpha: float = 1.0) -> Any:
    """In-place :func:`elu`."""
    return elu(input, alpha, inplace=True)


def celu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Any:
    """input if input > 0 else alpha * (exp(input / alpha) - 1)."""
    if alpha == 0:
        raise ValueError("alpha cannot be 0 for CELU")
    check_float("celu", input)
    return _result(input, P.celu(input, alpha=float(alpha)), inplace)


def celu_(input: Any, alpha: float = 1.0) -> Any:
    """In-place :func:`celu`."""
    return celu(input, alpha, inplace=True)


def selu(input: Any, inplace: bool = False) -> Any:
    """scale * elu(input, alpha) with SELU's constants."""
    check_float("selu", input)
    return _result(input, P.selu(input), inplace)


def selu_(input: Any) -> Any:
    """In-place :func:`selu`."""
    return selu(input, inplace=True)


# ---- smooth activations ----------------------------------------------------------------------------------------


def sigmoid(input: Any) -> Any:
    """1 / (1 + exp(-input))."""
    check_float("sigmoid", input)
    return P.sigmoid(input)


def tanh(input: Any) -> Any:
    check_float("tanh", input)
    return P.tanh(input)


def logsigmoid(input: Any) -> Any:
    """log(sigmoid(input))."""
    check_float("logsigmoid", input)
    return P.log_sigmoid(input)


def gelu(input: Any, approximate: str = "none") -> Any:
    """input * Phi(input), or its tanh approximation with ``approximate='tanh'``."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")
    check_float("gelu", input)
    return P.gelu(input) if approximate == "none" else P.gelu_tanh(input)


def silu(input: Any, inplace: bool = False) -> Any:
    """input * sigmoid(input)."""
    check_float("silu", input)
    return _result(input, P.silu(input), inplace)


def mish(input: Any, inplace: bool = False) -> Any:
    """input * tanh(softplus(input))."""
    check_float("mish", input)
    return _result(input, P.mish(input), inplace)


def hardsigmoid(input: Any, inplace: bool = False) -> Any:
    """clamp(input + 3, 0, 6) / 6."""
    check_float("hardsigmoid", input)
    return _result(input, P.hardsigmoid(input), inplace)


def hardswish(input: Any, inplace: bool = False) -> Any:
    """input * clamp(input + 3, 0, 6) / 6."""
    check_float("hardswish", input)
    return _result(input, P.hardswish(input), inplace)


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    """log(1 + exp(beta * input)) / beta; linear where beta * input > threshold."""
    check_float("softplus", input)
    return P.softplus(input, beta=float(beta), threshold=float(threshold))


def softsign(input: Any) -> Any:
    """input / (1 + |input|)."""
    check_float("softsign", input)
    return P.softsign(input)


def hardshrink(input: Any, lambd: float = 0.5) -> Any:
    """0 where |input| <= lambd, else input."""
    check_float("hardshrink", input)
    return P.hardshrink(input, lambd=float(lambd))


def softshrink(input: Any, lambd: float = 0.5) -> Any:
    """input shrunk towards 0 by lambd (0 where |input| <= lambd)."""
    if lambd < 0:
        raise ValueError(f"lambda must be greater or equal to 0, but found to be {lambd}")
    check_float("softshrink", input)
    return P.softshrink(input, lambd=float(lambd))


def tanhshrink(input: Any) -> Any:
    """input - tanh(input)."""
    check_float("tanhshrink", input)
    return P.tanhshrink(input)


def glu(input: Any, dim: int = -1) -> Any:
    """Gated linear unit a * sigmoid(b), where a and b are the two halves of ``input`` along ``dim``."""
    check_float("glu", input)
    if input.ndim == 0:
        raise InputError("glu", "an input with at least 1 dimension", "a 0-d input")
    axis = _axis("glu", input, dim)
    size = input.shape[axis]
    if size % 2:
        raise InputError("glu", f"an even size along dim {dim} (halved into two gates)",
                         f"size {size} in shape {shape_str(input.shape)}")
    lead = (slice(None),) * axis
    return input[lead + (slice(0, size // 2),)] * P.sigmoid(input[lead + (slice(size // 2, None),)])


# ---- softmax family --------------------------------------------------------------------------------------------


def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    """torch's deprecated implicit dim: 0 for 0-, 1- and 3-d inputs, else 1."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. "
                  "Change the call to include dim=X as an argument.", UserWarning, stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_like(who: str, op: Any, x: Any, dim: int | None, stacklevel: int, dtype: Any,
                  negate: bool = False) -> Any:
    if dtype is None:
        check_float(who, x)
        dtype_name = None
    else:
        if not (hasattr(x, "dtype") and x.dtype.kind in "iuf"):
            raise InputError(who, "a numeric input", f"dtype {getattr(x, 'dtype', type(x).__name__)}")
        dtype_name = np.dtype(dtype).name
        if np.dtype(dtype).kind != "f":
            raise InputError(who, "a floating-point dtype=", dtype_name)
    if dim is None:
        dim = _softmax_dim(who, x.ndim, stacklevel + 1)
    axis = _axis(who, x, dim)
    if negate:
        x = -x
    if x.ndim == 0:
        return op(x.reshape(1), axis=0, dtype=dtype_name).reshape(())
    return op(x, axis=axis, dtype=dtype_name)


def softmax(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Any:
    """exp(input) / sum(exp(input)) along ``dim``; ``dtype`` casts the input first."""
    return _softmax_like("softmax", P.softmax, input, dim, _stacklevel, dtype)


def log_softmax(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Any:
    """log(softmax(input)) along ``dim``, computed without forming the softmax."""
    return _softmax_like("log_softmax", P.log_softmax, input, dim, _stacklevel, dtype)


def softmin(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Any:
    """softmax(-input) along ``dim``."""
    return _softmax_like("softmin", P.softmax, input, dim, _stacklevel, dtype, negate=True)


def gumbel_softmax(logits: Any, tau: float = 1, hard: bool = False, eps: float = 1e-10, dim: int = -1) -> Any:
    """Sample softmax((logits + Gumbel noise) / tau) along ``dim``; with ``hard`` its one-hot argmax."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", UserWarning, stacklevel=2)
    check_float("gumbel_softmax", logits)
    axis = _axis("gumbel_softmax", logits, dim)
    if logits.ndim == 0:
        return P.gumbel_softmax(logits.reshape(1), tau=float(tau), hard=bool(hard), axis=0).reshape(())
    return P.gumbel_softmax(logits, tau=float(tau), hard=bool(hard), axis=axis)
