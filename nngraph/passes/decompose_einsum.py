"""Rewrite every einsum into the one form the backends lower: two operands, explicit output, each label once per
operand, nothing summed that only one operand has (a batched GEMM, see ``backends/cpu/lower_sequence.py``).

An equation ``"...ij,jk,kl->...il"`` becomes, in order:

1. the ellipsis replaced by fresh labels (right-aligned over the operands, as numpy broadcasts it) and an implicit
   output made explicit (ellipsis labels, then the labels used once, sorted as numpy sorts them);
2. per operand, a label repeated within it taken as a ``diagonal`` view (``"ii->i"``), and labels that no other
   operand and not the output has summed away (``sum``);
3. the operands contracted left to right by two-operand einsums, each keeping the labels needed later.

A label of size 1 in one operand and larger in another broadcasts (numpy's rule for ellipsis dimensions): it is
reshaped away from the operand where it has size 1. Equations already in the lowered form are left alone, and so
are operands other than float32/float64 of one dtype (``np.sum`` widens integers where einsum keeps the dtype):
those run as the numpy reference. The result matches
``np.einsum`` up to the order of floating-point sums.
"""
from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np

from ..ir.graph import Graph
from ..ir.node import OP, Node
from ..ops.registry import REGISTRY, TensorSpec
from .base import PassContext, PassResult, graph_pass


@dataclass(frozen=True)
class _Equation:
    terms: tuple[str, ...]  # one label string per operand (no ellipsis)
    out: str


def parse(equation: str, ndims: list[int]) -> _Equation | None:
    """``equation`` with the ellipsis expanded and the output explicit; None when malformed for these ranks."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        return None
    used = set(eq) - set(".,->")
    if not all(c in string.ascii_letters for c in used):
        return None
    fresh = [c for c in string.ascii_letters if c not in used]
    n_ell = [nd - (len(t) - 3) if "..." in t else 0 for t, nd in zip(terms, ndims)]
    if any(n < 0 for n in n_ell) or max(n_ell, default=0) > len(fresh):
        return None
    width = max(n_ell, default=0)
    ell = "".join(fresh[:width])
    terms = [t.replace("...", ell[width - n:]) for t, n in zip(terms, n_ell)]
    if any(len(t) != nd for t, nd in zip(terms, ndims)):
        return None
    if arrow:
        out = out.replace("...", ell)
    else:
        counts = "".join(terms)
        out = ell + "".join(sorted(c for c in set(counts) if counts.count(c) == 1 and c not in ell))
    if len(set(out)) != len(out) or any(c not in "".join(terms) for c in out):
        return None
    return _Equation(tuple(terms), out)


def lowered_form(eq: _Equation) -> bool:
    """Two operands, each label once per operand, no label summed over one operand only."""
    if len(eq.terms) != 2:
        return False
    a, b = eq.terms
    if len(set(a)) != len(a) or len(set(b)) != len(b):
        return False
    return all(c in eq.out or (c in a and c in b) for c in set(a + b))


@graph_pass("decompose_einsum")
def decompose_einsum(graph: Graph, ctx: PassContext) -> PassResult:
    changed = False
    for node in graph.ops("einsum"):
        specs = [graph[a].spec for a in node.args]
        if not all(isinstance(s, TensorSpec) and s.dtype in (np.float32, np.float64) and s.dtype == specs[0].dtype
                   for s in specs):
            continue
        eq = parse(node.attrs["equation"], [s.ndim for s in specs])
        if eq is None or (lowered_form(eq) and eq.terms[0] + "," + eq.terms[1] + "->" + eq.out ==
                          node.attrs["equation"].replace(" ", "")):
            continue
        result = _rewrite(graph, node, eq, specs)
        if result is not None:
            graph.replace_all_uses(node.name, result)
            graph.erase(node.name)
            changed = True
    return PassResult(graph, changed)


def _rewrite(graph: Graph, node: Node, eq: _Equation, specs: list[TensorSpec]) -> str | None:
    """The name of the value computing ``node`` in lowered steps (module docstring), or None (left as it is)."""
    sizes: dict[str, int] = {}
    for t, s in zip(eq.terms, specs):
        for c, n in zip(t, s.shape):
            if sizes.get(c, 1) == 1:
                sizes[c] = n
            elif n not in (1, sizes[c]):
                return None  # numpy raises
    if eq.terms == (eq.out,):
        return node.args[0]  # the identity (a graph output that is an input is copied by the backends)
    # a label of size 1 where another operand has it larger broadcasts: drop it from that operand
    args, terms = list(node.args), list(eq.terms)
    for k, (t, s) in enumerate(zip(eq.terms, specs)):
        drop = {p for p, (c, n) in enumerate(zip(t, s.shape)) if n == 1 and sizes[c] != 1}
        if drop:
            args[k] = _add(graph, node, "reshape", [args[k]],
                           shape=tuple(n for p, n in enumerate(s.shape) if p not in drop))
            terms[k] = "".join(c for p, c in enumerate(t) if p not in drop)
    eq = _Equation(tuple(terms), eq.out)
    if lowered_form(eq):
        return _add(graph, node, "einsum", args, equation=f"{eq.terms[0]},{eq.terms[1]}->{eq.out}")
    operands: list[tuple[str, str]] = []  # (node name, labels)
    for k, (name, term) in enumerate(zip(args, eq.terms)):
        others = eq.out + "".join(t for j, t in enumerate(eq.terms) if j != k)
        operands.append(_reduce_operand(graph, node, name, term, others))
    name, term = operands[0]
    for k in range(1, len(operands)):
        rhs, rterm = operands[k]
        last = k == len(operands) - 1
        later = eq.out + "".join(t for _, t in operands[k + 1:])
        keep = eq.out if last else "".join(dict.fromkeys(c for c in term + rterm if c in later))
        name = _add(graph, node, "einsum", [name, rhs], equation=f"{term},{rterm}->{keep}")
        term = keep
    if term != eq.out:  # one operand: its labels in the output order
        name = _add(graph, node, "transpose", [name], axes=tuple(term.index(c) for c in eq.out))
    return name


def _reduce_operand(graph: Graph, node: Node, name: str, term: str, others: str) -> tuple[str, str]:
    """Diagonals of repeated labels, then sums over labels no one else has."""
    while len(set(term)) != len(term):
        c = next(c for c in term if term.count(c) > 1)
        i = term.index(c)
        j = term.index(c, i + 1)
        name = _add(graph, node, "diagonal", [name], offset=0, axis1=i, axis2=j)
        term = "".join(x for p, x in enumerate(term) if p not in (i, j)) + c
    alone = tuple(p for p, c in enumerate(term) if c not in others)
    if alone:
        name = _add(graph, node, "sum", [name], axis=alone, keepdims=False)
        term = "".join(c for p, c in enumerate(term) if p not in alone)
    return name, term


def _add(graph: Graph, node: Node, target: str, args: list[str], **attrs: object) -> str:
    spec = REGISTRY[target].shape(*(graph[a].spec for a in args), **attrs)
    new = graph.add(OP, target, args, attrs, node.meta.with_(spec=spec, fused_from=(node.name,)),
                    name=f"{node.name}_{target}")
    return new.name
