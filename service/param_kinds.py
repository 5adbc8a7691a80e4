"""Every kind of parameter a call takes, each declared once: what GET /v1/ops says it accepts, and
how the service takes it.

- An *input* kind (positional, in ``args``) has a reader: when the call runs, it evaluates the
  argument and checks the value is of the kind (service/interpreter.py calls it), refusing
  anything else with a type-error at the argument's pointer.
- An *attr* kind (by name, in ``attrs``) has a request type: the pydantic type its value is
  validated with before the program runs (service/program.py builds each op's attrs model from
  it).

The engine names the kinds of its ops' parameters (``engine.registry.ParamKind``); the service's
builtins (service/program_builtins.py) add three input kinds of their own: ``node``, ``data`` and
``tensor_or_tensors``; the Python-value calls (service/python_builtins.py) a fourth, ``any``. A
new kind is one row of :data:`PARAM_KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, Union

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StringConstraints,
    create_model,
)
from typing_extensions import TypeAliasType

import engine as ge
from engine import dtypes
from service.encoding import NONFINITE, Resolve
from service.errors import ProgramError
from service.pointer import Path, pointer
from service.scalars import Float, Int64, Name, Token, to_float, token_to_float
from service.values import Decoded, Size, type_name

if TYPE_CHECKING:
    from service.closures import Expr, Site


# ----- inputs -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Input:
    """A positional input of a callable (service/signatures.py): its name and kind."""

    name: str
    kind: str  # an input kind of PARAM_KINDS
    required: bool = True
    nullable: bool = False  # null is accepted (and, for ``tensors``, null elements)
    doc: str = ""
    like: str | None = None  # tensor_or_tensors: shaped like this earlier input (one or a tuple)

    def __post_init__(self) -> None:
        if self.kind not in READERS:
            raise ValueError(f"input {self.name!r}: {self.kind!r} is not an input kind")


class Evaluator(Protocol):
    """What a reader asks of the interpreter running the call (an argument's value is
    ``e.run(evaluator)``: each kind of expression evaluates itself, service/closures.py)."""

    def literal(self, e: Expr) -> Any:
        """The argument as the request wrote it, when it is an array literal (a nested list) or
        a constant (a number, a bool, null); NOT_LITERAL otherwise."""

    def decode(self, items: Any, path: Path, dtype: str | None = None,
               resolve: Resolve | None = None) -> ge.Tensor:
        """A tensor literal's tensor, in ``dtype`` (by default the one torch infers); ``resolve``
        reads the names it holds, if it may hold any."""

    def lookup(self, name: str, path: Path) -> Any:
        """The value bound to ``name``."""


NOT_LITERAL: Any = object()

# reader(evaluator, call, input, argument, values of the arguments before it) -> the input's value
Reader = Callable[["Evaluator", "Site", Input, "Expr", list[Any]], Any]


def wrong_argument(c: Site, arg: str, v: Any, expected: str, path: Path) -> ProgramError:
    """The type-error for an argument that is not of its kind (torch's wording)."""
    return ProgramError("type-error", f"{c.sig.name}(): argument '{arg}' must be {expected}, "
                        f"not {type_name(v)}", pointer(path))


# reader -> the types of the values it takes as they are (the kinds that only check a value's
# type): the interpreter takes such a value without calling the reader (service/closures.py's
# call plan), and calls it for anything else, which then answers as the reader always does
TAKES: dict[Reader, type | tuple[type, ...]] = {}


def _typed(types: type | tuple[type, ...], expected: str) -> Reader:
    """The reader of a kind that is any value of ``types``."""

    def read(ev: Evaluator, c: Site, spec: Input, e: Expr, before: list[Any]) -> Any:
        v = e.run(ev)
        if isinstance(v, types) or v is None and spec.nullable:
            return v
        raise wrong_argument(c, spec.name, v, expected, e.path)

    TAKES[read] = types
    return read


_read_tensor = _typed(ge.Tensor, "Tensor")


def _read_data(ev: Evaluator, c: Site, spec: Input, e: Expr, before: list[Any]) -> Any:
    # torch.tensor's data: a literal is decoded straight into the requested dtype (0.1 as float64
    # must not pass through float32 first); a name or a call must be a tensor or a Python value.
    # (what is decoded here, for this call alone, goes as Decoded: torch.tensor need not copy it)
    items = ev.literal(e)
    if items is NOT_LITERAL:
        v = e.run(ev)
        if isinstance(v, (bool, int, float, list)):
            # a Python number or list computed at run time (torch.tensor(math.pi / 4))
            return Decoded(ev.decode(v, e.path, c.attrs.get("dtype")))
        if isinstance(v, ge.Tensor):
            from service.closures import Obj  # (here: service/closures.py imports this module)

            return Decoded(v) if type(e) is Obj else v  # (a tensor object is decoded afresh)
        raise wrong_argument(c, spec.name, v, "Tensor", e.path)
    if items is None:
        raise wrong_argument(c, spec.name, None, "an array, a number or a tensor", e.path)

    def number(name: str, parts: tuple[int, ...]) -> Any:
        # an element named: a Python number computed at run time (torch.tensor([y.item(), 2.0]))
        v = ev.lookup(name, (*e.path, *parts))
        if type(v) in (bool, int, float):
            return v
        raise ProgramError("type-error", f"tensor(): an element of data must be a number; "
                           f"{name!r} is {type_name(v)}" + (f" (use {name}.item())" if isinstance(
                               v, ge.Tensor) else ""), pointer((*e.path, *parts)))

    return Decoded(ev.decode(items, e.path, c.attrs.get("dtype"), number))


def _read_any(ev: Evaluator, c: Site, spec: Input, e: Expr, before: list[Any]) -> Any:
    return e.run(ev)  # (the Python-value calls check what they take themselves)


TAKES[_read_any] = object


def _element(ev: Evaluator, c: Site, spec: Input, item: Any, path: Path) -> ge.Tensor | None:
    """One element of an array given for ``tensors`` or ``tensor_or_tensors``: a name, an array
    literal or (nullable inputs only) null."""
    if isinstance(item, list):
        return ev.decode(item, path)
    if item is None and spec.nullable:
        return None
    v = item
    if isinstance(item, str) and item not in NONFINITE:
        v = ev.lookup(item, path)
        if isinstance(v, ge.Tensor):
            return v
    raise wrong_argument(c, spec.name, v, "an array of tensors", path)


def _read_tensors(ev: Evaluator, c: Site, spec: Input, e: Expr, before: list[Any]) -> Any:
    # an array (of names, literals or nulls) is a list of tensors; so is one tensor, or a tuple
    items = ev.literal(e)
    if isinstance(items, list):
        return [_element(ev, c, spec, item, (*e.path, j)) for j, item in enumerate(items)]
    v = e.run(ev)
    if v is None and spec.nullable:
        return None
    if isinstance(v, ge.Tensor):
        return [v]
    if not isinstance(v, tuple) or isinstance(v, Size) or not all(
            isinstance(x, ge.Tensor) or (x is None and spec.nullable) for x in v):
        raise wrong_argument(c, spec.name, v, "a tensor or an array of tensors", e.path)
    return list(v)


def _read_tensor_or_tensors(ev: Evaluator, c: Site, spec: Input, e: Expr, before: list[Any]
                            ) -> Any:
    """torch.autograd.functional's "Tensor or tuple of Tensors": an array (or a tuple value)
    gives a tuple, anything else one tensor. With ``spec.like`` (v, shaped like the inputs), an
    array is a tuple only where that earlier input is one, and a tensor literal otherwise."""
    many = True
    if spec.like is not None:
        j = next(k for k, s in enumerate(c.sig.inputs) if s.name == spec.like)
        many = j < len(before) and isinstance(before[j], tuple)
    items = ev.literal(e)
    if isinstance(items, list):
        if not many:
            return ev.decode(items, e.path)
        return tuple(_element(ev, c, spec, item, (*e.path, k)) for k, item in enumerate(items))
    v = e.run(ev)
    if v is None and spec.nullable:
        return None
    if isinstance(v, ge.Tensor):
        return v
    if isinstance(v, tuple) and not isinstance(v, Size) and v and all(
            isinstance(x, ge.Tensor) for x in v):
        return tuple(v)
    raise wrong_argument(c, spec.name, v, "a tensor or an array of tensors", e.path)


# ----- attrs: request types ---------------------------------------------------------------------
_Ints = Annotated[list[Int64], Field(max_length=64)]
_Slice = create_model("Slice", __config__=ConfigDict(extra="forbid"),
                      __doc__="A slice start:stop:step (each optional).",
                      start=(Int64 | None, None), stop=(Int64 | None, None),
                      step=(Int64 | None, None))
if TYPE_CHECKING:
    _IntArray = list[Any]
else:
    _IntArray = TypeAliasType("IntArray", list[Union[StrictBool, Int64, "_IntArray"]])
# An index item: an int, a slice, null (new dim), "..." (Ellipsis), a bool, a nested array of ints
# or bools (an advanced index) or -- the service's addition -- the name of an int64 or bool tensor
# bound earlier (x[mask]), or of a Python int bound earlier (x[i]), which the interpreter resolves
# when the call runs.
_IndexItem: Any = StrictBool | Int64 | None | Literal["..."] | _Slice | _IntArray | Name


# ----- the table --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Kind:
    accepts: str  # what it accepts in a request, as GET /v1/ops says
    request: Any = None  # attr kinds: the pydantic type of the value in a request
    read: Reader | None = None  # input kinds: evaluates and checks the argument at run time


PARAM_KINDS: dict[str, Kind] = {
    # inputs (positional, in "args")
    "tensor": Kind("a tensor: a name, an array literal, a tensor object or a nested call",
                   read=_read_tensor),
    "tensors": Kind("an array of tensors (names or array literals), or one tensor",
                    read=_read_tensors),
    "operand": Kind("a tensor or a number",
                    read=_typed((ge.Tensor, bool, int, float), "Tensor or Number")),
    "node": Kind("a grad_fn node (e.g. the value of grad_fn)",
                 read=_typed(ge.Node, "a grad_fn node")),
    "data": Kind("torch.tensor's data: an array literal, a number or a tensor", read=_read_data),
    "tensor_or_tensors": Kind(
        "one tensor, or an array of tensors (a tuple: the result then has one entry per tensor), "
        "as torch.autograd.functional takes them; v is a tensor literal where the input it is "
        "shaped like is one tensor", read=_read_tensor_or_tensors),
    "any": Kind("any value: a number, a string, a list, a tensor, ... (the Python-value calls "
                "of service/python_builtins.py)", read=_read_any),
    # attrs (by name, in "attrs")
    "int": Kind("an integer", request=Int64),
    "float": Kind('a number ("NaN", "Infinity", "-Infinity" allowed)',
                  request=Annotated[StrictFloat | Int64 | Token, AfterValidator(to_float)]),
    "number": Kind('an integer or a float ("NaN", "Infinity", "-Infinity" allowed)',
                   request=Annotated[Int64 | Float | Token, AfterValidator(token_to_float)]),
    "bool": Kind("true or false", request=StrictBool),
    "str": Kind("a string", request=Annotated[str, StringConstraints(max_length=256)]),
    "ints": Kind("an array of integers", request=_Ints),
    "dims": Kind("an integer or an array of integers", request=Int64 | _Ints),
    "dtype": Kind("one of " + ", ".join(f'"{n}"' for n in dtypes.NAMES),
                  request=Literal[dtypes.NAMES]),
    # (its request type is the param's own choices: service/program.py)
    "choice": Kind("one of the listed choices"),
    "index": Kind('an index: integers, null, "..." and {"start", "stop", "step"} slices',
                  request=_IndexItem | Annotated[list[_IndexItem], Field(max_length=64)]),
}

# the input kinds' readers
READERS: dict[str, Reader] = {name: k.read for name, k in PARAM_KINDS.items() if k.read is not None}
