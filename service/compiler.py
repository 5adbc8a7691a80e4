"""The compile pass: a validated program (pydantic models) to small plain nodes for the interpreter.

Each node carries the JSON pointer path of the request element it came from, calls carry their
resolved signature and their attrs as a dict, so the run needs no further lookups. The pass also
enforces the nesting limit (calls, blocks and array literals) and that only statements bind names,
and notes the program's free names (read somewhere, bound nowhere): the names ``inputs`` may give.
A compiled :class:`Program` holds no per-run state, so one may serve many runs (the compile cache,
service/compile_cache.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

import engine as ge
from service.encoding import NONFINITE
from service.errors import ProgramError, limit_exceeded
from service.param_kinds import READERS, TAKES, Input, Reader
from service.pointer import Path, pointer
from service.program import (
    AssertStatement,
    BreakStatement,
    CallBase,
    ContinueStatement,
    EnableGradStatement,
    ForStatement,
    IfStatement,
    NoGradStatement,
    PrintStatement,
    PrintValues,
    SetGradStatement,
    SetItemStatement,
    TensorObject,
    WhileStatement,
)
from service.signatures import SIGNATURES, Signature
from service.spellings import converters, index_value

# ----- compiled nodes ---------------------------------------------------------------------------
# Each kind of node runs itself: an expression's ``run(it)`` gives its value, a statement's
# ``execute(it)`` executes it (``it``: the interpreter, service/interpreter.py, which the nodes call
# for everything but the most frequent steps). So the interpreter never asks what type a node
# is, and a node holds nothing of one run: a compiled program serves any number of runs.
# (Methods, not a closure per node: closures made compiling the tutorial three times slower.)


class Break(Exception):
    """A ``break`` on its way to the innermost loop."""


class Continue(Exception):
    """A ``continue`` on its way to the innermost loop."""


@dataclass(slots=True)
class Const:
    value: Any  # a number, a bool or None
    path: Path

    def run(self, it: Any) -> Any:
        return self.value


@dataclass(slots=True)
class Ref:
    name: str
    path: Path

    def run(self, it: Any) -> Any:
        try:
            return it.env[self.name]
        except KeyError:
            raise it._unknown_name(self.name, self.path) from None


@dataclass(slots=True)
class Array:
    items: list[Any]  # the raw nested list: a tensor literal, or a list of tensors for "tensors"
    path: Path

    def run(self, it: Any) -> Any:
        return it._tensor(self)


@dataclass(slots=True)
class Obj:
    tensor: TensorObject
    path: Path

    def run(self, it: Any) -> Any:
        return it._tensor(self)


# each signature's inputs with their readers (service/param_kinds.py) and the types a reader
# takes as they are (None: it must be called), in order
_READS: dict[str, tuple[tuple[Reader, Input, Any], ...]] = {
    name: tuple((READERS[spec.kind], spec, TAKES.get(READERS[spec.kind])) for spec in sig.inputs)
    for name, sig in SIGNATURES.items()}


# How a call reads one argument (its plan, made when it is compiled): a name the input's kind
# takes by type is looked up, a constant it takes is given as it is, a nested call is run and its
# value checked by type; anything else, or a value of another type, goes to the kind's reader
# (service/param_kinds.py), which answers as it always does.
NAME, TAKEN, NESTED, READ = 0, 1, 2, 3
# (how, the name / the constant / the nested call, the types the kind takes, reader, input, arg)
Step = tuple[int, Any, Any, Reader, Input, "Expr"]


@dataclass(slots=True)
class Call:
    sig: Signature
    args: list[Expr]
    attrs: dict[str, Any]
    path: Path
    bind: str | list[Any] | None = None  # a name, or names to unpack into (nested lists)
    # tensor names inside "index" attrs: (attr, position in its item list or None, name)
    refs: list[tuple[str, int | None, str]] = field(default_factory=list)
    # where the request spelled the attrs ("attrs" of the call; a setitem statement's index)
    attrs_path: Path | None = None
    reads: tuple[tuple[Reader, Input, Any], ...] = ()  # the signature's, from _READS
    # made from the above (__post_init__): how each argument is read
    plan: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        plan: list[Step] = []
        for (read, spec, takes), e in zip(self.reads, self.args, strict=False):
            if takes is None:
                plan.append((READ, None, None, read, spec, e))
            elif isinstance(e, Ref):
                plan.append((NAME, e.name, takes, read, spec, e))
            elif isinstance(e, Const) and isinstance(e.value, takes):
                plan.append((TAKEN, e.value, takes, read, spec, e))
            elif isinstance(e, Call):
                plan.append((NESTED, e, takes, read, spec, e))
            else:
                plan.append((READ, None, None, read, spec, e))
        self.plan = tuple(plan)

    def run(self, it: Any) -> Any:
        return it._call(self)

    def execute(self, it: Any) -> None:
        it._tick(self.path)
        # (no second look at the clock before the call: the tick just looked)
        bind = self.bind
        if bind is None:
            it._call(self, False)
        elif type(bind) is str:
            it.env[bind] = it._call(self, False)
        else:
            it._unpack(bind, it._call(self, False), (*self.path, "name"))


Expr = Const | Ref | Array | Obj | Call


@dataclass(slots=True)
class Print:
    values: list[Expr]
    path: Path
    sep: str = " "
    end: str = "\n"

    def execute(self, it: Any) -> None:
        it._tick(self.path)
        it._print(self)


@dataclass(slots=True)
class While:
    cond: Expr
    body: list[Stmt]
    max_iter: int | None
    path: Path

    def execute(self, it: Any) -> None:
        it._tick(self.path)
        it._while(self)


@dataclass(slots=True)
class If:
    cond: Expr
    then: list[Stmt]
    orelse: list[Stmt]
    path: Path

    def execute(self, it: Any) -> None:
        it._tick(self.path)
        it._block(self.then if it._truth(self.cond) else self.orelse)


@dataclass(slots=True)
class SetGrad:
    target: Expr
    value: Expr
    path: Path

    def execute(self, it: Any) -> None:
        it._tick(self.path)
        it._set_grad(self)


@dataclass(slots=True)
class Block:
    grad_enabled: bool
    body: list[Stmt]
    path: Path

    def execute(self, it: Any) -> None:
        it._tick(self.path)
        with ge.set_grad_enabled(self.grad_enabled):
            it._block(self.body)


@dataclass(slots=True)
class For:
    target: str | list[Any]
    iterable: Expr
    body: list[Stmt]
    path: Path

    def execute(self, it: Any) -> None:
        it._tick(self.path)
        it._for(self)


@dataclass(slots=True)
class Jump:
    """break (``leave``) or continue."""

    leave: bool
    path: Path

    def execute(self, it: Any) -> None:
        it._tick(self.path)
        raise Break if self.leave else Continue


@dataclass(slots=True)
class Assert:
    cond: Expr
    message: Expr | None
    path: Path

    def execute(self, it: Any) -> None:
        it._tick(self.path)
        it._assert(self)


Stmt = Call | Print | While | If | Block | SetGrad | For | Jump | Assert


@dataclass(frozen=True, slots=True)
class Program:
    """A compiled program: never changed by a run, so runs (and threads) may share it."""

    body: list[Stmt]
    # names the program reads and never binds -> the pointer of the first read (in program order):
    # the names an ``inputs`` member may give
    free_names: dict[str, str]

    def not_an_input(self, name: str, where: str, noun: str = "program") -> ProgramError:
        """The problem for an input ``name`` (given at ``where``) that is none of the free names
        (``noun``: what the request called the program: a source in /v1/translate)."""
        known = ", ".join(repr(n) for n in self.free_names) or "none"
        return ProgramError("invalid-program", f"the {noun} has no input named {name!r}: an "
                            f"input gives a name the {noun} reads and never assigns (this "
                            f"{noun}'s: {known})", where, name=name)


# ----- compile ----------------------------------------------------------------------------------
class _Compiler:
    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.loops = 0  # loops around the statement being compiled (break needs one)
        self.reads: dict[str, Path] = {}  # name -> where it is first read
        self.binds: set[str] = set()  # names a statement or a for loop binds

    def _deeper(self, depth: int, path: Path) -> int:
        if depth > self.max_depth:
            raise limit_exceeded(
                "max_nesting_depth", depth, self.max_depth,
                f"the program nests {depth} levels deep here, over the limit of {self.max_depth}",
                pointer(path))
        return depth

    def block(self, stmts: list[Any], path: Path, depth: int) -> list[Stmt]:
        return [self.statement(s, (*path, i), depth) for i, s in enumerate(stmts)]

    def statement(self, s: Any, path: Path, depth: int) -> Stmt:
        self._deeper(depth, path)
        if isinstance(s, CallBase):
            return self.call(s, path, depth, statement=True)
        if isinstance(s, PrintStatement):
            v = s.value
            if isinstance(v, PrintValues):
                return Print([self.expr(a, (*path, "print", "values", i), depth + 1)
                              for i, a in enumerate(v.values)], path, v.sep, v.end)
            return Print([self.expr(v, (*path, "print"), depth + 1)], path)
        if isinstance(s, WhileStatement):
            return While(self.expr(s.cond, (*path, "while"), depth + 1),
                         self.loop(s.body, (*path, "do"), depth + 1), s.max_iter, path)
        if isinstance(s, ForStatement):
            self.binds.update(_flat(s.target))
            return For(s.target, self.expr(s.iterable, (*path, "in"), depth + 1),
                       self.loop(s.body, (*path, "do"), depth + 1), path)
        if isinstance(s, (BreakStatement, ContinueStatement)):
            if not self.loops:
                word = "break" if isinstance(s, BreakStatement) else "continue"
                raise ProgramError("invalid-program", f"'{word}' outside loop", pointer(path))
            return Jump(isinstance(s, BreakStatement), path)
        if isinstance(s, AssertStatement):
            message = None if s.message is None else \
                self.expr(s.message, (*path, "message"), depth + 1)
            return Assert(self.expr(s.cond, (*path, "assert"), depth + 1), message, path)
        if isinstance(s, IfStatement):
            return If(self.expr(s.cond, (*path, "if"), depth + 1),
                      self.block(s.then, (*path, "then"), depth + 1),
                      self.block(s.orelse or [], (*path, "else"), depth + 1), path)
        if isinstance(s, SetItemStatement):
            return self.setitem(s, path, depth)
        if isinstance(s, SetGradStatement):
            target, value = s.grad
            return SetGrad(self.expr(target, (*path, "set_grad", 0), depth + 1),
                           self.expr(value, (*path, "set_grad", 1), depth + 1), path)
        if isinstance(s, NoGradStatement):
            return Block(False, self.block(s.body, (*path, "no_grad"), depth + 1), path)
        assert isinstance(s, EnableGradStatement)
        return Block(True, self.block(s.body, (*path, "enable_grad"), depth + 1), path)

    def loop(self, stmts: list[Any], path: Path, depth: int) -> list[Stmt]:
        self.loops += 1
        try:
            return self.block(stmts, path, depth)
        finally:
            self.loops -= 1

    def call(self, c: CallBase, path: Path, depth: int, statement: bool = False) -> Call:
        if c.name is not None and not statement:
            raise ProgramError("invalid-program", "only a statement can bind a name; give this "
                               "call its own statement", pointer((*path, "name")))
        if c.name is not None:
            self.binds.update(_flat(c.name))
        sig = SIGNATURES[c.op]
        args = [self.expr(a, (*path, "args", i), depth + 1) for i, a in enumerate(c.args)]
        if not _INDEX_ATTRS[c.op]:
            # the attrs given (as exclude_unset dumps them), without the serialiser's cost: only
            # an index can hold a model (a slice) that must become a dict
            given, held = c.attrs.model_fields_set, c.attrs.__dict__
            attrs = {k: held[k] for k in given} if given else {}
        else:
            attrs = c.attrs.model_dump(exclude_unset=True)
        call = _call_node(sig, args, attrs, path, c.name)
        self._read_refs(call)
        return call

    def setitem(self, s: SetItemStatement, path: Path, depth: int) -> Call:
        """``target[index] = value``: a call of the engine's setitem op."""
        target, index, value = s.item
        index = index_value(_plain(index))  # (the wire's slices and Ellipsis, as Python's)
        items = list(enumerate(index)) if isinstance(index, list) else [(None, index)]
        refs = [("index", j, v) for j, v in items if isinstance(v, str)]
        for _, j, v in refs:
            self._read(v, (*path, "setitem", 1) if j is None else (*path, "setitem", 1, j))
        args = [self.expr(target, (*path, "setitem", 0), depth + 1),
                self.expr(value, (*path, "setitem", 2), depth + 1)]
        sig = SIGNATURES["setitem"]
        return Call(sig, args, {"index": index}, path, None, refs,
                    attrs_path=(*path, "setitem", 1), reads=_READS[sig.name])

    def _read(self, name: str, path: Path) -> None:
        self.reads.setdefault(name, path)

    def _read_refs(self, c: Call) -> None:
        """Note the tensor names in a call's index attrs as read."""
        for name, j, v in c.refs:
            self._read(v, (*c.path, "attrs", name) if j is None else (*c.path, "attrs", name, j))

    def program(self, program: list[Any]) -> Program:
        """A request's program compiled, with its free names."""
        body = self.block(program, ("program",), 1)
        free = {name: pointer(path) for name, path in self.reads.items() if name not in self.binds}
        return Program(body, free)

    def expr(self, a: Any, path: Path, depth: int) -> Expr:
        self._deeper(depth, path)
        if isinstance(a, CallBase):
            return self.call(a, path, depth)
        if isinstance(a, str):
            self._read(a, path)
            return Ref(a, path)
        if isinstance(a, list):
            # An array adds one level per dimension; deeper ragged nesting is refused when the
            # literal is decoded.
            probe: Any = a
            levels = 0
            while isinstance(probe, list):
                levels += 1
                probe = probe[0] if probe else None
            self._deeper(depth + levels - 1, path)
            for j, item in enumerate(a):  # a string item names a tensor (["a", "b"] for cat)
                if isinstance(item, str) and item not in NONFINITE:
                    self._read(item, (*path, j))
            return Array(a, path)
        if isinstance(a, TensorObject):
            return Obj(a, path)
        return Const(a, path)


def _call_node(sig: Signature, args: list[Expr], attrs: dict[str, Any], path: Path,
               bind: str | list[Any] | None) -> Call:
    """The call of ``sig``, its attrs (as the request gave them, validated) made Python's values
    and the tensor names in its index attrs listed."""
    spelled = _SPELLED[sig.name]
    if spelled:  # the wire's spellings of slices, Ellipsis, infinity: as Python's values
        for name, convert in spelled.items():
            if name in attrs:
                attrs[name] = convert(attrs[name])
    refs: list[tuple[str, int | None, str]] = []
    for name in _INDEX_ATTRS[sig.name]:  # what is still a string in an index names a tensor
        value = attrs.get(name)
        if value is None:
            continue
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        refs += [(name, j, v) for j, v in items if isinstance(v, str)]
    return Call(sig, args, attrs, path, bind, refs, reads=_READS[sig.name])


def _flat(target: str | list[Any]) -> list[str]:
    """The names a binding target binds (a name, or nested lists of names)."""
    return [target] if isinstance(target, str) else [n for t in target for n in _flat(t)]


def _plain(v: Any) -> Any:
    """An index as plain JSON values (a slice model as its dict of the keys given)."""
    if isinstance(v, BaseModel):
        return v.model_dump(exclude_unset=True)
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


# op name -> its attrs of kind "index" (they may hold slices, and names of tensors)
_INDEX_ATTRS = {name: tuple(p.name for p in sig.attrs if p.kind == "index")
                for name, sig in SIGNATURES.items()}
# op name -> its attrs that JSON spells (service/spellings.py), with the function that reads them
_SPELLED = {name: converters(sig.attrs) for name, sig in SIGNATURES.items()}


def compile_program(program: list[Any], max_depth: int) -> Program:
    """The statements of a request's ``program`` (validated) compiled; ProgramError otherwise."""
    return _Compiler(max_depth).program(program)
