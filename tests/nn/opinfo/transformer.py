"""Op table: TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer, TransformerDecoder, Transformer.

d_model 8, 2 heads (3 where odd heads matter), dim_feedforward 16. Most samples use ``dropout=0.0`` so that train mode
is compared exactly; the ``-dropout`` samples are random in train mode.

torch's inference fast paths: in eval mode under ``no_grad`` (as the runner calls torch) a batch_first encoder layer
with relu/gelu and even heads runs ``_transformer_encoder_layer_fwd`` -- same values as the reference path, compared
in full. A ``TransformerEncoder`` given a ``src_key_padding_mask`` additionally converts to nested tensors and
returns zeros at padded positions (nngraph returns the computed values there); ``call=_unpadded`` compares only the
non-padded positions for those samples. Float key padding masks are sampled on the reference path only: torch's
fused encoder kernels read them as boolean (any non-zero value masks), which is not the documented semantics.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from tests.nn.opinfo import ErrorSample, ModuleSample
from tests.nn.opinfo.attention import bool_attn_mask, causal, float_mask, padding_mask

D, H, FF = 8, 2, 16


def seq(*shape: int) -> Callable[[np.random.Generator], tuple]:
    return lambda rng: (rng.standard_normal(shape),)


def two(a: tuple[int, ...], b: tuple[int, ...]) -> Callable[[np.random.Generator], tuple]:
    return lambda rng: (rng.standard_normal(a), rng.standard_normal(b))


def enc_layer(**kw: Any) -> Callable[[Any], Any]:
    kw = {"dim_feedforward": FF, "dropout": 0.0, **kw}
    return lambda nn: nn.TransformerEncoderLayer(D, H, **kw)


def dec_layer(**kw: Any) -> Callable[[Any], Any]:
    kw = {"dim_feedforward": FF, "dropout": 0.0, **kw}
    return lambda nn: nn.TransformerDecoderLayer(D, H, **kw)


def encoder(num_layers: int = 2, final_norm: bool = True, enc_kw: dict | None = None, **kw: Any
            ) -> Callable[[Any], Any]:
    def make(nn: Any) -> Any:
        layer = enc_layer(**(enc_kw or {}))(nn)
        return nn.TransformerEncoder(layer, num_layers, nn.LayerNorm(D) if final_norm else None, **kw)
    return make


def decoder(num_layers: int = 2, final_norm: bool = True, dec_kw: dict | None = None) -> Callable[[Any], Any]:
    def make(nn: Any) -> Any:
        layer = dec_layer(**(dec_kw or {}))(nn)
        return nn.TransformerDecoder(layer, num_layers, nn.LayerNorm(D) if final_norm else None)
    return make


def transformer(**kw: Any) -> Callable[[Any], Any]:
    kw = {"d_model": D, "nhead": H, "num_encoder_layers": 2, "num_decoder_layers": 1, "dim_feedforward": FF,
          "dropout": 0.0, **kw}
    return lambda nn: nn.Transformer(**kw)


def _callable_activation(nn: Any) -> Callable[[Any], Any]:
    return lambda x: x * 0.5 + abs(x)  # works on numpy arrays and torch tensors alike


def _unpadded(m: Any, x: Any, src_key_padding_mask: Any, **kw: Any) -> Any:
    """Output rows at non-padded positions only (batch_first input)."""
    return m(x, src_key_padding_mask=src_key_padding_mask, **kw)[~src_key_padding_mask]


def _custom_stacks(nn: Any) -> Any:
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF, 0.0, norm_first=True), 1)
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(D, H, FF, 0.0), 2, nn.LayerNorm(D, bias=False))
    return nn.Transformer(D, H, dim_feedforward=FF, dropout=0.0, custom_encoder=enc, custom_decoder=dec)


MODULE_SAMPLES = [
    # --- TransformerEncoderLayer: post-/pre-norm, layouts, activations, masks.
    ModuleSample("EncLayer", enc_layer(), seq(5, 2, D)),
    ModuleSample("EncLayer-norm_first", enc_layer(norm_first=True), seq(5, 2, D)),
    ModuleSample("EncLayer-batch_first", enc_layer(batch_first=True), seq(2, 5, D)),
    ModuleSample("EncLayer-batch_first-norm_first", enc_layer(batch_first=True, norm_first=True), seq(3, 4, D)),
    ModuleSample("EncLayer-unbatched", enc_layer(), seq(5, D)),
    ModuleSample("EncLayer-unbatched-batch_first", enc_layer(batch_first=True, norm_first=True), seq(4, D)),
    ModuleSample("EncLayer-seq1-batch1", enc_layer(batch_first=True), seq(1, 1, D)),
    ModuleSample("EncLayer-gelu", enc_layer(activation="gelu"), seq(4, 2, D)),
    ModuleSample("EncLayer-gelu-fn-batch_first", lambda nn: nn.TransformerEncoderLayer(
        D, H, FF, 0.0, nn.functional.gelu, batch_first=True), seq(2, 4, D)),
    ModuleSample("EncLayer-GELU-module", lambda nn: nn.TransformerEncoderLayer(
        D, H, FF, 0.0, nn.GELU(approximate="tanh"), norm_first=True), seq(4, 2, D)),
    ModuleSample("EncLayer-ReLU-module-batch_first", lambda nn: nn.TransformerEncoderLayer(
        D, H, FF, 0.0, nn.ReLU(), batch_first=True), seq(2, 4, D)),
    ModuleSample("EncLayer-callable", lambda nn: nn.TransformerEncoderLayer(
        D, H, FF, 0.0, _callable_activation(nn), batch_first=True), seq(2, 4, D)),
    ModuleSample("EncLayer-nobias", enc_layer(bias=False), seq(4, 2, D)),
    ModuleSample("EncLayer-3heads-eps", lambda nn: nn.TransformerEncoderLayer(9, 3, FF, 0.0, layer_norm_eps=1e-3,
                                                                              batch_first=True), seq(2, 4, 9)),
    ModuleSample("EncLayer-src_mask-bool", enc_layer(), seq(4, 2, D),
                 lambda rng: {"src_mask": bool_attn_mask(rng, (4, 4))}),
    ModuleSample("EncLayer-src_mask-float-3d", enc_layer(norm_first=True), seq(4, 2, D),
                 lambda rng: {"src_mask": float_mask(rng, (2 * H, 4, 4))}),
    ModuleSample("EncLayer-causal", enc_layer(batch_first=True), seq(2, 5, D),
                 lambda rng: {"src_mask": causal(5), "is_causal": True}),
    ModuleSample("EncLayer-kpm-bool", enc_layer(), seq(5, 3, D),
                 lambda rng: {"src_key_padding_mask": padding_mask(3, 5)}),
    ModuleSample("EncLayer-kpm-float", enc_layer(), seq(5, 3, D),
                 lambda rng: {"src_key_padding_mask": float_mask(rng, (3, 5), 0.2)}),
    ModuleSample("EncLayer-kpm-bool-batch_first", enc_layer(batch_first=True), seq(3, 5, D),
                 lambda rng: {"src_key_padding_mask": padding_mask(3, 5)}),
    ModuleSample("EncLayer-both-masks-batch_first", enc_layer(batch_first=True, norm_first=True), seq(3, 5, D),
                 lambda rng: {"src_key_padding_mask": padding_mask(3, 5), "src_mask": bool_attn_mask(rng, (5, 5))}),
    ModuleSample("EncLayer-causal-and-kpm", enc_layer(), seq(5, 3, D),
                 lambda rng: {"src_key_padding_mask": padding_mask(3, 5), "src_mask": causal(5),
                              "is_causal": True}),
    ModuleSample("EncLayer-unbatched-masks", enc_layer(), seq(5, D),
                 lambda rng: {"src_key_padding_mask": np.array([False, False, False, True, True]),
                              "src_mask": bool_attn_mask(rng, (5, 5))}),
    ModuleSample("EncLayer-dropout", enc_layer(dropout=0.2), seq(4, 2, D), random_in_train=True),
    # --- TransformerEncoder: stacks, final norm, masks; the nested-tensor path compares non-padded positions.
    ModuleSample("Encoder", encoder(), seq(5, 2, D)),
    ModuleSample("Encoder-no-norm-norm_first", encoder(3, False, {"norm_first": True}), seq(5, 2, D)),
    ModuleSample("Encoder-batch_first-gelu", encoder(2, True, {"batch_first": True, "activation": "gelu"}),
                 seq(2, 5, D)),
    ModuleSample("Encoder-causal-detected", encoder(), seq(5, 2, D), lambda rng: {"mask": causal(5)}),
    ModuleSample("Encoder-causal-hint", encoder(enc_kw={"batch_first": True}), seq(2, 5, D),
                 lambda rng: {"mask": causal(5), "is_causal": True}),
    ModuleSample("Encoder-bool-mask-and-kpm", encoder(), seq(5, 3, D),
                 lambda rng: {"mask": bool_attn_mask(rng, (5, 5)), "src_key_padding_mask": padding_mask(3, 5)}),
    ModuleSample("Encoder-kpm-nested", encoder(enc_kw={"batch_first": True}), seq(3, 5, D),
                 lambda rng: {"src_key_padding_mask": padding_mask(3, 5)}, call=_unpadded),
    ModuleSample("Encoder-kpm-nested-gelu-no-norm", encoder(3, False, {"batch_first": True, "activation": "gelu"}),
                 seq(3, 4, D), lambda rng: {"src_key_padding_mask": padding_mask(3, 4)}, call=_unpadded),
    ModuleSample("Encoder-kpm-no-nested", encoder(enc_kw={"batch_first": True}, enable_nested_tensor=False),
                 seq(3, 5, D), lambda rng: {"src_key_padding_mask": padding_mask(3, 5)}),
    ModuleSample("Encoder-kpm-float", encoder(mask_check=False), seq(5, 3, D),
                 lambda rng: {"src_key_padding_mask": float_mask(rng, (3, 5), 0.2)}),
    ModuleSample("Encoder-unbatched", encoder(1), seq(4, D), lambda rng: {"mask": causal(4)}),
    ModuleSample("Encoder-dropout", encoder(enc_kw={"dropout": 0.1}), seq(4, 2, D), random_in_train=True),
    # --- TransformerDecoderLayer
    ModuleSample("DecLayer", dec_layer(), two((4, 2, D), (5, 2, D))),
    ModuleSample("DecLayer-norm_first-batch_first", dec_layer(norm_first=True, batch_first=True),
                 two((2, 4, D), (2, 6, D))),
    ModuleSample("DecLayer-unbatched", dec_layer(), two((4, D), (3, D)),
                 lambda rng: {"tgt_mask": causal(4), "memory_key_padding_mask": np.array([False, True, False])}),
    ModuleSample("DecLayer-gelu-causal", dec_layer(activation="gelu"), two((4, 2, D), (5, 2, D)),
                 lambda rng: {"tgt_mask": causal(4), "tgt_is_causal": True}),
    ModuleSample("DecLayer-callable-nobias", lambda nn: nn.TransformerDecoderLayer(
        D, H, FF, 0.0, _callable_activation(nn), bias=False), two((4, 2, D), (5, 2, D))),
    ModuleSample("DecLayer-GELU-module", lambda nn: nn.TransformerDecoderLayer(
        D, H, FF, 0.0, nn.GELU(), norm_first=True), two((4, 2, D), (5, 2, D))),
    ModuleSample("DecLayer-all-masks-bool", dec_layer(batch_first=True), two((3, 4, D), (3, 5, D)),
                 lambda rng: {"tgt_mask": causal(4) < 0, "memory_mask": bool_attn_mask(rng, (4, 5)),
                              "tgt_key_padding_mask": padding_mask(3, 4),
                              "memory_key_padding_mask": padding_mask(3, 5)}),
    ModuleSample("DecLayer-all-masks-float", dec_layer(norm_first=True), two((4, 3, D), (5, 3, D)),
                 lambda rng: {"tgt_mask": float_mask(rng, (4, 4)), "memory_mask": float_mask(rng, (3 * H, 4, 5)),
                              "tgt_key_padding_mask": float_mask(rng, (3, 4), 0.2),
                              "memory_key_padding_mask": float_mask(rng, (3, 5), 0.2)}),
    ModuleSample("DecLayer-memory_is_causal", dec_layer(), two((4, 2, D), (6, 2, D)),
                 lambda rng: {"memory_mask": bool_attn_mask(rng, (4, 6)), "memory_is_causal": True}),
    ModuleSample("DecLayer-dropout", dec_layer(dropout=0.3), two((4, 2, D), (5, 2, D)), random_in_train=True),
    # --- TransformerDecoder
    ModuleSample("Decoder", decoder(), two((4, 2, D), (5, 2, D)), lambda rng: {"tgt_mask": causal(4)}),
    ModuleSample("Decoder-norm_first-no-norm", decoder(3, False, {"norm_first": True, "batch_first": True}),
                 two((2, 4, D), (2, 5, D)),
                 lambda rng: {"tgt_mask": causal(4), "tgt_is_causal": True,
                              "memory_key_padding_mask": padding_mask(2, 5)}),
    ModuleSample("Decoder-unbatched", decoder(1), two((3, D), (4, D)), lambda rng: {"tgt_mask": causal(3)}),
    # --- Transformer
    ModuleSample("Transformer", transformer(), two((5, 2, D), (4, 2, D))),
    ModuleSample("Transformer-masks", transformer(), two((5, 3, D), (4, 3, D)),
                 lambda rng: {"src_mask": bool_attn_mask(rng, (5, 5)), "tgt_mask": causal(4),
                              "memory_mask": float_mask(rng, (4, 5)), "src_key_padding_mask": padding_mask(3, 5),
                              "tgt_key_padding_mask": padding_mask(3, 4),
                              "memory_key_padding_mask": padding_mask(3, 5)}),
    ModuleSample("Transformer-batch_first-norm_first-gelu",
                 transformer(batch_first=True, norm_first=True, activation="gelu"), two((2, 5, D), (2, 3, D)),
                 lambda rng: {"tgt_mask": causal(3), "tgt_is_causal": True}),
    ModuleSample("Transformer-batch_first-kpm", transformer(batch_first=True), two((3, 5, D), (3, 4, D)),
                 lambda rng: {"src_key_padding_mask": padding_mask(3, 5), "tgt_mask": causal(4),
                              "memory_key_padding_mask": padding_mask(3, 5)}),
    ModuleSample("Transformer-unbatched", transformer(num_encoder_layers=1), two((5, D), (3, D)),
                 lambda rng: {"tgt_mask": causal(3)}),
    ModuleSample("Transformer-nobias-eps", transformer(bias=False, layer_norm_eps=1e-4), two((4, 2, D), (3, 2, D))),
    ModuleSample("Transformer-callable", lambda nn: nn.Transformer(D, H, 1, 1, FF, 0.0, _callable_activation(nn)),
                 two((4, 2, D), (3, 2, D))),
    ModuleSample("Transformer-custom-stacks", _custom_stacks, two((4, 2, D), (3, 2, D)),
                 lambda rng: {"tgt_mask": causal(3)}),
    ModuleSample("Transformer-dropout", transformer(dropout=0.1), two((4, 2, D), (3, 2, D)), random_in_train=True),
]


def _f32(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.standard_normal(shape).astype(np.float32)


ERROR_SAMPLES = [
    ErrorSample("EncLayer-wrong-d_model", lambda nn: nn.TransformerEncoderLayer(D, H, FF),
                lambda rng: (_f32(4, 2, 6)(rng),), r"expected query of shape \(L, N, 8\), got \(4, 2, 6\)"),
    ErrorSample("EncLayer-4d", lambda nn: nn.TransformerEncoderLayer(D, H, FF),
                lambda rng: (_f32(1, 4, 2, 8)(rng),), r"expected query of shape \(L, N, E\) or \(L, E\)"),
    ErrorSample("EncLayer-kpm-shape",
                lambda nn: (lambda x, m: nn.TransformerEncoderLayer(D, H, FF)(x, src_key_padding_mask=m)),
                lambda rng: (_f32(4, 2, 8)(rng), np.zeros((2, 5), dtype=bool)),
                r"expected key_padding_mask of shape \(2, 4\), got \(2, 5\)"),
    ErrorSample("EncLayer-int-mask",
                lambda nn: (lambda x, m: nn.TransformerEncoderLayer(D, H, FF)(x, src_mask=m)),
                lambda rng: (_f32(4, 2, 8)(rng), np.zeros((4, 4), dtype=np.int64)),
                r"expected a bool or float32 src_mask, got dtype int64"),
    ErrorSample("Decoder-memory-batch", lambda nn: (lambda t, m: nn.TransformerDecoder(
        nn.TransformerDecoderLayer(D, H, FF), 1)(t, m)), lambda rng: (_f32(4, 2, 8)(rng), _f32(5, 3, 8)(rng)),
                r"expected key of shape \(S, 2, E\) \(the query's batch size\), got \(5, 3, 8\)"),
    ErrorSample("Transformer-batch-mismatch", lambda nn: nn.Transformer(D, H, 1, 1, FF),
                lambda rng: (_f32(4, 2, 8)(rng), _f32(3, 3, 8)(rng)),
                r"Transformer.*expected tgt of shape \(T, N, E\) with the batch size N=2 of src, got \(3, 3, 8\)"),
    ErrorSample("Transformer-d_model", lambda nn: nn.Transformer(D, H, 1, 1, FF, batch_first=True),
                lambda rng: (_f32(2, 4, 8)(rng), _f32(2, 3, 6)(rng)),
                r"expected src and tgt with d_model=8 features, got \(2, 4, 8\) and \(2, 3, 6\)"),
]
