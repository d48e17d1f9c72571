"""VGG-11 with torchvision's module layout (``features.N``, ``avgpool``, ``classifier.{0,3,6}``)."""
from __future__ import annotations

from typing import Any

from .. import nn
from ._spec import Pretrained, load_pretrained

__all__ = ["VGG", "make_layers", "vgg11", "VGG11_CFG"]

#: torchvision's configuration "A": conv widths, "M" for a 2x2 max pool.
VGG11_CFG: list[int | str] = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


def make_layers(cfg: list[int | str], batch_norm: bool = False, in_channels: int = 3) -> nn.Sequential:
    layers: list[nn.Module] = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        conv = nn.Conv2d(in_channels, int(v), kernel_size=3, padding=1)
        layers += [conv, nn.BatchNorm2d(int(v)), nn.ReLU(inplace=True)] if batch_norm else [conv, nn.ReLU(inplace=True)]
        in_channels = int(v)
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """``features``, ``AdaptiveAvgPool2d(pool_size)``, three-layer ``classifier`` with dropout.

    torchvision's model is ``pool_size=7, hidden=4096`` (224x224 inputs, 133M parameters); ``pool_size=1`` with a
    small ``hidden`` is the small-input (e.g. 32x32 CIFAR) variant with the same keys.
    """

    def __init__(self, features: nn.Module, num_classes: int = 1000, init_weights: bool = True, dropout: float = 0.5,
                 pool_size: int = 7, hidden: int = 4096) -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        self.classifier = nn.Sequential(
            nn.Linear(512 * pool_size * pool_size, hidden), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x: Any) -> Any:
        x = self.avgpool(self.features(x))
        return self.classifier(x.reshape(x.shape[0], -1))


def vgg11(num_classes: int = 1000, pretrained: Pretrained = None, *, small_input: bool = False,
          batch_norm: bool = False, dropout: float = 0.5, hidden: int | None = None, in_channels: int = 3) -> VGG:
    """VGG-11. ``small_input=True`` pools the features to 1x1 and uses ``hidden=512`` (unless given), for 32x32
    inputs; the default is torchvision's 224x224 model."""
    pool_size = 1 if small_input else 7
    hidden = hidden if hidden is not None else (512 if small_input else 4096)
    model = VGG(make_layers(VGG11_CFG, batch_norm, in_channels), num_classes, dropout=dropout, pool_size=pool_size,
                hidden=hidden)
    return load_pretrained(model, pretrained)
