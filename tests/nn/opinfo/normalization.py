"""Op table: normalization layers (BatchNorm, InstanceNorm, LayerNorm, GroupNorm, RMSNorm, LocalResponseNorm)."""
from __future__ import annotations

import numpy as np

from tests.nn.opinfo import ErrorSample, FuncSample, ModuleSample, randn


def _rand(nn, m):
    """Random affine parameters and running statistics, so that every term of the formula is exercised."""
    for name in ("weight", "bias", "running_mean"):
        a = getattr(m, name, None)
        if a is not None:
            nn.init.uniform_(a, -1.5, 1.5)
    if getattr(m, "running_var", None) is not None:
        nn.init.uniform_(m.running_var, 0.5, 2.0)
    return m


def shifted(*shape, offset=50.0, scale=3.0):
    """Input far from zero mean: checks that statistics are computed stably."""
    return lambda rng: (offset + scale * rng.standard_normal(shape),)


def M(id, make, inputs, **kw):
    return ModuleSample(id, lambda nn: _rand(nn, make(nn)), inputs, **kw)


MODULE_SAMPLES = [
    # BatchNorm1d
    M("bn1d_2d", lambda nn: nn.BatchNorm1d(4), randn(5, 4)),
    M("bn1d_3d", lambda nn: nn.BatchNorm1d(4), randn(3, 4, 6)),
    M("bn1d_cma", lambda nn: nn.BatchNorm1d(4, momentum=None), randn(3, 4, 5)),
    M("bn1d_eps_momentum", lambda nn: nn.BatchNorm1d(4, eps=1e-3, momentum=0.5), randn(2, 4, 3)),
    M("bn1d_no_affine", lambda nn: nn.BatchNorm1d(4, affine=False), randn(6, 4)),
    M("bn1d_no_bias", lambda nn: nn.BatchNorm1d(4, bias=False), randn(3, 4, 2)),
    M("bn1d_no_track", lambda nn: nn.BatchNorm1d(4, track_running_stats=False), randn(3, 4, 5)),
    M("bn1d_no_track_any_channels", lambda nn: nn.BatchNorm1d(3, affine=False, track_running_stats=False),
      randn(4, 5)),
    M("bn1d_batch1_eval", lambda nn: nn.BatchNorm1d(4), randn(1, 4), modes=("eval",)),
    M("bn1d_batch1_len2", lambda nn: nn.BatchNorm1d(4), randn(1, 4, 2)),
    M("bn1d_batch0", lambda nn: nn.BatchNorm1d(4), randn(0, 4)),
    M("bn1d_shifted", lambda nn: nn.BatchNorm1d(3), shifted(8, 3, 4)),
    # BatchNorm2d
    M("bn2d", lambda nn: nn.BatchNorm2d(3), randn(2, 3, 4, 5)),
    M("bn2d_1x1", lambda nn: nn.BatchNorm2d(3), randn(4, 3, 1, 1)),
    M("bn2d_batch1", lambda nn: nn.BatchNorm2d(3), randn(1, 3, 2, 3)),
    M("bn2d_cma", lambda nn: nn.BatchNorm2d(3, momentum=None), randn(2, 3, 3, 3)),
    M("bn2d_no_affine_no_track", lambda nn: nn.BatchNorm2d(3, affine=False, track_running_stats=False),
      randn(2, 3, 3, 2)),
    M("bn2d_momentum1", lambda nn: nn.BatchNorm2d(2, momentum=1.0, eps=0.1), randn(3, 2, 2, 2)),
    M("bn2d_batch0", lambda nn: nn.BatchNorm2d(3), randn(0, 3, 2, 2)),
    M("bn2d_empty_spatial", lambda nn: nn.BatchNorm2d(3), randn(2, 3, 0, 2)),
    M("bn2d_shifted", lambda nn: nn.BatchNorm2d(2), shifted(3, 2, 4, 4, offset=-200.0)),
    # BatchNorm3d
    M("bn3d", lambda nn: nn.BatchNorm3d(2), randn(2, 2, 3, 2, 3)),
    M("bn3d_no_bias_cma", lambda nn: nn.BatchNorm3d(3, momentum=None, bias=False), randn(1, 3, 2, 2, 2)),
    M("bn3d_no_track", lambda nn: nn.BatchNorm3d(2, track_running_stats=False), randn(2, 2, 1, 2, 1)),
    # InstanceNorm
    M("in1d", lambda nn: nn.InstanceNorm1d(3), randn(2, 3, 5)),
    M("in1d_unbatched", lambda nn: nn.InstanceNorm1d(3), randn(3, 5)),
    M("in1d_affine", lambda nn: nn.InstanceNorm1d(3, affine=True), randn(2, 3, 4)),
    M("in1d_affine_no_bias", lambda nn: nn.InstanceNorm1d(3, affine=True, bias=False), randn(2, 3, 4)),
    M("in1d_track", lambda nn: nn.InstanceNorm1d(3, track_running_stats=True), randn(4, 3, 6)),
    M("in1d_track_unbatched", lambda nn: nn.InstanceNorm1d(3, affine=True, track_running_stats=True), randn(3, 4)),
    M("in1d_track_cma", lambda nn: nn.InstanceNorm1d(3, momentum=None, track_running_stats=True), randn(2, 3, 3)),
    M("in1d_other_channels", lambda nn: nn.InstanceNorm1d(4), randn(2, 3, 5)),
    M("in1d_empty_spatial", lambda nn: nn.InstanceNorm1d(3, track_running_stats=True), randn(2, 3, 0)),
    M("in1d_batch0", lambda nn: nn.InstanceNorm1d(3, track_running_stats=True), randn(0, 3, 4)),
    M("in2d", lambda nn: nn.InstanceNorm2d(3), randn(2, 3, 4, 3)),
    M("in2d_unbatched_affine", lambda nn: nn.InstanceNorm2d(3, affine=True), randn(3, 2, 2)),
    M("in2d_track_affine", lambda nn: nn.InstanceNorm2d(2, eps=1e-3, momentum=0.3, affine=True,
                                                        track_running_stats=True), randn(3, 2, 3, 3)),
    M("in2d_shifted", lambda nn: nn.InstanceNorm2d(2, affine=True), shifted(2, 2, 5, 5)),
    M("in3d", lambda nn: nn.InstanceNorm3d(2, affine=True), randn(2, 2, 2, 3, 2)),
    M("in3d_unbatched_track", lambda nn: nn.InstanceNorm3d(2, track_running_stats=True), randn(2, 2, 2, 2)),
    # LayerNorm
    M("ln", lambda nn: nn.LayerNorm(5), randn(3, 5)),
    M("ln_2d_shape", lambda nn: nn.LayerNorm((4, 5)), randn(2, 3, 4, 5)),
    M("ln_list_shape", lambda nn: nn.LayerNorm([3, 2, 2]), randn(3, 2, 2)),
    M("ln_unbatched", lambda nn: nn.LayerNorm(6, eps=1e-3), randn(6)),
    M("ln_no_affine", lambda nn: nn.LayerNorm(4, elementwise_affine=False), randn(2, 3, 4)),
    M("ln_no_bias", lambda nn: nn.LayerNorm(4, bias=False), randn(2, 4)),
    M("ln_batch0", lambda nn: nn.LayerNorm(4), randn(0, 4)),
    M("ln_size1", lambda nn: nn.LayerNorm(1), randn(3, 1)),
    M("ln_shifted", lambda nn: nn.LayerNorm(16), shifted(4, 16, offset=1000.0)),
    # GroupNorm
    M("gn", lambda nn: nn.GroupNorm(2, 4), randn(3, 4, 5)),
    M("gn_one_group", lambda nn: nn.GroupNorm(1, 4), randn(2, 4, 3, 3)),
    M("gn_per_channel", lambda nn: nn.GroupNorm(4, 4), randn(2, 4, 6)),
    M("gn_2d_input", lambda nn: nn.GroupNorm(3, 6), randn(3, 6)),
    M("gn_5d", lambda nn: nn.GroupNorm(2, 6, eps=1e-3), randn(2, 6, 2, 2, 2)),
    M("gn_no_affine", lambda nn: nn.GroupNorm(2, 4, affine=False), randn(2, 4, 3)),
    M("gn_no_bias", lambda nn: nn.GroupNorm(2, 4, bias=False), randn(2, 4, 3)),
    M("gn_batch0", lambda nn: nn.GroupNorm(2, 4), randn(0, 4, 3)),
    M("gn_shifted", lambda nn: nn.GroupNorm(2, 4), shifted(2, 4, 8, offset=300.0)),
    # RMSNorm
    M("rms", lambda nn: nn.RMSNorm(5), randn(3, 5)),
    M("rms_2d_shape", lambda nn: nn.RMSNorm((3, 4)), randn(2, 3, 4)),
    M("rms_eps", lambda nn: nn.RMSNorm([4], eps=1e-2), randn(2, 2, 4)),
    M("rms_no_affine", lambda nn: nn.RMSNorm(4, elementwise_affine=False), randn(3, 4)),
    M("rms_unbatched", lambda nn: nn.RMSNorm(6), randn(6)),
    M("rms_tiny", lambda nn: nn.RMSNorm(4), lambda rng: (1e-4 * rng.standard_normal((2, 4)),)),
    M("rms_batch0", lambda nn: nn.RMSNorm(4), randn(0, 4)),
    # LocalResponseNorm
    M("lrn", lambda nn: nn.LocalResponseNorm(2), randn(2, 5, 4)),
    M("lrn_2d", lambda nn: nn.LocalResponseNorm(3, alpha=1e-2, beta=0.5, k=2.0), randn(2, 6, 3, 3)),
    M("lrn_3d", lambda nn: nn.LocalResponseNorm(5, alpha=0.1), randn(1, 3, 2, 2, 2)),
    M("lrn_size1", lambda nn: nn.LocalResponseNorm(1, alpha=0.5), randn(2, 3, 2)),
    M("lrn_window_wider_than_channels", lambda nn: nn.LocalResponseNorm(7, alpha=0.3, beta=1.0), randn(2, 3, 2, 2)),
    M("lrn_empty", lambda nn: nn.LocalResponseNorm(2), randn(0, 3, 4)),
]


def _vectors(*shapes):
    return lambda rng: tuple(rng.standard_normal(s) for s in shapes)


def _bn_inputs(x_shape, c):
    return lambda rng: (rng.standard_normal(x_shape), rng.standard_normal(c), rng.uniform(0.5, 2.0, c),
                        rng.standard_normal(c), rng.standard_normal(c))


def _bn_train(F, x, m, v, w, b):
    m, v = m * 1, v * 1  # copies: F.batch_norm updates the running statistics in place
    return F.batch_norm(x, m, v, w, b, training=True, momentum=0.3, eps=1e-3), m, v


def _in_train(F, x, m, v, w, b):
    m, v = m * 1, v * 1
    return F.instance_norm(x, m, v, w, b, use_input_stats=True, momentum=0.2), m, v


FUNC_SAMPLES = [
    FuncSample("batch_norm_eval", lambda F, x, m, v, w, b: F.batch_norm(x, m, v, w, b), _bn_inputs((3, 4, 5), 4)),
    FuncSample("batch_norm_eval_no_affine", lambda F, x, m, v, w, b: F.batch_norm(x, m, v, eps=0.0),
               _bn_inputs((3, 4), 4)),
    FuncSample("batch_norm_eval_6d", lambda F, x, m, v, w, b: F.batch_norm(x, m, v, w, b),
               _bn_inputs((2, 3, 2, 1, 2, 2), 3)),
    FuncSample("batch_norm_train_update", _bn_train, _bn_inputs((3, 4, 2, 2), 4)),
    FuncSample("batch_norm_train_no_running", lambda F, x, m, v, w, b: F.batch_norm(x, None, None, w, b, True),
               _bn_inputs((5, 4), 4)),
    FuncSample("batch_norm_train_weight_only", lambda F, x, m, v, w, b: F.batch_norm(x, None, None, w, None, True),
               _bn_inputs((2, 4, 3), 4)),
    FuncSample("instance_norm", lambda F, x, m, v, w, b: F.instance_norm(x, weight=w, bias=b),
               _bn_inputs((2, 4, 5), 4)),
    FuncSample("instance_norm_train_update", _in_train, _bn_inputs((3, 4, 2, 3), 4)),
    FuncSample("instance_norm_running_stats", lambda F, x, m, v, w, b: F.instance_norm(x, m, v, w, b, False),
               _bn_inputs((2, 4, 3), 4)),
    FuncSample("layer_norm", lambda F, x, w, b: F.layer_norm(x, [3, 4], w, b, 1e-3),
               _vectors((2, 3, 4), (3, 4), (3, 4))),
    FuncSample("layer_norm_no_affine", lambda F, x: F.layer_norm(x, (4,)), _vectors((3, 4))),
    FuncSample("group_norm", lambda F, x, w, b: F.group_norm(x, 3, w, b), _vectors((2, 6, 2, 2), 6, 6)),
    FuncSample("group_norm_no_affine", lambda F, x: F.group_norm(x, 2), _vectors((3, 4, 5))),
    FuncSample("rms_norm", lambda F, x, w: F.rms_norm(x, (4,), w), _vectors((3, 4), 4)),
    FuncSample("rms_norm_eps", lambda F, x: F.rms_norm(x, [2, 3], eps=1e-3), _vectors((2, 2, 3))),
    FuncSample("local_response_norm", lambda F, x: F.local_response_norm(x, 3, 0.2, 0.6, 1.5), _vectors((2, 5, 3))),
    FuncSample("local_response_norm_4d", lambda F, x: F.local_response_norm(x, 4), _vectors((2, 6, 2, 3))),
]


def _f32(*shapes):
    return lambda rng: tuple(rng.standard_normal(s).astype(np.float32) for s in shapes)


ERROR_SAMPLES = [
    ErrorSample("bn1d_1d_input", lambda nn: nn.BatchNorm1d(3), randn(3),
                r"BatchNorm1d\(3, .*\) expected input of shape \(N, 3\) or \(N, 3, L\), got \(3,\)"),
    ErrorSample("bn1d_4d_input", lambda nn: nn.BatchNorm1d(3), randn(2, 3, 2, 2),
                r"\(N, 3\) or \(N, 3, L\), got \(2, 3, 2, 2\)"),
    ErrorSample("bn2d_3d_input", lambda nn: nn.BatchNorm2d(3), randn(3, 4, 4), r"\(N, 3, H, W\), got \(3, 4, 4\)"),
    ErrorSample("bn3d_4d_input", lambda nn: nn.BatchNorm3d(3), randn(3, 2, 2, 2),
                r"\(N, 3, D, H, W\), got \(3, 2, 2, 2\)"),
    ErrorSample("bn2d_channels", lambda nn: nn.BatchNorm2d(3), randn(2, 4, 3, 3),
                r"\(N, 3, H, W\), got \(2, 4, 3, 3\)"),
    ErrorSample("bn1d_one_value_per_channel", lambda nn: nn.BatchNorm1d(3), randn(1, 3),
                r"more than 1 value per channel when training, got input of shape \(1, 3\)"),
    ErrorSample("bn2d_one_value_per_channel", lambda nn: nn.BatchNorm2d(3), randn(1, 3, 1, 1),
                r"more than 1 value per channel"),
    ErrorSample("bn1d_int_input", lambda nn: nn.BatchNorm1d(3), lambda rng: (np.ones((2, 3), dtype=np.int64),),
                r"floating-point input, got dtype int64"),
    ErrorSample("in1d_1d_input", lambda nn: nn.InstanceNorm1d(3), randn(3), r"\(N, 3, L\) or \(3, L\), got \(3,\)"),
    ErrorSample("in2d_5d_input", lambda nn: nn.InstanceNorm2d(3), randn(1, 1, 3, 2, 2), r"got \(1, 1, 3, 2, 2\)"),
    ErrorSample("in2d_affine_channels", lambda nn: nn.InstanceNorm2d(3, affine=True), randn(2, 4, 3, 3),
                r"\(N, 3, H, W\) or \(3, H, W\), got \(2, 4, 3, 3\)"),
    ErrorSample("in1d_track_channels", lambda nn: nn.InstanceNorm1d(3, track_running_stats=True), randn(4, 5),
                r"got \(4, 5\)"),
    ErrorSample("in1d_one_spatial_element", lambda nn: nn.InstanceNorm1d(3), randn(2, 3, 1),
                r"more than 1 spatial element when training, got input of shape \(2, 3, 1\)"),
    ErrorSample("ln_trailing_shape", lambda nn: nn.LayerNorm(5), randn(3, 4),
                r"input of shape \(\*, 5\), got \(3, 4\)"),
    ErrorSample("ln_too_few_dims", lambda nn: nn.LayerNorm((2, 3, 4)), randn(3, 4),
                r"input of shape \(\*, 2, 3, 4\), got \(3, 4\)"),
    ErrorSample("gn_channels", lambda nn: nn.GroupNorm(2, 4), randn(3, 6, 2), r"\(N, 4, \*\), got \(3, 6, 2\)"),
    ErrorSample("gn_not_divisible", lambda nn: nn.GroupNorm(2, 4, affine=False), randn(3, 5, 2),
                r"divisible by num_groups=2, got input of shape \(3, 5, 2\)"),
    ErrorSample("gn_1d_input", lambda nn: nn.GroupNorm(2, 4), randn(4), r"\(N, C, \*\), got \(4,\)"),
    ErrorSample("gn_one_value", lambda nn: nn.GroupNorm(2, 2), randn(1, 2), r"more than 1 value per channel"),
    ErrorSample("rms_trailing_shape", lambda nn: nn.RMSNorm((3, 4)), randn(2, 4, 3),
                r"input of shape \(\*, 3, 4\), got \(2, 4, 3\)"),
    ErrorSample("lrn_2d_input", lambda nn: nn.LocalResponseNorm(2), randn(2, 3),
                r"at least 3 dimensions.*got \(2, 3\)"),
    ErrorSample("f_batch_norm_eval_no_running", lambda nn: lambda x: nn.functional.batch_norm(x, None, None),
                randn(2, 3), r"batch_norm expected running_mean and running_var in evaluation mode"),
    ErrorSample("f_batch_norm_one_running", lambda nn: lambda x, m: nn.functional.batch_norm(x, m, None, training=True),
                _vectors((2, 3), 3), r"both None or both arrays"),
    ErrorSample("f_batch_norm_weight_shape",
                lambda nn: lambda x, w: nn.functional.batch_norm(x, None, None, w, None, True),
                _vectors((2, 3), 4), r"weight of shape \(3,\), got \(4,\)"),
    ErrorSample("f_batch_norm_running_dtype", lambda nn: lambda x, m, v: nn.functional.batch_norm(x, m, v),
                lambda rng: (rng.standard_normal((2, 3)).astype(np.float32), np.zeros(3), np.ones(3)),
                r"running_mean of dtype float32 \(the input's dtype\), got dtype float64"),
    ErrorSample("f_batch_norm_eps",
                lambda nn: lambda x: nn.functional.batch_norm(x, None, None, training=True, eps=0.0),
                randn(4, 3), r"positive eps during training, got 0.0"),
    ErrorSample("f_layer_norm_weight_shape", lambda nn: lambda x, w: nn.functional.layer_norm(x, (4,), w),
                _vectors((2, 4), 3), r"weight of shape \(4,\), got \(3,\)"),
    ErrorSample("f_layer_norm_weight_dtype", lambda nn: lambda x, w: nn.functional.layer_norm(x, (4,), w),
                lambda rng: (rng.standard_normal((2, 4)).astype(np.float32), np.ones(4)),
                r"weight of dtype float32 \(the input's dtype\), got dtype float64"),
    ErrorSample("f_layer_norm_empty_shape", lambda nn: lambda x: nn.functional.layer_norm(x, ()), randn(2, 4),
                r"normalized_shape with at least one dimension"),
    ErrorSample("f_group_norm_weight_shape", lambda nn: lambda x, w: nn.functional.group_norm(x, 2, w),
                _f32((2, 4, 3), 2), r"weight of shape \(4,\), got \(2,\)"),
    ErrorSample("f_instance_norm_no_running",
                lambda nn: lambda x: nn.functional.instance_norm(x, use_input_stats=False),
                randn(2, 3, 4), r"running_mean and running_var when use_input_stats is False"),
    ErrorSample("f_rms_norm_int", lambda nn: lambda x: nn.functional.rms_norm(x, (3,)),
                lambda rng: (np.ones((2, 3), dtype=np.int32),), r"floating-point input, got dtype int32"),
]
