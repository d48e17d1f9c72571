"""Dynamic (symbolic-shape) specializations of a compiled module (``nngraph.compile(dynamic=...)``, target="cpu").

Which dims become symbolic (:func:`dynamic_dims`), building one specialization that serves every size >= 2 of them
(:func:`specialize_dynamic`: trace at neighbouring sizes, optimize and lower at two hints, require the same program
and guards), and the per-call check of the recorded guards (:class:`SymbolicSignature`). See docs/runtime.md.
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ir.pytree import flatten
from ..ir.symbolic import MIN_SIZE, SymbolicUnsupported, check_guard, describe_guard, recording
from ..passes.optimize import OptimizeResult
from .executor import CpuExecutable


class DynamicShapeWarning(UserWarning):
    """A dynamic (symbolic-shape) specialization could not be built: static per-shape specializations are used."""


class DynamicFallback(Exception):
    """Raised when a dynamic specialization cannot be built; the caller falls back to static ones."""

    def __init__(self, message: str, quiet: bool = False, local: bool = False) -> None:
        super().__init__(message)
        self.quiet = quiet  # an expected case (a size equal to a static size of the model): no warning
        self.local = local  # specific to these sizes: other sizes may still compile dynamically


@dataclass


class SymbolicSignature:
    """The guards of a dynamic specialization: per input leaf (ndim, dtype, per dim an int or a symbol), the symbol
    display names, and the guards recorded while optimizing/lowering (checked on every call)."""

    struct: tuple  # (input tree key, hooked modules)
    leaves: list[tuple[int, str, tuple]]
    names: dict[str, str]
    guards: tuple

    def match(self, struct: tuple, leaves: list[Any]) -> dict[str, int] | None:
        """The symbol values for this call, or None when a guard fails."""
        if struct != self.struct or len(leaves) != len(self.leaves):
            return None
        env: dict[str, int] = {}
        for v, (ndim, dtype, dims) in zip(leaves, self.leaves):
            if not isinstance(v, np.ndarray) or v.ndim != ndim or v.dtype.str != dtype:
                return None
            for size, want in zip(v.shape, dims):
                if isinstance(want, str):
                    if size < MIN_SIZE or env.setdefault(want, size) != size:
                        return None
                elif size != want:
                    return None
        if not all(check_guard(g, env) for g in self.guards):
            return None
        return env

    def describe(self) -> str:
        dims = ", ".join("(" + ", ".join(self.names.get(d, d) if isinstance(d, str) else str(d) for d in dims) + ")"
                         for _, _, dims in self.leaves)
        guards = "; ".join(describe_guard(g, self.names) for g in self.guards)
        return f"inputs {dims}" + (f" where {guards}" if guards else "")


def dynamic_dims(cm: Any, key: tuple, args: tuple, kwargs: dict, leaves: list[np.ndarray]
                  ) -> dict[tuple[int, int], str]:
    """(leaf index, dim) -> symbol name of the dims this call makes symbolic (sizes >= 2 only).

    ``dynamic=True`` (automatic): the dims that differ from a compiled static specialization with the same
    structure, ranks and dtypes; dims whose sizes were equal in both calls share one symbol. A dict: the dims it
    names, from the first call on."""
    dyn = cm._options.dynamic
    dims: dict[tuple[int, int], str] = {}
    if dyn is True:
        sig = [(v.ndim, v.dtype.str) for v in leaves]
        for other in cm._specializations:
            if other[0] != key[0] or other[2] != key[2] or \
                    [(len(k[0]), k[1]) if len(k) == 2 else None for k in other[1]] != sig:
                continue
            pairs: dict[tuple[int, int], str] = {}
            for i, (k, v) in enumerate(zip(other[1], leaves)):
                for d, (a, b) in enumerate(zip(k[0], v.shape)):
                    if a != b and a >= MIN_SIZE and b >= MIN_SIZE:
                        dims[(i, d)] = pairs.setdefault((a, b), f"s{len(pairs)}")
            if dims:
                break
        return dims
    try:
        signature = inspect.signature(cm._original.forward)
        names = list(signature.bind(*args, **kwargs).arguments)
        params = signature.parameters
    except (TypeError, ValueError):
        names, params = [], {}
    var_kw = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values())
    for arg_key, spec in dyn.items():
        if isinstance(arg_key, str) and params and arg_key not in params and not var_kw:
            raise ValueError(f"nngraph.compile(dynamic=...): {cm._get_name()}.forward has no parameter "
                             f"{arg_key!r}; expected one of {list(params)} or a positional index")
        if isinstance(arg_key, int):
            if not 0 <= arg_key < len(args):
                continue
            position = ("args", arg_key)
        elif arg_key in kwargs:
            position = ("kwargs", arg_key)
        elif arg_key in names and names.index(arg_key) < len(args):
            position = ("args", names.index(arg_key))
        else:
            continue
        value = args[position[1]] if position[0] == "args" else kwargs[position[1]]
        if not isinstance(value, np.ndarray):
            continue
        leaf = _leaf_index(args, kwargs, position)
        for d, name in dict(spec).items():
            d = d + value.ndim if d < 0 else d
            if 0 <= d < value.ndim and value.shape[d] >= MIN_SIZE:
                dims[(leaf, d)] = str(name)
    return dims


def specialize_dynamic(cm: Any, key: tuple, args: tuple, kwargs: dict, leaves: list[np.ndarray],
                       dims: dict[tuple[int, int], str]) -> tuple:
    """Trace with ``dims`` symbolic, optimize and lower at two hints, and require the same program and guards
    (a size that escaped into a plain integer changes the code): (optimize result, executable, output tree,
    signature); raises ``DynamicFallback``."""
    from ..trace.dynamic import NotShapePolymorphic, symbolic_trace

    opts = cm._options
    internal_of = {name: f"dyn{i}" for i, name in enumerate(dict.fromkeys(dims.values()))}
    internal = {k: internal_of[v] for k, v in dims.items()}
    names = {v: k for k, v in internal_of.items()}
    try:
        traced, base = symbolic_trace(cm._original, args, kwargs, internal, opts.fullgraph)
    except NotShapePolymorphic as e:
        raise DynamicFallback(str(e)) from None
    except Exception as e:  # noqa: BLE001 -- forward fails at the neighbouring sizes (seq + 1 > max_position)
        raise DynamicFallback(f"tracing at the neighbouring sizes failed ({type(e).__name__}: {e})", quiet=True,
                               local=True) from None
    symbols = tuple(base)
    first, attempts = None, []
    # The alternative hint only detects sizes that escaped into plain integers; one next to a static size of
    # the model (``batch == 4`` vs 4 LSTM states) flips an equality guard, so a few are tried.
    for step in (1, 2, 5, 11):
        runs = _probe(cm, traced, base, {s: v + step for s, v in base.items()}, symbols, first)
        first = runs[0]
        attempts.append(runs)
        (g1, p1, guards1, stats), (_, p2, guards2, _) = runs
        if set(guards1) == set(guards2):
            break
    else:
        (g1, p1, guards1, stats), (_, p2, guards2, _) = attempts[0]
    if p1.source != p2.source or _arenas_key(p1) != _arenas_key(p2) or set(guards1) != set(guards2) or \
            repr(p1.outputs) != repr(p2.outputs) or _host_steps(p1) != _host_steps(p2):
        # An equality holding at the call's sizes flipped: a size equal to a static size of the model (batch 4
        # next to 4 LSTM states); this size gets a static specialization, silently.
        quiet = any(g[1] == "==" and g[2] for g in set(guards1) - set(guards2))
        raise DynamicFallback(_first_difference(p1, p2, guards1, guards2), quiet,
                               local=set(guards1) != set(guards2))
    exe = CpuExecutable(g1, cm._original, use_cache=opts.cache, extra_key="dynamic", symbols=symbols)
    leaf_sig = [(v.ndim, v.dtype.str, tuple(internal.get((i, d), v.shape[d]) for d in range(v.ndim)))
                for i, v in enumerate(leaves)]
    sig = SymbolicSignature((key[0], key[2]), leaf_sig, names, guards1)
    return OptimizeResult(traced, g1, stats), exe, g1.output.attrs["tree"], sig


def _probe(cm: Any, traced: Any, base: dict, alt: dict, symbols: tuple, first: Any) -> list:
    """Optimize and lower ``traced`` at the hints ``base`` (reusing ``first``) and ``alt``: (graph, program,
    guards, stats) for each."""
    from ..backends.cpu import codegen
    from ..passes.base import PassContext
    from ..passes.manager import PassManager, resolve_pipeline
    from ..trace.dynamic import rehint, thaw_symbolic_weights

    opts = cm._options
    runs = [first] if first is not None else []
    for env in ((alt,) if first is not None else (base, alt)):
        graph = traced if env is base else rehint(traced, env)
        try:
            with recording() as rec:
                manager = PassManager(resolve_pipeline(opts.passes, opts.disable, False),
                                      PassContext(training=False, root=cm._original))
                optimized = thaw_symbolic_weights(manager.run(graph.copy()))
                program = codegen.generate(optimized, symbols)
        except Exception as e:  # noqa: BLE001 -- a pass or lowering that cannot take symbolic sizes
            cause = e.__cause__ if isinstance(e.__cause__, SymbolicUnsupported) else e
            raise DynamicFallback(f"{type(cause).__name__}: {cause}") from None
        runs.append((optimized, program, tuple(rec.guards), manager.stats))
    return runs


def _leaf_index(args: tuple, kwargs: dict, position: tuple) -> int:
    """Index among the flattened input leaves of the top-level argument at ``position``."""
    marked = np.empty(0)
    a, kw = list(args), dict(kwargs)
    if position[0] == "args":
        a[position[1]] = marked
    else:
        kw[position[1]] = marked
    leaves, _ = flatten((tuple(a), kw), lambda v: isinstance(v, np.ndarray))
    return next(i for i, v in enumerate(leaves) if v is marked)


def _arenas_key(program: Any) -> str:
    return re.sub(r" at 0x[0-9a-f]+", "", repr(program.arenas))  # derived-weight transforms may be closures


def _host_steps(program: Any) -> list[str]:
    return [repr((s.host.describe(), s.host_args, s.host_outs)) for s in program.segments if not isinstance(s, str)]


def _first_difference(p1: Any, p2: Any, guards1: tuple, guards2: tuple) -> str:
    """Why two programs generated at different hints differ (a size escaped into a plain integer)."""
    if set(guards1) != set(guards2):
        flipped = [describe_guard(g) for g in guards1 if g not in guards2] + \
            [describe_guard(g) for g in guards2 if g not in guards1]
        return f"a size-dependent decision changes between sizes (guards {', '.join(flipped[:4])})"
    for a, b in zip(p1.source.splitlines(), p2.source.splitlines()):
        if a != b:
            return f"the generated code depends on a concrete size: {a.strip()[:160]!r}"
    for a, b in zip(_host_steps(p1), _host_steps(p2)):
        if a != b:
            return f"a host step depends on a concrete size: {a[:160]}"
    if repr(p1.outputs) != repr(p2.outputs):
        return f"the outputs depend on a concrete size: {p1.outputs!r:.200}"
    return f"the workspace layout depends on a concrete size: {p1.arenas!r:.300}"
