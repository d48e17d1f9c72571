"""``Buf``: where a value lives in the executor's flat arenas -- arena, element offset, shape, element strides.

Views (reshape where numpy would not copy, transpose, basic slicing, broadcasting) are pure ``Buf`` arithmetic at
codegen time: they emit no code. Kernels receive ``(arena, offset)`` pairs plus shape/stride tuples.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir.symbolic import SymbolicUnsupported, SymInt, prod

MAX_DIMS = 6  # generic strided kernels iterate over at most this many (collapsed) dimensions


def c_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, acc = [], 1
    for s in reversed(shape):
        strides.append(acc)
        acc *= s if isinstance(s, SymInt) else max(int(s), 1)
    return tuple(reversed(strides))


def _nocopy_strides(shape: tuple[int, ...], strides: tuple[int, ...], new: tuple[int, ...]) -> tuple[int, ...] | None:
    """Strides of ``new`` viewing the same elements as (``shape``, ``strides``) in C order, or None when no view does.
    Walks both shapes in runs of equal element count: each run of old dimensions must be evenly strided (each
    stride = the next one x its size); the run's new dimensions then take strides from the run's innermost one."""
    old = [(int(n), int(st)) for n, st in zip(shape, strides) if n != 1]
    new = tuple(int(n) for n in new)
    if prod(new) != prod(tuple(n for n, _ in old)):
        return None
    if not old or any(n == 0 for n, _ in old):
        return c_strides(new)
    out = [0] * len(new)
    oi = ni = 0
    while oi < len(old) and ni < len(new):
        if new[ni] == 1:
            ni += 1
            continue
        oj, nj, osize, nsize = oi + 1, ni + 1, old[oi][0], new[ni]
        while osize != nsize:
            if nsize < osize:
                nsize *= new[nj]
                nj += 1
            else:
                osize *= old[oj][0]
                oj += 1
        if any(old[k][1] != old[k + 1][1] * old[k + 1][0] for k in range(oi, oj - 1)):
            return None
        out[nj - 1] = old[oj - 1][1]
        for k in range(nj - 1, ni, -1):
            out[k - 1] = out[k] * new[k]
        oi, ni = oj, nj
    for k in range(len(new) - 1, -1, -1):  # size-1 dims: any stride indexes the same element; keep C-like ones
        if new[k] == 1:
            out[k] = out[k + 1] * new[k + 1] if k + 1 < len(new) else 1
    return tuple(out)


@dataclass(frozen=True)
class Buf:
    arena: str  # the generated code's variable for a 1-D array
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    dtype: np.dtype

    @classmethod
    def dense(cls, arena: str, offset: int, shape: tuple[int, ...], dtype: np.dtype) -> "Buf":
        shape = tuple(_int(s) for s in shape)
        return cls(arena, _int(offset), shape, c_strides(shape), np.dtype(dtype))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return prod(self.shape)

    @property
    def contiguous(self) -> bool:
        return all(st == cs for st, cs, s in zip(self.strides, c_strides(self.shape), self.shape) if s != 1)

    def same_elements(self, other: "Buf") -> bool:
        """Whether ``other`` views the same elements in the same order (a copy between them does nothing)."""
        return (self.arena, self.offset, self.shape, self.dtype) == (other.arena, other.offset, other.shape,
                                                                     other.dtype) and \
            all(a == b for a, b, n in zip(self.strides, other.strides, self.shape) if n != 1)

    # -- views ------------------------------------------------------------------------------------------------------
    def reshape(self, shape: tuple[int, ...]) -> "Buf | None":
        """A reshaped view, or None when numpy's reshape would copy: the dimensions merged into one new dimension
        are not evenly strided (splitting a dimension, or merging ones that are, is always a view)."""
        if self.contiguous:
            return Buf.dense(self.arena, self.offset, shape, self.dtype)
        shape = tuple(shape)
        if any(isinstance(v, SymInt) for v in self.shape + self.strides + shape):
            return None
        strides = _nocopy_strides(self.shape, self.strides, shape)
        return None if strides is None else Buf(self.arena, self.offset, shape, strides, self.dtype)

    def transpose(self, axes: tuple[int, ...]) -> "Buf":
        return Buf(self.arena, self.offset, tuple(self.shape[a] for a in axes), tuple(self.strides[a] for a in axes),
                   self.dtype)

    def index(self, index: tuple) -> "Buf":
        """Basic indexing with an encoded index (see ops/shape.py)."""
        expanded = list(index)
        n_real = sum(1 for i in expanded if i is not None and i != "...")
        if "..." in expanded:
            at = expanded.index("...")
            expanded[at:at + 1] = [("s", None, None, None)] * (self.ndim - n_real)
        else:
            expanded += [("s", None, None, None)] * (self.ndim - n_real)
        offset, shape, strides, dim = self.offset, [], [], 0
        for item in expanded:
            if item is None:
                shape.append(1)
                strides.append(0)
                continue
            size, stride = self.shape[dim], self.strides[dim]
            if isinstance(item, tuple) and any(isinstance(v, SymInt) for v in (size,) + tuple(item[1:])):
                start, n, step = _sym_slice(size, *item[1:])
                offset += start * stride
                shape.append(n)
                strides.append(stride * step)
            elif isinstance(item, tuple):
                start, stop, step = slice(*item[1:]).indices(size)
                n = len(range(start, stop, step))
                offset += start * stride if n else 0
                shape.append(n)
                strides.append(stride * step)
            elif isinstance(size, SymInt) or isinstance(item, SymInt):
                if not (-size <= item < size):  # a guard: sizes where eager raises IndexError recompile
                    raise SymbolicUnsupported(f"index {item} out of range for the symbolic size {size!r}")
                offset += (item if item >= 0 else item + size) * stride
            else:
                offset += (item % size) * stride
            dim += 1
        return Buf(self.arena, offset, tuple(shape), tuple(strides), self.dtype)

    def diagonal(self, offset: int, axis1: int, axis2: int) -> "Buf":
        """``np.diagonal``'s view: the two axes removed, their diagonal appended."""
        a1, a2 = axis1 % self.ndim, axis2 % self.ndim
        s1, s2 = self.shape[a1], self.shape[a2]
        n = max(0, min(s1, s2 - offset) if offset >= 0 else min(s1 + offset, s2))
        start = (offset * self.strides[a2] if offset >= 0 else -offset * self.strides[a1]) if n else 0
        keep = [d for d in range(self.ndim) if d not in (a1, a2)]
        return Buf(self.arena, self.offset + start, tuple(self.shape[d] for d in keep) + (n,),
                   tuple(self.strides[d] for d in keep) + (self.strides[a1] + self.strides[a2],), self.dtype)

    def broadcast_to(self, shape: tuple[int, ...]) -> "Buf":
        lead = len(shape) - self.ndim
        strides = [0] * lead + [st if s == t else 0 for s, t, st in zip(self.shape, shape[lead:], self.strides)]
        return Buf(self.arena, self.offset, tuple(shape), tuple(strides), self.dtype)

    def with_arena(self, arena: str, offset: int) -> "Buf":
        return Buf(arena, offset, self.shape, self.strides, self.dtype)


def _int(v):  # noqa: ANN001, ANN202
    return v if isinstance(v, SymInt) else int(v)


def _sym_slice(size, start, stop, step):  # noqa: ANN001, ANN202
    """(start, length, step) of a slice over a symbolic size; comparisons become guards."""
    if step == -1:
        def back(v, default):  # noqa: ANN001, ANN202
            if v is None:
                return default
            if v < 0:
                v = v + size
                return v if v >= 0 else -1
            return v if v <= size - 1 else size - 1

        lo, hi = back(start, size - 1), back(stop, -1)
        return lo, (lo - hi if lo > hi else 0), -1
    if step not in (None, 1):
        raise SymbolicUnsupported(f"slice with step {step} over the symbolic size {size!r}")

    def clamp(v, default):  # noqa: ANN001, ANN202
        if v is None:
            return default
        if v < 0:
            v = v + size
            return v if v >= 0 else 0
        return v if v <= size else size

    lo, hi = clamp(start, 0), clamp(stop, size)
    return lo, (hi - lo if hi >= lo else 0), 1


def collapse(shape: tuple[int, ...], *stride_sets: tuple[int, ...]) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """Merge adjacent dimensions that are contiguous with each other in every operand; drop size-1 dims.

    Returns the collapsed shape and each operand's strides for it (at least one dim)."""
    dims = [(s, [st[d] for st in stride_sets]) for d, s in enumerate(shape) if s != 1]
    merged: list[tuple[int, list[int]]] = []
    for s, sts in dims:
        if merged:
            ps, psts = merged[-1]
            if all(p == st * s for p, st in zip(psts, sts)):
                merged[-1] = (ps * s, sts)
                continue
        merged.append((s, list(sts)))
    if not merged:
        merged = [(1, [0] * len(stride_sets))]
    out_shape = tuple(m[0] for m in merged)
    out_strides = [tuple(m[1][k] for m in merged) for k in range(len(stride_sets))]
    return out_shape, out_strides


def pad_dims(shape: tuple[int, ...], strides: list[tuple[int, ...]], ndim: int = MAX_DIMS
             ) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """Left-pad a collapsed iteration space to exactly ``ndim`` dims (size 1, stride 0)."""
    pad = ndim - len(shape)
    return (1,) * pad + shape, [(0,) * pad + st for st in strides]
