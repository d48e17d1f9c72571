"""``nngraph.nn``: a torch.nn-compatible module library on numpy."""
from . import functional, init  # noqa: F401
from .modules.activation import *  # noqa: F401,F403
from .modules.attention import *  # noqa: F401,F403
from .modules.container import *  # noqa: F401,F403
from .modules.conv import *  # noqa: F401,F403
from .modules.distance import *  # noqa: F401,F403
from .modules.dropout import *  # noqa: F401,F403
from .modules.linear import *  # noqa: F401,F403
from .modules.loss import *  # noqa: F401,F403
from .modules.module import *  # noqa: F401,F403
from .modules.normalization import *  # noqa: F401,F403
from .modules.padding import *  # noqa: F401,F403
from .modules.pooling import *  # noqa: F401,F403
from .modules.rnn import *  # noqa: F401,F403
from .modules.sparse import *  # noqa: F401,F403
from .modules.transformer import *  # noqa: F401,F403
from .modules.vision import *  # noqa: F401,F403
from .parameter import Buffer, Parameter  # noqa: F401
