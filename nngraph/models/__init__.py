"""``nngraph.models``: a model zoo built with ``nngraph.nn``.

State_dict keys and shapes are identical to the PyTorch originals (torchvision's ResNet/MobileNetV2/VGG layouts;
the other models' reference torch modules live in ``tests/models/torch_reference.py``), so weights exported from
PyTorch load directly::

    # in PyTorch: safetensors.torch.save_file(model.state_dict(), "resnet18.safetensors")
    model = nngraph.models.resnet18(pretrained="resnet18.safetensors").eval()

``ZOO`` maps each name to a ``ModelSpec`` (factory, default input shape/dtype, ``example_input(batch, rng)``).
"""
from __future__ import annotations

import numpy as np

from ._spec import ModelSpec, Pretrained, load_pretrained
from .bert import BertClassifier, bert_tiny
from .mlp import MLP, LeNet5, lenet5, mlp
from .mobilenet import MobileNetV2, mobilenet_v2
from .recurrent import GRUSpeech, LSTMClassifier, gru_speech, lstm_classifier
from .resnet import ResNet, resnet18, resnet34, resnet50
from .unet import UNet, unet
from .vgg import VGG, vgg11
from .vit import VisionTransformer, vit_tiny

__all__ = [
    "ZOO", "ModelSpec", "Pretrained", "load_pretrained", "get_spec",
    "MLP", "LeNet5", "ResNet", "MobileNetV2", "VGG", "UNet", "LSTMClassifier", "GRUSpeech", "BertClassifier",
    "VisionTransformer",
    "mlp", "lenet5", "resnet18", "resnet34", "resnet50", "mobilenet_v2", "vgg11", "unet", "lstm_classifier",
    "gru_speech", "bert_tiny", "vit_tiny",
]

_I64 = np.dtype(np.int64)
_IMAGENET = (3, 224, 224)

ZOO: dict[str, ModelSpec] = {s.name: s for s in [
    ModelSpec("mlp", mlp, (784,), description="MLP 784-512-512-10 (flattened MNIST)"),
    ModelSpec("lenet5", lenet5, (1, 28, 28), description="LeNet-5, 28x28 grayscale"),
    ModelSpec("resnet18", resnet18, _IMAGENET, description="ResNet-18 (torchvision layout)"),
    ModelSpec("resnet34", resnet34, _IMAGENET, description="ResNet-34 (torchvision layout)"),
    ModelSpec("resnet50", resnet50, _IMAGENET, description="ResNet-50 (torchvision layout)"),
    ModelSpec("mobilenet_v2", mobilenet_v2, _IMAGENET, description="MobileNetV2 (torchvision layout)"),
    ModelSpec("vgg11", vgg11, _IMAGENET, description="VGG-11 (torchvision layout, 133M parameters)"),
    ModelSpec("vgg11_small", vgg11, (3, 32, 32), kwargs={"num_classes": 10, "small_input": True},
              description="VGG-11, 32x32 variant (1x1 pooling, 512-wide classifier)"),
    ModelSpec("unet", unet, (3, 128, 128), description="small U-Net (16..128 channels), per-pixel logits"),
    ModelSpec("lstm_classifier", lstm_classifier, (64,), _I64, (1, 10000),
              description="Embedding + 2-layer bidirectional LSTM + Linear text classifier"),
    ModelSpec("gru_speech", gru_speech, (40, 200),
              description="Conv1d features + 2-layer GRU + per-frame Linear over 40 mel bins"),
    ModelSpec("bert_tiny", bert_tiny, (128,), _I64, (1, 30522),
              description="BERT-tiny-sized encoder classifier (2 layers, d 128, 2 heads)"),
    ModelSpec("vit_tiny", vit_tiny, _IMAGENET, description="ViT-Ti/16 (d 192, 12 layers, 3 heads)"),
]}


def get_spec(name: str) -> ModelSpec:
    """``ZOO[name]`` with an error that lists the available names."""
    try:
        return ZOO[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(ZOO)}") from None
