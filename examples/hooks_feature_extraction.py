"""Collect intermediate features of a ResNet-18 with forward hooks (e.g. for a feature pyramid or for probing),
then remove the hooks.

    python examples/hooks_feature_extraction.py [--small]
"""
from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import nngraph
from nngraph import models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="tiny input (for CI)")
    args = parser.parse_args()
    size = 64 if args.small else 224

    nngraph.manual_seed(0)
    model = models.resnet18(num_classes=10).eval()
    x = np.random.default_rng(0).standard_normal((2, 3, size, size), dtype=np.float32)

    features: dict[str, np.ndarray] = {}

    def save_output(name: str) -> Any:
        def hook(module: Any, inputs: tuple, output: np.ndarray) -> None:
            features[name] = output.copy()  # copy: later in-place ops (ReLU(inplace=True)) must not change it
        return hook

    names = ["layer1", "layer2", "layer3", "layer4", "avgpool"]
    handles = [model.get_submodule(n).register_forward_hook(save_output(n)) for n in names]
    logits = model(x)
    for h in handles:
        h.remove()

    for name, f in features.items():
        print(f"{name:8s} {str(f.shape):20s} mean {f.mean():+.4f}  std {f.std():.4f}")
    print(f"logits   {logits.shape}")

    # The pooled features are what the classifier saw: fc(avgpool) reproduces the logits.
    pooled = features["avgpool"].reshape(len(x), -1)
    np.testing.assert_allclose(model.fc(pooled), logits, rtol=1e-5, atol=1e-5)
    features.clear()
    model(x)
    assert not features, "hooks were removed"
    print("hooks removed; fc(avgpool features) == logits")


if __name__ == "__main__":
    main()
