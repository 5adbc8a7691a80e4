"""Engine errors. Autograd misuse carries torch's message verbatim.

Every error the engine raises on bad input is an :class:`EngineError`; the service maps each class
to its own problem ``type``. Anything else escaping the engine is a bug.
"""

from __future__ import annotations

from collections.abc import Sequence


class EngineError(Exception):
    """Base of all errors caused by the program the engine was asked to run."""

    kind = "engine-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AutogradError(EngineError):
    """Misuse of autograd; ``message`` is torch's RuntimeError text."""

    kind = "autograd-error"


class ShapeError(EngineError):
    """Shapes that do not fit the op (broadcasting, matmul, reshape, dims out of range)."""

    kind = "shape-error"


class DTypeError(EngineError):
    """A dtype the op does not accept."""

    kind = "dtype-error"


class ArgumentError(EngineError):
    """A bad static argument (out-of-range value, unknown choice)."""

    kind = "argument-error"


class ArgumentTypeError(ArgumentError, TypeError):
    """An argument of the wrong Python type or call form (``ones(2, (3,))``): torch's TypeError,
    so Python callers catch it as one."""

    kind = "type-error"


class LinAlgError(ArgumentError):
    """A matrix the op cannot work with (singular, not positive-definite); torch's message."""

    kind = "linalg-error"


class LimitExceeded(EngineError):
    """A request limit would be exceeded; raised before allocating."""

    kind = "limit-exceeded"

    def __init__(self, limit: str, value: int | float, maximum: int | float,
                 message: str | None = None) -> None:
        super().__init__(message or f"limit {limit} exceeded: {value} > {maximum}")
        self.limit = limit
        self.value = value
        self.maximum = maximum


class DeadlineExceeded(LimitExceeded):
    """The program's deadline passed while it ran (``value``, ``maximum``: seconds)."""


class Cancelled(EngineError):
    """Nobody waits for the program's answer any more (its client went away)."""

    kind = "cancelled"


class AnomalyError(EngineError):
    """detect_anomaly found a NaN or infinity; ``report`` says where."""

    kind = "anomaly"

    def __init__(self, message: str, report: dict[str, object]) -> None:
        super().__init__(message)
        self.report = report


def size_repr(shape: Sequence[int]) -> str:
    """torch.Size's repr, used inside torch's messages."""
    return f"torch.Size([{', '.join(str(int(s)) for s in shape)}])"


# torch's messages, verbatim (see shared/reference/torch-2.13/errors.out).
FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)
IMPLICIT_SCALAR = "grad can be implicitly created only for scalar outputs"
NON_LEAF_FLAG = (
    "you can only change requires_grad flags of leaf variables. If you want to use a computed "
    "variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach()."
)
INT_REQUIRES_GRAD = "only Tensors of floating point dtype can require gradients"
INT_REQUIRES_GRAD_CTOR = "Only Tensors of floating point and complex dtype can require gradients"
NUMPY_REQUIRES_GRAD = "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
NOT_REQUIRING_GRAD = "One of the differentiated Tensors does not require grad"
EMPTY_INPUTS = "`inputs` argument to `backward()` cannot be empty."


def no_grad_fn(i: int) -> str:
    return f"element {i} of tensors does not require grad and does not have a grad_fn"


def unused_input(i: int) -> str:
    return (
        f"The differentiated Tensor at index {i} appears to not have been used in the graph. "
        "Set allow_unused=True if this is the desired behavior."
    )


def shape_mismatch(i: int, grad_shape: Sequence[int], out_shape: Sequence[int]) -> str:
    return (
        f"Mismatch in shape: grad_output[{i}] has a shape of {size_repr(grad_shape)} and "
        f"output[{i}] has a shape of {size_repr(out_shape)}."
    )
