"""Matrix products: matmul (dispatching like torch), mm, mv, bmm, dot, outer."""

from __future__ import annotations

import math
from typing import Any

from engine import dtypes, ops
from engine.backend import xp
from engine.errors import DTypeError, ShapeError
from engine.grad_mode import is_grad_enabled
from engine.graph import Node, on_arrays
from engine.ops import shape as shape_ops
from engine.ops.core import broadcast_shapes, check_alloc, check_tensor, record
from engine.registry import T, defop
from engine.tensor import Tensor

_LA = "linalg"


def _same_dtype(op: str, a: Tensor, b: Tensor) -> None:
    if a.dtype is not b.dtype:
        raise DTypeError(f"expected m1 and m2 to have the same dtype, but got: "
                         f"{a.dtype.c_type} != {b.dtype.c_type}")
    if op and a.dtype is dtypes.bool_:
        raise DTypeError(f'"{op}" not implemented for \'Bool\'')


@defop("mm", [T(), T("mat2")], grad_fns="MmBackward0", doc="Matrix product of two 2-d tensors.",
       category=_LA)
def mm(input: Tensor, mat2: Tensor) -> Tensor:
    # (the checks read the arrays: an MLP layer's product is one of a few ops per layer, each of
    # whose Python steps costs more right after a large product has filled the caches)
    if input.__class__ is not Tensor or mat2.__class__ is not Tensor:
        check_tensor(input, "mm")
        check_tensor(mat2, "mm", "mat2")
    a, b = input._data, mat2._data
    if a.ndim != 2 or b.ndim != 2:
        raise ShapeError(f"{'self' if a.ndim != 2 else 'mat2'} must be a matrix")
    (n, k), (k2, m) = a.shape, b.shape
    if k != k2:
        raise ShapeError(f"mat1 and mat2 shapes cannot be multiplied ({n}x{k} and {k2}x{m})")
    if a.dtype != b.dtype or a.dtype.kind == "b":  # (_same_dtype passes any other pair)
        _same_dtype("addmm_impl_cpu_", input, mat2)
    check_alloc((n, m))
    return record(a @ b, mm.op.grad_fn, _mm_vjp, (input, mat2), saved=(input, mat2),
                  attrs=(column_major(a), column_major(b)))


def column_major(a: Any) -> bool:
    """torch's test in mm's backward (strides [1, rows]): such an input gets its gradient as the
    transpose of a product, so that it comes out column-major too."""
    return a.strides[0] == a.itemsize and a.strides[1] == a.shape[0] * a.itemsize


def mm_mat1_backward(g: Any, mat2: Any, mat1_column_major: bool) -> Any:
    """The gradient of mat1 in mat1 @ mat2, in torch's form (mm's and addmm's backward). A bare
    ``g`` (a first-order pass on arrays, graph.on_arrays; never column-major) with a bare
    ``mat2`` gives a bare array."""
    if mat1_column_major:
        return shape_ops.t(mm(mat2, shape_ops.t(g)))
    if g.__class__ is not Tensor:
        return _product(g, mat2.T)
    if not is_grad_enabled() and g._data.dtype == mat2._data.dtype:
        return Tensor(_product(g._data, mat2._data.T))
    return mm(g, shape_ops.t(mat2))


def mm_mat2_backward(g: Any, mat1: Any, mat2_column_major: bool) -> Any:
    """The gradient of mat2 in mat1 @ mat2, in torch's form (bare arrays as mm_mat1_backward)."""
    if mat2_column_major:
        return shape_ops.t(mm(shape_ops.t(g), mat1))
    if g.__class__ is not Tensor:
        return _product(mat1.T, g)
    if not is_grad_enabled() and g._data.dtype == mat1._data.dtype:
        return Tensor(_product(mat1._data.T, g._data))
    return mm(shape_ops.t(mat1), g)


def _product(a: Any, b: Any) -> Any:
    """``mm`` of two 2-d arrays of one float dtype when nothing is recorded (a first-order backward
    pass), as an array: the same product of the same arrays, without the transposed view tensors,
    mm's argument checks (a VJP's operands pass them) and an empty record."""
    check_alloc((a.shape[0], b.shape[1]))
    return a @ b


@on_arrays
def _mm_vjp(node: Node, g: Any) -> tuple[Any, ...]:
    # (torch's generated backward computes its inputs' gradients in the alphabetical order of their
    # names, here mat2 before self: that order decides how gradients meeting later are added, so
    # every VJP here follows it)
    a_cols, b_cols = node.attrs
    if (a_cols or b_cols) and g.__class__ is not Tensor:  # (torch's transposed forms: view tensors)
        g = Tensor(g)
    a, b = node.saved(g)
    gb = mm_mat2_backward(g, a, b_cols) if node.needs(1) else None
    return (mm_mat1_backward(g, b, a_cols) if node.needs(0) else None), gb


@defop("mv", [T(), T("vec")], grad_fns="MvBackward0", doc="Matrix-vector product.", category=_LA)
def mv(input: Tensor, vec: Tensor) -> Tensor:
    check_tensor(input, "mv")
    check_tensor(vec, "mv", "vec")
    if input.ndim == 0:  # (torch sizes its result by input.size(0) first)
        raise ShapeError("Dimension specified as 0 but tensor has no dimensions")
    if input.ndim != 2 or vec.ndim != 1:  # (the 1 is the result's rank)
        raise ShapeError(f"vector + matrix @ vector expected, got 1, {input.ndim}, {vec.ndim}")
    if input.shape[1] != vec.shape[0]:
        raise ShapeError(f"size mismatch, got input ({input.shape[0]}), mat ({input.shape[0]}x"
                         f"{input.shape[1]}), vec ({vec.shape[0]})")
    if input.dtype is not vec.dtype:  # (addmv's operands: its result, made like vec, mat, vec)
        v, m = vec.dtype.scalar_type, input.dtype.scalar_type
        raise DTypeError(f"addmv input tensors must have the same dtype, but got {v}, {m}, and {v}")
    return record(input._data @ vec._data, mv.op.grad_fn, _mv_vjp, (input, vec), saved=(input, vec))


def _mv_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    a, v = node.saved()
    return (outer(g, v) if node.needs(0) else None,  # torch: grad.ger(vec), an outer product
            mv(shape_ops.t(a), g) if node.needs(1) else None)


@defop("dot", [T(), T("tensor")], grad_fns="DotBackward0", doc="Inner product of two 1-d tensors.",
       category=_LA)
def dot(input: Tensor, tensor: Tensor) -> Tensor:
    check_tensor(input, "dot")
    check_tensor(tensor, "dot", "tensor")
    if input.ndim != 1 or tensor.ndim != 1:
        raise ShapeError(f"1D tensors expected, but got {input.ndim}D and {tensor.ndim}D tensors")
    if input.shape[0] != tensor.shape[0]:
        n, m = input.shape[0], tensor.shape[0]
        raise ShapeError(f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to have the "
                         f"same number of elements, but got {n} and {m} elements respectively")
    if input.dtype is not tensor.dtype:
        raise DTypeError(f"dot : expected both vectors to have same dtype, but found "
                         f"{input.dtype.scalar_type} and {tensor.dtype.scalar_type}")
    return record(xp.asarray(xp.dot(input._data, tensor._data)), dot.op.grad_fn, _dot_vjp,
                  (input, tensor), saved=(input, tensor))



def _dot_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    a, b = node.saved()
    return (g * b if node.needs(0) else None, g * a if node.needs(1) else None)


@defop("bmm", [T(), T("mat2")], grad_fns="BmmBackward0", doc="Batched matrix product of 3-d tensors.",
       category=_LA)
def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    check_tensor(input, "bmm")
    check_tensor(mat2, "bmm", "mat2")
    if input.ndim != 3 or mat2.ndim != 3:
        raise ShapeError("batch1 must be a 3D tensor" if input.ndim != 3 else "batch2 must be a 3D tensor")
    b1, n, k = input.shape
    b2, k2, m = mat2.shape
    if b1 != b2 or k != k2:
        raise ShapeError(f"Expected size for first two dimensions of batch2 tensor to be: [{b1}, {k}] "
                         f"but got: [{b2}, {k2}].")
    if input.dtype is dtypes.bool_:
        raise DTypeError('"bmm" not implemented for \'Bool\'')
    if input.dtype is not mat2.dtype:
        raise DTypeError(f"expected scalar type {input.dtype.scalar_type} but found "
                         f"{mat2.dtype.scalar_type}")
    check_alloc((b1, n, m))
    return record(xp.matmul(input._data, mat2._data), bmm.op.grad_fn, _bmm_vjp, (input, mat2),
                  saved=(input, mat2))


def _bmm_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    a, b = node.saved()
    gb = bmm(shape_ops.transpose(a, 1, 2), g) if node.needs(1) else None  # (mat2 first)
    return (bmm(g, shape_ops.transpose(b, 1, 2)) if node.needs(0) else None), gb


@defop("outer", [T(), T("vec2")], grad_fns="MulBackward0", doc="Outer product of two 1-d tensors.",
       category=_LA)
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    check_tensor(input, "outer")
    check_tensor(vec2, "outer", "vec2")
    if input.ndim != 1 or vec2.ndim != 1:
        raise ShapeError(f"outer: Expected 1-D argument self, but got {input.ndim}-D"
                         if input.ndim != 1 else f"outer: Expected 1-D argument vec2, but got {vec2.ndim}-D")
    # torch spells it input.reshape(-1, 1) * vec2, and so its graph is MulBackward0 over a view
    return ops.mul(shape_ops.reshape(input, [-1, 1]), vec2)


@defop("matmul", [T(), T("other")],
       grad_fns=("MmBackward0", "MvBackward0", "DotBackward0", "UnsafeViewBackward0", "BmmBackward0",
                 "SqueezeBackward4", "CloneBackward0"),
       doc="Matrix product with torch's broadcasting rules for 1-d, 2-d and batched operands.",
       category=_LA)
def matmul(input: Tensor, other: Tensor) -> Tensor:
    """torch.matmul, built from the same steps as torch (so its grad_fn chain is torch's):
    dot / mv / mm for 1-d and 2-d operands; a batched operand against a 1-d or 2-d one is folded
    into a single mm or mv; two batched operands broadcast their batch dims and use bmm."""
    if input.__class__ is Tensor and other.__class__ is Tensor and \
            input._data.ndim == 2 and other._data.ndim == 2:
        return mm(input, other)  # (an MLP layer's product: the dispatch below would choose it)
    check_tensor(input, "matmul")
    check_tensor(other, "matmul", "other")
    da, db = input.ndim, other.ndim
    if da == 0 or db == 0:
        raise ShapeError(f"both arguments to matmul need to be at least 1D, but they are {da}D and {db}D")
    if da == 1 and db == 1:
        return dot(input, other)
    if da == 2 and db == 1:
        return mv(input, other)
    if da == 1 and db == 2:
        return _squeeze_(mm(shape_ops.unsqueeze(input, 0), other), 0)
    if da == 2 and db == 2:
        return mm(input, other)
    if da == 3 and db == 3 and (input.shape[0] == 1) != (other.shape[0] == 1):
        # a batch of one against a real batch: torch drops the singleton and folds
        if input.shape[0] == 1:
            input, da = shape_ops.squeeze(input, 0), 2
        else:
            other, db = shape_ops.squeeze(other, 0), 2
    if da >= 3 and db <= 2:
        return _folded(input, other, transpose=False)
    if db >= 3 and da <= 2:
        return _folded(other, input, transpose=True)
    return _batched(input, other)


def _squeeze_(t: Tensor, dim: int) -> Tensor:
    """torch's in-place ``squeeze_`` as matmul uses it (named SqueezeBackward4)."""
    return record(xp.squeeze(t._data, axis=dim), matmul.op.forms["SqueezeBackward4"], _squeeze__vjp,
                  (t,), attrs=dim)


def _squeeze__vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (shape_ops.unsqueeze(g, node.attrs),)  # torch: unsqueeze_to(grad, dim, sizes)


def _folded(big: Tensor, small: Tensor, transpose: bool) -> Tensor:
    """A batched operand times a 1-d or 2-d one as one mm/mv over the batch folded into rows.
    ``transpose`` computes small @ big as (big.mT @ small.T).mT."""
    if transpose:
        big = shape_ops.transpose(big, -1, -2)
        if small.ndim == 2:
            small = shape_ops.t(small)
    k = big.shape[-1]
    if k != small.shape[0]:
        rows = math.prod(big.shape[:-1])
        raise ShapeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k} and "
                         f"{small.shape[0]}x{small.shape[-1] if small.ndim == 2 else 1})")
    folded = shape_ops.reshape(big, [-1, k])
    out_shape = list(big.shape[:-1]) + ([small.shape[1]] if small.ndim == 2 else [])
    check_alloc(out_shape)
    out = _unsafe_view(mm(folded, small) if small.ndim == 2 else mv(folded, small), out_shape)
    if transpose and small.ndim == 2:
        out = shape_ops.contiguous(shape_ops.transpose(out, -1, -2))
    return out


def _batched(a: Tensor, b: Tensor) -> Tensor:
    """Both operands batched (or one 1-d against a batch of >= 3 dims): broadcast, bmm, unfold."""
    da, db = a.ndim, b.ndim
    if da == 1:
        a = shape_ops.unsqueeze(a, 0)
    if db == 1:
        b = shape_ops.unsqueeze(b, -1)
    n, k = a.shape[-2], a.shape[-1]
    k2, m = b.shape[-2], b.shape[-1]
    batch = list(broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    bsz = math.prod(batch)
    if k != k2:
        raise ShapeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                         f"[{bsz}, {k}] but got: [{bsz}, {k2}].")
    check_alloc((bsz, n, m))
    a3 = shape_ops.reshape(shape_ops.expand(a, batch + [n, k]), [bsz, n, k])
    b3 = shape_ops.reshape(shape_ops.expand(b, batch + [k, m]), [bsz, k, m])
    out_shape = batch + ([n] if da > 1 else []) + ([m] if db > 1 else [])
    return _unsafe_view(bmm(a3, b3), out_shape)


def _unsafe_view(t: Tensor, shape: list[int]) -> Tensor:
    return record(t._data.reshape(shape), matmul.op.forms["UnsafeViewBackward0"], _unsafe_view_vjp, (t,),
                  attrs=t.shape)


def _unsafe_view_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (shape_ops.reshape(g, list(node.attrs)),)
