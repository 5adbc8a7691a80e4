"""Where programs run off the event loop: a bounded pool of worker threads.

(Small programs run inline on the loop first: service/inline_policy.py decides.) At most
``worker_threads`` programs run at once in the pool and at most ``queue_size`` more wait; a
request beyond that is refused at once (503) instead of queueing without bound. Which waiting
program starts next, against the worker's memory budget and its own deadline, is
service/admission.py's decision. Each program runs in a copy of the caller's ``contextvars``
context, so the engine's per-request state (grad mode, generator, limits) never crosses requests,
and a program whose client went away is told to stop at its next step (or, still waiting, gives
its place up).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from service.admission import Admission
from service.errors import Overloaded, ProgramError

T = TypeVar("T")


class Runner:
    def __init__(self, threads: int, queue_size: int, memory_budget: int | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gradserve-run")
        # the pool never queues: a program is submitted only once admission gives it a thread
        self.admission = Admission(threads, queue_size,
                                   memory_budget if memory_budget is not None else sys.maxsize)
        self.capacity = threads + queue_size

    @property
    def in_flight(self) -> int:
        """Programs running on the pool or waiting for it."""
        return self.admission.running + self.admission.waiting

    @property
    def saturated(self) -> bool:
        return self.in_flight >= self.capacity

    def check_free(self) -> None:
        """Refuse (503) when every slot is taken."""
        if self.saturated:
            raise Overloaded(f"all {self.capacity} program slots are taken")

    async def run(self, fn: Callable[[threading.Event], T],
                  gone: Callable[[], Awaitable[None]] | None = None, *,
                  cost: int = 0, deadline: float | None = None, timeout: float = math.inf,
                  clock: Callable[[], float] = time.monotonic) -> T:
        """Run ``fn(cancelled)`` on the pool once admitted (service/admission.py: ``cost``
        elements of the worker's memory budget, a start before ``deadline``, a time on ``clock``
        ``timeout`` seconds after the request's arrival; Overloaded otherwise).
        ``cancelled`` is set if the caller is cancelled or ``gone()`` (which returns when the
        client disconnects) returns first; the request then ends as a 499 problem."""
        self.check_free()
        # A client that leaves while its program waits for a thread gives its place up at once.
        admitted = asyncio.ensure_future(self.admission.enter(
            cost, math.inf if deadline is None else deadline, timeout, clock))
        if gone is not None and not await _first_of(admitted, gone()):
            admitted.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await admitted  # (enter leaves the queue, or gives a ticket just granted back)
            raise ProgramError("cancelled", "the client went away while its program waited",
                               status=499)
        ticket = await admitted
        loop = asyncio.get_running_loop()
        cancelled = threading.Event()
        ctx = contextvars.copy_context()
        try:
            future = self._pool.submit(ctx.run, fn, cancelled)
        except BaseException:
            self.admission.leave(ticket)
            raise
        # A slot is released when the program really ends, not when its awaiting request does:
        # an abandoned program keeps its thread until it notices ``cancelled``.
        future.add_done_callback(
            lambda _: _call_soon(loop, partial(self.admission.leave, ticket)))
        answer = asyncio.wrap_future(future)
        try:
            if gone is None or await _first_of(answer, gone()):
                return await answer
        except asyncio.CancelledError:
            cancelled.set()
            raise
        cancelled.set()  # the program stops at its next step; nobody reads this answer
        raise ProgramError("cancelled", "the client went away while its program ran", status=499)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[[], None]) -> None:
    # RuntimeError: the loop has closed (server shutdown), so nobody counts slots any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(fn)


async def _first_of(answer: asyncio.Future[Any], gone: Awaitable[None]) -> bool:
    """Wait for ``answer`` or ``gone``; True unless ``gone`` came first (a ``gone`` that fails
    is ignored: then only the answer is awaited). Cancelling the caller cancels ``answer``."""
    watch = asyncio.ensure_future(gone)
    try:
        await asyncio.wait({answer, watch}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        answer.cancel()
        raise
    finally:
        watch.cancel()
    return answer.done() or watch.cancelled() or watch.exception() is not None
