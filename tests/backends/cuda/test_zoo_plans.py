"""Every zoo model (tiny configurations) plans for CUDA with no host steps: every node has a CUDA lowering that
accepts it. Planning needs no GPU and runs no kernel (their numerics: test_models.py, test_seq.py; their compiling
for a GPU: test_ptx.py)."""
from __future__ import annotations

import numpy as np
import pytest

from nngraph import models
from nngraph.backends.cuda.ptx import plan_for

rng = np.random.default_rng(0)


def _img(c: int, h: int) -> np.ndarray:
    return rng.standard_normal((1, c, h, h), dtype=np.float32)


ZOO = {
    "mlp": ({}, lambda: (rng.standard_normal((1, 784), dtype=np.float32),)),
    "lenet5": ({}, lambda: (_img(1, 28),)),
    "resnet18": ({"num_classes": 10}, lambda: (_img(3, 32),)),
    "resnet34": ({"num_classes": 10}, lambda: (_img(3, 32),)),
    "resnet50": ({"num_classes": 10}, lambda: (_img(3, 32),)),
    "mobilenet_v2": ({"num_classes": 10}, lambda: (_img(3, 32),)),
    "vgg11": ({"num_classes": 10, "small_input": True}, lambda: (_img(3, 32),)),
    "unet": ({}, lambda: (_img(3, 36),)),
    "lstm_classifier": ({}, lambda: (rng.integers(1, 10000, (1, 6)),)),
    "gru_speech": ({}, lambda: (rng.standard_normal((1, 40, 12), dtype=np.float32),)),
    "bert_tiny": ({}, lambda: (rng.integers(1, 30522, (1, 8)),)),
    "vit_tiny": ({"image_size": 32, "num_classes": 10}, lambda: (_img(3, 32),)),
}


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_model_plans_without_host_steps(name: str) -> None:
    kwargs, inputs = ZOO[name]
    plan = plan_for(getattr(models, name)(**kwargs), *inputs())
    assert plan.host_nodes == []
    assert plan.n_launches > 0


def test_every_op_has_a_cuda_lowering() -> None:
    """Every registry op lowers to CUDA except the ones the CPU backend does not lower either: the folded-BatchNorm
    weight ops (computed on the host with the weights, like every weight-only value) and ``embedding_renorm`` (it
    renormalizes the user's weight in place)."""
    from nngraph.backends.cuda import register_lowerings
    from nngraph.ops.registry import REGISTRY

    register_lowerings()
    missing = sorted(n for n, op in REGISTRY.items() if "cuda" not in op.lowerings)
    assert missing == sorted(n for n, op in REGISTRY.items() if "cpu" not in op.lowerings)
    assert missing == ["bn_fold_bias", "bn_fold_weight", "bn_scale", "embedding_renorm"]


def test_plan_counts_script() -> None:
    """``bench/cuda_plan.py``'s counts: the MLP at batch 1 is three GEMV launches on both plans."""
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "bench", "cuda_plan.py")
    spec = importlib.util.spec_from_file_location("cuda_plan", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for use_blas in (True, False):
        r = mod.plan_counts("mlp", use_blas)
        assert r["steps"] == 3 and r["cublas"] == 0 and r["host"] == 0 and r["top"] == [("gemv", 3)]
