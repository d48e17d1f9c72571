"""Primitive ops. Importing this package registers every op (see ``registry.py``)."""
from . import (activation, attention, conv, distance, dropout, linear, linalg, loss, math,  # noqa: F401
               fused, normalization, padding, pooling, reduce, rnn, shape, sparse, vision)
from .registry import REGISTRY, Fusion, OpDef, TensorSpec, defop, get_op, register_lowering  # noqa: F401
