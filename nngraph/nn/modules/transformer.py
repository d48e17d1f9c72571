"""Transformer, TransformerEncoder/Decoder and their layers (torch.nn's post-/pre-norm architecture).

nngraph runs torch's reference ("slow") path everywhere. torch's inference fast paths compute the same values,
with one exception: ``TransformerEncoder`` in eval mode with a ``src_key_padding_mask`` (grad disabled, batch_first,
...) runs on nested tensors and returns zeros at padded positions, where nngraph returns the computed values.
Non-padded positions agree.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np

from ...errors import InputError, shape_str
from .. import functional as F
from .. import init
from ..functional import attention as _fa
from .activation import GELU, ReLU
from .attention import MultiheadAttention
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm

__all__ = ["Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
           "TransformerDecoderLayer"]


def _generate_square_subsequent_mask(sz: int, dtype: Any = None) -> np.ndarray:
    """Float mask with ``-inf`` above the diagonal and ``0`` elsewhere."""
    dt = np.dtype(np.float32 if dtype is None else dtype)
    return np.triu(np.full((sz, sz), -np.inf, dtype=dt), 1)


def _get_activation_fn(activation: str) -> Callable[[Any], Any]:
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


def _get_clones(module: Module, n: int) -> ModuleList:
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


def _dtype(dtype: Any) -> np.dtype:
    return np.dtype(np.float32 if dtype is None else dtype)


class Transformer(Module):
    """Encoder-decoder transformer: ``decoder(tgt, encoder(src))``, each stack followed by a LayerNorm."""

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6, num_decoder_layers: int = 6,
                 dim_feedforward: int = 2048, dropout: float = 0.1, activation: str | Callable[[Any], Any] = F.relu,
                 custom_encoder: Any | None = None, custom_decoder: Any | None = None, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            encoder_layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                                    layer_norm_eps, batch_first, norm_first, bias, dtype=dtype)
            encoder_norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.encoder = TransformerEncoder(encoder_layer, num_encoder_layers, encoder_norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            decoder_layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                                    layer_norm_eps, batch_first, norm_first, bias, dtype=dtype)
            decoder_norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.decoder = TransformerDecoder(decoder_layer, num_decoder_layers, decoder_norm)
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(self, src: Any, tgt: Any, src_mask: Any | None = None, tgt_mask: Any | None = None,
                memory_mask: Any | None = None, src_key_padding_mask: Any | None = None,
                tgt_key_padding_mask: Any | None = None, memory_key_padding_mask: Any | None = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Any:
        """``src``: ``(S, N, E)`` (``(N, S, E)`` with batch_first) or ``(S, E)``; ``tgt`` likewise with ``T``."""
        who = "Transformer"
        if src.ndim == 3:
            axis = 0 if self.batch_first else 1
            if tgt.ndim != 3 or src.shape[axis] != tgt.shape[axis]:
                layout = "(N, T, E)" if self.batch_first else "(T, N, E)"
                raise InputError(who, f"tgt of shape {layout} with the batch size N={src.shape[axis]} of src",
                                 shape_str(tgt.shape))
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise InputError(who, f"src and tgt with d_model={self.d_model} features",
                             f"{shape_str(src.shape)} and {shape_str(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> np.ndarray:
        """Causal mask for a sequence of length ``sz``: ``-inf`` above the diagonal, ``0`` elsewhere."""
        return _generate_square_subsequent_mask(sz, dtype=dtype)

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer``, optionally followed by ``norm``."""

    def __init__(self, encoder_layer: "TransformerEncoderLayer", num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        # Accepted for compatibility: nngraph has no nested-tensor fast path (see the module docstring).
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src: Any, mask: Any | None = None, src_key_padding_mask: Any | None = None,
                is_causal: bool | None = None) -> Any:
        """Run every layer with the same masks; ``is_causal=True`` promises that ``mask`` is causal."""
        src_key_padding_mask = _fa._canonical_mask(src_key_padding_mask, "src_key_padding_mask",
                                                   _fa._none_or_dtype(mask), "mask", src.dtype)
        mask = _fa._canonical_mask(mask, "mask", None, "", src.dtype, check_other=False)
        # torch also detects a causal ``mask`` when is_causal is None; that only picks a faster kernel with
        # identical results, so None counts as False here.
        output = src
        for mod in self.layers:
            output = mod(output, src_mask=mask, is_causal=is_causal is True,
                         src_key_padding_mask=src_key_padding_mask)
        if self.norm is not None:
            output = self.norm(output)
        return output


class TransformerDecoder(Module):
    """A stack of ``num_layers`` copies of ``decoder_layer``, optionally followed by ``norm``."""

    def __init__(self, decoder_layer: "TransformerDecoderLayer", num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _get_clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Any, memory: Any, tgt_mask: Any | None = None, memory_mask: Any | None = None,
                tgt_key_padding_mask: Any | None = None, memory_key_padding_mask: Any | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Any:
        """Run every layer on ``tgt`` attending to ``memory`` (the encoder output)."""
        output = tgt
        for mod in self.layers:
            output = mod(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                         tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                         tgt_is_causal=tgt_is_causal is True, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


def _resolve_activation(activation: str | Callable[[Any], Any]) -> Callable[[Any], Any]:
    return _get_activation_fn(activation) if isinstance(activation, str) else activation


class TransformerEncoderLayer(Module):
    """Self-attention and feed-forward blocks, each with a residual connection and LayerNorm (applied after the
    block, or before it with ``norm_first``)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Any], Any] = F.relu, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        dt = _dtype(dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dt)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dt)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dt)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        activation = _resolve_activation(activation)
        # torch records whether its fused kernel supports the activation; kept as the same attribute.
        if activation is F.relu or isinstance(activation, ReLU):
            self.activation_relu_or_gelu = 1
        elif activation is F.gelu or isinstance(activation, GELU):
            self.activation_relu_or_gelu = 2
        else:
            self.activation_relu_or_gelu = 0
        self.activation = activation

    def forward(self, src: Any, src_mask: Any | None = None, src_key_padding_mask: Any | None = None,
                is_causal: bool = False) -> Any:
        """``src``: ``(S, N, E)`` (``(N, S, E)`` with batch_first) or ``(S, E)``."""
        src_key_padding_mask = _fa._canonical_mask(src_key_padding_mask, "src_key_padding_mask",
                                                   _fa._none_or_dtype(src_mask), "src_mask", src.dtype)
        src_mask = _fa._canonical_mask(src_mask, "src_mask", None, "", src.dtype, check_other=False)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal=is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal=is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x: Any, attn_mask: Any | None, key_padding_mask: Any | None, is_causal: bool = False) -> Any:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Any) -> Any:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


class TransformerDecoderLayer(Module):
    """Self-attention, cross-attention over ``memory`` and feed-forward blocks, each with a residual connection and
    LayerNorm (after the block, or before it with ``norm_first``)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Any], Any] = F.relu, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        dt = _dtype(dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first, bias=bias,
                                            dtype=dt)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first,
                                                 bias=bias, dtype=dt)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dt)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dt)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _resolve_activation(activation)

    def forward(self, tgt: Any, memory: Any, tgt_mask: Any | None = None, memory_mask: Any | None = None,
                tgt_key_padding_mask: Any | None = None, memory_key_padding_mask: Any | None = None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Any:
        """``tgt``: ``(T, N, E)`` (``(N, T, E)`` with batch_first) or ``(T, E)``; ``memory`` likewise with ``S``."""
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x: Any, attn_mask: Any | None, key_padding_mask: Any | None, is_causal: bool = False) -> Any:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, is_causal=is_causal,
                           need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x: Any, mem: Any, attn_mask: Any | None, key_padding_mask: Any | None,
                   is_causal: bool = False) -> Any:
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                is_causal=is_causal, need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x: Any) -> Any:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)
