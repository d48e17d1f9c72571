"""BatchNorm/InstanceNorm running statistics over several steps, mode switching, dtype conversion and the
normalization primitives, compared with PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nngraph.nn as nn
import nngraph.nn.functional as F
from nngraph.errors import InputError
from nngraph.ops import get_op
from nngraph.ops.registry import TensorSpec


def _pair(make, dtype=np.float32):
    tm = make(torch.nn).to({np.float32: torch.float32, np.float64: torch.float64}[dtype])
    om = make(nn).to(dtype)
    om.load_state_dict({k: v.numpy().copy() for k, v in tm.state_dict().items()})
    return om, tm


def _assert_state_equal(om, tm, atol=1e-5, rtol=1e-5):
    ref = {k: v.numpy() for k, v in tm.state_dict().items()}
    ours = om.state_dict()
    assert list(ours) == list(ref)
    for k, v in ref.items():
        assert np.asarray(ours[k]).dtype == v.dtype, k
        np.testing.assert_allclose(ours[k], v, atol=atol, rtol=rtol, err_msg=k)


STEP_CASES = [
    ("bn1d_momentum", lambda nn: nn.BatchNorm1d(3), (6, 3)),
    ("bn1d_cma", lambda nn: nn.BatchNorm1d(3, momentum=None), (4, 3, 5)),
    ("bn2d_momentum", lambda nn: nn.BatchNorm2d(4, momentum=0.1), (2, 4, 3, 3)),
    ("bn2d_cma_no_affine", lambda nn: nn.BatchNorm2d(4, momentum=None, affine=False), (3, 4, 2, 2)),
    ("bn3d_cma", lambda nn: nn.BatchNorm3d(2, momentum=None), (2, 2, 2, 3, 2)),
    ("in1d_track", lambda nn: nn.InstanceNorm1d(3, track_running_stats=True), (2, 3, 5)),
    ("in2d_track_affine", lambda nn: nn.InstanceNorm2d(3, affine=True, track_running_stats=True), (2, 3, 3, 3)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,make,shape", STEP_CASES, ids=[c[0] for c in STEP_CASES])
def test_running_stats_over_several_steps(name, make, shape, dtype):
    om, tm = _pair(make, dtype)
    rng = np.random.default_rng(0)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for step in range(6):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        with torch.no_grad():
            ref = tm(torch.from_numpy(x.copy())).numpy()
        out = om(x)
        np.testing.assert_allclose(out, ref, atol=10 * tol, rtol=10 * tol)
        _assert_state_equal(om, tm, atol=tol * (step + 2), rtol=tol)
    if om.num_batches_tracked is not None:
        assert int(om.num_batches_tracked) == int(tm.num_batches_tracked)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_train_eval_switching(momentum):
    om, tm = _pair(lambda nn: nn.BatchNorm2d(3, momentum=momentum))
    rng = np.random.default_rng(1)
    for mode in ["train", "train", "eval", "train", "eval", "eval", "train"]:
        om.train(mode == "train")
        tm.train(mode == "train")
        x = (rng.standard_normal((4, 3, 2, 2)) * 2 + 0.5).astype(np.float32)
        with torch.no_grad():
            ref = tm(torch.from_numpy(x.copy())).numpy()
        np.testing.assert_allclose(om(x), ref, atol=1e-5, rtol=1e-5)
        _assert_state_equal(om, tm)
    assert int(om.num_batches_tracked) == 4


def test_eval_uses_running_stats_and_batch1():
    om, tm = _pair(lambda nn: nn.BatchNorm1d(3))
    om.running_mean[...] = [1.0, -2.0, 0.5]
    om.running_var[...] = [4.0, 0.25, 1.0]
    om.eval()
    x = np.array([[1.0, -2.0, 2.5]], dtype=np.float32)
    np.testing.assert_allclose(om(x), [[0.0, 0.0, 2.0 / np.sqrt(1 + 1e-5)]], rtol=1e-6)
    assert int(om.num_batches_tracked) == 0


def test_no_running_stats_uses_batch_stats_in_eval():
    m = nn.BatchNorm1d(2, track_running_stats=False).eval()
    assert m.running_mean is None and m.num_batches_tracked is None
    x = np.array([[1.0, 10.0], [3.0, 20.0]], dtype=np.float32)
    np.testing.assert_allclose(m(x), [[-1.0, -1.0], [1.0, 1.0]], atol=1e-4)
    assert list(m.state_dict()) == ["weight", "bias"]


def test_empty_batch_counts_but_keeps_stats():
    om, tm = _pair(lambda nn: nn.BatchNorm2d(3))
    x = np.zeros((0, 3, 2, 2), dtype=np.float32)
    assert om(x).shape == (0, 3, 2, 2)
    tm(torch.from_numpy(x))
    _assert_state_equal(om, tm)
    assert int(om.num_batches_tracked) == 1


@pytest.mark.parametrize("convert", ["half", "double", "float"])
def test_dtype_conversion_keeps_num_batches_tracked_int64(convert):
    m = getattr(nn.BatchNorm2d(3), convert)()
    assert m.num_batches_tracked.dtype == np.int64
    expected = {"half": np.float16, "double": np.float64, "float": np.float32}[convert]
    for name in ("weight", "bias", "running_mean", "running_var"):
        assert getattr(m, name).dtype == expected
    m(np.ones((2, 3, 2, 2), dtype=expected))
    assert m.num_batches_tracked.dtype == np.int64 and int(m.num_batches_tracked) == 1


def test_constructor_dtype():
    m = nn.BatchNorm1d(4, dtype=np.float64, device="cpu")
    assert all(a.dtype == np.float64 for k, a in m.state_dict().items() if k != "num_batches_tracked")
    assert nn.LayerNorm(3, dtype=np.float64).weight.dtype == np.float64
    assert nn.GroupNorm(1, 3, dtype=np.float16).bias.dtype == np.float16
    assert nn.RMSNorm(3, dtype=np.float64).weight.dtype == np.float64


def test_half_input_matches_torch():
    om, tm = _pair(lambda nn: nn.BatchNorm2d(3))
    om.half(), tm.half()
    x = np.random.default_rng(2).standard_normal((4, 3, 3, 3)).astype(np.float16)
    with torch.no_grad():
        ref = tm(torch.from_numpy(x.copy())).numpy()
    out = om(x)
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.astype(np.float32), ref.astype(np.float32), atol=1e-2, rtol=1e-2)
    np.testing.assert_allclose(om.running_var, tm.running_var.numpy(), atol=1e-3, rtol=1e-3)


def test_half_input_with_float32_parameters():
    """torch's CPU mixed precision: float16 input, float32 weights and running statistics."""
    x = np.random.default_rng(3).standard_normal((5, 3)).astype(np.float16)
    m, v = np.zeros(3, np.float32), np.ones(3, np.float32)
    tm, tv = torch.zeros(3), torch.ones(3)
    out = F.batch_norm(x, m, v, np.ones(3, np.float32), None, True)
    ref = torch.nn.functional.batch_norm(torch.from_numpy(x), tm, tv, torch.ones(3), None, True)
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.astype(np.float32), ref.float().numpy(), atol=1e-2)
    np.testing.assert_allclose(m, tm.numpy(), atol=1e-4)
    np.testing.assert_allclose(v, tv.numpy(), atol=1e-4)


def test_functional_updates_running_arrays_in_place():
    x = np.random.default_rng(4).standard_normal((8, 2, 3))
    mean, var = np.zeros(2), np.ones(2)
    ids = id(mean), id(var)
    F.batch_norm(x, mean, var, training=True, momentum=0.25)
    assert (id(mean), id(var)) == ids
    batch_mean = x.mean(axis=(0, 2))
    batch_var = x.var(axis=(0, 2), ddof=1)
    np.testing.assert_allclose(mean, 0.25 * batch_mean, rtol=1e-12)
    np.testing.assert_allclose(var, 0.75 + 0.25 * batch_var, rtol=1e-12)
    before = mean.copy(), var.copy()
    F.batch_norm(x, mean, var, training=False)
    np.testing.assert_array_equal(mean, before[0])
    np.testing.assert_array_equal(var, before[1])


@pytest.mark.parametrize("make,shape,match", [
    (lambda: nn.BatchNorm1d(3), (3,), r"BatchNorm1d\(3, .*expected input of shape \(N, 3\) or \(N, 3, L\), got \(3,\)"),
    (lambda: nn.BatchNorm2d(3), (3, 2, 2), r"\(N, 3, H, W\), got \(3, 2, 2\)"),
    (lambda: nn.BatchNorm2d(3).eval(), (3, 2, 2), r"\(N, 3, H, W\), got \(3, 2, 2\)"),
    (lambda: nn.BatchNorm3d(3), (2, 3, 2, 2), r"\(N, 3, D, H, W\), got \(2, 3, 2, 2\)"),
    (lambda: nn.InstanceNorm2d(3), (2, 2), r"\(N, 3, H, W\) or \(3, H, W\), got \(2, 2\)"),
    (lambda: nn.InstanceNorm1d(3), (3, 1), r"more than 1 spatial element"),
    (lambda: nn.BatchNorm1d(3), (1, 3), r"more than 1 value per channel when training"),
])
def test_bad_rank_raises_input_error(make, shape, match):
    with pytest.raises(InputError, match=match):
        make()(np.zeros(shape, dtype=np.float32))


def test_unbatched_instance_norm_matches_batched():
    x = np.random.default_rng(5).standard_normal((3, 4, 4)).astype(np.float32)
    m = nn.InstanceNorm2d(3, affine=True)
    np.testing.assert_allclose(m(x), m(x[None])[0], rtol=1e-6)


def test_reset_running_stats():
    m = nn.BatchNorm1d(2)
    m(np.random.default_rng(6).standard_normal((4, 2)).astype(np.float32))
    m.reset_running_stats()
    np.testing.assert_array_equal(m.running_mean, 0)
    np.testing.assert_array_equal(m.running_var, 1)
    assert int(m.num_batches_tracked) == 0 and m.num_batches_tracked.dtype == np.int64


def test_statistics_are_stable_for_large_offsets():
    rng = np.random.default_rng(7)
    x64 = 1e4 + 1e-2 * rng.standard_normal((16, 2, 8, 8))
    x = x64.astype(np.float32)
    mean, var = get_op("batch_norm_stats")(x)
    exact = x.astype(np.float64)
    np.testing.assert_allclose(mean, exact.mean(axis=(0, 2, 3)), rtol=1e-7)
    np.testing.assert_allclose(var, exact.var(axis=(0, 2, 3)), rtol=1e-4)
    y = nn.LayerNorm(64, elementwise_affine=False)(x.reshape(32, 64))
    ref = exact.reshape(32, 64)
    ref = (ref - ref.mean(1, keepdims=True)) / np.sqrt(ref.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, ref, atol=2e-3)


PRIM_CASES = [
    ("batch_norm_stats", lambda r: (r.standard_normal((3, 4, 2)),), {}),
    ("batch_norm", lambda r: (r.standard_normal((3, 4, 2)), r.standard_normal(4), r.uniform(1, 2, 4),
                              r.standard_normal(4), None), {"eps": 1e-5}),
    ("instance_norm", lambda r: (r.standard_normal((3, 4, 2)), None, r.standard_normal(4)), {"eps": 1e-5}),
    ("layer_norm", lambda r: (r.standard_normal((3, 4, 2)), r.standard_normal((4, 2)), None),
     {"normalized_shape": (4, 2), "eps": 1e-5}),
    ("group_norm", lambda r: (r.standard_normal((3, 4, 2)), r.standard_normal(4), r.standard_normal(4)),
     {"num_groups": 2, "eps": 1e-5}),
    ("rms_norm", lambda r: (r.standard_normal((3, 4, 2)), r.standard_normal(2)),
     {"normalized_shape": (2,), "eps": 1e-6}),
    ("local_response_norm", lambda r: (r.standard_normal((3, 4, 2)),), {"size": 3, "alpha": 1e-3, "beta": 0.75,
                                                                         "k": 1.0}),
]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64], ids=["f16", "f32", "f64"])
@pytest.mark.parametrize("name,make,attrs", PRIM_CASES, ids=[c[0] for c in PRIM_CASES])
def test_primitive_shape_rule_and_purity(name, make, attrs, dtype):
    op = get_op(name)
    args = tuple(None if a is None else a.astype(dtype) for a in make(np.random.default_rng(8)))
    snapshot = [None if a is None else a.copy() for a in args]
    out = op(*args, **attrs)
    spec = op.infer(*(None if a is None else TensorSpec.of(a) for a in args), **attrs)
    outs, specs = (out, spec) if op.n_outputs > 1 else ((out,), (spec,))
    for o, s in zip(outs, specs):
        assert TensorSpec.of(o) == s
    for a, b in zip(args, snapshot):
        if a is not None:
            np.testing.assert_array_equal(a, b)


HALF_CASES = [
    ("layer_norm", lambda F, x: F.layer_norm(x, (6,))),
    ("group_norm", lambda F, x: F.group_norm(x, 2)),
    ("instance_norm", lambda F, x: F.instance_norm(x)),
    ("rms_norm", lambda F, x: F.rms_norm(x, (6,))),
    ("rms_norm_tiny", lambda F, x: F.rms_norm(x * 1e-3, (6,))),
    ("local_response_norm", lambda F, x: F.local_response_norm(x, 3, alpha=0.1)),
]


@pytest.mark.parametrize("name,fn", HALF_CASES, ids=[c[0] for c in HALF_CASES])
def test_half_functional_matches_torch(name, fn):
    x = np.random.default_rng(9).standard_normal((2, 4, 6)).astype(np.float16)
    ref = fn(torch.nn.functional, torch.from_numpy(x.copy())).numpy()
    out = fn(F, x)
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.astype(np.float32), ref.astype(np.float32), atol=1e-2, rtol=1e-2)
