"""PyTorch source to the JSON program it means, by walking Python's ``ast``.

Nothing in the source is executed, compiled to bytecode or imported: the parser builds a tree, a
whitelist (:data:`ALLOWED`) refuses every node type outside the subset with its name and location,
and the walk below emits the statements and calls of the ``program`` form. Calls map through the
signatures of service/signatures.py (the engine registry and the builtins): positional and keyword
arguments land on the op's inputs (``args``) or static parameters (``attrs``) by the registry's own
parameter list, so nothing about an op is written twice.

What the JSON form has no spelling for becomes a builtin of service/python_builtins.py (Python
numbers, f-strings, tuples, ``range``). Plain functions and lambdas are inlined: their locals get
names of their own (hidden from the default outputs), which is also how
``torch.autograd.functional.hessian(f, x)`` becomes a ``hessian`` step over ``f``'s result.

Each expression's kind (tensor, number, ...) is followed where the source makes it plain, so that
``a * b`` on a tensor is the registry's ``mul`` and on numbers Python's ``*`` (``py.operator``,
which also serves when a kind is not known: it applies Python's operator, and a tensor's operators
are torch's).
"""

from __future__ import annotations

import ast
import difflib
import math
from dataclasses import dataclass, field
from typing import Any

from engine import dtypes
from engine.registry import Param
from service.errors import ProgramError
from service.python_builtins import CONSTANTS, FUNCTIONS, OPERATORS, parse_template
from service.signatures import SIGNATURES, Signature
from service.source.exporter import HELPER_STEPS, helper_dumps
from service.source.locate import Span, source_error
from service.source.prefilter import prepare

# ----- the whitelist ----------------------------------------------------------------------------
ALLOWED: frozenset[type] = frozenset({
    ast.Module, ast.Expr, ast.Assign, ast.AugAssign, ast.For, ast.While, ast.If, ast.With,
    ast.withitem, ast.Break, ast.Continue, ast.Pass, ast.Assert, ast.FunctionDef, ast.Return,
    ast.Lambda, ast.arguments, ast.arg, ast.Import, ast.ImportFrom, ast.alias, ast.BoolOp,
    ast.BinOp, ast.UnaryOp, ast.Compare, ast.Call, ast.keyword, ast.Attribute, ast.Subscript,
    ast.Slice, ast.Name, ast.Constant, ast.List, ast.Tuple, ast.JoinedStr, ast.FormattedValue,
    ast.IfExp, ast.Load, ast.Store, ast.And, ast.Or, ast.Add, ast.Sub, ast.Mult, ast.MatMult, ast.Div,
    ast.Mod, ast.Pow, ast.FloorDiv, ast.BitAnd, ast.BitOr, ast.BitXor, ast.Invert, ast.Not,
    ast.UAdd, ast.USub, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot,
})
# How a refused construct is named in its problem (the rest by their ast class name).
REFUSED_NAMES: dict[type, str] = {
    ast.ClassDef: "`class` definitions", ast.AsyncFunctionDef: "`async def` functions",
    ast.Try: "`try` statements", ast.Global: "`global` statements",
    ast.Nonlocal: "`nonlocal` statements", ast.Yield: "`yield`", ast.YieldFrom: "`yield from`",
    ast.Await: "`await`", ast.AsyncFor: "`async for`", ast.AsyncWith: "`async with`",
    ast.ListComp: "list comprehensions", ast.SetComp: "set comprehensions",
    ast.DictComp: "dict comprehensions", ast.GeneratorExp: "generator expressions",
    ast.Dict: "dict displays", ast.Set: "set displays", ast.Delete: "`del` statements",
    ast.Raise: "`raise` statements", ast.Match: "`match` statements",
    ast.NamedExpr: "assignment expressions (:=)", ast.Starred: "star-args (*x)",
    ast.AnnAssign: "annotated assignments",
    ast.In: "`in` tests", ast.NotIn: "`not in` tests", ast.LShift: "`<<`", ast.RShift: "`>>`",
}
if hasattr(ast, "TryStar"):
    REFUSED_NAMES[ast.TryStar] = "`try` statements"

MODULES = {"torch", "torch.nn.functional", "torch.autograd", "torch.autograd.functional", "math",
           "torch.nn"}
FUNCTIONAL = ("jacobian", "hessian", "vjp", "jvp", "hvp", "vhp")
# torch's names of the dtypes (torch.float64, torch.double) and their cast methods (x.double()),
# from the engine's one declaration of each dtype
CAST_METHODS = {d.method: d.name for d in dtypes.BY_NAME.values()}
DTYPES = {**{name: name for name in dtypes.NAMES}, **CAST_METHODS}
# tensor attributes and the builtin that reads each
ATTRIBUTES = {"grad": "grad", "grad_fn": "grad_fn", "requires_grad": "requires_grad",
              "is_leaf": "is_leaf", "retains_grad": "retains_grad", "data": "data",
              "shape": "shape", "dtype": "dtype", "ndim": "ndim", "T": "py.transpose",
              "next_functions": "next_functions", "variable": "variable"}
ATTRIBUTE_KINDS = {"grad": "tensor", "data": "tensor", "T": "tensor", "variable": "tensor",
                   "requires_grad": "number", "is_leaf": "number", "retains_grad": "number",
                   "ndim": "number", "shape": "seq", "next_functions": "seq"}
METHOD_BUILTINS = {"backward", "requires_grad_", "retain_grad", "detach", "item", "numel"}
BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv",
          ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.Pow: "pow", ast.MatMult: "matmul",
          ast.BitAnd: "and_", ast.BitOr: "or_", ast.BitXor: "xor"}
TENSOR_BINOPS = {"add": "add", "sub": "sub", "mul": "mul", "truediv": "div", "pow": "pow",
                 "matmul": "matmul"}
INPLACE_OPS = {"add": "add_", "sub": "sub_", "mul": "mul_", "truediv": "div_", "pow": "pow_"}
COMPARE = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq",
           ast.NotEq: "ne", ast.Is: "is", ast.IsNot: "is_not"}
PYTHON_BUILTINS = {name for name in FUNCTIONS if "." not in name}
IGNORED_KEYWORDS = {"vectorize", "strategy", "flush"}  # no effect on values or printed text


@dataclass
class Limits:
    max_chars: int = 100_000
    max_lines: int = 5_000
    max_nesting: int = 100
    max_nodes: int = 50_000
    max_inlined: int = 200_000


@dataclass
class Translation:
    program: list[Any]
    nodes: dict[int, ast.AST]  # id of an emitted dict -> the ast node it came from
    shifts: dict[int, int]  # line -> columns a doctest prompt took (see prefilter)
    hidden: frozenset[str]
    detect_anomaly: bool = False
    seed: int | None = None


@dataclass
class _Function:
    node: ast.FunctionDef | ast.Lambda
    name: str


Json = Any  # a program element: a number, bool, None, name, array or call dict
_MAX_AST_DEPTH = 200


class _Scope:
    """Names as the source spells them -> names in the program (an inlined function's own)."""

    def __init__(self, rename: dict[str, str] | None = None) -> None:
        self.rename = rename or {}


@dataclass
class _Translator:
    limits: Limits
    shifts: dict[int, int]
    prefix: str
    nodes: dict[int, ast.AST] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)  # program name -> kind
    functions: dict[str, _Function] = field(default_factory=dict)
    modules: dict[str, str] = field(default_factory=dict)  # alias -> module or dotted function
    hidden: set[str] = field(default_factory=set)
    out: list[Any] = field(default_factory=list)  # the block being emitted
    scope: _Scope = field(default_factory=_Scope)
    inlining: list[str] = field(default_factory=list)
    translated: int = 0
    temps: int = 0
    loops: int = 0
    in_condition: bool = False
    detect_anomaly: bool = False
    seed: int | None = None
    top: list[Any] | None = None  # the program's own statement list (not a block's)
    tree: ast.Module | None = None
    depth: int = 0  # expressions being translated, one inside the other
    inlined: bool = False  # a def or lambda has been inlined (count against max_inlined)
    helpers: dict[str, str] = field(default_factory=dict)  # exported helper -> its step

    # ----- helpers --------------------------------------------------------------------------
    def span(self, node: ast.AST) -> Span:
        return Span.of(node, self.shifts)

    def fail(self, node: ast.AST, message: str, kind: str = "syntax-error", **extra: Any
             ) -> ProgramError:
        return source_error(kind, message, self.span(node), **extra)

    def mark(self, d: dict[str, Any], node: ast.AST) -> dict[str, Any]:
        self.nodes[id(d)] = node  # (made a Span only if a problem needs it)
        return d

    def count(self, node: ast.AST) -> None:
        """One more node translated: the source's own (max_source_nodes) until a call is inlined,
        then all of them, inlined bodies again each time (max_inlined_nodes)."""
        self.translated += 1
        if self.translated > self.limits.max_nodes and not self.inlined:
            raise source_error("limit-exceeded", f"the source has more than "
                               f"{self.limits.max_nodes} syntax nodes", self.span(node),
                               limit="max_source_nodes", value=self.translated,
                               maximum=self.limits.max_nodes)
        if self.translated > self.limits.max_inlined:
            raise source_error("limit-exceeded", "the translated program (inlined functions "
                               f"included) is larger than {self.limits.max_inlined} nodes",
                               self.span(node), limit="max_inlined_nodes",
                               value=self.translated, maximum=self.limits.max_inlined)

    def temp(self, name: str) -> str:
        if not self.prefix:  # a prefix no name of the source starts with, found when first needed
            self.prefix = _prefix(self.tree)
        self.temps += 1
        t = f"{self.prefix}{self.temps}_{name}"[:64]
        self.hidden.add(t)
        return t

    def emit(self, stmt: dict[str, Any], node: ast.AST) -> None:
        self.out.append(self.mark(stmt, node))

    # ----- statements -----------------------------------------------------------------------
    def block(self, body: list[ast.stmt]) -> list[Any]:
        saved, self.out = self.out, []
        try:
            for st in body:
                self.statement(st)
            return self.out
        finally:
            self.out = saved

    def statement(self, st: ast.stmt) -> None:
        self.count(st)
        method = _STATEMENTS.get(type(st))
        if method is None:
            raise _refused(self, st)
        method(self, st)

    def st_Pass(self, st: ast.Pass) -> None:  # noqa: N802 - named after the ast class
        pass

    def st_Import(self, st: ast.Import) -> None:  # noqa: N802
        for alias in st.names:
            if alias.name not in MODULES:
                raise self.fail(st, f"import of {alias.name!r} is not supported (only torch, "
                                "torch.nn.functional, torch.autograd, torch.autograd.functional "
                                "and math)")
            if alias.asname:
                self.modules[alias.asname] = alias.name
            else:
                self.modules[alias.name.split(".")[0]] = alias.name.split(".")[0]

    def st_ImportFrom(self, st: ast.ImportFrom) -> None:  # noqa: N802
        module = st.module or ""
        if st.level or module not in MODULES:
            raise self.fail(st, f"import from {module!r} is not supported")
        for alias in st.names:
            if alias.name == "*":
                raise self.fail(st, "`from ... import *` is not supported")
            self.modules[alias.asname or alias.name] = f"{module}.{alias.name}"

    def st_FunctionDef(self, st: ast.FunctionDef) -> None:  # noqa: N802
        if st.name in HELPER_STEPS and ast.dump(st) == _HELPER_DUMPS.get(st.name):
            self.helpers[st.name] = HELPER_STEPS[st.name]  # an exported script's own helper
            return
        a = st.args
        if st.decorator_list:
            raise self.fail(st.decorator_list[0], "decorators are not supported")
        if a.vararg or a.kwarg or a.kwonlyargs or a.defaults or a.posonlyargs:
            raise self.fail(st, f"def {st.name}: only plain positional parameters are supported")
        if st.returns is not None or any(p.annotation is not None for p in a.args):
            raise self.fail(st, "annotations are not supported")
        _check_tree(st, self)
        for k, inner in enumerate(st.body):
            for sub in ast.walk(inner):
                if isinstance(sub, ast.Return) and (k != len(st.body) - 1 or sub is not inner):
                    raise self.fail(sub, f"def {st.name}: `return` only as its last statement")
                if isinstance(sub, ast.FunctionDef):
                    raise self.fail(sub, "nested `def` is not supported")
        self.functions[self.scope.rename.get(st.name, st.name)] = _Function(st, st.name)

    def st_Expr(self, st: ast.Expr) -> None:  # noqa: N802
        v = st.value
        if isinstance(v, ast.Constant) and isinstance(v.value, str):
            return  # a docstring
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "print" \
                and "print" not in self.scope.rename:
            self.print(v)
            return
        if isinstance(v, ast.Call) and self.special_statement(v):
            return
        value, _ = self.expr(v)
        if isinstance(value, dict) and "op" in value:
            self.emit(value, st)
        else:
            self.emit({"op": "py.value", "args": [value]}, st)

    def special_statement(self, call: ast.Call) -> bool:
        """torch calls that change how the program runs rather than compute a value."""
        name = self.dotted(call.func)
        if name == "torch.manual_seed":
            if self.out is not self.top or self.inlining or len(call.args) != 1 \
                    or not isinstance(call.args[0], ast.Constant) \
                    or type(call.args[0].value) is not int:
                raise self.fail(call, "torch.manual_seed(n) is supported once, at the top level, "
                                "with a constant n (it seeds the program's generator)")
            self.seed = call.args[0].value
            return True
        if name == "torch.autograd.set_detect_anomaly":
            if not (call.args and isinstance(call.args[0], ast.Constant)
                    and call.args[0].value is True):
                raise self.fail(call, "only torch.autograd.set_detect_anomaly(True) is supported")
            self.detect_anomaly = True
            return True
        return False

    def print(self, call: ast.Call) -> None:
        values = [self.expr(a)[0] for a in call.args]
        options: dict[str, str] = {}
        for kw in call.keywords:
            if kw.arg in ("sep", "end"):
                if isinstance(kw.value, ast.Constant) and kw.value.value is None:
                    continue
                if not (isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)):
                    raise self.fail(kw.value, f"print's {kw.arg} must be a string constant")
                options[kw.arg] = kw.value.value
            elif kw.arg == "flush":
                continue
            else:
                raise self.fail(kw, f"print's keyword {kw.arg!r} is not supported")
        if len(values) == 1 and not options:
            self.emit({"print": values[0]}, call)
        else:
            self.emit({"print": {"values": values, **options}}, call)

    def st_Assign(self, st: ast.Assign) -> None:  # noqa: N802
        first = st.targets[0]
        if isinstance(first, ast.Attribute):
            self.assign_attribute(first, st.value, st)
            return
        if isinstance(first, ast.Subscript):
            self.assign_item(first, st.value, st)
            return
        value, kind = self.expr(st.value)
        target = self.target(first)
        self.bind(target, value, kind, st)
        for extra in st.targets[1:]:
            name = target if isinstance(target, str) else None
            if name is None or not isinstance(extra, ast.Name):
                raise self.fail(extra, "chained assignment is supported to plain names only")
            self.bind(self.target(extra), name, kind, st)

    def bind(self, target: Any, value: Json, kind: str, node: ast.AST) -> None:
        if isinstance(value, dict) and "op" in value and "name" not in value:
            stmt = {"name": target, **value}
            self.nodes[id(stmt)] = self.nodes.get(id(value), node)
        else:
            stmt = {"name": target, "op": "py.value", "args": [value]}
            self.mark(stmt, node)
        self.out.append(stmt)
        for name in _flat_names(target):
            self.kinds[name] = kind if isinstance(target, str) else "unknown"

    def target(self, t: ast.expr) -> Any:
        if isinstance(t, ast.Name):
            return self.store_name(t)
        if isinstance(t, (ast.Tuple, ast.List)):
            return [self.target(e) for e in t.elts]
        raise self.fail(t, "only names and tuples of names can be assigned to here")

    def store_name(self, t: ast.Name) -> str:
        _check_dunder(self, t, t.id)
        if t.id in self.modules or t.id in PYTHON_BUILTINS | {"print", "torch", "math"}:
            raise self.fail(t, f"rebinding {t.id!r} is not supported")
        name = self.scope.rename.get(t.id, t.id)
        self.functions.pop(name, None)
        return name

    def assign_attribute(self, t: ast.Attribute, value_node: ast.expr, st: ast.stmt) -> None:
        obj, _ = self.expr(t.value)
        if t.attr == "grad":
            value, _ = self.expr(value_node)
            self.emit({"set_grad": [obj, value]}, st)
            return
        if t.attr == "requires_grad":
            flag = self.constant(value_node, Param("requires_grad", "bool"))
            self.emit({"op": "requires_grad_", "args": [obj],
                       "attrs": {"requires_grad": flag}}, st)
            return
        raise self.fail(t, f"assigning to .{t.attr} is not supported (only .grad and "
                        ".requires_grad)")

    def assign_item(self, t: ast.Subscript, value_node: ast.expr, st: ast.stmt) -> None:
        obj, _ = self.expr(t.value)
        index = self.static_index(t.slice)
        if index is None:
            raise self.fail(t.slice, "x[index] = value needs an index of constants, slices and "
                            "names")
        value, _ = self.expr(value_node)
        self.emit({"setitem": [obj, index, value]}, st)

    def st_AugAssign(self, st: ast.AugAssign) -> None:  # noqa: N802
        op = BINOPS.get(type(st.op))
        if op is None:
            raise self.fail(st, f"the operator {type(st.op).__name__} is not supported")
        if not isinstance(st.target, ast.Name):
            raise self.fail(st.target, "augmented assignment is supported to names only")
        name = self.store_name(st.target)
        value, vkind = self.expr(st.value)
        kind = self.kinds.get(name, "unknown")
        if kind == "tensor" and op in INPLACE_OPS and INPLACE_OPS[op] in SIGNATURES:
            self.emit({"name": name, "op": INPLACE_OPS[op], "args": [name, value]}, st)
            return
        result_kind = "tensor" if "tensor" in (kind, vkind) else \
            "number" if kind == vkind == "number" else "unknown"
        self.emit({"name": name, "op": "py.operator", "args": [name, value],
                   "attrs": {"operator": "i" + op if "i" + op in OPERATORS else op}}, st)
        self.kinds[name] = result_kind

    def st_If(self, st: ast.If) -> None:  # noqa: N802
        cond = self.condition(st.test)
        self.emit({"if": cond, "then": self.block(st.body), "else": self.block(st.orelse)}, st)

    def st_While(self, st: ast.While) -> None:  # noqa: N802
        if st.orelse:
            raise self.fail(st, "`while ... else` is not supported")
        cond = self.condition(st.test)
        self.emit({"while": cond, "do": self.loop_body(st.body)}, st)

    def st_For(self, st: ast.For) -> None:  # noqa: N802
        if st.orelse:
            raise self.fail(st, "`for ... else` is not supported")
        iterable, kind = self.expr(st.iter)
        target = self.target(st.target)
        element = "tensor" if kind in ("tensor", "tensors") else \
            "number" if kind == "range" else "unknown"
        for name in _flat_names(target):
            self.kinds[name] = element if isinstance(target, str) else "unknown"
        self.emit({"for": target, "in": iterable, "do": self.loop_body(st.body)}, st)

    def loop_body(self, body: list[ast.stmt]) -> list[Any]:
        self.loops += 1
        try:
            return self.block(body)
        finally:
            self.loops -= 1

    def st_Break(self, st: ast.Break) -> None:  # noqa: N802
        if not self.loops:
            raise self.fail(st, "'break' outside loop")
        self.emit({"break": True}, st)

    def st_Continue(self, st: ast.Continue) -> None:  # noqa: N802
        if not self.loops:
            raise self.fail(st, "'continue' outside loop")
        self.emit({"continue": True}, st)

    def st_Assert(self, st: ast.Assert) -> None:  # noqa: N802
        cond, _ = self.expr(st.test)
        stmt: dict[str, Any] = {"assert": cond}
        if st.msg is not None:
            stmt["message"] = self.expr(st.msg)[0]
        self.emit(stmt, st)

    def st_Return(self, st: ast.Return) -> None:  # noqa: N802
        raise self.fail(st, "`return` outside a function")

    def st_With(self, st: ast.With) -> None:  # noqa: N802
        if len(st.items) != 1 or st.items[0].optional_vars is not None:
            raise self.fail(st, "`with` takes one context manager, without `as`")
        cm = st.items[0].context_expr
        name = self.dotted(cm.func) if isinstance(cm, ast.Call) else None
        if name == "torch.no_grad":
            self.emit({"no_grad": self.block(st.body)}, st)
        elif name == "torch.enable_grad":
            self.emit({"enable_grad": self.block(st.body)}, st)
        elif name == "torch.set_grad_enabled":
            assert isinstance(cm, ast.Call)
            if len(cm.args) != 1:
                raise self.fail(cm, "torch.set_grad_enabled takes one argument")
            flag = self.constant(cm.args[0], Param("mode", "bool"))
            self.emit({"enable_grad" if flag else "no_grad": self.block(st.body)}, st)
        elif name == "torch.autograd.detect_anomaly":
            self.detect_anomaly = True
            self.out.extend(self.block(st.body))
        else:
            raise self.fail(cm, "`with` is supported for torch.no_grad(), torch.enable_grad(), "
                            "torch.set_grad_enabled(b) and torch.autograd.detect_anomaly()")

    def condition(self, test: ast.expr) -> Json:
        self.in_condition = True
        try:
            return self.expr(test)[0]
        finally:
            self.in_condition = False

    # ----- expressions ----------------------------------------------------------------------
    def expr(self, e: ast.expr) -> tuple[Json, str]:
        self.count(e)
        method = _EXPRESSIONS.get(type(e))
        if method is None:
            raise _refused(self, e)
        self.depth += 1
        if self.depth > _MAX_AST_DEPTH:
            raise source_error("limit-exceeded", "the source's expressions nest more than "
                               f"{_MAX_AST_DEPTH} levels deep", self.span(e),
                               limit="max_source_nesting", value=self.depth,
                               maximum=_MAX_AST_DEPTH)
        try:
            return method(self, e)
        finally:
            self.depth -= 1

    def ex_Constant(self, e: ast.Constant) -> tuple[Json, str]:  # noqa: N802
        v = e.value
        if isinstance(v, str):
            return self.mark({"op": "py.format", "attrs": {"template": _escape(v)}}, e), "str"
        if v is None or isinstance(v, bool):
            return v, "none" if v is None else "number"
        if isinstance(v, int):
            if not -(2**63) <= v < 2**63:
                raise self.fail(e, "integer constants must fit in 64 bits")
            return v, "number"
        if isinstance(v, float):
            return _float(v), "number"
        raise self.fail(e, f"{type(v).__name__} constants are not supported")

    def ex_Name(self, e: ast.Name) -> tuple[Json, str]:  # noqa: N802
        _check_dunder(self, e, e.id)
        name = self.scope.rename.get(e.id, e.id)
        if name in self.kinds:
            return name, self.kinds[name]
        if name in self.functions or e.id in self.modules:
            raise self.fail(e, f"{e.id!r} is a function or module; call it (functions are "
                            "values only as the first argument of torch.autograd.functional)")
        if e.id in PYTHON_BUILTINS or e.id == "print":
            raise self.fail(e, f"the builtin {e.id!r} can only be called")
        near = difflib.get_close_matches(e.id, [*self.kinds, *self.modules], n=3)
        hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
        raise self.fail(e, f"name {e.id!r} is not defined{hint}", "unknown-name", name=e.id)

    def ex_List(self, e: ast.List) -> tuple[Json, str]:  # noqa: N802
        return self.sequence(e, "py.list")

    def ex_Tuple(self, e: ast.Tuple) -> tuple[Json, str]:  # noqa: N802
        return self.sequence(e, "py.tuple")

    def sequence(self, e: ast.List | ast.Tuple, op: str) -> tuple[Json, str]:
        if len(e.elts) > 16:
            raise self.fail(e, "a list or tuple of more than 16 values needs torch.tensor([...])")
        items = [self.expr(x) for x in e.elts]
        kind = "tensors" if items and all(k == "tensor" for _, k in items) else "seq"
        return self.mark({"op": op, "args": [v for v, _ in items]}, e), kind

    def ex_JoinedStr(self, e: ast.JoinedStr) -> tuple[Json, str]:  # noqa: N802
        template: list[str] = []
        values: list[Json] = []
        for part in e.values:
            if isinstance(part, ast.Constant):
                template.append(_escape(str(part.value)))
                continue
            assert isinstance(part, ast.FormattedValue)
            spec = ""
            if part.format_spec is not None:
                pieces = part.format_spec.values if isinstance(part.format_spec, ast.JoinedStr) \
                    else []
                if not all(isinstance(p, ast.Constant) for p in pieces):
                    raise self.fail(part.format_spec, "nested fields in a format spec are not "
                                    "supported")
                spec = "".join(str(p.value) for p in pieces if isinstance(p, ast.Constant))
            conversion = "" if part.conversion == -1 else "!" + chr(part.conversion)
            template.append("{" + conversion + (":" + spec if spec else "") + "}")
            values.append(self.expr(part.value)[0])
        if len(values) > 16:
            raise self.fail(e, "an f-string with more than 16 fields is not supported")
        text = "".join(template)
        try:
            parse_template(text)
        except ValueError as exc:
            raise self.fail(e, f"f-string: {exc}") from None
        call: dict[str, Any] = {"op": "py.format", "attrs": {"template": text}}
        if values:
            call["args"] = values
        return self.mark(call, e), "str"

    def ex_UnaryOp(self, e: ast.UnaryOp) -> tuple[Json, str]:  # noqa: N802
        if isinstance(e.op, ast.USub) and isinstance(e.operand, ast.Constant) \
                and isinstance(e.operand.value, (int, float)) \
                and not isinstance(e.operand.value, bool):
            return self.ex_Constant(ast.copy_location(ast.Constant(-e.operand.value), e))
        value, kind = self.expr(e.operand)
        if isinstance(e.op, ast.USub) and kind == "tensor":
            return self.mark({"op": "neg", "args": [value]}, e), "tensor"
        op = {ast.USub: "neg", ast.UAdd: "pos", ast.Invert: "invert", ast.Not: "not"}[
            type(e.op)]
        kind = "number" if op == "not" else kind
        return self.mark({"op": "py.operator", "args": [value], "attrs": {"operator": op}}, e), kind

    def ex_BinOp(self, e: ast.BinOp) -> tuple[Json, str]:  # noqa: N802
        op = BINOPS.get(type(e.op))
        if op is None:
            raise self.fail(e, f"the operator {REFUSED_NAMES.get(type(e.op), type(e.op).__name__)}"
                            " is not supported")
        left, lk = self.expr(e.left)
        right, rk = self.expr(e.right)
        return self.binary(op, left, lk, right, rk, e)

    def binary(self, op: str, left: Json, lk: str, right: Json, rk: str, e: ast.AST
               ) -> tuple[Json, str]:
        if lk == "tensor" and op in TENSOR_BINOPS:
            return self.mark({"op": TENSOR_BINOPS[op], "args": [left, right]}, e), "tensor"
        if lk == "number" and rk == "tensor" and op in ("add", "mul"):
            # torch's __radd__/__rmul__: the tensor first, as x.add(n) / x.mul(n)
            return self.mark({"op": op, "args": [right, left]}, e), "tensor"
        if lk == "number" and rk == "tensor" and op == "sub":
            return self.mark({"op": "rsub", "args": [right, left]}, e), "tensor"
        kind = "tensor" if "tensor" in (lk, rk) else \
            "number" if lk == rk == "number" else "str" if lk == rk == "str" else "unknown"
        return self.mark({"op": "py.operator", "args": [left, right],
                          "attrs": {"operator": op}}, e), kind

    def ex_BoolOp(self, e: ast.BoolOp) -> tuple[Json, str]:  # noqa: N802
        op = "and" if isinstance(e.op, ast.And) else "or"
        if not self.in_condition:
            return self.short_circuit(op, e)
        # in a loop or if condition, which no statement can precede: both sides evaluated
        value, kind = self.expr(e.values[0])
        for nxt in e.values[1:]:
            right, rk = self.expr(nxt)
            value = self.mark({"op": "py.operator", "args": [value, right],
                               "attrs": {"operator": op}}, e)
            kind = kind if kind == rk else "unknown"
        return value, kind

    def short_circuit(self, op: str, e: ast.BoolOp) -> tuple[Json, str]:
        """``a and b`` as Python evaluates it: b only when a is true (``or``: false), as a
        hidden name and ``if`` statements."""
        result = self.temp(op)
        first, kind = self.expr(e.values[0])
        self.bind(result, first, kind, e)
        for nxt in e.values[1:]:
            saved, self.out = self.out, []
            value, vkind = self.expr(nxt)
            self.bind(result, value, vkind, e)
            then, self.out = self.out, saved
            test = result if op == "and" else self.mark(
                {"op": "py.operator", "args": [result], "attrs": {"operator": "not"}}, e)
            self.emit({"if": test, "then": then, "else": []}, e)
            kind = kind if kind == vkind else "unknown"
        self.kinds[result] = kind
        return result, kind

    def ex_IfExp(self, e: ast.IfExp) -> tuple[Json, str]:  # noqa: N802
        """``a if c else b``: c, then only the branch it picks, as a hidden name and an ``if``."""
        if self.in_condition:
            raise self.fail(e, "a conditional expression in a loop or if condition is not "
                            "supported; compute it before")
        result = self.temp("value")
        test, _ = self.expr(e.test)
        branches = []
        kinds = []
        for branch in (e.body, e.orelse):
            saved, self.out = self.out, []
            value, kind = self.expr(branch)
            self.bind(result, value, kind, e)
            branches.append(self.out)
            kinds.append(kind)
            self.out = saved
        self.emit({"if": test, "then": branches[0], "else": branches[1]}, e)
        kind = kinds[0] if kinds[0] == kinds[1] else "unknown"
        self.kinds[result] = kind
        return result, kind

    def ex_Compare(self, e: ast.Compare) -> tuple[Json, str]:  # noqa: N802
        if len(e.ops) != 1:
            raise self.fail(e, "chained comparisons (a < b < c) are not supported; use `and`")
        op = COMPARE.get(type(e.ops[0]))
        if op is None:
            raise self.fail(e, f"{REFUSED_NAMES.get(type(e.ops[0]), 'this comparison')} are "
                            "not supported")
        left, lk = self.expr(e.left)
        right, rk = self.expr(e.comparators[0])
        if lk == "tensor" and op not in ("is", "is_not"):
            return self.mark({"op": op, "args": [left, right]}, e), "tensor"
        kind = "tensor" if rk == "tensor" and op not in ("is", "is_not") else "number"
        return self.mark({"op": "py.operator", "args": [left, right],
                          "attrs": {"operator": op}}, e), kind

    def ex_Attribute(self, e: ast.Attribute) -> tuple[Json, str]:  # noqa: N802
        _check_dunder(self, e, e.attr)
        name = self.dotted(e)
        if name is not None:
            return self.module_value(name, e)
        obj, kind = self.expr(e.value)
        builtin = ATTRIBUTES.get(e.attr)
        if builtin is None:
            raise self.fail(e, f"the attribute .{e.attr} is not supported (supported: "
                            f"{', '.join('.' + a for a in ATTRIBUTES)})")
        return self.mark({"op": builtin, "args": [obj]}, e), ATTRIBUTE_KINDS.get(e.attr,
                                                                                  "unknown")

    def module_value(self, name: str, e: ast.AST) -> tuple[Json, str]:
        """A module attribute used as a value: math's constants, torch's dtypes."""
        if name in CONSTANTS:
            return _float(CONSTANTS[name]), "number"
        if name.startswith("torch.") and name[6:] in DTYPES:
            raise self.fail(e, f"{name} can only be given as a dtype= argument")
        raise self.fail(e, f"{name} is not supported as a value", "unknown-op", op=name,
                        suggestions=self.suggest(name))

    def ex_Subscript(self, e: ast.Subscript) -> tuple[Json, str]:  # noqa: N802
        base, kind = self.expr(e.value)
        if kind == "tensor":
            index = self.static_index(e.slice)
            if index is not None:
                return self.mark({"op": "getitem", "args": [base], "attrs": {"index": index}},
                                 e), "tensor"
        index_value, _ = self.index_value(e.slice)
        result = "tensor" if kind in ("tensor", "tensors") else "unknown"
        if kind == "seq" and isinstance(e.value, ast.Attribute) and e.value.attr == "shape":
            result = "number"
        return self.mark({"op": "py.index", "args": [base, index_value]}, e), result

    def static_index(self, s: ast.expr) -> Any:
        """The index as getitem's attr takes it, or None where a part is computed."""
        items = s.elts if isinstance(s, ast.Tuple) else [s]
        out: list[Any] = []
        for it in items:
            v = self.index_item(it)
            if v is _NOT_STATIC:
                return None
            out.append(v)
        if isinstance(s, ast.Tuple):
            return out
        single = out[0]
        return [single] if isinstance(single, list) else single

    def index_item(self, it: ast.expr) -> Any:
        if isinstance(it, ast.Slice):
            parts = {}
            for key, sub in (("start", it.lower), ("stop", it.upper), ("step", it.step)):
                if sub is None:
                    continue
                v = _int_constant(sub)
                if v is None:
                    return _NOT_STATIC
                parts[key] = v
            return parts
        if isinstance(it, ast.Constant) and it.value is Ellipsis:
            return "..."
        if isinstance(it, ast.Constant) and (it.value is None or type(it.value) in (int, bool)):
            return it.value
        v = _int_constant(it)
        if v is not None:
            return v
        if isinstance(it, ast.Name):
            name = self.scope.rename.get(it.id, it.id)
            if self.kinds.get(name) in ("tensor", "number"):
                return name
            return _NOT_STATIC
        if isinstance(it, ast.List) and all(_int_constant(x) is not None or (
                isinstance(x, ast.Constant) and type(x.value) is bool) for x in it.elts):
            return [_int_constant(x) if _int_constant(x) is not None else x.value  # type: ignore
                    for x in it.elts]
        return _NOT_STATIC

    def index_value(self, s: ast.expr) -> tuple[Json, str]:
        """A computed index, as a value for py.index."""
        if isinstance(s, ast.Slice):
            args = [self.expr(p)[0] if p is not None else None for p in (s.lower, s.upper, s.step)]
            return self.mark({"op": "py.call", "args": args, "attrs": {"function": "slice"}},
                             s), "unknown"
        if isinstance(s, ast.Tuple):
            items = [self.index_value(x)[0] for x in s.elts]
            return self.mark({"op": "py.tuple", "args": items}, s), "seq"
        if isinstance(s, ast.Constant) and s.value is Ellipsis:
            raise self.fail(s, "`...` in a computed index is not supported")
        return self.expr(s)

    def ex_Lambda(self, e: ast.Lambda) -> tuple[Json, str]:  # noqa: N802
        raise self.fail(e, "a lambda is supported as the function given to "
                        "torch.autograd.functional (or called at once)")

    # ----- calls ----------------------------------------------------------------------------
    def dotted(self, e: ast.expr) -> str | None:
        """``F.relu`` -> ``torch.nn.functional.relu`` when the chain starts at an import."""
        parts: list[str] = []
        while isinstance(e, ast.Attribute):
            parts.append(e.attr)
            e = e.value
        if not isinstance(e, ast.Name) or e.id not in self.modules \
                or e.id in self.scope.rename or e.id in self.kinds:
            return None
        return ".".join([self.modules[e.id], *reversed(parts)])

    def suggest(self, name: str) -> list[str]:
        leaf = name.rsplit(".", 1)[-1]
        return difflib.get_close_matches(leaf, [n for n in SIGNATURES if "." not in n], n=3)

    def ex_Call(self, e: ast.Call) -> tuple[Json, str]:  # noqa: N802
        for a in e.args:
            if isinstance(a, ast.Starred):
                raise self.fail(a, "star-args (*x) are not supported")
        if any(kw.arg is None for kw in e.keywords):
            raise self.fail(e, "**kwargs are not supported")
        f = e.func
        if isinstance(f, ast.Name):
            _check_dunder(self, f, f.id)
        if isinstance(f, ast.Lambda):
            return self.inline(_Function(f, "lambda"), [self.expr(a) for a in e.args], e)
        if isinstance(f, ast.Name):
            name = self.scope.rename.get(f.id, f.id)
            if name in self.helpers and name not in self.kinds:
                return self.signature_call(SIGNATURES[self.helpers[name]], e, None)
            if name in self.functions:
                if e.keywords:
                    raise self.fail(e, "keyword arguments to a def are not supported")
                return self.inline(self.functions[name], [self.expr(a) for a in e.args], e)
            if f.id in self.modules and f.id not in self.kinds:
                return self.torch_call(self.modules[f.id], e)
            if f.id in PYTHON_BUILTINS and name not in self.kinds:
                return self.python_call(f.id, e)
            if f.id == "print":
                raise self.fail(e, "print() is supported as a statement")
            if f.id in ("eval", "exec", "compile", "open", "getattr", "setattr", "__import__",
                        "globals", "locals", "vars", "input", "type", "isinstance"):
                raise self.fail(f, f"`{f.id}` is not supported")
            return self.ex_Name(f)  # unknown name: its problem
        dotted = self.dotted(f)
        if dotted is not None:
            return self.torch_call(dotted, e)
        if isinstance(f, ast.Attribute):
            _check_dunder(self, f, f.attr)
            receiver, kind = self.expr(f.value)
            return self.method_call(receiver, kind, f.attr, e)
        raise self.fail(f, "only functions, torch functions and tensor methods can be called")

    def python_call(self, fn: str, e: ast.Call) -> tuple[Json, str]:
        if e.keywords:
            raise self.fail(e, f"{fn}() takes no keyword arguments here")
        if len(e.args) > 16:
            raise self.fail(e, f"{fn}() with more than 16 arguments is not supported")
        args = [self.expr(a) for a in e.args]
        kind = {"len": "number", "float": "number", "int": "number", "bool": "number",
                "round": "number", "str": "str", "repr": "str", "range": "range",
                "tuple": "seq", "list": "seq"}.get(fn, "unknown")
        if fn in ("abs", "min", "max", "sum"):
            kinds = {k for _, k in args}
            kind = "number" if kinds == {"number"} else "tensor" if kinds == {"tensor"} else \
                "unknown"
        return self.mark({"op": "py.call", "args": [v for v, _ in args],
                          "attrs": {"function": fn}}, e), kind

    def torch_call(self, name: str, e: ast.Call) -> tuple[Json, str]:
        if name.startswith("math."):
            if name not in FUNCTIONS:
                raise self.fail(e.func, f"{name} is not supported", "unknown-op", op=name,
                                suggestions=difflib.get_close_matches(
                                    name, [n for n in FUNCTIONS if n.startswith("math.")], n=3))
            return self.python_call_named(name, e)
        if name.startswith("torch.autograd.functional."):
            leaf = name.rsplit(".", 1)[1]
            if leaf in FUNCTIONAL:
                return self.functional(leaf, e)
        if name in ("torch.autograd.grad", "torch.autograd.backward"):
            return self.signature_call(SIGNATURES[name.removeprefix("torch.")], e, None)
        if name in ("torch.no_grad", "torch.enable_grad", "torch.set_grad_enabled",
                    "torch.autograd.detect_anomaly", "torch.manual_seed",
                    "torch.autograd.set_detect_anomaly"):
            raise self.fail(e, f"{name}() is supported as a statement or `with` block only")
        for space in ("torch.nn.functional.", "torch."):
            if name.startswith(space):
                leaf = name[len(space):]
                sig = SIGNATURES.get(leaf)
                if sig is not None and "." not in leaf and not leaf.startswith("py") and (
                        sig.op is not None or leaf == "tensor"):
                    return self.signature_call(sig, e, None)
                break
        raise self.fail(e.func, f"unknown op {name!r}" + _hint(self.suggest(name)), "unknown-op",
                        op=name, suggestions=self.suggest(name))

    def python_call_named(self, fn: str, e: ast.Call) -> tuple[Json, str]:
        if e.keywords:
            raise self.fail(e, f"{fn}() takes no keyword arguments here")
        args = [self.expr(a)[0] for a in e.args]
        return self.mark({"op": "py.call", "args": args, "attrs": {"function": fn}}, e), "number"

    def method_call(self, receiver: Json, kind: str, method: str, e: ast.Call
                    ) -> tuple[Json, str]:
        if kind in ("str", "number", "range", "none"):
            raise self.fail(e.func, f"the method .{method}() of a Python value is not supported")
        if method == "size":
            shape = self.mark({"op": "shape", "args": [receiver]}, e)
            if not e.args:
                return shape, "seq"
            return self.mark({"op": "py.index", "args": [shape, self.expr(e.args[0])[0]]},
                             e), "number"
        if method == "dim":
            return self.mark({"op": "ndim", "args": [receiver]}, e), "number"
        if method in CAST_METHODS and not e.args and not e.keywords:
            return self.mark({"op": "to", "args": [receiver],
                              "attrs": {"dtype": CAST_METHODS[method]}}, e), "tensor"
        sig = SIGNATURES.get(method)
        usable = sig is not None and "." not in method and (
            (sig.op is not None and sig.op.method and sig.inputs)
            or method in METHOD_BUILTINS)
        if not usable:
            raise self.fail(e.func, f"unknown tensor method .{method}()" + _hint(
                self.suggest(method)), "unknown-op", op=method, suggestions=self.suggest(method))
        assert sig is not None
        return self.signature_call(sig, e, receiver)

    # ----- arguments through a signature ----------------------------------------------------
    def signature_call(self, sig: Signature, e: ast.Call, receiver: Json) -> tuple[Json, str]:
        params: list[Param | Any] = list(sig.op.params) if sig.op is not None else \
            [*sig.inputs, *sig.attrs]
        input_names = [i.name for i in sig.inputs]
        given: dict[str, ast.expr | Json] = {}
        start = 0
        if receiver is not None:
            given[params[0].name] = _Done(receiver)
            start = 1
        positional = list(e.args)
        k = start
        while positional:
            if k >= len(params):
                raise self.fail(e, f"{sig.name}() takes {len(params) - start} positional "
                                f"arguments but {len(e.args)} were given", "type-error")
            p = params[k]
            if getattr(p, "kind", None) == "ints" and not isinstance(
                    positional[0], (ast.Tuple, ast.List)):
                given[p.name] = _Pack(positional)  # torch's varargs: ones(2, 2), view(2, -1)
                positional = []
                break
            given[p.name] = positional.pop(0)
            k += 1
        for kw in e.keywords:
            assert kw.arg is not None
            if kw.arg in IGNORED_KEYWORDS:
                continue
            if kw.arg not in {p.name for p in params}:
                near = difflib.get_close_matches(kw.arg, [p.name for p in params], n=2)
                raise self.fail(kw, f"{sig.name}() got an unexpected keyword argument "
                                f"'{kw.arg}'" + _hint(near), "type-error")
            if kw.arg in given:
                raise self.fail(kw, f"{sig.name}() got multiple values for argument "
                                f"'{kw.arg}'", "type-error")
            given[kw.arg] = kw.value
        args: list[Json] = []
        for i, spec in enumerate(sig.inputs):
            if spec.name in given:
                while len(args) < i:
                    args.append(None)
                args.append(self.input_value(given[spec.name], spec.kind))
            elif spec.required:
                raise self.fail(e, f"{sig.name}() missing required argument '{spec.name}'",
                                "type-error")
        attrs: dict[str, Any] = {}
        for p in sig.attrs:
            if p.name in given:
                v = given[p.name]
                attrs[p.name] = self.constant(v, p) if isinstance(v, ast.expr) else \
                    self.pack(v, p) if isinstance(v, _Pack) else v
            elif p.required:
                raise self.fail(e, f"{sig.name}() missing required argument '{p.name}'",
                                "type-error")
        del input_names
        call: dict[str, Any] = {"op": sig.name}
        if args:
            call["args"] = args
        if attrs:
            call["attrs"] = attrs
        # (an op with several outputs returns one tensor or a tuple, by its attrs)
        kind = "tensor" if sig.op is not None and len(sig.op.outputs) == 1 else \
            _BUILTIN_KINDS.get(sig.name, "unknown")
        if sig.name in ("backward", "autograd.backward", "retain_grad", "zero_grad"):
            kind = "none"
        return self.mark(call, e), kind

    def input_value(self, v: Any, kind: str) -> Json:
        if isinstance(v, _Done):
            return v.value
        if isinstance(v, _Pack):
            raise ProgramError("type-error", "unexpected varargs")
        if kind == "data":
            literal = _literal(v)
            if literal is not _NOT_STATIC:
                return literal
        if kind in ("tensors", "tensor_or_tensors") and isinstance(v, (ast.List, ast.Tuple)):
            if all(isinstance(x, ast.Name) for x in v.elts):
                names = [self.expr(x)[0] for x in v.elts]
                if all(isinstance(n, str) for n in names):
                    return names
            items = [self.expr(x)[0] for x in v.elts]
            return self.mark({"op": "py.tuple", "args": items}, v)
        return self.expr(v)[0]

    def pack(self, v: _Pack, p: Param) -> list[int]:
        out = []
        for node in v.nodes:
            n = _int_constant(node)
            if n is None:
                raise self.fail(node, f"argument '{p.name}' must be constant ints here (attrs "
                                "are static in gradserve)", "type-error")
            out.append(n)
        return out

    def constant(self, node: ast.expr, p: Param) -> Any:
        """An attr's value: constants only (a program's attrs are static)."""
        if p.kind == "dtype":
            name = self.dotted(node)
            if name and name.startswith("torch.") and name[6:] in DTYPES:
                return DTYPES[name[6:]]
            if isinstance(node, ast.Constant) and node.value is None:
                return None
            raise self.fail(node, f"argument '{p.name}' must be a dtype ("
                            f"{', '.join('torch.' + n for n in DTYPES)})", "type-error")
        if p.kind == "index":
            idx = self.static_index(node)
            if idx is None:
                raise self.fail(node, f"argument '{p.name}' must be a constant index here",
                                "type-error")
            return idx
        v = _literal(node, allow_str=True)
        if v is _NOT_STATIC:
            name = self.dotted(node)
            if name in CONSTANTS:
                return _float(CONSTANTS[name])
            raise self.fail(node, f"argument '{p.name}' must be a constant here (a number, a "
                            "string, True/False/None or a tuple of ints: attrs are static in "
                            "gradserve)", "type-error")
        if p.kind in ("ints",) and isinstance(v, int) and not isinstance(v, bool):
            return [v]
        return v

    # ----- inlining -------------------------------------------------------------------------
    def inline(self, fn: _Function, args: list[tuple[Json, str]], call: ast.Call
               ) -> tuple[Json, str]:
        node = fn.node
        params = [a.arg for a in node.args.args]
        if isinstance(node, ast.Lambda) and (node.args.vararg or node.args.kwarg
                                             or node.args.kwonlyargs or node.args.defaults):
            raise self.fail(node, "a lambda takes plain positional parameters only")
        if len(args) != len(params):
            raise self.fail(call, f"{fn.name}() takes {len(params)} positional arguments but "
                            f"{len(args)} were given", "type-error")
        if fn.name in self.inlining:
            raise self.fail(call, f"recursive call of {fn.name}() is not supported")
        body = node.body if isinstance(node, ast.FunctionDef) else []
        assigned = _assigned_names(body)
        rename: dict[str, str] = {}
        before = len(self.out)
        for p, (value, kind) in zip(params, args, strict=True):
            _check_dunder(self, node, p)
            if isinstance(value, str) and value in self.kinds and p not in assigned:
                rename[p] = value  # a name passed straight through
                continue
            rename[p] = self.temp(p)
            self.bind(rename[p], value, kind, call)
        for local in sorted(assigned - set(params)):  # (sorted: the same names every time)
            rename[local] = self.temp(local)
        saved = self.scope
        self.scope = _Scope(rename)
        self.inlining.append(fn.name)
        self.inlined = True
        try:
            if isinstance(node, ast.Lambda):
                result = self.expr(node.body)
            else:
                for st in body[:-1] if body and isinstance(body[-1], ast.Return) else body:
                    self.statement(st)
                last = body[-1] if body else None
                if isinstance(last, ast.Return) and last.value is not None:
                    result = self.expr(last.value)
                else:
                    result = (None, "none")
        finally:
            self.scope = saved
            self.inlining.pop()
        if self.in_condition and len(self.out) != before:
            raise self.fail(call, "a def called in a loop or if condition is not supported; "
                            "call it before and test its result")
        return result

    def functional(self, fn: str, e: ast.Call) -> tuple[Json, str]:
        """torch.autograd.functional.<fn>(func, inputs, [v], create_graph=, strict=): the
        inputs made fresh leaves, func inlined on them, then the step on its result."""
        if self.in_condition:
            raise self.fail(e, f"{fn}() in a condition is not supported")
        names = ["func", "inputs"] + (["v"] if fn != "jacobian" and fn != "hessian" else [])
        given: dict[str, ast.expr] = dict(zip(names, e.args, strict=False))
        if len(e.args) > len(names):
            raise self.fail(e, f"{fn}() takes at most {len(names)} positional arguments",
                            "type-error")
        flags: dict[str, bool] = {}
        for kw in e.keywords:
            assert kw.arg is not None
            if kw.arg in names:
                given[kw.arg] = kw.value
            elif kw.arg in ("create_graph", "strict"):
                flags[kw.arg] = self.constant(kw.value, Param(kw.arg, "bool"))
            elif kw.arg not in IGNORED_KEYWORDS:
                raise self.fail(kw, f"{fn}() got an unexpected keyword argument '{kw.arg}'",
                                "type-error")
        if "func" not in given or "inputs" not in given:
            raise self.fail(e, f"{fn}() needs func and inputs", "type-error")
        func_node = given["func"]
        if isinstance(func_node, ast.Lambda):
            func = _Function(func_node, "lambda")
        elif isinstance(func_node, ast.Name) and \
                self.scope.rename.get(func_node.id, func_node.id) in self.functions:
            func = self.functions[self.scope.rename.get(func_node.id, func_node.id)]
        else:
            raise self.fail(func_node, f"{fn}()'s func must be a def or a lambda of this source")
        inputs_node = given["inputs"]
        many = isinstance(inputs_node, (ast.Tuple, ast.List))
        nodes = list(inputs_node.elts) if isinstance(inputs_node, (ast.Tuple, ast.List)) \
            else [inputs_node]
        leaves: list[str] = []
        cg = flags.get("create_graph", False)
        for n in nodes:
            value, _ = self.expr(n)
            leaf = self.temp("input")
            stmt: dict[str, Any] = {"name": leaf, "op": "py.functional_input", "args": [value]}
            if cg:
                stmt["attrs"] = {"create_graph": True}
            self.emit(stmt, n)
            self.kinds[leaf] = "tensor"
            leaves.append(leaf)
        result, _ = self.inline(func, [(leaf, "tensor") for leaf in leaves], e)
        out = self.temp("output")
        self.bind(out, result, "tensor", e)
        args: list[Json] = [out, leaves if many else leaves[0]]
        if "v" in given:
            v = given["v"]
            args.append(self.input_value(v, "tensor_or_tensors"))
        call: dict[str, Any] = {"op": fn, "args": args}
        if flags:
            call["attrs"] = flags
        return self.mark(call, e), "tensor" if fn in ("jacobian", "hessian") and not many \
            else "seq"


# ast class -> the translator's method for it
_T = _Translator
_STATEMENTS: dict[type, Any] = {
    ast.Pass: _T.st_Pass, ast.Import: _T.st_Import, ast.ImportFrom: _T.st_ImportFrom,
    ast.FunctionDef: _T.st_FunctionDef, ast.Expr: _T.st_Expr, ast.Assign: _T.st_Assign,
    ast.AugAssign: _T.st_AugAssign, ast.If: _T.st_If, ast.While: _T.st_While, ast.For: _T.st_For,
    ast.Break: _T.st_Break, ast.Continue: _T.st_Continue, ast.Assert: _T.st_Assert,
    ast.Return: _T.st_Return, ast.With: _T.st_With,
}
_EXPRESSIONS: dict[type, Any] = {
    ast.Constant: _T.ex_Constant, ast.Name: _T.ex_Name, ast.List: _T.ex_List,
    ast.Tuple: _T.ex_Tuple, ast.JoinedStr: _T.ex_JoinedStr, ast.UnaryOp: _T.ex_UnaryOp,
    ast.BinOp: _T.ex_BinOp, ast.BoolOp: _T.ex_BoolOp, ast.Compare: _T.ex_Compare,
    ast.Attribute: _T.ex_Attribute, ast.Subscript: _T.ex_Subscript, ast.Lambda: _T.ex_Lambda,
    ast.Call: _T.ex_Call, ast.IfExp: _T.ex_IfExp,
}


class _Done:
    """An argument already translated (a method's receiver)."""

    def __init__(self, value: Json) -> None:
        self.value = value


class _Pack:
    """torch's varargs ints (``torch.ones(2, 2)``), packed into one ``ints`` attr."""

    def __init__(self, nodes: list[ast.expr]) -> None:
        self.nodes = nodes


_NOT_STATIC: Any = object()
_HELPER_DUMPS = helper_dumps()
_BUILTIN_KINDS = {"grad": "tensor", "data": "tensor", "detach": "tensor", "tensor": "tensor",
                  "requires_grad_": "tensor", "item": "number", "numel": "number",
                  "ndim": "number", "requires_grad": "number", "is_leaf": "number",
                  "shape": "seq", "autograd.grad": "tensors"}


def _hint(near: list[str]) -> str:
    return f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _float(v: float) -> Any:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def _int_constant(node: ast.expr) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
            and isinstance(node.operand, ast.Constant) and type(node.operand.value) is int:
        return -node.operand.value
    return None


def _literal(node: ast.expr, allow_str: bool = False) -> Any:
    """A constant number, bool, None (or string), or a nested list/tuple of them."""
    if isinstance(node, ast.Constant):
        v = node.value
        if v is None or type(v) in (bool, int) or (allow_str and isinstance(v, str)):
            return v
        if isinstance(v, float):
            return _float(v)
        return _NOT_STATIC
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _literal(node.operand)
        if type(inner) in (int, float):
            return -inner if isinstance(node.op, ast.USub) else inner
        if inner == "Infinity" and isinstance(node.op, ast.USub):
            return "-Infinity"
        return _NOT_STATIC
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float" \
            and len(node.args) == 1 and isinstance(node.args[0], ast.Constant) \
            and node.args[0].value in ("inf", "-inf", "nan"):
        return {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}[node.args[0].value]
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(x) for x in node.elts]
        return _NOT_STATIC if any(i is _NOT_STATIC for i in items) else items
    return _NOT_STATIC


def _flat_names(target: Any) -> list[str]:
    if isinstance(target, str):
        return [target]
    return [n for t in target for n in _flat_names(t)]


def _assigned_names(body: list[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for st in body:
        for node in ast.walk(st):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
    return names


def _check_dunder(t: _Translator, node: ast.AST, name: str) -> None:
    if name.startswith("__") and name.endswith("__"):
        raise t.fail(node, f"dunder names ({name}) are not supported")


def _check_tree(tree: ast.AST, t: _Translator) -> None:
    """The whitelist over a whole def when it is defined (its body is translated only where it is
    called, and a def never called must be refused all the same)."""
    for node in ast.walk(tree):
        if type(node) not in ALLOWED:
            raise _refused(t, node)


def _refused(t: _Translator, node: ast.AST) -> ProgramError:
    what = REFUSED_NAMES.get(type(node), f"`{type(node).__name__}`")
    return t.fail(node, f"{what} are not supported" if not what.startswith("`")
                  or "statements" in what else f"{what} is not supported")


def _prefix(tree: ast.AST | None) -> str:
    """A prefix for the names the translator makes that no name of the source starts with."""
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)} if tree is not None else set()
    prefix = "_gs"
    while any(u.startswith(prefix) for u in names):
        prefix += "_"
    return prefix


def translate(source: str, limits: Limits | None = None,
              inputs: frozenset[str] = frozenset()) -> Translation:
    """The program ``source`` means, or a ProgramError pointing at /source with a location.
    ``inputs``: the names the request's inputs bind before the program runs (tensors): the
    source may read them as if assigned before its first line."""
    limits = limits or Limits()
    prepared = prepare(source, limits.max_chars, limits.max_lines, limits.max_nesting)
    try:
        tree = ast.parse(prepared.text, "<source>", "exec")
    except SyntaxError as exc:
        line = exc.lineno or 1
        col = (exc.offset or 1) + prepared.shifts.get(line, 0)
        end_line = exc.end_lineno or line
        end_col = (exc.end_offset or exc.offset or 1) + prepared.shifts.get(end_line, 0)
        if end_line == line and end_col < col:
            end_col = col
        raise source_error("syntax-error", f"{exc.msg}", Span(line, col, end_line, end_col)) \
            from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise source_error("syntax-error", f"the source could not be parsed: {exc}"[:300],
                           None) from None
    t = _Translator(limits, prepared.shifts, "")
    t.top, t.tree = t.out, tree
    t.kinds.update(dict.fromkeys(sorted(inputs), "tensor"))
    for st in tree.body:
        t.statement(st)
    return Translation(t.out, t.nodes, prepared.shifts, frozenset(t.hidden), t.detect_anomaly,
                       t.seed)
