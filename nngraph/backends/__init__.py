"""Backends: lowering rules per target, registered in the op registry by op name."""
