"""Calls on Python values: what a PyTorch script computes besides tensors.

A script binds numbers (``lr = 0.1``), compares ``loss.item() < 0.01``, formats f-strings, indexes
tuples (``torch.autograd.grad(...)[0]``), loops over ``range(50)`` and calls ``len``/``abs``/
``math.sqrt``. The source front end (service/source/) compiles these to the builtins below, so a
translated script stays one JSON program run by the one interpreter; a JSON client can call them
too. They are declared like every other builtin (service/program_builtins.py) and listed in ``GET /v1/ops``
under the category ``python``.

Every function is a fixed, whitelisted Python operation: nothing here evaluates text. Sizes a
program could blow up are bounded before the work: the bits of an integer product or power, the
length of a string or list built, the width of a format field.
"""

from __future__ import annotations

import math
import operator
import re
import string
from collections.abc import Callable
from typing import Any

import engine as ge
from engine.registry import Param
from service.errors import ProgramError
from service.param_kinds import Input
from service.printing import to_repr, to_str
from service.program_builtins import Builtin
from service.values import Size

# The most bits an integer result may have (Python ints are unbounded; 2**4096 is far past any
# value a tensor program needs, and cheap), and the longest string or list a program may build.
MAX_INT_BITS = 4096
MAX_SEQUENCE = 1_000_000
MAX_FORMAT_FIELD = 1000  # the widest width or precision a format spec may ask for
VARIADIC = 16  # the most arguments one variadic call takes (args a0..a15)


def _fail(kind: str, message: str) -> ProgramError:
    return ProgramError(kind, message)


def _over(limit: str, value: int, maximum: int, message: str) -> ProgramError:
    """A fixed bound of this module (not a setting: no tensor program comes near it)."""
    return ProgramError("limit-exceeded", message, limit=limit, value=value, maximum=maximum)


def _type(v: Any) -> str:
    if isinstance(v, ge.Tensor):
        return "Tensor"
    if isinstance(v, Size):
        return "torch.Size"
    if isinstance(v, ge.Node):
        return v.name()
    return type(v).__name__


def _int_bits(v: Any) -> int:
    return v.bit_length() if type(v) is int else 0


def _check_int_work(name: str, a: Any, b: Any) -> None:
    """Refuse an integer product or power over MAX_INT_BITS before computing it."""
    bits = 0
    if name in ("mul", "imul"):
        bits = _int_bits(a) + _int_bits(b)
    elif name in ("pow", "ipow") and type(a) is int and type(b) is int and b > 0 and abs(a) > 1:
        bits = (abs(a).bit_length() - 1) * b
    if bits > MAX_INT_BITS:
        raise _over("max_int_bits", bits, MAX_INT_BITS,
                    f"the integer result would have more than {MAX_INT_BITS} bits")


def _check_sequence(v: Any) -> Any:
    if isinstance(v, (str, list, tuple)) and len(v) > MAX_SEQUENCE:
        raise _over("max_sequence_length", len(v), MAX_SEQUENCE,
                    f"a string or list longer than {MAX_SEQUENCE}")
    return v


def _truth(v: Any) -> bool:
    if isinstance(v, ge.Tensor) and v.numel() != 1:
        raise _fail("type-error", "Boolean value of Tensor with more than one value is ambiguous")
    return bool(v)


# Python's operators by name. "and"/"or" evaluate both operands (a JSON call evaluates all its
# arguments) and answer as Python does: the first falsy / truthy operand, else the last.
OPERATORS: dict[str, Callable[..., Any]] = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow,
    "matmul": operator.matmul, "and_": operator.and_, "or_": operator.or_, "xor": operator.xor,
    "iadd": operator.iadd, "isub": operator.isub, "imul": operator.imul,
    "itruediv": operator.itruediv, "ifloordiv": operator.ifloordiv, "imod": operator.imod,
    "ipow": operator.ipow, "imatmul": operator.imatmul,
    "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
    "eq": operator.eq, "ne": operator.ne, "is": operator.is_, "is_not": operator.is_not,
    "and": lambda a, b: b if _truth(a) else a, "or": lambda a, b: a if _truth(a) else b,
    "neg": operator.neg, "pos": operator.pos, "invert": operator.invert, "not": lambda a: not _truth(a),
}
UNARY = frozenset({"neg", "pos", "invert", "not"})
# The symbol of each operator, for messages and for the exporter.
SYMBOLS: dict[str, str] = {
    "add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%",
    "pow": "**", "matmul": "@", "and_": "&", "or_": "|", "xor": "^", "iadd": "+=",
    "isub": "-=", "imul": "*=", "itruediv": "/=", "ifloordiv": "//=", "imod": "%=", "ipow": "**=",
    "imatmul": "@=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!=",
    "is": "is", "is_not": "is not", "and": "and", "or": "or", "neg": "-", "pos": "+",
    "invert": "~", "not": "not",
}
_PLAIN = (bool, int, float, type(None), ge.Tensor)


def _concat(a: Any, b: Any) -> Any:
    return a + b


def _operator(a: Any, b: Any = None, *, operator: str) -> Any:  # noqa: A002 - the attr's name
    if operator in ("is", "is_not", "eq", "ne", "and", "or", "not"):
        pass  # any two values may be compared or combined
    elif operator in ("add", "iadd") and type(a) in (str, tuple, list) and type(b) is type(a):
        return _check_sequence(_concat(a, b))  # str + str, tuple + tuple, list + list
    elif not isinstance(a, _PLAIN) or (operator not in UNARY and not isinstance(b, _PLAIN)):
        sym = SYMBOLS[operator]
        if operator in UNARY:
            raise _fail("type-error", f"bad operand type for unary {sym}: '{_type(a)}'")
        raise _fail("type-error", f"unsupported operand type(s) for {sym}: '{_type(a)}' and "
                    f"'{_type(b)}'")
    if operator.startswith("i") and operator not in ("is", "is_not", "invert") and isinstance(
            a, ge.Tensor) and not hasattr(type(a), f"__{operator}__"):
        # without the tensor's own in-place operator Python would rebind to a new tensor
        raise _fail("type-error", f"in-place {SYMBOLS[operator]} on a tensor is not supported")
    _check_int_work(operator, a, b)
    fn = OPERATORS[operator]
    try:
        return fn(a) if operator in UNARY else fn(a, b)
    except ZeroDivisionError as exc:
        raise _fail("argument-error", str(exc) or "division by zero") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise _fail("type-error", str(exc)) from None


def _round(x: Any, ndigits: Any = None) -> Any:
    return round(x) if ndigits is None else round(x, ndigits)


def _range(*args: Any) -> range:
    if not all(type(a) is int for a in args):
        bad = next(a for a in args if type(a) is not int)
        raise _fail("type-error", f"'{_type(bad)}' object cannot be interpreted as an integer")
    return range(*args)


def _sequence(of: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def build(iterable: Any = ()) -> Any:
        if isinstance(iterable, (range, tuple, list, str)) and len(iterable) > MAX_SEQUENCE:
            raise _over("max_sequence_length", len(iterable), MAX_SEQUENCE,
                        f"a sequence longer than {MAX_SEQUENCE}")
        if isinstance(iterable, ge.Tensor):
            return of(_iterate_tensor(iterable))
        return of(iterable)

    return build


def _iterate_tensor(t: ge.Tensor) -> list[ge.Tensor]:
    if t.ndim == 0:
        raise _fail("type-error", "iteration over a 0-d tensor")
    return [t[i] for i in range(t.shape[0])]


def _math(fn: Callable[[float], float]) -> Callable[[Any], float]:
    def run(x: Any) -> float:
        return fn(float(x))

    return run


# Python's builtins and math functions a script may call, by the name the source spells them.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len, "abs": abs, "min": min, "max": max, "round": _round, "float": float, "int": int,
    "bool": _truth, "str": to_str, "repr": to_repr, "range": _range, "list": _sequence(list),
    "tuple": _sequence(tuple), "slice": slice, "sum": sum,
    "math.sqrt": _math(math.sqrt), "math.exp": _math(math.exp), "math.log": _math(math.log),
    "math.log2": _math(math.log2), "math.log10": _math(math.log10), "math.sin": _math(math.sin),
    "math.cos": _math(math.cos), "math.tan": _math(math.tan), "math.tanh": _math(math.tanh),
    "math.atan": _math(math.atan), "math.floor": _math(math.floor), "math.ceil": _math(math.ceil),
    "math.fabs": _math(math.fabs), "math.isclose": math.isclose, "math.isnan": _math(math.isnan),
    "math.isinf": _math(math.isinf), "math.pow": math.pow,
}
# Values of the math module's constants (the front end puts them in as numbers).
CONSTANTS: dict[str, float] = {"math.pi": math.pi, "math.e": math.e, "math.tau": math.tau,
                               "math.inf": math.inf, "math.nan": math.nan}


_REDUCTIONS: dict[str, Callable[[ge.Tensor], Any]] = {
    "min": lambda t: t.min(), "max": lambda t: t.max(), "sum": lambda t: t.sum()}


def _call(*args: Any, function: str) -> Any:
    fn = FUNCTIONS[function]
    try:
        if function in _REDUCTIONS and len(args) == 1 and isinstance(args[0], ge.Tensor):
            return _REDUCTIONS[function](args[0])  # min(t) of a tensor: its smallest element
        return _check_sequence(fn(*args))
    except ProgramError:
        raise
    except ge.EngineError:
        raise
    except (TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
        raise _fail("type-error" if isinstance(exc, TypeError) else "argument-error",
                    f"{function}(): {exc}") from None


def _value(v: Any = None) -> Any:
    return v


def _index(container: Any, index: Any) -> Any:
    if not isinstance(container, (ge.Tensor, tuple, list, range, str)):
        raise _fail("type-error", f"'{_type(container)}' object is not subscriptable")
    try:
        return container[index]
    except IndexError as exc:
        raise _fail("argument-error", str(exc)) from None
    except TypeError as exc:
        raise _fail("type-error", str(exc)) from None


_FIELD_NUMBERS = re.compile(r"\d+")


def format_value(v: Any, spec: str) -> str:
    """``format(v, spec)`` as Python with torch does: a 0-d tensor formats as its Python number
    (torch's Tensor.__format__), an empty spec is ``str``; field widths are bounded first."""
    widest = max((int(n) for n in _FIELD_NUMBERS.findall(spec)), default=0)
    if widest > MAX_FORMAT_FIELD:
        raise _over("max_format_width", widest, MAX_FORMAT_FIELD,
                    f"a format field wider than {MAX_FORMAT_FIELD}")
    if isinstance(v, ge.Tensor):
        if v.ndim == 0:
            return format(v.item(), spec)
        if spec:
            raise _fail("type-error", "unsupported format string passed to Tensor.__format__")
        return to_str(v)
    if not spec or not isinstance(v, (bool, int, float, str)):
        if spec:
            raise _fail("type-error",
                        f"unsupported format string passed to {_type(v)}.__format__")
        return to_str(v)
    try:
        return format(v, spec)
    except ValueError as exc:
        raise _fail("argument-error", str(exc)) from None


def parse_template(template: str) -> list[tuple[str, str | None, str]]:
    """A format template's pieces: (literal text, conversion or None, spec); a field's name must be
    empty (``{}``, ``{!r}``, ``{:.4f}``). Raises ValueError on anything else."""
    pieces: list[tuple[str, str | None, str]] = []
    for literal, field, spec, conversion in string.Formatter().parse(template):
        if field is None:
            pieces.append((literal, None, "\0"))  # text only: no field follows
            continue
        if field != "" or (spec and "{" in spec) or conversion not in (None, "r", "s", "a"):
            raise ValueError("a template field is {} with an optional !r/!s/!a and a format spec")
        pieces.append((literal, conversion, spec or ""))
    return pieces


def _format(*values: Any, template: str) -> str:
    try:
        pieces = parse_template(template)
    except ValueError as exc:
        raise _fail("argument-error", f"py.format: {exc}") from None
    out: list[str] = []
    k = 0
    for literal, conversion, spec in pieces:
        out.append(literal)
        if spec == "\0":
            continue
        if k >= len(values):
            raise _fail("argument-error", "py.format: the template has more fields than values")
        v = values[k]
        k += 1
        if conversion in ("r", "a"):
            v = to_repr(v)
        elif conversion == "s":
            v = to_str(v)
        out.append(format_value(v, spec))
    if k != len(values):
        raise _fail("argument-error", "py.format: more values than fields in the template")
    return _check_sequence("".join(out))


def _functional_input(t: ge.Tensor, *, create_graph: bool = False) -> ge.Tensor:
    """torch.autograd.functional's preprocessing of an input: a fresh leaf requiring grad (with
    create_graph, a tensor that already requires grad is used through a view, as torch does)."""
    if create_graph and t.requires_grad:
        return t.view(*t.shape)
    return t.detach().requires_grad_(True)


def _variadic(doc: str) -> tuple[Input, ...]:
    return tuple(Input(f"a{i}", "any", required=False, nullable=True, doc=doc if i == 0 else "")
                 for i in range(VARIADIC))


_ANY = Input("value", "any", required=False, nullable=True, doc="Any value.")

PY_BUILTINS: tuple[Builtin, ...] = (
    Builtin("py.value", (_ANY,), (), _value,
            "A value as it is: binds a number, a string, a list or another name to a name "
            "(a script's `lr = 0.1`, `b = a`).", "python", "the value"),
    Builtin("py.operator",
            (Input("a", "any", nullable=True), Input("b", "any", required=False, nullable=True)),
            (Param("operator", "choice", choices=tuple(OPERATORS),
                   doc="Python's operator by name (operator module spelling; and/or/not/is)."),),
            _operator,
            "A Python operator on any two values (one for neg, pos, invert, not): numbers "
            "compute as Python does, tensors as torch's operators do.", "python", "the result"),
    Builtin("py.call", _variadic("The arguments, in order."),
            (Param("function", "choice", choices=tuple(FUNCTIONS),
                   doc="The Python builtin or math function."),),
            _call, "A Python builtin (len, abs, min, max, round, float, int, range, ...) or math "
            "function on the given arguments.", "python", "the result"),
    Builtin("py.format", _variadic("The values of the template's fields, in order."),
            (Param("template", "str", doc="Python's format template; fields are {} with an "
                   "optional !r/!s and a format spec ({:.4f}); {{ and }} are braces."),),
            _format, "An f-string: the template with each field formatted as Python does (a "
            "0-d tensor formats as its number); with no fields, a string constant.",
            "python", "str"),
    Builtin("py.list", _variadic("The elements, in order."), (), lambda *a: list(a),
            "A list of the given values (a script's `[w, b]`).", "python", "list"),
    Builtin("py.tuple", _variadic("The elements, in order."), (), lambda *a: tuple(a),
            "A tuple of the given values.", "python", "tuple"),
    Builtin("py.index", (Input("container", "any"), Input("index", "any", nullable=True)), (),
            _index, "container[index] for a tensor, tuple, list, torch.Size or range (x.shape[0], "
            "grads[0], a loop variable as a tensor index).", "python", "the element"),
    Builtin("py.transpose", (Input("input", "tensor"),), (), lambda t: t.T,
            "x.T: the dimensions reversed.", "python", "Tensor"),
    Builtin("py.functional_input", (Input("input", "tensor"),),
            (Param("create_graph", "bool", False),), _functional_input,
            "How torch.autograd.functional prepares an input before calling the function: a "
            "fresh leaf that requires grad.", "python", "Tensor"),
)
