"""The bounded pool that runs programs off the event loop.

At most ``worker_threads`` programs run at once and at most ``queue_size`` more wait; a request
beyond that is refused at once (503) instead of queueing without bound. Each program runs in a copy
of the caller's ``contextvars`` context, so the engine's per-request state (grad mode, generator,
limits) never crosses requests, and a program whose client went away is told to stop at its next
step.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from service.errors import Overloaded

T = TypeVar("T")


class Runner:
    def __init__(self, threads: int, queue_size: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gradserve-run")
        self.capacity = threads + queue_size
        # Only touched on the event loop thread (the release callback is marshalled back to it),
        # so no lock is needed.
        self.in_flight = 0

    @property
    def saturated(self) -> bool:
        return self.in_flight >= self.capacity

    async def run(self, fn: Callable[[threading.Event], T]) -> T:
        """Run ``fn(cancelled)`` on the pool; ``cancelled`` is set if the caller is cancelled."""
        if self.saturated:
            raise Overloaded(f"all {self.capacity} program slots are taken")
        loop = asyncio.get_running_loop()
        cancelled = threading.Event()
        self.in_flight += 1
        ctx = contextvars.copy_context()
        future = self._pool.submit(ctx.run, fn, cancelled)
        # A slot is released when the program really ends, not when its awaiting request does:
        # an abandoned program keeps its thread until it notices ``cancelled``.
        future.add_done_callback(lambda _: _call_soon(loop, self._release))
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    def _release(self) -> None:
        self.in_flight -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[[], None]) -> None:
    # RuntimeError: the loop has closed (server shutdown), so nobody counts slots any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(fn)
