"""The tracer: ``Module.forward`` on proxies -> ``Graph``."""
from .proxy import GraphBreak, Proxy  # noqa: F401
from .tracer import GraphBreakError, GraphBreakWarning, trace  # noqa: F401
