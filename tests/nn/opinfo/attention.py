"""Op table: MultiheadAttention, F.scaled_dot_product_attention, F.multi_head_attention_forward.

Masked-out rows: torch's SDPA (and MultiheadAttention with ``need_weights=False``) returns zeros for a query row whose
keys are all masked, MultiheadAttention with ``need_weights=True`` returns NaN; both are sampled. torch's MHA fast
path (eval, batch_first, self-attention with one tensor, even heads) is exercised through ``call=_self_attn``; it
returns NaN for fully masked rows even without weights, so fast-path samples keep every row attending somewhere.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from tests.nn.opinfo import ErrorSample, FuncSample, ModuleSample

NEG_INF = -np.inf


# ---------------------------------------------------------------------------------------------------- input helpers
def _seq(rng: np.random.Generator, n: int | None, length: int, dim: int, batch_first: bool) -> np.ndarray:
    if n is None:
        return rng.standard_normal((length, dim))
    return rng.standard_normal((n, length, dim) if batch_first else (length, n, dim))


def qkv(L: int, S: int, N: int | None, E: int, kdim: int | None = None, vdim: int | None = None,
        batch_first: bool = False) -> Callable[[np.random.Generator], tuple]:
    """query (L, N, E), key (S, N, kdim), value (S, N, vdim) (batch first or unbatched on request)."""
    return lambda rng: (_seq(rng, N, L, E, batch_first), _seq(rng, N, S, kdim or E, batch_first),
                        _seq(rng, N, S, vdim or E, batch_first))


def one(L: int, N: int | None, E: int, batch_first: bool = False) -> Callable[[np.random.Generator], tuple]:
    return lambda rng: (_seq(rng, N, L, E, batch_first),)


def padding_mask(N: int, S: int, full_row: int | None = None) -> np.ndarray:
    """Bool key padding mask (True = padded): element i pads its last i positions; ``full_row`` pads everything."""
    m = np.zeros((N, S), dtype=bool)
    for i in range(N):
        if i:
            m[i, S - min(i, S - 1):] = True
    if full_row is not None:
        m[full_row] = True
    return m


def bool_attn_mask(rng: np.random.Generator, shape: tuple[int, ...], full_row: bool = False) -> np.ndarray:
    """Random bool mask (True = masked out) keeping the first key of every row, or masking one row entirely."""
    m = rng.random(shape) < 0.4
    m[..., 0] = False
    if full_row:
        m[..., 1, :] = True
    return m


def float_mask(rng: np.random.Generator, shape: tuple[int, ...], p_inf: float = 0.3) -> np.ndarray:
    m = rng.standard_normal(shape)
    m[rng.random(shape) < p_inf] = NEG_INF
    m[..., 0] = rng.standard_normal(shape[:-1])
    return m


def causal(L: int, S: int | None = None) -> np.ndarray:
    S = L if S is None else S
    return np.triu(np.full((L, S), NEG_INF), 1)


def _self_attn(m: Any, x: Any, **kw: Any) -> Any:
    """Self-attention with one tensor: torch's MHA fast path in eval mode when batch_first."""
    return m(x, x, x, **kw)


def mha(E: int, H: int, **kw: Any) -> Callable[[Any], Any]:
    return lambda nn: nn.MultiheadAttention(E, H, **kw)


# ---------------------------------------------------------------------------------------------------- modules
MODULE_SAMPLES = [
    # Layouts and shapes.
    ModuleSample("MHA-self", mha(8, 2), qkv(4, 4, 2, 8)),
    ModuleSample("MHA-cross", mha(8, 2), qkv(3, 5, 2, 8)),
    ModuleSample("MHA-1head", mha(6, 1), qkv(3, 4, 2, 6)),
    ModuleSample("MHA-3heads", mha(9, 3), qkv(2, 5, 3, 9)),
    ModuleSample("MHA-batch1-L1-S1", mha(4, 2), qkv(1, 1, 1, 4)),
    ModuleSample("MHA-batch0", mha(4, 2), qkv(3, 2, 0, 4)),
    ModuleSample("MHA-batch_first", mha(8, 2, batch_first=True), qkv(3, 5, 2, 8, batch_first=True)),
    ModuleSample("MHA-unbatched", mha(8, 2), qkv(3, 5, None, 8)),
    ModuleSample("MHA-unbatched-batch_first", mha(8, 4, batch_first=True), qkv(3, 5, None, 8)),
    ModuleSample("MHA-nobias", mha(8, 2, bias=False), qkv(3, 5, 2, 8)),
    ModuleSample("MHA-dtype-ctor", lambda nn: nn.MultiheadAttention(8, 2, dtype=_ctor_dtype(nn)), qkv(3, 4, 2, 8)),
    # Returned weights.
    ModuleSample("MHA-no-weights", mha(8, 2), qkv(3, 5, 2, 8), lambda rng: {"need_weights": False}),
    ModuleSample("MHA-per-head-weights", mha(8, 2), qkv(3, 5, 2, 8), lambda rng: {"average_attn_weights": False}),
    ModuleSample("MHA-per-head-weights-unbatched", mha(8, 4), qkv(3, 5, None, 8),
                 lambda rng: {"average_attn_weights": False}),
    # Key padding masks (bool / float) and attention masks (2-D / 3-D, bool / float), each with and without weights.
    *[ModuleSample(f"MHA-kpm-{kind}-{'w' if w else 'now'}", mha(8, 2), qkv(3, 5, 3, 8),
                   (lambda rng, kind=kind, w=w: {"key_padding_mask": padding_mask(3, 5) if kind == "bool"
                                                 else float_mask(rng, (3, 5)), "need_weights": w}))
      for kind in ("bool", "float") for w in (True, False)],
    *[ModuleSample(f"MHA-mask{nd}d-{kind}-{'w' if w else 'now'}", mha(8, 2), qkv(4, 5, 2, 8),
                   (lambda rng, nd=nd, kind=kind, w=w: {
                       "attn_mask": (bool_attn_mask if kind == "bool" else float_mask)(
                           rng, (4, 5) if nd == 2 else (4, 4, 5)), "need_weights": w}))
      for nd in (2, 3) for kind in ("bool", "float") for w in (True, False)],
    *[ModuleSample(f"MHA-mask-and-kpm-{kind}-{'w' if w else 'now'}", mha(8, 2), qkv(4, 5, 3, 8),
                   (lambda rng, kind=kind, w=w: {
                       "attn_mask": bool_attn_mask(rng, (4, 5)) if kind == "bool" else float_mask(rng, (4, 5)),
                       "key_padding_mask": padding_mask(3, 5) if kind == "bool" else float_mask(rng, (3, 5), 0.2),
                       "need_weights": w, "average_attn_weights": False}))
      for kind in ("bool", "float") for w in (True, False)],
    ModuleSample("MHA-mixed-mask-types", mha(8, 2), qkv(4, 5, 3, 8),
                 lambda rng: {"attn_mask": float_mask(rng, (4, 5)), "key_padding_mask": padding_mask(3, 5)}),
    ModuleSample("MHA-unbatched-masks", mha(8, 2), qkv(4, 5, None, 8),
                 lambda rng: {"attn_mask": bool_attn_mask(rng, (2, 4, 5)),
                              "key_padding_mask": np.array([False, False, True, False, True])}),
    # Fully masked query rows: NaN with weights, zeros (then out_proj) without, as torch.
    ModuleSample("MHA-fully-masked-kpm-w", mha(8, 2), qkv(3, 4, 3, 8),
                 lambda rng: {"key_padding_mask": padding_mask(3, 4, full_row=2)}),
    ModuleSample("MHA-fully-masked-kpm-now", mha(8, 2), qkv(3, 4, 3, 8),
                 lambda rng: {"key_padding_mask": padding_mask(3, 4, full_row=2), "need_weights": False}),
    ModuleSample("MHA-fully-masked-row-float-w", mha(8, 2), qkv(3, 4, 2, 8),
                 lambda rng: {"attn_mask": np.where(bool_attn_mask(rng, (3, 4), full_row=True), NEG_INF, 0.0)}),
    ModuleSample("MHA-fully-masked-row-bool-now", mha(8, 2), qkv(3, 4, 2, 8),
                 lambda rng: {"attn_mask": bool_attn_mask(rng, (3, 4), full_row=True), "need_weights": False}),
    # Causal masks and the is_causal hint (torch drops attn_mask for SDPA's causal kernel when it can).
    ModuleSample("MHA-causal-mask", mha(8, 2), qkv(4, 4, 2, 8), lambda rng: {"attn_mask": causal(4)}),
    ModuleSample("MHA-is_causal-now", mha(8, 2), qkv(4, 4, 2, 8),
                 lambda rng: {"attn_mask": causal(4), "is_causal": True, "need_weights": False}),
    ModuleSample("MHA-is_causal-w", mha(8, 2), qkv(4, 4, 2, 8),
                 lambda rng: {"attn_mask": causal(4), "is_causal": True}),
    ModuleSample("MHA-is_causal-kpm", mha(8, 2), qkv(4, 4, 3, 8),
                 lambda rng: {"attn_mask": causal(4) < 0, "is_causal": True, "need_weights": False,
                              "key_padding_mask": padding_mask(3, 4)}),
    ModuleSample("MHA-is_causal-hint-overrides-mask", mha(8, 2), qkv(4, 4, 2, 8),
                 lambda rng: {"attn_mask": float_mask(rng, (4, 4)), "is_causal": True, "need_weights": False}),
    ModuleSample("MHA-is_causal-bool-cross", mha(8, 2), qkv(3, 5, 2, 8),
                 lambda rng: {"attn_mask": bool_attn_mask(rng, (3, 5)), "is_causal": True, "need_weights": False}),
    # kdim / vdim: separate projection weights.
    ModuleSample("MHA-kdim-vdim", mha(8, 2, kdim=5, vdim=3), qkv(3, 4, 2, 8, 5, 3)),
    ModuleSample("MHA-kdim-only", mha(8, 4, kdim=6), qkv(3, 4, 2, 8, 6, 8), lambda rng: {"need_weights": False}),
    ModuleSample("MHA-kdim-vdim-masks", mha(8, 2, kdim=5, vdim=3, batch_first=True),
                 qkv(3, 4, 3, 8, 5, 3, batch_first=True),
                 lambda rng: {"key_padding_mask": padding_mask(3, 4), "attn_mask": bool_attn_mask(rng, (6, 3, 4)),
                              "average_attn_weights": False}),
    ModuleSample("MHA-kdim-vdim-nobias-unbatched", mha(8, 2, kdim=5, vdim=3, bias=False), qkv(3, 4, None, 8, 5, 3)),
    # bias_k / bias_v and zero attention (extra key positions, masks padded).
    ModuleSample("MHA-bias_kv", mha(8, 2, add_bias_kv=True), qkv(3, 4, 2, 8)),
    ModuleSample("MHA-zero_attn", mha(8, 2, add_zero_attn=True), qkv(3, 4, 2, 8)),
    *[ModuleSample(f"MHA-bias_kv-zero_attn-masks-{'w' if w else 'now'}",
                   mha(8, 2, add_bias_kv=True, add_zero_attn=True), qkv(3, 4, 3, 8),
                   (lambda rng, w=w: {"key_padding_mask": padding_mask(3, 4, full_row=1),
                                      "attn_mask": float_mask(rng, (3, 4)), "need_weights": w}))
      for w in (True, False)],
    ModuleSample("MHA-bias_kv-kdim-unbatched", mha(8, 2, add_bias_kv=True, kdim=4, vdim=6),
                 qkv(3, 5, None, 8, 4, 6), lambda rng: {"attn_mask": bool_attn_mask(rng, (3, 5))}),
    ModuleSample("MHA-zero_attn-batch_first-causal", mha(8, 2, add_zero_attn=True, batch_first=True),
                 qkv(4, 4, 2, 8, batch_first=True),
                 lambda rng: {"attn_mask": causal(4), "is_causal": True, "need_weights": False}),
    # torch's fast path (eval, batch_first, one tensor for q/k/v, even heads).
    ModuleSample("MHA-fastpath", mha(8, 2, batch_first=True), one(4, 2, 8, True), call=_self_attn),
    ModuleSample("MHA-fastpath-kpm", mha(8, 4, batch_first=True), one(5, 3, 8, True),
                 lambda rng: {"key_padding_mask": padding_mask(3, 5)}, call=_self_attn),
    ModuleSample("MHA-fastpath-mask-now", mha(8, 2, batch_first=True), one(4, 2, 8, True),
                 lambda rng: {"attn_mask": bool_attn_mask(rng, (4, 4)), "need_weights": False}, call=_self_attn),
    ModuleSample("MHA-fastpath-both-masks", mha(8, 2, batch_first=True), one(4, 3, 8, True),
                 lambda rng: {"attn_mask": bool_attn_mask(rng, (4, 4)), "key_padding_mask": padding_mask(3, 4),
                              "average_attn_weights": False}, call=_self_attn),
    ModuleSample("MHA-self-one-tensor-seq-first", mha(8, 2), one(4, 2, 8), call=_self_attn),
    ModuleSample("MHA-key-is-value", mha(8, 2), lambda rng: (rng.standard_normal((3, 2, 8)),
                                                             rng.standard_normal((5, 2, 8))),
                 call=lambda m, q, kv, **kw: m(q, kv, kv, **kw)),
    # Dropout on the attention weights: random in train mode, exact in eval.
    ModuleSample("MHA-dropout", mha(8, 2, dropout=0.5), qkv(3, 5, 2, 8), random_in_train=True),
    ModuleSample("MHA-dropout-now", mha(8, 2, dropout=0.3), qkv(3, 5, 2, 8), lambda rng: {"need_weights": False},
                 random_in_train=True),
]


def _ctor_dtype(nn: Any) -> Any:
    """float64 through the constructor's ``dtype=`` argument, in either library."""
    return np.float64 if nn.__name__.startswith("nngraph") else __import__("torch").float64


# ---------------------------------------------------------------------------------------------------- functional
def sdpa_in(q: tuple[int, ...], k: tuple[int, ...], v: tuple[int, ...], mask: Callable | None = None
            ) -> Callable[[np.random.Generator], tuple]:
    def make(rng: np.random.Generator) -> tuple:
        arrays = (rng.standard_normal(q), rng.standard_normal(k), rng.standard_normal(v))
        return arrays + ((mask(rng),) if mask is not None else ())
    return make


def _sdpa(**kw: Any) -> Callable[..., Any]:
    return lambda F, q, k, v, *m: F.scaled_dot_product_attention(q, k, v, *m, **kw)


def _mhaf_inputs(L: int, S: int, N: int | None, E: int, H: int, *, bias: bool = True, bias_kv: bool = False,
                 separate: tuple[int, int] | None = None, static: int | None = None,
                 masks: Callable | None = None) -> Callable[[np.random.Generator], tuple]:
    """query, key, value, in_proj_weight (or q/k/v weights), in_proj_bias, bias_k, bias_v, out weight/bias, masks."""
    def make(rng: np.random.Generator) -> tuple:
        kd, vd = separate or (E, E)
        shape = (lambda n: (n, E)) if N is None else (lambda n: (n, N, E))
        q = rng.standard_normal(shape(L))
        k = rng.standard_normal(shape(S)[:-1] + (kd,))
        v = rng.standard_normal(shape(S)[:-1] + (vd,))
        if separate:
            w = (rng.standard_normal((E, E)) * 0.4, rng.standard_normal((E, kd)) * 0.4,
                 rng.standard_normal((E, vd)) * 0.4)
        else:
            w = (rng.standard_normal((3 * E, E)) * 0.4, None, None)
        b = rng.standard_normal(3 * E) * 0.1 if bias else None
        bkv = (rng.standard_normal((1, 1, E)), rng.standard_normal((1, 1, E))) if bias_kv else (None, None)
        out_w, out_b = rng.standard_normal((E, E)) * 0.4, rng.standard_normal(E) * 0.1
        n = 1 if N is None else N
        st = (rng.standard_normal((n * H, static, E // H)), rng.standard_normal((n * H, static, E // H))) \
            if static else (None, None)
        m = masks(rng) if masks else (None, None)
        return (q, k, v, *w, b, *bkv, out_w, out_b, *st, *m)  # flat: the runner casts top-level arrays only
    return make


def _mhaf(E: int, H: int, dropout: float = 0.0, zero_attn: bool = False, **kw: Any) -> Callable[..., Any]:
    def fn(F: Any, q, k, v, w0, w1, w2, b, bias_k, bias_v, out_w, out_b, static_k, static_v, kpm, mask) -> Any:
        extra: dict = {}
        if w1 is not None:
            extra = {"use_separate_proj_weight": True, "q_proj_weight": w0, "k_proj_weight": w1, "v_proj_weight": w2}
        return F.multi_head_attention_forward(
            q, k, v, E, H, None if w1 is not None else w0, b, bias_k, bias_v, zero_attn, dropout, out_w, out_b,
            key_padding_mask=kpm, attn_mask=mask, static_k=static_k, static_v=static_v, **extra, **kw)
    return fn


FUNC_SAMPLES = [
    # Ranks, broadcasting, sizes.
    FuncSample("sdpa-4d", _sdpa(), sdpa_in((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7))),
    FuncSample("sdpa-3d", _sdpa(), sdpa_in((3, 4, 5), (3, 6, 5), (3, 6, 2))),
    FuncSample("sdpa-2d", _sdpa(), sdpa_in((4, 5), (6, 5), (6, 3))),
    FuncSample("sdpa-5d", _sdpa(), sdpa_in((2, 1, 2, 3, 4), (2, 1, 2, 5, 4), (2, 1, 2, 5, 4))),
    FuncSample("sdpa-broadcast-batch", _sdpa(), sdpa_in((2, 3, 4, 5), (1, 3, 6, 5), (1, 3, 6, 5))),
    FuncSample("sdpa-batch0", _sdpa(), sdpa_in((0, 2, 3, 4), (0, 2, 5, 4), (0, 2, 5, 4))),
    FuncSample("sdpa-L0", _sdpa(), sdpa_in((2, 2, 0, 4), (2, 2, 5, 4), (2, 2, 5, 4))),
    FuncSample("sdpa-S0", _sdpa(), sdpa_in((2, 2, 3, 4), (2, 2, 0, 4), (2, 2, 0, 6))),
    FuncSample("sdpa-L1-S1", _sdpa(), sdpa_in((1, 1, 1, 1), (1, 1, 1, 1), (1, 1, 1, 1))),
    FuncSample("sdpa-large-scores", _sdpa(scale=30.0), sdpa_in((2, 2, 4, 8), (2, 2, 6, 8), (2, 2, 6, 8))),
    FuncSample("sdpa-scale", _sdpa(scale=0.3), sdpa_in((2, 2, 4, 5), (2, 2, 6, 5), (2, 2, 6, 3))),
    # Masks: bool (True = attend), float (added), broadcast shapes, fully masked rows (zeros, as torch).
    FuncSample("sdpa-bool-mask-2d", _sdpa(), sdpa_in((2, 2, 4, 5), (2, 2, 6, 5), (2, 2, 6, 3),
                                                     lambda rng: ~bool_attn_mask(rng, (4, 6)))),
    FuncSample("sdpa-bool-mask-4d", _sdpa(), sdpa_in((2, 2, 4, 5), (2, 2, 6, 5), (2, 2, 6, 3),
                                                     lambda rng: ~bool_attn_mask(rng, (2, 2, 4, 6)))),
    FuncSample("sdpa-bool-mask-per-batch", _sdpa(), sdpa_in((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 3),
                                                            lambda rng: ~bool_attn_mask(rng, (2, 1, 1, 6)))),
    FuncSample("sdpa-float-mask", _sdpa(), sdpa_in((2, 2, 4, 5), (2, 2, 6, 5), (2, 2, 6, 3),
                                                   lambda rng: float_mask(rng, (4, 6)))),
    FuncSample("sdpa-float-mask-heads", _sdpa(), sdpa_in((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 3),
                                                         lambda rng: float_mask(rng, (3, 4, 6)))),
    FuncSample("sdpa-fully-masked-bool", _sdpa(), sdpa_in((2, 2, 4, 5), (2, 2, 6, 5), (2, 2, 6, 3),
                                                          lambda rng: ~bool_attn_mask(rng, (4, 6), full_row=True))),
    FuncSample("sdpa-fully-masked-float", _sdpa(), sdpa_in((2, 2, 4, 5), (2, 2, 6, 5), (2, 2, 6, 3),
                                                           lambda rng: np.where(
                                                               bool_attn_mask(rng, (2, 1, 4, 6), full_row=True),
                                                               NEG_INF, 0.0))),
    FuncSample("sdpa-mask-3d-input", _sdpa(), sdpa_in((3, 4, 5), (3, 6, 5), (3, 6, 2),
                                                      lambda rng: float_mask(rng, (3, 4, 6)))),
    # Causal (upper-left aligned for L != S).
    FuncSample("sdpa-causal", _sdpa(is_causal=True), sdpa_in((2, 2, 5, 4), (2, 2, 5, 4), (2, 2, 5, 3))),
    FuncSample("sdpa-causal-L<S", _sdpa(is_causal=True), sdpa_in((2, 2, 3, 4), (2, 2, 6, 4), (2, 2, 6, 3))),
    FuncSample("sdpa-causal-L>S", _sdpa(is_causal=True), sdpa_in((2, 2, 6, 4), (2, 2, 3, 4), (2, 2, 3, 3))),
    FuncSample("sdpa-causal-scale-2d", _sdpa(is_causal=True, scale=0.7), sdpa_in((5, 4), (5, 4), (5, 2))),
    # Grouped-query attention.
    FuncSample("sdpa-gqa", _sdpa(enable_gqa=True), sdpa_in((2, 4, 3, 5), (2, 2, 6, 5), (2, 2, 6, 3))),
    FuncSample("sdpa-gqa-kv-heads-differ", _sdpa(enable_gqa=True), sdpa_in((2, 6, 3, 5), (2, 3, 6, 5),
                                                                           (2, 1, 6, 4))),
    FuncSample("sdpa-gqa-mask-causal", _sdpa(enable_gqa=True, is_causal=True),
               sdpa_in((1, 4, 4, 5), (1, 1, 4, 5), (1, 1, 4, 3))),
    FuncSample("sdpa-gqa-mask", _sdpa(enable_gqa=True), sdpa_in((2, 4, 3, 5), (2, 2, 6, 5), (2, 2, 6, 3),
                                                                lambda rng: float_mask(rng, (4, 3, 6)))),
    FuncSample("sdpa-gqa-same-heads", _sdpa(enable_gqa=True), sdpa_in((2, 2, 3, 5), (2, 2, 6, 5), (2, 2, 6, 3))),
    # Dropout: random.
    FuncSample("sdpa-dropout", _sdpa(dropout_p=0.5), sdpa_in((2, 2, 4, 5), (2, 2, 6, 5), (2, 2, 6, 3)), random=True),
    FuncSample("sdpa-dropout-gqa-mask", _sdpa(dropout_p=0.2, enable_gqa=True),
               sdpa_in((2, 4, 3, 5), (2, 2, 6, 5), (2, 2, 6, 3), lambda rng: ~bool_attn_mask(rng, (3, 6))),
               random=True),
    # multi_head_attention_forward with explicit weights.
    FuncSample("mhaf-basic", _mhaf(8, 2), _mhaf_inputs(3, 5, 2, 8, 2)),
    FuncSample("mhaf-unbatched-nobias", _mhaf(8, 4), _mhaf_inputs(3, 5, None, 8, 4, bias=False)),
    FuncSample("mhaf-separate", _mhaf(8, 2, need_weights=False), _mhaf_inputs(3, 5, 2, 8, 2, separate=(3, 6))),
    FuncSample("mhaf-bias_kv-zero-masks", _mhaf(8, 2, zero_attn=True, average_attn_weights=False),
               _mhaf_inputs(3, 4, 2, 8, 2, bias_kv=True,
                            masks=lambda rng: (padding_mask(2, 4), bool_attn_mask(rng, (4, 3, 4))))),
    FuncSample("mhaf-static-kv", _mhaf(8, 2), _mhaf_inputs(3, 4, 2, 8, 2, static=6)),
    FuncSample("mhaf-static-kv-zero-attn-kpm", _mhaf(8, 2, zero_attn=True, need_weights=False),
               _mhaf_inputs(3, 4, 2, 8, 2, static=5,
                            masks=lambda rng: (padding_mask(2, 5), None))),
    FuncSample("mhaf-not-training", _mhaf(8, 2, dropout=0.5, training=False), _mhaf_inputs(3, 4, 2, 8, 2)),
    FuncSample("mhaf-dropout", _mhaf(8, 2, dropout=0.5), _mhaf_inputs(3, 4, 2, 8, 2), random=True),
]


# ---------------------------------------------------------------------------------------------------- errors
def _f32(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.standard_normal(shape).astype(np.float32)


def _call_mha(module_kw: dict, **call_kw: Any) -> Callable[[Any], Any]:
    return lambda nn: (lambda *a: nn.MultiheadAttention(**module_kw)(*a, **call_kw))


def _inputs(*makers: Callable) -> Callable[[np.random.Generator], tuple]:
    return lambda rng: tuple(m(rng) for m in makers)


def _sdpa_err(**kw: Any) -> Callable[[Any], Any]:
    return lambda nn: (lambda *a: nn.functional.scaled_dot_product_attention(*a, **kw))


E8H2 = {"embed_dim": 8, "num_heads": 2}

ERROR_SAMPLES = [
    ErrorSample("MHA-4d-query", _call_mha(E8H2), _inputs(_f32(1, 3, 2, 8), _f32(1, 3, 2, 8), _f32(1, 3, 2, 8)),
                r"MultiheadAttention.*expected query of shape \(L, N, E\) or \(L, E\), got \(1, 3, 2, 8\)"),
    ErrorSample("MHA-key-rank", _call_mha(E8H2), _inputs(_f32(3, 2, 8), _f32(3, 8), _f32(3, 8)),
                r"expected key of shape \(S, N, E\) for a 3-D query, got \(3, 8\)"),
    ErrorSample("MHA-embed-dim", _call_mha(E8H2), _inputs(_f32(3, 2, 6), _f32(3, 2, 6), _f32(3, 2, 6)),
                r"expected query of shape \(L, N, 8\), got \(3, 2, 6\)"),
    ErrorSample("MHA-batch-mismatch", _call_mha(E8H2), _inputs(_f32(3, 2, 8), _f32(4, 3, 8), _f32(4, 3, 8)),
                r"expected key of shape \(S, 2, E\).*got \(4, 3, 8\)"),
    ErrorSample("MHA-kv-length", _call_mha(E8H2), _inputs(_f32(3, 2, 8), _f32(4, 2, 8), _f32(5, 2, 8)),
                r"expected value of shape \(4, \.\.\.\).*got \(5, 2, 8\)"),
    ErrorSample("MHA-kdim", _call_mha({**E8H2, "kdim": 5}), _inputs(_f32(3, 2, 8), _f32(4, 2, 6), _f32(4, 2, 8)),
                r"expected key of shape \(S, N, 5\), got \(4, 2, 6\)"),
    ErrorSample("MHA-packed-kdim", _call_mha(E8H2), _inputs(_f32(3, 2, 8), _f32(4, 2, 6), _f32(4, 2, 6)),
                r"expected key and value of shape \(S, N, 8\).*got \(4, 2, 6\) and \(4, 2, 6\)"),
    ErrorSample("MHA-int-input", _call_mha(E8H2),
                lambda rng: (np.ones((3, 2, 8), dtype=np.int64),) * 3,
                r"expected a floating-point query, got dtype int64"),
    ErrorSample("MHA-kpm-shape", _call_mha(E8H2, key_padding_mask=np.zeros((2, 5), dtype=bool)),
                _inputs(_f32(3, 2, 8), _f32(4, 2, 8), _f32(4, 2, 8)),
                r"expected key_padding_mask of shape \(2, 4\), got \(2, 5\)"),
    ErrorSample("MHA-kpm-unbatched-rank", _call_mha(E8H2, key_padding_mask=np.zeros((1, 4), dtype=bool)),
                _inputs(_f32(3, 8), _f32(4, 8), _f32(4, 8)),
                r"expected key_padding_mask of shape \(S,\) for an unbatched query, got \(1, 4\)"),
    ErrorSample("MHA-kpm-int", _call_mha(E8H2, key_padding_mask=np.zeros((2, 4), dtype=np.int64)),
                _inputs(_f32(3, 2, 8), _f32(4, 2, 8), _f32(4, 2, 8)),
                r"expected a bool or float32 key_padding_mask, got dtype int64"),
    ErrorSample("MHA-mask-2d-shape", _call_mha(E8H2, attn_mask=np.zeros((3, 5), dtype=bool)),
                _inputs(_f32(3, 2, 8), _f32(4, 2, 8), _f32(4, 2, 8)),
                r"expected 2-D attn_mask of shape \(3, 4\), got \(3, 5\)"),
    ErrorSample("MHA-mask-3d-shape", _call_mha(E8H2, attn_mask=np.zeros((2, 3, 4), dtype=bool)),
                _inputs(_f32(3, 2, 8), _f32(4, 2, 8), _f32(4, 2, 8)),
                r"expected 3-D attn_mask of shape \(4, 3, 4\), got \(2, 3, 4\)"),
    ErrorSample("MHA-mask-1d", _call_mha(E8H2, attn_mask=np.zeros((4,), dtype=bool)),
                _inputs(_f32(3, 2, 8), _f32(4, 2, 8), _f32(4, 2, 8)),
                r"expected attn_mask of shape \(L, S\) or \(N\*num_heads, L, S\), got \(4,\)"),
    ErrorSample("MHA-mask-f64-for-f32", _call_mha(E8H2, attn_mask=np.zeros((3, 4))),
                _inputs(_f32(3, 2, 8), _f32(4, 2, 8), _f32(4, 2, 8)),
                r"expected a bool or float32 attn_mask, got dtype float64"),
    ErrorSample("MHA-is_causal-without-mask", _call_mha(E8H2, is_causal=True),
                _inputs(_f32(3, 2, 8), _f32(3, 2, 8), _f32(3, 2, 8)),
                r"expected an attn_mask with is_causal=True.*got attn_mask=None"),
    ErrorSample("sdpa-1d", _sdpa_err(), _inputs(_f32(4), _f32(4), _f32(4)),
                r"scaled_dot_product_attention expected query of at least 2 dimensions \(\.\.\., L, E\), got \(4,\)"),
    ErrorSample("sdpa-E-mismatch", _sdpa_err(), _inputs(_f32(2, 3, 4), _f32(2, 5, 3), _f32(2, 5, 4)),
                r"expected key of shape \(\.\.\., S, 4\).*got \(2, 5, 3\)"),
    ErrorSample("sdpa-S-mismatch", _sdpa_err(), _inputs(_f32(2, 3, 4), _f32(2, 5, 4), _f32(2, 6, 4)),
                r"expected value of shape \(\.\.\., 5, Ev\).*got \(2, 6, 4\)"),
    ErrorSample("sdpa-dtype-mismatch", _sdpa_err(),
                lambda rng: (np.zeros((2, 3, 4), np.float32), np.zeros((2, 5, 4)), np.zeros((2, 5, 4), np.float32)),
                r"expected key of the query's dtype float32, got dtype float64"),
    ErrorSample("sdpa-int", _sdpa_err(), lambda rng: (np.zeros((2, 3, 4), np.int32),) * 3,
                r"expected a floating-point query, got dtype int32"),
    ErrorSample("sdpa-heads", _sdpa_err(), _inputs(_f32(2, 4, 3, 4), _f32(2, 3, 5, 4), _f32(2, 3, 5, 4)),
                r"expected key batch and head dimensions broadcastable .*got \(2, 3, 5, 4\)"),
    ErrorSample("sdpa-gqa-indivisible", _sdpa_err(enable_gqa=True),
                _inputs(_f32(2, 4, 3, 4), _f32(2, 3, 5, 4), _f32(2, 3, 5, 4)),
                r"expected key heads dividing the query's 4 heads \(enable_gqa=True\), got \(2, 3, 5, 4\)"),
    ErrorSample("sdpa-mask-shape", _sdpa_err(), _inputs(_f32(2, 2, 3, 4), _f32(2, 2, 5, 4), _f32(2, 2, 5, 4),
                                                        lambda rng: np.ones((3, 4), dtype=bool)),
                r"expected attn_mask broadcastable to the attention weights' shape \(2, 2, 3, 5\), got \(3, 4\)"),
    ErrorSample("sdpa-mask-too-many-dims", _sdpa_err(), _inputs(_f32(2, 3, 4), _f32(2, 5, 4), _f32(2, 5, 4),
                                                                lambda rng: np.ones((1, 1, 3, 5), dtype=bool)),
                r"expected attn_mask broadcastable .* \(2, 3, 5\), got \(1, 1, 3, 5\)"),
    ErrorSample("sdpa-mask-int", _sdpa_err(), _inputs(_f32(2, 3, 4), _f32(2, 5, 4), _f32(2, 5, 4),
                                                      lambda rng: np.ones((3, 5), dtype=np.int64)),
                r"expected a bool or float32 attn_mask, got dtype int64"),
    ErrorSample("sdpa-causal-and-mask", _sdpa_err(is_causal=True),
                _inputs(_f32(2, 3, 4), _f32(2, 5, 4), _f32(2, 5, 4), lambda rng: np.ones((3, 5), dtype=bool)),
                r"expected attn_mask=None when is_causal=True, got attn_mask of shape \(3, 5\)"),
]
