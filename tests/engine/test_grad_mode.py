"""Grad mode and the execution context are per thread / per asyncio task, never global."""

from __future__ import annotations

import asyncio
import threading

import engine as ge


def test_nesting() -> None:
    x = ge.ones([2], requires_grad=True)
    with ge.no_grad():
        assert not (x * 2).requires_grad
        with ge.enable_grad():
            assert (x * 2).requires_grad
        with ge.set_grad_enabled(True):
            assert ge.is_grad_enabled()
        assert not ge.is_grad_enabled()
    assert ge.is_grad_enabled()


def test_threads_do_not_share_grad_mode() -> None:
    x = ge.ones([2], requires_grad=True)
    inside = threading.Event()
    release = threading.Event()
    seen: dict[str, bool] = {}

    def no_grad_worker() -> None:
        with ge.no_grad():
            inside.set()
            release.wait(5)
            seen["no_grad"] = (x * 2).requires_grad

    t = threading.Thread(target=no_grad_worker)
    t.start()
    inside.wait(5)
    seen["main"] = (x * 2).requires_grad  # the other thread is inside no_grad right now
    release.set()
    t.join()
    assert seen == {"main": True, "no_grad": False}


def test_asyncio_tasks_do_not_share_grad_mode() -> None:
    x = ge.ones([2], requires_grad=True)

    async def main() -> list[bool]:
        # the second task computes while the first is inside no_grad (events, not sleeps: the
        # order holds however slow the machine)
        inside, done = asyncio.Event(), asyncio.Event()

        async def without() -> bool:
            with ge.no_grad():
                inside.set()
                await done.wait()
                return (x * 2).requires_grad

        async def with_grad() -> bool:
            await inside.wait()
            try:
                return (x * 2).requires_grad
            finally:
                done.set()

        return list(await asyncio.gather(without(), with_grad()))

    assert asyncio.run(main()) == [False, True]


def test_seeded_generator_is_per_execution() -> None:
    with ge.execution(seed=7):
        a = ge.randn([4]).tolist()
    with ge.execution(seed=7):
        b = ge.randn([4]).tolist()
    with ge.execution(seed=8):
        c = ge.randn([4]).tolist()
    assert a == b and a != c


def test_limits_refuse_before_allocating() -> None:
    lim = ge.Limits(max_tensor_elements=1000, max_alive_elements=5000)
    with ge.execution(limits=lim):
        try:
            ge.zeros([10**6, 10**6])
        except ge.LimitExceeded as e:
            assert e.limit == "max_tensor_elements"
        else:
            raise AssertionError("no limit")
        a = ge.ones([1000, 1])
        b = ge.ones([1, 1000])
        try:
            a + b
        except ge.LimitExceeded as e:
            assert e.limit == "max_tensor_elements"
        else:
            raise AssertionError("no limit on broadcasting")


def test_alive_elements_are_counted_and_released() -> None:
    with ge.execution(limits=ge.Limits(max_alive_elements=3000)) as ctx:
        keep = [ge.ones([1000]) for _ in range(2)]
        assert ctx.alive == 2000
        try:
            ge.ones([1500])
        except ge.LimitExceeded as e:
            assert e.limit == "max_alive_elements"
        else:
            raise AssertionError("no alive limit")
        del keep
        ge.ones([1500])  # freed tensors no longer count
