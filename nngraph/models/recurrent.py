"""Recurrent models: ``lstm_classifier`` (text) and ``gru_speech`` (per-frame logits over acoustic features)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ._spec import Pretrained, load_pretrained

__all__ = ["LSTMClassifier", "GRUSpeech", "lstm_classifier", "gru_speech"]


class LSTMClassifier(nn.Module):
    """``Embedding`` (padding id 0) -> 2-layer bidirectional ``LSTM`` (batch first) -> ``Linear`` on the
    concatenated final hidden states of the last layer's two directions. Input: ``(N, T)`` int64 token ids."""

    def __init__(self, vocab_size: int = 10000, embed_dim: int = 128, hidden_size: int = 128, num_layers: int = 2,
                 num_classes: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers=num_layers, batch_first=True, bidirectional=True,
                            dropout=dropout)
        self.fc = nn.Linear(2 * hidden_size, num_classes)

    def forward(self, tokens: Any) -> Any:
        _, (h_n, _) = self.lstm(self.embedding(tokens))
        return self.fc(np.concatenate([h_n[-2], h_n[-1]], axis=1))


class GRUSpeech(nn.Module):
    """Two ``Conv1d -> BatchNorm1d -> ReLU`` feature stages (the first strided by 2) over ``(N, n_mels, T)``
    features, a 2-layer ``GRU`` (batch first), and a per-frame ``Linear``: output ``(N, ceil(T / 2), classes)``."""

    def __init__(self, n_mels: int = 40, channels: int = 128, hidden_size: int = 128, num_layers: int = 2,
                 num_classes: int = 29) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(n_mels, channels, kernel_size=5, stride=2, padding=2, bias=False), nn.BatchNorm1d(channels),
            nn.ReLU(),
            nn.Conv1d(channels, channels, kernel_size=3, padding=1, bias=False), nn.BatchNorm1d(channels),
            nn.ReLU(),
        )
        self.gru = nn.GRU(channels, hidden_size, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x: Any) -> Any:
        x = self.features(x).transpose(0, 2, 1)  # (N, C, T') -> (N, T', C)
        out, _ = self.gru(x)
        return self.fc(out)


def lstm_classifier(num_classes: int = 2, pretrained: Pretrained = None, **kwargs: Any) -> LSTMClassifier:
    """Text classifier (``vocab_size=10000, embed_dim=128, hidden_size=128, num_layers=2`` by default)."""
    return load_pretrained(LSTMClassifier(num_classes=num_classes, **kwargs), pretrained)


def gru_speech(num_classes: int = 29, pretrained: Pretrained = None, **kwargs: Any) -> GRUSpeech:
    """Speech-style frame classifier (``n_mels=40``; 29 classes = blank, space, apostrophe, a-z)."""
    return load_pretrained(GRUSpeech(num_classes=num_classes, **kwargs), pretrained)
