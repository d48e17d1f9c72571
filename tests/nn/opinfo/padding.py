"""Op table: Zero/Constant/Reflection/Replication/CircularPad 1d-3d and F.pad."""
from __future__ import annotations

import numpy as np

from tests.nn.opinfo import ErrorSample, FuncSample, ModuleSample, randn


def _m(id: str, ctor: str, args: tuple, shape: tuple) -> ModuleSample:
    return ModuleSample(id, lambda nn: getattr(nn, ctor)(*args), randn(*shape))


def _f(id: str, fn, shape: tuple) -> FuncSample:
    return FuncSample(id, fn, randn(*shape))


MODULE_SAMPLES = [
    # zero / constant: any rank, negative amounts crop
    _m("zero1d", "ZeroPad1d", (2,), (2, 3, 5)),
    _m("zero1d-asym-unbatched", "ZeroPad1d", ((1, 3),), (3, 4)),
    _m("zero2d", "ZeroPad2d", (1,), (2, 3, 4, 5)),
    _m("zero2d-asym", "ZeroPad2d", ((1, 0, 2, 3),), (2, 3, 4, 5)),
    _m("zero2d-crop", "ZeroPad2d", ((-1, 2, 0, -2),), (2, 3, 4, 5)),
    _m("zero3d", "ZeroPad3d", (1,), (1, 2, 3, 3, 3)),
    _m("zero3d-asym-unbatched", "ZeroPad3d", ((1, 0, 0, 2, 1, 1),), (2, 3, 2, 3)),
    _m("constant1d", "ConstantPad1d", (2, 3.5), (2, 3, 5)),
    _m("constant1d-1d-input", "ConstantPad1d", ((1, 2), -1.5), (5,)),
    _m("constant2d", "ConstantPad2d", ((1, 2, 0, 1), -1.0), (2, 3, 4, 5)),
    _m("constant2d-2d-input", "ConstantPad2d", (1, 2), (4, 5)),
    _m("constant2d-batch0", "ConstantPad2d", (1, 0.5), (0, 3, 4, 5)),
    _m("constant3d", "ConstantPad3d", (1, 2), (1, 2, 3, 3, 3)),
    _m("constant3d-crop", "ConstantPad3d", ((-1, 1, 2, -2, 0, 1), 7.0), (1, 2, 3, 4, 3)),
    # reflection: amounts below the dimension size
    _m("reflect1d", "ReflectionPad1d", (2,), (2, 3, 5)),
    _m("reflect1d-max", "ReflectionPad1d", ((3, 1),), (2, 3, 4)),
    _m("reflect1d-unbatched", "ReflectionPad1d", (1,), (3, 4)),
    _m("reflect1d-batch0", "ReflectionPad1d", (1,), (0, 3, 4)),
    _m("reflect1d-crop", "ReflectionPad1d", ((-1, 2),), (2, 3, 5)),
    _m("reflect2d", "ReflectionPad2d", (1,), (2, 3, 4, 5)),
    _m("reflect2d-asym", "ReflectionPad2d", ((1, 2, 0, 3),), (2, 3, 4, 5)),
    _m("reflect2d-unbatched", "ReflectionPad2d", ((2, 0, 1, 1),), (3, 4, 3)),
    _m("reflect3d", "ReflectionPad3d", (1,), (1, 2, 3, 3, 3)),
    _m("reflect3d-asym-unbatched", "ReflectionPad3d", ((0, 2, 1, 0, 2, 1),), (2, 3, 3, 4)),
    # replication: amounts may exceed the size
    _m("replicate1d", "ReplicationPad1d", ((3, 5),), (2, 3, 2)),
    _m("replicate1d-1-wide", "ReplicationPad1d", (2,), (2, 3, 1)),
    _m("replicate2d", "ReplicationPad2d", (2,), (2, 3, 4, 3)),
    _m("replicate2d-1x1", "ReplicationPad2d", ((1, 2, 3, 0),), (2, 3, 1, 1)),
    _m("replicate2d-crop-unbatched", "ReplicationPad2d", ((-1, 3, 2, -1),), (3, 4, 5)),
    _m("replicate3d", "ReplicationPad3d", ((1, 0, 2, 1, 0, 3),), (1, 2, 2, 3, 2)),
    _m("replicate3d-batch0", "ReplicationPad3d", (1,), (0, 2, 2, 3, 2)),
    # circular: amounts up to the size
    _m("circular1d", "CircularPad1d", (2,), (2, 3, 5)),
    _m("circular1d-full-wrap", "CircularPad1d", ((4, 4),), (2, 3, 4)),
    _m("circular1d-crop", "CircularPad1d", ((-1, 2),), (2, 3, 5)),
    _m("circular2d", "CircularPad2d", ((1, 2, 0, 3),), (2, 3, 4, 5)),
    _m("circular2d-unbatched", "CircularPad2d", (1,), (3, 4, 3)),
    _m("circular3d", "CircularPad3d", (1,), (1, 2, 3, 3, 3)),
    _m("circular3d-asym-crop", "CircularPad3d", ((2, -1, 0, 1, 1, 2),), (1, 2, 2, 3, 4)),
]


FUNC_SAMPLES = [
    _f("F.pad-default", lambda F, x: F.pad(x, (1, 2)), (2, 3, 4)),
    _f("F.pad-constant-value", lambda F, x: F.pad(x, [1, 0, 2, 1], value=-2.5), (2, 3, 4)),
    _f("F.pad-constant-all-dims", lambda F, x: F.pad(x, (1, 1, 0, 2, 1, 0, 2, 1), "constant", 1.0), (1, 2, 3, 2)),
    _f("F.pad-constant-5d-2dims", lambda F, x: F.pad(x, (1, 1, 2, 0)), (1, 1, 2, 2, 3)),
    _f("F.pad-constant-empty", lambda F, x: F.pad(x, ()), (2, 3)),
    _f("F.pad-constant-crop-to-0", lambda F, x: F.pad(x, (-2, -1)), (2, 3)),
    _f("F.pad-reflect", lambda F, x: F.pad(x, (2, 1, 1, 2), mode="reflect"), (2, 3, 4, 5)),
    _f("F.pad-reflect-3d", lambda F, x: F.pad(x, (1, 0, 0, 1, 1, 1), mode="reflect"), (1, 2, 2, 2, 3)),
    _f("F.pad-reflect-value0", lambda F, x: F.pad(x, (1, 1), mode="reflect", value=0.0), (2, 3)),
    _f("F.pad-replicate", lambda F, x: F.pad(x, (2, 2, 3, 0), mode="replicate"), (3, 2, 3)),
    _f("F.pad-replicate-3d-crop", lambda F, x: F.pad(x, (-1, 2, 1, -1, 0, 2), mode="replicate"), (1, 2, 3, 3, 3)),
    _f("F.pad-circular", lambda F, x: F.pad(x, (3, 1), mode="circular"), (2, 3, 3)),
    _f("F.pad-circular-crop-to-0", lambda F, x: F.pad(x, (-1, -2), mode="circular"), (2, 3, 3)),
    _f("F.pad-reflect-2d-empty", lambda F, x: F.pad(x, (-1, -2, 1, 0), mode="reflect"), (2, 3, 3)),
    _f("F.pad-replicate-3d-empty", lambda F, x: F.pad(x, (0, 0, -2, -1, 1, 1), mode="replicate"), (1, 1, 2, 3, 2)),
    _f("F.pad-circular-0-channels", lambda F, x: F.pad(x, (1, 1, 1, 1), mode="circular"), (1, 0, 2, 3)),
    _f("F.pad-noncontig", lambda F, x: F.pad(x[:, ::2, 1:], (1, 2, 2, 1), mode="reflect"), (2, 6, 5, 4)),
]


def _f32(*shape: int):
    return lambda rng: (rng.standard_normal(shape).astype(np.float32),)


def _pad(*args, **kwargs):
    return lambda nn: lambda x: nn.functional.pad(x, *args, **kwargs)


ERROR_SAMPLES = [
    ErrorSample("pad-odd-length", _pad((1, 2, 3)), _f32(2, 3), r"pad expected a padding sequence of even length, "
                                                              r"got length 3"),
    ErrorSample("pad-too-long", _pad((1,) * 6), _f32(2, 3), r"pad expected at most 2 \* input.ndim = 4 padding values "
                                                          r"for input of shape \(2, 3\), got 6 values"),
    ErrorSample("pad-bad-mode", _pad((1, 1), mode="symmetric"), _f32(2, 3), r"pad expected mode to be one of "
                                                                          r"'constant'.*got 'symmetric'"),
    ErrorSample("pad-reflect-too-big", _pad((1, 3), mode="reflect"), _f32(1, 2, 3),
                r"pad expected reflect padding smaller than the padded dimension \(size 3 at dim 2\), got padding "
                r"\(1, 3\)"),
    ErrorSample("pad-reflect-rank", _pad((1, 1), mode="reflect"), _f32(1, 1, 2, 3),
                r"pad expected a 2D or 3D input for reflect padding of 1 dimension\(s\), got input of shape "
                r"\(1, 1, 2, 3\)"),
    ErrorSample("pad-replicate-4-dims", _pad((1,) * 8, mode="replicate"), _f32(1, 1, 2, 2, 2, 2),
                r"pad expected 1 to 3 padded dimensions for mode 'replicate', got 4"),
    ErrorSample("pad-circular-wrap-twice", _pad((4, 0), mode="circular"), _f32(1, 2, 3),
                r"pad expected circular padding at most the dimension's size \(3 at dim 2.*got padding \(4, 0\)"),
    ErrorSample("pad-circular-crop-then-wrap", _pad((-2, 2), mode="circular"), _f32(1, 2, 3),
                r"pad expected circular padding at most the dimension's size \(1 at dim 2.*got padding \(-2, 2\)"),
    ErrorSample("pad-value-with-reflect", _pad((1, 1), mode="reflect", value=1.0), _f32(1, 2, 3),
                r"pad expected no value for mode 'reflect'.*got 1.0"),
    ErrorSample("pad-constant-negative-size", _pad((-2, -2)), _f32(1, 2, 3),
                r"pad expected negative padding that crops at most the dimension's size 3 at dim 2, got padding "
                r"\(-2, -2\)"),
    ErrorSample("pad-replicate-empty-output", _pad((-2, -1), mode="replicate"), _f32(1, 2, 3),
                r"pad expected at least one non-empty padded dimension for replicate padding of input of shape "
                r"\(1, 2, 3\), got output sizes \(0,\)"),
    ErrorSample("pad-replicate-zero-channels", _pad((1, 1), mode="replicate"), _f32(1, 0, 3),
                r"pad expected non-zero channel and spatial dimensions for replicate padding.*got input of shape "
                r"\(1, 0, 3\)"),
    ErrorSample("ReflectionPad2d-rank", lambda nn: nn.ReflectionPad2d(1), _f32(4, 5),
                r"ReflectionPad2d\(\(1, 1, 1, 1\)\) expected a 3D or 4D input for reflect padding of 2 dimension\(s\), "
                r"got input of shape \(4, 5\)"),
    ErrorSample("CircularPad2d-rank", lambda nn: nn.CircularPad2d(1), _f32(1, 1, 2, 3, 3),
                r"CircularPad2d\(\(1, 1, 1, 1\)\) expected 3D or 4D input, got input of shape \(1, 1, 2, 3, 3\)"),
    ErrorSample("ReflectionPad1d-too-big", lambda nn: nn.ReflectionPad1d(4), _f32(2, 3, 4),
                r"ReflectionPad1d\(\(4, 4\)\) expected reflect padding smaller than the padded dimension"),
]
