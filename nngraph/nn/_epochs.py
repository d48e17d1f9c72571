"""Global change counters that compiled modules compare on each call (two integer reads).

``state`` moves whenever nngraph itself changes a parameter or buffer (load_state_dict, assignment, dtype
conversion, nn.init, Module.apply, Parameter.data); ``hooks`` whenever any forward hook is added or removed.
Raw in-place writes into arrays (``w[...] = 0``) are invisible: call ``compiled.refresh()`` after those.
"""
from __future__ import annotations


class Epochs:
    state = 0
    hooks = 0


def bump_state() -> None:
    Epochs.state += 1


def bump_hooks() -> None:
    Epochs.hooks += 1
