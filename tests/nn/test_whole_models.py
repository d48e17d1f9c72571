"""Whole CNNs and an MLP built with the same structure in ``nngraph.nn`` (``nngraph.models``) and ``torch.nn``
(``tests/models/torch_reference.py``), torch's weights loaded through ``state_dict``: outputs agree in eval and in
train mode, and BatchNorm running statistics (``running_mean``, ``running_var``, ``num_batches_tracked``) agree
after one and after several train-mode forwards (exponential and cumulative moving averages).

* ResNet-style: ``resnet18`` (BatchNorm, residual adds, max pool, adaptive average pool);
* MobileNet-style: ``mobilenet_v2`` (depthwise convs, ReLU6, inverted residuals; dropout 0 so train mode is
  deterministic);
* a small U-Net (transposed convs, skip concatenation);
* the 784-512-512-10 MLP.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nngraph import models  # noqa: E402
from tests.models import torch_reference as ref  # noqa: E402
from tests.models.helpers import assert_close, perturb_batchnorm, torch_state  # noqa: E402

torch.set_num_threads(1)  # tests run in parallel on 2 cores; more threads only contend

# name -> (nngraph factory, torch factory, kwargs, input shape)
MODELS: dict[str, tuple[Callable[..., Any], Callable[..., Any], dict, tuple[int, ...]]] = {
    "resnet": (models.resnet18, ref.resnet18, {"num_classes": 10}, (4, 3, 32, 32)),
    "mobilenet": (models.mobilenet_v2, ref.mobilenet_v2, {"num_classes": 10, "dropout": 0.0}, (2, 3, 64, 64)),
    "unet": (models.unet, ref.unet, {"num_classes": 3, "base": 8}, (2, 3, 32, 32)),
    "mlp": (models.mlp, ref.MLP, {"num_classes": 10}, (4, 784)),
}
# Train-mode BatchNorm divides by batch standard deviations of small batches: a little looser than eval.
TRAIN_TOL = dict(rtol=2e-3, atol_scale=2e-4)


def _build(name: str, momentum: Any = 0.1) -> tuple[Any, Any]:
    ours_f, theirs_f, kwargs, _ = MODELS[name]
    torch.manual_seed(0)
    theirs = perturb_batchnorm(theirs_f(**kwargs))
    ours = ours_f(**kwargs)
    ours.load_state_dict(torch_state(theirs))
    for m in (*ours.modules(), *theirs.modules()):
        if hasattr(m, "running_mean") and hasattr(m, "momentum"):
            m.momentum = momentum
    return ours, theirs


def _inputs(name: str, seed: int) -> np.ndarray:
    shape = MODELS[name][3]
    # Shifted and scaled so that batch statistics differ visibly from the running ones.
    return (np.random.default_rng(seed).standard_normal(shape, dtype=np.float32) * 1.5 + 0.3).astype(np.float32)


def _run_torch(model: Any, x: np.ndarray) -> Any:
    with torch.no_grad():
        return model(torch.from_numpy(x.copy()))


def _assert_bn_state_equal(ours: Any, theirs: Any) -> int:
    """Every BatchNorm buffer matches; returns how many BatchNorm layers were compared."""
    ours_state = ours.state_dict()
    n = 0
    for key, value in theirs.state_dict().items():
        leaf = key.rsplit(".", 1)[-1]
        if leaf not in ("running_mean", "running_var", "num_batches_tracked"):
            continue
        want = value.numpy()
        got = ours_state[key]
        if leaf == "num_batches_tracked":
            assert got.dtype == np.int64 and int(got) == int(want), f"{key}: {got} != {want}"
            n += 1
        else:
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=key)
    return n


@pytest.mark.parametrize("name", list(MODELS))
def test_eval_mode_matches(name: str) -> None:
    ours, theirs = _build(name)
    ours.eval()
    theirs.eval()
    x = _inputs(name, 0)
    assert_close(ours(x), _run_torch(theirs, x), what=f"{name} eval")
    _assert_bn_state_equal(ours, theirs)  # eval forwards leave the statistics alone


@pytest.mark.parametrize("momentum", [0.1, None], ids=["ema", "cumulative"])
@pytest.mark.parametrize("name", list(MODELS))
def test_train_mode_outputs_and_running_stats(name: str, momentum: Any) -> None:
    if name == "mlp" and momentum is None:
        pytest.skip("no BatchNorm")
    ours, theirs = _build(name, momentum)
    ours.train()
    theirs.train()
    for step in range(3):
        x = _inputs(name, 10 + step)
        assert_close(ours(x), _run_torch(theirs, x), what=f"{name} train step {step}", **TRAIN_TOL)
        n_bn = _assert_bn_state_equal(ours, theirs)
        if name != "mlp":
            assert n_bn > 0
            first = next(v for k, v in ours.state_dict().items() if k.endswith("num_batches_tracked"))
            assert int(first) == 3 + step + 1  # perturb_batchnorm starts the count at 3
    # The updated running statistics are what eval mode now normalizes with.
    ours.eval()
    theirs.eval()
    x = _inputs(name, 99)
    assert_close(ours(x), _run_torch(theirs, x), what=f"{name} eval after training")


def test_train_and_eval_differ_for_batchnorm_models() -> None:
    """Sanity check that the train-mode comparison is not vacuous: batch statistics change the output."""
    ours, _ = _build("resnet")
    x = _inputs("resnet", 5)
    ours.eval()
    y_eval = ours(x)
    ours.train()
    y_train = ours(x)
    assert not np.allclose(y_eval, y_train, rtol=1e-2, atol=1e-3)
