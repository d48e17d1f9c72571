"""``nngraph.compile``: a Module that runs its original's forward through compiled specializations.

Semantics (see docs/runtime.md):
- The compiled module shares the original's parameters, buffers, children and hook dictionaries, so state_dict keys,
  parameters(), hooks (registered before or after compile, on the root or any submodule) are the original's.
- One specialization per (input structure, shapes, dtypes, set of hooked submodules); at most
  ``max_specializations`` (default 8), after which new shapes run eagerly with a warning naming the varying dimension.
- Weights: folded values are recomputed lazily after nngraph changes any parameter/buffer (load_state_dict,
  assignment, .to(), nn.init, apply). Raw in-place writes into arrays are not seen: call ``refresh()``.
- Train mode runs the original module eagerly (exact BatchNorm statistics and dropout masks); eval mode is compiled.
- Submodules with forward hooks become eager calls inside the compiled graph, so hooks see the real intermediate
  arrays; nothing is folded or fused across them.
- ``dynamic=`` (target="cpu"): symbolic dimensions, one specialization serving every size >= 2 of them (see
  ``CompiledModule._dynamic_dims`` and docs/runtime.md).
"""
from __future__ import annotations

import inspect
import re
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..ir.pytree import flatten, unflatten
from ..ir.interpreter import module_state
from ..nn._epochs import Epochs
from ..nn.modules import hooks as _hooks
from ..nn.modules.module import Module
from ..passes import optimize
from ..passes.optimize import OptimizeResult
from ..ir.symbolic import MIN_SIZE, SymbolicUnsupported, check_guard, describe_guard, recording
from ..backends.cpu import autotune
from .executor import CpuExecutable

_SHARED = ("_parameters", "_buffers", "_non_persistent_buffers_set", "_modules", "_forward_pre_hooks",
           "_forward_pre_hooks_with_kwargs", "_forward_hooks", "_forward_hooks_with_kwargs",
           "_forward_hooks_always_called")


class SpecializationLimitWarning(UserWarning):
    """More distinct input shapes than ``max_specializations``: the new ones run eagerly."""


class DynamicShapeWarning(UserWarning):
    """A dynamic (symbolic-shape) specialization could not be built: static per-shape specializations are used."""


class _DynamicFallback(Exception):
    def __init__(self, message: str, quiet: bool = False, local: bool = False) -> None:
        super().__init__(message)
        self.quiet = quiet  # an expected case (a size equal to a static size of the model): no warning
        self.local = local  # specific to these sizes: other sizes may still compile dynamically


@dataclass
class CompileOptions:
    target: str = "cpu"
    passes: str | Sequence[str | Callable] = "default"
    disable: tuple = ()
    fullgraph: bool = False
    cache: bool = True
    threads: int | None = None
    dump_dir: str | None = None
    debug: bool = False
    max_specializations: int = 8
    dynamic: Any = False  # False, True (automatic) or {argument name or index: {dim: symbol name}}
    autotune: bool = False  # time the conv algorithms per node (backends/cpu/autotune.py)


@dataclass
class Specialization:
    result: OptimizeResult
    executable: CpuExecutable
    out_tree: Any = None  # how to rebuild the returned structure from the executor's outputs
    symbolic: "SymbolicSignature | None" = None  # dynamic specializations: which inputs it accepts


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


def _is_array(v: Any) -> bool:
    # device arrays for target="cuda" (the CUDA simulator's arrays have no __cuda_array_interface__)
    return isinstance(v, np.ndarray) or hasattr(v, "__cuda_array_interface__") or type(v).__name__ == "FakeCUDAArray"


def _leaf_key(v: Any) -> tuple:
    if isinstance(v, np.ndarray):
        return v.shape, v.dtype.str
    from ..backends.cuda.executor import leaf_key

    return leaf_key(v)


class CompiledModule(Module):
    """The compiled form of a module; behaves like it (see module docstring)."""

    def __init__(self, original: Module, options: CompileOptions) -> None:
        super().__init__()
        for name in _SHARED:
            object.__setattr__(self, name, getattr(original, name))
        object.__setattr__(self, "_original", original)
        object.__setattr__(self, "_options", options)
        object.__setattr__(self, "_specializations", OrderedDict())
        object.__setattr__(self, "_eager_keys", set())
        object.__setattr__(self, "_dynamic_specs", [])
        object.__setattr__(self, "_dynamic_failed", set())
        object.__setattr__(self, "_compile_lock", threading.Lock())
        object.__setattr__(self, "_hooked_cache", (None, ()))
        object.__setattr__(self, "compile_count", 0)

    # -- Module facade ----------------------------------------------------------------------------------------------
    @property
    def training(self) -> bool:  # type: ignore[override]
        return self._original.training

    @training.setter
    def training(self, mode: bool) -> None:
        if "_original" in self.__dict__:
            self._original.training = mode

    @property
    def original(self) -> Module:
        """The uncompiled module (shares every parameter with this one)."""
        return self._original

    def train(self, mode: bool = True) -> "CompiledModule":
        self._original.train(mode)
        return self

    def _get_name(self) -> str:
        return self._original._get_name()

    def __repr__(self) -> str:
        o = self._options
        return f"CompiledModule(target={o.target!r}, specializations={len(self._specializations)}):\n" + \
            repr(self._original)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name.startswith("_") or "_original" not in self.__dict__:
                raise
            return getattr(self.__dict__["_original"], name)

    @property
    def specializations(self) -> list[Specialization]:
        return list(self._specializations.values()) + list(self._dynamic_specs)

    def refresh(self) -> None:
        """Recompute folded weights now (after raw in-place writes into parameter arrays)."""
        state = module_state(self._original)
        for spec in self.specializations:
            spec.executable.refresh(state, None)

    # -- calling ----------------------------------------------------------------------------------------------------
    def _hooked_modules(self) -> tuple[str, ...]:
        epoch, names = self._hooked_cache
        if epoch != Epochs.hooks:
            names = tuple(n for n, m in self._original.named_modules()
                          if n and (m._forward_pre_hooks or m._forward_hooks))
            object.__setattr__(self, "_hooked_cache", (Epochs.hooks, names))
        return names

    def _eager(self, args: tuple, kwargs: dict) -> Any:
        """The original forward (train mode, global hooks, past the specialization limit); for target="cuda"
        device-array arguments go to the numpy module as host arrays and results come back on the device."""
        if self._options.target == "cuda":
            from ..backends.cuda.executor import eager_forward

            return eager_forward(self._original.forward, args, kwargs)
        return self._original.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self._original.training or _hooks.any_global_hooks():
            return self._eager(args, kwargs)
        leaves, tree = flatten((args, kwargs), _is_array)
        leaves = [np.ascontiguousarray(v) if isinstance(v, np.ndarray) else v for v in leaves]
        tree_key: Any = tree
        try:
            hash(tree)
        except TypeError:  # unhashable constants in the call structure
            tree_key = repr(tree)
        key = (tree_key, tuple(_leaf_key(v) for v in leaves), self._hooked_modules())
        spec = self._specializations.get(key)
        env = None
        if spec is None and self._dynamic_specs:
            for candidate in self._dynamic_specs:
                env = candidate.symbolic.match((tree_key, key[2]), leaves)
                if env is not None:
                    spec = candidate
                    break
        if spec is None:
            if key in self._eager_keys:
                return self._eager(args, kwargs)
            spec = self._specialize(key, args, kwargs, leaves)
            if spec is None:
                return self._eager(args, kwargs)
            if spec.symbolic is not None:
                env = spec.symbolic.match((tree_key, key[2]), leaves)
        exe = spec.executable
        if exe._weights_version != Epochs.state:
            exe.refresh(module_state(self._original), Epochs.state)
        if self._options.threads:
            import numba

            numba.set_num_threads(self._options.threads)
        outputs = exe(leaves) if env is None else exe(leaves, env)
        return unflatten(list(outputs), spec.out_tree)

    def _specialize(self, key: tuple, args: tuple, kwargs: dict, leaves: list[Any] | None = None
                    ) -> Specialization | None:
        with self._compile_lock:
            if key in self._specializations:
                return self._specializations[key]
            opts = self._options
            if leaves is not None and opts.dynamic is not False and opts.target == "cpu" and \
                    all(isinstance(v, np.ndarray) for v in leaves):
                for candidate in self._dynamic_specs:  # another thread compiled it meanwhile
                    if candidate.symbolic.match((key[0], key[2]), leaves) is not None:
                        return candidate
                dims = self._dynamic_dims(key, args, kwargs, leaves)
                struct = (key[0], key[2], tuple(sorted(dims.items())))
                sizes = (tuple(leaves[i].shape[d] for i, d in sorted(dims)),)
                if dims and struct not in self._dynamic_failed and struct + sizes not in self._dynamic_failed and \
                        len(self.specializations) < opts.max_specializations:
                    try:
                        spec = self._specialize_dynamic(key, args, kwargs, leaves, dims)
                    except _DynamicFallback as e:
                        # A decision that flips between the two hints only blocks these sizes (a threshold sits
                        # right here); anything else blocks dynamic compilation of this structure.
                        self._dynamic_failed.add(struct + sizes if e.local else struct)
                        if not e.quiet:
                            warnings.warn(f"{self._get_name()}: dynamic shapes fall back to static specializations: "
                                          f"{e}", DynamicShapeWarning, stacklevel=3)
                    else:
                        self._dynamic_specs.append(spec)
                        object.__setattr__(self, "compile_count", self.compile_count + 1)
                        return spec
            if len(self.specializations) >= opts.max_specializations:
                self._eager_keys.add(key)
                warnings.warn(f"{self._get_name()}: more than {opts.max_specializations} input shape specializations "
                              f"({_varying(self._specializations, key)}); new shapes run eagerly. Pass "
                              "max_specializations= to nngraph.compile to allow more.",
                              SpecializationLimitWarning, stacklevel=3)
                return None
            if opts.target == "cuda":  # trace on host copies of device-array inputs
                from ..backends.cuda.executor import to_host

                leaves, tree = flatten((args, kwargs), _is_array)
                args, kwargs = unflatten([to_host(v) for v in leaves], tree)
            result = optimize(self._original, *args, passes=opts.passes, disable=opts.disable, debug=opts.debug,
                              dump_dir=opts.dump_dir, fullgraph=opts.fullgraph, training=False, numerics=False,
                              **kwargs)
            if opts.target == "cuda":
                from ..backends.cuda.executor import CudaExecutable

                exe = CudaExecutable(result.graph, self._original, use_cache=opts.cache)
            else:
                with autotune.enabled(opts.autotune):
                    exe = CpuExecutable(result.graph, self._original, use_cache=opts.cache,
                                        extra_key="autotune" if opts.autotune else "")
            spec = Specialization(result, exe, result.graph.output.attrs["tree"])
            self._specializations[key] = spec
            object.__setattr__(self, "compile_count", self.compile_count + 1)
            return spec

    # -- dynamic shapes -----------------------------------------------------------------------------------------------
    def _dynamic_dims(self, key: tuple, args: tuple, kwargs: dict, leaves: list[np.ndarray]
                      ) -> dict[tuple[int, int], str]:
        """(leaf index, dim) -> symbol name of the dims this call makes symbolic (sizes >= 2 only).

        ``dynamic=True`` (automatic): the dims that differ from a compiled static specialization with the same
        structure, ranks and dtypes; dims whose sizes were equal in both calls share one symbol. A dict: the dims it
        names, from the first call on."""
        dyn = self._options.dynamic
        dims: dict[tuple[int, int], str] = {}
        if dyn is True:
            sig = [(v.ndim, v.dtype.str) for v in leaves]
            for other in self._specializations:
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
            signature = inspect.signature(self._original.forward)
            names = list(signature.bind(*args, **kwargs).arguments)
            params = signature.parameters
        except (TypeError, ValueError):
            names, params = [], {}
        var_kw = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values())
        for arg_key, spec in dyn.items():
            if isinstance(arg_key, str) and params and arg_key not in params and not var_kw:
                raise ValueError(f"nngraph.compile(dynamic=...): {self._get_name()}.forward has no parameter "
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

    def _specialize_dynamic(self, key: tuple, args: tuple, kwargs: dict, leaves: list[np.ndarray],
                            dims: dict[tuple[int, int], str]) -> Specialization:
        """Trace with ``dims`` symbolic, optimize and lower at two hints, and require the same program and guards
        (a size that escaped into a plain integer changes the code); raises ``_DynamicFallback``."""
        from ..trace.dynamic import NotShapePolymorphic, symbolic_trace

        opts = self._options
        internal_of = {name: f"dyn{i}" for i, name in enumerate(dict.fromkeys(dims.values()))}
        internal = {k: internal_of[v] for k, v in dims.items()}
        names = {v: k for k, v in internal_of.items()}
        try:
            traced, base = symbolic_trace(self._original, args, kwargs, internal, opts.fullgraph)
        except NotShapePolymorphic as e:
            raise _DynamicFallback(str(e)) from None
        except Exception as e:  # noqa: BLE001 -- forward fails at the neighbouring sizes (seq + 1 > max_position)
            raise _DynamicFallback(f"tracing at the neighbouring sizes failed ({type(e).__name__}: {e})", quiet=True,
                                   local=True) from None
        symbols = tuple(base)
        first, attempts = None, []
        # The alternative hint only detects sizes that escaped into plain integers; one next to a static size of
        # the model (``batch == 4`` vs 4 LSTM states) flips an equality guard, so a few are tried.
        for step in (1, 2, 5, 11):
            runs = self._probe(traced, base, {s: v + step for s, v in base.items()}, symbols, first)
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
            raise _DynamicFallback(_first_difference(p1, p2, guards1, guards2), quiet,
                                   local=set(guards1) != set(guards2))
        exe = CpuExecutable(g1, self._original, use_cache=opts.cache, extra_key="dynamic", symbols=symbols)
        leaf_sig = [(v.ndim, v.dtype.str, tuple(internal.get((i, d), v.shape[d]) for d in range(v.ndim)))
                    for i, v in enumerate(leaves)]
        sig = SymbolicSignature((key[0], key[2]), leaf_sig, names, guards1)
        return Specialization(OptimizeResult(traced, g1, stats), exe, g1.output.attrs["tree"], sig)

    def _probe(self, traced: Any, base: dict, alt: dict, symbols: tuple, first: Any) -> list:
        """Optimize and lower ``traced`` at the hints ``base`` (reusing ``first``) and ``alt``: (graph, program,
        guards, stats) for each."""
        from ..backends.cpu import codegen
        from ..passes.base import PassContext
        from ..passes.manager import PassManager, resolve_pipeline
        from ..trace.dynamic import rehint, thaw_symbolic_weights

        opts = self._options
        runs = [first] if first is not None else []
        for env in ((alt,) if first is not None else (base, alt)):
            graph = traced if env is base else rehint(traced, env)
            try:
                with recording() as rec:
                    manager = PassManager(resolve_pipeline(opts.passes, opts.disable, False),
                                          PassContext(training=False, root=self._original))
                    optimized = thaw_symbolic_weights(manager.run(graph.copy()))
                    program = codegen.generate(optimized, "probe", symbols)
            except Exception as e:  # noqa: BLE001 -- a pass or lowering that cannot take symbolic sizes
                cause = e.__cause__ if isinstance(e.__cause__, SymbolicUnsupported) else e
                raise _DynamicFallback(f"{type(cause).__name__}: {cause}") from None
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
    leaves, _ = flatten((tuple(a), kw), _is_array)
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


def _varying(existing: "OrderedDict[tuple, Any]", key: tuple) -> str:
    """Describe which input dimension differs between ``key`` and the compiled specializations."""
    shapes = key[1]
    for other in existing:
        for i, ((s1, _), (s2, _)) in enumerate(zip(shapes, other[1])):
            if len(s1) == len(s2):
                dims = [d for d in range(len(s1)) if s1[d] != s2[d]]
                if dims:
                    return f"input {i} dimension {dims[0]} varies: {s2[dims[0]]} -> {s1[dims[0]]}"
    return "the input structure or dtypes vary"


def compile(model: Module, *, target: str = "cpu", passes: str | Sequence[str | Callable] = "default",
            disable: Iterable[str] = (), dynamic: Any = False, fullgraph: bool = False, cache: bool = True,
            threads: int | None = None, dump_dir: str | None = None, example_inputs: Sequence[Any] | None = None,
            debug: bool = False, max_specializations: int = 8, autotune: bool = False) -> CompiledModule:
    """Compile ``model`` for ``target``; compilation happens on the first call for the shapes and dtypes seen (or
    at once given ``example_inputs``). See ``CompiledModule`` for the runtime semantics. ``autotune=True`` times
    the applicable convolution algorithms of every conv node on this machine and keeps the fastest (the choices are
    recorded in the cache directory, so each geometry is timed once per machine)."""
    if not isinstance(model, Module):
        raise TypeError(f"nngraph.compile expects an nngraph.nn.Module, got {type(model).__name__}")
    if target not in ("cpu", "cuda"):
        raise ValueError(f"target={target!r}: nngraph compiles for target='cpu' or target='cuda'")
    if target == "cuda":
        from ..backends.cuda import require_cuda

        require_cuda()  # a clear error now when numba.cuda or a usable GPU is missing
    if not (dynamic is None or isinstance(dynamic, (bool, dict))):
        raise TypeError(f"nngraph.compile: dynamic= must be False, True or a dict {{argument: {{dim: name}}}}, got "
                        f"{type(dynamic).__name__}")
    options = CompileOptions(target, passes, tuple(disable), fullgraph, cache, threads, dump_dir, debug,
                             max_specializations, dynamic if dynamic else False, bool(autotune))
    compiled = CompiledModule(model, options)
    if example_inputs is not None:
        was_training = model.training
        model.eval()
        try:
            compiled(*example_inputs)
        finally:
            model.train(was_training)
    return compiled
