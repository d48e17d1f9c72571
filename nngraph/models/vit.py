"""ViT-Tiny: patch-embedding conv, class token, learned position embedding, pre-norm ``nn.TransformerEncoder``
(GELU) with a final LayerNorm, linear head on the class token."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ..nn import Parameter
from ._spec import Pretrained, load_pretrained

__all__ = ["VisionTransformer", "vit_tiny"]


class VisionTransformer(nn.Module):
    """``conv_proj`` (patch embedding), ``class_token`` (1, 1, D), ``pos_embedding`` (1, 1 + P, D), ``dropout``,
    ``encoder`` (``nn.TransformerEncoder`` with ``norm``), ``head``."""

    def __init__(self, image_size: int = 224, patch_size: int = 16, num_classes: int = 1000, dim: int = 192,
                 depth: int = 12, heads: int = 3, mlp_dim: int = 768, in_channels: int = 3, dropout: float = 0.0,
                 layer_norm_eps: float = 1e-6) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} is not a multiple of patch_size {patch_size}")
        self.image_size = image_size
        self.patch_size = patch_size
        self.dim = dim
        num_patches = (image_size // patch_size) ** 2
        self.conv_proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)
        self.class_token = Parameter(np.zeros((1, 1, dim), dtype=np.float32))
        self.pos_embedding = Parameter(np.zeros((1, num_patches + 1, dim), dtype=np.float32))
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(dim, heads, mlp_dim, dropout, activation="gelu",
                                           layer_norm_eps=layer_norm_eps, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, nn.LayerNorm(dim, eps=layer_norm_eps),
                                             enable_nested_tensor=False)
        self.head = nn.Linear(dim, num_classes)
        nn.init.trunc_normal_(self.class_token, std=0.02)
        nn.init.trunc_normal_(self.pos_embedding, std=0.02)
        nn.init.trunc_normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: Any) -> Any:
        x = self.conv_proj(x)  # (N, D, H/p, W/p)
        n, d = x.shape[0], x.shape[1]
        x = x.reshape(n, d, -1).transpose(0, 2, 1)  # (N, P, D)
        x = np.concatenate([np.broadcast_to(self.class_token, (n, 1, d)), x], axis=1) + self.pos_embedding
        x = self.encoder(self.dropout(x))
        return self.head(x[:, 0])


def vit_tiny(num_classes: int = 1000, pretrained: Pretrained = None, **kwargs: Any) -> VisionTransformer:
    """ViT-Ti/16 (dim 192, depth 12, 3 heads, MLP 768, 224x224); ``image_size``, ``patch_size``, ``dim``,
    ``depth``, ``heads``, ``mlp_dim`` may be overridden."""
    return load_pretrained(VisionTransformer(num_classes=num_classes, **kwargs), pretrained)
