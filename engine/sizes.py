"""Sizes in torch's call forms: one sequence (``ones((2, 3))``, ``x.view([6])``), separate ints
(``ones(2, 3)``, ``x.view(2, 3)``) or a keyword (``ones(size=(2, 3))``), with the TypeErrors torch's
argument parser gives for anything else (``ones(2, (3,))``: "failed to unpack the object at pos 2").

(Below the ops: creation functions and the Tensor methods that take varargs both read through it.)
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

from engine.errors import ArgumentTypeError

_ABSENT: Any = object()

# torch's parser for a function with several signatures: a call that fits none gets the error of
# the one signature whose argument count could fit it, else "received an invalid combination of
# arguments" listing them all. Per function: each signature's text and its (fewest, most)
# arguments, keyword-only ones included.
_KW = ("Tensor out = None, torch.dtype dtype = None, torch.layout layout = None, torch.device "
       "device = None, bool pin_memory = False, bool requires_grad = False")
_RANDOM = (("tuple of ints size, *, torch.Generator generator, " + _KW, 2, 8),
           ("tuple of ints size, *, " + _KW, 1, 7))
OVERLOADS: dict[str, tuple[tuple[str, int, int], ...]] = {
    "rand": _RANDOM,
    "randn": _RANDOM,
    "randint": (("int high, tuple of ints size, *, torch.Generator generator, " + _KW, 3, 9),
                ("int high, tuple of ints size, *, " + _KW, 2, 8),
                ("int low, int high, tuple of ints size, *, torch.Generator generator, " + _KW, 4, 10),
                ("int low, int high, tuple of ints size, *, " + _KW, 3, 9)),
    "view": (("torch.dtype dtype", 1, 1), ("tuple of ints size", 1, 1)),
}


def _type_name(value: Any) -> str:
    if type(value).__name__ == "DType":  # (dtypes sit above this module)
        return "torch.dtype"
    return type(value).__name__


def _is_int(value: Any) -> bool:
    if value.__class__ is int:  # (a size's every int: without the look-ups below)
        return True
    if isinstance(value, bool) or value.__class__ in (list, tuple):
        # (a list or tuple has no __index__: no TypeError raised and caught for the common size,
        # one sequence, which costs a creation call a tenth of its work)
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def refuse(fn: str, message: str, args: tuple[Any, ...], kwargs: Mapping[str, Any],
           count: int | None = None) -> ArgumentTypeError:
    """The error for a call that fits no signature of ``fn``: ``message`` (its one signature's
    complaint) or, where several signatures could fit as many arguments (``count``, default all
    given), torch's list of them."""
    signatures = OVERLOADS.get(fn)
    n = len(args) + len(kwargs) if count is None else count
    if signatures is None or sum(lo <= n <= hi for _, lo, hi in signatures) == 1:
        return ArgumentTypeError(message)
    got = ", ".join([*map(_type_name, args), *(f"{k}={_type_name(v)}" for k, v in kwargs.items())])
    return ArgumentTypeError(f"{fn}() received an invalid combination of arguments - got ({got}), "
                             f"but expected one of:\n"
                             + "".join(f" * ({text})\n" for text, _, _ in signatures))


def _unpack(fn: str, arg: str, items: Any, position: int = 1) -> list[int]:
    """The ints of a sequence; a bool is refused first (torch: "found element of type bool")
    and elsewhere read as an int, as torch's parser does."""
    out = list(items)
    if out and isinstance(out[0], bool):
        raise ArgumentTypeError(f"{fn}(): argument '{arg}' (position {position}) must be tuple "
                                f"of ints, but found element of type bool at pos 0")
    for i, v in enumerate(out):
        if v.__class__ is not int:  # (an int is its own index: kept, without a call)
            if not (_is_int(v) or isinstance(v, bool)):
                raise ArgumentTypeError(f"{fn}(): argument '{arg}' failed to unpack the object at "
                                        f"pos {i + 1} with error \"type must be tuple of ints,but "
                                        f"got {_type_name(v)}\"")
            out[i] = operator.index(v)
    return out


def sequence_size(fn: str, arg: str, value: Any, position: int | None = None,
                  call: tuple[tuple[Any, ...], Mapping[str, Any]] = ((), {})) -> list[int]:
    """A size that torch takes only as one sequence (``full``'s, ``randint``'s, or any size given
    by keyword); ``position`` is its place among the call's positional arguments, if it had one;
    ``call`` the call's arguments, for torch's message when ``fn`` has several signatures."""
    if isinstance(value, (list, tuple)):
        return _unpack(fn, arg, value, position or 1)
    where = f" (position {position})" if position is not None else ""
    raise refuse(fn, f"{fn}(): argument '{arg}'{where} must be tuple of ints, not "
                 f"{_type_name(value)}", *call)


def varargs_size(fn: str, arg: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> list[int]:
    """The size of a call that torch lets give it as varargs: ``args`` are the call's positional
    arguments after any fixed ones (the receiver of a method), ``kwargs`` its other keywords (the
    size's, if given so, and any others the function takes, which only shape torch's messages)."""
    given = kwargs.get(arg, _ABSENT)
    if given is not _ABSENT:
        if args:
            raise refuse(fn, f"{fn}() got multiple values for argument '{arg}'", args, kwargs)
        return sequence_size(fn, arg, given, call=(args, kwargs))
    if not args:
        raise refuse(fn, f'{fn}() missing 1 required positional arguments: "{arg}"', args, kwargs)
    first = args[0]
    if len(args) == 1:
        if _is_int(first):
            return [operator.index(first)]
        return sequence_size(fn, arg, first, 1, call=(args, kwargs))
    if not _is_int(first):
        raise refuse(fn, f"{fn}() takes 1 positional argument but {len(args)} were given", args,
                     kwargs)
    return _unpack(fn, arg, args)  # (torch packs ints given one by one into the size: one argument)
