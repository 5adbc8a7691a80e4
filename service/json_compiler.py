"""A program validated straight into its compiled form, from the parsed JSON: no pydantic
instances, no second pass.

Validating a program with the request models (service/program.py) builds a pydantic instance per
statement, call, argument and attrs object, which the compiler (service/compiler.py) then walks
again: for the tutorial, 70 us of validation and 70 us of compiling, against some 400 us of engine
work. :func:`compile_program` reads the JSON once and makes the compiled nodes as it checks each
element against the same rules the models state (keys, op names, argument counts, attr kinds,
int64 ranges, names).

It takes what programs are made of almost always -- calls (with attrs of every kind but
``index``), names, numbers, array literals, ``print``, ``while``, ``if``, ``no_grad`` and
``enable_grad`` -- and raises :class:`Unsupported` at the first element that is anything else, or
that it cannot be sure is valid. The caller (service/routers/run.py) then validates the whole
body with the models and compiles those: every problem a program can have is still pydantic's
(or the compiler's), word for word and at its pointer, because this path never reports one; it
only accepts. ``tests/service/test_json_compiler.py`` checks that both paths compile every
program of the contract tests and fuzzers alike, and that a damaged program either path takes
answers alike when it runs.

Every request's program is compiled here (unless the compile cache has it), so the walk is kept
to few frames: a call reads its arguments into its plan itself (a name, a number and a nested
call need no node and no frame; anything else goes through :meth:`_JsonCompiler.expr`), checks
its op's arity, attrs and spellings from one table per op (:data:`_OPS`), and makes its site
where it is (the tuple closures.call makes); paths are made by concatenating tuples, and a name already
checked (bound or read before) is not checked again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from types import MethodType
from typing import Any

from pydantic import ValidationError

from engine.registry import Param
from service import closures
from service.closures import (
    AT_ARG,
    HEADS,
    NAME,
    NESTED,
    READS,
    TAKEN,
    Array,
    Call,
    Const,
    Expr,
    Head,
    Plan,
    Ref,
    Step,
    arguments,
    invoke,
)
from service.compiler import _INDEX_ATTRS, _SPELLED, Program, _as_python, _Compiler
from service.encoding import NONFINITE
from service.errors import ProgramError
from service.param_kinds import Input, Reader
from service.pointer import Path
from service.program import RunRequest, note
from service.scalars import INT64_MAX, INT64_MIN, to_float
from service.signatures import SIGNATURES


class Unsupported(Exception):
    """Not a program this path takes (or not a valid one): validate with the models instead."""


_CALL_KEYS = frozenset({"op", "args", "attrs", "name"})
_WHILE_KEYS = frozenset({"while", "do", "max_iter"})
_IF_KEYS = frozenset({"if", "then", "else"})
_PRINT_KEYS = frozenset({"values", "sep", "end"})
_TOKENS = frozenset(NONFINITE)
_REQUEST_KEYS = frozenset(RunRequest.model_fields) - {"source"}


def _name(v: Any) -> bool:
    # (an ASCII identifier is what the models' pattern [A-Za-z_][A-Za-z0-9_]* matches)
    return type(v) is str and len(v) <= 64 and v not in _TOKENS and v.isascii() and \
        v.isidentifier()


def _int64(v: Any) -> bool:
    return type(v) is int and INT64_MIN <= v <= INT64_MAX


# ----- attrs: each kind's check, and the value the model would hold ------------------------------
def _attr_int(v: Any) -> Any:
    if _int64(v):
        return v
    raise Unsupported


def _attr_float(v: Any) -> Any:
    if type(v) is float:
        return v
    if _int64(v) or type(v) is str and v in _TOKENS:
        return to_float(v)
    raise Unsupported


def _attr_number(v: Any) -> Any:
    if type(v) is float or _int64(v):
        return v
    if type(v) is str and v in _TOKENS:
        return NONFINITE[v]
    raise Unsupported


def _attr_bool(v: Any) -> Any:
    if type(v) is bool:
        return v
    raise Unsupported


def _attr_str(v: Any) -> Any:
    if type(v) is str and len(v) <= 256:
        return v
    raise Unsupported


def _attr_ints(v: Any) -> Any:
    # (the items' types and range tested in C: no frame per item)
    if type(v) is list and len(v) <= 64 and (not v or set(map(type, v)) == _INT and
                                             min(v) >= INT64_MIN and max(v) <= INT64_MAX):
        return v
    raise Unsupported


_INT = {int}


def _attr_dims(v: Any) -> Any:
    return v if _int64(v) else _attr_ints(v)


def _attr_dtype(v: Any) -> Any:
    if type(v) is str and v in _DTYPES:
        return v
    raise Unsupported


_ATTR_KINDS = {"int": _attr_int, "float": _attr_float, "number": _attr_number, "bool": _attr_bool,
               "str": _attr_str, "ints": _attr_ints, "dims": _attr_dims, "dtype": _attr_dtype}


def _attr(p: Param, v: Any) -> Any:
    if v is None and p.optional:
        return None
    if p.choices and type(v) is str and v in p.choices:
        return v
    check = _ATTR_KINDS.get(p.kind)
    if check is None:  # choice (not among the choices), index
        raise Unsupported
    return check(v)


def _check(p: Param) -> Callable[[Any], Any]:
    """The attr's check: its kind's own where null and choices are not to be tested first
    (most attrs: one frame each)."""
    if p.optional or p.choices or p.kind not in _ATTR_KINDS:
        return partial(_attr, p)
    return _ATTR_KINDS[p.kind]


def _dtype_names() -> frozenset[str]:
    from engine import dtypes

    return frozenset(dtypes.NAMES)


_DTYPES = _dtype_names()


def _attrs(required: frozenset[str], checks: dict[str, Callable[[Any], Any]], given: Any
           ) -> dict[str, Any]:
    if type(given) is not dict or not required <= given.keys():
        raise Unsupported  # (null, when the op requires any, too)
    attrs = {}
    for key, v in given.items():
        check = checks.get(key)
        if check is None:
            raise Unsupported
        attrs[key] = check(v)
    return attrs


# op name -> what a call of it needs checked and read, for the ops this path compiles (not those
# with index attrs): the counts of arguments it takes (a set: one lookup in C), each input's kind
# (closures.READS) with the argument's path from the call's (closures.AT_ARG), the first fields
# of its calls' sites (closures.head: SIGNATURES' signature, checked to be the one there at each
# compile: tests replace one), the attrs it requires, its attrs' checks by name
_OPS: dict[str, tuple[frozenset[int], tuple[tuple[Reader, Input, Any, Path], ...], Head,
                      frozenset[str], dict[str, Callable[[Any], Any]]]] = {
    name: (frozenset(range(sig.min_args, len(sig.inputs) + 1)),
           tuple((*kind, AT_ARG[i]) for i, kind in enumerate(READS[name])), HEADS[name],
           frozenset(p.name for p in sig.attrs if p.required),
           {p.name: _check(p) for p in sig.attrs})
    for name, sig in SIGNATURES.items() if not _INDEX_ATTRS[name]}


# ----- array literals ---------------------------------------------------------------------------
def _literal(items: list[Any]) -> bool:
    """Whether ``items`` is an array literal the models take: nested arrays of booleans, int64
    integers, floats, non-finite tokens and names."""
    stack = [items]
    while stack:
        level = stack.pop()
        types = set(map(type, level))
        if types <= _NUMBERS and (int not in types or all(
                INT64_MIN <= x <= INT64_MAX for x in level if type(x) is int)):
            continue
        for x in level:
            t = type(x)
            if t is list:
                stack.append(x)
            elif t is str:
                if x not in _TOKENS and not _name(x):
                    return False
            elif t is int:
                if not INT64_MIN <= x <= INT64_MAX:
                    return False
            elif t is not float and t is not bool:
                return False
    return True


_NUMBERS = frozenset({bool, int, float})


# ----- the program ------------------------------------------------------------------------------
class _JsonCompiler(_Compiler):
    """service/compiler.py's compiler, reading (and checking) the request's JSON instead of the
    models; the nesting limit and the loop count are the base class's."""

    def block(self, stmts: list[Any], path: Path, depth: int) -> list[Step]:
        if stmts and depth > self.max_depth:  # (every statement of the block at this depth)
            self._deeper(depth, path)
        # (a call, the most frequent statement, compiled without statement()'s frame)
        return [self.call(s, path + (i,), depth, True)
                if type(s) is dict and "op" in s and s.keys() <= _CALL_KEYS
                else self.statement(s, path + (i,), depth) for i, s in enumerate(stmts)]

    def statement(self, s: Any, path: Path, depth: int) -> Step:
        # (any statement but a call: block() compiles those; block() checked the depth)
        if type(s) is not dict:
            raise Unsupported
        keys = s.keys()
        if "print" in s:
            if len(s) != 1:
                raise Unsupported
            v = s["print"]
            if type(v) is dict and "values" in v:
                if not v.keys() <= _PRINT_KEYS:
                    raise Unsupported
                sep, end = v.get("sep", " "), v.get("end", "\n")
                if not (_short(sep) and _short(end)):
                    raise Unsupported
                return closures.print_([self.expr(a, path + ("print", "values", i), depth + 1)
                                        for i, a in enumerate(_list(v["values"]))], path, sep,
                                       end)
            return closures.print_([self.expr(v, path + ("print",), depth + 1)], path)
        if "while" in s:
            if not keys <= _WHILE_KEYS or "do" not in s:
                raise Unsupported
            max_iter = s.get("max_iter")
            if max_iter is not None and not (type(max_iter) is int and max_iter >= 1):
                raise Unsupported
            return closures.while_(self.expr(s["while"], (*path, "while"), depth + 1),
                                   self.loop(_list(s["do"]), (*path, "do"), depth + 1), max_iter,
                                   path)
        if "if" in s:
            if not keys <= _IF_KEYS or "then" not in s:
                raise Unsupported
            orelse = s.get("else")
            return closures.if_(self.expr(s["if"], (*path, "if"), depth + 1),
                                self.block(_list(s["then"]), (*path, "then"), depth + 1),
                                self.block([] if orelse is None else _list(orelse),
                                           (*path, "else"), depth + 1), path)
        for key, enabled in (("no_grad", False), ("enable_grad", True)):
            if key in s:
                if len(s) != 1:
                    raise Unsupported
                return closures.grad_mode(enabled, self.block(_list(s[key]), (*path, key),
                                                              depth + 1), path)
        # (anything else: another statement, or a call with a key no call has)
        raise Unsupported

    def call(self, c: Any, path: Path, depth: int, statement: bool = False) -> Any:
        """The call's step (``statement``), else its compiled site (its callers bind
        ``closures.invoke`` to it)."""
        # (c: a dict with "op" and no key a call does not have; its callers checked)
        op, bind, given = c["op"], c.get("name"), c.get("args")
        try:  # (no frame for try in 3.11: cheaper than a type test and a get)
            arity, kinds, head, required, checks = _OPS[op]
        except (KeyError, TypeError):  # an unknown op, one with index attrs (the models'), or
            raise Unsupported from None  # no name at all (a list, an object: unhashable)
        if bind is not None:
            if not (statement and type(bind) is str):
                raise Unsupported  # (a list of names; or a name on an inner call: the compiler's)
            binds = self.binds
            if bind not in binds:  # (those bound before were checked then)
                if not (bind in self.reads or _name(bind)):
                    raise Unsupported
                binds.add(bind)
        if given is None:
            if "args" in c or 0 not in arity:
                raise Unsupported
            given = ()
        elif type(given) is not list or len(given) not in arity:
            raise Unsupported
        plan: list[Plan] = []
        if given:
            # Each argument read into its plan here (closures.arguments' tuples), one frame for
            # all: a name, a number and a nested call (nearly every argument) need no node, nor
            # a frame of their own; anything else is made a node by expr().
            depth += 1
            if depth > self.max_depth:  # (all of them at this depth)
                raise Unsupported
            reads = self.reads
            # (enumerate and indexing: zip(given, kinds) costs more, in C)
            for i, a in enumerate(given):
                read, spec, takes, at = kinds[i]
                t = type(a)
                if takes is None:  # (a kind that reads a node: tensors, data)
                    pass
                elif t is str:
                    if a in reads:  # (a name read before: checked then)
                        plan.append((NAME, a, takes, read, spec, at))
                        continue
                    if a in self.binds or a not in _TOKENS and _name(a):
                        reads[a] = path + at
                        plan.append((NAME, a, takes, read, spec, at))
                        continue
                elif t is dict and "op" in a and a.keys() <= _CALL_KEYS:
                    run = MethodType(invoke, self.call(a, path + at, depth, False))
                    plan.append((NESTED, run, takes, read, spec, at))
                    continue
                elif (t is int and INT64_MIN <= a <= INT64_MAX or t is float or t is bool) and \
                        isinstance(a, takes):
                    plan.append((TAKEN, a, takes, read, spec, None))
                    continue
                plan += arguments((READS[op][i],), (self.expr(a, path + at, depth),), len(path))
        # (most calls have no attrs, nor any required: no call, nor a dict of their own, for
        # those)
        if head[0] is not SIGNATURES[op]:
            head = closures.head(SIGNATURES[op])
        given_attrs = c.get("attrs")
        if given_attrs is None and not required:
            attrs = _NO_ATTRS
        else:
            attrs = _attrs(required, checks, given_attrs)
            if _SPELLED[op]:  # (attrs JSON spells: service/spellings.py)
                _as_python(head[0], attrs)  # (no index attrs here: no tensor names in them)
        # (its site: the tuple closures.call makes, made here)
        site = head + (attrs, path, statement, plan, bind, (), None)
        return MethodType(invoke, site) if statement else site

    def expr(self, a: Any, path: Path, depth: int) -> Expr:
        if depth > self.max_depth:
            self._deeper(depth, path)
        t = type(a)
        if t is str:
            reads = self.reads
            if a in reads:  # (a name read before: checked then)
                return Ref(a, path)
            if a in _TOKENS:
                return Const(NONFINITE[a], path)
            if a in self.binds or _name(a):  # (one bound before: checked then)
                reads[a] = path
                return Ref(a, path)
            raise Unsupported
        if t is dict and "op" in a and a.keys() <= _CALL_KEYS:
            return Call(MethodType(invoke, self.call(a, path, depth, False)), path)
        if t is float or t is bool or a is None or (t is int and INT64_MIN <= a <= INT64_MAX):
            return Const(a, path)
        if t is list and _literal(a):
            # An array adds one level per dimension (as service/compiler.py counts them)
            probe: Any = a
            levels = 0
            while type(probe) is list:
                levels += 1
                probe = probe[0] if probe else None
            self._deeper(depth + levels - 1, path)
            for j, item in enumerate(a):  # a string item names a tensor (["a", "b"] for cat)
                if type(item) is str and item not in _TOKENS:
                    self._read(item, (*path, j))
            return Array(a, path)
        raise Unsupported  # a tensor object, or something invalid


_ABSENT = object()
# the attrs of every call without any: one dict, never changed (nothing changes a site's attrs:
# the engine takes them as keywords, Interpreter.resolve_refs copies them, _as_python changes
# only the attrs given)
_NO_ATTRS: dict[str, Any] = {}


def _list(v: Any) -> list[Any]:
    if type(v) is list:
        return v
    raise Unsupported


def _short(v: Any) -> bool:
    return type(v) is str and len(v) <= 256


def compile_program(program: Any, max_depth: int) -> Program:
    """The request's ``program`` (its JSON, as parsed) validated and compiled; Unsupported when
    it holds anything this path leaves to the models, or anything invalid. (A ProgramError of
    the compiler's, such as the nesting limit, also means: ask the models, whose problems come
    first.)"""
    return _JsonCompiler(max_depth).program(_list(program))


def read_request(document: Any, max_depth: int) -> RunRequest | None:
    """A body read straight into its request, its program compiled (its note ``compiled``; the
    other fields, few, validated by the model); None when the models must read it (anything
    this path leaves to them, or anything invalid)."""
    if type(document) is not dict or not document.keys() <= _REQUEST_KEYS:
        return None
    try:
        program = compile_program(document.get("program"), max_depth)
        request = RunRequest.model_validate({**document, "program": []})
    except (Unsupported, ProgramError, ValidationError):
        return None
    note(request, "compiled", program)
    return request
