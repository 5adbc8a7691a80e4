"""The Tensor: an array from the backend plus its place in the autograd graph.

Arithmetic, reductions and shape ops are defined once as registry ops (``engine/ops``); torch's
method names here only forward to them, and the Python operators are those ops (``OPERATORS``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engine import backend, dtypes, graph
from engine.backend import xp
from engine.context import check_shape
from engine.context import current as _current_context
from engine.dtypes import DType
from engine.errors import (
    INT_REQUIRES_GRAD,
    INT_REQUIRES_GRAD_CTOR,
    NON_LEAF_FLAG,
    NUMPY_REQUIRES_GRAD,
    ArgumentError,
    AutogradError,
    ShapeError,
)
from engine.graph import AccumulateGrad, Node

# The op namespace (engine.ops). The ops import Tensor, so engine.ops assigns this once it is loaded
# instead of this module importing it.
ops: Any = None


class Tensor:
    __slots__ = ("_ctx", "_data", "_requires_grad", "grad", "grad_fn", "_output_nr", "_acc",
                 "_retains_grad", "__weakref__")

    def __init__(self, data: Any, requires_grad: bool = False, grad_fn: Node | None = None,
                 output_nr: int = 0) -> None:
        """Wrap backend array ``data`` (of a supported dtype) as a leaf. Use :func:`tensor` to build
        one from Python data. (Ops pass ``grad_fn`` and ``output_nr`` for the outputs they record.)"""
        ctx = _current_context()
        self._ctx = ctx
        if ctx is not None:
            ctx.admit(data.size)
        self._data = data
        self._requires_grad = requires_grad
        self.grad: Tensor | None = None
        self.grad_fn = grad_fn
        self._output_nr = output_nr
        self._acc: Any = None  # weakref to this leaf's AccumulateGrad node
        self._retains_grad = False

    def __del__(self) -> None:
        ctx = self._ctx
        if ctx is not None:
            ctx.alive -= self._data.size

    # ----- metadata -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._data.shape)

    def size(self, dim: int | None = None) -> Any:
        if dim is None:
            return self.shape
        return self.shape[_wrap_dim(dim, self.ndim)]

    @property
    def ndim(self) -> int:
        return int(self._data.ndim)

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return int(self._data.size)

    @property
    def dtype(self) -> DType:
        return dtypes.of_array(self._data)

    @property
    def device(self) -> str:
        return backend.DEVICE

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def output_nr(self) -> int:
        return self._output_nr

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self.grad_fn is not None:
            if not requires_grad:
                raise AutogradError(NON_LEAF_FLAG)
            return self
        if requires_grad and not self.dtype.is_floating_point:
            raise AutogradError(INT_REQUIRES_GRAD)
        self._requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        if not self._requires_grad:
            raise AutogradError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None and not self._retains_grad:
            self.grad_fn.retain(self._output_nr, self)
            self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def _accumulator(self) -> AccumulateGrad:
        """The AccumulateGrad node of this leaf; the same object while anything holds it."""
        acc = self._acc() if self._acc is not None else None
        if acc is None:
            import weakref

            acc = AccumulateGrad(self)
            self._acc = weakref.ref(acc)
        return acc

    # ----- data access ----------------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """A tensor sharing this one's storage, outside the graph (torch's ``.data``)."""
        return Tensor(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data

    def detach(self) -> Tensor:
        return Tensor(self._data)

    def item(self) -> Any:
        if self._data.size != 1:
            raise ShapeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return backend.to_host(self._data).reshape(()).item()

    def numpy(self) -> Any:
        """A host numpy array; refused, as torch does, while the tensor requires grad."""
        if self._requires_grad:
            raise AutogradError(NUMPY_REQUIRES_GRAD)
        return backend.to_host(self._data)

    def tolist(self) -> Any:
        return backend.to_host(self._data).tolist()

    def __repr__(self) -> str:
        from engine.printing import format_tensor

        return format_tensor(
            backend.to_host(self._data), dtype=self.dtype.name, device=backend.DEVICE,
            grad_fn=self.grad_fn.name() if self.grad_fn is not None else None,
            requires_grad=self._requires_grad,
        )

    __str__ = __repr__

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return int(self.shape[0])

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise ArgumentError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    __hash__ = object.__hash__

    if TYPE_CHECKING:
        # Registry ops are attached as methods at import (engine/ops/__init__.py).
        def __getattr__(self, name: str) -> Any: ...

    # ----- autograd -------------------------------------------------------------------------
    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Sequence[Tensor] | None = None) -> None:
        from engine.autograd import backward

        backward([self], [gradient], retain_graph=retain_graph, create_graph=create_graph,
                 inputs=inputs)

    # ----- forms torch spells with varargs --------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        return ops.reshape(self, _varargs(shape))

    def view(self, *shape: Any) -> Tensor:
        return ops.view(self, _varargs(shape))

    def permute(self, *dims: Any) -> Tensor:
        return ops.permute(self, _varargs(dims))

    def expand(self, *sizes: Any) -> Tensor:
        return ops.expand(self, _varargs(sizes))

    def repeat(self, *sizes: Any) -> Tensor:
        return ops.repeat(self, _varargs(sizes))

    @property
    def T(self) -> Tensor:  # noqa: N802 - torch's name
        return ops.permute(self, list(range(self.ndim))[::-1])

    def double(self) -> Tensor:
        return ops.to(self, "float64")

    def float(self) -> Tensor:
        return ops.to(self, "float32")

    def long(self) -> Tensor:
        return ops.to(self, "int64")

    def bool(self) -> Tensor:
        return ops.to(self, "bool")

    # ----- Python operators -----------------------------------------------------------------
    # The operators that only forward to one op are bound straight to it (OPERATORS, installed by
    # engine/ops/__init__.py): one Python call per operator instead of two. Declared here for type
    # checkers.
    if TYPE_CHECKING:
        def __add__(self, other: Any) -> Tensor: ...
        def __radd__(self, other: Any) -> Tensor: ...
        def __sub__(self, other: Any) -> Tensor: ...
        def __rsub__(self, other: Any) -> Tensor: ...
        def __mul__(self, other: Any) -> Tensor: ...
        def __rmul__(self, other: Any) -> Tensor: ...
        def __truediv__(self, other: Any) -> Tensor: ...
        def __pow__(self, exponent: Any) -> Tensor: ...
        def __matmul__(self, other: Tensor) -> Tensor: ...
        def __neg__(self) -> Tensor: ...
        def __abs__(self) -> Tensor: ...
        def __invert__(self) -> Tensor: ...
        def __and__(self, other: Any) -> Tensor: ...
        def __or__(self, other: Any) -> Tensor: ...
        def __lt__(self, other: Any) -> Tensor: ...
        def __le__(self, other: Any) -> Tensor: ...
        def __gt__(self, other: Any) -> Tensor: ...
        def __ge__(self, other: Any) -> Tensor: ...
        def __eq__(self, other: Any) -> Tensor: ...  # type: ignore[override]
        def __ne__(self, other: Any) -> Tensor: ...  # type: ignore[override]
        def __getitem__(self, index: Any) -> Tensor: ...

    # (self, other) -> op(other, self) and the like: these reorder, so they stay methods
    def __rtruediv__(self, other: Any) -> Tensor:
        # torch computes `s / x` as `x.reciprocal() * s`, hence MulBackward0 over ReciprocalBackward0
        return ops.mul(ops.reciprocal(self), other)

    def __rpow__(self, base: Any) -> Tensor:
        return ops.pow(base, self)

    def __rmatmul__(self, other: Tensor) -> Tensor:
        return ops.matmul(other, self)


# Python operator -> the op it is (``x * y`` is ``mul(x, y)``, ``2 * x`` is ``mul(x, 2)``).
OPERATORS = {
    "__add__": "add", "__radd__": "add", "__sub__": "sub", "__rsub__": "rsub", "__mul__": "mul",
    "__rmul__": "mul", "__truediv__": "div", "__pow__": "pow", "__matmul__": "matmul",
    "__neg__": "neg", "__abs__": "abs", "__invert__": "logical_not", "__and__": "logical_and",
    "__or__": "logical_or", "__lt__": "lt", "__le__": "le", "__gt__": "gt", "__ge__": "ge",
    "__eq__": "eq", "__ne__": "ne", "__getitem__": "getitem",
}

graph.tensor_class = Tensor


NO_EDGE: tuple[Node | None, int] = (None, 0)


def edge(v: Any) -> tuple[Node | None, int]:
    """The edge a consumer of ``v`` records in its next_functions: its grad_fn and output number,
    a leaf's AccumulateGrad, or ``(None, 0)`` for a constant or a Python number (as torch's wrapped
    numbers get). A function, not a method: ``record`` calls it for every input of every op."""
    if isinstance(v, Tensor):
        fn = v.grad_fn
        if fn is not None:
            return (fn, v._output_nr)
        if v._requires_grad:
            return (v._accumulator(), 0)
    return NO_EDGE


def _varargs(args: tuple[Any, ...]) -> list[int]:
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        return list(args[0])
    return list(args)


def _wrap_dim(dim: int, ndim: int) -> int:
    from engine.ops.core import wrap_dim

    return wrap_dim(dim, ndim)


def _infer_dtype(data: Any) -> DType:
    """torch.tensor's inference: any float -> float32, else any int -> int64, else bool."""
    kind = 0
    stack = [data]
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            stack.extend(v)
        elif isinstance(v, bool):
            continue
        elif isinstance(v, int):
            kind = max(kind, 1)
        else:
            return dtypes.DEFAULT_FLOAT
    return (dtypes.bool_, dtypes.int64)[kind]


def tensor(data: Any, dtype: str | DType | None = None, requires_grad: bool = False) -> Tensor:
    """torch.tensor: a new leaf from nested Python data, a host numpy array or a Tensor."""
    dt = dtypes.get(dtype)
    if isinstance(data, Tensor):
        arr = data._data
        dt = dt or data.dtype
        arr = arr.astype(dt.np, copy=True)
    elif hasattr(data, "dtype") and hasattr(data, "shape"):  # a host or backend array
        if dt is None:
            kind, size = data.dtype.kind, data.dtype.itemsize
            dt = dtypes.bool_ if kind == "b" else dtypes.int64 if kind in "iu" else \
                dtypes.float32 if size <= 4 else dtypes.float64
        check_shape(data.shape)
        arr = xp.array(data, dtype=dt.np, copy=True)
    else:
        dt = dt or _infer_dtype(data)
        arr = backend.from_host(data, dt.np)
    if requires_grad and not dt.is_floating_point:
        raise AutogradError(INT_REQUIRES_GRAD_CTOR)
    return Tensor(arr, requires_grad)
