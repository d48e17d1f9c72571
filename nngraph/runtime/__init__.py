"""The runtime: compiled modules, generated executors, the on-disk cache."""
from .compiled import CompiledModule, SpecializationLimitWarning, compile  # noqa: F401,A004
