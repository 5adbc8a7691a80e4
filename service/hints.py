"""What to do next, after the message torch (or Python) gives for a run-time error.

torch's text stays first and unchanged (clients and tests match on it); the hint follows as its
own sentence and says where the fix lives in a program's JSON, which torch's words cannot.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from engine.errors import INT_REQUIRES_GRAD, INT_REQUIRES_GRAD_CTOR

INT64_LITERAL = (
    "Numbers without a decimal point are read as int64, as torch.tensor([2, 3]) is (and "
    "JSON.stringify and Go write 2.0 as 2): to make floats, give attrs.dtype \"float32\" or send "
    "a tensor object with \"datatype\": \"FP32\"."
)

# (a fragment of torch's message, the hint)
_HINTS: tuple[tuple[str, str], ...] = (
    (INT_REQUIRES_GRAD, INT64_LITERAL),
    (INT_REQUIRES_GRAD_CTOR, INT64_LITERAL),
    ("Input dtype must be either a floating point or complex dtype", INT64_LITERAL),
    ("grad can be implicitly created only for scalar outputs",
     "Pass a gradient shaped like the output as backward's second argument (args[1]), or "
     "reduce the output with sum or mean first."),
    ("does not require grad and does not have a grad_fn",
     "Nothing it was computed from requires grad: create the leaf with attrs "
     "{\"requires_grad\": true}, or call requires_grad_ on it, before computing."),
    ("Trying to backward through the graph a second time",
     "In a program: give the first backward attrs {\"retain_graph\": true}."),
)


def after(message: str) -> str:
    """``message`` with the hint for it, if there is one."""
    for fragment, hint in _HINTS:
        if fragment in message:
            return f"{message}{'' if message.endswith('.') else '.'} {hint}"
    return message


def unknown_name(name: str, bound: Iterable[str]) -> str:
    """Python's NameError text, and the likely fix."""
    message = f"name {name!r} is not defined"
    if name.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        return f"{message}. Non-finite numbers are spelled exactly \"NaN\", \"Infinity\" and " \
               "\"-Infinity\"."
    near = difflib.get_close_matches(name, list(bound), n=1)
    if near:
        return f"{message}. Did you mean {near[0]!r}?"
    return f'{message}. Bind it first: an earlier statement with "name": "{name}".'
