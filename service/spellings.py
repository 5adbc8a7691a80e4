"""The wire's spellings of the Python values JSON cannot write, turned into those values before the
engine sees them: the engine speaks Python (and torch) values only.

* an index item: a slice is ``{"start", "stop", "step"}`` (each optional) and Ellipsis is ``"..."``;
* a number that an op also takes as a named value (norm's ``p``): ``"inf"`` and ``"-inf"`` are the
  infinities. (The tokens ``"Infinity"``, ``"-Infinity"`` and ``"NaN"`` of every float and number
  are decoded with the request, service/program.py.)

The registry declares these spellings in the ops' signatures (the catalog lists them);
:func:`converters` says, per op, which attrs hold one; service/compiler.py applies them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from engine.registry import Param

ELLIPSIS = "..."
INFINITIES = {"inf": math.inf, "-inf": -math.inf}


def index_value(index: Any) -> Any:
    """An index (one item, or a list of items read as Python's tuple) with its slices and
    ellipses as Python's. Nested lists are advanced indices of ints or bools: left as they are."""
    if isinstance(index, list):
        return [_index_item(item) for item in index]
    return _index_item(index)


def _index_item(item: Any) -> Any:
    if isinstance(item, dict):
        return slice(item.get("start"), item.get("stop"), item.get("step"))
    if isinstance(item, str) and item == ELLIPSIS:
        return Ellipsis
    return item


def number_value(value: Any) -> Any:
    return INFINITIES[value] if isinstance(value, str) and value in INFINITIES else value


def converters(attrs: Sequence[Param]) -> dict[str, Callable[[Any], Any]]:
    """attr name -> the function that turns its wire spelling into the Python value, for those of
    an op's ``attrs`` that have such spellings."""
    found: dict[str, Callable[[Any], Any]] = {}
    for p in attrs:
        if p.kind == "index":
            found[p.name] = index_value
        elif p.kind == "number" and INFINITIES.keys() & set(p.choices):
            found[p.name] = number_value
    return found
