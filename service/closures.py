"""The compiled form of a program: every statement a function (or a function bound to what it
holds), made once per program.

The compilers (service/compiler.py from the request models, service/json_compiler.py straight from
the JSON) call the builders here, one per kind of statement; each returns a *step*: a callable
``step(it)`` that executes the statement, ``it`` being the interpreter of one run
(service/interpreter.py: the names bound, the step count, the clock, the engine's context). What a
step does is decided when it is built -- which checks, which engine function, how each argument is
read -- so running a program asks no node what it is: a call statement is one Python frame (and
its tick), where a walk over nodes took three.

A call is :func:`invoke` bound (``types.MethodType``, in C) to the call's compiled site: a plain
tuple of the fields of :class:`Site`, its argument plan among them. Compiling makes one per call
of every request's program, so a call costs a few tuples, not a function with its defaults and a
``partial``; and nothing in a site refers back to what is bound to it, so no compiled call is a
reference cycle left for the garbage collector.

Expressions stay small nodes (:class:`Const`, :class:`Ref`, :class:`Array`, :class:`Obj`,
:class:`Call`) where they are read as nodes (printed values, conditions, the arguments of kinds
that read a node); an argument that is a name, a number or a call is in its call's plan without
one, and an argument's reader (service/param_kinds.py) is given a node, for its value
(``e.run(it)``), its literal and its JSON pointer, made when it is needed. A step holds nothing of
one run, so a compiled program serves any number of runs, on any thread (the compile cache,
service/compile_cache.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import MethodType
from typing import TYPE_CHECKING, Any, NamedTuple

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


class Site(NamedTuple):
    """A compiled call: what its arguments' readers and its errors see (``sig``, ``attrs``,
    ``path``, ``refs``, ``attrs_path``), and what running it needs, fixed when it is built.

    Compiling makes one per call of the program, as a plain tuple of these fields (:func:`head`'s
    and the call's own: made in C, and less to allocate and free than this class's);
    :func:`invoke` bound to it (``MethodType``) is the call's step, or its :class:`Call` node's
    ``run``, and makes this view of it only for a reader or the interpreter (an argument not of
    the types its kind takes, or index attrs that name tensors). Nothing in it holds the function
    bound to it, so a compiled call is no reference cycle for the garbage collector."""

    # the signature's part (:func:`head`), the same for every call of it
    sig: Signature
    name: str  # counted per call
    direct: Any  # sig.direct: called with the values (most ops); else
    general: Any  # sig.call, with the values and the attrs
    cost: Any  # the builtin's cost (backward passes it runs), if it has one
    # the call's own
    attrs: dict[str, Any]
    path: Path
    statement: bool  # a statement (ticks, binds), or an argument (looks at the clock)
    # how each argument is read (:func:`arguments`): a list, never changed once built (a tuple
    # would be a copy of the list the compilers build it in)
    plan: list[Plan]
    bind: str | list[Any] | None  # a statement's name, or names to unpack into
    # tensor names inside "index" attrs: (attr, position in its item list or None, name)
    refs: Sequence[tuple[str, int | None, str]]
    # where the request spelled the attrs ("attrs" of the call; a setitem statement's index)
    attrs_path: Path | None


Expr = Const | Ref | Array | Obj | Call


# ----- calls ------------------------------------------------------------------------------------
Kind = tuple[Reader, Input, Any]  # an input's reader, the input, the types the reader takes
# each signature's inputs with their readers (service/param_kinds.py) and the types a reader
# takes as they are (None: it must be called), in order
READS: dict[str, tuple[Kind, ...]] = {
    name: tuple((READERS[spec.kind], spec, TAKES.get(READERS[spec.kind])) for spec in sig.inputs)
    for name, sig in SIGNATURES.items()}

# How a call reads one argument (its plan, made when it is built): a name the input's kind takes
# by type is looked up, a constant it takes is given as it is, a nested call is run and its value
# checked by type; anything else, or a value of another type, goes to the kind's reader
# (service/param_kinds.py), which answers as it always does.
NAME, TAKEN, NESTED, READ = 0, 1, 2, 3
# (how, the name / the constant / the nested call's run / the argument's node (READ), the types
# the kind takes, reader, input, the argument's path from the call's (NAME, NESTED: the node the
# reader is given is made with it, only when the value is not of those types; a constant taken
# needs none))
Plan = tuple[int, Any, Any, Reader, Input, Any]


def arguments(kinds: Sequence[Kind], args: Sequence[Expr], n: int) -> list[Plan]:
    """How a call reads its arguments ``args`` (nodes; ``kinds``: its inputs' items of
    :data:`READS`, in order; ``n``: the length of the call's path, the arguments' paths being
    below it). (service/json_compiler.py makes the same tuples for a name, a number and a nested
    call without a node, and comes here for any other argument; tests/service/
    test_json_compiler.py compares the two.)"""
    plan: list[Plan] = []
    # (zip without strict=: a keyword makes zip's call the slow one; the compilers checked the
    # count of args, never more than the inputs)
    for (read, spec, takes), e in zip(kinds, args):  # noqa: B905
        if takes is None:
            plan.append((READ, e, None, read, spec, None))
        elif type(e) is Ref:
            plan.append((NAME, e.name, takes, read, spec, e.path[n:]))
        elif type(e) is Const and isinstance(e.value, takes):
            plan.append((TAKEN, e.value, takes, read, spec, None))
        elif type(e) is Call:
            plan.append((NESTED, e.run, takes, read, spec, e.path[n:]))
        else:
            plan.append((READ, e, None, read, spec, None))
    return plan


# an argument's path from its call's, by position: shared by every call's plan (a plan keeps the
# path of an argument that is not a node, for the node a reader is given when its value is not
# of the types the kind takes; the whole path, the call's and this, is made only then)
AT_ARG = tuple(("args", i) for i in range(max(len(sig.inputs) for sig in SIGNATURES.values())))


_NO_REFS: tuple[tuple[str, int | None, str], ...] = ()
Head = tuple[Signature, str, Any, Any, Any]
Compiled = tuple[Any, ...]  # a compiled call: a Site's fields


def _head(sig: Signature) -> Head:
    builtin = sig.builtin
    return (sig, sig.name, sig.direct, sig.call, None if builtin is None else builtin.cost)


# op name -> the first fields of a Site of each call of it
HEADS: dict[str, Head] = {name: _head(sig) for name, sig in SIGNATURES.items()}


def head(sig: Signature) -> Head:
    """The first fields of a :class:`Site` of a call of ``sig``: one tuple per signature (made
    afresh for a signature that is not SIGNATURES' own: tests replace one)."""
    known = HEADS.get(sig.name)
    return known if known is not None and known[0] is sig else _head(sig)


def call(sig: Signature, args: list[Expr], attrs: dict[str, Any], path: Path, statement: bool,
         bind: str | list[Any] | None = None,
         refs: list[tuple[str, int | None, str]] | None = None,
         attrs_path: Path | None = None) -> Any:
    """A call of ``sig`` with the argument nodes ``args``: as a ``statement``, its step (ticks,
    calls, binds the value to ``bind``: a name, or names to unpack into); else its :class:`Call`
    node (an argument, a condition, a printed value). Either is :func:`invoke` bound to the
    call's compiled :class:`Site` (a plain tuple of its fields): one Python frame."""
    plan = arguments(READS[sig.name], args, len(path))
    run = MethodType(invoke, head(sig) + (attrs, path, statement, plan, bind, refs or _NO_REFS,
                                          attrs_path))
    return run if statement else Call(run, path)


def invoke(c: Compiled, it: Interpreter) -> Any:
    """Run the call ``c`` (bound to it: a call's step, or its node's ``run``)."""
    _, name, direct, general, cost, attrs, path, statement, plan, bind, refs, _ = c
    # a statement ticks (a step, the clock, cancellation); a nested call looks at the clock,
    # so that one statement with a wide expression cannot outrun the deadline by much
    if statement:
        it.tick(path)
    else:
        clock = it.clock  # (an attribute read, then called: see Interpreter.tick)
        now = clock()
        if now > it.soonest:
            it.clock_passed(now, path)
    # each argument as its input's kind reads it, given the values of the arguments before it
    values: list[Any] = []
    env = it.env
    e: Expr
    for how, x, takes, read, spec, where in plan:
        if how == NAME:
            # (a subscript in a try, not env.get with a sentinel to compare: the bytecodes of
            # the most frequent argument, in every call; the miss is the rare, failing case)
            try:
                v = env[x]
                if isinstance(v, takes):
                    values.append(v)
                    continue
            except KeyError:
                pass
            # (the reader looks it up again: unbound, or of another type)
            e = Ref(x, (*path, *where))
        elif how == TAKEN:
            values.append(x)
            continue
        elif how == NESTED:
            v = x(it)
            if isinstance(v, takes):
                values.append(v)
                continue
            # (the reader checks the value it has, not a second run)
            e = Const(v, (*path, *where))
        else:
            e = x
        values.append(read(it, Site._make(c), spec, e, values))
    kw = it.resolve_refs(Site._make(c)) if refs else attrs
    if cost is not None:
        passes = cost(*values)
        if it.inline and inline_policy.too_many_passes(passes):
            raise Preempted  # before the call: the budget is checked between calls only
        it.charge(passes, path)
    if it.anomaly:
        it.note_step(path, name)
    it.op_counts[name] += 1
    try:
        # (most calls have no attrs: a call without ``**{}`` skips unpacking an empty dict)
        v = general(values, kw) if direct is None else direct(*values, **kw) if kw else \
            direct(*values)
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
    # (a name first: the most frequent statement binds one)
    if type(bind) is str:
        env[bind] = v
    elif bind is not None:
        it.unpack(bind, v, (*path, "name"))
    return None


# ----- statements -------------------------------------------------------------------------------
def truth(it: Interpreter, e: Expr) -> bool:
    """A condition's truth, as Python's ``if`` takes it (a one-element tensor by its value)."""
    v = e.run(it)
    if isinstance(v, ge.Tensor):
        # (item() refuses any but one element itself: no numel() frame before it, in every test
        # of a loop's condition)
        try:
            return bool(v.item())
        except ge.ShapeError:
            raise ProgramError("type-error", "Boolean value of Tensor with more than one "
                               "value is ambiguous", pointer(e.path)) from None
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
    # (what it prints bound as a tuple, as a call's site is: the most frequent statement after
    # calls; no function made per statement. The most frequent print, one value ended by a
    # newline, is held without its end: its line is the value's str, made without a list of
    # values or print_line's frame)
    if len(values) == 1 and end == "\n":
        return MethodType(_print, (values, path, sep, None))
    return MethodType(_print, (values, path, sep, end))


def _print(held: tuple[list[Expr], Path, str, str | None], it: Interpreter) -> None:
    values, path, sep, end = held
    it.tick(path)
    # (end None: one value, held so by print_)
    line = to_str(values[0].run(it)) if end is None else \
        print_line([e.run(it) for e in values], sep, end)
    it.printed_chars += len(line) + 1
    cap = it.max_printed_chars
    if it.printed_chars > cap:
        raise limit_exceeded("max_printed_chars", it.printed_chars, cap,
                             f"print statements produced more than {cap} characters",
                             pointer(path))
    it.printed.append(line)


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


def _rows(it: Interpreter, tensor: ge.Tensor, path: Path) -> Iterator[ge.Tensor]:
    """``tensor``'s rows, each taken as the loop reaches it. Taking one makes a tensor, where the
    engine looks at the clock and the limits: what it raises there (the deadline, the inline
    budget, cancellation, a limit) is answered as a call's is, about the loop's iterable
    (``path``), not left to escape the run as a bug."""
    for i in range(tensor.shape[0]):
        try:
            row = tensor[i]
        except ge.EngineError as err:
            raise it.engine_error(err, path) from None
        yield row  # (outside the try: what the loop's body raises is not the row's)


def for_(target: str | list[Any], iterable: Expr, body: list[Step], path: Path) -> Step:
    bind_at = (*path, "for")

    def execute(it: Interpreter) -> None:
        it.tick(path)
        items = iterable.run(it)
        if isinstance(items, ge.Tensor):
            if items.ndim == 0:
                raise ProgramError("type-error", "iteration over a 0-d tensor",
                                   pointer(iterable.path))
            items = _rows(it, items, iterable.path)  # its rows, as torch iterates a tensor
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
