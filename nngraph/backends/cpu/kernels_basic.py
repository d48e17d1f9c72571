"""Generic strided kernels the code generator needs everywhere: copies (materializing views, concatenation,
outputs). Shapes/strides are runtime tuples of MAX_DIMS ints, so one compiled kernel serves every call site."""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .buffers import Buf, collapse, pad_dims
from .kernels.launch import standalone

PARALLEL_MIN = 1 << 16


@njit(cache=True, nogil=True)
def copy_flat(n, src, soff, dst, doff):  # noqa: ANN001, ANN201
    for i in range(n):
        dst[doff + i] = src[soff + i]


@standalone
@njit(cache=True, nogil=True, parallel=True)
def copy_strided(shape, src, soff, sst, dst, doff, dst_st):  # noqa: ANN001, ANN201
    for a in prange(shape[0]):
        for b in range(shape[1]):
            for c in range(shape[2]):
                for d in range(shape[3]):
                    for e in range(shape[4]):
                        s0 = soff + a * sst[0] + b * sst[1] + c * sst[2] + d * sst[3] + e * sst[4]
                        d0 = doff + a * dst_st[0] + b * dst_st[1] + c * dst_st[2] + d * dst_st[3] + e * dst_st[4]
                        for f in range(shape[5]):
                            dst[d0 + f * dst_st[5]] = src[s0 + f * sst[5]]


def emit_copy(em, src: Buf, dst: Buf) -> None:  # noqa: ANN001
    """Emit ``dst[...] = src`` (same shape; any strides; dtype converted by assignment)."""
    if src.size == 0 or src.same_elements(dst):  # a concatenation's argument computed in place
        return
    if src.contiguous and dst.contiguous:
        em.call(copy_flat, src.size, src, dst)
        return
    shape, (sst, dst_st) = collapse(src.shape, src.strides, dst.strides)
    if len(shape) > 6:
        raise NotImplementedError("copy of a view with more than 6 non-contiguous dimensions")
    shape, (sst, dst_st) = pad_dims(shape, [sst, dst_st])
    em.call(copy_strided, shape, src, sst, dst, dst_st)


__all__ = ["copy_flat", "copy_strided", "emit_copy", "np"]
