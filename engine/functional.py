"""Jacobians, Hessians and their products, with torch.autograd.functional's meaning.

Two sets of functions, both computed with reverse mode and the engine's ``create_graph`` support:

* ``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``hvp``, ``vhp`` take a function and its inputs, as
  torch.autograd.functional does (same arguments, results, tuple structure and error messages;
  ``vectorize`` and forward-mode strategies are not offered).
* ``jacobian_of``, ``hessian_of``, ``vjp_of``, ``jvp_of``, ``hvp_of``, ``vhp_of`` take outputs that
  are already computed and the tensors (leaves or intermediate results) they were computed from,
  and differentiate the recorded graph without running anything again, as a program step does.
  The graph is kept (``retain_graph``) so that one program can ask several questions of it.

Forward-mode products (``jvp``, ``hvp``) use the double-backward trick: for a dummy ``u``, the
gradient ``J^T u`` is linear in ``u``, and its gradient with respect to ``u`` along ``v`` is ``J v``.

Layouts follow torch: the Jacobian of an output of shape ``S`` with respect to an input of shape
``T`` has shape ``S + T``; a function (or a list of outputs) with several outputs and several
inputs gives a tuple (per output) of tuples (per input).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from engine import autograd, errors, ops
from engine.backend import xp
from engine.errors import ArgumentError, AutogradError
from engine.grad_mode import is_grad_enabled, set_grad_enabled
from engine.tensor import Tensor

Tensors = tuple[Tensor, ...]
Grads = tuple["Tensor | None", ...]


# ----- arguments ----------------------------------------------------------------------------------
def _as_tuple(value: Any, what: str, fn: str) -> tuple[bool, Tensors]:
    """(whether ``value`` was a tuple, its tensors as a tuple), with torch's TypeError texts."""
    is_tuple = isinstance(value, tuple)
    items = value if is_tuple else (value,)
    if not is_tuple and not isinstance(value, Tensor):
        raise ArgumentError(f"The {what} given to {fn} must be either a Tensor or a tuple of Tensors but "
                            f"the given {what} has type {type(value)}.")
    for i, item in enumerate(items):
        if not isinstance(item, Tensor):
            raise ArgumentError(f"The {what} given to {fn} must be either a Tensor or a tuple of Tensors "
                                f"but the value at index {i} has type {type(item)}.")
    return is_tuple, items


def _untuple(result: Any, was_tuple: bool | tuple[bool, bool]) -> Any:
    """Unwrap the levels of ``result`` whose argument was a single Tensor (torch's convention)."""
    if isinstance(was_tuple, tuple):
        outputs_tuple, inputs_tuple = was_tuple
        if not inputs_tuple:
            result = tuple(r[0] for r in result)
        return result if outputs_tuple else result[0]
    return result if was_tuple else result[0]


def _prepare(tensors: Tensors, create_graph: bool, need_graph: bool) -> Tensors:
    """Fresh tensors to differentiate with respect to: detached, unless ``create_graph`` asks the
    results to stay differentiable with respect to the caller's own tensors."""
    out = []
    for t in tensors:
        if create_graph and t.requires_grad:
            out.append(ops.view(t, list(t.shape)))  # a new tensor, still in the caller's graph
        else:
            out.append(t.detach().requires_grad_(need_graph))
    return tuple(out)


def _finish(tensors: Any, create_graph: bool) -> Any:
    """Results leave detached unless ``create_graph``; nested tuples keep their structure."""
    if isinstance(tensors, tuple):
        return tuple(_finish(t, create_graph) for t in tensors)
    return tensors if create_graph else tensors.detach()


def _check_v(v: Tensors, like: Tensors, like_is_tuple: bool) -> None:
    """``v`` must match ``like`` (the outputs for vjp, the inputs for jvp/hvp/vhp) one to one."""
    if len(v) != len(like):
        if like_is_tuple:
            raise AutogradError(f"v is a tuple of invalid length: should be {len(like)} but got {len(v)}.")
        raise AutogradError("The given v should contain a single Tensor.")
    for i, (a, b) in enumerate(zip(v, like, strict=True)):
        if a.shape != b.shape:
            where = f"Entry {i} in " if like_is_tuple else ""
            raise AutogradError(f"{where}v has invalid size: should be {errors.size_repr(b.shape)} but got "
                                f"{errors.size_repr(a.shape)}.")


def _take_v(v: Any, like: Tensors, like_is_tuple: bool, fn: str, create_graph: bool,
            none_message: str) -> Tensors | None:
    """``v`` checked against ``like``; None is allowed only where ``like`` is one single-element
    tensor (the implicit seed 1)."""
    if v is None:
        if len(like) != 1 or like[0].numel() != 1:
            raise AutogradError(none_message)
        return None
    _, vs = _as_tuple(v, "v", fn)
    vs = _prepare(vs, create_graph, need_graph=False)
    _check_v(vs, like, like_is_tuple)
    return vs


_V_NONE_OUTPUT = ("The vector v can only be None if the user-provided function returns a single Tensor "
                  "with a single element.")
_V_NONE_INPUT = ("The vector v can only be None if the input to the user-provided function is a single "
                 "Tensor with a single element.")


# ----- strict mode --------------------------------------------------------------------------------
def _require_grad(tensors: Grads, kind: str, strict: bool) -> None:
    """In strict mode, refuse a result that cannot depend on the inputs (torch's texts)."""
    if not strict:
        return
    for i, t in enumerate(tensors):
        if t is None:
            raise AutogradError(f"The output of the user-provided function is independent of input {i}. "
                                "This is not allowed in strict mode.")
        if t.requires_grad:
            continue
        if kind == "jacobian":
            raise AutogradError(
                "While computing the hessian, found that the jacobian of the user-provided function with "
                f"respect to input {i} is independent of the input. This is not allowed in strict mode. "
                "You should ensure that your function is twice differentiable and that the jacobian "
                "depends on the inputs (this would be violated by a linear function for example).")
        if kind == "hessian":
            raise AutogradError(
                f"The hessian of the user-provided function with respect to input {i} is independent of "
                "the input. This is not allowed in strict mode. You should ensure that your function is "
                "thrice differentiable and that the hessian depends on the inputs.")
        if kind == "grad_inputs":
            raise AutogradError(f"The gradient with respect to input {i} is independent of the inputs of "
                                "the user-provided function. This is not allowed in strict mode.")
        raise AutogradError(f"Output {i} of the user-provided function does not require gradients. The "
                            "outputs must be computed in a differentiable manner from the input when "
                            "running in strict mode.")


_INDEPENDENT = {
    "back": "The output of the user-provided function is independent of input {i}. This is not allowed "
            "in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the "
                  "grad_outputs when using the double backward trick to compute forward mode gradients. "
                  "This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. This is not "
                   "allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {i} in the "
                         "grad_jacobian. This is not allowed in strict mode as it prevents from using the "
                         "double backward trick to replace forward mode AD.",
}


def _zeros_for_missing(grads: Grads, like: Tensors, strict: bool, create_graph: bool, stage: str
                       ) -> Tensors:
    """Zeros where no gradient flowed (torch's strict mode refuses that, and, with create_graph, a
    gradient that is a constant)."""
    out = []
    for i, (g, ref) in enumerate(zip(grads, like, strict=True)):
        if g is None:
            if strict:
                raise AutogradError(_INDEPENDENT[stage].format(i=i))
            g = ops.zeros_like(ref)
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise AutogradError(f"The {what} of the user-provided function is independent of input {i}. "
                                "This is not allowed in strict mode when create_graph=True.")
        out.append(g)
    return tuple(out)


# ----- one reverse pass ---------------------------------------------------------------------------
def _grad(outputs: Sequence[Tensor | None], inputs: Tensors, seeds: Sequence[Tensor | None] | None = None,
          create_graph: bool = False, retain_graph: bool | None = None) -> Grads:
    """engine.grad over the outputs that carry a gradient, with respect to the inputs that require
    one; None for an input nothing reaches (or that requires no gradient)."""
    if seeds is None:
        seeds = [None] * len(outputs)
    live = [(o, s) for o, s in zip(outputs, seeds, strict=True) if o is not None and o.requires_grad]
    wanted = [i for i, t in enumerate(inputs) if t.requires_grad]
    result: list[Tensor | None] = [None] * len(inputs)
    if live and wanted:
        found = autograd.grad([o for o, _ in live], [inputs[i] for i in wanted], [s for _, s in live],
                              retain_graph=retain_graph, create_graph=create_graph, allow_unused=True)
        for i, g in zip(wanted, found, strict=True):
            result[i] = g
    return tuple(result)


def _one_hot(like: Tensor, j: int) -> Tensor:
    flat = xp.zeros(like.numel(), dtype=like._data.dtype)
    flat[j] = 1
    return Tensor(flat.reshape(like.shape))


def _jacobian_rows(outputs: Tensors, inputs: Tensors, create_graph: bool, strict: bool
                   ) -> tuple[Tensors, ...]:
    """For each output, for each input, d output / d input in the layout output.shape + input.shape:
    one backward pass per output element, with a one-hot seed, keeping the graph."""
    result = []
    for i, out in enumerate(outputs):
        rows: list[list[Tensor]] = [[] for _ in inputs]
        for j in range(out.numel()):
            grads = _grad([out], inputs, [_one_hot(out, j)], create_graph, retain_graph=True)
            for k, (g, inp) in enumerate(zip(grads, inputs, strict=True)):
                if g is None:
                    if strict:
                        raise AutogradError(f"Output {i} of the user-provided function is independent of "
                                            f"input {k}. This is not allowed in strict mode.")
                    g = ops.zeros_like(inp)
                elif strict and create_graph and not g.requires_grad:
                    raise AutogradError(f"The jacobian of the user-provided function is independent of "
                                        f"input {i}. This is not allowed in strict mode when "
                                        "create_graph=True.")
                rows[k].append(g)
        result.append(tuple(_stack_rows(r, out, inp) for r, inp in zip(rows, inputs, strict=True)))
    return tuple(result)


def _stack_rows(rows: list[Tensor], out: Tensor, inp: Tensor) -> Tensor:
    shape = [*out.shape, *inp.shape]
    if not rows:  # an empty output (torch's stack refuses the empty list; its shape is clear)
        return ops.zeros(shape, dtype=inp.dtype.name)
    return ops.view(ops.stack(rows, 0), shape)


# ----- torch.autograd.functional ------------------------------------------------------------------
def vjp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """(func(inputs), v^T J): the vector-Jacobian product, shaped like the inputs."""
    with set_grad_enabled(True):
        in_tuple, ins = _as_tuple(inputs, "inputs", "vjp")
        ins = _prepare(ins, create_graph, need_graph=True)
        out_tuple, outs = _as_tuple(func(*ins), "outputs of the user-provided function", "vjp")
        _require_grad(outs, "outputs", strict)
        vs = _take_v(v, outs, out_tuple, "vjp", create_graph, _V_NONE_OUTPUT)
    with set_grad_enabled(create_graph):
        grads = _grad(outs, ins, vs, create_graph)
        res = _zeros_for_missing(grads, ins, strict, create_graph, "back")
    return _untuple(_finish(outs, create_graph), out_tuple), _untuple(_finish(res, create_graph), in_tuple)


def jvp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """(func(inputs), J v): the Jacobian-vector product, shaped like the outputs (by the
    double-backward trick)."""
    with set_grad_enabled(True):
        in_tuple, ins = _as_tuple(inputs, "inputs", "jvp")
        ins = _prepare(ins, create_graph, need_graph=True)
        vs = _take_v(v, ins, in_tuple, "jvp", create_graph, _V_NONE_INPUT)
        out_tuple, outs = _as_tuple(func(*ins), "outputs of the user-provided function", "jvp")
        _require_grad(outs, "outputs", strict)
        res = _jvp_by_double_backward(outs, ins, vs, create_graph, strict)
    return _untuple(_finish(outs, create_graph), out_tuple), _untuple(_finish(res, create_graph), out_tuple)


def _jvp_by_double_backward(outs: Tensors, ins: Tensors, vs: Tensors | None, create_graph: bool,
                            strict: bool) -> Tensors:
    # J^T u is linear in u, so the value of u does not matter (zeros keep NaN away)
    with set_grad_enabled(True):
        us = tuple(ops.zeros_like(o, requires_grad=True) for o in outs)
        grad_inputs = _grad(outs, ins, us, create_graph=True, retain_graph=True)
        _require_grad(grad_inputs, "grad_inputs", strict)
    with set_grad_enabled(create_graph):
        grads = _grad(grad_inputs, us, vs, create_graph)
        return _zeros_for_missing(grads, outs, strict, create_graph, "back_trick")


def jacobian(func: Callable[..., Any], inputs: Any, create_graph: bool = False, strict: bool = False
             ) -> Any:
    """d func(inputs) / d inputs: shape output.shape + input.shape, a tuple per output and/or per
    input where func returns, or inputs is, a tuple."""
    with set_grad_enabled(True):
        in_tuple, ins = _as_tuple(inputs, "inputs", "jacobian")
        ins = _prepare(ins, create_graph, need_graph=True)
        out_tuple, outs = _as_tuple(func(*ins), "outputs of the user-provided function", "jacobian")
        _require_grad(outs, "outputs", strict)
        jac = _jacobian_rows(outs, ins, create_graph, strict)
    return _untuple(_finish(jac, create_graph), (out_tuple, in_tuple))


def hessian(func: Callable[..., Any], inputs: Any, create_graph: bool = False, strict: bool = False
            ) -> Any:
    """The Hessian of a function with a single-element output: input.shape + input.shape, a tuple
    of tuples for a tuple of inputs."""
    in_tuple, ins = _as_tuple(inputs, "inputs", "hessian")

    def scalar_func(*xs: Tensor) -> Tensor:
        out = func(*xs)
        _, outs = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _require_grad(outs, "outputs", strict)
        _check_single(out, "hessian")
        return ops.squeeze(out)

    def gradient(*xs: Tensor) -> Any:
        jac = jacobian(scalar_func, xs, create_graph=True)
        _require_grad(jac, "jacobian", strict)
        return jac

    return _untuple(jacobian(gradient, ins, create_graph, strict), (in_tuple, in_tuple))


def _check_single(out: Any, fn: str) -> None:
    if not isinstance(out, Tensor):
        raise AutogradError(f"The function given to {fn} should return a single Tensor")
    if out.numel() != 1:
        raise AutogradError(f"The Tensor returned by the function given to {fn} should contain a single "
                            "element")


def _gradient_of_scalar(func: Callable[..., Any], inputs: Any, v: Any, create_graph: bool, strict: bool,
                        fn: str) -> tuple[bool, Tensor, Tensors, Tensors | None, Grads]:
    """What hvp and vhp share: (inputs were a tuple, the output, the inputs, v, the gradient built
    with create_graph)."""
    with set_grad_enabled(True):
        in_tuple, ins = _as_tuple(inputs, "inputs", fn)
        ins = _prepare(ins, create_graph, need_graph=True)
        vs = _take_v(v, ins, in_tuple, fn, create_graph, _V_NONE_INPUT)
        out = func(*ins)
        out_tuple, outs = _as_tuple(out, "outputs of the user-provided function", fn)
        _require_grad(outs, "outputs", strict)
        _check_single(None if out_tuple else out, fn)
        jac = _grad(outs, ins, create_graph=True, retain_graph=True)
        _require_grad(jac, "jacobian", strict)
    return in_tuple, outs[0], ins, vs, jac


def vhp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """(func(inputs), v^T H) for a function with a single-element output."""
    in_tuple, out, ins, vs, jac = _gradient_of_scalar(func, inputs, v, create_graph, strict, "vhp")
    with set_grad_enabled(create_graph or is_grad_enabled()):
        res = _zeros_for_missing(_grad(jac, ins, vs, create_graph), ins, strict, create_graph, "double_back")
    return _finish(out, create_graph), _untuple(_finish(res, create_graph), in_tuple)


def hvp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """(func(inputs), H v) for a function with a single-element output (by the double-backward
    trick on its gradient)."""
    in_tuple, out, ins, vs, jac = _gradient_of_scalar(func, inputs, v, create_graph, strict, "hvp")
    res = _hvp_by_double_backward(jac, ins, vs, create_graph, strict)
    return _finish(out, create_graph), _untuple(_finish(res, create_graph), in_tuple)


def _hvp_by_double_backward(jac: Grads, ins: Tensors, vs: Tensors | None, create_graph: bool,
                            strict: bool) -> Tensors:
    with set_grad_enabled(True):
        us = tuple(ops.zeros_like(t, requires_grad=True) for t in ins)
        double_back = _grad(jac, ins, us, create_graph=True, retain_graph=True)
        _require_grad(jac, "hessian", strict)
    with set_grad_enabled(create_graph or is_grad_enabled()):
        grads = _grad(double_back, us, vs, create_graph)
        return _zeros_for_missing(grads, ins, strict, create_graph, "double_back_trick")


# ----- the same, on outputs already computed ------------------------------------------------------
def jacobian_of(outputs: Any, inputs: Any, create_graph: bool = False, strict: bool = False) -> Any:
    """d outputs / d inputs on the recorded graph: one backward pass per output element (a one-hot
    seed), the graph retained. Layout and tuple structure as :func:`jacobian`; zeros for an input
    the outputs do not depend on (an error in strict mode)."""
    out_tuple, outs = _as_tuple(outputs, "outputs", "jacobian_of")
    in_tuple, ins = _as_tuple(inputs, "inputs", "jacobian_of")
    _require_grad(outs, "outputs", strict)
    with set_grad_enabled(create_graph):
        jac = _jacobian_rows(outs, ins, create_graph, strict)
    return _untuple(jac, (out_tuple, in_tuple))


def hessian_of(output: Tensor, inputs: Any, create_graph: bool = False, strict: bool = False) -> Any:
    """The Hessian of a single-element output with respect to ``inputs``: the gradient, taken with
    create_graph, then its Jacobian. The output must have been computed with grad enabled."""
    _check_single(output, "hessian_of")
    in_tuple, ins = _as_tuple(inputs, "inputs", "hessian_of")
    _require_grad((output,), "outputs", strict)
    with set_grad_enabled(True):
        grads = _grad([output], ins, create_graph=True, retain_graph=True)
        _require_grad(grads, "jacobian", strict)
        grads = _zeros_for_missing(grads, ins, False, True, "back")
    return _untuple(jacobian_of(grads, ins, create_graph, strict), (in_tuple, in_tuple))


def vjp_of(outputs: Any, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
           ) -> Any:
    """v^T J for outputs already computed, shaped like the inputs."""
    out_tuple, outs = _as_tuple(outputs, "outputs", "vjp_of")
    in_tuple, ins = _as_tuple(inputs, "inputs", "vjp_of")
    _require_grad(outs, "outputs", strict)
    vs = _take_v(v, outs, out_tuple, "vjp_of", create_graph, _V_NONE_OUTPUT)
    with set_grad_enabled(create_graph):
        grads = _grad(outs, ins, vs, create_graph, retain_graph=True)
        res = _zeros_for_missing(grads, ins, strict, create_graph, "back")
    return _untuple(res, in_tuple)


def jvp_of(outputs: Any, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
           ) -> Any:
    """J v for outputs already computed, shaped like the outputs (double-backward trick)."""
    out_tuple, outs = _as_tuple(outputs, "outputs", "jvp_of")
    in_tuple, ins = _as_tuple(inputs, "inputs", "jvp_of")
    _require_grad(outs, "outputs", strict)
    vs = _take_v(v, ins, in_tuple, "jvp_of", create_graph, _V_NONE_INPUT)
    return _untuple(_jvp_by_double_backward(outs, ins, vs, create_graph, strict), out_tuple)


def _gradient_of_output(output: Tensor, inputs: Any, v: Any, create_graph: bool, strict: bool, fn: str
                        ) -> tuple[bool, Tensors, Tensors | None, Grads]:
    _check_single(output, fn)
    in_tuple, ins = _as_tuple(inputs, "inputs", fn)
    _require_grad((output,), "outputs", strict)
    vs = _take_v(v, ins, in_tuple, fn, create_graph, _V_NONE_INPUT)
    with set_grad_enabled(True):
        jac = _grad([output], ins, create_graph=True, retain_graph=True)
        _require_grad(jac, "jacobian", strict)
    return in_tuple, ins, vs, jac


def vhp_of(output: Tensor, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
           ) -> Any:
    """v^T H for a single-element output already computed (with grad enabled)."""
    in_tuple, ins, vs, jac = _gradient_of_output(output, inputs, v, create_graph, strict, "vhp_of")
    with set_grad_enabled(create_graph):
        grads = _grad(jac, ins, vs, create_graph, retain_graph=True)
        return _untuple(_zeros_for_missing(grads, ins, strict, create_graph, "double_back"), in_tuple)


def hvp_of(output: Tensor, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
           ) -> Any:
    """H v for a single-element output already computed (with grad enabled)."""
    in_tuple, ins, vs, jac = _gradient_of_output(output, inputs, v, create_graph, strict, "hvp_of")
    return _untuple(_hvp_by_double_backward(jac, ins, vs, create_graph, strict), in_tuple)
