"""The Tensor: an array from the backend plus its place in the autograd graph.

This module is the bottom of the engine's layers (see tests/test_layering.py): it imports no ops,
no graph node and nothing of the backward pass. Arithmetic, reductions and shape ops are registry
ops (``engine/ops``); engine/ops/methods.py attaches them as torch's method names and Python
operators, and engine/autograd.py attaches ``backward``. The stubs below declare those methods for
type checkers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engine import backend, dtypes, versions
from engine.backend import xp
from engine.context import Charge, check_shape
from engine.context import current as _current_context
from engine.dims import wrap_dim
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
from engine.printing import format_tensor

if TYPE_CHECKING:
    from engine.graph import Node


class Tensor:
    # _base: the tensor whose storage this one views (always a root, never itself a view), or None.
    # _vc: the version counter [n] of a root's storage, made when first needed (views read their
    # root's; detach() shares its source's), so ops that never mutate pay nothing for it.
    # _vseen (views only): the storage version their grad_fn was made at; a write since (through
    # the base or another view) makes it stale, and it is made again from the base's history
    __slots__ = ("_ctx", "_data", "_requires_grad", "_grad", "_grad_fn", "_output_nr", "_acc",
                 "_retains_grad", "_base", "_vc", "_vseen", "__weakref__")

    def __init__(self, data: Any, requires_grad: bool = False, grad_fn: Node | None = None,
                 output_nr: int = 0) -> None:
        """Wrap backend array ``data`` (of a supported dtype) as a leaf. Use :func:`tensor` to build
        one from Python data. (Ops pass ``grad_fn`` and ``output_nr`` for the outputs they record.
        ``record`` in ops/core.py sets these same slots without a call here: keep them in step.)"""
        ctx = _current_context()
        self._ctx = None  # (charged only once admitted: admit raises when over the limit)
        if ctx is not None:
            ctx.admit(data.size)
            self._ctx = ctx
        self._data = data
        self._requires_grad = requires_grad
        self._grad: Tensor | None = None
        self._grad_fn = grad_fn
        self._output_nr = output_nr
        self._acc: Any = None  # weakref to this leaf's AccumulateGrad node
        self._retains_grad = False
        self._base: Tensor | None = None
        self._vc: list[int] | None = None
        # (_vseen is set by as_view: only views have it, and only views read it)

    def __del__(self) -> None:
        ctx = self._ctx
        if ctx is not None:
            fn = self._grad_fn  # (the slot: a view's history is not made again at collection)
            if fn is not None and fn._output is self._data and fn._held is None:
                # The node saved this output for backward: the array outlives this tensor, so
                # its charge passes to the node (released when the node frees it or goes).
                fn._held = Charge(ctx, self._data.size)
            else:
                ctx.alive -= self._data.size

    # ----- metadata -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._data.shape)

    def size(self, dim: int | None = None) -> Any:
        if dim is None:
            return self.shape
        return self.shape[wrap_dim(dim, self.ndim)]

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
    def grad_fn(self) -> Node | None:
        if self._base is None:
            return self._grad_fn
        return self._view_grad_fn()

    @grad_fn.setter
    def grad_fn(self, fn: Node | None) -> None:
        self._grad_fn = fn
        if self._base is not None:
            self._vseen = self._version

    def _view_grad_fn(self) -> Node | None:
        """A view's grad_fn: after a write into its storage by another tensor, torch's
        AsStridedBackward0 over its base's history (or none, if the base needs no grad)."""
        base = self._base
        assert base is not None
        vc = base._vc
        now = vc[0] if vc is not None else 0
        if now != self._vseen:
            self._vseen = now
            if base._requires_grad:
                self._grad_fn = self._view_history()
                self._output_nr, self._requires_grad = 0, True
            else:
                self._grad_fn = None
                self._requires_grad = False
        return self._grad_fn

    @property
    def requires_grad(self) -> bool:
        if self._base is not None:
            self._view_grad_fn()
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

    @property
    def grad(self) -> Tensor | None:
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        """``x.grad = value``, with torch's checks (a later backward accumulates into it)."""
        if value is not None:
            if not isinstance(value, Tensor):
                raise ArgumentError(f"assigned grad expected to be a Tensor or None but got grad of "
                                    f"type {type(value).__name__}")
            if value.shape != self.shape:
                raise ShapeError(f"attempting to assign a gradient of size '{list(value.shape)}' "
                                 f"to a tensor of size '{list(self.shape)}'. Please ensure that "
                                 "the gradient and the tensor are the same size")
            if value.dtype is not self.dtype:
                raise AutogradError("attempting to assign a gradient with dtype "
                                    f"'{value.dtype}' to a tensor with dtype '{self.dtype}'. "
                                    "Please ensure that the gradient and the tensor have the same "
                                    "dtype")
        self._grad = value

    # ----- versions and views ---------------------------------------------------------------
    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's storage has seen (torch's ``_version``)."""
        vc = self._root()._vc
        return vc[0] if vc is not None else 0

    def _root(self) -> Tensor:
        """The tensor owning this one's storage: its view base, or itself."""
        base = self._base
        return self if base is None else base

    def _counter(self) -> list[int]:
        """The version counter of this tensor's storage, made on first use."""
        root = self._root()
        vc = root._vc
        if vc is None:
            vc = root._vc = [0]
        return vc

    def _is_view(self) -> bool:
        return self._base is not None

    # ----- data access ----------------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """A tensor sharing this one's storage, outside the graph (torch's ``.data``)."""
        return Tensor(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        ctx = self._ctx
        if ctx is not None:  # (charged as the new array from now on)
            ctx.admit(value._data.size)
            ctx.release(self._data.size)
        self._data = value._data

    def detach_(self) -> Tensor:
        """Take this tensor out of the graph, in place (torch's detach_)."""
        if self._base is not None:
            raise AutogradError("Can't detach views in-place. Use detach() instead. If you are "
                                "using DistributedDataParallel (DDP) for training, and "
                                "gradient_as_bucket_view is set as True, gradients are views of "
                                "DDP buckets, and hence detach_() cannot be called on these "
                                "gradients. To fix this error, please refer to the "
                                "Optimizer.zero_grad() function in torch/optim/optimizer.py as "
                                "the solution.")
        self._grad_fn = None
        self._requires_grad = False
        return self

    def detach(self) -> Tensor:
        """A tensor sharing this one's storage and version counter, outside the graph."""
        out = Tensor(self._data)
        root = self._root()
        out._vc = vc = root._counter()
        versions.watch_output(root, vc)  # a change through `out` makes root's saved output stale
        return out

    def item(self) -> Any:
        if self._data.size != 1:
            raise ShapeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return backend.to_host(self._data).item()  # (an array's item(): its one element)

    def numpy(self) -> Any:
        """A host numpy array; refused, as torch does, while the tensor requires grad."""
        if self._requires_grad:
            raise AutogradError(NUMPY_REQUIRES_GRAD)
        return self.host_values()

    def host_values(self) -> Any:
        """A host numpy array of the values, whether or not the tensor requires grad (not torch
        API): for a server reading results out, which would otherwise make a detached alias (a
        tensor, a version counter and a watch on it) only to call numpy() on it. The array may
        share storage with the tensor: read it, never write it."""
        return backend.to_host(self._data)

    def tolist(self) -> Any:
        return backend.to_host(self._data).tolist()

    def __repr__(self) -> str:
        fn = self.grad_fn  # (read once: a property)
        return format_tensor(
            backend.to_host(self._data), dtype=self.dtype.name, device=backend.DEVICE,
            grad_fn=fn.name() if fn is not None else None, requires_grad=self._requires_grad,
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
        # Attached from the layers above: every registry op declared as a method, the varargs
        # forms and the Python operators (engine/ops/methods.py), backward (engine/autograd.py).
        def __getattr__(self, name: str) -> Any: ...
        def _view_history(self) -> Node: ...  # (engine/ops/inplace.py)
        def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                     create_graph: bool = False, inputs: Sequence[Tensor] | None = None) -> None: ...
        def reshape(self, *shape: Any) -> Tensor: ...
        def view(self, *shape: Any) -> Tensor: ...
        def permute(self, *dims: Any) -> Tensor: ...
        def expand(self, *sizes: Any) -> Tensor: ...
        def repeat(self, *sizes: Any) -> Tensor: ...
        @property
        def T(self) -> Tensor: ...  # noqa: N802 - torch's name
        def double(self) -> Tensor: ...
        def float(self) -> Tensor: ...
        def long(self) -> Tensor: ...
        def bool(self) -> Tensor: ...
        def __add__(self, other: Any) -> Tensor: ...
        def __radd__(self, other: Any) -> Tensor: ...
        def __sub__(self, other: Any) -> Tensor: ...
        def __rsub__(self, other: Any) -> Tensor: ...
        def __mul__(self, other: Any) -> Tensor: ...
        def __rmul__(self, other: Any) -> Tensor: ...
        def __truediv__(self, other: Any) -> Tensor: ...
        def __rtruediv__(self, other: Any) -> Tensor: ...
        def __pow__(self, exponent: Any) -> Tensor: ...
        def __rpow__(self, base: Any) -> Tensor: ...
        def __matmul__(self, other: Tensor) -> Tensor: ...
        def __rmatmul__(self, other: Tensor) -> Tensor: ...
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
        def __setitem__(self, index: Any, value: Any) -> None: ...
        def __iadd__(self, other: Any) -> Tensor: ...
        def __isub__(self, other: Any) -> Tensor: ...
        def __imul__(self, other: Any) -> Tensor: ...
        def __itruediv__(self, other: Any) -> Tensor: ...
        def __ipow__(self, other: Any) -> Tensor: ...



def as_view(out: Tensor, of: Tensor) -> Tensor:
    """Mark ``out`` (whose array views ``of``'s) as a view: it shares ``of``'s storage, so its
    version counter and, for in-place ops, its base (torch's ``_base``, always a root)."""
    base = of._base
    out._base = base = of if base is None else base
    vc = base._vc
    out._vseen = vc[0] if vc is not None else 0
    return out

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
