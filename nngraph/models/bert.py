"""BERT-tiny-sized Transformer encoder classifier: BERT embeddings (word + position + token type, LayerNorm),
``nn.TransformerEncoder`` (post-norm, GELU), tanh pooler on the first token, linear classifier."""
from __future__ import annotations

from typing import Any

from .. import nn
from ._spec import Pretrained, load_pretrained

__all__ = ["BertEmbeddings", "BertPooler", "BertClassifier", "bert_tiny"]


class BertEmbeddings(nn.Module):
    """``word_embeddings(ids) + position_embeddings[:T] + token_type_embeddings(types)``, LayerNorm, dropout."""

    def __init__(self, vocab_size: int, hidden: int, max_position: int, type_vocab_size: int, eps: float,
                 dropout: float) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, hidden, padding_idx=0)
        self.position_embeddings = nn.Embedding(max_position, hidden)
        self.token_type_embeddings = nn.Embedding(type_vocab_size, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, input_ids: Any, token_type_ids: Any | None = None) -> Any:
        x = self.word_embeddings(input_ids) + self.position_embeddings.weight[: input_ids.shape[1]]
        if token_type_ids is None:
            x = x + self.token_type_embeddings.weight[0]
        else:
            x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


class BertPooler(nn.Module):
    """``tanh(dense(hidden[:, 0]))``."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.activation = nn.Tanh()

    def forward(self, hidden_states: Any) -> Any:
        return self.activation(self.dense(hidden_states[:, 0]))


class BertClassifier(nn.Module):
    """``embeddings``, ``encoder`` (``nn.TransformerEncoder``, batch first), ``pooler``, ``dropout``,
    ``classifier``. ``forward(input_ids, attention_mask=None, token_type_ids=None)``: ``attention_mask`` is 1 at
    real tokens and 0 at padding (Hugging Face's convention)."""

    def __init__(self, vocab_size: int = 30522, hidden: int = 128, num_layers: int = 2, num_heads: int = 2,
                 intermediate: int = 512, max_position: int = 512, type_vocab_size: int = 2, num_classes: int = 2,
                 dropout: float = 0.1, layer_norm_eps: float = 1e-12) -> None:
        super().__init__()
        self.embeddings = BertEmbeddings(vocab_size, hidden, max_position, type_vocab_size, layer_norm_eps, dropout)
        layer = nn.TransformerEncoderLayer(hidden, num_heads, intermediate, dropout, activation="gelu",
                                           layer_norm_eps=layer_norm_eps, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.pooler = BertPooler(hidden)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, num_classes)
        for m in self.modules():  # BERT's initializer: N(0, 0.02) weights, zero biases
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.zeros_(m.bias)
                if isinstance(m, nn.Embedding) and m.padding_idx is not None:
                    m.weight[m.padding_idx] = 0.0
            elif isinstance(m, nn.MultiheadAttention):
                nn.init.normal_(m.in_proj_weight, 0.0, 0.02)

    def forward(self, input_ids: Any, attention_mask: Any | None = None, token_type_ids: Any | None = None) -> Any:
        x = self.embeddings(input_ids, token_type_ids)
        pad = None if attention_mask is None else attention_mask == 0
        x = self.encoder(x, src_key_padding_mask=pad)
        return self.classifier(self.dropout(self.pooler(x)))


def bert_tiny(num_classes: int = 2, pretrained: Pretrained = None, **kwargs: Any) -> BertClassifier:
    """BERT-tiny size: 2 layers, hidden 128, 2 heads, FFN 512, vocab 30522."""
    return load_pretrained(BertClassifier(num_classes=num_classes, **kwargs), pretrained)
