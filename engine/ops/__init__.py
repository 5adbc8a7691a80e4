"""Every op, by name. Importing this package registers them all in engine.registry.OPS and
attaches the op-backed Tensor methods (engine/ops/methods.py)."""

from engine.ops import methods as _methods
from engine.ops.creation import *  # noqa: F403
from engine.ops.elementwise import *  # noqa: F403
from engine.ops.index_writes import *  # noqa: F403
from engine.ops.indexing import *  # noqa: F403
from engine.ops.inplace import *  # noqa: F403
from engine.ops.joining import *  # noqa: F403
from engine.ops.linalg import *  # noqa: F403
from engine.ops.linalg_extra import *  # noqa: F403
from engine.ops.nn import *  # noqa: F403
from engine.ops.reductions import *  # noqa: F403
from engine.ops.shape import *  # noqa: F403

_methods.install()
