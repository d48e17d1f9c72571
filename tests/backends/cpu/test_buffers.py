"""``Buf`` view arithmetic against numpy: a reshape is a view exactly where numpy's is, over the same elements."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nngraph.backends.cpu.buffers import Buf


@st.composite
def strided_views(draw: st.DrawFn) -> tuple[np.ndarray, tuple[int, ...]]:
    """A sliced/transposed view of a larger array, and a new shape of the same size."""
    nd = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=nd, max_size=nd)))
    base = np.arange(int(np.prod([2 * s + 1 for s in shape]))).reshape([2 * s + 1 for s in shape])
    index = tuple(slice(draw(st.integers(0, 1)), None, draw(st.integers(1, 2))) for _ in shape)
    view = base[index][tuple(slice(0, s) for s in shape)]
    view = view.transpose(draw(st.permutations(range(nd))))
    factors = []
    n = view.size
    for p in (2, 3, 5, 7):
        while n % p == 0:
            factors.append(p)
            n //= p
    factors = draw(st.permutations(factors))
    new: list[int] = [1]
    for f in factors:
        if draw(st.booleans()):
            new[-1] *= f
        else:
            new.append(f)
    if draw(st.booleans()):
        new.insert(draw(st.integers(0, len(new))), 1)
    return view, tuple(new)


def _buf(view: np.ndarray) -> Buf:
    base = view.base if view.base is not None else view
    offset = (view.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // view.itemsize
    return Buf("x", offset, view.shape, tuple(s // view.itemsize for s in view.strides), view.dtype)


@settings(max_examples=400, deadline=None)
@given(strided_views())
def test_reshape_views_where_numpy_does(case: tuple[np.ndarray, tuple[int, ...]]) -> None:
    view, new = case
    got = _buf(view).reshape(new)
    try:
        expected = view.view()
        expected.shape = new  # numpy raises where the reshape would need a copy
    except AttributeError:
        assert got is None, (view.shape, view.strides, new)
        return
    assert got is not None, (view.shape, view.strides, new)
    flat = (view.base if view.base is not None else view).reshape(-1)
    picked = np.lib.stride_tricks.as_strided(flat[got.offset:], got.shape,
                                             tuple(s * flat.itemsize for s in got.strides))
    np.testing.assert_array_equal(picked, expected)


def test_split_of_a_sliced_last_dim_is_a_view() -> None:
    # attention's head split: proj[..., :e].reshape(L, N, H, D) of a (L, N, 3E) projection
    b = Buf.dense("x", 0, (5, 2, 12), np.dtype(np.float32)).index((("s", None, None, None), ("s", None, None, None),
                                                                    ("s", 4, 8, None)))
    v = b.reshape((5, 2, 2, 2))
    assert v is not None and v.offset == 4 and v.strides == (24, 12, 2, 1)
    assert b.transpose((1, 0, 2)).reshape((10, 4)) is None  # merging dims that are not evenly strided copies
