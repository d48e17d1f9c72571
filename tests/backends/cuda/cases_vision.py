"""Vision and random-op cases (``lower_vision.py``, ``lower_random.py``) shared by the simulator parity tests
(``test_vision.py``) and the PTX compile check (``ptx_check.py``).

``VISION_CASES``: (name, make) with ``make(dtype) -> (model, inputs)`` on tiny shapes; float32 and float64 both run."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

import nngraph.nn.functional as F
from nngraph import nn
from nngraph.ops import activation as A
from nngraph.ops import dropout as D
from nngraph.ops import pooling as P
from nngraph.ops import vision as V

try:
    from .helpers import Fn
except ImportError:  # run as a script by ptx_check.py
    from helpers import Fn  # type: ignore[no-redef]


def _r(rng: np.random.Generator, dtype: Any, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


def _win(k: tuple, d: tuple, p: tuple, s: tuple) -> dict:
    return dict(kernel_size=k, dilation=d, padding=p, stride=s)


def max_unpool(dtype: Any) -> tuple:
    """Unpooling after max pooling with indices, 1-d to 3-d, modules and functions, with and without output_size."""
    rng = np.random.default_rng(31)
    x2, x1, x3 = _r(rng, dtype, 2, 2, 6, 4), _r(rng, dtype, 2, 3, 9), _r(rng, dtype, 1, 2, 4, 4, 6)
    mods = dict(u1=nn.MaxUnpool1d(3, 2, 1), u2=nn.MaxUnpool2d(2), u3=nn.MaxUnpool3d(2))

    def f(m, x2, x1, x3):  # noqa: ANN001, ANN202
        v2, i2 = F.max_pool2d(x2, 2, return_indices=True)
        v1, i1 = F.max_pool1d(x1, 3, 2, 1, return_indices=True)
        v3, i3 = F.max_pool3d(x3, 2, return_indices=True)
        return (m.u2(v2, i2), F.max_unpool2d(v2, i2, 2, output_size=(7, 5)), m.u1(v1, i1),
                F.max_unpool1d(v1, i1, 3, 2, 1, output_size=(10,)), m.u3(v3, i3),
                F.max_unpool3d(v3, i3, 2, output_size=(1, 2, 5, 5, 7)), m.u2(v2[0], i2[0]))  # unbatched
    return Fn(f, **mods), (x2, x1, x3)


def max_unpool_duplicates(dtype: Any) -> tuple:
    """Hand-made indices where several inputs of a plane point at one output: numpy's assignment order decides (the
    last in C order wins); integer values through the registry op (F takes floats only)."""
    rng = np.random.default_rng(32)
    v1, v2 = _r(rng, dtype, 2, 2, 7), _r(rng, dtype, 1, 2, 3, 3)
    i1 = rng.integers(0, 4, (2, 2, 7))  # 7 writers on 4 of the 14 outputs of a plane
    i2 = rng.integers(0, 3, (1, 2, 3, 3)).astype(np.int32)
    i2[0, 1] = 5  # a whole plane on one output

    def f(m, v1, i1, v2, i2):  # noqa: ANN001, ANN202
        vi = (v1 * 10.0).astype(np.int64)
        return (F.max_unpool1d(v1, i1, 2), F.max_unpool2d(v2, i2, (2, 3), output_size=(5, 8)),
                P.max_unpool(vi, i1, output_size=(9,)), P.max_unpool(v2 > 0, i2, output_size=(2, 3)).astype(np.int64))
    return Fn(f), (v1, i1, v2, i2)


def unfold_fold_nd(dtype: Any) -> tuple:
    """1-d and 3-d im2col / col2im (the registry ops: ``F.unfold``/``F.fold`` are 2-d only) with padding, stride and
    dilation, overlapping blocks, and strided inputs."""
    rng = np.random.default_rng(33)
    x1, x3 = _r(rng, dtype, 2, 3, 9), _r(rng, dtype, 1, 2, 4, 5, 4)
    w1 = _win((3,), (2,), (1,), (2,))
    w3 = _win((2, 3, 2), (1, 1, 2), (1, 0, 1), (2, 1, 1))
    o1 = _win((2,), (1,), (1,), (1,))  # overlapping blocks
    o3 = _win((2, 2, 2), (1, 1, 1), (0, 1, 0), (1, 2, 1))
    cols1 = _r(rng, dtype, 2, 10, 3 * 2)  # (N, L, C * k), read transposed
    cols3 = _r(rng, dtype, 1, 2 * 8, 3 * 3 * 3)

    def f(m, x1, x3, cols1, cols3):  # noqa: ANN001, ANN202
        return (V.unfold(x1, **w1), V.unfold(x1[:, :, 1:], **o1), V.unfold(x3, **w3), V.unfold(x3[:, :, :, 1:], **o3),
                V.fold(cols1.transpose(0, 2, 1), output_size=(9,), **o1),
                V.fold(V.unfold(x1, **w1), output_size=(9,), **w1),
                V.fold(cols3, output_size=(4, 5, 4), **o3), V.fold(V.unfold(x3, **w3), output_size=(4, 5, 4), **w3))
    return Fn(f), (x1, x3, cols1, cols3)


def dropout_no_draw(dtype: Any) -> tuple:
    """Random ops that draw nothing: dropout with p = 1 (x * 0: NaN and inf give NaN) and empty inputs."""
    x = np.array([[1.0, np.nan, -np.inf], [2.0, 0.0, 3.0]], dtype)
    e = np.zeros((0, 3), dtype)

    def f(m, x, e):  # noqa: ANN001, ANN202
        return (F.dropout(x, 1.0, training=True), F.alpha_dropout(x, 1.0, training=True),
                F.feature_alpha_dropout(x[None], 1.0, training=True), D.dropout(e, p=0.5),
                D.feature_dropout(e[None], p=0.5), A.rrelu(e, lower=0.1, upper=0.3),
                A.gumbel_softmax(e, tau=1.0, hard=False, axis=1))
    return Fn(f), (x, e)


VISION_CASES: list[tuple[str, Callable[..., tuple]]] = [
    ("max_unpool", max_unpool), ("max_unpool_duplicates", max_unpool_duplicates), ("unfold_fold_nd", unfold_fold_nd),
    ("dropout_no_draw", dropout_no_draw),
]
