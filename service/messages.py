"""Schema errors in the user's words: what was wrong at a pointer, and what would be right.

pydantic reports an error per union member it tried ("Input should be a valid boolean; Input
should be a valid integer; ..."), in its own vocabulary ("Extra inputs are not permitted"). Here
the errors at one pointer, with the request document, become one sentence that names the op,
its valid attrs or inputs (with a did-you-mean), and the spelling that would work. Only what the
program names is listed (one op's attrs, one object's keys), never the whole catalog.

Rules are tried in order; the first that recognises the errors answers. Anything none of them
recognises keeps pydantic's wording (``fallback``).
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from service.encoding import NONFINITE, NULL_NUMBER
from service.pointer import has
from service.program import (
    CallBase,
    EnableGradStatement,
    IfStatement,
    NoGradStatement,
    PrintStatement,
    PrintValues,
    RunRequest,
    TensorObject,
    WhileStatement,
)
from service.scalars import NAME_PATTERN
from service.signatures import SIGNATURES, Signature

log = logging.getLogger("gradserve")

# The keys each kind of object takes, by the union tag pydantic puts before the key in ``loc``.
_KEYS_BY_TAG: dict[str, type[Any]] = {
    "Call": CallBase, "TensorObject": TensorObject, "Print": PrintStatement,
    "PrintValues": PrintValues, "While": WhileStatement, "If": IfStatement,
    "NoGrad": NoGradStatement, "EnableGrad": EnableGradStatement,
}

# What a parameter of each kind is, in words.
_KIND_WORDS = {
    "int": "an integer", "float": "a number", "number": "a number", "bool": "true or false",
    "str": "a string", "ints": "a list of integers", "dims": "an integer or a list of integers",
    "dtype": 'a dtype name ("float32", "float64", "int64" or "bool")',
    "index": "an index (an integer, a slice object, null, \"...\", or an array of them)",
}


@dataclass(frozen=True)
class Where:
    """An error's place: the document path it points at, the union tags pydantic passed on the
    way, and the innermost call around it (its signature and the path below it)."""

    path: tuple[Any, ...]
    tags: tuple[Any, ...]
    sig: Signature | None
    below: tuple[Any, ...]  # the path under the call: ("attrs", "dims"), ("args", 1, 0), ...
    document: Any


def locate(loc: Sequence[Any], document: Any) -> Where:
    path: list[Any] = []
    tags: list[Any] = []
    node = document
    sig: Signature | None = None
    call_at = 0
    for i, part in enumerate(loc):
        if not has(node, part):
            tags.append(part)
            continue
        node = node[part]
        path.append(part)
        # a call, where pydantic validated it as one: the union tag "Call" follows in loc (an
        # object inside an array literal is not a call, whatever keys it has)
        if isinstance(node, dict) and node.get("op") in SIGNATURES and i + 1 < len(loc) \
                and loc[i + 1] == "Call":
            sig, call_at = SIGNATURES[node["op"]], len(path)
    return Where(tuple(path), tuple(tags), sig, tuple(path[call_at:]) if sig else (), document)


def explain(errors: Sequence[dict[str, Any]], document: Any) -> str:
    """One message for the errors pydantic reported at one pointer (``loc`` without "body")."""
    first = errors[0]
    try:
        where = locate(first["loc"], document)
        for rule in (_unknown_key, _arg_count, _missing, _null, _string, _attr_value,
                     _literal_item):
            message = rule(errors, first, where)
            if message:
                return message
    except Exception:  # a bug here must not turn a 422 into a 500: pydantic's words instead
        log.exception("no message for %s", [e["type"] for e in errors])
    return fallback([e["msg"] for e in errors])


def fallback(messages: list[str]) -> str:
    # A union reports one error per member it tried; together they say "none of these forms".
    unique = list(dict.fromkeys(messages))
    if len(unique) == 1:
        return unique[0]
    return "matches none of the allowed forms: " + "; ".join(unique)


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    near = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _inputs_text(sig: Signature) -> str:
    return ", ".join(i.name if i.required else f"[{i.name}]" for i in sig.inputs) or "none"


def _ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}.get(n, f"#{n}")


# ----- rules: each returns a message, or None when the errors are not its kind ----------------
def _unknown_key(errors: Sequence[dict[str, Any]], first: dict[str, Any], w: Where) -> str | None:
    if first["type"] != "extra_forbidden" or not first["loc"]:
        return None
    key = str(first["loc"][-1])
    if w.sig is not None and w.below == ("attrs", key):
        return _unknown_attr(w.sig, key)
    if w.sig is not None and w.below == (key,):
        return _unknown_object_key(key, CallBase, f"a call of {w.sig.name}")
    tag = next((t for t in reversed(w.tags) if t in _KEYS_BY_TAG), None)
    if len(w.path) == 1:
        return _unknown_object_key(key, RunRequest, "the request")
    if tag is not None:
        return _unknown_object_key(key, _KEYS_BY_TAG[tag], _OBJECT_WORDS[tag])
    return None


_OBJECT_WORDS = {"Call": "a call", "TensorObject": "a tensor object", "Print": "a print statement",
                 "PrintValues": "print's values object", "While": "a while statement",
                 "If": "an if statement", "NoGrad": "a no_grad block",
                 "EnableGrad": "an enable_grad block"}

# torch keywords that have another place in a program
_ELSEWHERE = {
    "out": "there is no out=: bind the result with the statement's \"name\"",
    "device": "tensors live on the server's device: leave it out",
    "grad_tensors": "the gradient is backward's second argument (args[1])",
    "grad_outputs": "grad_outputs is autograd.grad's third argument (args[2])",
}


def _unknown_attr(sig: Signature, key: str) -> str:
    names = [p.name for p in sig.attrs]
    inputs = [i.name for i in sig.inputs]
    if key in inputs:
        n = inputs.index(key) + 1
        return (f"{key!r} is not an attr of {sig.name}: it is {sig.name}'s {_ordinal(n)} argument, "
                f"so it goes in args (args: {_inputs_text(sig)})")
    if key in _ELSEWHERE:
        return f"{sig.name} has no attr {key!r}: {_ELSEWHERE[key]}"
    if not names:
        return f"{sig.name} takes no attrs (args: {_inputs_text(sig)})"
    return f"{sig.name} has no attr {key!r}{did_you_mean(key, names)}; its attrs: {', '.join(names)}"


def _keys_of(model: type[Any]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def _unknown_object_key(key: str, model: type[Any], what: str) -> str:
    keys = _keys_of(model)
    return f"{what} has no key {key!r}{did_you_mean(key, keys)}; its keys: {', '.join(keys)}"


def _arg_count(errors: Sequence[dict[str, Any]], first: dict[str, Any], w: Where) -> str | None:
    if first["type"] not in ("too_long", "too_short") or w.sig is None or w.below != ("args",):
        return None
    sig = w.sig
    got = (first.get("ctx") or {}).get("actual_length")
    n_in = len(sig.inputs)
    if first["type"] == "too_long" and n_in == 0:
        required = [p.name for p in sig.attrs if p.required]
        example = f"; required: {', '.join(required)}" if required else ""
        return (f"{sig.name} takes no args: its parameters go in attrs by name "
                f"({', '.join(p.name for p in sig.attrs)}){example}")
    if first["type"] == "too_long":
        attrs = [p.name for p in sig.attrs]
        more = f"; {', '.join(attrs)} go in attrs by name" if attrs else ""
        return f"{sig.name} takes at most {_args(n_in)} ({_inputs_text(sig)}), got {got}{more}"
    return f"{sig.name} needs at least {_args(sig.min_args)} ({_inputs_text(sig)}), got {got}"


def _args(n: int) -> str:
    return f"{n} arg" if n == 1 else f"{n} args"


def _missing(errors: Sequence[dict[str, Any]], first: dict[str, Any], w: Where) -> str | None:
    if first["type"] != "missing" or not first["loc"]:
        return None
    key = str(first["loc"][-1])
    sig = w.sig
    if sig is not None and w.below == () and key == "attrs":
        required = [p.name for p in sig.attrs if p.required]
        return f"{sig.name} needs attrs with {', '.join(required)}"
    if sig is not None and w.below == ("attrs",):
        p = next((p for p in sig.attrs if p.name == key), None)
        kind = f" ({_KIND_WORDS.get(p.kind, p.kind)})" if p is not None else ""
        return f"{sig.name} needs the attr {key!r}{kind}"
    if sig is not None and w.below == () and key == "args":
        return f"{sig.name} needs args: {_inputs_text(sig)}"
    if len(w.path) == 0 and key == "program":
        return 'the request needs "program": a list of statements'
    tag = next((t for t in reversed(w.tags) if t in _OBJECT_WORDS), None)
    return f"{_OBJECT_WORDS[tag]} needs {key!r}" if tag else f"{key!r} is required here"


def _null(errors: Sequence[dict[str, Any]], first: dict[str, Any], w: Where) -> str | None:
    if not all(e.get("input", 0) is None for e in errors) or not _numeric_place(w):
        return None
    return NULL_NUMBER


def _numeric_place(w: Where) -> bool:
    """An element of an array literal or of a tensor object's data, or a numeric attr."""
    if len(w.below) >= 3 and w.below[0] == "args":
        return True  # inside an array literal (args[i][j]...)
    if "data" in w.path and "datatype" in _parent(w, "data"):
        return True
    p = _attr_param(w)
    return p is not None and p.kind in ("float", "number", "int")


def _parent(w: Where, key: str) -> dict[str, Any]:
    node = w.document
    for part in w.path:
        if part == key and isinstance(node, dict):
            return node
        node = node[part]
    return {}


def _attr_param(w: Where) -> Any:
    if w.sig is None or len(w.below) < 2 or w.below[0] != "attrs":
        return None
    return next((p for p in w.sig.attrs if p.name == w.below[1]), None)


def _string(errors: Sequence[dict[str, Any]], first: dict[str, Any], w: Where) -> str | None:
    value = first.get("input")
    if not isinstance(value, str) or not all(e.get("input") == value for e in errors):
        return None
    p = _attr_param(w)
    if p is not None and len(w.below) == 2:
        unquoted = " (numbers go unquoted)" if _is_number(value) else ""
        return _attr_words(w.sig, p, f"the string {value!r}{unquoted}")  # type: ignore[arg-type]
    if value.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
        return (f"{value!r} is not a name; non-finite numbers are spelled exactly \"NaN\", "
                "\"Infinity\" and \"-Infinity\"")
    if value in NONFINITE:
        return None  # a token where a name is needed: the model's own message says so
    if _is_number(value):
        return (f"{value!r} is a string; numbers go unquoted ({value.strip()}), and strings name "
                "tensors bound earlier")
    if any(e["type"] == "string_pattern_mismatch" for e in errors) or \
            any(e["type"] == "string_too_long" for e in errors):
        return (f"{value!r} is not a name: a name is an identifier of at most 64 characters "
                f"(letters, digits and _, not starting with a digit: {NAME_PATTERN})")
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower().lstrip("+-") not in ("nan", "inf", "infinity")


def _attr_words(sig: Signature, p: Any, got: str) -> str:
    words = _KIND_WORDS.get(p.kind, p.kind)
    if p.kind == "choice" or p.choices:
        options = ", ".join(json.dumps(c) for c in p.choices)
        words = f"one of {options}" if p.kind == "choice" else f"{words}, or one of {options}"
    if p.optional:
        words += ", or null"
    return f"{sig.name}'s attr {p.name!r} is {words}; got {got}"


_JSON_TYPES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
               list: "an array", dict: "an object", type(None): "null"}


def _attr_value(errors: Sequence[dict[str, Any]], first: dict[str, Any], w: Where) -> str | None:
    p = _attr_param(w)
    if p is None or len(w.below) != 2 or any(e["type"] == "int64_overflow" for e in errors):
        return None
    value = first.get("input")
    if value is None:
        return _attr_words(w.sig, p, "null")  # type: ignore[arg-type]
    got = _JSON_TYPES.get(type(value), type(value).__name__)
    shown = repr(value) if isinstance(value, (int, float, str, bool)) else got
    return _attr_words(w.sig, p, f"{got} {shown}" if shown != got else got)  # type: ignore[arg-type]


def _literal_item(errors: Sequence[dict[str, Any]], first: dict[str, Any], w: Where) -> str | None:
    if not (len(w.below) >= 3 and w.below[0] == "args") or not isinstance(first.get("input"), dict):
        return None
    return ("an array literal holds numbers, booleans, names, \"NaN\"/\"Infinity\", nested "
            "arrays and (in a list of gradients) null; got an object (a call or a tensor object "
            "goes directly in args, not inside an array literal)")
