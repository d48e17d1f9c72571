"""Graph passes: one named function per file, run by the ``PassManager``."""
from . import (canonicalize_views, constant_fold, cse, dce, decompose_einsum, eliminate_noops,  # noqa: F401
               fold_batchnorm, fuse_elementwise, fuse_epilogue, plan_memory, remove_dropout)
from .base import PASSES, PassContext, PassResult, graph_pass  # noqa: F401
from .manager import (DEFAULT_PIPELINE, TRAIN_PIPELINE, PassError, PassManager, numerics_report,  # noqa: F401
                      resolve_pipeline)
from .optimize import OptimizeResult, optimize  # noqa: F401
