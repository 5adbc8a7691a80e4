"""The program's builtins: the calls the service adds to the engine's ops -- tensor accessors,
autograd entry points, ``torch.tensor`` and torch.autograd.functional's steps.

torch spells these as attributes, methods or ``torch.autograd`` functions (``x.grad``,
``y.grad_fn``, ``x.requires_grad_()``, ``out.backward()``, ``torch.autograd.grad``); a JSON program
spells every one of them as a call, so they are declared here in the same shape as registry ops and
flow through the same validation, interpreter and catalog (service/signatures.py).

The ``functional`` builtins (``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``hvp``, ``vhp``) are
torch.autograd.functional's, asked of outputs a program has already computed: they differentiate
the recorded graph (engine/functional.py's ``*_of``) instead of calling a function again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter, methodcaller
from typing import Any

import engine as ge
from engine import functional
from engine.context import check_shape
from engine.errors import NOT_REQUIRING_GRAD
from engine.registry import Param
from service.errors import ProgramError
from service.param_kinds import Input
from service.values import Decoded, Size


@dataclass(frozen=True)
class Builtin:
    name: str
    inputs: tuple[Input, ...]
    attrs: tuple[Param, ...]
    run: Callable[..., Any]  # run(*input_values, **attrs)
    doc: str
    category: str
    returns: str
    # Steps the call is charged before it runs, from its input values: the backward passes of a
    # jacobian or hessian (one per output element), so that max_steps bounds them.
    cost: Callable[..., int] | None = None


def _accessor(name: str, run: Callable[[Any], Any], doc: str, returns: str,
              kind: str = "tensor") -> Builtin:
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


def _autograd_backward(tensors: Sequence[ge.Tensor],
                       grad_tensors: Sequence[ge.Tensor | None] | None = None,
                       inputs: Sequence[ge.Tensor] | None = None, *,
                       retain_graph: bool | None = None, create_graph: bool = False) -> None:
    ge.backward(tensors, grad_tensors, retain_graph=retain_graph, create_graph=create_graph,
                inputs=inputs)


def _autograd_grad(outputs: Sequence[ge.Tensor], inputs: Sequence[ge.Tensor],
                   grad_outputs: Sequence[ge.Tensor | None] | None = None, *,
                   retain_graph: bool | None = None, create_graph: bool = False,
                   allow_unused: bool | None = None) -> tuple[ge.Tensor | None, ...]:
    return ge.grad(outputs, inputs, grad_outputs, retain_graph=retain_graph,
                   create_graph=create_graph, allow_unused=allow_unused)


def _zero_grad(tensors: Sequence[ge.Tensor], *, set_to_none: bool = True) -> None:
    # torch's Optimizer.zero_grad / Module.zero_grad over a list of tensors: ``x.grad = None``
    # (set_to_none, torch's default), or the gradient itself detached and zeroed in place (a
    # name bound to it sees the zeros).
    for t in tensors:
        g = t.grad
        if g is not None:
            if set_to_none:
                t.grad = None
                continue
            if g.grad_fn is not None:
                g.detach_()
            else:
                g.requires_grad_(False)
            with ge.no_grad():
                g.zero_()


# ----- torch.autograd.functional on the recorded graph -----------------------------------------
def _tensors(value: Any) -> tuple[ge.Tensor, ...]:
    return value if isinstance(value, tuple) else (value,)


def _check_inputs(inputs: Any, fn: str) -> None:
    """torch.autograd.functional makes its inputs require grad and runs the function again; a
    program's outputs are already computed, so every input must be in their graph already."""
    for i, t in enumerate(_tensors(inputs)):
        if isinstance(t, ge.Tensor) and not t.requires_grad:
            where = f"inputs[{i}]" if isinstance(inputs, tuple) else "inputs"
            raise ge.AutogradError(
                f"{NOT_REQUIRING_GRAD}: {fn}(): {where} does not require grad, so the recorded "
                "graph cannot be differentiated with respect to it (give it requires_grad=True "
                "before computing the outputs from it)")


def _check_single(output: ge.Tensor, fn: str) -> None:
    # torch's text, naming the step as torch names its function (the engine says hvp_of, ...)
    if output.numel() != 1:
        raise ge.AutogradError(f"The Tensor returned by the function given to {fn} should "
                               "contain a single element")


def _check_result_size(rows: Any, cols: Any, what: str) -> None:
    """Refuse a Jacobian (rows.shape + cols.shape per pair) over the size limits before computing
    it, as every other allocation is refused."""
    for r in _tensors(rows):
        for c in _tensors(cols):
            if isinstance(r, ge.Tensor) and isinstance(c, ge.Tensor):
                check_shape([*r.shape, *c.shape], what)


def _numel(value: Any) -> int:
    return sum(t.numel() for t in _tensors(value) if isinstance(t, ge.Tensor))


def _with_output(outputs: Any, product: Any, create_graph: bool) -> tuple[Any, Any]:
    """torch's (func(inputs), product) pair; the outputs detached unless create_graph."""
    if not create_graph:
        outputs = tuple(t.detach() for t in outputs) if isinstance(outputs, tuple) \
            else outputs.detach()
    return outputs, product


def _jacobian(outputs: Any, inputs: Any, *, create_graph: bool = False, strict: bool = False
              ) -> Any:
    _check_inputs(inputs, "jacobian")
    _check_result_size(outputs, inputs, "Jacobian")
    return functional.jacobian_of(outputs, inputs, create_graph=create_graph, strict=strict)


def _hessian(output: ge.Tensor, inputs: Any, *, create_graph: bool = False, strict: bool = False
             ) -> Any:
    _check_single(output, "hessian")
    _check_inputs(inputs, "hessian")
    _check_result_size(inputs, inputs, "Hessian")
    return functional.hessian_of(output, inputs, create_graph=create_graph, strict=strict)


def _product(name: str, product: Callable[..., Any], scalar_output: bool) -> Callable[..., Any]:
    """The step for one of torch's (outputs, product) functions: vjp, jvp, hvp, vhp."""

    def run(outputs: Any, inputs: Any, v: Any = None, *, create_graph: bool = False,
            strict: bool = False) -> tuple[Any, Any]:
        if scalar_output:
            _check_single(outputs, name)
        _check_inputs(inputs, name)
        return _with_output(outputs, product(outputs, inputs, v, create_graph=create_graph,
                                             strict=strict), create_graph)

    return run


_vjp = _product("vjp", functional.vjp_of, scalar_output=False)
_jvp = _product("jvp", functional.jvp_of, scalar_output=False)
_hvp = _product("hvp", functional.hvp_of, scalar_output=True)
_vhp = _product("vhp", functional.vhp_of, scalar_output=True)


_FN_ATTRS = (
    Param("create_graph", "bool", False,
          doc="Keep the results (and returned outputs) in the graph, for higher derivatives."),
    Param("strict", "bool", False,
          doc="Refuse (autograd-error) an output or derivative independent of an input, instead "
              "of answering zeros, as torch's strict mode does."),
)
_F_OUTPUTS = Input("outputs", "tensor_or_tensors",
                   doc="A tensor, or an array of tensors, already computed from the inputs.")
_F_OUTPUT = Input("output", "tensor",
                  doc="A single-element tensor already computed from the inputs (with grad on).")
_F_INPUTS = Input("inputs", "tensor_or_tensors",
                  doc="A tensor, or an array of tensors, that the outputs were computed from and "
                      "that require grad (leaves or intermediate results).")


def _f_v(like: str) -> Input:
    return Input("v", "tensor_or_tensors", required=False, nullable=True, like=like,
                 doc=f"The vector, shaped like {like}: one tensor, or an array with one tensor "
                     f"per entry of {like} when {like} is an array; null only where {like} is "
                     "one single-element tensor.")


def _functional(name: str, inputs: tuple[Input, ...], run: Callable[..., Any], doc: str,
                returns: str, cost: Callable[..., int] | None = None) -> Builtin:
    return Builtin(name, inputs, _FN_ATTRS, run, doc, "functional", returns, cost)


def _tensor(data: ge.Tensor | Decoded, *, dtype: str | None = None, requires_grad: bool = False
            ) -> ge.Tensor:
    # A literal was decoded with ``dtype`` already (input kind "data", service/param_kinds.py);
    # torch.tensor always copies, and raises its own message for requires_grad on an integer
    # dtype. What was decoded for this call alone (Decoded) needs no copy when its dtype is right.
    if isinstance(data, Decoded):
        t = data.tensor
        # (its dtype read once, and whether it is a float only when it is to require grad: each
        # is a property, a frame)
        dt = t.dtype
        if (dtype is None or ge.dtypes.get(dtype) is dt) and \
                (not requires_grad or dt.is_floating_point):
            return t.requires_grad_() if requires_grad else t
        data = t
    return ge.tensor(data, dtype=dtype, requires_grad=requires_grad)


_RETAIN = Param("retain_graph", "bool", None, optional=True,
                doc="Keep the graph for another backward (default: create_graph).")
_LEAVES = Input("inputs", "tensors", required=False, nullable=True,
                doc="Accumulate only into these leaves.")
_CREATE = Param("create_graph", "bool", False, doc="Record the backward pass for higher derivatives.")

# (an accessor reads through attrgetter or methodcaller, made in C: the value as the attribute
# gives it, without a lambda's frame in every call of it)
BUILTINS: tuple[Builtin, ...] = (
    _accessor("grad", attrgetter("grad"),
              "x.grad: the gradient accumulated by backward, or None.", "Tensor or None"),
    _accessor("grad_fn", attrgetter("grad_fn"),
              "x.grad_fn: the graph node that produced x (None for leaves).", "node or None"),
    _accessor("requires_grad", attrgetter("requires_grad"), "x.requires_grad.", "bool"),
    _accessor("is_leaf", attrgetter("is_leaf"), "x.is_leaf.", "bool"),
    _accessor("retains_grad", attrgetter("retains_grad"), "x.retains_grad.", "bool"),
    _accessor("version", attrgetter("_version"),
              "x._version: the in-place changes its storage has seen (shared with its views and "
              "detach()).", "int"),
    _accessor("is_view", methodcaller("_is_view"), "x._is_view(): whether x views another "
              "tensor's storage.", "bool"),
    _accessor("data", attrgetter("data"),
              "x.data: the same values outside the graph, in the same storage (with its own "
              "version counter).", "Tensor"),
    _accessor("detach", methodcaller("detach"), "x.detach(): a new leaf sharing x's storage and "
              "version counter.", "Tensor"),
    _accessor("shape", lambda t: Size(t.shape), "x.shape (prints as torch.Size).", "Size"),
    _accessor("dtype", attrgetter("dtype"), "x.dtype (prints as torch.float32).", "dtype"),
    _accessor("numel", methodcaller("numel"), "x.numel(): the number of elements.", "int"),
    _accessor("ndim", attrgetter("ndim"), "x.ndim: the number of dimensions.", "int"),
    _accessor("item", methodcaller("item"), "x.item(): the value of a one-element tensor.",
              "number"),
    _accessor("next_functions", attrgetter("next_functions"),
              "node.next_functions: ((node or None, output_nr), ...).", "tuple", kind="node"),
    _accessor("variable", _variable, "node.variable: the leaf of an AccumulateGrad node.", "Tensor",
              kind="node"),
    Builtin("requires_grad_", (Input("input", "tensor"),),
            (Param("requires_grad", "bool", True),),
            lambda t, requires_grad=True: t.requires_grad_(requires_grad),
            "x.requires_grad_(flag): set the flag on a leaf; returns x.", "autograd", "Tensor"),
    Builtin("retain_grad", (Input("input", "tensor"),), (), methodcaller("retain_grad"),
            "x.retain_grad(): keep .grad of a non-leaf after backward.", "autograd", "None"),
    Builtin("backward",
            (Input("input", "tensor"),
             Input("gradient", "tensor", required=False, nullable=True,
                   doc="d(loss)/d(input); needed unless input is a scalar."),
             _LEAVES),
            (_RETAIN, _CREATE), _backward,
            "x.backward(gradient, retain_graph, create_graph, inputs): accumulate gradients into "
            "the leaves' .grad.", "autograd", "None"),
    Builtin("autograd.backward",
            (Input("tensors", "tensors", doc="A tensor or an array of tensors."),
             Input("grad_tensors", "tensors", required=False, nullable=True,
                   doc="One gradient (or null: a scalar's implicit 1) per tensor."),
             _LEAVES),
            (_RETAIN, _CREATE), _autograd_backward,
            "torch.autograd.backward(tensors, grad_tensors, retain_graph, create_graph, inputs): "
            "backward from several tensors at once, accumulating into the leaves' .grad.",
            "autograd", "None"),
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
    Builtin("zero_grad", (Input("tensors", "tensors", doc="A tensor or an array of tensors."),),
            (Param("set_to_none", "bool", True,
                   doc="x.grad = None (true), or x.grad zeroed in place (false)."),),
            _zero_grad,
            "optimizer.zero_grad() over the given tensors: clear each one's .grad (torch's "
            "x.grad = None) so that the next backward starts afresh, e.g. in a training loop.",
            "autograd", "None"),
    _functional(
        "jacobian", (_F_OUTPUTS, _F_INPUTS), _jacobian,
        "torch.autograd.functional.jacobian of outputs already computed: d outputs / d inputs on "
        "the recorded graph, shape output.shape + input.shape; a tuple per output and/or per "
        "input given as an array. One backward pass (and step) per output element.",
        "Tensor, or tuple", cost=lambda outputs, inputs: _numel(outputs)),
    _functional(
        "hessian", (_F_OUTPUT, _F_INPUTS), _hessian,
        "torch.autograd.functional.hessian of a single-element output already computed: shape "
        "input.shape + input.shape; a tuple of tuples for an array of inputs. One backward pass "
        "(and step) per input element, plus one.",
        "Tensor, or tuple of tuples", cost=lambda output, inputs: 1 + _numel(inputs)),
    _functional(
        "vjp", (_F_OUTPUTS, _F_INPUTS, _f_v("outputs")), _vjp,
        "torch.autograd.functional.vjp on the recorded graph: (outputs, v^T J), the product "
        "shaped like inputs.", "tuple (outputs, vjp)"),
    _functional(
        "jvp", (_F_OUTPUTS, _F_INPUTS, _f_v("inputs")), _jvp,
        "torch.autograd.functional.jvp on the recorded graph (by the double-backward trick): "
        "(outputs, J v), the product shaped like outputs.", "tuple (outputs, jvp)"),
    _functional(
        "hvp", (_F_OUTPUT, _F_INPUTS, _f_v("inputs")), _hvp,
        "torch.autograd.functional.hvp on the recorded graph: (output, H v) for a single-element "
        "output, the product shaped like inputs.", "tuple (output, hvp)"),
    _functional(
        "vhp", (_F_OUTPUT, _F_INPUTS, _f_v("inputs")), _vhp,
        "torch.autograd.functional.vhp on the recorded graph: (output, v^T H) for a "
        "single-element output, the product shaped like inputs.", "tuple (output, vhp)"),
)
