"""decompose_einsum: any einsum (1-3 operands, repeated labels, ellipsis, implicit output) becomes diagonal views,
sums and two-operand contractions; compiled results match numpy.einsum with no host steps."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nngraph
from nngraph import nn
from nngraph.passes.decompose_einsum import lowered_form, parse

SIZES = {"a": 2, "b": 3, "c": 4, "d": 2, "e": 3}


class Einsum(nn.Module):
    def __init__(self, equation: str) -> None:
        super().__init__()
        self.equation = equation

    def forward(self, *xs: np.ndarray) -> np.ndarray:
        return np.einsum(self.equation, *xs)


def _run(equation: str, shapes: list[tuple[int, ...]], dtype: Any = np.float32) -> nngraph.CompiledModule:
    rng = np.random.default_rng(abs(hash((equation, tuple(shapes)))) % 2**32)
    xs = [rng.standard_normal(s).astype(dtype) for s in shapes]
    model = Einsum(equation).eval()
    compiled = nngraph.compile(model)
    got = compiled(*xs)
    want = np.einsum(equation, *(x.astype(np.float64) for x in xs))
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert np.shape(got) == np.shape(want) and np.asarray(got).dtype == dtype
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    return compiled


def _host_steps(compiled: Any) -> int:
    return compiled.specializations[0].executable.n_host_steps


@pytest.mark.parametrize("equation,shapes", [
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),  # trace (implicit output: nothing)
    ("iij->j", [(3, 3, 2)]),
    ("bij->bji", [(2, 3, 4)]),
    ("bij->j", [(2, 3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("bij,bjk,kl->bil", [(2, 3, 4), (2, 4, 5), (5, 3)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,jk", [(2, 2, 3, 4), (4, 5)]),  # implicit output with ellipsis
    ("ba,ab", [(3, 2), (2, 3)]),  # implicit output: nothing left, a full contraction
    ("ij,j", [(3, 4), (4,)]),
    ("i,i->", [(5,), (5,)]),
    ("ij,kl->ijkl", [(2, 3), (2, 2)]),  # outer product
    ("iij,jk->ik", [(3, 3, 4), (4, 2)]),  # a diagonal, then a contraction
    ("ijk,ik->j", [(2, 3, 4), (2, 4)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]),  # already lowered: left alone
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_equations(equation: str, shapes: list[tuple[int, ...]], dtype: Any) -> None:
    compiled = _run(equation, shapes, dtype)
    assert _host_steps(compiled) == 0
    assert all(lowered_form(parse(n.attrs["equation"], [compiled.specializations[0].result.graph[a].spec.ndim
                                                       for a in n.args]))
               for n in compiled.specializations[0].result.graph.ops("einsum"))


def test_parse_expands_ellipsis_and_implicit_output() -> None:
    eq = parse("...ij,...jk", [4, 3])
    assert eq is not None
    (a, b), out = eq.terms, eq.out
    assert a[2:] == "ij" and b[1:] == "jk" and b[0] == a[1]  # right-aligned ellipsis labels
    assert out == a[:2] + "ik"  # ellipsis first, then the labels used once in numpy's (sorted) order
    assert parse("ba", [2]).out == "ab" and parse("Ba", [2]).out == "Ba"
    assert parse("ij,jk->ik", [2, 3]) is None  # wrong rank
    assert parse("ij->ii", [2]) is None  # repeated output label


def test_broadcast_labels_and_integers() -> None:
    for eq, shapes in [("...ij,...jk->...ik", [(1, 3, 4), (2, 4, 5)]),  # the ellipsis dims broadcast 1 -> 2
                       ("...ij,...jk", [(2, 1, 3, 4), (3, 4, 5)]),
                       ("bij,bjk,bkl->bil", [(1, 2, 3), (2, 3, 4), (1, 4, 2)])]:
        assert _host_steps(_run(eq, shapes)) == 0
    xs = [np.arange(9, dtype=np.int32).reshape(3, 3)]
    compiled = nngraph.compile(Einsum("ii->").eval())
    assert compiled(*xs) == np.einsum("ii->", *xs) and compiled(*xs).dtype == np.int32
    assert [n.target for n in compiled.specializations[0].result.graph.ops()] == ["einsum"]


@st.composite
def equations(draw: st.DrawFn) -> tuple[str, list[tuple[int, ...]]]:
    n = draw(st.integers(1, 3))
    labels = "abcde"
    terms = [draw(st.lists(st.sampled_from(labels), min_size=0, max_size=3)) for _ in range(n)]
    ell = draw(st.booleans())
    ell_shape = tuple(draw(st.lists(st.integers(2, 3), min_size=0, max_size=2))) if ell else ()
    shapes, parts = [], []
    for t in terms:
        with_ell = ell and draw(st.booleans())
        ell_dims = tuple(n if draw(st.booleans()) else 1 for n in ell_shape)  # size 1 broadcasts
        shapes.append((ell_dims if with_ell else ()) + tuple(SIZES[c] for c in t))
        parts.append(("..." if with_ell else "") + "".join(t))
    used = sorted(set("".join("".join(t) for t in terms)))
    if draw(st.booleans()):
        out = draw(st.permutations(used)).copy()
        out = out[:draw(st.integers(0, len(out)))]
        rhs = ("..." if ell and any("..." in p for p in parts) else "") + "".join(out)
        return ",".join(parts) + "->" + rhs, shapes
    return ",".join(parts), shapes


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(equations())
def test_random_equations(case: tuple[str, list[tuple[int, ...]]]) -> None:
    equation, shapes = case
    compiled = _run(equation, shapes, np.float64)
    assert _host_steps(compiled) == 0
