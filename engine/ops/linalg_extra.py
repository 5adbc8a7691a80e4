"""Linear algebra beyond products: inverse, det, slogdet, solve, cholesky, trace and einsum.

The factorisations run on the backend's ``xp.linalg``; their VJPs are written with engine ops (this
module's own among them), so second derivatives work.  Every op takes batches of matrices
``(..., n, n)`` where torch does.

einsum is not a primitive: it is spelled, as torch spells it, with permute, unsqueeze, diagonal,
sum, mul and bmm (and the reshapes between them), so its gradient comes from those ops and its
``grad_fn`` graph is the one torch records.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from engine import dtypes, ops
from engine.backend import linalg_raises, xp
from engine.context import wake
from engine.errors import ArgumentError, DTypeError, LinAlgError, ShapeError
from engine.grad_mode import is_grad_enabled
from engine.graph import Node
from engine.ops.core import OUT, broadcast_shapes, check_alloc, check_tensor, record, record_multi
from engine.ops.scalar_ops import mul_scalar
from engine.registry import A, Param, T, defop, internal_node
from engine.tensor import Tensor

_LA = "linalg"


def _mT(t: Tensor) -> Tensor:  # noqa: N802 - torch's spelling of the batched transpose
    return ops.transpose(t, -1, -2)


def _as_matrix_batch(v: Tensor) -> Tensor:
    """A per-matrix scalar (shape ``batch``) as ``batch + (1, 1)``, to scale whole matrices."""
    return ops.unsqueeze(ops.unsqueeze(v, -1), -1)


# ----- input checks (torch's messages) ----------------------------------------------------------
def _check_square(op: str, a: Tensor) -> None:
    if a.ndim < 2:
        raise ShapeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise ShapeError(f"{op}: A must be batches of square matrices, but they are {a.shape[-2]} by "
                         f"{a.shape[-1]} matrices")


def _check_float(op: str, a: Tensor) -> None:
    if not a.dtype.is_floating_point:
        raise DTypeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                         f"{a.dtype.scalar_type}")


def _square_float(op: str, a: Any, arg: str = "A") -> Tensor:
    check_tensor(a, op, arg)
    _check_square(op, a)
    _check_float(op, a)
    return a


def _batch_prefix(a: Any, index: int) -> str:
    """torch names the failing matrix of a batch: ``(Batch element 3): ``."""
    return f"(Batch element {index}): " if a.ndim > 2 else ""


def _first_zero_pivot(a: Any) -> tuple[int, int] | None:
    """(batch element, 1-based column) of the first exactly zero pivot met by LU with partial
    pivoting (LAPACK's getrf, whose ``info`` torch reports), or None for a non-singular batch."""
    n = a.shape[-1]
    m = xp.array(a.reshape(-1, n, n), copy=True)
    batch = xp.arange(m.shape[0])
    first = xp.full(m.shape[0], n, dtype=xp.int64)  # n means "no zero pivot"
    for k in range(n):
        wake()  # (n steps over the whole batch: a long op)
        p = k + xp.argmax(xp.abs(m[:, k:, k]), axis=1)  # the first largest, as LAPACK picks
        row_k = m[:, k, :].copy()
        m[:, k, :] = m[batch, p, :]
        m[batch, p, :] = row_k
        pivot = m[:, k, k]
        zero = pivot == 0
        first = xp.where(zero & (first == n), k, first)
        factors = xp.where(zero[:, None], 0, m[:, k + 1:, k] / xp.where(zero, 1, pivot)[:, None])
        m[:, k + 1:, :] -= factors[:, :, None] * m[:, None, k, :]
    return _first_failure(first, n)


def _first_non_pd_minor(a: Any) -> tuple[int, int] | None:
    """(batch element, order) of the first leading minor that is not positive-definite, reading the
    lower triangle as LAPACK's potrf does; None if every matrix of the batch factorises."""
    n = a.shape[-1]
    m = a.reshape(-1, n, n)
    low = xp.zeros_like(m)
    first = xp.full(m.shape[0], n, dtype=xp.int64)
    for k in range(n):
        wake()
        d = m[:, k, k] - xp.sum(low[:, k, :k] ** 2, axis=1)
        bad = ~(d > 0)  # NaN fails too
        first = xp.where(bad & (first == n), k, first)
        root = xp.sqrt(xp.where(bad, 1, d))
        low[:, k, k] = root
        below = m[:, k + 1:, k] - xp.sum(low[:, k + 1:, :k] * low[:, None, k, :k], axis=2)
        low[:, k + 1:, k] = below / root[:, None]
    return _first_failure(first, n)


def _first_failure(first: Any, n: int) -> tuple[int, int] | None:
    """From each matrix's first failing step (``n`` for none): (batch element, 1-based step) of
    the first matrix that failed, or None."""
    failed = xp.nonzero(first < n)[0]
    if failed.size == 0:
        return None
    b = int(failed[0])
    return b, int(first[b]) + 1


def _linalg_call(fn: Any, *arrays: Any) -> Any:
    """``fn(*arrays)``, or None where the matrix is singular or not positive-definite."""
    with linalg_raises():
        try:
            return fn(*arrays)
        except xp.linalg.LinAlgError:
            return None


def _inv_array(a: Any) -> Any:
    """``a``'s inverse, or torch's error for a singular matrix."""
    out = _linalg_call(xp.linalg.inv, a)
    if out is None:
        b, k = _first_zero_pivot(a) or (0, a.shape[-1])
        raise LinAlgError(f"linalg.inv: {_batch_prefix(a, b)}The diagonal element {k} is zero, the "
                            "inversion could not be completed because the input matrix is singular.")
    return out


def _column_major(a: Any) -> Any:
    """``a`` laid out as torch's LAPACK-backed results are: each matrix column-major (strides
    [1, rows] in its last two dims), so that the backward formulas that look at strides (mm's)
    take torch's branch."""
    # (a fresh array, so a size-1 dim gets torch's stride too: numpy keeps a view's there)
    out = xp.empty((*a.shape[:-2], a.shape[-1], a.shape[-2]), dtype=a.dtype)
    out[...] = xp.swapaxes(a, -1, -2)
    return xp.swapaxes(out, -1, -2)


# ----- inverse / det / slogdet --------------------------------------------------------------------
@defop("inverse", [T()], grad_fns="LinalgInvExBackward0",
       doc="Inverse of a square matrix (or a batch of them); torch's error if singular.", category=_LA)
def inverse(input: Tensor) -> Tensor:
    _square_float("linalg.inv", input)
    out = _column_major(_inv_array(input._data))
    return record(out, inverse.op.grad_fn, _inverse_vjp, (input,), saved=(OUT,))


def _inverse_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    # d(A^-1) = -A^-1 dA A^-1, so the gradient is -A^-T g A^-T
    # (two transposes, as torch's formula takes inverse.mH() twice: with create_graph their
    # gradients are transposed apart and only then added)
    (inv,) = node.saved()
    inner = ops.matmul(g, _mT(inv))  # (C++ evaluates matmul's arguments right to left)
    return (-ops.matmul(_mT(inv), inner),)


@defop("det", [T()], grad_fns="LinalgDetBackward0",
       doc="Determinant of a square matrix (or a batch of them).", category=_LA)
def det(input: Tensor) -> Tensor:
    _square_float("linalg.det", input)
    out = xp.asarray(xp.linalg.det(input._data), dtype=input._data.dtype)
    return record(out, det.op.grad_fn, _det_vjp, (input,), saved=(input, OUT))


def _invertible(a: Tensor, singular: Any) -> Tensor:
    """``a`` with its singular matrices (where ``singular``, a batch of flags) replaced by the
    identity, so that a gradient formula using the inverse can be evaluated on the whole batch."""
    if not bool(singular.any()):
        return a
    eye = ops.eye(a.shape[-1], dtype=a.dtype.name)
    return ops.where(Tensor(singular[..., None, None]), eye, a)


def _det_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    # The cofactor matrix det(A) A^-T, as torch's linalg_det_backward: a solve of A^T against the
    # diagonal matrix of grad * det. torch gives exactly zero for a singular matrix (through an
    # SVD, which the engine does not have); the inverse of the identity put in its place does the
    # same.
    a, d = node.saved()
    if a.numel() == 0:
        return (ops.zeros_like(a),)
    singular = d._data == 0
    if not bool(singular.any()):
        return (_solve_with_diagonal(a, g * d),)
    inv = inverse(_invertible(a, singular))
    return (_as_matrix_batch(g * d) * _mT(inv),)


_DIAG_EMBED = internal_node("DiagEmbedBackward0")


def _solve_with_diagonal(a: Tensor, scale: Tensor) -> Tensor:
    """A^-T times the identity scaled per matrix by ``scale``, as torch computes det's and
    slogdet's gradients: solve(A.mH, diag_embed(scale.unsqueeze(-1).expand(..., n)).mT)."""
    n = a.shape[-1]
    column = ops.expand(ops.unsqueeze(scale, -1), [*scale.shape, n])
    return _solve(_mT(a), _mT(_diag_embed(column)), True, False)


def _diag_embed(v: Tensor) -> Tensor:
    """Square matrices with ``v``'s last dim on their diagonals (torch's diag_embed)."""
    n = v.shape[-1]
    out = xp.zeros((*v.shape, n), dtype=v._data.dtype)
    idx = xp.arange(n)
    out[..., idx, idx] = v._data
    return record(out, _DIAG_EMBED, _diag_embed_vjp, (v,))


def _diag_embed_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    return (ops.diagonal(g, 0, -2, -1),)


@defop("slogdet", [T()], grad_fns="LinalgSlogdetBackward0", outputs=("sign", "logabsdet"),
       doc="(sign, log |det|) of a square matrix (or a batch of them); the sign is not differentiable "
           "(its gradient is zero).", category=_LA)
def slogdet(input: Tensor) -> tuple[Tensor, ...]:
    _square_float("linalg.slogdet", input)
    sign, logabs = xp.linalg.slogdet(input._data)
    dt = input._data.dtype
    outs = (xp.asarray(sign, dtype=dt), xp.asarray(logabs, dtype=dt))
    return record_multi(outs, slogdet.op.grad_fn, _slogdet_vjp, (input,), saved=(input,))


def _slogdet_vjp(node: Node, grads: list[Tensor | None]) -> tuple[Any, ...]:
    # d log|det A| = tr(A^-1 dA): the gradient is A^-T; the sign's is zero. With no gradient for
    # log|det| torch gives none at all (A.grad stays None). The backward pass fills a missing one
    # with zeros, and an all-zero one adds nothing, so both are answered with None.
    (a,) = node.saved()
    g = grads[1]
    if g is None or not bool((g._data != 0).any()):
        return (None,)
    if is_grad_enabled():  # torch solves with A (and so refuses a singular one, with solve's error)
        return (_solve_with_diagonal(a, g),)
    singular = xp.linalg.det(a._data) == 0
    g_m = _as_matrix_batch(g)
    grad = g_m * _mT(inverse(_invertible(a, singular)))
    if bool(singular.any()):
        # no inverse: torch's LU solve answers infinities (their signs set by its pivots); this
        # answers +-inf by the seed's sign
        infinite = ops.where(g_m == 0, 0.0, g_m * math.inf)
        grad = ops.where(Tensor(singular[..., None, None]), infinite, grad)
    return (grad,)


# ----- solve ------------------------------------------------------------------------------------
@defop("solve", [T("A"), T("B"), A("left", "bool", True)], grad_fns="LinalgSolveExBackward0",
       doc="torch.linalg.solve: X with A X = B (or X A = B when left=False); B may be a vector or "
           "a batch of vectors.", category=_LA, method=False)
def solve(A: Tensor, B: Tensor, left: bool = True) -> Tensor:  # noqa: N803 - torch's names
    op = "linalg.solve"
    _square_float(op, A)
    check_tensor(B, op, "B")
    if A.dtype is not B.dtype:
        raise DTypeError(f"{op}: Expected A and B to have the same dtype, but found A of type "
                         f"{A.dtype.scalar_type} and B of type {B.dtype.scalar_type} instead")
    # torch's rule: B is a (batch of) vector(s) if 1-d, or if it has A's shape minus the last dim
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    if B.ndim < 2 and not vector:
        raise ShapeError(f"{op}: The input tensor B must have at least 2 dimensions.")
    return _solve(A, B, left, vector)


def _solve(a: Tensor, b: Tensor, left: bool, vector: bool) -> Tensor:
    """The solve op once its operands are checked; its VJP calls it again on the gradient."""
    n = a.shape[-1]
    bm = b._data[..., None] if vector else b._data
    rows, cols = bm.shape[-2:]
    if (rows if left else cols) != n:
        eq = "AX = B" if left else "XA = B"
        raise ShapeError(f"linalg.solve: Incompatible shapes of A and B for the equation {eq} ({n}x{n} "
                         f"and {rows}x{cols})")
    batch = broadcast_shapes(bm.shape[:-2], a.shape[:-2])  # torch names B's batch first
    check_alloc((*batch, rows, cols))
    am = xp.broadcast_to(a._data, (*batch, n, n))
    bm = xp.broadcast_to(bm, (*batch, rows, cols))
    if not left:  # X A = B  <=>  A^T X^T = B^T
        am, bm = xp.swapaxes(am, -1, -2), xp.swapaxes(bm, -1, -2)
    x = _linalg_call(xp.linalg.solve, am, bm)
    if x is None:
        found = _first_zero_pivot(a._data) or (0, n)
        raise LinAlgError(f"torch.linalg.solve: {_batch_prefix(a._data, found[0])}The solver failed "
                            "because the input matrix is singular.")
    if not left:
        x = xp.swapaxes(x, -1, -2)
    out = x[..., 0] if vector else x
    # torch's layout: LAPACK's column-major result (of the transposed system, so row-major, for
    # left=False); a batch of vectors comes as a column-major matrix of them too
    out = _column_major(out) if out.ndim >= 2 and (left or vector) else xp.ascontiguousarray(out)
    return record(out, solve.op.grad_fn, _solve_vjp, (a, b),
                  saved=(a, OUT), attrs=(left, vector))


def _solve_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    # torch's linalg_solve_backward. A X = B:  gB = A^-T g (a solve with A^T), gA = -gB X^T.
    # X A = B:  gB = g A^-T, gA = -X^T gB. A vector right-hand side is solved as a one-column
    # matrix (unsqueeze, then squeeze back), as torch does.
    a, x = node.saved()
    left, vector = node.attrs
    gb = _solve(_mT(a), ops.unsqueeze(g, -1) if vector else g, left, False)
    ga = None
    if node.needs(0):
        x_m = ops.unsqueeze(x, -1) if vector else x
        ga = -ops.matmul(gb, _mT(x_m)) if left else -ops.matmul(_mT(x_m), gb)
    if not node.needs(1):
        return ga, None
    return ga, ops.squeeze(gb, -1) if vector else gb


# ----- cholesky ---------------------------------------------------------------------------------
@defop("cholesky", [T(), A("upper", "bool", False)], grad_fns="CholeskyBackward0",
       doc="torch.cholesky: L with A = L L^T from A's lower triangle (U = L^T if upper).",
       category=_LA)
def cholesky(input: Tensor, upper: bool = False) -> Tensor:
    check_tensor(input, "cholesky")
    _check_square("cholesky", input)
    if not input.dtype.is_floating_point:
        raise DTypeError(f'"cholesky_cpu" not implemented for \'{input.dtype.scalar_type}\'')
    a = input._data
    # only the lower triangle is read, as by LAPACK: mirror it so any backend's routine agrees
    sym = xp.tril(a) + xp.swapaxes(xp.tril(a, -1), -1, -2)
    low = _linalg_call(xp.linalg.cholesky, sym)
    # a NaN in A fails in LAPACK's potrf (torch) but not in every backend's: look for it too
    found = _first_non_pd_minor(a) if low is None or not bool(xp.isfinite(low).all()) else None
    if low is None or found is not None:
        b, k = found or (0, a.shape[-1])
        raise LinAlgError(f"cholesky: {_batch_prefix(a, b)}The factorization could not be completed "
                            f"because the input is not positive-definite (the leading minor of order "
                            f"{k} is not positive-definite).")
    out = _column_major(xp.swapaxes(low, -1, -2) if upper else low)  # (torch's layout, as LAPACK's)
    return record(out, cholesky.op.grad_fn, _cholesky_vjp, (input,), saved=(OUT,), attrs=upper)


def _cholesky_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    # torch's cholesky_backward: with A = L L^T, gA = L^-T pi*((L^T gL).tril()) L^-1, where
    # pi*(X) = 0.5 * (X + X.tril(-1)^T) (symmetric, as torch gives it), by two triangular solves.
    (out,) = node.saved()
    upper = node.attrs
    low, g_low = (_mT(out), _mT(g)) if upper else (out, g)
    ga = ops.tril(ops.matmul(_mT(low), g_low))
    ga = mul_scalar(ga + _mT(ops.tril(ga, -1)), 0.5)
    ga = _solve_triangular(_mT(low), ga, True, True)
    return (_solve_triangular(low, ga, False, False),)


_SOLVE_TRIANGULAR = internal_node("LinalgSolveTriangularBackward0")


def _solve_triangular(a: Tensor, b: Tensor, upper: bool, left: bool) -> Tensor:
    """torch.linalg.solve_triangular (only ``a``'s upper or lower triangle is read): X with
    A X = B, or X A = B when not ``left``."""
    am = xp.triu(a._data) if upper else xp.tril(a._data)
    bm = b._data
    if left:
        x = xp.linalg.solve(am, bm)
    else:
        x = xp.swapaxes(xp.linalg.solve(xp.swapaxes(am, -1, -2), xp.swapaxes(bm, -1, -2)), -1, -2)
    return record(_column_major(x.astype(bm.dtype)), _SOLVE_TRIANGULAR, _solve_triangular_vjp,
                  (a, b), saved=(a, OUT), attrs=(upper, left))


def _solve_triangular_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    # torch's linalg_solve_triangular_backward: gB = A^-T g (a solve with the other triangle),
    # gA = -gB X^T (or -X^T gB), kept to A's triangle
    a, x = node.saved()
    upper, left = node.attrs
    gb = _solve_triangular(_mT(a), g, not upper, left)
    ga = None
    if node.needs(0):
        ga = -ops.matmul(gb, _mT(x)) if left else -ops.matmul(_mT(x), gb)
        ga = ops.triu(ga) if upper else ops.tril(ga)
    return ga, (gb if node.needs(1) else None)


# ----- trace ------------------------------------------------------------------------------------
@defop("trace", [T()], grad_fns="TraceBackward0", doc="Sum of the main diagonal of a 2-d tensor.",
       category=_LA)
def trace(input: Tensor) -> Tensor:
    check_tensor(input, "trace")
    if input.ndim != 2:
        raise ShapeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    if input.dtype is dtypes.bool_:
        raise DTypeError("\"trace\" not implemented for 'Bool'")
    out = xp.asarray(xp.trace(input._data), dtype=input._data.dtype)
    return record(out, trace.op.grad_fn, _trace_vjp, (input,), attrs=input.shape)


def _trace_vjp(node: Node, g: Tensor) -> tuple[Any, ...]:
    # torch's trace_backward: zeros(n * m).index_fill_(0, the diagonal's positions, grad).view(n, m)
    n, m = node.attrs
    diagonal = Tensor(xp.arange(min(n, m), dtype=xp.int64) * (m + 1))
    return (ops.view(ops.index_fill(ops.zeros([n * m], dtype=g.dtype.name), 0, diagonal, g), [n, m]),)


# ----- einsum -----------------------------------------------------------------------------------
# Labels are letters; the ellipsis is kept as the one-character label "." after parsing.
_ELLIPSIS = "."


def _einsum_error(message: str) -> ShapeError:
    return ShapeError(f"einsum(): {message}")


def _is_label(c: str) -> bool:
    return c.isascii() and c.isalpha()


def _parse_operands(lhs: str, num_operands: int) -> list[list[str]]:
    """The labels of each operand, from the equation's left-hand side (errors give indices into
    the equation as written, spaces included)."""
    labels: list[list[str]] = [[]]
    i = 0
    while i < len(lhs):
        c = lhs[i]
        op = len(labels) - 1
        if c == ",":
            if len(labels) == num_operands:
                raise _einsum_error("fewer operands were provided than specified in the equation")
            labels.append([])
        elif c == ".":
            if _ELLIPSIS in labels[-1]:
                raise _einsum_error(f"found '.' for operand {op} for which an ellipsis was already found")
            if lhs[i:i + 3] != "...":
                raise _einsum_error(f"found '.' for operand {op} that is not part of any ellipsis")
            labels[-1].append(_ELLIPSIS)
            i += 2
        elif _is_label(c):
            labels[-1].append(c)
        elif c != " ":
            raise _einsum_error(f"invalid subscript given at index {i} in the equation string, subscripts "
                                "must be in [a-zA-Z]")
        i += 1
    if len(labels) < num_operands:
        raise _einsum_error("more operands were provided than specified in the equation")
    return labels


def _parse_output(rhs: str, offset: int, used: set[str]) -> list[str]:
    """The output's labels; ``offset`` is where ``rhs`` starts in the equation."""
    out: list[str] = []
    i = 0
    while i < len(rhs):
        c = rhs[i]
        if c == ".":
            if _ELLIPSIS in out:
                raise _einsum_error("found '.' for output but an ellipsis (...) was already found")
            if rhs[i:i + 3] != "...":
                raise _einsum_error("found '.' for output that is not part of any ellipsis (...)")
            out.append(_ELLIPSIS)
            i += 2
        elif _is_label(c):
            if c in out:
                raise _einsum_error(f"output subscript {c} appears more than once in the output")
            if c not in used:
                raise _einsum_error(f"output subscript {c} does not appear in the equation for any input "
                                    "operand")
            out.append(c)
        elif c != " ":
            raise _einsum_error(f"invalid subscript given at index {offset + i} in the equation string, "
                                "subscripts must be in [a-zA-Z]")
        i += 1
    return out


def _ellipsis_ndim(labels: list[list[str]], operands: list[Tensor]) -> int:
    """The most dims any ellipsis covers, after checking each operand has dims for its subscripts."""
    most = 0
    for i, (labs, t) in enumerate(zip(labels, operands, strict=True)):
        named = len(labs) - (_ELLIPSIS in labs)
        if _ELLIPSIS in labs:
            if named > t.ndim:
                raise _einsum_error(f"the number of subscripts in the equation ({named}) is more than the "
                                    f"number of dimensions ({t.ndim}) for operand {i}")
            most = max(most, t.ndim - named)
        elif named != t.ndim:
            raise _einsum_error(f"the number of subscripts in the equation ({named}) does not match the "
                                f"number of dimensions ({t.ndim}) for operand {i} and no ellipsis was given")
    return most


def _layout(labels: list[list[str]], out: list[str] | None, ell_ndim: int
            ) -> tuple[dict[str, int], int, int]:
    """Where each label goes in the common layout every operand is permuted to: the output's labels
    first (in its order; implicitly the ellipsis, then the labels used once, sorted), then the
    ellipsis if it is summed over, then the other labels, sorted.  Returns (position of each label,
    output dims, total dims); the ellipsis's position is that of its first dim."""
    used = [c for labs in labels for c in labs if c != _ELLIPSIS]
    if out is None:
        out = [_ELLIPSIS] + sorted(c for c in set(used) if used.count(c) == 1)
    pos: dict[str, int] = {}
    n = 0
    for c in out:
        pos[c] = n
        n += ell_ndim if c == _ELLIPSIS else 1
    out_size = n
    if _ELLIPSIS not in pos:
        pos[_ELLIPSIS] = n
        n += ell_ndim
    for c in sorted(set(used) - set(pos)):
        pos[c] = n
        n += 1
    return pos, out_size, n


class _Sizes:
    """The size seen so far for each label and each ellipsis dim (1 until a larger one is seen),
    for torch's broadcasting checks across operands."""

    def __init__(self, ell_ndim: int) -> None:
        self.labels: dict[str, int] = {}
        self.ellipsis = [1] * ell_ndim

    def label(self, c: str, size: int, op: int) -> None:
        prev = self.labels.get(c, 1)
        if size != 1 and prev not in (1, size):
            raise _einsum_error(f"subscript {c} has size {size} for operand {op} which does not broadcast "
                                f"with previously seen size {prev}")
        if size != 1:
            self.labels[c] = size

    def ellipsis_dim(self, j: int, dim: int, size: int, op: int) -> None:
        prev = self.ellipsis[j]
        if size != 1 and prev not in (1, size):
            # torch's message, its missing space included
            raise _einsum_error(f"dimension {dim} covered by ellipsis in operand {op}has size {size} which "
                                f"does not broadcast with previously seen ellipsis with size {prev} for the "
                                "respective dimension")
        if size != 1:
            self.ellipsis[j] = size


def _to_layout(t: Tensor, op: int, labs: list[str], pos: dict[str, int], total: int, sizes: _Sizes
               ) -> Tensor:
    """One operand in the common layout: a repeated label becomes a diagonal, a missing label (or
    ellipsis dim) a size-1 dim, then one permute puts every dim in its place."""
    ell_ndim = len(sizes.ellipsis)
    own_ell = t.ndim - (len(labs) - 1)  # dims under this operand's ellipsis, if it has one
    perm = [-1] * total
    dim = 0
    for c in labs:
        if c == _ELLIPSIS:
            for j in range(ell_ndim - own_ell, ell_ndim):  # its dims are the trailing ellipsis dims
                sizes.ellipsis_dim(j, dim, t.shape[dim], op)
                perm[pos[c] + j] = dim
                dim += 1
        elif perm[pos[c]] == -1:
            sizes.label(c, t.shape[dim], op)
            perm[pos[c]] = dim
            dim += 1
        else:  # a repeated label: the diagonal, put back where the label first appeared
            first = perm[pos[c]]
            if t.shape[dim] != t.shape[first]:
                raise _einsum_error(f"subscript {c} is repeated for operand {op} but the sizes don't match, "
                                    f"{t.shape[dim]} != {t.shape[first]}")
            t = _movedim_last_to(ops.diagonal(t, 0, first, dim), first)
    for p in range(total):
        if perm[p] == -1:
            t = ops.unsqueeze(t, dim)
            perm[p] = dim
            dim += 1
    return ops.permute(t, perm)


def _movedim_last_to(t: Tensor, d: int) -> Tensor:
    order = list(range(t.ndim - 1))
    order.insert(d, t.ndim - 1)
    return ops.permute(t, order)


def _contract(laid: list[Tensor], out_size: int, total: int) -> Tensor:
    """Multiply the operands left to right, summing each contracted dim as soon as no later operand
    has it (dims of size 1 are broadcast, not contracted)."""
    remaining = {d: sum(t.shape[d] != 1 for t in laid) for d in range(out_size, total)}
    a = laid[0]
    for b in laid[1:]:
        sum_dims: list[int] = []
        a_alone: list[int] = []
        b_alone: list[int] = []
        for d in range(out_size, total):
            if a.shape[d] != 1 and b.shape[d] != 1:
                remaining[d] -= 1
                if remaining[d] == 1:  # no later operand has it: contract it in this product
                    sum_dims.append(d)
                    remaining[d] = 0
            elif remaining[d] == 1 and (a.shape[d] != 1 or b.shape[d] != 1):
                # only one of the pair has it, and no later operand: sum it out first
                (a_alone if a.shape[d] != 1 else b_alone).append(d)
                remaining[d] = 0
        if a_alone:
            a = ops.sum(a, a_alone, keepdim=True)
        if b_alone:
            b = ops.sum(b, b_alone, keepdim=True)
        a = _sumproduct_pair(a, b, sum_dims) if sum_dims else ops.mul(a, b)
    return a


def _split_dims(left: Tensor, right: Tensor, sum_dims: list[int]
                ) -> tuple[list[int], list[int], list[int]]:
    """The dims that are not summed: those both operands have (size != 1), those only ``left`` has,
    and the others (``right``'s own, and size 1 on both sides)."""
    both: list[int] = []
    left_only: list[int] = []
    rest: list[int] = []
    for d in range(left.ndim):
        if d in sum_dims:
            continue
        if left.shape[d] != 1 and right.shape[d] != 1:
            both.append(d)
        elif left.shape[d] != 1:
            left_only.append(d)
        else:
            rest.append(d)
    return both, left_only, rest


def _right_comes_first(left: Tensor, right: Tensor, sum_dims: list[int]) -> bool:
    """torch makes the left bmm operand the one whose own dim comes first in the output (read off
    torch 2.13's graphs: e.g. 'ij,jk->ki' multiplies the second operand from the left)."""
    _, left_only, rest = _split_dims(left, right, sum_dims)
    return bool(left_only and rest and rest[-1] < left_only[0])


def _sumproduct_pair(left: Tensor, right: Tensor, sum_dims: list[int]) -> Tensor:
    """(left * right).sum(sum_dims, keepdim=True) as one bmm: the dims both operands have are its
    batch, the dims of one side only its rows and columns."""
    if _right_comes_first(left, right, sum_dims):
        left, right = right, left
    both, left_only, right_only = _split_dims(left, right, sum_dims)
    nb = math.prod(left.shape[d] for d in both)
    nl = math.prod(left.shape[d] for d in left_only)
    nr = math.prod(right.shape[d] for d in right_only)
    ns = math.prod(left.shape[d] for d in sum_dims)
    lhs = ops.reshape(ops.permute(left, both + left_only + sum_dims + right_only), [nb, nl, ns])
    rhs = ops.reshape(ops.permute(right, both + sum_dims + right_only + left_only), [nb, ns, nr])
    out_order = both + left_only + sum_dims + right_only
    out_shape = ([left.shape[d] for d in both + left_only] + [1] * len(sum_dims)
                 + [right.shape[d] for d in right_only])
    product = ops.view(ops.bmm(lhs, rhs), out_shape)
    return ops.permute(product, [out_order.index(d) for d in range(left.ndim)])


@defop("einsum", [A("equation", "str"), Param("operands", "tensors")],
       grad_fns=("ViewBackward0", "PermuteBackward0", "SumBackward1", "MulBackward0"),
       doc="Einstein summation, e.g. 'ij,jk->ik', 'bij,bjk->bik', 'ii->', 'i,j->ij', 'bi,ij,bj->b', "
           "with ellipses and size-1 broadcasting; the graph is torch's (permutes, diagonals, sums, "
           "products and bmm).", category=_LA, method=False)
def einsum(equation: str, operands: Sequence[Tensor] | Tensor, *more: Tensor) -> Tensor:
    """torch.einsum; the operands may also be passed one by one, ``einsum('ij->ji', a)``."""
    tensors = [operands, *more] if isinstance(operands, Tensor) else [*operands, *more]
    if not isinstance(equation, str):
        raise ArgumentError(f"einsum(): argument 'equation' must be str, not {type(equation).__name__}")
    if not tensors:
        raise ArgumentError("einsum(): must specify the equation string and at least one operand, or at "
                            "least one operand and its subscripts list")
    for i, t in enumerate(tensors):
        check_tensor(t, "einsum", f"operands[{i}]")
    lhs, arrow, rhs = equation.partition("->")
    labels = _parse_operands(lhs, len(tensors))
    ell_ndim = _ellipsis_ndim(labels, tensors)
    used = {c for labs in labels for c in labs}
    out = _parse_output(rhs, len(lhs) + 2, used) if arrow else None
    pos, out_size, total = _layout(labels, out, ell_ndim)
    sizes = _Sizes(ell_ndim)
    laid = [_to_layout(t, i, labs, pos, total, sizes)
            for i, (labs, t) in enumerate(zip(labels, tensors, strict=True))]
    if len(laid) == 1:
        return ops.sum(laid[0], list(range(out_size, total))) if total > out_size else laid[0]
    result = _contract(laid, out_size, total)
    if total == out_size:
        return result
    return ops.view(result, list(result.shape[:out_size]))  # the contracted dims are all 1 by now
