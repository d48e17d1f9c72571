"""Vision ops beyond the op table: bit-exact nearest indices, resize sweeps, torch quirks we do or do not follow,
fold/unfold identities and shape rules."""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nngraph.nn.functional as F
from nngraph.ops import get_op
from nngraph.ops.registry import TensorSpec

TF = torch.nn.functional

SCALES = [0.3, 0.45, 0.5, 0.7, 1.0, 1.05, 1.3, 1.5, 1.7, 2.0, 2.1, 2.5, 3.0, 1 / 3]


def _torch(fn, x, *args, **kwargs):
    return fn(torch.from_numpy(np.ascontiguousarray(x)), *args, **kwargs).numpy()


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_nearest_picks_identical_pixels(mode, nd):
    """Index arithmetic follows torch's float32 formulas (and its 2-d shortcuts): outputs are bit-identical."""
    for n in (1, 2, 3, 5, 7, 10):
        x = np.arange(float(n ** nd)).reshape((1, 1) + (n,) * nd)
        for s in SCALES:
            if int(n * s) == 0:
                continue
            for recompute in (None, True):
                kw = dict(scale_factor=s, mode=mode, recompute_scale_factor=recompute)
                np.testing.assert_array_equal(F.interpolate(x, **kw), _torch(TF.interpolate, x, **kw), err_msg=str(kw))
        for size in (1, 4, 9):
            np.testing.assert_array_equal(F.interpolate(x, size=size, mode=mode),
                                          _torch(TF.interpolate, x, size=size, mode=mode))


@pytest.mark.parametrize("mode,nd", [("linear", 1), ("bilinear", 2), ("bicubic", 2), ("trilinear", 3)])
def test_interpolating_modes_sweep(mode, nd):
    rng = np.random.default_rng(nd)
    x = rng.standard_normal((1, 2) + (5, 4, 3)[:nd])
    for s, corners in itertools.product(SCALES, (False, True)):
        if any(int(n * s) == 0 for n in x.shape[2:]):
            continue
        kw = dict(scale_factor=s, mode=mode, align_corners=corners)
        np.testing.assert_allclose(F.interpolate(x, **kw), _torch(TF.interpolate, x, **kw), rtol=1e-9, atol=1e-9,
                                   err_msg=str(kw))


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_antialias_sweep(mode):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 9, 8)).astype(np.float32)
    for size in [(3, 2), (4, 4), (2, 7), (9, 3), (12, 5), (5, 16)]:
        for corners in (False, True):
            kw = dict(size=size, mode=mode, align_corners=corners, antialias=True)
            np.testing.assert_allclose(F.interpolate(x, **kw), _torch(TF.interpolate, x, **kw), rtol=1e-5, atol=1e-5,
                                       err_msg=str(kw))


def test_antialias_output_width_one_is_separable():
    """torch 2.13 returns a constant column when the output width is 1 and the height is resized (a bug); we
    stay separable: the result equals the transposed problem, where torch is right."""
    x = np.arange(14.0).reshape(1, 1, 7, 2) ** 2
    ours = F.interpolate(x, size=(3, 1), mode="bilinear", antialias=True)
    transposed = _torch(TF.interpolate, x.transpose(0, 1, 3, 2), size=(1, 3), mode="bilinear", antialias=True)
    np.testing.assert_allclose(ours, transposed.transpose(0, 1, 3, 2), rtol=1e-12)
    assert np.ptp(ours) > 1  # torch's buggy result here is constant


def test_pixel_unshuffle_empty_batch_has_the_right_shape():
    """torch 2.13 returns an empty input unchanged ((0, 4, 2, 2)); the shape rule gives (0, 16, 1, 1)."""
    y = F.pixel_unshuffle(np.zeros((0, 4, 2, 2)), 2)
    assert y.shape == (0, 16, 1, 1)


def test_shuffles_are_inverse_and_keep_dtype():
    x = np.arange(2 * 18 * 4 * 6, dtype=np.int32).reshape(2, 18, 4, 6)
    np.testing.assert_array_equal(F.pixel_unshuffle(F.pixel_shuffle(x, 3), 3), x)
    assert F.pixel_shuffle(x, 3).dtype == np.int32
    np.testing.assert_array_equal(F.channel_shuffle(F.channel_shuffle(x, 3), 6), x)
    np.testing.assert_array_equal(F.channel_shuffle(x, 3), _torch(TF.channel_shuffle, x, 3))


def test_fold_of_unfold_counts_overlaps():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 7))
    for k, d, p, s in [(2, 1, 0, 2), ((2, 3), (1, 2), (1, 0), (2, 1)), (3, 1, 1, 1)]:
        cols = F.unfold(x, k, d, p, s)
        counts = F.fold(F.unfold(np.ones_like(x), k, d, p, s), (6, 7), k, d, p, s)
        np.testing.assert_allclose(F.fold(cols, (6, 7), k, d, p, s), x * counts, rtol=1e-12)
        np.testing.assert_allclose(cols, _torch(TF.unfold, x, k, d, p, s), rtol=1e-12)


def test_upsample_aliases_warn():
    x = np.zeros((1, 1, 2, 2))
    for fn in (lambda: F.upsample(x, scale_factor=2), lambda: F.upsample_nearest(x, scale_factor=2),
               lambda: F.upsample_bilinear(x, scale_factor=2)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert fn().shape == (1, 1, 4, 4)
        assert any("deprecated" in str(w.message) for w in caught)


CASES = [
    ("pixel_shuffle", (2, 3, 8, 3, 4), dict(upscale_factor=2)),
    ("pixel_unshuffle", (2, 2, 6, 4), dict(downscale_factor=2)),
    ("channel_shuffle", (2, 6, 3), dict(groups=3)),
    ("upsample_nearest", (2, 3, 4, 5), dict(size=(7, 3), scales=(None, None), exact=False)),
    ("upsample_linear", (2, 3, 4, 5, 2), dict(size=(7, 3, 4), scales=(1.8, None, 2.0), align_corners=False)),
    ("upsample_bicubic", (2, 3, 4, 5), dict(size=(8, 10), scales=(2.0, 2.0), align_corners=True)),
    ("upsample_antialias", (2, 3, 9, 5), dict(size=(4, 2), scales=(None, None), align_corners=False,
                                              kind="bicubic")),
    ("unfold", (2, 3, 6, 7), dict(kernel_size=(2, 3), dilation=(1, 2), padding=(1, 0), stride=(2, 1))),
    ("fold", (2, 12, 9), dict(output_size=(5, 7), kernel_size=(2, 3), dilation=(1, 2), padding=(1, 0),
                              stride=(2, 1))),
]


@pytest.mark.parametrize("name,shape,attrs", CASES, ids=[c[0] for c in CASES])
def test_shape_rule_matches_impl(name, shape, attrs):
    op = get_op(name)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    out = op(x, **attrs)
    assert op.infer(TensorSpec.of(x), **attrs) == TensorSpec.of(out)
