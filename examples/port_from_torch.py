"""Port a PyTorch model to nngraph: the same model code runs on ``torch.nn`` and ``nngraph.nn``; the torch
weights travel through a ``.safetensors`` file (``safetensors.torch.save_file`` -> ``nngraph.load``), and the two
outputs are compared. Without torch, random nngraph weights make the same round trip through the file.

    python examples/port_from_torch.py [--small]
"""
from __future__ import annotations

import argparse
import os
import tempfile
from typing import Any

import numpy as np

import nngraph
import nngraph.nn as nn


def build(lib: Any, num_classes: int = 10) -> Any:
    """A small CNN classifier; ``lib`` is ``torch.nn`` or ``nngraph.nn``: the code is identical for both."""

    class SmallCNN(lib.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = lib.Sequential(
                lib.Conv2d(3, 16, 3, padding=1, bias=False), lib.BatchNorm2d(16), lib.ReLU(),
                lib.MaxPool2d(2),
                lib.Conv2d(16, 32, 3, padding=1, bias=False), lib.BatchNorm2d(32), lib.ReLU(),
                lib.AdaptiveAvgPool2d(1),
            )
            self.classifier = lib.Linear(32, num_classes)

        def forward(self, x: Any) -> Any:
            x = self.features(x)
            return self.classifier(x.reshape(x.shape[0], -1))

    return SmallCNN()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="tiny input (for CI)")
    args = parser.parse_args()
    size, batch = (16, 2) if args.small else (64, 8)
    x = np.random.default_rng(0).standard_normal((batch, 3, size, size), dtype=np.float32)

    try:
        import torch
        from safetensors.torch import save_file
    except ImportError:
        torch = None

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "small_cnn.safetensors")
        if torch is not None:
            torch.manual_seed(0)
            reference = build(torch.nn).eval()
            save_file(reference.state_dict(), path)  # what you would do on the PyTorch side
            with torch.no_grad():
                expected = reference(torch.from_numpy(x)).numpy()
        else:
            print("torch is not installed: round-tripping random nngraph weights instead")
            nngraph.manual_seed(0)
            source = build(nn).eval()
            nngraph.save(source.state_dict(), path)
            expected = source(x)

        state = nngraph.load(path)
        model = build(nn)
        model.load_state_dict(state)
        model.eval()
        got = model(x)

    err = float(np.max(np.abs(got - expected)))
    print(f"loaded {len(state)} tensors; output {got.shape}; max |nngraph - reference| = {err:.2e}")
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    print("outputs match")


if __name__ == "__main__":
    main()
