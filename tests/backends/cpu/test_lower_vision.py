"""CPU lowering of the vision ops (shuffles, interpolate in every mode, fold/unfold) and ``pad`` (every mode):
compiled results against the eager module, every op compiled (no host step).

Many ops share one compiled graph (a function returning a tuple) so that each kernel compiles once per dtype."""
from __future__ import annotations

import numpy as np
import pytest

import nngraph
import nngraph.nn.functional as F
from tests.trace.util import Fn, assert_same

FLOATS = [np.float32, np.float64]


def _tol(dtype: type) -> dict:
    return dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-13)


def check(fn, *inputs, dtype: type = np.float64, host_steps: int = 0) -> None:
    """Compile ``fn``, compare with eager execution, check that everything compiled."""
    model = Fn(fn).eval()
    want = model(*inputs)
    compiled = nngraph.compile(model)
    got = compiled(*inputs)
    assert compiled.specializations[0].executable.n_host_steps == host_steps
    assert_same(got, want, **_tol(dtype))


def _rand(shape: tuple, dtype: type, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------------------------------------------- interpolate
def _interpolate(x, x1, x3):  # noqa: ANN001, ANN202
    xt = x.transpose(0, 1, 3, 2)  # strided input
    out = (
        F.interpolate(x, scale_factor=2),  # nearest, both dims doubled (torch's shortcut)
        F.interpolate(x, size=(5, 9)),  # one dim kept, one downscaled
        F.interpolate(xt, scale_factor=(1.7, 0.6)),
        F.interpolate(x, size=(11, 4), mode="nearest-exact"),
        F.interpolate(x, scale_factor=(2.5, 1.5), mode="nearest-exact", recompute_scale_factor=True),
        F.interpolate(x, scale_factor=2, mode="bilinear"),
        F.interpolate(x, size=(13, 5), mode="bilinear", align_corners=True),
        F.interpolate(xt, size=(4, 4), mode="bilinear"),
        F.interpolate(x, size=(1, 12), mode="bilinear", align_corners=True),
        F.interpolate(x, scale_factor=(1.3, 0.75), mode="bilinear"),
        F.interpolate(x, size=(7, 9), mode="bilinear"),  # same size: a copy
        F.interpolate(x, scale_factor=2, mode="bicubic"),
        F.interpolate(x, size=(9, 6), mode="bicubic", align_corners=True),
        F.interpolate(x, size=(7, 9), mode="bicubic"),  # bicubic resamples even at the same size
        F.interpolate(x, size=(3, 4), mode="bilinear", antialias=True),
        F.interpolate(x, size=(3, 14), mode="bicubic", antialias=True),
        F.interpolate(x, scale_factor=0.4, mode="bicubic", antialias=True, align_corners=True),
        F.interpolate(x, size=(5, 5), mode="area"),
        F.interpolate(x1, scale_factor=3),
        F.interpolate(x1, size=4, mode="nearest-exact"),
        F.interpolate(x1, size=17, mode="linear"),
        F.interpolate(x1, scale_factor=0.5, mode="linear", align_corners=True),
        F.interpolate(x3, scale_factor=2),
        F.interpolate(x3, size=(3, 7, 2), mode="nearest-exact"),
        F.interpolate(x3, size=(4, 6, 9), mode="trilinear"),
        F.interpolate(x3, scale_factor=(1.0, 0.5, 1.5), mode="trilinear", align_corners=True),
    )
    return out


@pytest.mark.parametrize("dtype", FLOATS)
def test_interpolate(dtype: type) -> None:
    check(_interpolate, _rand((2, 3, 7, 9), dtype), _rand((2, 3, 6), dtype, 1), _rand((1, 2, 3, 4, 5), dtype, 2),
          dtype=dtype)


# ---------------------------------------------------------------------------------------------------- shuffles, fold
def _rearrange(x, x5, cols):  # noqa: ANN001, ANN202
    xt = x.transpose(0, 1, 3, 2)
    u = F.unfold(x, 3, padding=1)
    return (
        F.pixel_shuffle(x, 2),
        F.pixel_shuffle(x[0], 2),  # unbatched
        F.pixel_shuffle(x5, 2),  # extra batch dims
        F.pixel_unshuffle(x[:, :, :6, :8], 2),
        F.pixel_unshuffle(xt[:, :, :8, :3], 1),
        F.channel_shuffle(x, 4),
        F.channel_shuffle(xt, 2),
        F.pixel_shuffle(x[:, :, ::-1, 1:], 2),  # reversed and sliced input
        F.channel_shuffle(x5[0], 2),
        u,
        F.unfold(x, (2, 3), dilation=(2, 1), padding=(1, 0), stride=(2, 3)),
        F.unfold(xt, 1),
        F.unfold(x[0], (4, 2), stride=2, padding=(2, 1)),  # unbatched
        F.fold(u, (7, 10), 3, padding=1),  # overlapping blocks add up
        F.fold(cols, (6, 7), (2, 3), dilation=(2, 1), padding=(1, 1), stride=(1, 2)),
        F.fold(cols[0], (6, 7), (2, 3), dilation=(2, 1), padding=(1, 1), stride=(1, 2)),
    )


@pytest.mark.parametrize("dtype", FLOATS)
def test_shuffle_fold_unfold(dtype: type) -> None:
    # fold of (2, 4 * 6, L): blocks of a (6, 7) output, kernel (2, 3), dilation (2, 1), padding 1, stride (1, 2)
    check(_rearrange, _rand((2, 8, 7, 10), dtype), _rand((2, 1, 4, 3, 5), dtype, 1), _rand((2, 24, 24), dtype, 2),
          dtype=dtype)


# ---------------------------------------------------------------------------------------------------- pad
def _pads(x, x3, x5):  # noqa: ANN001, ANN202
    xt = x.transpose(0, 1, 3, 2)  # strided: read in place by the pad kernel
    return (
        F.pad(x, (1, 1, 1, 1)),
        F.pad(x, (2, -1, 0, 3), value=-1.5),  # negative pads crop
        F.pad(x, (0, 0, 0, 0, 1, 2, 0, 1), value=float("inf")),  # batch and channel dims
        F.pad(xt, (3, 0)),
        F.pad(x[:, :, ::2, ::-1], (1, 2, 2, 1), value=7.0),  # sliced and reversed input
        F.pad(x, (-2, -1, -1, -3)),
        F.pad(x, (2, 3, 1, 2), mode="reflect"),
        F.pad(xt, (1, -1, 4, 0), mode="reflect"),
        F.pad(x3, (2, 1), mode="reflect"),
        F.pad(x5, (1, 1, 2, 0, 1, 1), mode="reflect"),
        F.pad(x, (3, 3, 3, 3), mode="replicate"),
        F.pad(x3, (0, 4), mode="replicate"),
        F.pad(x5, (2, 1, 0, 1, 1, 2), mode="replicate"),
        F.pad(xt[0], (1, 2, 3, 0), mode="replicate"),  # unbatched
        F.pad(x, (1, 2, 3, 4), mode="circular"),
        F.pad(x, (-1, 2, 2, -3), mode="circular"),
        F.pad(x3, (3, 3), mode="circular"),
        F.pad(x5, (1, 1, 1, 1, 1, 1), mode="circular"),
        F.pad(x.reshape(2, 3, 63)[0], (1, 2)),  # 2-d input
    )


@pytest.mark.parametrize("dtype", FLOATS)
def test_pad(dtype: type) -> None:
    check(_pads, _rand((2, 3, 7, 9), dtype), _rand((2, 3, 5), dtype, 1), _rand((1, 2, 3, 4, 5), dtype, 2),
          dtype=dtype)


def test_int_dtypes() -> None:
    # pad and the shuffles move data of any dtype (interpolate and fold/unfold take floats only)
    x = np.arange(2 * 4 * 2 * 3, dtype=np.int64).reshape(2, 4, 2, 3)
    check(lambda x: (F.pad(x, (1, 2), value=-3), F.pad(x, (2, 2, 1, 0), mode="reflect"),
                     F.pad(x.transpose(0, 1, 3, 2), (0, 1, 1, 0), mode="circular"), F.pixel_shuffle(x, 2),
                     F.channel_shuffle(x, 2), F.pixel_unshuffle(x[:, :, :, :2], 2)), x)


# ---------------------------------------------------------------------------------------------------- large / empty
def test_large_parallel() -> None:
    x = _rand((2, 16, 40, 48), np.float32, 3)
    check(lambda x: (F.interpolate(x, scale_factor=2), F.interpolate(x, scale_factor=2, mode="bilinear"),
                     F.interpolate(x, size=(30, 100), mode="bicubic"),
                     F.interpolate(x, size=(17, 20), mode="bilinear", antialias=True),
                     F.pixel_shuffle(x, 2), F.unfold(x, 3, padding=1), F.fold(F.unfold(x, 3, padding=1), (40, 48), 3,
                                                                              padding=1),
                     F.pad(x, (2, 2, 2, 2), mode="reflect"), F.pad(x, (1, 1, 1, 1), value=0.5)), x, dtype=np.float32)


def test_size0_size1_and_host_fallbacks() -> None:
    x0 = _rand((0, 4, 5, 6), np.float32)
    check(lambda x: (F.interpolate(x, scale_factor=2, mode="bilinear"), F.interpolate(x, size=(3, 3)),
                     F.pixel_shuffle(x, 2), F.unfold(x, 2), F.pad(x, (1, 1, 1, 1), mode="reflect"),
                     F.pad(x, (1, 1))), x0, dtype=np.float32)
    x1 = _rand((1, 1, 1, 1), np.float32)
    check(lambda x: (F.interpolate(x, size=(3, 2), mode="bicubic"), F.interpolate(x, scale_factor=3),
                     F.unfold(x, 1), F.pad(x, (1, 1, 1, 1), mode="replicate"), F.pad(x, (0, 0, -1, 0))), x1,
          dtype=np.float32)
    # float16 stays on the host (Numba has no float16 arrays)
    check(lambda x: (F.interpolate(x, scale_factor=2, mode="bilinear"), F.pixel_shuffle(x, 1),
                     F.pad(x, (1, 1))), _rand((1, 1, 3, 3), np.float16), dtype=np.float32, host_steps=3)
