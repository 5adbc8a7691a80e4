"""Matrix products: matmul (dispatching like torch), mm, mv, bmm, dot, outer."""

from __future__ import annotations

from typing import Any

from engine import dtypes
from engine.backend import xp
from engine.errors import DTypeError, ShapeError
from engine.graph import Node
from engine.ops import shape as shape_ops
from engine.ops.core import check_alloc, check_tensor, record
from engine.registry import T, defop
from engine.tensor import Tensor

_LA = "linalg"


def _same_dtype(op: str, a: Tensor, b: Tensor) -> None:
    if a.dtype is not b.dtype:
        names = {"float32": "float", "float64": "double", "int64": "long int", "bool": "bool"}
        raise DTypeError(f"expected m1 and m2 to have the same dtype, but got: "
                         f"{names[a.dtype.name]} != {names[b.dtype.name]}")
    if op and a.dtype is dtypes.bool_:
        raise DTypeError(f'"{op}" not implemented for \'Bool\'')


def _ops() -> Any:
    from engine import ops

    return ops


@defop("mm", [T(), T("mat2")], grad_fns="MmBackward0", doc="Matrix product of two 2-d tensors.",
       category=_LA)
def mm(input: Tensor, mat2: Tensor) -> Tensor:
    check_tensor(input, "mm")
    check_tensor(mat2, "mm", "mat2")
    if input.ndim != 2 or mat2.ndim != 2:
        bad = input if input.ndim != 2 else mat2
        raise ShapeError(f"{'self' if bad is input else 'mat2'} must be a matrix")
    if input.shape[1] != mat2.shape[0]:
        raise ShapeError(f"mat1 and mat2 shapes cannot be multiplied ({input.shape[0]}x{input.shape[1]} "
                         f"and {mat2.shape[0]}x{mat2.shape[1]})")
    _same_dtype("addmm_impl_cpu_", input, mat2)
    check_alloc((input.shape[0], mat2.shape[1]))
    return record(input._data @ mat2._data, "MmBackward0", _mm_vjp, (input, mat2),
                  saved=(input, mat2))


def _mm_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    a, b = node.saved()
    return (mm(g, shape_ops.t(b)) if node.needs(0) else None,
            mm(shape_ops.t(a), g) if node.needs(1) else None)


@defop("mv", [T(), T("vec")], grad_fns="MvBackward0", doc="Matrix-vector product.", category=_LA)
def mv(input: Tensor, vec: Tensor) -> Tensor:
    check_tensor(input, "mv")
    check_tensor(vec, "mv", "vec")
    if input.ndim != 2 or vec.ndim != 1:
        raise ShapeError(f"vector + matrix @ vector expected, got {vec.ndim}, {input.ndim}, {vec.ndim}")
    if input.shape[1] != vec.shape[0]:
        raise ShapeError(f"size mismatch, got input ({input.shape[0]}), mat ({input.shape[0]}x"
                         f"{input.shape[1]}), vec ({vec.shape[0]})")
    _same_dtype("", input, vec)
    return record(input._data @ vec._data, "MvBackward0", _mv_vjp, (input, vec), saved=(input, vec))


def _mv_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    a, v = node.saved()
    ops = _ops()
    return (ops.mul(ops.unsqueeze(g, 1), v) if node.needs(0) else None,
            mv(shape_ops.t(a), g) if node.needs(1) else None)


@defop("dot", [T(), T("tensor")], grad_fns="DotBackward0", doc="Inner product of two 1-d tensors.",
       category=_LA)
def dot(input: Tensor, tensor: Tensor) -> Tensor:
    check_tensor(input, "dot")
    check_tensor(tensor, "dot", "tensor")
    if input.ndim != 1 or tensor.ndim != 1:
        raise ShapeError(f"1D tensors expected, but got {input.ndim}D and {tensor.ndim}D tensors")
    if input.shape[0] != tensor.shape[0]:
        raise ShapeError("inconsistent tensor size, expected tensor [{}] and src [{}] to have the "
                         "same number of elements, but got {} and {} elements respectively".format(
                             input.shape[0], tensor.shape[0], input.shape[0], tensor.shape[0]))
    if input.dtype is not tensor.dtype:
        raise DTypeError(f"dot : expected both vectors to have same dtype, but found "
                         f"{_pretty(input.dtype)} and {_pretty(tensor.dtype)}")
    return record(xp.asarray(xp.dot(input._data, tensor._data)), "DotBackward0", _dot_vjp,
                  (input, tensor), saved=(input, tensor))


def _pretty(dt: dtypes.DType) -> str:
    return {"float32": "Float", "float64": "Double", "int64": "Long", "bool": "Bool"}[dt.name]


def _dot_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    a, b = node.saved()
    return (g * b if node.needs(0) else None, g * a if node.needs(1) else None)


@defop("bmm", [T(), T("mat2")], grad_fns="BmmBackward0", doc="Batched matrix product of 3-d tensors.",
       category=_LA)
def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    check_tensor(input, "bmm")
    check_tensor(mat2, "bmm", "mat2")
    if input.ndim != 3 or mat2.ndim != 3:
        raise ShapeError(f"batch1 must be a 3D tensor" if input.ndim != 3 else "batch2 must be a 3D tensor")
    b1, n, k = input.shape
    b2, k2, m = mat2.shape
    if b1 != b2 or k != k2:
        raise ShapeError(f"Expected size for first two dimensions of batch2 tensor to be: [{b1}, {k}] "
                         f"but got: [{b2}, {k2}].")
    _same_dtype("", input, mat2)
    check_alloc((b1, n, m))
    return record(xp.matmul(input._data, mat2._data), "BmmBackward0", _bmm_vjp, (input, mat2),
                  saved=(input, mat2))


def _bmm_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    a, b = node.saved()
    return (bmm(g, shape_ops.transpose(b, 1, 2)) if node.needs(0) else None,
            bmm(shape_ops.transpose(a, 1, 2), g) if node.needs(1) else None)


@defop("outer", [T(), T("vec2")], grad_fns="MulBackward0", doc="Outer product of two 1-d tensors.",
       category=_LA)
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    check_tensor(input, "outer")
    check_tensor(vec2, "outer", "vec2")
    if input.ndim != 1 or vec2.ndim != 1:
        raise ShapeError(f"outer: Expected 1-D argument self, but got {input.ndim}-D"
                         if input.ndim != 1 else f"outer: Expected 1-D argument vec2, but got {vec2.ndim}-D")
    # torch spells it input.reshape(-1, 1) * vec2, and so its graph is MulBackward0 over a view
    return _ops().mul(shape_ops.reshape(input, [-1, 1]), vec2)


@defop("matmul", [T(), T("other")],
       grad_fns=("MmBackward0", "MvBackward0", "DotBackward0", "UnsafeViewBackward0", "BmmBackward0",
                 "SqueezeBackward1", "ViewBackward0"),
       doc="Matrix product with torch's broadcasting rules for 1-d, 2-d and batched operands.",
       category=_LA)
def matmul(input: Tensor, other: Tensor) -> Tensor:
    check_tensor(input, "matmul")
    check_tensor(other, "matmul", "other")
    ops = _ops()
    da, db = input.ndim, other.ndim
    if da == 0 or db == 0:
        raise ShapeError(f"both arguments to matmul need to be at least 1D, but they are {da}D and {db}D")
    if da == 1 and db == 1:
        return dot(input, other)
    if da == 2 and db == 1:
        return mv(input, other)
    if da == 1 and db == 2:
        return shape_ops.squeeze(mm(shape_ops.unsqueeze(input, 0), other), 0)
    if da == 2 and db == 2:
        return mm(input, other)
    if da >= 3 and db <= 2:
        # fold the batch into the rows of one matrix product, as torch does
        k = input.shape[-1]
        folded = shape_ops.reshape(input, [-1, k])
        out_shape = list(input.shape[:-1]) + ([other.shape[-1]] if db == 2 else [])
        if k != other.shape[0]:
            raise ShapeError(f"mat1 and mat2 shapes cannot be multiplied ({folded.shape[0]}x{k} and "
                             f"{other.shape[0]}x{other.shape[-1] if db == 2 else 1})")
        prod = mm(folded, other) if db == 2 else mv(folded, other)
        return _unsafe_view(prod, out_shape)
    if da <= 2 and db >= 3 and da == 2:
        # (m, k) @ (..., k, n) == ((..., n, k) @ (k, m)).mT
        return ops.transpose(matmul(ops.transpose(other, -1, -2), shape_ops.t(input)), -1, -2)
    # general batched case: broadcast batch dims, then bmm
    a = shape_ops.unsqueeze(input, 0) if da == 1 else input
    b = shape_ops.unsqueeze(other, -1) if db == 1 else other
    n, k = a.shape[-2], a.shape[-1]
    k2, m = b.shape[-2], b.shape[-1]
    if k != k2:
        raise ShapeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                         f"[{1}, {k}] but got: [{1}, {k2}].")
    from engine.ops.core import broadcast_shapes

    batch = list(broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    bsz = 1
    for s in batch:
        bsz *= s
    check_alloc((bsz, n, m))
    a3 = shape_ops.reshape(shape_ops.expand(a, batch + [n, k]), [bsz, n, k])
    b3 = shape_ops.reshape(shape_ops.expand(b, batch + [k, m]), [bsz, k, m])
    out = shape_ops.view(bmm(a3, b3), batch + [n, m])
    if da == 1:
        out = shape_ops.squeeze(out, -2)
    if db == 1:
        out = shape_ops.squeeze(out, -1)
    return out


def _unsafe_view(t: Tensor, shape: list[int]) -> Tensor:
    return record(t._data.reshape(shape), "UnsafeViewBackward0", _unsafe_view_vjp, (t,),
                  attrs=t.shape)


def _unsafe_view_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (shape_ops.reshape(g, list(node.attrs)),)
