"""torch.nn.functional's dropout family.

In eval mode (``training=False``), with ``p == 0`` or for empty input every function returns its input itself, as
torch does. In training mode the random primitives in ``nngraph.ops.dropout`` draw masks from nngraph's seeded
generator; ``inplace=True`` writes the result into the input array and returns it.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ...errors import InputError, check_float, shape_str
from ...ops import dropout as P

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]


def _active(who: str, x: Any, p: float, training: bool) -> bool:
    """Validate ``p`` and the dtype; whether the op changes anything."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    check_float(who, x)
    return bool(training) and p != 0 and all(n != 0 for n in x.shape)


def _write(x: Any, out: Any, inplace: bool) -> Any:
    if inplace and hasattr(x, "shape") and hasattr(out, "shape"):  # arrays and traced arrays alike
        x[...] = out
        return x
    return out


def _feature(who: str, op: Any, x: Any, p: float, inplace: bool, batched: bool = True) -> Any:
    """Channel-wise ``op`` on (N, C, ...) input; an unbatched input is run as a batch of one."""
    xb = x if batched else x[None]
    if xb.ndim < 2:  # torch checks this in training mode only
        raise InputError(who, "input with at least 2 dimensions (N, C, ...) for channel-wise dropout",
                         shape_str(x.shape))
    out = op(xb, p=float(p))
    return _write(x, out if batched else out[0], inplace)


def _warn_rank(who: str, ndim: int, ranks: str, spatial: int) -> None:
    warnings.warn(f"{who}: Received a {ndim}-D input to {who}, which is deprecated and will result in an error in a "
                  f"future release. To retain the behavior and silence this warning, please use dropout instead. "
                  f"Note that {who} exists to provide channel-wise dropout on inputs with {spatial} spatial "
                  f"dimensions, a channel dimension, and an optional batch dimension (i.e. {ranks} inputs).",
                  UserWarning, stacklevel=3)


def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Any:
    """Zero elements with probability ``p`` and scale the rest by 1 / (1 - p) (training only)."""
    if not _active("dropout", input, p, training):
        return input
    return _write(input, P.dropout(input, p=float(p)), inplace)


def alpha_dropout(input: Any, p: float = 0.5, training: bool = False, inplace: bool = False) -> Any:
    """Alpha dropout, which keeps zero mean and unit variance (for SELU networks); training only."""
    if not _active("alpha_dropout", input, p, training):
        return input
    return _write(input, P.alpha_dropout(input, p=float(p)), inplace)


def feature_alpha_dropout(input: Any, p: float = 0.5, training: bool = False, inplace: bool = False) -> Any:
    """Alpha dropout of whole channels ``input[n, c]``; training only."""
    if not _active("feature_alpha_dropout", input, p, training):
        return input
    return _feature("feature_alpha_dropout", P.feature_alpha_dropout, input, p, inplace)


def dropout1d(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Any:
    """Zero whole channels of (N, C, L) or (C, L) input with probability ``p`` (training only)."""
    active = _active("dropout1d", input, p, training)
    if input.ndim not in (2, 3):
        raise InputError("dropout1d", "input of shape (N, C, L) or (C, L)", shape_str(input.shape))
    if not active:
        return input
    return _feature("dropout1d", P.feature_dropout, input, p, inplace, batched=input.ndim == 3)


def dropout2d(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Any:
    """Zero whole channels of (N, C, H, W) input with probability ``p`` (training only).

    As in torch, 3-d input is read as (N, C, L) (1-d channel dropout), with a warning; other ranks warn too.
    """
    active = _active("dropout2d", input, p, training)
    if input.ndim not in (3, 4):
        _warn_rank("dropout2d", input.ndim, "3D or 4D", 2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                      "This behavior will change in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please "
                      "switch to using dropout1d instead.", UserWarning, stacklevel=2)
    if not active:
        return input
    return _feature("dropout2d", P.feature_dropout, input, p, inplace)


def dropout3d(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Any:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability ``p`` (training only)."""
    active = _active("dropout3d", input, p, training)
    if input.ndim not in (4, 5):
        _warn_rank("dropout3d", input.ndim, "4D or 5D", 3)
    if not active:
        return input
    return _feature("dropout3d", P.feature_dropout, input, p, inplace, batched=input.ndim == 5)
