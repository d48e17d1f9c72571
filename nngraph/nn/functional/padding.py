"""``pad`` with torch.nn.functional's API: constant, reflect, replicate and circular modes.

``pad`` lists (before, after) amounts starting from the last dimension, as in torch; negative amounts crop. It is
normalized to one pair per input axis for the ``pad`` primitive of ``nngraph.ops.padding``.
"""
from __future__ import annotations

from typing import Any, Sequence

from ...errors import InputError, shape_str
from ...ops import padding as _ops

__all__ = ["pad"]


def _check_sizes(mode: str, shape: tuple[int, ...], pairs: list[tuple[int, int]], first: int) -> None:
    """Per-dimension limits of the non-constant modes; ``pairs`` are the pads of dims ``first, first + 1, ...``."""
    outs = []
    for axis, (lo, hi) in enumerate(pairs, start=first):
        size = shape[axis]
        outs.append(size + lo + hi)
        if mode == "reflect" and (lo >= size or hi >= size):
            raise InputError("pad", f"reflect padding smaller than the padded dimension (size {size} at dim {axis})",
                             f"padding ({lo}, {hi})")
        if mode == "circular":
            # torch copies wrapped values out of the already-cropped result; wrapping further would read unset memory
            kept = size - max(-lo, 0) - max(-hi, 0)
            if max(lo, 0) > kept or max(hi, 0) > kept:
                raise InputError("pad", f"circular padding at most the dimension's size ({kept} at dim {axis}, "
                                        "after cropping negative padding): it may wrap around only once",
                                 f"padding ({lo}, {hi})")
        if outs[-1] < 0:
            raise InputError("pad", f"a non-negative output size at dim {axis} (size {size})",
                             f"padding ({lo}, {hi}) giving size {outs[-1]}")
    # torch's reflect/replicate kernels accept some empty padded dims, but not all of them
    if mode != "circular" and max(outs) < 1:
        raise InputError("pad", f"at least one non-empty padded dimension for {mode} padding of input of shape "
                                f"{shape_str(shape)}", f"output sizes {tuple(outs)}")


def pad(input: Any, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Any:
    """Pad (or crop, with negative amounts) the last ``len(pad) // 2`` dimensions of ``input``.

    ``pad = (left_last, right_last, left_second_last, right_second_last, ...)``. ``constant`` pads any number of
    dimensions; ``reflect``, ``replicate`` and ``circular`` pad the last 1, 2 or 3 dimensions of a batched or
    unbatched input (2-3, 3-4 or 4-5 dimensions).
    """
    if mode not in _ops.PAD_MODES:
        raise InputError("pad", f"mode to be one of {', '.join(map(repr, _ops.PAD_MODES))}", repr(mode))
    try:
        amounts = [int(p) for p in pad]
    except TypeError:
        raise InputError("pad", "pad to be a sequence of ints", repr(pad)) from None
    if len(amounts) % 2:
        raise InputError("pad", "a padding sequence of even length", f"length {len(amounts)}")
    n = len(amounts) // 2
    shape = tuple(input.shape)
    if n > len(shape):
        raise InputError("pad", f"at most 2 * input.ndim = {2 * len(shape)} padding values for input of shape "
                                f"{shape_str(shape)}", f"{len(amounts)} values")
    # pairs[i] pads dim ndim - n + i (torch lists the last dim first)
    pairs = [(amounts[2 * i], amounts[2 * i + 1]) for i in reversed(range(n))]
    first = len(shape) - n
    if mode == "constant":
        for axis, (lo, hi) in enumerate(pairs, start=first):
            if max(-lo, 0) + max(-hi, 0) > shape[axis]:
                raise InputError("pad", f"negative padding that crops at most the dimension's size {shape[axis]} "
                                        f"at dim {axis}", f"padding ({lo}, {hi})")
        fill = 0.0 if value is None else float(value)
    else:
        if value is not None and value != 0:
            raise InputError("pad", f"no value for mode {mode!r} (value applies to 'constant' only)", value)
        if not 1 <= n <= 3:
            raise InputError("pad", f"1 to 3 padded dimensions for mode {mode!r}", n)
        if len(shape) not in (n + 1, n + 2):
            raise InputError("pad", f"a {n + 1}D or {n + 2}D input for {mode} padding of {n} dimension(s)",
                             f"input of shape {shape_str(shape)}")
        if mode != "circular" and any(s == 0 for s in shape[first - 1:]):
            raise InputError("pad", f"non-zero channel and spatial dimensions for {mode} padding (only the batch "
                                    "dimension may be 0)", f"input of shape {shape_str(shape)}")
        _check_sizes(mode, shape, pairs, first)
        fill = 0.0
    pads = ((0, 0),) * first + tuple(pairs)
    return _ops.pad(input, pads=pads, mode=mode, value=fill)
