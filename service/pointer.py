"""JSON Pointers (RFC 6901) into the request: the one place they are built.

The interpreter tracks where it is as a tuple of path parts; pydantic reports a ``loc`` that also
contains union tags. Both become a pointer string here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

Path = tuple[str | int, ...]


def pointer(parts: Iterable[str | int]) -> str:
    """``("program", 3, "attrs", "dim")`` -> ``"/program/3/attrs/dim"``; ``()`` -> ``""`` (the
    whole document)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def from_loc(loc: Sequence[Any], document: Any, *, missing: bool = False) -> str:
    """The pointer for a pydantic error ``loc`` inside ``document`` (the parsed request body).

    pydantic puts the tag of a discriminated union into ``loc`` (``"Call"``, ``"add"``); those are
    not members of the document, so ``loc`` is followed through the document and every part the
    document does not have is dropped. Tags are CamelCase or op names and never collide with the
    request's keys (snake_case), which the models check when they are built. With ``missing`` the
    last part names a member that is absent (a required field) and is kept.
    """
    parts: list[str | int] = []
    node = document
    last = len(loc) - 1
    for i, part in enumerate(loc):
        if has(node, part):
            parts.append(part)
            node = node[part]
        elif missing and i == last and isinstance(node, dict) and isinstance(part, str):
            parts.append(part)
    return pointer(parts)


def has(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return isinstance(part, str) and part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
