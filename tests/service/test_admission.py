"""service/admission.py: a program starts when a thread is free and its memory reservation fits;
the others wait in order, within their deadline; the queue is bounded; a waiter that is cancelled
leaves the queue."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from service.admission import Admission
from service.errors import Overloaded

pytestmark = pytest.mark.anyio

FAR = math.inf  # a deadline that never comes


async def test_programs_start_while_threads_and_the_memory_budget_allow() -> None:
    a = Admission(threads=4, queue_size=4, budget=10)
    first = await a.enter(6, FAR, FAR)
    second = asyncio.ensure_future(a.enter(6, FAR, FAR))  # 6 + 6 > 10: waits despite free threads
    await asyncio.sleep(0)
    assert (a.running, a.waiting) == (1, 1) and not second.done()
    a.leave(first)
    a.leave(await second)
    assert (a.running, a.reserved, a.waiting) == (0, 0, 0)


async def test_a_program_bigger_than_the_budget_runs_alone() -> None:
    a = Admission(threads=2, queue_size=1, budget=10)
    a.leave(await a.enter(50, FAR, FAR))
    assert a.reserved == 0


async def test_the_queue_is_bounded() -> None:
    a = Admission(threads=1, queue_size=1, budget=10)
    running = await a.enter(1, FAR, FAR)
    waiting = asyncio.ensure_future(a.enter(1, FAR, FAR))
    await asyncio.sleep(0)
    with pytest.raises(Overloaded):
        await a.enter(1, FAR, FAR)
    waiting.cancel()  # a cancelled waiter leaves the queue
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert a.waiting == 0
    a.leave(running)


async def test_a_program_that_cannot_start_in_time_is_refused() -> None:
    a = Admission(threads=1, queue_size=4, budget=10)
    running = await a.enter(1, FAR, FAR)
    # its deadline (as the route sets it) is a moment away: it gives up rather than start late
    with pytest.raises(Overloaded) as refused:
        await a.enter(1, time.monotonic() + 0.05, 0.05)
    assert refused.value.retry_after >= 1 and a.waiting == 0
    a.leave(running)
    assert a.ready(10.0)
