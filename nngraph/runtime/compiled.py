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

import functools

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
from ..backends.cpu import autotune
from . import dynamic
from .dynamic import DynamicShapeWarning  # noqa: F401 -- re-exported (nngraph.runtime)
from .executor import CpuExecutable, has_cai

_SHARED = ("_parameters", "_buffers", "_non_persistent_buffers_set", "_modules", "_forward_pre_hooks",
           "_forward_pre_hooks_with_kwargs", "_forward_hooks", "_forward_hooks_with_kwargs",
           "_forward_hooks_always_called")


class SpecializationLimitWarning(UserWarning):
    """More distinct input shapes than ``max_specializations``: the new ones run eagerly."""


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
    precision: str = "fp32"  # target="cuda": "tf32"/"fp16" let float32 GEMMs and convolutions use tensor cores


@dataclass
class Specialization:
    result: OptimizeResult
    executable: CpuExecutable
    out_tree: Any = None  # how to rebuild the returned structure from the executor's outputs
    symbolic: "dynamic.SymbolicSignature | None" = None  # dynamic specializations: which inputs it accepts


def _is_array(v: Any) -> bool:
    # device arrays for target="cuda" (the CUDA simulator's arrays have no __cuda_array_interface__)
    return isinstance(v, np.ndarray) or type(v).__name__ == "FakeCUDAArray" or has_cai(v)


_LEAF = ("leaf",)


@functools.lru_cache(maxsize=None)
def _arrays_tree(n: int) -> tuple:
    """``flatten((args, {}))``'s tree for ``n`` array arguments."""
    return ("tuple", (("tuple", (_LEAF,) * n), ("dict", (), ())))


def _same_arrays(args: tuple, sig: tuple) -> bool:
    """``args`` are C-contiguous numpy arrays of the (shape, dtype) pairs in ``sig``."""
    if len(args) != len(sig):
        return False
    for v, (shape, dtype) in zip(args, sig):
        if type(v) is not np.ndarray or v.shape != shape or v.dtype != dtype or not v.flags.c_contiguous:
            return False
    return True


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
        object.__setattr__(self, "_last_call", None)  # (hooks epoch, ((shape, dtype) per argument), static spec)
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
        last = self._last_call
        if last is not None and not kwargs and last[0] == Epochs.hooks and _same_arrays(args, last[1]):
            return self._run(last[2], list(args), None)  # the same contiguous shapes and dtypes as the last call
        if not kwargs and all(_is_array(v) for v in args):  # the common call: arrays only, no flatten walk
            leaves = [np.ascontiguousarray(v) if isinstance(v, np.ndarray) else v for v in args]
            tree_key: Any = _arrays_tree(len(args))
        else:
            leaves, tree = flatten((args, kwargs), _is_array)
            leaves = [np.ascontiguousarray(v) if isinstance(v, np.ndarray) else v for v in leaves]
            tree_key = tree
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
        if env is None and not kwargs and all(type(v) is np.ndarray for v in args):
            object.__setattr__(self, "_last_call", (Epochs.hooks, tuple((v.shape, v.dtype) for v in args), spec))
        return self._run(spec, leaves, env)

    def _run(self, spec: Specialization, leaves: list[Any], env: dict | None) -> Any:
        exe = spec.executable
        if exe._weights_version != Epochs.state:
            exe.refresh(module_state(self._original), Epochs.state)
        if self._options.threads:
            import numba

            numba.set_num_threads(self._options.threads)
        outputs = exe(leaves) if env is None else exe(leaves, env)
        if spec.out_tree == _LEAF:
            return outputs[0]
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
                dims = dynamic.dynamic_dims(self, key, args, kwargs, leaves)
                struct = (key[0], key[2], tuple(sorted(dims.items())))
                sizes = (tuple(leaves[i].shape[d] for i, d in sorted(dims)),)
                if dims and struct not in self._dynamic_failed and struct + sizes not in self._dynamic_failed and \
                        len(self.specializations) < opts.max_specializations:
                    try:
                        spec = Specialization(*dynamic.specialize_dynamic(self, key, args, kwargs, leaves, dims))
                    except dynamic.DynamicFallback as e:
                        # A decision that flips between the two hints only blocks these sizes (a threshold sits
                        # right here); anything else blocks dynamic compilation of this structure.
                        self._dynamic_failed.add(struct + sizes if e.local else struct)
                        if not e.quiet:
                            warnings.warn(f"{self._get_name()}: dynamic shapes fall back to static specializations: "
                                          f"{e}", dynamic.DynamicShapeWarning, stacklevel=3)
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

                exe = CudaExecutable(result.graph, self._original, use_cache=opts.cache,
                                     precision=opts.precision, autotune=opts.autotune)
            else:
                with autotune.enabled(opts.autotune):
                    exe = CpuExecutable(result.graph, self._original, use_cache=opts.cache,
                                        extra_key="autotune" if opts.autotune else "")
            spec = Specialization(result, exe, result.graph.output.attrs["tree"])
            self._specializations[key] = spec
            object.__setattr__(self, "compile_count", self.compile_count + 1)
            return spec

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
            debug: bool = False, max_specializations: int = 8, autotune: bool = False,
            precision: str = "fp32") -> CompiledModule:
    """Compile ``model`` for ``target``; compilation happens on the first call for the shapes and dtypes seen (or
    at once given ``example_inputs``). See ``CompiledModule`` for the runtime semantics. ``autotune=True`` times
    the applicable convolution algorithms of every conv node on this machine and keeps the fastest (the choices are
    recorded in the cache directory, so each geometry is timed once per machine). ``precision`` (target="cuda"):
    "fp32" (default, IEEE float32 arithmetic), "tf32" or "fp16": float32 GEMMs and convolutions may round their
    operands to TF32 / FP16 and use tensor cores, accumulating in float32 (docs/backend-cuda.md gives the
    tolerances)."""
    if not isinstance(model, Module):
        raise TypeError(f"nngraph.compile expects an nngraph.nn.Module, got {type(model).__name__}")
    if target not in ("cpu", "cuda"):
        raise ValueError(f"target={target!r}: nngraph compiles for target='cpu' or target='cuda'")
    if target == "cuda":
        from ..backends.cuda import require_cuda

        require_cuda()  # a clear error now when numba.cuda or a usable GPU is missing
    if precision not in ("fp32", "tf32", "fp16"):
        raise ValueError(f"nngraph.compile: precision must be 'fp32', 'tf32' or 'fp16', got {precision!r}")
    if precision != "fp32" and target != "cuda":
        raise ValueError(f"nngraph.compile: precision={precision!r} needs target='cuda' (the CPU backend computes in "
                         "the model's dtype)")
    if threads is not None and target == "cpu":
        import numba

        limit = numba.config.NUMBA_NUM_THREADS
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or not 1 <= threads <= limit:
            raise ValueError(f"nngraph.compile: threads must be an int between 1 and {limit} (NUMBA_NUM_THREADS), "
                             f"got {threads!r}")
    if not (dynamic is None or isinstance(dynamic, (bool, dict))):
        raise TypeError(f"nngraph.compile: dynamic= must be False, True or a dict {{argument: {{dim: name}}}}, got "
                        f"{type(dynamic).__name__}")
    options = CompileOptions(target, passes, tuple(disable), fullgraph, cache, threads, dump_dir, debug,
                             max_specializations, dynamic if dynamic else False, bool(autotune), precision)
    compiled = CompiledModule(model, options)
    if example_inputs is not None:
        was_training = model.training
        model.eval()
        try:
            compiled(*example_inputs)
        finally:
            model.train(was_training)
    return compiled
