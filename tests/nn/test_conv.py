"""Convolution and padding beyond the op table: randomized sweeps against torch, error parity of F.pad, float16,
shape rules, constructor errors and default initialization bounds."""
from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nngraph.nn as nn
import nngraph.nn.functional as F
from nngraph.errors import InputError
from nngraph.ops.registry import REGISTRY, TensorSpec

TF = torch.nn.functional


def _t(a):
    return None if a is None else torch.from_numpy(np.ascontiguousarray(a))


def _conv_cases(rng, count):
    """Random valid (nd, input, weight, bias, kwargs) for conv and conv_transpose."""
    for _ in range(count):
        nd = int(rng.integers(1, 4))
        g = int(rng.choice([1, 1, 2, 3]))
        cin, cout = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
        k = tuple(int(v) for v in rng.integers(1, 4, nd))
        s = tuple(int(v) for v in rng.integers(1, 4, nd))
        d = tuple(int(v) for v in rng.integers(1, 3, nd))
        p = tuple(int(v) for v in rng.integers(0, 3, nd))
        n = int(rng.integers(0, 3))
        size = tuple(int(v) for v in rng.integers(1, 7 if nd < 3 else 5, nd))
        yield nd, g, cin, cout, k, s, d, p, n, size, bool(rng.integers(2))


def test_conv_sweep_matches_torch():
    rng = np.random.default_rng(0)
    checked = 0
    for nd, g, cin, cout, k, s, d, p, n, size, bias in _conv_cases(rng, 150):
        if any(sz + 2 * pp < dd * (kk - 1) + 1 for sz, pp, dd, kk in zip(size, p, d, k)):
            continue
        x = rng.standard_normal((n, cin) + size)
        w = rng.standard_normal((cout, cin // g) + k)
        b = rng.standard_normal(cout) if bias else None
        ref = getattr(TF, f"conv{nd}d")(_t(x), _t(w), _t(b), s, p, d, g).numpy()
        ours = getattr(F, f"conv{nd}d")(x, w, b, s, p, d, g)
        np.testing.assert_allclose(ours, ref, atol=1e-10, rtol=1e-9, err_msg=str((nd, g, k, s, d, p, size)))
        checked += 1
    assert checked > 80


def test_conv_transpose_sweep_matches_torch():
    rng = np.random.default_rng(1)
    checked = 0
    for nd, g, cin, cout, k, s, d, p, n, size, bias in _conv_cases(rng, 150):
        op = tuple(int(rng.integers(0, max(ss, dd))) for ss, dd in zip(s, d))
        out = [(sz - 1) * ss - 2 * pp + dd * (kk - 1) + o + 1 for sz, ss, pp, dd, kk, o in zip(size, s, p, d, k, op)]
        if min(out) < 1:
            continue
        x = rng.standard_normal((n, cin) + size)
        w = rng.standard_normal((cin, cout // g) + k)
        b = rng.standard_normal(cout) if bias else None
        ref = getattr(TF, f"conv_transpose{nd}d")(_t(x), _t(w), _t(b), s, p, op, g, d).numpy()
        ours = getattr(F, f"conv_transpose{nd}d")(x, w, b, s, p, op, g, d)
        np.testing.assert_allclose(ours, ref, atol=1e-10, rtol=1e-9, err_msg=str((nd, g, k, s, d, p, op, size)))
        checked += 1
    assert checked > 80


def _wraps_past_kept(shape, pad):
    """Circular pads longer than the (cropped) dimension: torch then copies from unset memory and returns garbage
    (e.g. size 3 with pad (3, -3)); nngraph refuses them."""
    for i in range(len(pad) // 2):
        lo, hi, size = pad[2 * i], pad[2 * i + 1], shape[-1 - i]
        kept = size - max(-lo, 0) - max(-hi, 0)
        if max(lo, 0) > kept or max(hi, 0) > kept:
            return True
    return False


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_sweep_matches_torch_including_errors(mode):
    """Every random request either succeeds in both libraries with equal results, or fails in both."""
    rng = np.random.default_rng(2)
    for _ in range(300):
        ndim = int(rng.integers(1, 6))
        shape = tuple(int(v) for v in rng.integers(0 if rng.random() < 0.1 else 1, 5, ndim))
        npad = int(rng.integers(1, min(ndim, 3 if mode != "constant" else ndim) + 1))
        pad = tuple(int(v) for v in rng.integers(-3, 5, 2 * npad))
        x = rng.standard_normal(shape)
        if mode == "circular" and _wraps_past_kept(shape, pad):
            with pytest.raises(InputError):
                F.pad(x, pad, mode)
            continue
        try:
            ref = TF.pad(_t(x), pad, mode).numpy()
        except (RuntimeError, NotImplementedError, ValueError):
            with pytest.raises(InputError):
                F.pad(x, pad, mode)
            continue
        np.testing.assert_array_equal(F.pad(x, pad, mode), ref, err_msg=f"{mode} {shape} {pad}")


def test_float16_keeps_dtype():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 6, 6)).astype(np.float16)
    w = (rng.standard_normal((6, 2, 3, 3)) * 0.3).astype(np.float16)
    ref = TF.conv2d(_t(x).float(), _t(w).float(), None, 1, 1, 1, 2).numpy()
    out = F.conv2d(x, w, padding=1, groups=2)
    assert out.dtype == np.float16
    np.testing.assert_allclose(out, ref, atol=2e-2, rtol=2e-2)
    wt = (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float16)
    assert F.conv_transpose2d(x, wt, stride=2, groups=2).dtype == np.float16
    assert F.pad(x, (1, 1, 2, 2), "reflect").dtype == np.float16


def test_shape_rules_match_impl():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 7, 6)).astype(np.float32)
    w = rng.standard_normal((6, 2, 3, 2)).astype(np.float32)
    attrs = dict(stride=(2, 1), padding=((1, 2), (0, 1)), dilation=(1, 2), groups=2)
    out = REGISTRY["conv"](x, w, None, **attrs)
    assert REGISTRY["conv"].infer(TensorSpec.of(x), TensorSpec.of(w), None, **attrs) == TensorSpec.of(out)
    wt = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    attrs = dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), dilation=(1, 1), groups=2)
    out = REGISTRY["conv_transpose"](x, wt, None, **attrs)
    assert REGISTRY["conv_transpose"].infer(TensorSpec.of(x), TensorSpec.of(wt), None, **attrs) == TensorSpec.of(out)
    attrs = dict(pads=((0, 0), (1, -1), (2, 3), (-2, 0)), mode="replicate", value=0.0)
    out = REGISTRY["pad"](x, **attrs)
    assert REGISTRY["pad"].infer(TensorSpec.of(x), **attrs) == TensorSpec.of(out)


@pytest.mark.parametrize("make", [
    lambda m: m.Conv2d(4, 6, 3, groups=4),
    lambda m: m.Conv2d(4, 6, 3, groups=0),
    lambda m: m.Conv1d(3, 6, 3, groups=2),
    lambda m: m.Conv2d(2, 2, 3, padding="full"),
    lambda m: m.Conv2d(2, 2, 3, stride=2, padding="same"),
    lambda m: m.Conv3d(2, 2, 3, padding_mode="mirror"),
    lambda m: m.ConvTranspose2d(2, 2, 3, padding_mode="reflect"),
])
def test_constructor_errors_match_torch(make):
    with pytest.raises(ValueError) as ours:
        make(nn)
    with pytest.raises(ValueError) as ref:
        make(torch.nn)
    def norm(msg):  # torch formats a set, whose order varies between runs
        return re.sub(r"\{[^}]*\}", "{...}", msg)

    assert norm(str(ours.value)) == norm(str(ref.value))


@pytest.mark.parametrize("make,fan_in", [
    (lambda m: m.Conv2d(6, 8, (3, 2), groups=2), 3 * 3 * 2),
    (lambda m: m.ConvTranspose3d(4, 6, 2, groups=2), 3 * 8),  # torch's fan_in of (in, out/groups, *k): out/groups
    (lambda m: m.Conv1d(5, 7, 4), 5 * 4),
])
def test_default_init_bounds(make, fan_in):
    layer = make(nn)
    bound = 1 / math.sqrt(fan_in)
    assert layer.weight.dtype == layer.bias.dtype == np.float32
    assert np.abs(layer.weight).max() <= bound and np.abs(layer.bias).max() <= bound
    assert np.abs(layer.weight).max() > 0.8 * bound  # uniform on the whole interval, not a narrower one


def test_dtype_argument():
    layer = nn.ConvTranspose2d(2, 4, 3, dtype=np.float64)
    assert layer.weight.dtype == layer.bias.dtype == np.float64
    x = np.ones((1, 2, 3, 3))
    assert layer(x).dtype == np.float64


def test_conv_transpose_output_size_range():
    layer = nn.ConvTranspose2d(2, 3, 3, stride=3, padding=1)
    x = np.zeros((1, 2, 4, 4), np.float32)
    sizes = {layer(x, output_size=[h, w]).shape[2:] for h, w in itertools.product(range(10, 13), repeat=2)}
    assert sizes == set(itertools.product(range(10, 13), repeat=2))
    for bad in ([9, 10], [10, 13], [1, 2, 3]):
        with pytest.raises(InputError):
            layer(x, output_size=bad)
