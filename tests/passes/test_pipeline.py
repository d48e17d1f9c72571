"""The whole pipeline on whole models (ResNet-, MobileNet-, U-Net-style, MLP): numerics, postconditions (no
Dropout/BatchNorm left, every conv one node with its BatchNorm/activation), passes=/disable=, per-pass dumps, the
numerics report, train mode, hooks, and the PassManager naming a failing pass."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest

import nngraph
import nngraph.nn as nn
from nngraph.ir import MODULE, OP, Graph, Interpreter
from nngraph.passes import (DEFAULT_PIPELINE, PASSES, TRAIN_PIPELINE, PassContext, PassError, PassManager,
                            PassResult, graph_pass, resolve_pipeline)
from nngraph.passes.fuse_epilogue import ACTIVATIONS
from nngraph.trace import GraphBreakWarning

from ..trace.util import assert_same, rand
from .util import random_bn


# ---------------------------------------------------------------------------------------------- models
class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: Any) -> Any:
        identity = x if self.down is None else self.down(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.layer1 = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 8))
        self.layer2 = nn.Sequential(BasicBlock(8, 16, stride=2), BasicBlock(16, 16))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(16, 5)

    def forward(self, x: Any) -> Any:
        x = self.layer2(self.layer1(self.stem(x)))
        return self.fc(self.drop(self.pool(x).reshape(x.shape[0], -1)))


def _dw_separable(cin: int, cout: int, stride: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU6(),
                         nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))


class InvertedResidual(nn.Module):
    def __init__(self, c: int, expand: int) -> None:
        super().__init__()
        h = c * expand
        self.expand = nn.Sequential(nn.Conv2d(c, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU6())
        self.dw = _dw_separable(h, c, 1)

    def forward(self, x: Any) -> Any:
        return x + self.dw(self.expand(x))


class MobileNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.Hardswish(),
                                      _dw_separable(8, 16, 2), InvertedResidual(16, 2), InvertedResidual(16, 3))
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(16, 4))

    def forward(self, x: Any) -> Any:
        return self.classifier(self.features(x).mean(axis=(2, 3)))


def _double_conv(cin: int, cout: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())


class UNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.enc1, self.enc2 = _double_conv(3, 8), _double_conv(8, 16)
        self.pool = nn.MaxPool2d(2)
        self.bottom = _double_conv(16, 32)
        self.up2 = nn.Sequential(nn.ConvTranspose2d(32, 16, 2, stride=2), nn.BatchNorm2d(16), nn.ReLU())
        self.dec2 = _double_conv(32, 16)
        self.up1 = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.dec1 = _double_conv(16, 8)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x: Any) -> Any:
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        b = self.bottom(self.pool(e2))
        d2 = self.dec2(np.concatenate([self.up2(b), e2], axis=1))
        d1 = self.dec1(np.concatenate([self.up1(d2), e1], axis=1))
        return self.head(d1)


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(48, 32), nn.BatchNorm1d(32), nn.GELU(), nn.Dropout(0.5),
                         nn.Linear(32, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.AlphaDropout(0.1), nn.Linear(16, 3))


MODELS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "resnet": (ResNet, (2, 3, 16, 16)),
    "mobilenet": (MobileNet, (2, 3, 16, 16)),
    "unet": (UNet, (1, 3, 16, 16)),
    "mlp": (_mlp, (4, 3, 4, 4)),
}
CONVS = ("conv", "conv_transpose", "linear")


def _build(name: str, training: bool = False) -> tuple[nn.Module, np.ndarray]:
    make, shape = MODELS[name]
    nngraph.manual_seed(0)
    m = make()
    random_bn(m)
    return m.train(training), rand(*shape, seed=3)


def _heavy_kind(graph: Graph, node: Any) -> str | None:
    """conv/conv_transpose/linear for a plain heavy op or a fused node starting with one."""
    if node.kind != OP:
        return None
    if node.target == "fused" and node.attrs["kind"] == "epilogue":
        return node.attrs["steps"][0][0]
    return node.target if node.target in CONVS else None


def assert_postconditions(graph: Graph, model: nn.Module) -> None:
    """No dropout/BatchNorm left; every conv/linear is one node that already includes its BatchNorm and
    activation (an activation or BatchNorm consuming a conv's only value would mean a missed fusion)."""
    ops = {n.target for n in graph.ops()}
    assert not ops & {"dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout"}
    assert not ops & {"batch_norm", "channel_affine"}
    heavy = [n for n in graph.ops() if _heavy_kind(graph, n) in CONVS]
    n_layers = sum(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) for m in model.modules())
    assert len(heavy) == n_layers
    for n in heavy:
        users = graph.users(n.name)
        if len(users) == 1:
            user = graph[users[0]]
            assert not (user.kind == OP and user.target in ACTIVATIONS + ("batch_norm", "channel_affine")), \
                f"{n.describe()} is followed by {user.describe()}"


# ---------------------------------------------------------------------------------------------- whole models
@pytest.mark.parametrize("name", list(MODELS))
def test_whole_model_eval(name: str) -> None:
    m, x = _build(name)
    want = m(x)
    result = nngraph.optimize(m, x, debug=True)
    graph = result.graph
    graph.lint()
    assert_same(Interpreter(graph, m).run(x), want, rtol=1e-4, atol=1e-4)
    assert_postconditions(graph, m)
    assert not result.traced.breaks and not graph.by_kind(MODULE)
    x2 = rand(*x.shape, seed=11)  # other values, same shapes
    assert_same(Interpreter(graph, m).run(x2), m(x2), rtol=1e-4, atol=1e-4)
    # Stats: one line per pass in order, node counts chained.
    assert [s.name for s in result.stats] == list(DEFAULT_PIPELINE)
    for a, b in zip(result.stats, result.stats[1:]):
        assert a.nodes_after == b.nodes_before
    report = result.report()
    assert all(p in report for p in DEFAULT_PIPELINE) and "activation memory" in report


def test_resnet_structure() -> None:
    m, x = _build("resnet")
    graph = nngraph.optimize(m, x).graph
    fused = graph.ops("fused")
    assert len(fused) == 9  # stem + 4 blocks x 2 convs; the two downsample convs fold their BN but have no epilogue
    steps = {n.meta.module: [s[0] for s in n.attrs["steps"]] for n in fused}
    assert steps["stem.0"] == ["conv", "relu"]
    assert steps["layer1.0.conv1"] == ["conv", "relu"] and steps["layer1.0.conv2"] == ["conv", "add", "relu"]
    assert all("batch_norm" in " ".join(n.meta.fused_from) for n in fused)


def test_numerics_report_per_fused_node() -> None:
    m, x = _build("mobilenet")
    result = nngraph.optimize(m, x)
    fused = {n.name for n in result.graph.nodes() if n.meta.fused_from and not n.meta.weight_only}
    assert set(result.numerics) == fused and fused
    assert all(0 <= dev < 1e-4 for dev in result.numerics.values())


# ---------------------------------------------------------------------------------------------- train mode and hooks
@pytest.mark.parametrize("name", ["resnet", "mlp"])
def test_train_mode_neither_folds_nor_fuses(name: str) -> None:
    m, x = _build(name, training=True)
    with pytest.warns(GraphBreakWarning):  # BatchNorm updates its running statistics in place: eager
        result = nngraph.optimize(m, x, debug=True)
    assert [s.name for s in result.stats] == list(TRAIN_PIPELINE)
    ops = {n.target for n in result.graph.ops()}
    assert not ops & {"fused", "bn_fold_weight", "bn_fold_bias", "channel_affine"}
    assert result.numerics == {}


def test_train_mode_dropout_stays_and_debug_is_deterministic() -> None:
    m = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2)).train()
    x = rand(6, 4)
    state = nngraph._random.default_generator().bit_generator.state
    result = nngraph.optimize(m, x, debug=True)  # re-runs the graph after each pass: same random draws each time
    assert nngraph._random.default_generator().bit_generator.state == state
    assert len(result.graph.ops("dropout")) == 2
    nngraph.manual_seed(5)
    want = m(x)
    nngraph.manual_seed(5)
    assert_same(Interpreter(result.graph, m).run(x), want)


def test_hooked_module_blocks_folding_and_fusion() -> None:
    m, x = _build("resnet")
    block = m.layer1[1]
    seen: list[Any] = []
    block.bn1.register_forward_hook(lambda mod, args, out: seen.append(out.shape))
    want = m(x)
    seen.clear()
    result = nngraph.optimize(m, x, debug=True)
    graph = result.graph
    assert [n.target for n in graph.by_kind(MODULE)] == ["layer1.1.bn1"]
    conv1 = next(n for n in graph.ops() if n.meta.module == "layer1.1.conv1")
    assert conv1.target == "conv" and not conv1.meta.fused_from  # neither folded nor fused across the hook
    relu_after = [n for n in graph.ops() if n.target == "relu" and n.meta.module == "layer1.1.relu"]
    assert relu_after  # the ReLU after the hooked BatchNorm stays a separate op
    seen.clear()
    assert_same(Interpreter(graph, m).run(x), want, rtol=1e-4, atol=1e-4)
    assert seen == [(2, 8, 16, 16)]


def test_optimize_leaves_model_state_alone() -> None:
    m, x = _build("resnet", training=True)
    state = {k: v.copy() for k, v in m.state_dict().items()}
    with pytest.warns(GraphBreakWarning):
        nngraph.optimize(m, x, debug=True)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, state[k], err_msg=k)


# ---------------------------------------------------------------------------------------------- choosing passes
def test_passes_and_disable() -> None:
    m, x = _build("resnet")
    only = nngraph.optimize(m, x, passes=["fold_batchnorm"], debug=True)
    assert [s.name for s in only.stats] == ["fold_batchnorm"]
    assert not only.graph.ops("batch_norm") and only.graph.ops("relu") and not only.graph.ops("fused")
    single = nngraph.optimize(m, x, passes="cse")
    assert [s.name for s in single.stats] == ["cse"]
    no_fusion = nngraph.optimize(m, x, disable=["fuse_epilogue", "fuse_elementwise"], debug=True)
    assert "fuse_epilogue" not in [s.name for s in no_fusion.stats]
    assert not no_fusion.graph.ops("fused") and no_fusion.graph.ops("conv")
    none = nngraph.optimize(m, x, passes=[])
    assert none.stats == [] and len(none.graph) == len(none.traced)


def test_custom_pass_callable() -> None:
    calls: list[str] = []

    def count_ops(graph: Graph, ctx: PassContext) -> PassResult:
        calls.append(f"{len(graph.ops())} ops, training={ctx.training}")
        return PassResult(graph, False)

    m, x = _build("mlp")
    result = nngraph.optimize(m, x, passes=["fold_batchnorm", count_ops])
    assert calls == ["10 ops, training=False"] and [s.name for s in result.stats] == ["fold_batchnorm", "count_ops"]


def test_unknown_pass_names() -> None:
    with pytest.raises(ValueError, match=r"unknown pass 'fold_bn'; known passes: \[.*'fold_batchnorm'"):
        resolve_pipeline(["fold_bn"])
    with pytest.raises(ValueError, match=r"unknown pass name\(s\) in disable=: \['nope'\]"):
        resolve_pipeline(disable=["nope"])


# ---------------------------------------------------------------------------------------------- dumps
def _check_dumps(directory: Path) -> None:
    stages = ["00_traced"] + [f"{i:02d}_{p}" for i, p in enumerate(DEFAULT_PIPELINE, 1)]
    for stage in stages:
        assert (directory / f"{stage}.dot").read_text().startswith("digraph")
        if shutil.which("dot"):
            assert (directory / f"{stage}.svg").read_text().lstrip().startswith(("<?xml", "<svg", "<!DOCTYPE"))
    index = (directory / "index.md").read_text().splitlines()
    assert index[0].startswith("| stage | nodes | ops | files |") and len(index) == 2 + len(stages)
    assert all(f"[{s}.dot]({s}.dot)" in row for s, row in zip(stages, index[2:]))


def test_dump_dir(tmp_path: Path) -> None:
    m, x = _build("mlp")
    nngraph.optimize(m, x, dump_dir=str(tmp_path / "dumps"))
    _check_dumps(tmp_path / "dumps")


def test_dump_env_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NNGRAPH_DUMP", str(tmp_path / "env"))
    m, x = _build("mlp")
    nngraph.optimize(m, x)
    _check_dumps(tmp_path / "env")


def test_dump_without_graphviz_writes_dot_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    m, x = _build("mlp")
    monkeypatch.setenv("PATH", "")
    nngraph.optimize(m, x, dump_dir=str(tmp_path))
    assert (tmp_path / "00_traced.dot").exists() and not list(tmp_path.glob("*.svg"))


# ---------------------------------------------------------------------------------------------- failing passes
@pytest.fixture
def broken_passes() -> Iterator[None]:
    """Deliberately broken passes, registered for one test."""

    @graph_pass("test_flip_add")
    def flip_add(graph: Graph, ctx: PassContext) -> PassResult:  # wrong numerics, valid graph
        for n in graph.ops("add"):
            n.target = "sub"
        return PassResult(graph, True)

    @graph_pass("test_bad_shape")
    def bad_shape(graph: Graph, ctx: PassContext) -> PassResult:  # invalid graph
        n = graph.ops("relu")[0]
        n.meta = n.meta.with_(spec=n.meta.spec.__class__((1, 2, 3), np.float32))
        return PassResult(graph, True)

    @graph_pass("test_crash")
    def crash(graph: Graph, ctx: PassContext) -> PassResult:
        raise KeyError("boom")

    try:
        yield
    finally:
        for name in ("test_flip_add", "test_bad_shape", "test_crash"):
            PASSES.pop(name)


def test_pass_manager_names_the_failing_pass(broken_passes: None) -> None:
    m, x = _build("resnet")
    with pytest.raises(PassError, match=r"pass 'test_flip_add' changed output 0 by .* \(relative\), more than the "
                                        r"1e-03 allowed for float32 \(after \['remove_dropout', 'fold_batchnorm'\]\)"):
        nngraph.optimize(m, x, passes=["remove_dropout", "fold_batchnorm", "test_flip_add", "cse"], debug=True)
    with pytest.raises(PassError, match=r"pass 'test_bad_shape' produced an invalid graph \(after \['cse'\]\): "
                                        r"%relu.*recorded"):
        nngraph.optimize(m, x, passes=["cse", "test_bad_shape"], debug=True)
    with pytest.raises(PassError, match=r"pass 'test_crash' failed \(after no passes\): KeyError: 'boom'"):
        nngraph.optimize(m, x, passes=["test_crash"])
    # Without debug the numerics are not checked (the broken pass goes through).
    nngraph.optimize(m, x, passes=["test_flip_add"])


def test_pass_manager_lints_the_traced_graph_first() -> None:
    m, x = _build("mlp")
    graph = nngraph.trace(m, x)
    node = graph.ops("linear")[0]
    node.meta = node.meta.with_(spec=node.meta.spec.__class__((9, 9), np.float32))
    with pytest.raises(PassError, match="the traced graph produced an invalid graph"):
        PassManager(resolve_pipeline(), PassContext(root=m), debug=True).run(graph)
