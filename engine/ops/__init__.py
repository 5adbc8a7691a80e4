"""Every op, by name. Importing this package registers them all in engine.registry.OPS."""

from engine import tensor as _tensor_module
from engine.ops.creation import *  # noqa: F403
from engine.ops.elementwise import *  # noqa: F403
from engine.ops.indexing import *  # noqa: F403
from engine.ops.joining import *  # noqa: F403
from engine.ops.linalg import *  # noqa: F403
from engine.ops.linalg_extra import *  # noqa: F403
from engine.ops.nn import *  # noqa: F403
from engine.ops.reductions import *  # noqa: F403
from engine.ops.shape import *  # noqa: F403
from engine.registry import OPS as _OPS
from engine.tensor import Tensor as _Tensor


def _install_methods() -> None:
    """torch's method spellings (x.sum(), x.exp(), ...) for every op declared as a method, and the
    Python operators that are ops."""
    for name, op in _OPS.items():
        if op.method and not hasattr(_Tensor, name):
            setattr(_Tensor, name, op.fn)
    for dunder, name in _tensor_module.OPERATORS.items():
        setattr(_Tensor, dunder, globals()[name])  # (getitem: Python's meaning, not the registry's)


_install_methods()
_tensor_module.ops = __import__("sys").modules[__name__]
