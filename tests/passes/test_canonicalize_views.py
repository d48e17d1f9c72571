"""canonicalize_views: a transpose that only moves size-1 dimensions becomes a reshape; reshape chains collapse;
transposes that reorder real dimensions, and symbolic shapes, stay."""
from __future__ import annotations

import numpy as np

from ..ir.build import Builder, assert_structurally_equal
from ..trace.util import rand
from .util import assert_same_numerics, run_pass


def test_unit_dim_transpose_becomes_reshape() -> None:
    b = Builder()
    x = b.input((1, 5, 3))
    b.output(b.op("relu", b.op("transpose", x, axes=(1, 0, 2))))
    result = run_pass("canonicalize_views", b.graph)
    assert result.changed
    e = Builder()
    e.output(e.op("relu", e.op("reshape", e.input((1, 5, 3)), shape=(5, 1, 3))))
    assert_structurally_equal(result.graph, e.graph)
    assert_same_numerics(b.graph, result.graph, None, rand(1, 5, 3))


def test_reshape_chain_collapses() -> None:
    b = Builder()
    x = b.input((4, 6))
    v = b.op("transpose", b.op("reshape", x, shape=(1, 24)), axes=(1, 0))  # (24, 1): a reshape of a reshape
    b.output(b.op("reshape", v, shape=(2, 12)))
    result = run_pass("canonicalize_views", b.graph)
    e = Builder()
    e.output(e.op("reshape", e.input((4, 6)), shape=(2, 12)))
    assert_structurally_equal(run_pass("dce", result.graph).graph, e.graph)
    assert_same_numerics(b.graph, result.graph, None, rand(4, 6))


def test_real_transposes_stay() -> None:
    b = Builder()
    x = b.input((2, 1, 3))
    b.output(b.op("transpose", x, axes=(2, 1, 0)))  # swaps the two real dims
    result = run_pass("canonicalize_views", b.graph)
    assert not result.changed
    assert [n.target for n in result.graph.ops()] == ["transpose"]


def test_transposed_strided_input_keeps_its_values() -> None:
    # a size-1 move of a view that is itself not contiguous: the reshape must read the same elements
    b = Builder()
    x = b.input((3, 1, 4))
    v = b.op("transpose", x, axes=(2, 1, 0))  # (4, 1, 3): strided
    b.output(b.op("transpose", v, axes=(1, 0, 2)))  # moves only the size-1 dim
    result = run_pass("canonicalize_views", b.graph)
    assert [n.target for n in result.graph.ops()] == ["transpose", "reshape"]
    assert_same_numerics(b.graph, result.graph, None, np.arange(12, dtype=np.float32).reshape(3, 1, 4))
