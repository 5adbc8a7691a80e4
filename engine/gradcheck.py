"""Finite-difference gradient checks (torch.autograd.gradcheck / gradgradcheck).

One checker serves every op: it compares the engine's vector-Jacobian product with central
differences in float64, with torch's default tolerances.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from engine import backend
from engine.autograd import grad
from engine.tensor import Tensor, tensor

EPS, ATOL, RTOL = 1e-6, 1e-5, 1e-3  # torch's defaults


class GradcheckError(AssertionError):
    pass


def _first_output(out: Any) -> Tensor:
    return out[0] if isinstance(out, (tuple, list)) else out


def _host(t: Tensor) -> Any:
    return backend.to_host(t._data)


Path = tuple[int, int | None]  # (argument, position inside a list argument or None)


def _differentiable(inputs: Sequence[Any]) -> list[Path]:
    """Where the inputs that require grad are: top-level arguments, or items of a list argument
    (cat, stack, einsum take their tensors as a list)."""
    paths: list[Path] = []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad:
            paths.append((i, None))
        elif isinstance(x, (list, tuple)):
            paths += [(i, j) for j, y in enumerate(x) if isinstance(y, Tensor) and y.requires_grad]
    return paths


def _get(inputs: Sequence[Any], path: Path) -> Tensor:
    i, j = path
    return inputs[i] if j is None else inputs[i][j]


def _replaced(inputs: Sequence[Any], path: Path, value: Tensor) -> list[Any]:
    i, j = path
    xs = list(inputs)
    if j is None:
        xs[i] = value
    else:
        xs[i] = list(xs[i])
        xs[i][j] = value
    return xs


def gradcheck(fn: Callable[..., Any], inputs: Sequence[Any], *, eps: float = EPS, atol: float = ATOL,
              rtol: float = RTOL, seed: int = 0) -> bool:
    """Check d(v . fn(inputs))/d(input) for every input that requires grad, with a random v.

    ``fn`` returns a Tensor (or a tuple whose first item is checked). Raises GradcheckError with
    the numerical and analytical gradients on a mismatch."""
    import numpy  # host-side only: perturbing and comparing values

    out = _first_output(fn(*inputs))
    rng = numpy.random.default_rng(seed)
    v_host = rng.standard_normal(out.shape)
    v = tensor(v_host, dtype=out.dtype.name)
    diff = _differentiable(inputs)
    if out.requires_grad:
        analytical: Sequence[Tensor | None] = grad([out], [_get(inputs, p) for p in diff], [v],
                                                   allow_unused=True, retain_graph=True)
    else:  # a constant of the inputs (e.g. the derivative of a linear op): gradient zero
        analytical = [None] * len(diff)
    for k, path in enumerate(diff):
        x = _get(inputs, path)
        base = _host(x).astype(numpy.float64)
        numerical = numpy.zeros(base.shape)
        flat = numerical.reshape(-1)
        for j in range(base.size):
            vals = []
            for sign in (1.0, -1.0):
                pert = base.copy().reshape(-1)
                pert[j] += sign * eps
                # keep requires_grad: fn may itself differentiate (gradgradcheck)
                xs = _replaced(inputs, path, tensor(pert.reshape(base.shape), dtype=x.dtype.name,
                                                    requires_grad=True))
                o = _first_output(fn(*xs))
                vals.append(float((_host(o).astype(numpy.float64) * v_host).sum()))
            flat[j] = (vals[0] - vals[1]) / (2 * eps)
        a = analytical[k]
        got = numpy.zeros(base.shape) if a is None else _host(a).astype(numpy.float64)
        if got.shape != numerical.shape or not numpy.allclose(got, numerical, rtol=rtol, atol=atol):
            where = path[0] if path[1] is None else path
            raise GradcheckError(
                f"Jacobian mismatch for output 0 with respect to input {where},\n"
                f"numerical:{numerical!r}\nanalytical:{got!r}"
            )
    return True


def gradgradcheck(fn: Callable[..., Any], inputs: Sequence[Any], *, eps: float = EPS,
                  atol: float = ATOL, rtol: float = RTOL, seed: int = 0) -> bool:
    """Check second derivatives: the gradient (with create_graph) of v . fn, dotted with a random
    u, must itself pass :func:`gradcheck`."""
    import numpy

    out = _first_output(fn(*inputs))
    if not out.requires_grad:
        return True
    rng = numpy.random.default_rng(seed + 1)
    v = tensor(rng.standard_normal(out.shape), dtype=out.dtype.name)
    diff = _differentiable(inputs)
    us = [tensor(rng.standard_normal(_get(inputs, p).shape), dtype=_get(inputs, p).dtype.name)
          for p in diff]

    def first_derivative(*xs: Any) -> Tensor:
        o = _first_output(fn(*xs))
        gs = grad([o], [_get(xs, p) for p in diff], [v], create_graph=True, allow_unused=True)
        total: Any = None
        for g, u in zip(gs, us, strict=True):
            if g is not None:
                term = (g * u).sum()
                total = term if total is None else total + term
        if total is None:
            return tensor(0.0, dtype="float64")
        return total

    return gradcheck(first_derivative, inputs, eps=eps, atol=atol, rtol=rtol, seed=seed + 2)
