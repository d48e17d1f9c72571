"""Op table: pixel/channel shuffles, Upsample/interpolate (every mode), Fold/Unfold, and their functional forms."""
from __future__ import annotations

import warnings

import numpy as np

from tests.nn.opinfo import ErrorSample, FuncSample, ModuleSample, randn


def _m(id: str, ctor: str, args: tuple, kwargs: dict, shape: tuple, **extra) -> ModuleSample:
    return ModuleSample(id, lambda nn: getattr(nn, ctor)(*args, **kwargs), randn(*shape), **extra)


def _up(id: str, shape: tuple, **kwargs) -> ModuleSample:
    return ModuleSample(id, lambda nn: nn.Upsample(**kwargs), randn(*shape))


def _f(id: str, fn, *shapes: tuple, **extra) -> FuncSample:
    return FuncSample(id, fn, lambda rng: tuple(rng.standard_normal(s) for s in shapes), **extra)


def _interp(id: str, shape: tuple, **kwargs) -> FuncSample:
    return _f(f"F.interpolate-{id}", lambda F, x: F.interpolate(x, **kwargs), shape)


def _quiet(fn):
    """Call a deprecated alias (F.upsample*) without its warning."""
    def call(F, *args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(F, *args)
    return call


MODULE_SAMPLES = [
    # PixelShuffle / PixelUnshuffle / ChannelShuffle
    _m("pixelshuffle-r2", "PixelShuffle", (2,), {}, (2, 8, 3, 3)),
    _m("pixelshuffle-r3", "PixelShuffle", (3,), {}, (1, 9, 2, 4)),
    _m("pixelshuffle-extra-batch", "PixelShuffle", (2,), {}, (2, 3, 4, 2, 3)),
    _m("pixelshuffle-unbatched", "PixelShuffle", (2,), {}, (8, 2, 3)),
    _m("pixelshuffle-batch0", "PixelShuffle", (2,), {}, (0, 4, 2, 2)),
    _m("pixelshuffle-1x1", "PixelShuffle", (2,), {}, (2, 4, 1, 1)),
    _m("pixelunshuffle-r2", "PixelUnshuffle", (2,), {}, (2, 2, 4, 6)),
    _m("pixelunshuffle-r3", "PixelUnshuffle", (3,), {}, (1, 2, 6, 3)),
    _m("pixelunshuffle-extra-batch", "PixelUnshuffle", (2,), {}, (2, 3, 1, 4, 2)),
    _m("pixelunshuffle-unbatched-to-1x1", "PixelUnshuffle", (2,), {}, (3, 2, 2)),
    _m("channelshuffle-g2", "ChannelShuffle", (2,), {}, (2, 4, 3, 3)),
    _m("channelshuffle-g3-3d", "ChannelShuffle", (3,), {}, (2, 6, 5)),
    _m("channelshuffle-g1", "ChannelShuffle", (1,), {}, (2, 4, 2, 2)),
    _m("channelshuffle-g-eq-c", "ChannelShuffle", (4,), {}, (2, 4, 2, 3)),
    _m("channelshuffle-5d", "ChannelShuffle", (2,), {}, (1, 6, 2, 2, 3)),
    _m("channelshuffle-batch0", "ChannelShuffle", (2,), {}, (0, 4, 2, 2)),
    # Upsample: nearest / nearest-exact
    _up("upsample-nearest-x2", (2, 3, 4, 5), scale_factor=2),
    _up("upsample-nearest-1d-size", (2, 3, 5), size=12),
    _up("upsample-nearest-x1.5", (2, 2, 5, 4), scale_factor=1.5),
    _up("upsample-nearest-x2.1-shortcut", (1, 2, 4, 5), scale_factor=2.1),
    _up("upsample-nearest-tuple-scale", (2, 2, 3, 4), scale_factor=(2.0, 3.0)),
    _up("upsample-nearest-down", (2, 2, 7, 9), scale_factor=0.45),
    _up("upsample-nearest-3d", (1, 2, 2, 3, 4), scale_factor=(1.3, 2.0, 1.7)),
    _up("upsample-nearest-recompute", (2, 2, 5, 5), scale_factor=1.7, recompute_scale_factor=True),
    _up("upsample-nearest-1x1", (2, 3, 1, 1), size=(3, 2)),
    _up("upsample-nearest-batch0", (0, 3, 2, 2), scale_factor=2),
    _up("upsample-nearest-exact-x1.7", (2, 2, 5, 4), scale_factor=1.7, mode="nearest-exact"),
    _up("upsample-nearest-exact-size", (2, 2, 7), size=4, mode="nearest-exact"),
    _up("upsample-nearest-exact-3d", (1, 2, 3, 4, 2), size=(5, 3, 4), mode="nearest-exact"),
    # linear family
    _up("upsample-linear-x2", (2, 3, 5), scale_factor=2, mode="linear"),
    _up("upsample-linear-size-corners", (2, 3, 5), size=9, mode="linear", align_corners=True),
    _up("upsample-linear-down", (2, 3, 9), scale_factor=0.4, mode="linear"),
    _up("upsample-bilinear-x2", (2, 3, 4, 5), scale_factor=2, mode="bilinear"),
    _up("upsample-bilinear-corners", (2, 2, 4, 5), size=(7, 3), mode="bilinear", align_corners=True),
    _up("upsample-bilinear-x1.3-same-height", (1, 2, 3, 5), scale_factor=1.3, mode="bilinear"),
    _up("upsample-bilinear-recompute", (2, 2, 5, 4), scale_factor=(1.7, 2.3), mode="bilinear",
        recompute_scale_factor=True),
    _up("upsample-bilinear-down", (2, 2, 8, 9), scale_factor=0.5, mode="bilinear"),
    _up("upsample-bilinear-1x1", (2, 2, 1, 1), size=(3, 4), mode="bilinear"),
    _up("upsample-trilinear-x2", (1, 2, 2, 3, 4), scale_factor=2, mode="trilinear"),
    _up("upsample-trilinear-corners", (1, 2, 3, 3, 2), size=(4, 5, 3), mode="trilinear", align_corners=True),
    # bicubic
    _up("upsample-bicubic-x2", (2, 2, 4, 5), scale_factor=2, mode="bicubic"),
    _up("upsample-bicubic-corners", (2, 2, 4, 5), size=(7, 6), mode="bicubic", align_corners=True),
    _up("upsample-bicubic-down", (2, 2, 9, 8), scale_factor=0.6, mode="bicubic"),
    _up("upsample-bicubic-x1.3-same-height", (1, 2, 3, 5), scale_factor=1.3, mode="bicubic"),
    _up("upsample-bicubic-2x2", (1, 1, 2, 2), size=5, mode="bicubic"),
    _up("upsample-bicubic-batch0", (0, 2, 3, 3), scale_factor=2, mode="bicubic"),
    # area
    _up("upsample-area-size", (2, 3, 7, 5), size=(3, 4), mode="area"),
    _up("upsample-area-down", (2, 3, 8), scale_factor=0.5, mode="area"),
    _up("upsample-area-3d", (1, 2, 4, 5, 3), size=2, mode="area"),
    # the fixed-mode subclasses
    _m("upsampling-nearest2d-x2", "UpsamplingNearest2d", (), dict(scale_factor=2), (2, 3, 3, 4)),
    _m("upsampling-nearest2d-size", "UpsamplingNearest2d", ((5, 7),), {}, (2, 3, 3, 4)),
    _m("upsampling-bilinear2d-x2", "UpsamplingBilinear2d", (), dict(scale_factor=2), (2, 3, 3, 4)),
    _m("upsampling-bilinear2d-size", "UpsamplingBilinear2d", (), dict(size=(4, 9)), (2, 3, 3, 4)),
    # Fold / Unfold
    _m("unfold-k2", "Unfold", (2,), {}, (2, 3, 4, 5)),
    _m("unfold-all-args", "Unfold", ((2, 3),), dict(dilation=(1, 2), padding=(1, 0), stride=(2, 1)), (2, 2, 5, 7)),
    _m("unfold-unbatched", "Unfold", (3,), dict(padding=1), (2, 4, 4)),
    _m("unfold-batch0", "Unfold", (2,), {}, (0, 2, 3, 3)),
    _m("unfold-1x1", "Unfold", (1,), {}, (2, 3, 1, 1)),
    _m("unfold-1x1-padded", "Unfold", (3,), dict(padding=1), (1, 2, 1, 1)),
    _m("fold-k2", "Fold", ((4, 5), 2), {}, (2, 12, 12)),
    _m("fold-overlap-all-args", "Fold", ((5, 7), (2, 3)), dict(dilation=(1, 2), padding=(1, 0), stride=(2, 1)),
       (2, 12, 9)),
    _m("fold-stride-gt-kernel", "Fold", ((7, 7), 2), dict(stride=3), (1, 8, 4)),
    _m("fold-unbatched", "Fold", ((4, 4), 3), dict(padding=1), (18, 16)),
    _m("fold-batch0", "Fold", ((3, 3), 2), {}, (0, 8, 4)),
]


FUNC_SAMPLES = [
    _f("F.pixel_shuffle", lambda F, x: F.pixel_shuffle(x, 2), (2, 8, 3, 3)),
    _f("F.pixel_unshuffle", lambda F, x: F.pixel_unshuffle(x, 2), (2, 2, 4, 6)),
    _f("F.channel_shuffle", lambda F, x: F.channel_shuffle(x, 3), (2, 6, 2, 3)),
    FuncSample("F.pixel_shuffle-int", lambda F, x: F.pixel_shuffle(x, 2),
               lambda rng: (rng.integers(0, 9, (1, 4, 2, 3)),)),
    _interp("nearest-default", (2, 3, 4, 5), scale_factor=2),
    _interp("nearest-size-int", (2, 3, 4, 5), size=7),
    _interp("nearest-exact-down", (2, 3, 9, 7), scale_factor=0.6, mode="nearest-exact"),
    _interp("linear-recompute", (2, 3, 6), scale_factor=1.55, mode="linear", recompute_scale_factor=True),
    _interp("bilinear-scale-list", (2, 2, 4, 5), scale_factor=[1.5, 2.5], mode="bilinear"),
    _interp("bilinear-antialias-down", (2, 2, 11, 9), scale_factor=0.4, mode="bilinear", antialias=True),
    _interp("bilinear-antialias-size", (2, 2, 9, 10), size=(4, 3), mode="bilinear", antialias=True),
    _interp("bilinear-antialias-up", (2, 2, 4, 5), scale_factor=1.8, mode="bilinear", antialias=True),
    _interp("bilinear-antialias-corners", (2, 2, 9, 10), size=(4, 6), mode="bilinear", antialias=True,
            align_corners=True),
    _interp("bicubic-antialias-down", (2, 2, 12, 10), scale_factor=0.35, mode="bicubic", antialias=True),
    _interp("bicubic-antialias-up", (2, 2, 4, 5), size=(7, 6), mode="bicubic", antialias=True),
    _interp("bicubic-antialias-mixed", (2, 2, 9, 4), size=(4, 7), mode="bicubic", antialias=True),
    _interp("bicubic-down-corners", (2, 2, 9, 8), size=(4, 3), mode="bicubic", align_corners=True),
    _interp("trilinear-scale", (1, 2, 3, 4, 5), scale_factor=(1.5, 0.5, 2.0), mode="trilinear"),
    _interp("area-larger", (2, 2, 3, 4), size=(5, 7), mode="area"),
    _f("F.upsample", _quiet(lambda F, x: F.upsample(x, scale_factor=2, mode="bilinear")), (2, 2, 3, 4)),
    _f("F.upsample_nearest", _quiet(lambda F, x: F.upsample_nearest(x, size=(5, 3))), (2, 2, 3, 4)),
    _f("F.upsample_bilinear", _quiet(lambda F, x: F.upsample_bilinear(x, scale_factor=2)), (2, 2, 3, 4)),
    _f("F.unfold", lambda F, x: F.unfold(x, (2, 3), 2, 1, (1, 2)), (2, 3, 6, 7)),
    _f("F.fold", lambda F, x: F.fold(x, (6, 7), (2, 3), 2, 1, (1, 2)), (2, 18, 18)),
]


def _bad(*shape: int, dtype=np.float64):
    return lambda rng: (np.zeros(shape, dtype=dtype),)


def _interp_error(**kwargs):
    return lambda nn: (lambda x: nn.functional.interpolate(x, **kwargs))


ERROR_SAMPLES = [
    ErrorSample("pixelshuffle-channels", lambda nn: nn.PixelShuffle(2), _bad(2, 6, 3, 3),
                r"^PixelShuffle\(upscale_factor=2\) expected input of shape \(\*, C\*4, H, W\).*got \(2, 6, 3, 3\)"),
    ErrorSample("pixelshuffle-rank2", lambda nn: nn.PixelShuffle(2), _bad(4, 4), r"got \(4, 4\)"),
    ErrorSample("pixelshuffle-factor0", lambda nn: nn.PixelShuffle(0), _bad(1, 4, 2, 2),
                r"upscale_factor to be a positive int, got 0"),
    ErrorSample("pixelunshuffle-height", lambda nn: nn.PixelUnshuffle(2), _bad(1, 2, 3, 4),
                r"H and W divisible by downscale_factor\), got \(1, 2, 3, 4\)"),
    ErrorSample("channelshuffle-groups", lambda nn: nn.ChannelShuffle(4), _bad(2, 6, 2, 2),
                r"^ChannelShuffle\(groups=4\) expected input of shape \(N, C, \*\) with C divisible by groups=4"),
    ErrorSample("channelshuffle-rank2", lambda nn: nn.ChannelShuffle(2), _bad(2, 6), r"got \(2, 6\)"),
    ErrorSample("upsample-bilinear-3d", lambda nn: nn.Upsample(scale_factor=2, mode="bilinear"), _bad(1, 2, 5),
                r"^Upsample\(scale_factor=2.0, mode='bilinear'\) expected input of shape \(N, C, H, W\) for mode "
                r"'bilinear', got \(1, 2, 5\)"),
    ErrorSample("upsample-rank2", lambda nn: nn.Upsample(size=3), _bad(2, 5), r"got \(2, 5\)"),
    ErrorSample("upsample-int", lambda nn: nn.Upsample(scale_factor=2), _bad(1, 1, 3, 3, dtype=np.int64),
                r"floating-point input, got dtype int64"),
    ErrorSample("upsample-bad-mode", lambda nn: nn.Upsample(scale_factor=2, mode="cubic"), _bad(1, 1, 3, 3),
                r"mode one of nearest, .*got 'cubic'"),
    ErrorSample("upsample-size-length", lambda nn: nn.Upsample(size=(2, 3, 4)), _bad(1, 1, 3, 3),
                r"size to be an int or a tuple of 2 ints for input \(1, 1, 3, 3\), got \(2, 3, 4\)"),
    ErrorSample("upsample-output-zero", lambda nn: nn.Upsample(scale_factor=0.2), _bad(1, 1, 3, 3),
                r"output spatial sizes greater than 0, got input \(3, 3\) and output \(0, 0\)"),
    ErrorSample("interpolate-corners-nearest", _interp_error(scale_factor=2, align_corners=True), _bad(1, 1, 3, 3),
                r"^interpolate expected align_corners=None for mode 'nearest'"),
    ErrorSample("interpolate-size-and-scale", _interp_error(size=2, scale_factor=2), _bad(1, 1, 3, 3),
                r"only one of size or scale_factor"),
    ErrorSample("interpolate-neither", _interp_error(), _bad(1, 1, 3, 3), r"size or scale_factor, got neither"),
    ErrorSample("interpolate-recompute-size", _interp_error(size=4, recompute_scale_factor=True), _bad(1, 1, 3, 3),
                r"recompute_scale_factor only with scale_factor"),
    ErrorSample("interpolate-antialias-linear", _interp_error(size=4, mode="linear", antialias=True), _bad(1, 1, 3),
                r"antialias only with mode 'bilinear' or 'bicubic'"),
    ErrorSample("unfold-rank5", lambda nn: nn.Unfold(2), _bad(1, 1, 3, 3, 3),
                r"^Unfold\(kernel_size=2, .*\) expected input of shape \(N, C, H, W\) or \(C, H, W\)"),
    ErrorSample("unfold-too-small", lambda nn: nn.Unfold(5), _bad(1, 1, 4, 5), r"sliding blocks \(0, 1\)"),
    ErrorSample("unfold-int", lambda nn: nn.Unfold(2), _bad(1, 1, 4, 4, dtype=np.int64), r"floating-point input"),
    ErrorSample("fold-blocks", lambda nn: nn.Fold((3, 4), 2), _bad(2, 12, 5),
                r"expected input of shape \(N, C\*4, 6\) or \(C\*4, 6\), got \(2, 12, 5\)"),
    ErrorSample("fold-channels", lambda nn: nn.Fold((3, 4), 2), _bad(2, 11, 6), r"got \(2, 11, 6\)"),
    ErrorSample("fold-output-too-small", lambda nn: nn.Fold((1, 1), 2), _bad(1, 4, 1), r"sliding blocks \(0, 0\)"),
]
