"""The compile pass: a validated program (pydantic models) to its steps, the closures the
interpreter runs (service/closures.py builds them).

Each step and each expression node keeps the JSON pointer path of the request element it came
from, calls their resolved signature and their attrs as a dict, so the run needs no further
lookups. The pass also
enforces the nesting limit (calls, blocks and array literals) and that only statements bind names,
and notes the program's free names (read somewhere, bound nowhere): the names ``inputs`` may give.
A compiled :class:`Program` holds no per-run state, so one may serve many runs (the compile cache,
service/compile_cache.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from service import closures
from service.closures import Array, Const, Expr, Obj, Ref, Step
from service.encoding import NONFINITE
from service.errors import ProgramError, limit_exceeded
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


@dataclass(frozen=True, slots=True)
class Program:
    """A compiled program: never changed by a run, so runs (and threads) may share it."""

    body: list[Step]
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

    def block(self, stmts: list[Any], path: Path, depth: int) -> list[Step]:
        return [self.statement(s, (*path, i), depth) for i, s in enumerate(stmts)]

    def statement(self, s: Any, path: Path, depth: int) -> Step:
        self._deeper(depth, path)
        if isinstance(s, CallBase):
            return self.call(s, path, depth, statement=True)
        if isinstance(s, PrintStatement):
            v = s.value
            if isinstance(v, PrintValues):
                return closures.print_([self.expr(a, (*path, "print", "values", i), depth + 1)
                                        for i, a in enumerate(v.values)], path, v.sep, v.end)
            return closures.print_([self.expr(v, (*path, "print"), depth + 1)], path)
        if isinstance(s, WhileStatement):
            return closures.while_(self.expr(s.cond, (*path, "while"), depth + 1),
                                   self.loop(s.body, (*path, "do"), depth + 1), s.max_iter, path)
        if isinstance(s, ForStatement):
            self.binds.update(_flat(s.target))
            return closures.for_(s.target, self.expr(s.iterable, (*path, "in"), depth + 1),
                                 self.loop(s.body, (*path, "do"), depth + 1), path)
        if isinstance(s, (BreakStatement, ContinueStatement)):
            if not self.loops:
                word = "break" if isinstance(s, BreakStatement) else "continue"
                raise ProgramError("invalid-program", f"'{word}' outside loop", pointer(path))
            return closures.jump(isinstance(s, BreakStatement), path)
        if isinstance(s, AssertStatement):
            message = None if s.message is None else \
                self.expr(s.message, (*path, "message"), depth + 1)
            return closures.assert_(self.expr(s.cond, (*path, "assert"), depth + 1), message,
                                    path)
        if isinstance(s, IfStatement):
            return closures.if_(self.expr(s.cond, (*path, "if"), depth + 1),
                                self.block(s.then, (*path, "then"), depth + 1),
                                self.block(s.orelse or [], (*path, "else"), depth + 1), path)
        if isinstance(s, SetItemStatement):
            return self.setitem(s, path, depth)
        if isinstance(s, SetGradStatement):
            target, value = s.grad
            return closures.set_grad(self.expr(target, (*path, "set_grad", 0), depth + 1),
                                     self.expr(value, (*path, "set_grad", 1), depth + 1), path)
        if isinstance(s, NoGradStatement):
            return closures.grad_mode(False, self.block(s.body, (*path, "no_grad"), depth + 1),
                                      path)
        assert isinstance(s, EnableGradStatement)
        return closures.grad_mode(True, self.block(s.body, (*path, "enable_grad"), depth + 1),
                                  path)

    def loop(self, stmts: list[Any], path: Path, depth: int) -> list[Step]:
        self.loops += 1
        try:
            return self.block(stmts, path, depth)
        finally:
            self.loops -= 1

    def call(self, c: CallBase, path: Path, depth: int, statement: bool = False) -> Any:
        """The call's node (an argument), or its step (``statement``)."""
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
        refs = _as_python(sig, attrs)
        for name, j, v in refs:  # the tensor names in its index attrs are read
            self._read(v, (*path, "attrs", name) if j is None else (*path, "attrs", name, j))
        return closures.call(sig, args, attrs, path, statement, c.name, refs)

    def setitem(self, s: SetItemStatement, path: Path, depth: int) -> Step:
        """``target[index] = value``: a call of the engine's setitem op."""
        target, index, value = s.item
        index = index_value(_plain(index))  # (the wire's slices and Ellipsis, as Python's)
        items = list(enumerate(index)) if isinstance(index, list) else [(None, index)]
        refs = [("index", j, v) for j, v in items if isinstance(v, str)]
        for _, j, v in refs:
            self._read(v, (*path, "setitem", 1) if j is None else (*path, "setitem", 1, j))
        args = [self.expr(target, (*path, "setitem", 0), depth + 1),
                self.expr(value, (*path, "setitem", 2), depth + 1)]
        return closures.call(SIGNATURES["setitem"], args, {"index": index}, path, True, None,
                             refs, attrs_path=(*path, "setitem", 1))

    def _read(self, name: str, path: Path) -> None:
        self.reads.setdefault(name, path)

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


def _as_python(sig: Signature, attrs: dict[str, Any]) -> list[tuple[str, int | None, str]]:
    """A call's attrs (as the request gave them, validated) made Python's values, in place; the
    tensor names in its index attrs: (attr, position in its item list or None, name)."""
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
    return refs


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
