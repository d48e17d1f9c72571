"""``math`` as the generated elementwise loops see it: the standard module's functions, except ``exp``, which is
the vectorizable float32 ``kernels_reduce.fexp`` (< 1 ulp) in float32 and ``math.exp`` otherwise. Numba compiles
``math.exp`` to a scalar libm call (this llvmlite has no SVML), which keeps LLVM from vectorizing the loop: exp,
sigmoid, SiLU, ELU-family and softplus-family loops in float32 ran at libm's speed."""
from math import *  # noqa: F401,F403
from math import e, inf, nan, pi, tau  # noqa: F401

from .kernels_reduce import fexp as exp  # noqa: F401
