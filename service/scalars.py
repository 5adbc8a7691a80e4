"""The JSON scalars of a request, as pydantic types: int64 integers, floats (non-finite ones
spelled "NaN", "Infinity", "-Infinity") and names. The request models (service/program.py) and the
attr kinds' request types (service/param_kinds.py) are built from them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypeAliasType

from service.encoding import NONFINITE

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
SHAPE_MAX, SEED_MAX = 2**62, 2**64 - 1
# every integer bound of the request, which service/openapi.py writes as exact integers
INTEGER_BOUNDS = (INT64_MIN, INT64_MAX, SHAPE_MAX, SEED_MAX)
Int64 = Annotated[StrictInt, Field(ge=INT64_MIN, le=INT64_MAX)]
Token = Literal["NaN", "Infinity", "-Infinity"]
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _not_token(v: str) -> str:
    if v in NONFINITE:
        raise ValueError(f"{v!r} is the spelling of a non-finite number and cannot be a name")
    return v


Name: Any = TypeAliasType(
    "Name",
    Annotated[
        str, StringConstraints(pattern=NAME_PATTERN, max_length=64), AfterValidator(_not_token),
        Field(description="A variable name (an identifier; not NaN or Infinity).",
              # keeps "NaN" from matching both a name and a number in the schema's oneOf
              json_schema_extra={"not": {"enum": list(NONFINITE)}}),
    ],
)


def token_to_float(v: Any) -> Any:
    return NONFINITE[v] if isinstance(v, str) else v


def to_float(v: Any) -> float:
    return float(token_to_float(v))


def _not_an_int(v: Any) -> Any:
    # Beside an Int64 member, the only ints that reach a float are those outside int64: refused, as
    # torch refuses such Python ints ("Overflow when unpacking long"), not rounded to a float.
    if type(v) is int:
        raise PydanticCustomError("int64_overflow", "the integer {value} is outside the int64 range",
                                  {"value": v})
    return v


# A float that is not an int past int64 (use only beside an Int64 member).
Float = Annotated[StrictFloat, BeforeValidator(_not_an_int)]
Number = Annotated[StrictBool | Int64 | Float, Field(description="A Python scalar.")]
NonFinite = Annotated[Token, AfterValidator(to_float),
                      Field(description="A non-finite Python float, spelled as a string.")]
