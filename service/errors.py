"""The exceptions a program can cause, each becoming one RFC 9457 problem (see problems.py).

Engine errors are wrapped rather than re-declared: ``ProgramError.from_engine`` keeps the engine's
``kind`` as the problem type and its message first and verbatim (torch's text for autograd
misuse), followed by a hint where service/hints.py has one, and adds the JSON pointer of the call
that raised it.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from starlette.exceptions import HTTPException

import engine as ge
from service import hints


class ProgramError(Exception):
    """A fault of the request's program; ``kind`` names the problem type, ``pointer`` the request
    element at fault, ``extra`` adds problem members (``limit``, ``report``, ...)."""

    def __init__(self, kind: str, message: str, pointer: str | None = None, *, status: int = 422,
                 **extra: Any) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.pointer = pointer
        self.status = status
        self.extra = extra

    @classmethod
    def from_engine(cls, err: ge.EngineError, pointer: str | None) -> ProgramError:
        extra: dict[str, Any] = {}
        if isinstance(err, ge.LimitExceeded):
            extra = {"limit": err.limit, "value": _number(err.value), "maximum": err.maximum}
        elif isinstance(err, ge.AnomalyError):
            extra = {"report": err.report}
        status = 499 if isinstance(err, ge.Cancelled) else 422  # (as the interpreter's own)
        return cls(err.kind, hints.after(err.message), pointer, status=status, **extra)


def limit_exceeded(limit: str, value: int | float, maximum: int | float, message: str,
                   pointer: str | None = None, *, status: int = 422) -> ProgramError:
    """A service-checked limit (the engine raises its own for tensor sizes)."""
    return ProgramError("limit-exceeded", message, pointer, status=status, limit=limit,
                        value=_number(value), maximum=maximum)


def _number(v: int | float) -> int | float:
    """``v`` as JSON can carry it: an int past 64 bits (the element count of a shape such as
    [10**17, 10**17]) as a float."""
    if isinstance(v, int) and not -(2**63) <= v < 2**64:
        # (past a float's range too, as the largest float: the message has the exact count)
        return float(v) if abs(v) < 2**1023 else math.copysign(sys.float_info.max, v)
    return v


class Overloaded(Exception):
    """The worker cannot take the request now (its threads, queue, program memory or body buffer
    are full, or the request could not start before its deadline): 503, retry after
    ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class BodyBufferFull(HTTPException):
    """The worker holds ``max_buffered_body_bytes`` of request bodies already. An HTTPException,
    as BodyTooLarge, so that FastAPI's body reader lets it through; rendered as ``overloaded``."""

    def __init__(self, maximum: int) -> None:
        super().__init__(503, f"the server holds its limit of {maximum} bytes of request bodies "
                         "in flight")


class InternalError(Exception):
    """An unexpected exception while running a call: a bug, reported as a 500 that still says
    which request element was being run."""

    def __init__(self, pointer: str | None) -> None:
        super().__init__(f"internal error at {pointer!r}")
        self.pointer = pointer


class BodyTooLarge(HTTPException):
    """The request body is over ``max_body_bytes``. An HTTPException so that FastAPI's body reader
    lets it through unchanged (it turns other exceptions into a 400)."""

    def __init__(self, received: int, maximum: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {maximum} bytes")
        self.received = received
        self.maximum = maximum
