"""Tensor data in and out of JSON: the one tensor encoder and decoder of the service.

Two wire forms, after the Open Inference Protocol's tensor object:

* ``{"shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}`` -- ``data`` flat, row-major;
  non-finite floats travel as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` because JSON
  has no spelling for them;
* the same with ``"b64"`` instead of ``data``: the raw little-endian bytes, base64 encoded (BOOL is
  one byte, 0 or 1), which carries NaN and infinities natively.

Nested JSON arrays (tensor literals, ``[[1, 2], [3, 4]]``) are decoded here too, with
``torch.tensor``'s dtype inference. Every decoder checks the element count against the program's
limits *before* it allocates an array (engine.context.check_shape).
"""

from __future__ import annotations

import binascii
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import orjson
import pybase64

import engine as ge
from engine import backend, dtypes
from engine.context import check_shape

Datatype = Literal["FP32", "FP64", "INT64", "BOOL"]
Encoding = Literal["json", "base64"]

# wire datatype -> (engine dtype name, little-endian numpy dtype)
DATATYPES: dict[str, tuple[str, np.dtype[Any]]] = {
    "FP32": ("float32", np.dtype("<f4")),
    "FP64": ("float64", np.dtype("<f8")),
    "INT64": ("int64", np.dtype("<i8")),
    "BOOL": ("bool", np.dtype("u1")),
}
# a host array's dtype -> its wire datatype: encode_tensor reads it from the values it has (the
# Tensor's dtype is a property, a Python frame a read, and engine.dtypes another)
_WIRE_OF_HOST: dict[np.dtype[Any], str] = {
    dtypes.BY_NAME[dtype].dtype: wire for wire, (dtype, _) in DATATYPES.items()}

NONFINITE: dict[str, float] = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
NULL_NUMBER = ('null is not a number; NaN travels as "NaN" (and infinities as "Infinity" and '
               '"-Infinity"): JSON.stringify writes NaN and infinities as null')
_NAN, _INF, _NINF = b'"NaN"', b'"Infinity"', b'"-Infinity"'

# What each datatype's flat ``data`` may hold (Python types after JSON parsing).
_ALLOWED_TYPES: dict[str, frozenset[type]] = {
    "FP32": frozenset({int, float, str}),
    "FP64": frozenset({int, float, str}),
    "INT64": frozenset({int}),
    "BOOL": frozenset({bool}),
}


class Encoded:
    """A tensor's values already written for the answer: a flat JSON array, or base64 text (then
    ``quoted``: it goes into the JSON as a string, quotes added around it). service/responses.py
    writes it into the answer as it is; a large one becomes a piece of the body of its own, so
    megabytes of values are never copied into one buffer. (A plain class, not a dataclass: orjson
    would write a dataclass as an object itself.)"""

    __slots__ = ("quoted", "text")

    def __init__(self, text: bytes, quoted: bool = False) -> None:
        self.text = text
        self.quoted = quoted

    def fragment(self) -> orjson.Fragment:
        return _fragment(self.text, self.quoted)


def _fragment(text: bytes, quoted: bool) -> orjson.Fragment:
    return orjson.Fragment(b'"' + text + b'"' if quoted else text)


# An encoded value longer than this is a piece of the answer's body of its own
# (service/responses.py), kept as an Encoded; a shorter one is the orjson.Fragment itself, which
# orjson writes without calling back into Python for it (five calls for a small answer's
# tensors, each a few hundred instructions more than the value's own bytes).
PIECE_BYTES = 1 << 16


def _wire(text: bytes, quoted: bool = False) -> Encoded | orjson.Fragment:
    return Encoded(text, quoted) if len(text) > PIECE_BYTES else _fragment(text, quoted)


class Base64Text:
    """A tensor object's ``b64`` string as it stands in the request body's bytes, read there by
    /v1/run's route instead of by the JSON parser (service/base64_lift.py), and decoded then
    (which showed it is base64). It stands for the string: validation sees its length, as it
    would the string's (check_sizes), and decode_object takes its bytes. For a 1,000,000-element
    FP32 tensor this skips the parser's copy of 5.3 MB of text and a second pass over it."""

    __slots__ = ("_decoded", "text")

    def __init__(self, text: memoryview, decoded: bytearray) -> None:
        self.text = text
        self._decoded = [decoded]

    def __len__(self) -> int:
        return len(self.text)

    def decode(self) -> bytearray:
        """The decoded bytes, for one tensor: those decoded as the body was read go to the
        first caller (the tensor may keep them, and change them in place), each later one (a
        tensor object in a loop) decodes the text again."""
        try:
            return self._decoded.pop()  # (one pop per item, even between threads)
        except IndexError:
            return b64decode(self.text)


def b64decode(text: str | memoryview) -> bytearray:
    """The bytes of base64 ``text``, strictly (binascii.Error on anything else: a character
    outside the alphabet, a missing or misplaced ``=``). A bytearray: the array over it is
    writable, so the tensor can keep it, uncopied."""
    return pybase64.b64decode_as_bytearray(text, validate=True)


# A tensor object's b64: a string, or the body's own bytes standing for it
B64 = str | Base64Text


class EncodingError(ValueError):
    """Tensor data that cannot be decoded; ``parts`` is the path below the decoded element."""

    def __init__(self, message: str, parts: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.parts = parts


# ----- checks shared by the request model and the decoder ---------------------------------------
def b64_length(nbytes: int) -> int:
    """Length of the padded base64 text of ``nbytes`` bytes."""
    return 4 * ((nbytes + 2) // 3)


def check_payload(shape: Sequence[int], datatype: str, data: Sequence[Any] | None,
                  b64: B64 | None, types: set[type] | None = None) -> None:
    """Structural checks of a tensor object, done without allocating anything: the sizes (see
    check_sizes) and that the values suit the datatype. ``types``: the set of the types in
    ``data``, when the caller has it already."""
    check_sizes(shape, datatype, data, b64)
    if data is not None:
        bad = (set(map(type, data)) if types is None else types) - _ALLOWED_TYPES[datatype]
        if bad:
            names = ", ".join(sorted(t.__name__ for t in bad))
            raise EncodingError(f"{datatype} data cannot hold values of type {names}", ("data",))


def check_sizes(shape: Sequence[int], datatype: str, data: Sequence[Any] | None,
                b64: B64 | None) -> None:
    """The data length (or the base64 length) matches the shape: arithmetic only."""
    numel = math.prod(shape)
    if data is not None:
        if len(data) != numel:
            raise EncodingError(
                f"shape {list(shape)} needs {numel} values, data has {len(data)}", ("data",))
    elif b64 is not None:
        nbytes = numel * DATATYPES[datatype][1].itemsize
        if len(b64) != b64_length(nbytes):
            raise EncodingError(
                f"shape {list(shape)} of {datatype} is {nbytes} bytes, which is "
                f"{b64_length(nbytes)} base64 characters; b64 has {len(b64)}", ("b64",))


# ----- decoding ---------------------------------------------------------------------------------
def decode_object(shape: Sequence[int], datatype: str, data: Sequence[Any] | None,
                  b64: B64 | None) -> ge.Tensor:
    """A tensor from a tensor object whose values the request model checked (check_payload, in
    service/program.py); the sizes are checked again here, before anything is allocated."""
    check_sizes(shape, datatype, data, b64)
    check_shape(shape, "tensor")
    dtype, wire = DATATYPES[datatype]
    if b64 is not None:
        try:
            raw = b64.decode() if isinstance(b64, Base64Text) else b64decode(b64)
        except binascii.Error as exc:
            raise EncodingError(f"b64 is not valid base64: {exc}", ("b64",)) from None
        arr = np.frombuffer(raw, dtype=wire)
        if datatype == "BOOL":
            if arr.size and int(arr.max()) > 1:
                raise EncodingError("BOOL bytes must be 0 or 1", ("b64",))
            arr = arr.astype(np.bool_)
    else:
        assert data is not None
        # numpy reads the tokens "NaN", "Infinity" and "-Infinity" of float data itself
        arr = _to_array(data, dtype)
    return _adopt(arr.reshape(tuple(shape)), dtype)


def _adopt(arr: np.ndarray, dtype: str) -> ge.Tensor:
    """``ge.tensor(arr, dtype=dtype)`` for a writable host array made for it and held by nobody
    else (its shape checked already), without ge.tensor's copy: for a million-element tensor
    object that copy was a tenth of the request."""
    return ge.Tensor(backend.from_host(arr, dtypes.BY_NAME[dtype].np))


# A literal's names: the element's path and the name -> the Python number bound to it
Resolve = Callable[[str, tuple[int, ...]], Any]


def decode_literal(nested: Any, dtype: str | None = None, resolve: Resolve | None = None
                   ) -> ge.Tensor:
    """``torch.tensor(nested, dtype=dtype)`` for a JSON array (or a bare number, a 0-d tensor).

    Without ``dtype`` the result is float32 if any value is a float (or a non-finite token), else
    int64 if any is an int, else bool -- torch's inference. With ``resolve``, an element may be a
    name bound to a Python number (``torch.tensor([y.item(), 2.0])``).
    """
    shape, flat = _flatten(nested, resolve)
    check_shape(shape, "tensor")
    types = set(map(type, flat))
    if dtype is None:
        dtype = "float32" if types & {float, str} else "int64" if int in types else \
            "bool" if flat else "float32"
    if str in types:
        flat = [NONFINITE[v] if type(v) is str else v for v in flat]
    # Python floats are exact doubles: converting once from them rounds each value once.
    return ge.tensor(_to_array(flat, dtype).reshape(shape), dtype=dtype)


def _to_array(values: Sequence[Any], dtype: str) -> np.ndarray:
    # (an engine dtype's numpy dtype, made once: np.dtype of a name parses it; any other name
    # as numpy reads it, as before)
    known = dtypes.BY_NAME.get(dtype)
    try:
        return np.array(values, dtype=np.dtype(dtype) if known is None else known.dtype)
    except (ValueError, OverflowError) as exc:  # NaN or 1e300 asked to become an int64
        raise EncodingError(f"values do not fit dtype {dtype}: {exc}") from None


def _flatten(nested: Any, resolve: Resolve | None = None) -> tuple[tuple[int, ...], list[Any]]:
    """Shape and row-major values of a rectangular nested list; iterative, with torch's message
    for ragged input and the path of the offending element."""
    if not isinstance(nested, list):
        return (), [_scalar(nested, (), resolve)]
    if set(map(type, nested)) <= _NUMBERS:  # a list of numbers, the most frequent literal: as is
        return (len(nested),), nested
    shape: list[int] = []
    probe: Any = nested
    while isinstance(probe, list):
        shape.append(len(probe))
        if not probe:
            break
        probe = probe[0]
    depth = len(shape)
    flat: list[Any] = []
    stack: list[tuple[Any, tuple[int, ...]]] = [(nested, ())]
    while stack:
        node, path = stack.pop()
        d = len(path)
        if d == depth:
            flat.append(_scalar(node, path, resolve))
            continue
        if not isinstance(node, list):
            raise EncodingError(f"expected a sequence of length {shape[d]} at dim {d}, got a "
                                f"{_json_type(node)}", path)
        if len(node) != shape[d]:
            raise EncodingError(
                f"expected sequence of length {shape[d]} at dim {d} (got {len(node)})", path)
        stack.extend((node[i], (*path, i)) for i in range(len(node) - 1, -1, -1))
    return tuple(shape), flat


_NUMBERS = frozenset({bool, int, float})


def _scalar(v: Any, path: tuple[int, ...], resolve: Resolve | None) -> Any:
    if type(v) in _NUMBERS or (isinstance(v, str) and v in NONFINITE):
        return v
    if v is None:
        raise EncodingError(NULL_NUMBER, path)
    if isinstance(v, str) and resolve is not None:
        return resolve(v, path)
    what = f"the name {v!r}" if isinstance(v, str) else f"a {_json_type(v)}"
    raise EncodingError(
        f"a tensor literal holds numbers, booleans and \"NaN\"/\"Infinity\"/\"-Infinity\"; found "
        f"{what}", path)


def _json_type(v: Any) -> str:
    return {list: "array", dict: "object", str: "string", type(None): "null"}.get(type(v), "number")


# ----- encoding ---------------------------------------------------------------------------------
def encode_tensor(t: ge.Tensor, encoding: Encoding = "json") -> dict[str, Any]:
    """The wire form of ``t``'s values: shape, datatype and ``data`` or ``b64`` (written already:
    an orjson.Fragment, or an Encoded value when it is long)."""
    # (host_values, not detach().numpy(): the values alone, with no alias made to read them)
    arr = t.host_values()
    wire = _WIRE_OF_HOST[arr.dtype]
    out: dict[str, Any] = {"shape": list(arr.shape), "datatype": wire}
    if encoding == "base64":
        raw = np.ascontiguousarray(arr, dtype=DATATYPES[wire][1]).data  # a memoryview, no copy
        # base64 text needs no JSON escaping
        out["b64"] = _wire(pybase64.b64encode(raw), quoted=True)
    else:
        out["data"] = _wire(flat_json(arr))
    return out


def flat_json(arr: np.ndarray) -> bytes:
    """``arr``'s values as one flat JSON array, non-finite floats as their string tokens.

    orjson writes numpy arrays natively (float32 as its shortest round-tripping decimal) but writes
    NaN and infinities as ``null``. In a flat numeric array each ``null`` is exactly one non-finite
    element, in order, so the nulls are swapped for the tokens of those elements.
    """
    flat = arr.ravel()  # (C-contiguous, as orjson needs: a view when arr is, else a copy)
    text = orjson.dumps(flat, option=orjson.OPT_SERIALIZE_NUMPY)
    # (find, not ``in``: bytes' ``in`` tries its operand as an int first, and the TypeError it
    # formats and drops costs ten times the search of a short text)
    if flat.dtype.kind != "f" or text.find(b"null") < 0:  # (a finite float is never null)
        return text
    bad = flat[~np.isfinite(flat)]
    if not bad.size:
        return text
    tokens = [_NAN if math.isnan(v) else _INF if v > 0 else _NINF for v in bad.tolist()]
    pieces = text.split(b"null")
    out = [pieces[0]]
    for token, piece in zip(tokens, pieces[1:], strict=True):
        out += (token, piece)
    return b"".join(out)


def json_number(v: float | int | bool) -> float | int | bool | str:
    """A Python number for JSON: non-finite floats become their string tokens."""
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else "Infinity" if v > 0 else "-Infinity"
    return v
