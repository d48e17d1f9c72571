"""Whole recurrent models, defined once for both libraries, with torch's weights loaded through ``state_dict``."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nngraph.nn as nn

TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}
TOL = {np.float32: 2e-5, np.float64: 1e-10}


def text_classifier(lib, vocab: int = 50, classes: int = 3):
    """Embedding -> 2-layer bidirectional LSTM -> Linear over [mean-pooled output, final states]."""

    class LSTMClassifier(lib.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = lib.Embedding(vocab, 8, padding_idx=0)
            self.lstm = lib.LSTM(8, 12, num_layers=2, batch_first=True, bidirectional=True, dropout=0.25)
            self.head = lib.Sequential(lib.Linear(48, 16), lib.ReLU(), lib.Dropout(0.1), lib.Linear(16, classes))

        def forward(self, tokens, state=None):
            out, (h, c) = self.lstm(self.embed(tokens), state)
            # Mean over time, and the top layer's final states of both directions.
            features = _cat(out.mean(1), h[-2], h[-1])
            return self.head(features), (h, c)

    return LSTMClassifier()


def _cat(*xs):
    """Concatenate along features, in whichever library ``xs`` come from."""
    return torch.cat(xs, 1) if isinstance(xs[0], torch.Tensor) else np.concatenate(xs, 1)


def conv_gru(lib, channels: int = 6, classes: int = 4):
    """Conv1d feature extractor over (N, C, L) signals, a GRU over time, and a per-time-step Linear tagger."""

    class ConvGRU(lib.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = lib.Sequential(lib.Conv1d(channels, 10, 3, padding=1), lib.ReLU(),
                                           lib.Conv1d(10, 10, 3, stride=2))
            self.gru = lib.GRU(10, 16, num_layers=2, bidirectional=True)
            self.tagger = lib.Linear(32, classes)

        def forward(self, x, h0=None):
            f = self.features(x)  # (N, 10, L')
            seq = f.transpose(2, 0, 1) if isinstance(f, np.ndarray) else f.permute(2, 0, 1)  # (L', N, 10)
            out, h = self.gru(seq, h0)
            return self.tagger(out), h

    return ConvGRU()


def _pair(make, dtype, mode):
    torch.manual_seed(0)
    tm = make(torch.nn).to(TORCH_DTYPE[dtype])
    om = make(nn).to(dtype)
    om.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    tm.train(mode == "train")
    om.train(mode == "train")
    return om, tm


def _to_numpy(v):
    if isinstance(v, (tuple, list)):
        return type(v)(_to_numpy(x) for x in v)
    return v.detach().numpy()


def _assert_close(ours, ref, dtype):
    if isinstance(ref, (tuple, list)):
        for o, r in zip(ours, ref, strict=True):
            _assert_close(o, r, dtype)
        return
    assert ours.dtype == ref.dtype and ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=TOL[dtype], rtol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("with_state", [False, True])
def test_lstm_text_classifier(dtype, with_state):
    om, tm = _pair(text_classifier, dtype, "eval")
    assert list(om.state_dict()) == list(tm.state_dict())
    assert repr(om) == repr(tm)
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 50, (4, 9))
    tokens[1, 6:] = 0  # padding
    args = [tokens]
    if with_state:
        args.append(tuple(rng.standard_normal((4, 4, 12)).astype(dtype) for _ in range(2)))
    with torch.no_grad():
        ref = _to_numpy(tm(torch.from_numpy(tokens), *[tuple(map(torch.from_numpy, s)) for s in args[1:]]))
    ours = om(*args)
    _assert_close(ours, ref, dtype)
    assert ours[0].shape == (4, 3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("batch", [1, 3])
def test_gru_over_conv1d_features(dtype, batch):
    om, tm = _pair(conv_gru, dtype, "eval")
    assert repr(om) == repr(tm)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, 6, 21)).astype(dtype)
    h0 = rng.standard_normal((4, batch, 16)).astype(dtype)
    for args in ((x,), (x, h0)):
        with torch.no_grad():
            ref = _to_numpy(tm(*map(torch.from_numpy, args)))
        ours = om(*args)
        _assert_close(ours, ref, dtype)
        assert ours[0].shape == (10, batch, 4)


def test_models_in_train_mode_are_random_but_shaped_like_torch():
    om, tm = _pair(text_classifier, np.float32, "train")
    tokens = np.random.default_rng(2).integers(1, 50, (3, 7))
    a, b = om(tokens)[0], om(tokens)[0]
    assert a.shape == tuple(tm(torch.from_numpy(tokens))[0].shape)
    assert not np.allclose(a, b)
    om.eval()
    np.testing.assert_array_equal(om(tokens)[0], om(tokens)[0])
