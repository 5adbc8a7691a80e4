"""The non-tensor values a program can hold, typed so that printing and encoding can tell them
apart: ``torch.Size`` (what ``shape`` returns) and torch's named result tuples (``max(dim=...)``);
and :class:`Decoded`, ``torch.tensor``'s data as its reader hands it over."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import engine as ge


class Size(tuple[int, ...]):
    """torch.Size: a tuple of ints that prints as ``torch.Size([2, 2])``."""

    __slots__ = ()


class ReturnTypes(tuple[Any, ...]):
    """torch.return_types.<op>: a tuple of an op's outputs, with their names."""

    # (tuple subclasses cannot have non-empty __slots__, hence a __dict__ here)
    op: str
    fields: tuple[str, ...]

    def __new__(cls, op: str, fields: Iterable[str], values: Iterable[Any]) -> ReturnTypes:
        self = super().__new__(cls, values)
        self.op = op
        self.fields = tuple(fields)
        return self


def type_name(v: Any) -> str:
    """What torch's messages call the type of ``v`` (a node by its class name, as torch has it)."""
    if isinstance(v, ge.Node):
        return v.name()
    if isinstance(v, Size):
        return "torch.Size"
    return type(v).__name__


class Decoded:
    """``torch.tensor``'s data decoded for that one call: an array literal or a tensor object
    written in its arguments (service/param_kinds.py). No name, node or view reaches the tensor,
    so the new leaf may be that tensor itself rather than torch's copy of it (for a million-element
    base64 tensor the copy was a twentieth of the request). Never bound to a name."""

    __slots__ = ("tensor",)

    def __init__(self, tensor: ge.Tensor) -> None:
        self.tensor = tensor
