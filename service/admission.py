"""Which program runs next on a worker's threads, and which is refused at once.

A program needs a thread and a share of the worker's memory: it reserves the elements it may hold
(its ``max_alive_elements``) out of ``max_worker_alive_elements``, and runs when a thread is free
and its reservation fits beside those of the programs running (a program whose reservation is the
whole budget still runs, alone). Programs that cannot start wait in arrival order, at most
``queue_size`` of them.

Time spent waiting counts toward a program's deadline: the deadline starts when the request
arrives. A program that cannot start with a tenth of its time left is refused with 503 and
``Retry-After``: at once when the expected wait (the programs ahead of it, a thread's worth at a
time, each taking the typical time of recent programs) is twice the time it has, else when that
moment comes while it still waits. ``ready()`` says whether a program sent now could expect to start in
time (``/health/ready``).

Only touched on the event loop thread (releases are marshalled back to it), so no lock is needed.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from service.errors import Overloaded

# Weight of the newest program's duration in the typical duration (an exponential average).
_NEWEST_WEIGHT = 0.2
# The share of its request_timeout a program must have left when it starts.
_LEAST_TIME_LEFT = 0.1
# Refused at once only when the expected wait is this many times the time it has: the estimate
# is rough (programs run slower side by side), and one that might still start in time waits.
_SURE = 2.0


@dataclass
class _Waiter:
    cost: int
    admitted: asyncio.Future[int]  # its ticket, once it may start


@dataclass
class Admission:
    threads: int
    queue_size: int
    budget: int
    running: int = 0
    reserved: int = 0
    typical_s: float = 0.0  # typical run time of recent programs
    _waiting: deque[_Waiter] = field(default_factory=deque)
    # ticket -> (start time, reserved elements) of each running program
    _running: dict[int, tuple[float, int]] = field(default_factory=dict)
    _tickets: int = 0

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _fits(self, cost: int) -> bool:
        return self.running < self.threads and (
            self.running == 0 or self.reserved + cost <= self.budget)

    def expected_wait(self, ahead: int) -> float:
        """Seconds a program with ``ahead`` programs waiting before it can expect to wait."""
        if self.running < self.threads and ahead == 0:
            return 0.0
        now = time.monotonic()
        # Programs that have run long already are a sign of long programs: never expect less.
        oldest = min((now - t for t, _ in self._running.values()), default=0.0)
        typical = max(self.typical_s, oldest)
        return (ahead // self.threads + 1) * typical

    def ready(self, timeout: float) -> bool:
        """Whether a program sent now would be admitted and could expect to start within
        ``timeout`` seconds."""
        room = self.running < self.threads or self.waiting < self.queue_size
        return room and self.expected_wait(self.waiting) < timeout

    async def enter(self, cost: int, deadline: float, timeout: float,
                    clock: Callable[[], float] = time.monotonic) -> int:
        """Wait for a thread and ``cost`` elements of the budget; a ticket for ``leave``.
        Overloaded (503) when the queue is full or the program cannot start by ``deadline`` (a
        time on ``clock``, the request's)."""
        cost = min(cost, self.budget)
        if not self._waiting and self._fits(cost):
            return self._start(cost)
        if self.waiting >= self.queue_size:
            raise Overloaded(f"all {self.threads} program threads are busy and "
                             f"{self.queue_size} programs wait already",
                             _seconds(self.expected_wait(self.waiting)))
        # it must start with a tenth of its time left at least, or it would start only to fail
        left = deadline - clock() - (0.0 if math.isinf(timeout) else
                                              _LEAST_TIME_LEFT * timeout)
        expected = self.expected_wait(self.waiting)
        if expected >= _SURE * left:
            raise Overloaded(f"the program could not start within its deadline of {timeout} "
                             f"seconds (about {expected:.1f} s of programs wait ahead of it)",
                             _seconds(expected))
        waiter = _Waiter(cost, asyncio.get_running_loop().create_future())
        self._waiting.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter.admitted),
                                   None if math.isinf(left) else left)
        except TimeoutError:
            if not waiter.admitted.done():
                self._waiting.remove(waiter)
                raise Overloaded(f"the program could not start within its deadline of {timeout} "
                                 "seconds", _seconds(self.expected_wait(self.waiting))) from None
        except asyncio.CancelledError:
            if waiter.admitted.done():
                self.leave(waiter.admitted.result())
            else:
                self._waiting.remove(waiter)
            raise
        return waiter.admitted.result()

    def _start(self, cost: int) -> int:
        self.running += 1
        self.reserved += cost
        self._tickets += 1
        self._running[self._tickets] = (time.monotonic(), cost)
        return self._tickets

    def leave(self, ticket: int) -> None:
        """A program has ended (its thread is free): start those waiting that now fit."""
        started, cost = self._running.pop(ticket)
        self.running -= 1
        self.reserved -= cost
        took = time.monotonic() - started
        self.typical_s = took if self.typical_s == 0 else \
            (1 - _NEWEST_WEIGHT) * self.typical_s + _NEWEST_WEIGHT * took
        while self._waiting and self._fits(self._waiting[0].cost):
            waiter = self._waiting.popleft()
            waiter.admitted.set_result(self._start(waiter.cost))


def _seconds(s: float) -> int:
    return max(1, math.ceil(s))
