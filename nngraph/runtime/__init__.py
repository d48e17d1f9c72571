"""The runtime: compiled modules, generated executors, the on-disk cache."""
from .compiled import CompiledModule, DynamicShapeWarning, SpecializationLimitWarning, compile  # noqa: F401,A004
