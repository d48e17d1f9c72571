"""``Module``: torch.nn.Module's semantics over numpy arrays."""
from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import Any, Callable, Iterator

import numpy as np

from ...errors import InputError
from ...ops.registry import _ACTIVE_TRACER
from .._epochs import bump_state
from ..parameter import Buffer, Parameter
from . import hooks as _hooks
from .hooks import RemovableHandle, add_hook, no_backward_hooks

__all__ = ["Module"]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])

_DEVICE_PREFIXES = ("cpu", "cuda", "mps", "meta", "xpu")


def _addindent(text: str, n: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


def _float_dtype(value: Any) -> np.dtype:
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise TypeError(f"expected a numpy floating dtype (np.float16/32/64 or its name), got {value!r}") from None
    if dtype.kind != "f":
        raise TypeError(f"nngraph converts floating parameters only; expected a floating dtype, got {dtype}")
    return dtype


class Module:
    """Base class of every layer; subclasses set attributes in ``__init__`` and define ``forward``."""

    training: bool
    dump_patches = False
    call_super_init = False

    def __init__(self) -> None:
        sa = object.__setattr__
        sa(self, "training", True)
        sa(self, "_parameters", OrderedDict())
        sa(self, "_buffers", OrderedDict())
        sa(self, "_non_persistent_buffers_set", set())
        sa(self, "_modules", OrderedDict())
        sa(self, "_forward_pre_hooks", OrderedDict())
        sa(self, "_forward_pre_hooks_with_kwargs", {})
        sa(self, "_forward_hooks", OrderedDict())
        sa(self, "_forward_hooks_with_kwargs", {})
        sa(self, "_forward_hooks_always_called", {})
        sa(self, "_hook_version", 0)  # bumped on every hook change: compiled modules re-specialize on it

    # ------------------------------------------------------------------ calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _ACTIVE_TRACER:
            return _ACTIVE_TRACER[-1].call_module(self, args, kwargs)
        try:
            if not (self._forward_pre_hooks or self._forward_hooks or _hooks.any_global_hooks()):
                return self.forward(*args, **kwargs)
            return self._call_with_hooks(args, kwargs)
        except InputError as e:
            if not e.attributed:
                e.who = self._describe()
                e.attributed = True
            raise

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        for hook_id, hook in (*_hooks._global_forward_pre_hooks.items(), *self._forward_pre_hooks.items()):
            if hook_id in self._forward_pre_hooks_with_kwargs:
                res = hook(self, args, kwargs)
                if res is not None:
                    if not (isinstance(res, tuple) and len(res) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple of (new_args, new_kwargs), "
                                           f"but got {res}.")
                    args, kwargs = res
            else:
                res = hook(self, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
        all_hooks = (*_hooks._global_forward_hooks.items(), *self._forward_hooks.items())
        try:
            result = self.forward(*args, **kwargs)
        except BaseException:
            for hook_id, hook in all_hooks:  # always_call hooks run even when forward failed
                if hook_id in self._forward_hooks_always_called or hook_id in _hooks._global_forward_hooks_always_called:
                    try:
                        self._run_forward_hook(hook_id, hook, args, kwargs, None)
                    except Exception:
                        pass
            raise
        for hook_id, hook in all_hooks:
            res = self._run_forward_hook(hook_id, hook, args, kwargs, result)
            if res is not None:
                result = res
        return result

    def _run_forward_hook(self, hook_id: int, hook: Callable, args: tuple, kwargs: dict, result: Any) -> Any:
        if hook_id in self._forward_hooks_with_kwargs or hook_id in _hooks._global_forward_hooks_with_kwargs:
            return hook(self, args, kwargs, result)
        return hook(self, args, result)

    def _describe(self) -> str:
        extra = self.extra_repr()
        return f"{self._get_name()}({extra})" if "\n" not in extra else self._get_name()

    # ------------------------------------------------------------------ hooks
    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args)`` (or ``hook(module, args, kwargs)``) runs before ``forward``; a returned value
        replaces the input (a non-tuple is wrapped in a tuple)."""
        flags = [self._forward_pre_hooks_with_kwargs] if with_kwargs else []
        handle = add_hook(self._forward_pre_hooks, hook, prepend, *flags)
        handle.extra_dicts = (self._forward_pre_hooks_with_kwargs,)
        self._bump_hook_version()
        return _VersionedHandle(self, handle)

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)``) runs after ``forward``;
        a returned value replaces the output."""
        flags = []
        if with_kwargs:
            flags.append(self._forward_hooks_with_kwargs)
        if always_call:
            flags.append(self._forward_hooks_always_called)
        handle = add_hook(self._forward_hooks, hook, prepend, *flags)
        handle.extra_dicts = (self._forward_hooks_with_kwargs, self._forward_hooks_always_called)
        self._bump_hook_version()
        return _VersionedHandle(self, handle)

    register_full_backward_hook = no_backward_hooks
    register_full_backward_pre_hook = no_backward_hooks
    register_backward_hook = no_backward_hooks

    def _bump_hook_version(self) -> None:
        object.__setattr__(self, "_hook_version", self._hook_version + 1)

    # ------------------------------------------------------------------ registration
    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or ``None``, e.g. an absent bias) under ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_new_name(name, "parameter", self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__module__}.{type(param).__name__}' object to parameter "
                            f"'{name}' (nngraph.nn.Parameter or None required)")
        self._parameters[name] = param
        bump_state()

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Add a buffer: state that is not a parameter (running statistics). Non-persistent buffers stay out of
        ``state_dict``."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_new_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, np.ndarray):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(numpy.ndarray or None required)")
        self._buffers[name] = tensor.view(np.ndarray) if isinstance(tensor, Parameter) else tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)
        bump_state()

    def add_module(self, name: str, module: "Module | None") -> None:
        """Add a child module under ``name``."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_new_name(name, "module", self._modules)
        self._modules[name] = module

    register_module = add_module

    def _check_new_name(self, name: Any, kind: str, own: dict) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in own:
            raise KeyError(f"attribute '{name}' already exists")

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._remove_name(name, keep="_parameters")
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__module__}.{type(value).__name__}' as parameter "
                                f"'{name}' (nngraph.nn.Parameter or None expected)")
            params[name] = None
            bump_state()
        elif isinstance(value, Module):
            if d.get("_modules") is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._remove_name(name, keep="_modules")
            self._modules[name] = value
        elif d.get("_modules") is not None and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                "(nngraph.nn.Module or None expected)")
            self._modules[name] = None
        elif isinstance(value, Buffer):
            if d.get("_buffers") is None:
                raise AttributeError("cannot assign buffer before Module.__init__() call")
            self._remove_name(name, keep="_buffers")
            self.register_buffer(name, value.data, value.persistent)
        elif d.get("_buffers") is not None and name in self._buffers:
            if _ACTIVE_TRACER and not isinstance(value, np.ndarray) and value is not None:
                from ...trace.proxy import GraphBreak

                raise GraphBreak(f"forward assigns a traced value to buffer '{name}'")
            if value is not None and not isinstance(value, np.ndarray):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(numpy.ndarray or None expected)")
            self._buffers[name] = value
            bump_state()
        else:
            object.__setattr__(self, name, value)

    def _remove_name(self, name: str, keep: str) -> None:
        """Forget ``name`` everywhere but in the store it is being (re)assigned to (keeping its position)."""
        self.__dict__.pop(name, None)
        for store in ("_parameters", "_buffers", "_modules"):
            if store != keep:
                getattr(self, store).pop(name, None)
        if keep != "_buffers":
            self._non_persistent_buffers_set.discard(name)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                value = d[store][name]
                if _ACTIVE_TRACER and store != "_modules":
                    return _ACTIVE_TRACER[-1].module_attribute(self, name, value)
                return value
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        keys = list(super().__dir__()) + list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(k for k in set(keys) if not k[0].isdigit())

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """All modules in the tree, depth first, self first; a module reachable twice is yielded once."""
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, get: Callable[["Module"], Any], prefix: str, recurse: bool,
                       remove_duplicate: bool) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mod_prefix, module in mods:
            for k, v in get(module):
                if v is None or id(v) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(v))
                yield mod_prefix + ("." if mod_prefix else "") + k, v

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, np.ndarray]]:
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[np.ndarray]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> "Module":
        if target == "":
            return self
        mod: Module = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return mod

    def _owner_and_name(self, target: str) -> tuple["Module", str]:
        module_path, _, name = target.rpartition(".")
        return self.get_submodule(module_path), name

    def get_parameter(self, target: str) -> Parameter:
        mod, name = self._owner_and_name(target)
        if not hasattr(mod, name):
            raise AttributeError(f"{mod._get_name()} has no attribute `{name}`")
        param = getattr(mod, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str) -> np.ndarray:
        mod, name = self._owner_and_name(target)
        if name not in mod._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return mod._buffers[name]

    # ------------------------------------------------------------------ state
    def state_dict(self, *args: Any, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> "OrderedDict[str, np.ndarray]":
        """Parameters then persistent buffers of each module, depth first, keyed by qualified name. Values share
        memory with the module (as torch's do); ``keep_vars=True`` returns the Parameter objects themselves."""
        if args:  # torch's positional form: state_dict(destination, prefix, keep_vars)
            destination, prefix, keep_vars = (list(args) + [destination, prefix, keep_vars][len(args):])[:3]
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.view(np.ndarray)
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        return destination

    def _state_slots(self, prefix: str = "") -> Iterator[tuple[str, "Module", str, str]]:
        """(key, owner module, local name, 'param'|'buffer') for every state_dict entry."""
        for name, p in self._parameters.items():
            if p is not None:
                yield prefix + name, self, name, "param"
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                yield prefix + name, self, name, "buffer"
        for name, module in self._modules.items():
            if module is not None:
                yield from module._state_slots(prefix + name + ".")

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> IncompatibleKeys:
        """Copy ``state_dict`` into this module's parameters and buffers (in place, cast to their dtypes; with
        ``assign=True`` the given arrays replace them). Everything is checked before anything is written, so a
        failed load changes nothing. Values may be any array-likes (numpy arrays, torch CPU tensors)."""
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}.")
        given = list(state_dict.keys())
        slots = list(self._state_slots())
        expected = {key for key, *_ in slots}
        # As torch (state_dict version compatibility): a missing BatchNorm step counter keeps its current value.
        missing = [key for key, _, name, _ in slots if key not in state_dict and name != "num_batches_tracked"]
        unexpected = [key for key in given if key not in expected]
        errors = []
        plan = []
        for key, owner, name, kind in slots:
            if key not in state_dict:
                continue
            current = (owner._parameters if kind == "param" else owner._buffers)[name]
            value = np.asarray(state_dict[key])
            if value.shape != current.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape {value.shape} from checkpoint, "
                              f"the shape in current model is {current.shape}.")
                continue
            plan.append((owner, name, kind, current, value))
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {self._get_name()}:\n\t" + "\n\t".join(errors))
        for owner, name, kind, current, value in plan:
            if assign:
                if kind == "param":
                    owner._parameters[name] = Parameter(value, current.requires_grad)
                else:
                    owner._buffers[name] = value
            else:
                current.view(np.ndarray)[...] = value
        bump_state()
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ modes and conversions
    def train(self, mode: bool = True) -> "Module":
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def apply(self, fn: Callable[["Module"], Any]) -> "Module":
        """Call ``fn`` on every submodule (children first) and then on self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        bump_state()
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is not None:
                p.grad = None if set_to_none else np.zeros_like(p.grad)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def _apply(self, fn: Callable[[np.ndarray], np.ndarray]) -> "Module":
        for module in self.children():
            module._apply(fn)
        for name, p in self._parameters.items():
            if p is not None:
                new = fn(p.view(np.ndarray))
                if new is not p and new is not None:
                    param = Parameter(new, p.requires_grad)
                    param.grad = None if p.grad is None else fn(p.grad)
                    self._parameters[name] = param
        for name, b in self._buffers.items():
            if b is not None:
                self._buffers[name] = fn(b)
        bump_state()
        return self

    def _convert_floats(self, dtype: np.dtype) -> "Module":
        return self._apply(lambda a: a.astype(dtype) if a.dtype.kind == "f" and a.dtype != dtype else a)

    def to(self, *args: Any, **kwargs: Any) -> "Module":
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(array)``: converts floating parameters and
        buffers (integer buffers keep their dtype). Devices: only ``"cpu"``; for a GPU compile the model with
        ``nngraph.compile(model, target="cuda")``."""
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, np.ndarray):
                dtype = a.dtype
            elif isinstance(a, str) and a.split(":")[0] in _DEVICE_PREFIXES:
                device = a
            elif a is not None:
                dtype = a
        if device is not None:
            self._check_device(device)
        if dtype is not None:
            d = _float_dtype(dtype)
            self._convert_floats(d)
        return self

    @staticmethod
    def _check_device(device: Any) -> None:
        if str(device).split(":")[0] != "cpu":
            raise RuntimeError(
                f"nngraph modules keep their arrays in host memory; cannot move to device {device!r}. To run on an "
                "NVIDIA GPU, compile the model with nngraph.compile(model, target='cuda').")

    def cpu(self) -> "Module":
        return self

    def cuda(self, device: Any = None) -> "Module":
        self._check_device("cuda" if device is None else f"cuda:{device}")
        return self

    def float(self) -> "Module":
        return self._convert_floats(np.dtype(np.float32))

    def double(self) -> "Module":
        return self._convert_floats(np.dtype(np.float64))

    def half(self) -> "Module":
        return self._convert_floats(np.dtype(np.float16))

    def bfloat16(self) -> "Module":
        raise TypeError("numpy has no bfloat16 dtype; use float16, float32 or float64")

    def type(self, dst_type: Any) -> "Module":
        return self._convert_floats(_float_dtype(dst_type))

    # ------------------------------------------------------------------ printing
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """Text shown inside this module's parentheses in ``repr``; override in subclasses."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(module), 2) for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


class _VersionedHandle(RemovableHandle):
    """A hook handle that also bumps the owning module's hook version on removal."""

    def __init__(self, module: Module, inner: RemovableHandle) -> None:  # noqa: D107
        self.__dict__.update(inner.__dict__)
        self._module = module

    def remove(self) -> None:
        before = self.id in self.hooks_dict
        super().remove()
        if before:
            self._module._bump_hook_version()
