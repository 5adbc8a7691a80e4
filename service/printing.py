"""What a ``print`` statement writes: Python's ``print`` of the value, as PyTorch shows it.

Tensors print through the engine's torch-exact ``repr``; grad_fn nodes print without the memory
address torch adds (``<AddBackward0 object>``, not ``<AddBackward0 object at 0x7f...>``), since an
address means nothing outside the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import engine as ge
from service.values import ReturnTypes, Size


def print_line(values: Sequence[Any], sep: str = " ", end: str = "\n") -> str:
    """What ``print(*values, sep=sep, end=end)`` writes, less one final newline."""
    if len(values) == 1:  # (most prints: one value, without a list to join)
        v = values[0]
        line = v if isinstance(v, str) else to_repr(v)
    else:
        line = sep.join([v if isinstance(v, str) else to_repr(v) for v in values])
    if end == "\n":  # (print's default: the line as it is)
        return line
    line += end
    return line[:-1] if line.endswith("\n") else line


def to_str(v: Any) -> str:
    """``str(v)``: strings print bare, everything else as its repr."""
    return v if isinstance(v, str) else to_repr(v)


# the types whose repr is Python's own, answered before the isinstance checks below (a print of
# ``requires_grad`` or ``item()``: a bool or a number)
_PLAIN = frozenset({bool, int, float, type(None)})


def to_repr(v: Any) -> str:
    if isinstance(v, ge.Tensor) or type(v) in _PLAIN:
        return repr(v)
    if isinstance(v, ge.Node):
        return f"<{v.name()} object>"
    if isinstance(v, Size):
        return f"torch.Size([{', '.join(str(n) for n in v)}])"
    if isinstance(v, ReturnTypes):
        inner = ",\n".join(f"{name}={to_repr(x)}" for name, x in zip(v.fields, v, strict=True))
        return f"torch.return_types.{v.op}(\n{inner})"
    if isinstance(v, tuple):
        items = [to_repr(x) for x in v]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(v, list):
        return "[" + ", ".join(to_repr(x) for x in v) + "]"
    # bool, int, float, None, str and DType: Python's (and torch's) own repr
    return repr(v)
