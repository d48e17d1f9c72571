"""nn.init: same distributions and bounds as torch.nn.init (compared statistically, values differ)."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nngraph
from nngraph.nn import init


def _pair(shape):
    return np.zeros(shape, np.float32), torch.zeros(shape)


@pytest.mark.parametrize("name,kwargs,shape", [
    ("uniform_", dict(a=-0.5, b=2.0), (200, 300)),
    ("normal_", dict(mean=1.0, std=0.5), (200, 300)),
    ("xavier_uniform_", dict(gain=2.0), (200, 300)),
    ("xavier_normal_", dict(), (64, 32, 3, 3)),
    ("kaiming_uniform_", dict(a=math.sqrt(5)), (128, 64, 3, 3)),
    ("kaiming_normal_", dict(mode="fan_out", nonlinearity="relu"), (128, 64, 3, 3)),
    ("trunc_normal_", dict(mean=0.0, std=1.0, a=-1.0, b=1.5), (300, 300)),
])
def test_distribution_matches_torch(name, kwargs, shape):
    ours, ref = _pair(shape)
    nngraph.manual_seed(0)
    getattr(init, name)(ours, **kwargs)
    getattr(torch.nn.init, name)(ref, **kwargs)
    ref = ref.numpy()
    if "normal" not in name or name == "trunc_normal_":  # bounded distributions: same support
        assert ours.min() >= ref.min() - 0.01 * abs(ref.min()) - 1e-3
        assert ours.max() <= ref.max() + 0.01 * abs(ref.max()) + 1e-3
    np.testing.assert_allclose(ours.mean(), ref.mean(), atol=0.02 * ref.std() + 1e-3)
    np.testing.assert_allclose(ours.std(), ref.std(), rtol=0.03)


@pytest.mark.parametrize("nl,param", [("linear", None), ("relu", None), ("tanh", None), ("leaky_relu", 0.2),
                                      ("selu", None), ("sigmoid", None), ("conv2d", None)])
def test_calculate_gain(nl, param):
    assert init.calculate_gain(nl, param) == pytest.approx(torch.nn.init.calculate_gain(nl, param))


def test_deterministic_inits_match_torch_exactly():
    for fn, shape, kw in [("eye_", (3, 5), {}), ("dirac_", (4, 2, 3, 3), {}), ("dirac_", (6, 2, 3), {"groups": 2}),
                          ("constant_", (2, 3), {"val": 0.3}), ("ones_", (4,), {}), ("zeros_", (2, 2), {})]:
        ours, ref = _pair(shape)
        getattr(init, fn)(ours, **kw)
        getattr(torch.nn.init, fn)(ref, **kw)
        np.testing.assert_array_equal(ours, ref.numpy(), err_msg=fn)


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (3, 2, 2, 2)])
def test_orthogonal(shape):
    w = np.zeros(shape)
    init.orthogonal_(w, gain=2.0)
    flat = w.reshape(shape[0], -1)
    gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-8)


def test_sparse_zero_fraction():
    w = np.zeros((10, 20))
    init.sparse_(w, sparsity=0.3)
    assert ((w == 0).sum(axis=0) >= 3).all()


def test_generator_argument_is_reproducible():
    a, b = np.zeros(10), np.zeros(10)
    init.normal_(a, generator=np.random.default_rng(5))
    init.normal_(b, generator=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
