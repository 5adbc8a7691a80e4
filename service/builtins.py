"""Calls the service adds to the engine's ops: tensor accessors, autograd entry points and
``torch.tensor``.

torch spells these as attributes, methods or ``torch.autograd`` functions (``x.grad``,
``y.grad_fn``, ``x.requires_grad_()``, ``out.backward()``, ``torch.autograd.grad``); a JSON program
spells every one of them as a call, so they are declared here in the same shape as registry ops and
flow through the same validation, interpreter and catalog (service/signatures.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import engine as ge
from engine.registry import Param
from service.errors import ProgramError
from service.values import Size

# How an input (an element of ``args``) is checked before the call:
#   tensor / tensors / operand   as in the engine registry (operand: a Tensor or a number)
#   node                         a grad_fn node
#   data                         torch.tensor's data: an array literal, a number or a tensor
InputKind = Literal["tensor", "tensors", "operand", "node", "data"]


@dataclass(frozen=True)
class Input:
    name: str
    kind: InputKind
    required: bool = True
    nullable: bool = False  # null is accepted (and, for ``tensors``, null elements)
    doc: str = ""


@dataclass(frozen=True)
class Builtin:
    name: str
    inputs: tuple[Input, ...]
    attrs: tuple[Param, ...]
    run: Callable[..., Any]  # run(*input_values, **attrs)
    doc: str
    category: str
    returns: str


def _accessor(name: str, run: Callable[[Any], Any], doc: str, returns: str,
              kind: InputKind = "tensor") -> Builtin:
    arg = "node" if kind == "node" else "input"
    return Builtin(name, (Input(arg, kind),), (), run, doc, "accessor", returns)


def _variable(node: ge.Node) -> ge.Tensor:
    if not isinstance(node, ge.AccumulateGrad):
        # torch's AttributeError text for the same access
        raise ProgramError("type-error", f"'{node.name()}' object has no attribute 'variable'")
    return node.variable


def _backward(t: ge.Tensor, gradient: ge.Tensor | None = None,
              inputs: Sequence[ge.Tensor] | None = None, *, retain_graph: bool | None = None,
              create_graph: bool = False) -> None:
    t.backward(gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)


def _autograd_grad(outputs: Sequence[ge.Tensor], inputs: Sequence[ge.Tensor],
                   grad_outputs: Sequence[ge.Tensor | None] | None = None, *,
                   retain_graph: bool | None = None, create_graph: bool = False,
                   allow_unused: bool | None = None) -> tuple[ge.Tensor | None, ...]:
    return ge.grad(outputs, inputs, grad_outputs, retain_graph=retain_graph,
                   create_graph=create_graph, allow_unused=allow_unused)


def _tensor(data: ge.Tensor, *, dtype: str | None = None, requires_grad: bool = False) -> ge.Tensor:
    # ``data`` was decoded with ``dtype`` already (interpreter, input kind "data"); torch.tensor
    # always copies, and raises its own message for requires_grad on an integer dtype.
    return ge.tensor(data, dtype=dtype, requires_grad=requires_grad)


_RETAIN = Param("retain_graph", "bool", None, optional=True,
                doc="Keep the graph for another backward (default: create_graph).")
_CREATE = Param("create_graph", "bool", False, doc="Record the backward pass for higher derivatives.")

BUILTINS: tuple[Builtin, ...] = (
    _accessor("grad", lambda t: t.grad, "x.grad: the gradient accumulated by backward, or None.",
              "Tensor or None"),
    _accessor("grad_fn", lambda t: t.grad_fn,
              "x.grad_fn: the graph node that produced x (None for leaves).", "node or None"),
    _accessor("requires_grad", lambda t: t.requires_grad, "x.requires_grad.", "bool"),
    _accessor("is_leaf", lambda t: t.is_leaf, "x.is_leaf.", "bool"),
    _accessor("retains_grad", lambda t: t.retains_grad, "x.retains_grad.", "bool"),
    _accessor("data", lambda t: t.data, "x.data: the same values outside the graph.", "Tensor"),
    _accessor("detach", lambda t: t.detach(), "x.detach(): a new leaf sharing x's values.", "Tensor"),
    _accessor("shape", lambda t: Size(t.shape), "x.shape (prints as torch.Size).", "Size"),
    _accessor("dtype", lambda t: t.dtype, "x.dtype (prints as torch.float32).", "dtype"),
    _accessor("numel", lambda t: t.numel(), "x.numel(): the number of elements.", "int"),
    _accessor("ndim", lambda t: t.ndim, "x.ndim: the number of dimensions.", "int"),
    _accessor("item", lambda t: t.item(), "x.item(): the value of a one-element tensor.", "number"),
    _accessor("next_functions", lambda n: n.next_functions,
              "node.next_functions: ((node or None, output_nr), ...).", "tuple", kind="node"),
    _accessor("variable", _variable, "node.variable: the leaf of an AccumulateGrad node.", "Tensor",
              kind="node"),
    Builtin("requires_grad_", (Input("input", "tensor"),),
            (Param("requires_grad", "bool", True),),
            lambda t, requires_grad=True: t.requires_grad_(requires_grad),
            "x.requires_grad_(flag): set the flag on a leaf; returns x.", "autograd", "Tensor"),
    Builtin("retain_grad", (Input("input", "tensor"),), (), lambda t: t.retain_grad(),
            "x.retain_grad(): keep .grad of a non-leaf after backward.", "autograd", "None"),
    Builtin("backward",
            (Input("input", "tensor"),
             Input("gradient", "tensor", required=False, nullable=True,
                   doc="d(loss)/d(input); needed unless input is a scalar."),
             Input("inputs", "tensors", required=False, nullable=True,
                   doc="Accumulate only into these leaves.")),
            (_RETAIN, _CREATE), _backward,
            "x.backward(gradient, retain_graph, create_graph, inputs): accumulate gradients into "
            "the leaves' .grad.", "autograd", "None"),
    Builtin("autograd.grad",
            (Input("outputs", "tensors", doc="A tensor or an array of tensors."),
             Input("inputs", "tensors", doc="A tensor or an array of tensors."),
             Input("grad_outputs", "tensors", required=False, nullable=True,
                   doc="One gradient (or null) per output.")),
            (_RETAIN, _CREATE,
             Param("allow_unused", "bool", None, optional=True,
                   doc="Return None for inputs the outputs do not depend on.")),
            _autograd_grad,
            "torch.autograd.grad: the gradients of outputs with respect to inputs, as a tuple "
            "(bind it to a list of names).", "autograd", "tuple"),
    Builtin("tensor", (Input("data", "data", doc="An array literal, a number or a tensor."),),
            (Param("dtype", "dtype", None, optional=True),
             Param("requires_grad", "bool", False)),
            _tensor, "torch.tensor(data, dtype, requires_grad): a new leaf.", "creation", "Tensor"),
)
