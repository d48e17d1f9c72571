"""Hook handles and the global (all-module) hook registries."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable

from .._epochs import bump_hooks

__all__ = ["RemovableHandle", "register_module_forward_pre_hook", "register_module_forward_hook",
           "register_module_full_backward_hook", "register_module_full_backward_pre_hook",
           "register_module_backward_hook"]


class RemovableHandle:
    """Returned by every ``register_*_hook``: ``remove()`` unregisters; also a context manager."""

    _next_id = 0

    def __init__(self, hooks_dict: dict, *extra_dicts: dict) -> None:
        self.hooks_dict = hooks_dict
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1
        self.extra_dicts = extra_dicts

    def remove(self) -> None:
        for d in (self.hooks_dict, *self.extra_dicts):
            d.pop(self.id, None)
        bump_hooks()

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def add_hook(hooks: "OrderedDict[int, Callable]", hook: Callable, prepend: bool, *flag_dicts: dict) -> RemovableHandle:
    """Insert ``hook`` into ``hooks`` (first if ``prepend``); ``flag_dicts`` get the id marked ``True``."""
    handle = RemovableHandle(hooks, *flag_dicts)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    for d in flag_dicts:
        d[handle.id] = True
    bump_hooks()
    return handle


_global_forward_pre_hooks: "OrderedDict[int, Callable]" = OrderedDict()
_global_forward_hooks: "OrderedDict[int, Callable]" = OrderedDict()
_global_forward_hooks_with_kwargs: dict[int, bool] = {}
_global_forward_hooks_always_called: dict[int, bool] = {}


def register_module_forward_pre_hook(hook: Callable) -> RemovableHandle:
    """A pre-hook run before every module's forward: ``hook(module, args) -> None | new args``."""
    return add_hook(_global_forward_pre_hooks, hook, False)


def register_module_forward_hook(hook: Callable, *, with_kwargs: bool = False,
                                 always_call: bool = False) -> RemovableHandle:
    """A hook run after every module's forward: ``hook(module, args, output) -> None | new output``."""
    flags = []
    if with_kwargs:
        flags.append(_global_forward_hooks_with_kwargs)
    if always_call:
        flags.append(_global_forward_hooks_always_called)
    handle = add_hook(_global_forward_hooks, hook, False, *flags)
    handle.extra_dicts = (_global_forward_hooks_with_kwargs, _global_forward_hooks_always_called)
    return handle


def no_backward_hooks(*_: Any, **__: Any) -> RemovableHandle:
    raise NotImplementedError(
        "nngraph has no autograd: backward hooks would never fire, so registering one is refused. "
        "Use forward hooks (register_forward_hook / register_forward_pre_hook) instead.")


register_module_full_backward_hook = no_backward_hooks
register_module_full_backward_pre_hook = no_backward_hooks
register_module_backward_hook = no_backward_hooks


def any_global_hooks() -> bool:
    return bool(_global_forward_pre_hooks or _global_forward_hooks)
