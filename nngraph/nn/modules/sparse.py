"""Lookup-table layers: Embedding and EmbeddingBag."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import InputError
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["Embedding", "EmbeddingBag"]


def _normalize_padding_idx(who: str, padding_idx: int | None, num_embeddings: int) -> int | None:
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise InputError(who, f"padding_idx within num_embeddings [{-num_embeddings}, {num_embeddings})", padding_idx)
    return padding_idx + num_embeddings if padding_idx < 0 else padding_idx


def _make_weight(who: str, num_embeddings: int, embedding_dim: int, _weight: Any,
                 requires_grad: bool) -> Parameter | None:
    """The given ``_weight`` (sharing its memory, as torch does), or None when the caller must initialize one."""
    if _weight is None:
        return None
    if tuple(np.shape(_weight)) != (num_embeddings, embedding_dim):
        raise InputError(who, f"_weight of shape ({num_embeddings}, {embedding_dim})", np.shape(_weight))
    return Parameter(_weight, requires_grad=requires_grad)


def _check_pretrained(who: str, embeddings: Any) -> tuple[int, int]:
    if np.ndim(embeddings) != 2:
        raise InputError(who, "2-D embeddings of shape (num_embeddings, embedding_dim)", np.shape(embeddings))
    rows, cols = np.shape(embeddings)
    return rows, cols


class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``, indexed by integer arrays."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Any = None, _freeze: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _normalize_padding_idx("Embedding", padding_idx, num_embeddings)
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        weight = _make_weight("Embedding", num_embeddings, embedding_dim, _weight, not _freeze)
        if weight is None:
            self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=np.dtype(dtype or np.float32)),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            self.weight = weight
        self.sparse = sparse

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self) -> None:
        if self.padding_idx is not None:
            self.weight[self.padding_idx] = 0

    def forward(self, input: Any) -> Any:
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse is not False:
            s += ", sparse=True"
        return s

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> "Embedding":
        """An Embedding whose weight is ``embeddings`` (shared, not copied); ``freeze`` clears ``requires_grad``."""
        rows, cols = _check_pretrained("Embedding.from_pretrained", embeddings)
        return cls(num_embeddings=rows, embedding_dim=cols, _weight=embeddings, _freeze=freeze,
                   padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


class EmbeddingBag(Module):
    """Sums, averages or takes the max of bags of embeddings, without materializing the per-index lookups."""

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                 _weight: Any = None, include_last_offset: bool = False, padding_idx: int | None = None,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.padding_idx = _normalize_padding_idx("EmbeddingBag", padding_idx, num_embeddings)
        weight = _make_weight("EmbeddingBag", num_embeddings, embedding_dim, _weight, True)
        if weight is None:
            self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=np.dtype(dtype or np.float32)))
            self.reset_parameters()
        else:
            self.weight = weight
        self.mode = mode
        self.sparse = sparse
        self.include_last_offset = include_last_offset

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self) -> None:
        if self.padding_idx is not None:
            self.weight[self.padding_idx] = 0

    def forward(self, input: Any, offsets: Any | None = None, per_sample_weights: Any | None = None) -> Any:
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                               self.mode, self.sparse, per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self) -> str:
        # torch formats every value here with repr (mode='mean').
        s = f"{self.num_embeddings!r}, {self.embedding_dim!r}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm!r}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type!r}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq!r}"
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx!r}"
        return s

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                        sparse: bool = False, include_last_offset: bool = False,
                        padding_idx: int | None = None) -> "EmbeddingBag":
        """An EmbeddingBag whose weight is ``embeddings`` (shared, not copied); ``freeze`` clears ``requires_grad``."""
        rows, cols = _check_pretrained("EmbeddingBag.from_pretrained", embeddings)
        bag = cls(num_embeddings=rows, embedding_dim=cols, _weight=embeddings, max_norm=max_norm, norm_type=norm_type,
                  scale_grad_by_freq=scale_grad_by_freq, mode=mode, sparse=sparse,
                  include_last_offset=include_last_offset, padding_idx=padding_idx)
        bag.weight.requires_grad = not freeze
        return bag
