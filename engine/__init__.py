"""gradserve's autograd engine: PyTorch's autograd semantics on a numpy (or CuPy) backend.

    >>> import engine as torch_like
    >>> x = torch_like.ones(2, 2, requires_grad=True)
    >>> out = ((x + 2) * (x + 2) * 3).mean()
    >>> out.backward()
    >>> x.grad
    tensor([[4.5000, 4.5000],
            [4.5000, 4.5000]])
"""

from engine import ops
from engine.autograd import backward, grad
from engine.backend import DEVICE, Generator
from engine.backend import NAME as BACKEND
from engine.context import ExecutionContext, Limits, execution
from engine.dtypes import DType, bool_, float32, float64, int64
from engine.errors import (
    AnomalyError,
    ArgumentError,
    AutogradError,
    Cancelled,
    DeadlineExceeded,
    DTypeError,
    EngineError,
    LimitExceeded,
    ShapeError,
)
from engine.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from engine.graph import AccumulateGrad, Node
from engine.ops import *  # noqa: F403
from engine.registry import OPS, OpDef, Param
from engine.tensor import Tensor, tensor

__all__ = [
    "AccumulateGrad", "AnomalyError", "ArgumentError", "AutogradError", "BACKEND", "Cancelled",
    "DEVICE", "DType", "DTypeError", "DeadlineExceeded", "EngineError", "ExecutionContext",
    "Generator", "LimitExceeded", "Limits", "Node", "OPS", "OpDef", "Param", "ShapeError", "Tensor",
    "backward", "bool_", "enable_grad", "execution", "float32", "float64", "grad", "int64",
    "is_grad_enabled", "no_grad", "ops", "set_grad_enabled", "tensor",
]
