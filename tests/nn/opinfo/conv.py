"""Op table: Conv1d/2d/3d, ConvTranspose1d/2d/3d and their functional forms."""
from __future__ import annotations

import numpy as np

from tests.nn.opinfo import ErrorSample, FuncSample, ModuleSample, randn


def _m(id: str, ctor: str, args: tuple, kwargs: dict, shape: tuple, call=None) -> ModuleSample:
    return ModuleSample(id, lambda nn: getattr(nn, ctor)(*args, **kwargs), randn(*shape), call=call)


def _f(id: str, fn, *shapes: tuple) -> FuncSample:
    return FuncSample(id, fn, lambda rng: tuple(rng.standard_normal(s) for s in shapes))


def _with_output_size(module, output_size):
    return lambda x: module(x, output_size=output_size)


def _f32(*shapes: tuple):
    return lambda rng: tuple(rng.standard_normal(s).astype(np.float32) for s in shapes)


MODULE_SAMPLES = [
    # Conv1d
    _m("conv1d-basic", "Conv1d", (3, 8, 3), {}, (2, 3, 10)),
    _m("conv1d-stride-pad", "Conv1d", (3, 4, 3), dict(stride=2, padding=1), (2, 3, 11)),
    _m("conv1d-dilation", "Conv1d", (2, 4, 3), dict(dilation=3, padding=2), (2, 2, 12)),
    _m("conv1d-groups-nobias", "Conv1d", (4, 6, 2), dict(groups=2, bias=False), (3, 4, 9)),
    _m("conv1d-depthwise-x2", "Conv1d", (4, 8, 3), dict(groups=4, padding=1), (2, 4, 7)),
    _m("conv1d-same-even", "Conv1d", (3, 5, 4), dict(padding="same", dilation=2), (2, 3, 9)),
    _m("conv1d-valid", "Conv1d", (3, 5, 3), dict(padding="valid"), (2, 3, 6)),
    _m("conv1d-reflect", "Conv1d", (2, 3, 3), dict(padding=2, padding_mode="reflect"), (2, 2, 6)),
    _m("conv1d-replicate", "Conv1d", (2, 3, 3), dict(padding=3, stride=2, padding_mode="replicate"), (2, 2, 5)),
    _m("conv1d-circular", "Conv1d", (2, 3, 5), dict(padding=2, padding_mode="circular"), (2, 2, 5)),
    _m("conv1d-same-circular", "Conv1d", (2, 3, 4), dict(padding="same", padding_mode="circular"), (1, 2, 6)),
    _m("conv1d-unbatched", "Conv1d", (3, 4, 3), dict(padding=1), (3, 7)),
    _m("conv1d-batch0", "Conv1d", (3, 4, 3), {}, (0, 3, 7)),
    _m("conv1d-full-kernel", "Conv1d", (3, 4, 7), {}, (2, 3, 7)),
    _m("conv1d-stride-gt-kernel", "Conv1d", (2, 3, 2), dict(stride=4), (2, 2, 11)),
    # Conv2d
    _m("conv2d-basic", "Conv2d", (3, 8, 3), {}, (2, 3, 8, 8)),
    _m("conv2d-rect", "Conv2d", (3, 4, (3, 2)), dict(stride=(2, 1), padding=(1, 2)), (2, 3, 9, 7)),
    _m("conv2d-dilation", "Conv2d", (2, 4, 3), dict(dilation=(2, 1), padding=(2, 0)), (2, 2, 9, 8)),
    _m("conv2d-groups", "Conv2d", (6, 9, 3), dict(groups=3, padding=1), (2, 6, 6, 5)),
    _m("conv2d-depthwise", "Conv2d", (4, 4, 3), dict(groups=4, padding=1), (2, 4, 7, 7)),
    _m("conv2d-depthwise-x2-stride", "Conv2d", (4, 8, 3), dict(groups=4, stride=2, padding=1), (2, 4, 8, 8)),
    _m("conv2d-1x1", "Conv2d", (5, 3, 1), {}, (2, 5, 4, 6)),
    _m("conv2d-1x1-spatial", "Conv2d", (3, 4, 3), dict(padding=1), (2, 3, 1, 1)),
    _m("conv2d-1x1-spatial-k1", "Conv2d", (3, 4, 1), {}, (2, 3, 1, 1)),
    _m("conv2d-same-even", "Conv2d", (3, 4, (4, 3)), dict(padding="same", dilation=(1, 2)), (2, 3, 7, 8)),
    _m("conv2d-valid-nobias", "Conv2d", (3, 4, 3), dict(padding="valid", bias=False), (2, 3, 6, 6)),
    _m("conv2d-reflect", "Conv2d", (2, 3, 3), dict(padding=(1, 2), padding_mode="reflect"), (2, 2, 5, 6)),
    _m("conv2d-replicate", "Conv2d", (2, 3, 3), dict(padding=2, stride=2, padding_mode="replicate"), (2, 2, 5, 5)),
    _m("conv2d-circular", "Conv2d", (2, 3, 3), dict(padding=(2, 1), padding_mode="circular"), (2, 2, 4, 5)),
    _m("conv2d-same-reflect", "Conv2d", (2, 3, 4), dict(padding="same", padding_mode="reflect"), (1, 2, 6, 6)),
    _m("conv2d-unbatched", "Conv2d", (3, 4, 3), dict(padding=1, groups=1), (3, 5, 6)),
    _m("conv2d-batch0", "Conv2d", (3, 4, 3), {}, (0, 3, 5, 5)),
    _m("conv2d-stride3-k2", "Conv2d", (2, 3, 2), dict(stride=3), (2, 2, 8, 7)),
    _m("conv2d-tuple-all", "Conv2d", (4, 6, (2, 3)), dict(stride=(1, 2), padding=(0, 1), dilation=(2, 1), groups=2),
       (2, 4, 7, 9)),
    # Conv3d
    _m("conv3d-basic", "Conv3d", (2, 4, 3), {}, (2, 2, 5, 5, 5)),
    _m("conv3d-stride-groups", "Conv3d", (4, 6, 3), dict(stride=2, padding=1, groups=2), (2, 4, 5, 6, 5)),
    _m("conv3d-rect-dilation", "Conv3d", (2, 3, (3, 1, 2)), dict(dilation=(1, 2, 1), padding=(1, 0, 1)),
       (2, 2, 4, 5, 4)),
    _m("conv3d-depthwise", "Conv3d", (3, 3, 3), dict(groups=3, padding=1, bias=False), (1, 3, 4, 4, 4)),
    _m("conv3d-same", "Conv3d", (2, 3, 2), dict(padding="same"), (1, 2, 4, 3, 5)),
    _m("conv3d-reflect", "Conv3d", (2, 2, 3), dict(padding=1, padding_mode="reflect"), (1, 2, 4, 4, 4)),
    _m("conv3d-replicate", "Conv3d", (2, 2, 3), dict(padding=(1, 2, 0), padding_mode="replicate"), (1, 2, 3, 4, 4)),
    _m("conv3d-circular", "Conv3d", (2, 2, 3), dict(padding=1, padding_mode="circular"), (1, 2, 3, 4, 4)),
    _m("conv3d-unbatched", "Conv3d", (2, 3, 2), {}, (2, 3, 4, 3)),
    _m("conv3d-batch0", "Conv3d", (2, 3, 2), {}, (0, 2, 3, 3, 3)),
    # ConvTranspose1d
    _m("convT1d-basic", "ConvTranspose1d", (3, 4, 3), {}, (2, 3, 6)),
    _m("convT1d-stride-pad-outpad", "ConvTranspose1d", (3, 4, 3), dict(stride=2, padding=1, output_padding=1),
       (2, 3, 5)),
    _m("convT1d-dilation-outpad", "ConvTranspose1d", (2, 3, 3), dict(dilation=3, output_padding=2), (2, 2, 5)),
    _m("convT1d-groups-nobias", "ConvTranspose1d", (4, 6, 2), dict(groups=2, stride=3, bias=False), (2, 4, 4)),
    _m("convT1d-depthwise", "ConvTranspose1d", (4, 4, 3), dict(groups=4, stride=2), (2, 4, 5)),
    _m("convT1d-big-padding", "ConvTranspose1d", (2, 3, 5), dict(padding=3, stride=2), (2, 2, 4)),
    _m("convT1d-unbatched", "ConvTranspose1d", (3, 2, 3), dict(stride=2), (3, 4)),
    _m("convT1d-batch0", "ConvTranspose1d", (3, 2, 3), {}, (0, 3, 4)),
    _m("convT1d-output-size", "ConvTranspose1d", (3, 2, 3), dict(stride=3, padding=1), (2, 3, 4),
       call=lambda m, x: m(x, output_size=[12])),
    # ConvTranspose2d
    _m("convT2d-basic", "ConvTranspose2d", (3, 4, 3), {}, (2, 3, 4, 5)),
    _m("convT2d-stride-pad-outpad", "ConvTranspose2d", (3, 4, (3, 4)),
       dict(stride=(2, 3), padding=(1, 2), output_padding=(1, 2)), (2, 3, 4, 3)),
    _m("convT2d-dilation", "ConvTranspose2d", (2, 3, 3), dict(dilation=(2, 1), padding=1, output_padding=(1, 0)),
       (2, 2, 4, 4)),
    _m("convT2d-groups", "ConvTranspose2d", (4, 6, 3), dict(groups=2, stride=2, padding=1), (2, 4, 3, 4)),
    _m("convT2d-depthwise", "ConvTranspose2d", (4, 4, 4), dict(groups=4, stride=2, padding=1), (2, 4, 4, 4)),
    _m("convT2d-depthwise-x2", "ConvTranspose2d", (3, 6, 3), dict(groups=3, stride=2, bias=False), (1, 3, 3, 3)),
    _m("convT2d-1x1", "ConvTranspose2d", (3, 5, 1), {}, (2, 3, 4, 4)),
    _m("convT2d-1x1-spatial", "ConvTranspose2d", (3, 2, 3), dict(stride=2, padding=1), (2, 3, 1, 1)),
    _m("convT2d-unbatched", "ConvTranspose2d", (3, 2, 3), dict(stride=2, output_padding=1), (3, 4, 3)),
    _m("convT2d-batch0", "ConvTranspose2d", (3, 2, 3), {}, (0, 3, 4, 4)),
    _m("convT2d-output-size", "ConvTranspose2d", (3, 2, 3), dict(stride=2, padding=1), (2, 3, 4, 5),
       call=lambda m, x: m(x, output_size=[8, 10])),
    _m("convT2d-output-size-full", "ConvTranspose2d", (3, 2, 3), dict(stride=2), (2, 3, 3, 3),
       call=lambda m, x: m(x, output_size=(2, 2, 8, 7))),
    # ConvTranspose3d
    _m("convT3d-basic", "ConvTranspose3d", (2, 3, 2), {}, (2, 2, 3, 3, 3)),
    _m("convT3d-stride-pad-outpad", "ConvTranspose3d", (2, 3, 3), dict(stride=2, padding=1, output_padding=(1, 0, 1)),
       (1, 2, 3, 2, 3)),
    _m("convT3d-groups-dilation", "ConvTranspose3d", (4, 4, (2, 3, 2)), dict(groups=2, dilation=(2, 1, 1)),
       (1, 4, 3, 3, 2)),
    _m("convT3d-depthwise", "ConvTranspose3d", (2, 2, 3), dict(groups=2, stride=(1, 2, 1)), (1, 2, 2, 3, 2)),
    _m("convT3d-unbatched", "ConvTranspose3d", (2, 3, 2), dict(stride=2), (2, 2, 3, 2)),
    _m("convT3d-output-size", "ConvTranspose3d", (2, 3, 3), dict(stride=2), (1, 2, 2, 2, 2),
       call=lambda m, x: m(x, output_size=[6, 5, 6])),
]


FUNC_SAMPLES = [
    _f("F.conv1d", lambda F, x, w, b: F.conv1d(x, w, b, stride=2, padding=1), (2, 4, 9), (6, 4, 3), (6,)),
    _f("F.conv1d-groups-same", lambda F, x, w: F.conv1d(x, w, None, 1, "same", 2, 2), (2, 4, 8), (4, 2, 4)),
    _f("F.conv1d-noncontig", lambda F, x, w: F.conv1d(x[:, :, ::2], w, padding=(1,)), (2, 3, 12), (2, 3, 3)),
    _f("F.conv1d-unbatched", lambda F, x, w: F.conv1d(x, w), (3, 8), (2, 3, 3)),
    _f("F.conv2d", lambda F, x, w, b: F.conv2d(x, w, b, (2, 1), (1, 0), (1, 2)), (2, 3, 7, 8), (5, 3, 3, 3), (5,)),
    _f("F.conv2d-depthwise", lambda F, x, w: F.conv2d(x, w, padding=1, groups=6), (2, 6, 5, 5), (6, 1, 3, 3)),
    _f("F.conv2d-same", lambda F, x, w: F.conv2d(x, w, padding="same"), (1, 3, 5, 6), (4, 3, 2, 4)),
    _f("F.conv2d-valid", lambda F, x, w: F.conv2d(x, w, padding="valid"), (1, 3, 5, 6), (4, 3, 2, 4)),
    _f("F.conv2d-noncontig", lambda F, x, w: F.conv2d(x[:, ::2, 1:, ::2], w, stride=(2,)), (2, 6, 9, 10),
       (4, 3, 3, 3)),
    _f("F.conv3d", lambda F, x, w, b: F.conv3d(x, w, b, 1, (1, 0, 1), 1, 2), (2, 4, 3, 4, 3), (4, 2, 2, 2, 2), (4,)),
    _f("F.conv3d-unbatched-stride", lambda F, x, w: F.conv3d(x, w, stride=(2, 1, 2)), (2, 5, 4, 5), (3, 2, 3, 2, 3)),
    _f("F.conv_transpose1d", lambda F, x, w, b: F.conv_transpose1d(x, w, b, 2, 1, 1), (2, 3, 5), (3, 4, 3), (4,)),
    _f("F.conv_transpose1d-groups", lambda F, x, w: F.conv_transpose1d(x, w, None, 3, 0, 2, 2, 1), (2, 4, 3),
       (4, 3, 2)),
    _f("F.conv_transpose2d", lambda F, x, w, b: F.conv_transpose2d(x, w, b, (2, 3), (1, 0), (1, 2), 1, 1),
       (2, 3, 3, 4), (3, 2, 3, 3), (2,)),
    _f("F.conv_transpose2d-dilation", lambda F, x, w: F.conv_transpose2d(x, w, stride=1, output_padding=1,
                                                                          dilation=2), (1, 2, 4, 4), (2, 3, 3, 3)),
    _f("F.conv_transpose2d-noncontig", lambda F, x, w: F.conv_transpose2d(x[..., ::2], w, stride=2),
       (1, 2, 3, 6), (2, 3, 2, 2)),
    _f("F.conv_transpose3d", lambda F, x, w, b: F.conv_transpose3d(x, w, b, 2, 1, 1, 2),
       (1, 4, 2, 3, 2), (4, 1, 3, 3, 3), (2,)),
    _f("F.conv_transpose3d-unbatched", lambda F, x, w: F.conv_transpose3d(x, w), (2, 2, 2, 3), (2, 3, 2, 2, 1)),
]


_CONV2D_3_8 = r"Conv2d\(3, 8, kernel_size=\(3, 3\), stride=\(1, 1\)\) "
ERROR_SAMPLES = [
    ErrorSample("conv2d-channels", lambda nn: nn.Conv2d(3, 8, 3), _f32((2, 5, 10, 10)),
                _CONV2D_3_8 + r"expected input of shape \(N, 3, H, W\) or \(3, H, W\), got \(2, 5, 10, 10\)"),
    ErrorSample("conv2d-rank", lambda nn: nn.Conv2d(3, 8, 3), _f32((1, 2, 3, 10, 10)),
                _CONV2D_3_8 + r"expected input of shape \(N, 3, H, W\) or \(3, H, W\), got \(1, 2, 3, 10, 10\)"),
    ErrorSample("conv1d-rank", lambda nn: nn.Conv1d(3, 8, 3), _f32((10,)),
                r"Conv1d\(.*\) expected input of shape \(N, 3, L\) or \(3, L\), got \(10,\)"),
    ErrorSample("conv3d-channels", lambda nn: nn.Conv3d(2, 2, 3, groups=2), _f32((1, 4, 5, 5, 5)),
                r"Conv3d\(.*groups=2\) expected input of shape \(N, 2, D, H, W\) or \(2, D, H, W\), "
                r"got \(1, 4, 5, 5, 5\)"),
    ErrorSample("conv2d-too-small", lambda nn: nn.Conv2d(3, 8, 3, dilation=2), _f32((1, 3, 4, 9)),
                r"expected padded input size per channel at least \(5, 5\).*got input of shape \(1, 3, 4, 9\)"),
    ErrorSample("conv2d-int-input", lambda nn: nn.Conv2d(3, 8, 3),
                lambda rng: (rng.integers(0, 5, (1, 3, 5, 5)),), r"expected a floating-point input, got dtype int64"),
    ErrorSample("conv2d-dtype-mismatch", lambda nn: nn.Conv2d(3, 8, 3), randn(1, 3, 5, 5),
                r"expected weight of the input's dtype float64, got dtype float32"),
    ErrorSample("F.conv2d-bias-shape", lambda nn: nn.functional.conv2d, _f32((1, 3, 5, 5), (4, 3, 3, 3), (3,)),
                r"conv2d expected bias of shape \(4,\), got \(3,\)"),
    ErrorSample("F.conv2d-weight-rank", lambda nn: nn.functional.conv2d, _f32((1, 3, 5, 5), (4, 3, 3)),
                r"conv2d expected weight of shape \(out_channels, in_channels/groups, kernel H, W\), got \(4, 3, 3\)"),
    ErrorSample("F.conv2d-groups", lambda nn: lambda x, w: nn.functional.conv2d(x, w, groups=2),
                _f32((1, 4, 5, 5), (3, 2, 3, 3)), r"conv2d expected weight.shape\[0\] \(out_channels\) divisible by "
                                                  r"groups=2, got \(3, 2, 3, 3\)"),
    ErrorSample("F.conv2d-same-strided", lambda nn: lambda x, w: nn.functional.conv2d(x, w, stride=2, padding="same"),
                _f32((1, 3, 5, 5), (4, 3, 3, 3)), r"conv2d expected stride 1 with padding='same'.*got stride=\(2, 2\)"),
    ErrorSample("F.conv2d-bad-padding-string", lambda nn: lambda x, w: nn.functional.conv2d(x, w, padding="full"),
                _f32((1, 3, 5, 5), (4, 3, 3, 3)), r"conv2d expected padding to be 'same', 'valid'.*got 'full'"),
    ErrorSample("F.conv2d-negative-padding", lambda nn: lambda x, w: nn.functional.conv2d(x, w, padding=-1),
                _f32((1, 3, 5, 5), (4, 3, 3, 3)), r"conv2d expected non-negative padding, got padding=\(-1, -1\)"),
    ErrorSample("F.conv1d-stride-0", lambda nn: lambda x, w: nn.functional.conv1d(x, w, stride=0),
                _f32((1, 3, 5), (4, 3, 3)), r"conv1d expected positive stride, got stride=\(0,\)"),
    ErrorSample("F.conv2d-stride-len", lambda nn: lambda x, w: nn.functional.conv2d(x, w, stride=(1, 1, 1)),
                _f32((1, 3, 5, 5), (4, 3, 3, 3)), r"conv2d expected stride to be an int or a tuple of 2 ints"),
    ErrorSample("convT2d-channels", lambda nn: nn.ConvTranspose2d(4, 2, 3), _f32((1, 3, 5, 5)),
                r"ConvTranspose2d\(4, 2, .*\) expected input of shape \(N, 4, H, W\) or \(4, H, W\), "
                r"got \(1, 3, 5, 5\)"),
    ErrorSample("F.conv_transpose2d-output-padding",
                lambda nn: lambda x, w: nn.functional.conv_transpose2d(x, w, stride=2, output_padding=2),
                _f32((1, 3, 5, 5), (3, 2, 3, 3)),
                r"conv_transpose2d expected output_padding smaller than either stride \(2, 2\) or dilation \(1, 1\), "
                r"got output_padding=\(2, 2\)"),
    ErrorSample("F.conv_transpose1d-negative-output",
                lambda nn: lambda x, w: nn.functional.conv_transpose1d(x, w, padding=3),
                _f32((1, 3, 1), (3, 2, 3)),
                r"conv_transpose1d expected a positive output size.*got output size \(-3,\)"),
    ErrorSample("convT2d-output-size", lambda nn: _with_output_size(nn.ConvTranspose2d(3, 2, 3, stride=2), [12, 9]),
                _f32((1, 3, 4, 4)), r"ConvTranspose2d\(3, 2, .*\) expected output_size between \[9, 9\] and "
                                    r"\[10, 10\].*got \[12, 9\]"),
]
