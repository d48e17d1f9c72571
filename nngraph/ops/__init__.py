"""Primitive ops. Importing this package registers every op (see ``registry.py``)."""
from . import (activation, attention, conv, distance, dropout, linear, loss, normalization,  # noqa: F401
               padding, pooling, rnn, sparse, vision)
from .registry import REGISTRY, Fusion, OpDef, TensorSpec, defop, get_op, register_lowering  # noqa: F401
