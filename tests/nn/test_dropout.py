"""Dropout in training mode: statistics, channel-wise masks, alpha dropout moments, seeding, in-place writes."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
import nngraph.nn.functional as F
from nngraph.ops import Fusion, get_op

ALPHA_PRIME = 1.7580993408473766  # SELU scale * alpha


def ones(*shape, dtype=np.float64):
    return np.ones(shape, dtype=dtype)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keep_rate_and_scale(p):
    nngraph.manual_seed(0)
    x = ones(200, 500)
    y = nn.Dropout(p)(x)
    kept = y != 0
    # 100k Bernoulli draws: the keep rate is within 5 standard deviations of 1 - p.
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / x.size)
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-12)
    assert abs(y.mean() - 1) < 0.05  # E[y] = x


def test_dropout_scales_each_value():
    nngraph.manual_seed(1)
    x = np.random.default_rng(0).standard_normal((50, 40)).astype(np.float32)
    y = F.dropout(x, 0.25)
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / 0.75, rtol=1e-6)
    assert y.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("fn", [F.dropout, F.alpha_dropout, F.feature_alpha_dropout, F.dropout2d])
def test_dtype_is_kept(fn, dtype):
    y = fn(ones(4, 3, 5, 2, dtype=dtype), 0.5, True)
    assert y.dtype == dtype and y.shape == (4, 3, 5, 2)


@pytest.mark.parametrize("layer,shape", [
    (nn.Dropout1d, (30, 40, 7)),
    (nn.Dropout2d, (30, 40, 3, 4)),
    (nn.Dropout2d, (30, 40, 5)),  # torch reads 3-d input as (N, C, L)
    (nn.Dropout3d, (30, 40, 2, 3, 2)),
])
def test_channel_masks(layer, shape):
    nngraph.manual_seed(2)
    p = 0.4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        y = layer(p)(ones(*shape))
    per_channel = y.reshape(shape[0], shape[1], -1)
    dropped = (per_channel == 0).all(axis=2)
    kept = (per_channel == 1 / (1 - p)).all(axis=2)
    assert (dropped | kept).all(), "every channel is either dropped or kept whole"
    assert abs(dropped.mean() - p) < 5 * np.sqrt(p * (1 - p) / dropped.size)


@pytest.mark.parametrize("layer,shape", [(nn.Dropout1d, (60, 9)), (nn.Dropout3d, (60, 2, 3, 2))])
def test_unbatched_channel_masks(layer, shape):
    nngraph.manual_seed(3)
    y = layer(0.5)(ones(*shape))
    assert y.shape == shape
    per_channel = y.reshape(shape[0], -1)
    assert ((per_channel == 0).all(axis=1) | (per_channel == 2).all(axis=1)).all()
    assert 0 < (per_channel[:, 0] == 0).sum() < shape[0]


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_alpha_dropout_preserves_mean_and_variance(p):
    nngraph.manual_seed(4)
    x = np.random.default_rng(1).standard_normal(400_000)
    y = nn.AlphaDropout(p)(x)
    assert abs(y.mean()) < 0.02
    assert abs(y.var() - 1) < 0.03
    # Dropped units all take one value, SELU's saturation mapped through the affine correction.
    a = 1 / np.sqrt((ALPHA_PRIME**2 * p + 1) * (1 - p))
    dropped_value = -ALPHA_PRIME * a + ALPHA_PRIME * a * p
    dropped = np.isclose(y, dropped_value, rtol=0, atol=1e-12)
    assert abs(dropped.mean() - p) < 0.01


def test_alpha_dropout_selu_network_stays_normalized():
    """SELU + AlphaDropout keeps activations at zero mean, unit variance through many layers."""
    nngraph.manual_seed(5)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2000, 64))
    for _ in range(6):
        w = rng.standard_normal((64, 64)) / np.sqrt(64)
        x = nn.AlphaDropout(0.2)(F.selu(x @ w.T))
    assert abs(x.mean()) < 0.1 and abs(x.var() - 1) < 0.15


def test_feature_alpha_dropout_channels_and_moments():
    nngraph.manual_seed(6)
    p = 0.3
    x = np.random.default_rng(3).standard_normal((400, 200, 6))
    y = nn.FeatureAlphaDropout(p)(x)
    a = 1 / np.sqrt((ALPHA_PRIME**2 * p + 1) * (1 - p))
    b_kept = ALPHA_PRIME * a * p
    kept = np.isclose(y, a * x + b_kept, rtol=0, atol=1e-12).all(axis=2)
    dropped = np.isclose(y, -ALPHA_PRIME * a + b_kept, rtol=0, atol=1e-12).all(axis=2)
    assert (kept ^ dropped).all(), "every channel is either kept (affine) or dropped (constant) whole"
    assert abs(dropped.mean() - p) < 0.01
    assert abs(y.mean()) < 0.02 and abs(y.var() - 1) < 0.03


@pytest.mark.parametrize("make", [lambda: nn.Dropout(0.5), lambda: nn.Dropout2d(0.5), lambda: nn.AlphaDropout(0.5),
                                  lambda: nn.FeatureAlphaDropout(0.5), lambda: nn.Dropout1d(0.5),
                                  lambda: nn.Dropout3d(0.5)])
def test_manual_seed_reproduces_masks(make):
    layer = make()
    rank = {nn.Dropout1d: 3, nn.Dropout2d: 4}.get(type(layer), 5)
    x = np.random.default_rng(4).standard_normal((4, 6, 3, 2, 2)).reshape((4, 6, 3, 2, 2)[:rank - 1] + (-1,))
    nngraph.manual_seed(123)
    first = layer(x)
    second = layer(x)
    nngraph.manual_seed(123)
    again = layer(x)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second), "consecutive calls draw fresh masks"
    nngraph.manual_seed(124)
    assert not np.array_equal(first, layer(x))


@pytest.mark.parametrize("layer", [nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
                                   nn.FeatureAlphaDropout])
def test_eval_is_identity_without_copy(layer):
    x = np.random.default_rng(5).standard_normal((2, 3, 4, 5)).astype(np.float32)
    if layer is nn.Dropout1d:
        x = x.reshape(2, 3, 20)
    m = layer(0.7).eval()
    assert m(x) is x  # as in torch: no copy, no random draws
    m.train()
    assert m(x) is not x


def test_p0_and_empty_input_are_identity():
    x = ones(3, 4)
    assert F.dropout(x, 0.0, True) is x
    assert F.alpha_dropout(x, 0, True) is x
    empty = ones(0, 4)
    assert F.dropout(empty, 0.5, True) is empty


@pytest.mark.parametrize("fn", [F.dropout, F.alpha_dropout, F.feature_alpha_dropout])
def test_p1_drops_everything(fn):
    x = np.array([[1.0, -2.0], [np.inf, 3.0]])
    y = fn(x, 1.0, True)
    np.testing.assert_array_equal(y, [[0.0, -0.0], [np.nan, 0.0]])  # x * 0, as in torch


@pytest.mark.parametrize("fn,shape", [(F.dropout, (6, 7)), (F.dropout1d, (6, 7)), (F.dropout2d, (2, 3, 4, 4)),
                                      (F.dropout3d, (3, 2, 2, 2)), (F.alpha_dropout, (6, 7)),
                                      (F.feature_alpha_dropout, (6, 7))])
def test_inplace_writes_into_input(fn, shape):
    x = np.random.default_rng(6).standard_normal(shape)
    before = x.copy()
    nngraph.manual_seed(7)
    out = fn(x, 0.5, True, False)
    np.testing.assert_array_equal(x, before)  # inplace=False never touches the input
    nngraph.manual_seed(7)
    same = fn(x, 0.5, True, True)
    assert same is x
    np.testing.assert_array_equal(x, out)


def test_inplace_layers_write_into_input():
    x = ones(5, 6)
    assert nn.Dropout(0.5, inplace=True)(x) is x
    assert (x == 0).any()
    # AlphaDropout ignores inplace, as torch's layer does.
    z = ones(5, 6)
    assert nn.AlphaDropout(0.5, inplace=True)(z) is not z
    np.testing.assert_array_equal(z, 1)


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_p_validation(p):
    for layer in (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout):
        with pytest.raises(ValueError, match=rf"dropout probability has to be between 0 and 1, but got {p}"):
            layer(p)
    for fn in (F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout, F.feature_alpha_dropout):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            fn(ones(2, 3, 4), p, False)


def test_dropout2d_rank_warnings():
    with pytest.warns(UserWarning, match="3D input to dropout2d"):
        F.dropout2d(ones(2, 3, 4), 0.5, False)
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        F.dropout2d(ones(2, 3), 0.5, False)
    with pytest.warns(UserWarning, match="Received a 3-D input to dropout3d"):
        F.dropout3d(ones(2, 3, 4), 0.5, False)


def test_train_eval_propagate_through_containers():
    model = nn.Sequential(nn.Dropout(0.5), nn.Sequential(nn.Dropout2d(0.5)))
    x = ones(4, 3, 2, 2)
    model.eval()
    assert model(x) is x
    model.train()
    assert (model(x) == 0).any()


def test_repr_and_registry():
    assert repr(nn.Dropout()) == "Dropout(p=0.5, inplace=False)"
    assert repr(nn.Dropout2d(0.1, True)) == "Dropout2d(p=0.1, inplace=True)"
    assert repr(nn.FeatureAlphaDropout(0)) == "FeatureAlphaDropout(p=0, inplace=False)"
    for name in ("dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout"):
        assert get_op(name).fusion is Fusion.OPAQUE
