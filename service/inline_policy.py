"""Where a program runs: first inline, on the event loop, under a small budget; once it outgrows
that budget, from the start again in a worker thread (service/executor.py's pool).

Most programs take well under a millisecond. Handing one to a thread costs about as much again
(the hop, and the GIL passed back and forth between the loop and the worker), so a program is
first tried inline under ``inline_budget_ms`` of time and ``inline_max_elements`` tensor
elements. A program that outgrows the budget raises :class:`Preempted`; nothing it did is kept
(programs have no side effects) and it runs again from the start in the pool. The loop is
therefore never held longer than about one budget plus one small op. ``inline_budget_ms = 0``
sends every program to the pool.

Two programs never start inline, because one step of theirs could hold the loop far longer than
the budget, which is checked between calls: a body of ``OFF_LOOP_FROM`` bytes or more (compiling
it alone takes that long; it was validated on a thread for the same reason), and, at the call,
one that would run more than ``MAX_INLINE_PASSES`` backward passes (jacobian, hessian): the
program moves to the pool before making it.

The interpreter (service/interpreter.py) runs under :func:`budget`'s limits and raises Preempted
past its time, or when :func:`outgrown` says an engine limit it tripped was the inline cap rather
than a configured limit (which is the program's fault, inline or not).
"""

from __future__ import annotations

import contextvars
import math
import threading
import time
from collections.abc import Awaitable, Callable
from typing import NamedTuple, TypeVar

import engine as ge
from service import metrics
from service.executor import Runner
from service.jsonbody import OFF_LOOP_FROM
from service.settings import Settings

T = TypeVar("T")


class Preempted(Exception):
    """An inline run outgrew its budget: run the program again in the pool."""


class Budget(NamedTuple):
    """(A named tuple, not a frozen dataclass, whose __init__ sets each field through
    object.__setattr__: made once a run, at a sixth of the cost.)"""

    limits: ge.Limits  # the engine's allocation limits for the run
    preempt_at: float  # the clock time past which an inline run gives up (inf in the pool)


def budget(settings: Settings, started: float, inline: bool, deadline: float,
           clock: Callable[[], float]) -> Budget:
    """The budget of a run started at ``started`` and due by ``deadline`` (times on ``clock``,
    which the engine checks inside long calls too): the configured limits in the pool; inline,
    the engine's limits lowered to the inline cap as well, and a time to give up."""
    s = settings
    if not inline:
        return Budget(ge.Limits(max_tensor_elements=s.max_tensor_elements,
                                max_alive_elements=s.max_alive_elements, deadline=deadline,
                                timeout=s.request_timeout, clock=clock), math.inf)
    cap = s.inline_max_elements
    preempt_at = started + s.inline_budget_ms / 1000
    return Budget(ge.Limits(max_tensor_elements=min(cap, s.max_tensor_elements),
                            max_alive_elements=min(cap, s.max_alive_elements),
                            deadline=min(deadline, preempt_at), timeout=s.request_timeout,
                            clock=clock),
                  preempt_at)


# An inline program moves to a thread before a call of more backward passes than this.
MAX_INLINE_PASSES = 8


def too_many_passes(passes: int) -> bool:
    return passes > MAX_INLINE_PASSES


def outgrown(err: ge.LimitExceeded, settings: Settings) -> bool:
    """Whether an inline run's ``err`` is the inline cap (move to the pool), not a configured
    limit the program went past (its fault)."""
    configured = {"max_tensor_elements": settings.max_tensor_elements,
                  "max_alive_elements": settings.max_alive_elements}.get(err.limit)
    return configured is not None and err.maximum < configured


async def run(runner: Runner, settings: Settings,
              work: Callable[[threading.Event | None, bool], T],
              gone: Callable[[], Awaitable[None]] | None = None, *, body_bytes: int = 0,
              deadline: float | None = None, clock: Callable[[], float] = time.monotonic) -> T:
    """``work(cancelled, inline)``'s result (``cancelled`` None inline): tried inline first
    (when ``inline_budget_ms`` and the body's size allow) in a copy of this context, then, if it
    raised Preempted, in ``runner``'s pool, admitted there against ``deadline`` (a time on
    ``clock``) with its ``max_alive_elements`` reserved."""
    runner.check_free()  # a full server refuses every program, small ones too
    if settings.inline_budget_ms > 0 and body_bytes < OFF_LOOP_FROM:
        try:
            # (no cancellation event: an inline run holds the event loop, the only place that
            # could see its client leave, so nothing could ever set one)
            return contextvars.copy_context().run(work, None, True)
        except Preempted:
            metrics.MOVED_TO_THREAD.inc()
    return await runner.run(lambda cancelled: work(cancelled, False), gone,
                            cost=settings.max_alive_elements, deadline=deadline,
                            timeout=settings.request_timeout, clock=clock)
