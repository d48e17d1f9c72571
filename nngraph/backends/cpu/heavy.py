"""CPU lowering of heavy ops (conv, linear, matmul) and their fused epilogues, on the kernels in ``kernels/``."""
from __future__ import annotations

from ...ir.node import Node
from .codegen import Emitter


def lower_with_epilogue(em: Emitter, node: Node, args: list[str | None], steps: list[tuple]) -> bool:
    """Emit the heavy op of a fused epilogue node with its epilogue inside the kernel; False if unsupported."""
    return False


def register() -> None:
    """Register heavy-op lowerings."""
