"""Helpers shared by the zoo and whole-model tests: moving torch weights over, perturbing BatchNorm state so that
eval-mode comparisons are not trivially the identity, and scale-aware output comparison."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import torch


def torch_state(model: torch.nn.Module) -> "OrderedDict[str, np.ndarray]":
    """``model.state_dict()`` as numpy arrays (copies)."""
    return OrderedDict((k, v.detach().cpu().numpy().copy()) for k, v in model.state_dict().items())


def perturb_batchnorm(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every BatchNorm random affine parameters and running statistics (and a nonzero batch count)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
                m.num_batches_tracked.fill_(3)
    return model


def assert_close(got: Any, want: Any, rtol: float = 1e-3, atol_scale: float = 1e-4, what: str = "output") -> None:
    """``got`` (numpy) matches ``want`` (torch or numpy) in shape and dtype, with ``atol = atol_scale * max|want|``
    (outputs of random deep networks have arbitrary scale)."""
    want = want.detach().cpu().numpy() if isinstance(want, torch.Tensor) else np.asarray(want)
    assert isinstance(got, np.ndarray), f"{what}: expected an ndarray, got {type(got).__name__}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    scale = float(np.abs(want).max()) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol_scale * max(scale, 1e-30), err_msg=what)


def assert_same_state_layout(ours: Any, theirs: torch.nn.Module) -> None:
    """Identical state_dict keys (in order), shapes and dtypes."""
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b), f"key mismatch: only ours {sorted(set(a) - set(b))}, only torch {sorted(set(b) - set(a))}"
    for k in a:
        assert tuple(a[k].shape) == tuple(b[k].shape), f"{k}: {tuple(a[k].shape)} != {tuple(b[k].shape)}"
        assert np.dtype(a[k].dtype) == np.dtype(str(b[k].dtype).replace("torch.", "")), f"{k}: dtype"
