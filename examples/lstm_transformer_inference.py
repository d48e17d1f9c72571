"""Sequence models compiled vs eager: an LSTM tagger and a Transformer encoder classifier, both on token ids.

    python examples/lstm_transformer_inference.py [--small] [--runs R]
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

import nngraph
from nngraph import nn


class LSTMTagger(nn.Module):
    """Embedding -> 2-layer bidirectional LSTM -> per-token Linear."""

    def __init__(self, vocab: int, dim: int, tags: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.lstm = nn.LSTM(dim, dim, num_layers=2, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * dim, tags)

    def forward(self, tokens: Any) -> Any:
        out, _ = self.lstm(self.embed(tokens))
        return self.head(out)


class TransformerClassifier(nn.Module):
    """Embedding + learned positions -> TransformerEncoder -> mean over tokens -> Linear."""

    def __init__(self, vocab: int, dim: int, heads: int, layers: int, seq: int, classes: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(np.zeros((1, seq, dim), dtype=np.float32))
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=4 * dim, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.head = nn.Linear(dim, classes)

    def forward(self, tokens: Any) -> Any:
        h = self.encoder(self.embed(tokens) + self.pos)
        return self.head(h.mean(axis=1))


def median_ms(fn: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def compare(name: str, model: nn.Module, tokens: np.ndarray, runs: int) -> None:
    model.eval()
    compiled = nngraph.compile(model)
    start = time.perf_counter()
    y = compiled(tokens)
    compile_s = time.perf_counter() - start
    y_eager = model(tokens)
    np.testing.assert_allclose(y, y_eager, rtol=1e-3, atol=1e-4)
    eager_ms, compiled_ms = median_ms(lambda: model(tokens), runs), median_ms(lambda: compiled(tokens), runs)
    print(f"{name}: input {tokens.shape} -> output {y.shape}; compile {compile_s:.1f} s; "
          f"max |diff| {np.abs(y - y_eager).max():.1e}; eager {eager_ms:.2f} ms, compiled {compiled_ms:.2f} ms "
          f"({eager_ms / compiled_ms:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="tiny models and sequences (for CI)")
    parser.add_argument("--runs", type=int, default=None, help="timed calls per engine (default 10, --small 3)")
    args = parser.parse_args()
    runs = args.runs or (3 if args.small else 10)
    vocab, dim, seq, batch = (100, 16, 8, 2) if args.small else (10000, 128, 64, 8)
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, vocab, size=(batch, seq), dtype=np.int64)

    nngraph.manual_seed(0)
    compare("LSTM tagger", LSTMTagger(vocab, dim, tags=5), tokens, runs)
    compare("Transformer classifier", TransformerClassifier(vocab, dim, heads=2, layers=2, seq=seq, classes=3),
            tokens, runs)
    print("compiled outputs match eager")


if __name__ == "__main__":
    main()
