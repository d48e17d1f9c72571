"""Losses (``lower_loss.py``) compiled on CUDA (the simulator without a GPU) vs the IR interpreter and eager mode,
float32 and float64, no host steps; values the numpy reference rejects fail the call with the CPU backend's error."""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import nngraph
import nngraph.nn.functional as F
from nngraph.ir.interpreter import NodeExecutionError

from .cases_loss import LOSS_CASES
from .helpers import Fn, check

TOL = {np.float32: 1e-4, np.float64: 1e-9}
# the simulator computes log(0) with numpy, which warns (RuntimeWarnings are errors); a GPU gives -inf silently
WARNS_ON_SIMULATOR = ("bce_edges",)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", [n for n, _ in LOSS_CASES])
def test_case(name: str, dtype: type) -> None:
    model, inputs = dict(LOSS_CASES)[name](dtype)
    with warnings.catch_warnings():
        if name in WARNS_ON_SIMULATOR:
            warnings.simplefilter("ignore", RuntimeWarning)
        check(model, *inputs, rtol=TOL[dtype], atol=TOL[dtype])


def test_every_loss_op_has_a_cuda_lowering() -> None:
    from nngraph.backends.cuda import register_lowerings
    from nngraph.ops.registry import REGISTRY

    register_lowerings()
    ops = [n for n, op in REGISTRY.items() if getattr(op.impl, "__module__", "") == "nngraph.ops.loss"]
    assert "ctc_loss" in ops and [n for n in ops if "cuda" not in REGISTRY[n].lowerings] == []


def test_float16_runs_on_the_host() -> None:
    x = np.array([[0.2, 0.7], [0.5, 0.9]], np.float16)
    check(Fn(lambda m, x: F.binary_cross_entropy(x, x[::-1], reduction="none")), x, rtol=1e-3, atol=1e-3,
          host_steps=1)


_RNG = np.random.default_rng(60)
_X = _RNG.standard_normal((3, 4))
_P = _RNG.uniform(0.1, 0.9, (3, 4))
_LP = np.log(np.full((6, 2, 5), 0.2))
_TG = np.array([[1, 2], [3, 3]])
_LEN = np.array([2, 2])


def _ctc(lp: np.ndarray, t: np.ndarray, il: np.ndarray, tl: np.ndarray) -> Any:
    return F.ctc_loss(lp, t, il, tl)


# (function, good inputs, bad inputs, what the reference's error says)
VALUE_ERRORS: list[tuple[str, Callable[..., Any], tuple, tuple, str]] = [
    ("bce-input", lambda x, y: F.binary_cross_entropy(x, y), (_P, _P), (np.where(_P > 0.5, 1.5, _P), _P),
     r"binary_cross_entropy.*input values in \[0, 1\], got input value 1.5"),
    ("bce-target", lambda x, y: F.binary_cross_entropy(x, y, reduction="none"), (_P, _P), (_P, _P - 0.5),
     r"binary_cross_entropy.*target values in \[0, 1\]"),
    ("gaussian-var", lambda x, v: F.gaussian_nll_loss(x, x[::-1], v), (_X, _P), (_X, -_P),
     r"gaussian_nll_loss.*non-negative entries"),
    ("multi_margin-target", lambda x, t: F.multi_margin_loss(x, t), (_X, np.array([0, 1, 3])),
     (_X, np.array([0, 4, 1])), r"multi_margin_loss.*class indices in \[0, 3\].*got target value 4"),
    ("multi_margin-negative", lambda x, t: F.multi_margin_loss(x, t, p=2), (_X, np.array([0, 1, 3])),
     (_X, np.array([0, -1, 1])), r"got target value -1"),
    ("multilabel_margin-target", lambda x, t: F.multilabel_margin_loss(x, t), (_X, np.zeros((3, 4), np.int64)),
     (_X, np.array([[0, -1, 9, 0], [0] * 4, [1] * 4])), r"multilabel_margin_loss.*target values in \[-1, 3\]"),
    ("ctc-target", _ctc, (_LP, _TG, np.array([6, 5]), _LEN), (_LP, np.array([[1, 2], [3, 5]]), np.array([6, 5]), _LEN),
     r"ctc_loss.*got target value 5"),
    ("ctc-concat-target", _ctc, (_LP, np.array([1, 2, 3, 3]), np.array([6, 5]), _LEN),
     (_LP, np.array([1, 2, -3, 3]), np.array([6, 5]), _LEN), r"ctc_loss.*got target value -3"),
    ("ctc-input-length", _ctc, (_LP, _TG, np.array([6, 5]), _LEN), (_LP, _TG, np.array([6, 7]), _LEN),
     r"input_lengths in \[0, 6\]"),
    ("ctc-target-length", _ctc, (_LP, _TG, np.array([6, 5]), _LEN), (_LP, _TG, np.array([6, 5]), np.array([2, 3])),
     r"target_lengths at most the padded target length 2"),
    ("ctc-negative-length", _ctc, (_LP, _TG, np.array([6, 5]), _LEN), (_LP, _TG, np.array([6, 5]), np.array([-1, 2])),
     r"target_lengths in >= 0"),
    ("ctc-concat-total", _ctc, (_LP, np.array([1, 2, 3, 3]), np.array([6, 5]), _LEN),
     (_LP, np.array([1, 2, 3, 3]), np.array([6, 5]), np.array([2, 1])), r"concatenated targets of shape"),
]


@pytest.mark.parametrize("fn, good, bad, match", [c[1:] for c in VALUE_ERRORS], ids=[c[0] for c in VALUE_ERRORS])
def test_value_errors_are_reported_like_the_cpu_backend(fn: Callable[..., Any], good: tuple, bad: tuple,
                                                        match: str) -> None:
    """A value a kernel flags fails the call with the reference's located error (an InputError naming the op),
    word for word the CPU backend's; the flag is reset, so the next good call works."""
    model = Fn(lambda m, *xs: fn(*xs)).eval()
    compiled = check(model, *good)
    with pytest.raises(NodeExecutionError, match=match) as got:
        compiled(*bad)
    assert "InputError" in str(got.value)
    on_cpu = nngraph.compile(model, target="cpu")
    on_cpu(*good)
    with pytest.raises(NodeExecutionError) as want:
        on_cpu(*bad)
    assert str(got.value) == str(want.value)
    np.testing.assert_allclose(compiled(*good), model(*good), rtol=1e-9, atol=1e-9)
