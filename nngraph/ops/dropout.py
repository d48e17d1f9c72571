"""Primitive ops of dropout (training mode only; in eval mode ``F`` never calls them).

Masks come from ``nngraph._random.default_generator()``, so ``nngraph.manual_seed`` makes them reproducible.
The "feature" variants draw one mask value per (sample, channel) and broadcast it over the remaining axes.
The ops are random, hence ``Fusion.OPAQUE``: a pass must neither fuse nor deduplicate two calls.
"""
from __future__ import annotations

import math

import numpy as np

from .._random import default_generator
from .registry import Fusion, defop, same_as_first

# SELU's scale * alpha: SELU saturates at -_ALPHA_PRIME for large negative inputs.
_ALPHA_PRIME = 1.7580993408473766


def _keep_mask(x: np.ndarray, p: float, feature: bool, dtype: np.dtype) -> np.ndarray:
    """1 (kept, probability 1 - p) or 0, of ``x``'s shape or (N, C, 1, ...) for feature dropout."""
    shape = x.shape[:2] + (1,) * (x.ndim - 2) if feature else x.shape
    return (default_generator().random(shape) >= p).astype(dtype)


def _work(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) if x.dtype == np.float16 else x


# Products with the 0/1 mask: x * 0, not zeros, so that NaN and inf inputs give NaN, as in torch.
@np.errstate(invalid="ignore")
def _dropout(x: np.ndarray, p: float, feature: bool) -> np.ndarray:
    w = _work(x)
    if p >= 1:
        return (w * 0).astype(x.dtype, copy=False)
    noise = _keep_mask(w, p, feature, w.dtype) * (1.0 / (1.0 - p))
    return (w * noise).astype(x.dtype, copy=False)


@np.errstate(invalid="ignore")
def _alpha_dropout(x: np.ndarray, p: float, feature: bool) -> np.ndarray:
    """Dropped units are set to SELU's saturation value; an affine map a * (.) + b restores mean and variance."""
    w = _work(x)
    if p >= 1:
        return (w * 0).astype(x.dtype, copy=False)
    keep = _keep_mask(w, p, feature, w.dtype)
    a = 1.0 / math.sqrt((_ALPHA_PRIME**2 * p + 1) * (1 - p))
    b = (keep - 1) * (_ALPHA_PRIME * a) + _ALPHA_PRIME * a * p
    return (w * (keep * a) + b).astype(x.dtype, copy=False)


@defop("dropout", fusion=Fusion.OPAQUE, shape=same_as_first, random=True)
def dropout(x: np.ndarray, *, p: float) -> np.ndarray:
    """Zero each element with probability ``p``; scale the kept ones by 1 / (1 - p)."""
    return _dropout(x, p, feature=False)


@defop("feature_dropout", fusion=Fusion.OPAQUE, shape=same_as_first, random=True)
def feature_dropout(x: np.ndarray, *, p: float) -> np.ndarray:
    """Zero each channel ``x[n, c]`` (ndim >= 2) with probability ``p``; scale the kept ones by 1 / (1 - p)."""
    return _dropout(x, p, feature=True)


@defop("alpha_dropout", fusion=Fusion.OPAQUE, shape=same_as_first, random=True)
def alpha_dropout(x: np.ndarray, *, p: float) -> np.ndarray:
    """Alpha dropout of each element (preserves zero mean and unit variance)."""
    return _alpha_dropout(x, p, feature=False)


@defop("feature_alpha_dropout", fusion=Fusion.OPAQUE, shape=same_as_first, random=True)
def feature_alpha_dropout(x: np.ndarray, *, p: float) -> np.ndarray:
    """Alpha dropout of whole channels ``x[n, c]`` (ndim >= 2)."""
    return _alpha_dropout(x, p, feature=True)
