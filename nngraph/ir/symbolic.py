"""Symbolic integers for dynamic shapes: ``SymInt`` is an integer polynomial over named size symbols.

A ``SymInt`` is an ``int`` subclass whose integer value is its *hint* (the value at the sizes it was created for), so
code that does not know about symbols keeps working. Arithmetic with ints and other ``SymInt`` stays symbolic
(``+ - *``, exact ``//`` and ``%``); equality and hashing are structural. Comparisons whose result is not provable
for every symbol value >= 2 are decided on the hint and recorded as a *guard* in the active ``GuardRecorder``; the
runtime checks the guards on every call. A value that escapes to a plain int (``int()``, C-level numpy
conversions) silently specializes on the hint: ``nngraph.runtime`` detects that by generating the program at two
hints and requiring identical code.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

Terms = tuple  # ((monomial: tuple[str, ...] (sorted symbol names, with repeats), coefficient: int), ...) sorted
MIN_SIZE = 2  # symbolic sizes are assumed >= 2 (sizes 0 and 1 get static specializations)


class SymbolicUnsupported(Exception):
    """A computation needs a concrete value of a symbolic size: the specialization falls back to static shapes."""


def _norm(acc: dict) -> Terms:
    return tuple(sorted((m, c) for m, c in acc.items() if c != 0))


def _terms_of(v: Any) -> Terms | None:
    if isinstance(v, SymInt):
        return v._terms
    if isinstance(v, (bool,)):
        return None
    if isinstance(v, int) or (hasattr(v, "dtype") and getattr(v, "ndim", 1) == 0 and v.dtype.kind in "iu"):
        return _norm({(): int(v)})
    return None


def _evaluate(terms: Terms, env: dict[str, int]) -> int:
    total = 0
    for mono, c in terms:
        p = c
        for s in mono:
            p *= env[s]
        total += p
    return total


def _make(terms: Terms, env: dict) -> "int | SymInt":
    if all(m == () for m, _ in terms):
        return sum(c for _, c in terms)
    return SymInt._new(terms, env)


class GuardRecorder:
    """Collects guards: (terms of a - b, relation, expected) with relation in ('>', '>=', '==')."""

    def __init__(self) -> None:
        self.guards: dict[tuple, None] = {}

    def add(self, terms: Terms, rel: str, expected: bool) -> None:
        self.guards[(terms, rel, expected)] = None


_LOCAL = threading.local()  # per thread: the active recorders (compilations in other threads are independent)


def _recorders() -> list[GuardRecorder]:
    stack = getattr(_LOCAL, "stack", None)
    if stack is None:
        stack = _LOCAL.stack = []
    return stack


@contextlib.contextmanager
def recording() -> Iterator[GuardRecorder]:
    """Collect the guards of the comparisons made in this block (this thread)."""
    rec = GuardRecorder()
    _recorders().append(rec)
    try:
        yield rec
    finally:
        _recorders().pop()


def check_guard(guard: tuple, env: dict[str, int]) -> bool:
    terms, rel, expected = guard
    v = _evaluate(terms, env)
    got = v > 0 if rel == ">" else v >= 0 if rel == ">=" else v == 0
    return got == expected


def describe_guard(guard: tuple, names: dict[str, str] | None = None) -> str:
    terms, rel, expected = guard
    text = _text(terms, names)
    op = {(">", True): ">", (">", False): "<=", (">=", True): ">=", (">=", False): "<", ("==", True): "==",
          ("==", False): "!="}[(rel, expected)]
    return f"{text} {op} 0"


def _bounds_sign(terms: Terms) -> tuple[int | None, int | None]:
    """(lower, upper) bound of the polynomial over symbols >= MIN_SIZE when it is monotone, else None."""
    const = sum(c for m, c in terms if m == ())
    var = [(m, c) for m, c in terms if m != ()]
    at_min = const + sum(c * MIN_SIZE ** len(m) for m, c in var)
    lo = at_min if all(c > 0 for _, c in var) else None
    hi = at_min if all(c < 0 for _, c in var) else None
    if not var:
        lo = hi = const
    return lo, hi


def _decide(terms: Terms, rel: str, hint_value: int) -> bool:
    """Decide ``p rel 0`` (p given by terms): provably when possible, else on the hint with a guard."""
    lo, hi = _bounds_sign(terms)
    if rel == ">":
        if lo is not None and lo > 0:
            return True
        if hi is not None and hi <= 0:
            return False
        result = hint_value > 0
    elif rel == ">=":
        if lo is not None and lo >= 0:
            return True
        if hi is not None and hi < 0:
            return False
        result = hint_value >= 0
    else:
        if not terms:
            return True
        if (lo is not None and lo > 0) or (hi is not None and hi < 0):
            return False
        result = hint_value == 0
    stack = _recorders()
    if stack:
        stack[-1].add(terms, rel, result)
    return result


def _text(terms: Terms, names: dict[str, str] | None = None) -> str:
    if not terms:
        return "0"
    parts = []
    for mono, c in sorted(terms, key=lambda t: (-len(t[0]), t[0])):
        factors = [names.get(s, s) if names else s for s in mono]
        if not factors:
            parts.append(str(c))
        elif c in (1, -1):
            parts.append(("-" if c < 0 else "") + "*".join(factors))
        else:
            parts.append("*".join([str(c)] + factors))
    return " + ".join(parts).replace("+ -", "- ")


class SymInt(int):
    """An integer polynomial over size symbols whose int value is its hint (see module docstring)."""

    symbolic = True
    _terms: Terms

    _env: dict

    @classmethod
    def _new(cls, terms: Terms, env: dict) -> "SymInt":
        used = {s for m, _ in terms for s in m}
        env = {k: v for k, v in env.items() if k in used}
        obj = int.__new__(cls, _evaluate(terms, env))
        obj._terms = terms
        obj._env = env
        return obj

    @classmethod
    def symbol(cls, name: str, hint: int) -> "SymInt":
        return cls._new(((((name,), 1),)), {name: int(hint)})

    # -- introspection ------------------------------------------------------------------------------------------------
    @property
    def hint(self) -> int:
        return int.__int__(self)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(sorted({s for m, _ in self._terms for s in m}))

    def evaluate(self, env: dict[str, int]) -> int:
        return _evaluate(self._terms, env)

    def rehint(self, env: dict[str, int]) -> "SymInt":
        return SymInt._new(self._terms, {**self._env, **env})

    def code(self) -> str:
        """Python/Numba source text of the value (symbols are int64 variables of the generated code)."""
        return "(" + _text(self._terms) + ")"

    def __repr__(self) -> str:
        return _text(self._terms)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(int(self), spec) if spec else repr(self)

    def __hash__(self) -> int:
        return hash(("SymInt", self._terms))

    def __reduce__(self) -> Any:
        return (SymInt._new, (self._terms, self._env))

    # -- arithmetic ---------------------------------------------------------------------------------------------------
    def _bin(self, other: Any, op: str, reverse: bool = False) -> Any:
        ot = _terms_of(other)
        if ot is None:
            return NotImplemented
        a, b = (ot, self._terms) if reverse else (self._terms, ot)
        env = {**getattr(other, "_env", {}), **self._env}
        if op == "+":
            acc: dict = {}
            for m, c in a + b:
                acc[m] = acc.get(m, 0) + c
            return _make(_norm(acc), env)
        if op == "-":
            acc = {}
            for m, c in a:
                acc[m] = acc.get(m, 0) + c
            for m, c in b:
                acc[m] = acc.get(m, 0) - c
            return _make(_norm(acc), env)
        if op == "*":
            acc = {}
            for m1, c1 in a:
                for m2, c2 in b:
                    m = tuple(sorted(m1 + m2))
                    acc[m] = acc.get(m, 0) + c1 * c2
            return _make(_norm(acc), env)
        if op in ("//", "%"):
            q = _exact_div(a, b)
            if q is None:
                raise SymbolicUnsupported(f"({_text(a)}) {op} ({_text(b)}) is not an exact division")
            return _make(q, env) if op == "//" else 0
        raise AssertionError(op)

    def __add__(self, o: Any) -> Any: return self._bin(o, "+")
    def __radd__(self, o: Any) -> Any: return self._bin(o, "+", True)
    def __sub__(self, o: Any) -> Any: return self._bin(o, "-")
    def __rsub__(self, o: Any) -> Any: return self._bin(o, "-", True)
    def __mul__(self, o: Any) -> Any: return self._bin(o, "*")
    def __rmul__(self, o: Any) -> Any: return self._bin(o, "*", True)
    def __floordiv__(self, o: Any) -> Any: return self._bin(o, "//")
    def __rfloordiv__(self, o: Any) -> Any: return self._bin(o, "//", True)
    def __mod__(self, o: Any) -> Any: return self._bin(o, "%")
    def __rmod__(self, o: Any) -> Any: return self._bin(o, "%", True)

    def __neg__(self) -> Any:
        return _make(tuple((m, -c) for m, c in self._terms), self._env)

    def __pos__(self) -> "SymInt":
        return self

    def __truediv__(self, o: Any) -> Any:
        raise SymbolicUnsupported(f"true division of the symbolic size {self!r}")

    def __rtruediv__(self, o: Any) -> Any:
        raise SymbolicUnsupported(f"true division by the symbolic size {self!r}")

    def __divmod__(self, o: Any) -> Any:
        return self // o, self % o

    def __pow__(self, o: Any, mod: Any = None) -> Any:
        if mod is None and isinstance(o, int) and not isinstance(o, SymInt) and o >= 0:
            r: Any = 1
            for _ in range(o):
                r = r * self
            return r
        raise SymbolicUnsupported(f"power of the symbolic size {self!r}")

    # -- comparisons --------------------------------------------------------------------------------------------------
    def _cmp(self, other: Any, rel: str, swap: bool) -> Any:
        ot = _terms_of(other)
        if ot is None:
            return NotImplemented
        diff = self._bin(other, "-", reverse=swap)
        terms = _terms_of(diff)
        return _decide(terms, rel, int(diff))

    def __eq__(self, o: Any) -> Any: return self._cmp(o, "==", False)
    def __ne__(self, o: Any) -> Any:
        r = self._cmp(o, "==", False)
        return r if r is NotImplemented else not r
    def __gt__(self, o: Any) -> Any: return self._cmp(o, ">", False)  # self - o > 0
    def __ge__(self, o: Any) -> Any: return self._cmp(o, ">=", False)
    def __lt__(self, o: Any) -> Any: return self._cmp(o, ">", True)  # o - self > 0
    def __le__(self, o: Any) -> Any: return self._cmp(o, ">=", True)

    def __bool__(self) -> bool:
        return self != 0


def _exact_div(a: Terms, b: Terms) -> Terms | None:
    """a / b when b is a single monomial (or a constant) dividing every term of a exactly, else None."""
    if len(b) != 1:  # a sum, or zero
        return None
    (mb, cb), = b
    out: dict = {}
    for m, c in a:
        rest = list(m)
        for s in mb:
            if s not in rest:
                return None
            rest.remove(s)
        if c % cb:
            return None
        out[tuple(rest)] = out.get(tuple(rest), 0) + c // cb
    return _norm(out)


def is_symbolic(v: Any) -> bool:
    return isinstance(v, SymInt)


def prod(values: Any) -> Any:
    """Product of ints/SymInts (1 for an empty sequence), symbolic when any factor is."""
    r: Any = 1
    for v in values:
        r = r * (v if isinstance(v, SymInt) else int(v))
    return r


def evaluate(v: Any, env: dict[str, int]) -> Any:
    """Substitute concrete symbol values into an int, SymInt, or a (nested) tuple/list of them."""
    if isinstance(v, SymInt):
        return v.evaluate(env)
    if isinstance(v, tuple):
        return tuple(evaluate(x, env) for x in v)
    if isinstance(v, list):
        return [evaluate(x, env) for x in v]
    if isinstance(v, dict):
        return {k: evaluate(x, env) for k, x in v.items()}
    return v


def contains_symbols(v: Any) -> bool:
    if isinstance(v, SymInt):
        return True
    if isinstance(v, (tuple, list)):
        return any(contains_symbols(x) for x in v)
    if isinstance(v, dict):
        return any(contains_symbols(x) for x in v.values())
    return False


def align_up(n: Any, align: int) -> Any:
    """Round every positive coefficient up to a multiple of ``align`` and drop negative ones: the result is >= n
    for sizes >= 0 and always a multiple of ``align`` (workspace slots stay aligned at every size)."""
    if not isinstance(n, SymInt):
        return (n + align - 1) // align * align
    # Negative terms are dropped: the result bounds n from above for every size >= 0.
    terms = _norm({m: (c + align - 1) // align * align if c > 0 else 0 for m, c in n._terms})
    return _make(terms, n._env)
