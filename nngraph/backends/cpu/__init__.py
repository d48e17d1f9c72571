"""The Numba CPU backend. Importing it registers the CPU lowering rules in the op registry."""
from . import elementwise, heavy, shape

elementwise.register()
heavy.register()
shape.register()
