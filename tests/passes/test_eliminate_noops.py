"""eliminate_noops: reshape/transpose/cast/broadcast_to that change nothing, copies, full slices disappear; a
transpose of a square array (same shape, different array) stays."""
from __future__ import annotations

import numpy as np
import pytest

from ..ir.build import Builder, assert_structurally_equal
from ..trace.util import rand
from .util import assert_same_numerics, run_pass

F32 = np.float32


def test_noops_removed() -> None:
    b = Builder()
    x = b.input((2, 3, 4))
    v = b.op("reshape", x, shape=(2, 3, 4))
    v = b.op("transpose", v, axes=(0, 1, 2))
    v = b.op("cast", v, dtype="<f4")
    v = b.op("copy", v)
    v = b.op("getitem", v, index=(("s", None, None, None), "..."))
    v = b.op("broadcast_to", v, shape=(2, 3, 4))
    b.output(b.op("relu", v))
    before = b.graph
    result = run_pass("eliminate_noops", before)
    assert result.changed
    e = Builder()
    e.output(e.op("relu", e.input((2, 3, 4))))
    assert_structurally_equal(result.graph, e.graph)
    assert_same_numerics(before, result.graph, None, rand(2, 3, 4))


@pytest.mark.parametrize("target,attrs", [
    ("transpose", {"axes": (1, 0, 2)}),  # (3, 3, 4) -> (3, 3, 4): same spec, different array
    ("transpose", {"axes": (0, 2, 1)}),
    ("reshape", {"shape": (3, 4, 3)}),
    ("cast", {"dtype": "<f8"}),
    ("getitem", {"index": (("s", None, None, -1),)}),  # reversed: same spec, different array
    ("getitem", {"index": (("s", 1, None, None),)}),
    ("broadcast_to", {"shape": (2, 3, 3, 4)}),
])
def test_real_data_movement_stays(target: str, attrs: dict) -> None:
    b = Builder()
    x = b.input((3, 3, 4))
    b.output(b.op("relu", b.op(target, x, **attrs)))
    result = run_pass("eliminate_noops", b.graph)
    assert not result.changed
    assert_structurally_equal(result.graph, b.graph)


def test_output_may_become_an_input() -> None:
    b = Builder()
    x = b.input((4,))
    b.output(b.op("copy", x), b.op("relu", x))
    result = run_pass("eliminate_noops", b.graph)
    assert result.graph.output.args[0] == x
    assert_same_numerics(b.graph, result.graph, None, rand(4))


def test_full_overwrite_is_its_value() -> None:
    b = Builder()
    x, v = b.input((2, 3)), b.input((2, 3))
    b.output(b.op("relu", b.op("setitem", x, b.op("exp", v), index=("...",))))
    result = run_pass("eliminate_noops", b.graph)
    e = Builder()
    e.input((2, 3))
    e.output(e.op("relu", e.op("exp", e.input((2, 3)))))
    assert_structurally_equal(result.graph, e.graph)
    assert_same_numerics(b.graph, result.graph, None, rand(2, 3), rand(2, 3, seed=1))


@pytest.mark.parametrize("value_shape,index", [((3,), ("...",)), ((3,), (0,)), ((1, 3), (("s", 1, None, None),))])
def test_partial_or_broadcast_overwrite_stays(value_shape: tuple, index: tuple) -> None:
    b = Builder()
    x = b.input((2, 3))
    v = b.input(value_shape)
    b.output(b.op("setitem", x, v, index=index))
    assert not run_pass("eliminate_noops", b.graph).changed
