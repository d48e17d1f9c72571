"""The IR: ``Graph`` of ``Node`` records over networkx, the reference ``Interpreter`` and Graphviz output."""
from .graph import Graph, LintError  # noqa: F401
from .interpreter import Interpreter, NodeExecutionError  # noqa: F401
from .node import CONSTANT, INPUT, KINDS, MODULE, OP, OUTPUT, PARAM, Node, NodeMeta  # noqa: F401
