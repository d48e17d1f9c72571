"""Padding primitive: one N-d ``pad`` op with constant, reflect, replicate and circular modes.

``pads`` holds one ``(before, after)`` pair per axis of the input (negative values crop). Validation of the
pads against the input size lives in ``F.pad``; the impl assumes a valid request.
"""
from __future__ import annotations

import numpy as np

from .registry import Fusion, TensorSpec, defop

__all__ = ["pad", "pad_index"]

PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _pad_shape(x: TensorSpec, *, pads: tuple, mode: str, value: float) -> TensorSpec:
    return TensorSpec(tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, pads)), x.dtype)


def pad_index(size: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """Source index along one axis for every output position of a reflect/replicate/circular pad."""
    pos = np.arange(size + lo + hi) - lo  # output position in input coordinates
    if mode == "reflect":  # mirror without repeating the edge; |pad| < size, so one reflection suffices
        idx = np.abs(pos)
        return np.where(idx > size - 1, 2 * (size - 1) - idx, idx)
    if mode == "replicate":
        return np.clip(pos, 0, size - 1)
    if mode == "circular":  # torch crops negative pads first, then wraps within the cropped range
        start = max(-lo, 0)
        kept = size - start - max(-hi, 0)
        if kept <= 0:
            return np.zeros(0, dtype=np.intp)
        return start + (np.arange(size + lo + hi) - max(lo, 0)) % kept
    raise ValueError(f"pad_index: unknown mode {mode!r}")


@defop("pad", fusion=Fusion.INJECTIVE, shape=_pad_shape)
def pad(x: np.ndarray, *, pads: tuple, mode: str, value: float) -> np.ndarray:
    """Pad (or crop, for negative amounts) every axis of ``x`` by ``pads[axis] = (before, after)``."""
    if mode == "constant":
        out = np.full(tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, pads)), value, dtype=x.dtype)
        src, dst = [], []
        for n, (lo, hi) in zip(x.shape, pads):
            start, stop = max(-lo, 0), n - max(-hi, 0)
            if stop <= start:
                return out
            src.append(slice(start, stop))
            dst.append(slice(max(lo, 0), max(lo, 0) + stop - start))
        out[tuple(dst)] = x[tuple(src)]
        return out
    out = x
    for axis, (lo, hi) in enumerate(pads):
        if lo or hi:
            out = np.take(out, pad_index(x.shape[axis], lo, hi, mode), axis=axis)
    return out.copy() if out is x else out
