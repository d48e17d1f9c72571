"""A small U-Net (the layout of milesial/Pytorch-UNet): double-conv encoder stages, ``ConvTranspose2d`` upsampling
and skip concatenation in the decoder, 1x1 output conv."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ..nn import functional as F
from ._spec import Pretrained, load_pretrained

__all__ = ["DoubleConv", "Down", "Up", "OutConv", "UNet", "unet"]


class DoubleConv(nn.Module):
    """``(Conv3x3 -> BatchNorm -> ReLU) x 2``."""

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int | None = None) -> None:
        super().__init__()
        mid = mid_channels or out_channels
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, mid, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_channels, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: Any) -> Any:
        return self.double_conv(x)


class Down(nn.Module):
    """2x2 max pool then ``DoubleConv``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))

    def forward(self, x: Any) -> Any:
        return self.maxpool_conv(x)


class Up(nn.Module):
    """``ConvTranspose2d`` (x2) on the deeper map, pad it to the skip's size, concatenate ``[skip, up]`` on
    channels, ``DoubleConv``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
        self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x1: Any, x2: Any) -> Any:
        x1 = self.up(x1)
        dy = x2.shape[2] - x1.shape[2]
        dx = x2.shape[3] - x1.shape[3]
        if dy or dx:  # odd sizes on the way down: shapes are static, so this stays traceable
            x1 = F.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(np.concatenate([x2, x1], axis=1))


class OutConv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x: Any) -> Any:
        return self.conv(x)


class UNet(nn.Module):
    """``inc``, ``down1..3``, ``up1..3``, ``outc``: three 2x downsamplings, widths ``base * (1, 2, 4, 8)``; outputs
    per-pixel class logits at the input resolution."""

    def __init__(self, in_channels: int = 3, num_classes: int = 2, base: int = 16) -> None:
        super().__init__()
        self.n_channels = in_channels
        self.n_classes = num_classes
        self.inc = DoubleConv(in_channels, base)
        self.down1 = Down(base, base * 2)
        self.down2 = Down(base * 2, base * 4)
        self.down3 = Down(base * 4, base * 8)
        self.up1 = Up(base * 8, base * 4)
        self.up2 = Up(base * 4, base * 2)
        self.up3 = Up(base * 2, base)
        self.outc = OutConv(base, num_classes)

    def forward(self, x: Any) -> Any:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x = self.up1(x4, x3)
        x = self.up2(x, x2)
        x = self.up3(x, x1)
        return self.outc(x)


def unet(num_classes: int = 2, pretrained: Pretrained = None, *, in_channels: int = 3, base: int = 16) -> UNet:
    """The small U-Net (``base=16``: 16/32/64/128 channels)."""
    return load_pretrained(UNet(in_channels, num_classes, base), pretrained)
