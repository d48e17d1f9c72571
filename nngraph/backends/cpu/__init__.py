"""The Numba CPU backend. Importing it registers the CPU lowering rules in the op registry."""
from . import elementwise, heavy, shape
from . import lower_norm, lower_reduce, lower_sparse  # noqa: F401 -- register at import
from . import lower_pooling, lower_vision  # noqa: F401 -- pooling, padding and vision lowerings
from . import lower_sequence  # noqa: F401 -- matmul/einsum, attention, recurrences

elementwise.register()
heavy.register()
shape.register()
