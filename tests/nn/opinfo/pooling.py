"""Op table: max/avg/LP/adaptive pooling, max unpooling, and their functional forms."""
from __future__ import annotations

import numpy as np

from tests.nn.opinfo import ErrorSample, FuncSample, ModuleSample, randn


def _m(id: str, ctor: str, args: tuple, kwargs: dict, shape: tuple, **extra) -> ModuleSample:
    return ModuleSample(id, lambda nn: getattr(nn, ctor)(*args, **kwargs), randn(*shape), **extra)


def _f(id: str, fn, *shapes: tuple, **extra) -> FuncSample:
    return FuncSample(id, fn, lambda rng: tuple(rng.standard_normal(s) for s in shapes), **extra)


def _positive(*shape: int):
    """Positive inputs: LP pooling with a fractional p is NaN on negative power sums."""
    return lambda rng: (np.abs(rng.standard_normal(shape)) + 0.1,)


def _ties(*shape: int):
    """Small integers as floats: many equal maxima, so index tie-breaking is exercised."""
    return lambda rng: (rng.integers(-2, 3, shape).astype(np.float64),)


def _unpool_inputs(in_shape: tuple, kernel: tuple, stride: tuple, out_spatial: tuple):
    """Values and valid indices: each output cell points at a random tap of its (non-overlapping) window."""
    def make(rng: np.random.Generator) -> tuple:
        x = rng.standard_normal(in_shape)
        nd = len(kernel)
        spatial = in_shape[-nd:]
        flat = np.zeros(in_shape, dtype=np.int64)
        plane = 1
        for d in reversed(range(nd)):
            coord = np.arange(spatial[d]) * stride[d]
            offset = rng.integers(0, kernel[d], in_shape)
            pos = coord.reshape((-1,) + (1,) * (nd - 1 - d)) + offset
            flat += np.minimum(pos, out_spatial[d] - 1) * plane
            plane *= out_spatial[d]
        return x, flat
    return make


MODULE_SAMPLES = [
    # MaxPool1d
    _m("maxpool1d-k2", "MaxPool1d", (2,), {}, (2, 3, 8)),
    _m("maxpool1d-k3-s2-p1", "MaxPool1d", (3, 2, 1), {}, (2, 3, 9)),
    _m("maxpool1d-dilation", "MaxPool1d", (3,), dict(stride=1, padding=1, dilation=2), (2, 2, 9)),
    _m("maxpool1d-ceil", "MaxPool1d", (3, 2), dict(ceil_mode=True), (2, 3, 8)),
    _m("maxpool1d-ceil-pad", "MaxPool1d", (2, 2, 1), dict(ceil_mode=True), (2, 2, 6)),
    _m("maxpool1d-indices", "MaxPool1d", (3, 2, 1), dict(return_indices=True, dilation=2), (2, 3, 11)),
    _m("maxpool1d-indices-ties", "MaxPool1d", (3, 1, 1), dict(return_indices=True), (2, 3, 9)),
    _m("maxpool1d-unbatched", "MaxPool1d", (2,), dict(return_indices=True), (3, 7)),
    _m("maxpool1d-batch0", "MaxPool1d", (2,), {}, (0, 3, 6)),
    _m("maxpool1d-stride-gt-kernel", "MaxPool1d", (2, 3), {}, (2, 2, 10)),
    _m("maxpool1d-len1", "MaxPool1d", (1,), {}, (2, 2, 1)),
    # MaxPool2d
    _m("maxpool2d-k2", "MaxPool2d", (2,), {}, (2, 3, 6, 6)),
    _m("maxpool2d-k3-s2-p1", "MaxPool2d", (3, 2, 1), {}, (2, 3, 7, 8)),
    _m("maxpool2d-rect", "MaxPool2d", ((3, 2),), dict(stride=(2, 1), padding=(1, 0)), (2, 2, 7, 6)),
    _m("maxpool2d-dilation", "MaxPool2d", (3,), dict(stride=1, padding=(1, 1), dilation=(3, 1)), (2, 2, 8, 6)),
    _m("maxpool2d-ceil", "MaxPool2d", (3, 2), dict(ceil_mode=True), (2, 3, 8, 7)),
    _m("maxpool2d-ceil-pad-dilation", "MaxPool2d", (2, 2, 1), dict(ceil_mode=True, dilation=2), (2, 2, 7, 6)),
    _m("maxpool2d-indices", "MaxPool2d", (3, 2, 1), dict(return_indices=True), (2, 3, 7, 7)),
    _m("maxpool2d-indices-ceil", "MaxPool2d", ((2, 3), (2, 1)), dict(return_indices=True, ceil_mode=True,
                                                                     padding=(1, 1)), (2, 2, 5, 6)),
    ModuleSample("maxpool2d-indices-ties", lambda nn: nn.MaxPool2d(3, 1, 1, return_indices=True), _ties(2, 2, 5, 6)),
    _m("maxpool2d-unbatched", "MaxPool2d", (2,), {}, (3, 5, 6)),
    _m("maxpool2d-batch0", "MaxPool2d", (2,), dict(return_indices=True), (0, 3, 4, 4)),
    _m("maxpool2d-1x1", "MaxPool2d", (1,), {}, (2, 3, 1, 1)),
    _m("maxpool2d-1x1-padded", "MaxPool2d", (2, 1, 1), dict(return_indices=True), (2, 3, 1, 1)),
    _m("maxpool2d-list-args", "MaxPool2d", ([2, 2], [1, 2]), dict(padding=[1, 0]), (2, 2, 5, 5)),
    # MaxPool3d
    _m("maxpool3d-k2", "MaxPool3d", (2,), {}, (2, 2, 4, 4, 4)),
    _m("maxpool3d-mixed", "MaxPool3d", ((2, 3, 2),), dict(stride=(1, 2, 1), padding=(1, 1, 0), dilation=(1, 1, 2)),
       (1, 2, 4, 5, 6)),
    _m("maxpool3d-ceil", "MaxPool3d", (2, 2), dict(ceil_mode=True), (1, 2, 5, 3, 5)),
    _m("maxpool3d-indices", "MaxPool3d", (3, 2, 1), dict(return_indices=True), (1, 2, 5, 5, 4)),
    _m("maxpool3d-unbatched", "MaxPool3d", (2,), dict(return_indices=True), (2, 4, 4, 3)),
    _m("maxpool3d-batch0", "MaxPool3d", (2,), {}, (0, 2, 4, 4, 4)),
    # AvgPool1d
    _m("avgpool1d-k2", "AvgPool1d", (2,), {}, (2, 3, 8)),
    _m("avgpool1d-k3-s2-p1", "AvgPool1d", (3, 2, 1), {}, (2, 3, 9)),
    _m("avgpool1d-ceil", "AvgPool1d", (3, 2), dict(ceil_mode=True), (2, 3, 8)),
    _m("avgpool1d-exclude-pad", "AvgPool1d", (3, 2, 1), dict(ceil_mode=True, count_include_pad=False), (2, 3, 8)),
    _m("avgpool1d-unbatched", "AvgPool1d", (2,), {}, (3, 7)),
    _m("avgpool1d-batch0", "AvgPool1d", (2,), {}, (0, 3, 6)),
    # AvgPool2d
    _m("avgpool2d-k2", "AvgPool2d", (2,), {}, (2, 3, 6, 6)),
    _m("avgpool2d-k3-s2-p1", "AvgPool2d", (3, 2, 1), {}, (2, 3, 7, 8)),
    _m("avgpool2d-rect", "AvgPool2d", ((3, 2), (2, 1), (1, 0)), {}, (2, 2, 7, 6)),
    _m("avgpool2d-ceil-include-pad", "AvgPool2d", (3, 2, 1), dict(ceil_mode=True), (2, 2, 6, 7)),
    _m("avgpool2d-ceil-exclude-pad", "AvgPool2d", (3, 2, 1), dict(ceil_mode=True, count_include_pad=False),
       (2, 2, 6, 7)),
    _m("avgpool2d-divisor", "AvgPool2d", (3, 2, 1), dict(divisor_override=5), (2, 2, 6, 6)),
    _m("avgpool2d-divisor-ceil", "AvgPool2d", (2, 2), dict(divisor_override=3, ceil_mode=True), (2, 2, 5, 5)),
    _m("avgpool2d-unbatched", "AvgPool2d", (2,), {}, (3, 5, 6)),
    _m("avgpool2d-batch0", "AvgPool2d", (2,), {}, (0, 3, 4, 4)),
    _m("avgpool2d-1x1-padded", "AvgPool2d", (2, 1, 1), dict(count_include_pad=False), (2, 3, 1, 1)),
    # AvgPool3d
    _m("avgpool3d-k2", "AvgPool3d", (2,), {}, (2, 2, 4, 4, 4)),
    _m("avgpool3d-pad-ceil", "AvgPool3d", (3, 2, 1), dict(ceil_mode=True, count_include_pad=False), (1, 2, 5, 4, 6)),
    _m("avgpool3d-divisor", "AvgPool3d", ((2, 3, 2),), dict(stride=1, divisor_override=7), (1, 2, 3, 4, 3)),
    _m("avgpool3d-unbatched", "AvgPool3d", (2,), {}, (2, 4, 4, 4)),
    # LPPool
    _m("lppool1d-p2", "LPPool1d", (2, 3, 2), {}, (2, 3, 9)),
    _m("lppool1d-p1", "LPPool1d", (1, 2), {}, (2, 3, 8)),
    _m("lppool1d-p3-ceil", "LPPool1d", (3, 3, 2), dict(ceil_mode=True), (2, 3, 8)),
    _m("lppool1d-inf", "LPPool1d", (float("inf"), 3), {}, (2, 3, 9)),
    _m("lppool1d-unbatched", "LPPool1d", (2, 2), {}, (3, 6)),
    _m("lppool2d-p2", "LPPool2d", (2, 2), {}, (2, 3, 6, 6)),
    ModuleSample("lppool2d-p1.5-positive", lambda nn: nn.LPPool2d(1.5, (3, 2), stride=(2, 1)), _positive(2, 2, 7, 5)),
    ModuleSample("lppool2d-p2-ceil", lambda nn: nn.LPPool2d(2, 3, 2, ceil_mode=True), _positive(2, 2, 6, 7)),
    _m("lppool2d-neg-inf", "LPPool2d", (float("-inf"), 2), {}, (2, 2, 4, 6)),
    _m("lppool2d-batch0", "LPPool2d", (2, 2), {}, (0, 2, 4, 4)),
    _m("lppool3d-p2", "LPPool3d", (2, 2), {}, (1, 2, 4, 4, 4)),
    # Adaptive average
    _m("adaptiveavg1d-1", "AdaptiveAvgPool1d", (1,), {}, (2, 3, 7)),
    _m("adaptiveavg1d-irregular", "AdaptiveAvgPool1d", (3,), {}, (2, 3, 7)),
    _m("adaptiveavg1d-larger", "AdaptiveAvgPool1d", (10,), {}, (2, 3, 7)),
    _m("adaptiveavg1d-unbatched", "AdaptiveAvgPool1d", (4,), {}, (3, 9)),
    _m("adaptiveavg2d-1", "AdaptiveAvgPool2d", (1,), {}, (2, 3, 5, 6)),
    _m("adaptiveavg2d-irregular", "AdaptiveAvgPool2d", ((3, 4),), {}, (2, 3, 7, 5)),
    _m("adaptiveavg2d-none", "AdaptiveAvgPool2d", ((None, 3),), {}, (2, 3, 4, 7)),
    _m("adaptiveavg2d-larger", "AdaptiveAvgPool2d", (7,), {}, (2, 2, 3, 5)),
    _m("adaptiveavg2d-same", "AdaptiveAvgPool2d", ((4, 6),), {}, (2, 2, 4, 6)),
    _m("adaptiveavg2d-unbatched", "AdaptiveAvgPool2d", (2,), {}, (3, 5, 5)),
    _m("adaptiveavg2d-batch0", "AdaptiveAvgPool2d", (2,), {}, (0, 3, 5, 5)),
    _m("adaptiveavg3d-mixed", "AdaptiveAvgPool3d", ((2, 3, None),), {}, (1, 2, 5, 4, 3)),
    _m("adaptiveavg3d-1", "AdaptiveAvgPool3d", (1,), {}, (2, 2, 3, 4, 5)),
    _m("adaptiveavg3d-unbatched", "AdaptiveAvgPool3d", (2,), {}, (2, 3, 5, 4)),
    # Adaptive max
    _m("adaptivemax1d-indices", "AdaptiveMaxPool1d", (3,), dict(return_indices=True), (2, 3, 7)),
    _m("adaptivemax1d-larger", "AdaptiveMaxPool1d", (9,), {}, (2, 3, 5)),
    _m("adaptivemax1d-unbatched", "AdaptiveMaxPool1d", (4,), dict(return_indices=True), (3, 10)),
    _m("adaptivemax2d-indices", "AdaptiveMaxPool2d", ((3, None),), dict(return_indices=True), (2, 3, 7, 5)),
    _m("adaptivemax2d-1", "AdaptiveMaxPool2d", (1,), {}, (2, 3, 5, 6)),
    _m("adaptivemax2d-larger", "AdaptiveMaxPool2d", ((5, 7),), dict(return_indices=True), (2, 2, 4, 6)),
    ModuleSample("adaptivemax2d-ties", lambda nn: nn.AdaptiveMaxPool2d(3, return_indices=True), _ties(2, 2, 7, 8)),
    _m("adaptivemax2d-unbatched", "AdaptiveMaxPool2d", (2,), dict(return_indices=True), (3, 5, 5)),
    _m("adaptivemax2d-batch0", "AdaptiveMaxPool2d", (2,), {}, (0, 3, 5, 5)),
    _m("adaptivemax3d-indices", "AdaptiveMaxPool3d", ((2, 3, 2),), dict(return_indices=True), (1, 2, 5, 4, 3)),
    # MaxUnpool
    ModuleSample("maxunpool1d", lambda nn: nn.MaxUnpool1d(2), _unpool_inputs((2, 3, 4), (2,), (2,), (8,))),
    ModuleSample("maxunpool1d-output-size", lambda nn: nn.MaxUnpool1d(3, 2),
                 _unpool_inputs((2, 3, 4), (2,), (2,), (10,)), kwargs=lambda rng: dict(output_size=(10,))),
    ModuleSample("maxunpool2d", lambda nn: nn.MaxUnpool2d(2), _unpool_inputs((2, 3, 3, 4), (2, 2), (2, 2), (6, 8))),
    ModuleSample("maxunpool2d-output-size", lambda nn: nn.MaxUnpool2d(2),
                 _unpool_inputs((2, 3, 3, 4), (2, 2), (2, 2), (7, 9)),
                 kwargs=lambda rng: dict(output_size=(2, 3, 7, 9))),
    ModuleSample("maxunpool2d-unbatched", lambda nn: nn.MaxUnpool2d((2, 3), (2, 3)),
                 _unpool_inputs((3, 2, 2), (2, 3), (2, 3), (4, 6))),
    ModuleSample("maxunpool3d", lambda nn: nn.MaxUnpool3d(2),
                 _unpool_inputs((1, 2, 2, 3, 2), (2, 2, 2), (2, 2, 2), (4, 6, 4))),
]


FUNC_SAMPLES = [
    _f("F.max_pool1d", lambda F, x: F.max_pool1d(x, 3, 2, 1, 1, True), (2, 3, 8)),
    _f("F.max_pool2d-positional-indices", lambda F, x: F.max_pool2d(x, 3, 2, 1, 1, False, True), (2, 3, 7, 7)),
    _f("F.max_pool2d-default-stride", lambda F, x: F.max_pool2d(x, (2, 3)), (2, 3, 6, 7)),
    _f("F.max_pool2d-empty-stride", lambda F, x: F.max_pool2d(x, 2, []), (2, 3, 6, 7)),
    _f("F.max_pool3d-indices", lambda F, x: F.max_pool3d(x, 2, return_indices=True), (1, 2, 4, 4, 5)),
    _f("F.max_pool1d_with_indices", lambda F, x: F.max_pool1d_with_indices(x, 2), (2, 3, 8)),
    _f("F.max_pool2d_with_indices", lambda F, x: F.max_pool2d_with_indices(x, 3, 1, 1, 2), (2, 2, 7, 7)),
    _f("F.max_pool3d_with_indices", lambda F, x: F.max_pool3d_with_indices(x, 2, ceil_mode=True), (1, 2, 3, 5, 5)),
    _f("F.avg_pool1d", lambda F, x: F.avg_pool1d(x, 3, 2, 1, True, False), (2, 3, 8)),
    _f("F.avg_pool2d-divisor", lambda F, x: F.avg_pool2d(x, 3, 2, 1, False, True, 4), (2, 3, 7, 7)),
    _f("F.avg_pool3d", lambda F, x: F.avg_pool3d(x, (2, 3, 2), padding=(1, 1, 0), ceil_mode=True), (1, 2, 4, 5, 4)),
    _f("F.lp_pool1d", lambda F, x: F.lp_pool1d(x, 2, 3, 2, True), (2, 3, 8)),
    _f("F.lp_pool2d-int-norm", lambda F, x: F.lp_pool2d(x, 2, (2, 3)), (2, 3, 6, 6)),
    _f("F.lp_pool3d", lambda F, x: F.lp_pool3d(x, 2.0, 2, 1), (1, 2, 3, 4, 4)),
    _f("F.adaptive_max_pool1d", lambda F, x: F.adaptive_max_pool1d(x, 4, True), (2, 3, 9)),
    _f("F.adaptive_max_pool2d-none", lambda F, x: F.adaptive_max_pool2d(x, (None, 2), return_indices=True),
       (2, 3, 5, 7)),
    _f("F.adaptive_max_pool3d", lambda F, x: F.adaptive_max_pool3d(x, 2), (1, 2, 3, 5, 4)),
    _f("F.adaptive_max_pool2d_with_indices", lambda F, x: F.adaptive_max_pool2d_with_indices(x, 3), (2, 2, 7, 5)),
    _f("F.adaptive_avg_pool1d", lambda F, x: F.adaptive_avg_pool1d(x, 5), (2, 3, 11)),
    _f("F.adaptive_avg_pool2d", lambda F, x: F.adaptive_avg_pool2d(x, (3, None)), (2, 3, 8, 5)),
    _f("F.adaptive_avg_pool2d-zero", lambda F, x: F.adaptive_avg_pool2d(x, 0), (2, 3, 4, 5)),
    _f("F.adaptive_max_pool2d-zero", lambda F, x: F.adaptive_max_pool2d(x, (0, 2), True), (2, 3, 4, 5)),
    _f("F.adaptive_avg_pool3d", lambda F, x: F.adaptive_avg_pool3d(x, (1, 2, 3)), (1, 2, 4, 5, 6)),
    FuncSample("F.max_unpool2d", lambda F, x, i: F.max_unpool2d(x, i, 2, output_size=(7, 8)),
               _unpool_inputs((2, 3, 3, 4), (2, 2), (2, 2), (7, 8))),
    FuncSample("F.max_unpool1d", lambda F, x, i: F.max_unpool1d(x, i, 3, 2, 1),
               _unpool_inputs((2, 3, 5), (2,), (2,), (9,))),
    FuncSample("F.max_unpool3d", lambda F, x, i: F.max_unpool3d(x, i, (1, 2, 2)),
               _unpool_inputs((1, 2, 2, 2, 3), (1, 2, 2), (1, 2, 2), (2, 4, 6))),
]


def _bad(*shape: int, dtype=np.float64):
    return lambda rng: (np.zeros(shape, dtype=dtype),)


ERROR_SAMPLES = [
    ErrorSample("maxpool2d-rank2", lambda nn: nn.MaxPool2d(2), _bad(5, 5),
                r"^MaxPool2d\(kernel_size=2.*expected input of shape \(N, C, H, W\) or \(C, H, W\).*got \(5, 5\)"),
    ErrorSample("maxpool1d-rank4", lambda nn: nn.MaxPool1d(2), _bad(1, 2, 5, 5),
                r"expected input of shape \(N, C, L\) or \(C, L\).*got \(1, 2, 5, 5\)"),
    ErrorSample("maxpool3d-zero-channels", lambda nn: nn.MaxPool3d(2), _bad(2, 0, 4, 4, 4), r"non-zero C.*got \(2, 0"),
    ErrorSample("maxpool2d-pad-too-big", lambda nn: nn.MaxPool2d(2, padding=2), _bad(1, 1, 6, 6),
                r"padding at most half the kernel size \(1 for kernel_size=2\), got padding=2"),
    ErrorSample("maxpool2d-output-too-small", lambda nn: nn.MaxPool2d(3), _bad(1, 1, 2, 5),
                r"output size \(0, 1\) is too small.*got input of shape \(1, 1, 2, 5\)"),
    ErrorSample("maxpool2d-bool", lambda nn: nn.MaxPool2d(2), _bad(1, 1, 4, 4, dtype=bool),
                r"floating-point or integer input, got dtype bool"),
    ErrorSample("maxpool2d-stride0", lambda nn: nn.MaxPool2d(2, 0), _bad(1, 1, 4, 4), r"stride >= 1, got \(0, 0\)"),
    ErrorSample("avgpool2d-int32", lambda nn: nn.AvgPool2d(2), _bad(1, 1, 4, 4, dtype=np.int32),
                r"floating-point or int64 input, got dtype int32"),
    ErrorSample("avgpool2d-divisor0", lambda nn: nn.AvgPool2d(2, divisor_override=0), _bad(1, 1, 4, 4),
                r"divisor_override to be a non-zero int or None, got 0"),
    ErrorSample("avgpool1d-bad-kernel", lambda nn: nn.AvgPool1d((2, 2)), _bad(1, 2, 4),
                r"kernel_size to be an int or a tuple of 1 ints, got \(2, 2\)"),
    ErrorSample("lppool2d-norm0", lambda nn: nn.LPPool2d(0, 2), _bad(1, 1, 4, 4), r"non-zero number, got 0.0"),
    ErrorSample("lppool1d-int", lambda nn: (lambda x: nn.functional.lp_pool1d(x, 2, 2)), _bad(1, 2, 4, dtype=np.int64),
                r"^lp_pool1d expected a floating-point input, got dtype int64"),
    ErrorSample("adaptiveavg2d-int", lambda nn: nn.AdaptiveAvgPool2d(2), _bad(1, 1, 4, 4, dtype=np.int64),
                r"floating-point input, got dtype int64"),
    ErrorSample("adaptiveavg2d-rank5", lambda nn: nn.AdaptiveAvgPool2d(2), _bad(1, 1, 1, 4, 4),
                r"\(N, C, H, W\) or \(C, H, W\).*got \(1, 1, 1, 4, 4\)"),
    ErrorSample("adaptivemax2d-negative-size", lambda nn: nn.AdaptiveMaxPool2d((2, -1)), _bad(1, 1, 4, 4),
                r"output_size entries to be non-negative ints or None, got \(2, -1\)"),
    ErrorSample("adaptivemax1d-bad-size", lambda nn: nn.AdaptiveMaxPool1d((2, 2)), _bad(1, 1, 4),
                r"output_size to be an int or a tuple of 1 ints"),
    ErrorSample("maxunpool2d-index-range", lambda nn: nn.MaxUnpool2d(2),
                lambda rng: (np.zeros((1, 1, 2, 2)), np.full((1, 1, 2, 2), 16)),
                r"indices in \[0, 16\) for output size \(4, 4\), got index 16"),
    ErrorSample("maxunpool2d-float-indices", lambda nn: nn.MaxUnpool2d(2),
                lambda rng: (np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2))), r"integer indices, got dtype float64"),
    ErrorSample("maxunpool2d-indices-shape", lambda nn: nn.MaxUnpool2d(2),
                lambda rng: (np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 3), dtype=np.int64)),
                r"indices of the input's shape \(1, 1, 2, 2\), got \(1, 1, 2, 3\)"),
    ErrorSample("maxunpool2d-output-size", lambda nn: (lambda x, i: nn.MaxUnpool2d(2)(x, i, output_size=(6, 4))),
                lambda rng: (np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2), dtype=np.int64)),
                r"output_size\[0\] between 2 and 6 \(exclusive\), got 6"),
]
