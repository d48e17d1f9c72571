"""Small MNIST-style models: ``mlp`` (784-512-512-10) and ``lenet5``."""
from __future__ import annotations

from typing import Any

from .. import nn
from ._spec import Pretrained, load_pretrained

__all__ = ["MLP", "LeNet5", "mlp", "lenet5"]


class MLP(nn.Module):
    """``fc1 -> ReLU -> fc2 -> ReLU -> fc3``; the input is flattened after the batch dimension."""

    def __init__(self, in_features: int = 784, hidden: int = 512, num_classes: int = 10) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, num_classes)
        self.relu = nn.ReLU()

    def forward(self, x: Any) -> Any:
        x = x.reshape(x.shape[0], -1)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


class LeNet5(nn.Module):
    """LeNet-5 for 1x28x28 inputs (``conv1`` pads by 2, as for MNIST): two conv/ReLU/max-pool stages, three
    linear layers."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.pool = nn.MaxPool2d(2, 2)
        self.relu = nn.ReLU()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: Any) -> Any:
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = x.reshape(x.shape[0], -1)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


def mlp(num_classes: int = 10, pretrained: Pretrained = None, *, in_features: int = 784, hidden: int = 512) -> MLP:
    """The 784-512-512-10 MLP."""
    return load_pretrained(MLP(in_features, hidden, num_classes), pretrained)


def lenet5(num_classes: int = 10, pretrained: Pretrained = None, *, in_channels: int = 1) -> LeNet5:
    """LeNet-5 (ReLU, max pooling) for 28x28 images."""
    return load_pretrained(LeNet5(num_classes, in_channels), pretrained)
