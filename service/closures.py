"""The compiled form of a program: every statement and every call a closure, made once per program.

The compilers (service/compiler.py from the request models, service/json_compiler.py straight from
the JSON) call the builders here, one per kind of statement; each returns a *step*: a function
``step(it)`` that executes the statement, ``it`` being the interpreter of one run
(service/interpreter.py: the names bound, the step count, the clock, the engine's context). What a
step does is decided when it is built -- which checks, which engine function, how each argument is
read -- so running a program asks no node what it is: a call statement is one Python frame (and
its tick), where a walk over nodes took three.

Expressions stay small nodes (:class:`Const`, :class:`Ref`, :class:`Array`, :class:`Obj`,
:class:`Call`): an argument's reader (service/param_kinds.py) is given the node, for its value
(``e.run(it)``), its literal and its JSON pointer. A step holds nothing of one run, so a compiled
program serves any number of runs, on any thread (the compile cache, service/compile_cache.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import engine as ge
from service import inline_policy
from service.errors import InternalError, ProgramError, limit_exceeded
from service.inline_policy import Preempted
from service.param_kinds import READERS, TAKES, Input, Reader
from service.pointer import Path, pointer
from service.printing import print_line, to_str
from service.signatures import SIGNATURES, Signature
from service.values import type_name

if TYPE_CHECKING:
    from service.interpreter import Interpreter

Step = Callable[["Interpreter"], None]  # a compiled statement: executes it


class Break(Exception):
    """A ``break`` on its way to the innermost loop."""


class Continue(Exception):
    """A ``continue`` on its way to the innermost loop."""


# ----- expressions ------------------------------------------------------------------------------
@dataclass(slots=True)
class Const:
    value: Any  # a number, a bool or None
    path: Path

    def run(self, it: Any) -> Any:  # (it: the interpreter; the Evaluator its readers see)
        return self.value


@dataclass(slots=True)
class Ref:
    name: str
    path: Path

    def run(self, it: Any) -> Any:  # (it: the interpreter; the Evaluator its readers see)
        try:
            return it.env[self.name]
        except KeyError:
            raise it.unknown_name(self.name, self.path) from None


@dataclass(slots=True)
class Array:
    items: list[Any]  # the raw nested list: a tensor literal, or a list of tensors for "tensors"
    path: Path

    def run(self, it: Any) -> Any:  # (it: the interpreter; the Evaluator its readers see)
        return it.tensor(self)


@dataclass(slots=True)
class Obj:
    tensor: Any  # the request's TensorObject
    path: Path

    def run(self, it: Any) -> Any:  # (it: the interpreter; the Evaluator its readers see)
        return it.tensor(self)


@dataclass(slots=True)
class Call:
    """A call as an argument (or a condition, a printed value): ``run(it)`` calls it and gives
    its value (made by :func:`call`)."""

    run: Callable[[Any], Any]
    path: Path


@dataclass(slots=True)
class Site:
    """A call, as its arguments' readers and its errors see it. (Not the :class:`Call` node: the
    function that runs a call holds its site, and a site that held the function back would make
    every compiled call a reference cycle, left for the garbage collector.)"""

    sig: Signature
    attrs: dict[str, Any]
    path: Path
    # tensor names inside "index" attrs: (attr, position in its item list or None, name)
    refs: Sequence[tuple[str, int | None, str]] = ()
    # where the request spelled the attrs ("attrs" of the call; a setitem statement's index)
    attrs_path: Path | None = None


Expr = Const | Ref | Array | Obj | Call


# ----- calls ------------------------------------------------------------------------------------
# each signature's inputs with their readers (service/param_kinds.py) and the types a reader
# takes as they are (None: it must be called), in order
_READS: dict[str, tuple[tuple[Reader, Input, Any], ...]] = {
    name: tuple((READERS[spec.kind], spec, TAKES.get(READERS[spec.kind])) for spec in sig.inputs)
    for name, sig in SIGNATURES.items()}

# How a call reads one argument (its plan, made when it is built): a name the input's kind takes
# by type is looked up, a constant it takes is given as it is, a nested call is run and its value
# checked by type; anything else, or a value of another type, goes to the kind's reader
# (service/param_kinds.py), which answers as it always does.
NAME, TAKEN, NESTED, READ = 0, 1, 2, 3
# (how, the name / the constant / the nested call's run, the types the kind takes, reader, input,
# the argument's node)
Plan = tuple[int, Any, Any, Reader, Input, Expr]


def _plan(sig: Signature, args: list[Expr]) -> tuple[Plan, ...]:
    plan: list[Plan] = []
    # (zip without strict=: a keyword makes zip's call the slow one; the compilers checked the
    # count of args, never more than the inputs)
    for (read, spec, takes), e in zip(_READS[sig.name], args):  # noqa: B905
        if takes is None:
            plan.append((READ, None, None, read, spec, e))
        elif type(e) is Ref:
            plan.append((NAME, e.name, takes, read, spec, e))
        elif type(e) is Const and isinstance(e.value, takes):
            plan.append((TAKEN, e.value, takes, read, spec, e))
        elif type(e) is Call:
            plan.append((NESTED, e.run, takes, read, spec, e))
        else:
            plan.append((READ, None, None, read, spec, e))
    return tuple(plan)


_UNBOUND: Any = object()  # (no name is bound to it: a lookup's miss)
_NO_REFS: tuple[tuple[str, int | None, str], ...] = ()


def call(sig: Signature, args: list[Expr], attrs: dict[str, Any], path: Path, statement: bool,
         bind: str | list[Any] | None = None,
         refs: list[tuple[str, int | None, str]] | None = None,
         attrs_path: Path | None = None) -> Any:
    """A call of ``sig``: as a ``statement``, its step (ticks, calls, binds the value to
    ``bind``: a name, or names to unpack into); else its :class:`Call` node (an argument, a
    condition, a printed value). Either runs one function, given ``statement`` by ``partial``
    (in C): a call is one Python frame."""
    c = Site(sig, attrs, path, refs or _NO_REFS, attrs_path)

    # (what it needs given as defaults, not taken from the enclosing scope: one tuple, where a
    # closure makes a cell per name, each an object the garbage collector then tracks)
    def invoke(statement: bool, it: Interpreter, c: Site = c, plan: tuple[Plan, ...] = _plan(
            sig, args), bind: Any = bind, path: Path = c.path, attrs: dict[str, Any] = c.attrs,
            name: str = sig.name, direct: Any = sig.direct, general: Any = sig.call,
            cost: Any = sig.builtin.cost if sig.builtin is not None else None,
            resolve: bool = bool(c.refs)) -> Any:
        # a statement ticks (a step, the clock, cancellation); a nested call looks at the clock,
        # so that one statement with a wide expression cannot outrun the deadline by much
        if statement:
            it.tick(path)
        else:
            now = it.clock()
            if now > it.soonest:
                it.clock_passed(now, path)
        # each argument as its input's kind reads it, given the values of the arguments before it
        values: list[Any] = []
        env = it.env
        for how, x, takes, read, spec, e in plan:
            if how == NAME:
                v = env.get(x, _UNBOUND)
                if v is not _UNBOUND and isinstance(v, takes):
                    values.append(v)
                    continue
            elif how == TAKEN:
                values.append(x)
                continue
            elif how == NESTED:
                v = x(it)
                if isinstance(v, takes):
                    values.append(v)
                    continue
                e = Const(v, e.path)  # (the reader checks the value it has, not a second run)
            values.append(read(it, c, spec, e, values))
        kw = it.resolve_refs(c) if resolve else attrs
        if cost is not None:
            passes = cost(*values)
            if it.inline and inline_policy.too_many_passes(passes):
                raise Preempted  # before the call: the budget is checked between calls only
            it.charge(passes, path)
        if it.anomaly:
            it.note_step(path, name)
        it.op_counts[name] += 1
        try:
            v = direct(*values, **kw) if direct is not None else general(values, kw)
        except ge.AnomalyError as err:
            raise it.anomaly_error(err, path) from None
        except ge.EngineError as err:
            raise it.engine_error(err, path) from None
        except ProgramError as err:
            err.pointer = err.pointer or pointer(path)
            raise
        except Preempted:
            raise
        except Exception as exc:  # anything else escaping the engine is a bug: a 500 saying where
            raise InternalError(pointer(path)) from exc
        if not statement:
            return v
        if bind is None:
            return None
        if type(bind) is str:
            env[bind] = v
        else:
            it.unpack(bind, v, (*path, "name"))
        return None

    if statement:
        return partial(invoke, True)
    return Call(partial(invoke, False), path)


# ----- statements -------------------------------------------------------------------------------
def truth(it: Interpreter, e: Expr) -> bool:
    """A condition's truth, as Python's ``if`` takes it (a one-element tensor by its value)."""
    v = e.run(it)
    if isinstance(v, ge.Tensor):
        if v.numel() != 1:
            raise ProgramError("type-error", "Boolean value of Tensor with more than one "
                               "value is ambiguous", pointer(e.path))
        return bool(v.item())
    return bool(v)


def _iteration(it: Interpreter, body: list[Step]) -> bool:
    """Run one iteration of a loop body; False when it ends the loop (break)."""
    it.loop_iterations += 1
    try:
        for st in body:
            st(it)
    except Continue:
        pass
    except Break:
        return False
    return True


def print_(values: list[Expr], path: Path, sep: str = " ", end: str = "\n") -> Step:
    # (given as defaults, as a call's are: the most frequent statement after calls)
    def execute(it: Interpreter, values: list[Expr] = values, path: Path = path, sep: str = sep,
                end: str = end) -> None:
        it.tick(path)
        line = print_line([e.run(it) for e in values], sep, end)
        it.printed_chars += len(line) + 1
        cap = it.settings.max_printed_chars
        if it.printed_chars > cap:
            raise limit_exceeded("max_printed_chars", it.printed_chars, cap,
                                 f"print statements produced more than {cap} characters",
                                 pointer(path))
        it.printed.append(line)

    return execute


def while_(cond: Expr, body: list[Step], max_iter: int | None, path: Path) -> Step:
    def execute(it: Interpreter) -> None:
        it.tick(path)
        limit, cap = it.loop_cap(max_iter)
        n = 0
        while truth(it, cond):
            n += 1
            if n > cap:
                where = (*path, "max_iter") if limit == "max_iter" else path
                raise limit_exceeded(limit, n, cap, f"the while loop did not end within {cap} "
                                     "iterations", pointer(where))
            if not _iteration(it, body):
                break
            it.tick(path)  # each further check of the condition is a step

    return execute


def for_(target: str | list[Any], iterable: Expr, body: list[Step], path: Path) -> Step:
    bind_at = (*path, "for")

    def execute(it: Interpreter) -> None:
        it.tick(path)
        items = iterable.run(it)
        if isinstance(items, ge.Tensor):
            if items.ndim == 0:
                raise ProgramError("type-error", "iteration over a 0-d tensor",
                                   pointer(iterable.path))
            rows, tensor = items.shape[0], items
            items = (tensor[i] for i in range(rows))  # its rows, as torch iterates a tensor
        elif not isinstance(items, (range, list, tuple)):
            raise ProgramError("type-error", f"'{type_name(items)}' object is not iterable",
                               pointer(iterable.path))
        limit, cap = it.loop_cap(None)
        for n, item in enumerate(items, 1):
            if n > cap:
                raise limit_exceeded(limit, n, cap, f"the for loop did not end within {cap} "
                                     "iterations", pointer(path))
            it.unpack(target, item, bind_at)
            if not _iteration(it, body):
                break
            it.tick(path)  # each further element is a step

    return execute


def if_(cond: Expr, then: list[Step], orelse: list[Step], path: Path) -> Step:
    def execute(it: Interpreter) -> None:
        it.tick(path)
        for st in then if truth(it, cond) else orelse:
            st(it)

    return execute


def grad_mode(enabled: bool, body: list[Step], path: Path) -> Step:
    """``no_grad`` (``enabled`` False) or ``enable_grad``: the body in that grad mode."""
    def execute(it: Interpreter) -> None:
        it.tick(path)
        with ge.set_grad_enabled(enabled):
            for st in body:
                st(it)

    return execute


def jump(leave: bool, path: Path) -> Step:
    """``break`` (``leave``) or ``continue``."""
    def execute(it: Interpreter) -> None:
        it.tick(path)
        raise Break if leave else Continue

    return execute


def assert_(cond: Expr, message: Expr | None, path: Path) -> Step:
    def execute(it: Interpreter) -> None:
        it.tick(path)
        if truth(it, cond):
            return
        detail = "AssertionError"
        if message is not None:
            detail = f"AssertionError: {to_str(message.run(it))}"[:1000]
        raise ProgramError("assertion-error", detail, pointer(path))

    return execute


def set_grad(target: Expr, value: Expr, path: Path) -> Step:
    """``target.grad = value`` (a tensor or null)."""
    def execute(it: Interpreter) -> None:
        it.tick(path)
        t, v = target.run(it), value.run(it)
        if not isinstance(t, ge.Tensor):
            raise ProgramError("type-error", f"set_grad: the target must be a Tensor, not "
                               f"{type_name(t)}", pointer(target.path))
        if v is not None and not isinstance(v, ge.Tensor):
            raise ProgramError("type-error", "assigned grad expected to be a Tensor or None but "
                               f"got grad of type {type_name(v)}", pointer(value.path))
        try:
            t.grad = v
        except ge.EngineError as err:
            raise it.engine_error(err, path) from None

    return execute
