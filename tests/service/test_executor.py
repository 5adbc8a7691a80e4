"""service/executor.py: programs run off the event loop in a bounded pool, isolated from each other
(grad mode, random generator, limits), refused with 503 beyond the queue, and stopped when their
client goes away."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from service.errors import ProgramError
from service.executor import Runner
from service.interpreter import Interpreter
from service.program import RunRequest
from tests.service.helpers import TEST_SETTINGS, ManualClock, post, problem
from tests.service.test_metrics import delta, parse

pytestmark = pytest.mark.anyio


def grad_program(seed: int) -> dict[str, Any]:
    return {"seed": seed, "program": [
        {"name": "x", "op": "randn", "attrs": {"size": [3], "requires_grad": True}},
        {"name": "y", "op": "mul", "args": ["x", "x"]},
        {"op": "backward", "args": [{"op": "sum", "args": ["y"]}]},
        {"print": {"op": "requires_grad", "args": ["y"]}},
        {"print": {"op": "grad", "args": ["x"]}},
    ]}


def no_grad_program(seed: int) -> dict[str, Any]:
    # Many steps inside no_grad, so that it overlaps the grad programs running beside it.
    return {"seed": seed, "program": [
        {"name": "x", "op": "randn", "attrs": {"size": [3], "requires_grad": True}},
        {"name": "i", "op": "tensor", "args": [0]},
        {"no_grad": [
            {"while": {"op": "lt", "args": ["i", 200]}, "do": [
                {"name": "i", "op": "add", "args": ["i", 1]},
                {"name": "y", "op": "mul", "args": ["x", "x"]},
            ]},
            {"print": {"op": "requires_grad", "args": ["y"]}},
        ]},
        {"print": {"op": "requires_grad", "args": [{"op": "mul", "args": ["x", "x"]}]}},
    ]}


def _answer(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    body.pop("stats")
    return body


async def test_fifty_concurrent_requests_equal_their_sequential_answers(
        client: httpx.AsyncClient) -> None:
    requests = [(grad_program if i % 2 else no_grad_program)(i % 5) for i in range(50)]
    expected = [_answer(await client.post("/v1/run", json=req)) for req in requests]
    got = await asyncio.gather(*(client.post("/v1/run", json=req) for req in requests))
    assert [_answer(r) for r in got] == expected
    assert expected[0]["printed"] == ["False", "True"]
    assert expected[1]["printed"][0] == "True"


async def test_beyond_the_queue_requests_get_503(make_client: Callable[..., Any]) -> None:
    # One slot (the app given its own runner), taken by a program that loops until the test
    # moves its clock past the deadline.
    clock = ManualClock()
    runner = Runner(threads=1, queue_size=0)
    async with make_client(request_timeout=1.0, max_steps=10**9, max_loop_iterations=10**9,
                           inline_budget_ms=0, clock=clock, runner=runner) as c:
        slow = asyncio.create_task(post(c, [{"while": True, "do": []}]))
        while runner.in_flight == 0:
            await asyncio.sleep(0.005)
        r = await post(c, [{"print": 1}])
        problem(r, "overloaded", 503)
        assert r.headers["retry-after"] == "1"
        problem(await c.get("/health/ready"), "overloaded", 503)
        clock.now = 2.0
        problem(await slow, "limit-exceeded", 422)
        assert (await post(c, [{"print": 1}])).status_code == 200
    runner.close()


async def test_a_cancelled_request_stops_its_program_and_frees_its_slot() -> None:
    runner = Runner(threads=1, queue_size=0)
    started = threading.Event()

    def work(cancelled: threading.Event) -> str:
        started.set()
        assert cancelled.wait(5)
        return "stopped"

    task = asyncio.create_task(runner.run(work))
    while not started.is_set():
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(500):
        if runner.in_flight == 0:
            break
        await asyncio.sleep(0.01)
    assert runner.in_flight == 0
    runner.close()


def test_the_interpreter_stops_at_the_next_step_once_cancelled() -> None:
    cancelled = threading.Event()
    cancelled.set()
    request = RunRequest.model_validate({"program": [{"print": 1}]})
    error = Interpreter(request, TEST_SETTINGS, cancelled).run().error
    assert isinstance(error, ProgramError)
    assert error.kind == "cancelled" and error.pointer == "/program/0"


async def test_numpy_warnings_do_not_escape(client: httpx.AsyncClient,
                                            recwarn: pytest.WarningsRecorder) -> None:
    r = await post(client, [{"print": {"op": "div", "args": [[0.0, 1.0], 0.0]}},
                            {"print": {"op": "log", "args": [[-1.0]]}},
                            {"print": {"op": "exp", "args": [[1000.0]]}}])
    assert r.json()["printed"] == ["tensor([nan, inf])", "tensor([nan])", "tensor([inf])"]
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


# ----- inline runs: small programs on the event loop, the rest moved to a thread ---------------
def _loop_program(n: int) -> list[dict[str, Any]]:
    return [
        {"name": "i", "op": "tensor", "args": [0]},
        {"name": "x", "op": "ones", "attrs": {"size": [3], "requires_grad": True}},
        {"name": "y", "op": "mul", "args": ["x", 1.0]},
        {"while": {"op": "lt", "args": ["i", n]}, "do": [
            {"name": "i", "op": "add", "args": ["i", 1]},
            {"name": "y", "op": "mul", "args": ["y", 1.01]},
        ]},
        {"op": "backward", "args": [{"op": "sum", "args": ["y"]}]},
        {"print": {"op": "grad", "args": ["x"]}},
    ]


async def _moved(c: httpx.AsyncClient, program: list[Any]) -> tuple[dict[str, Any], int]:
    """The answer of ``program`` and how many programs the run moved to a thread."""
    before = parse((await c.get("/metrics")).text)
    answer = _answer(await post(c, program, seed=3))
    after = parse((await c.get("/metrics")).text)
    return answer, int(delta(before, after, "gradserve_programs_moved_to_thread_total"))


async def _same_answer_inline_and_threaded(make_client: Callable[..., Any], program: list[Any],
                                           step: float = 0.0, **settings: Any
                                           ) -> tuple[dict[str, Any], int]:
    """Run ``program`` with inline runs on (``settings``, and a clock moving ``step`` seconds
    each time it is read) and off; answers must be equal. Returns the answer and how many
    programs were moved to a thread."""
    async with make_client(inline_budget_ms=0) as c:
        threaded = _answer(await post(c, program, seed=3))
    async with make_client(clock=ManualClock(step), **settings) as c:
        inline, moved = await _moved(c, program)
    assert inline == threaded
    return inline, moved


async def test_a_small_program_runs_inline(make_client: Callable[..., Any]) -> None:
    answer, moved = await _same_answer_inline_and_threaded(make_client, _loop_program(5))
    assert moved == 0
    assert answer["printed"] == ["tensor([1.0510, 1.0510, 1.0510])"]


async def test_a_program_past_the_time_budget_moves_to_a_thread(
        make_client: Callable[..., Any]) -> None:
    # each read of the clock a millisecond: past the budget of 0.05 ms at the first statement
    _, moved = await _same_answer_inline_and_threaded(
        make_client, _loop_program(300), step=0.001, inline_budget_ms=0.05)
    assert moved == 1


async def test_a_program_past_the_element_budget_moves_to_a_thread(
        make_client: Callable[..., Any]) -> None:
    program = [{"name": "x", "op": "ones", "attrs": {"size": [40, 40], "requires_grad": True}},
               {"op": "backward", "args": [{"op": "sum", "args": ["x"]}]},
               {"print": {"op": "sum", "args": [{"op": "grad", "args": ["x"]}]}}]
    answer, moved = await _same_answer_inline_and_threaded(make_client, program,
                                                           inline_max_elements=1000)
    assert moved == 1
    assert answer["printed"] == ["tensor(1600.)"]


async def test_a_configured_limit_inline_is_a_real_error(make_client: Callable[..., Any]) -> None:
    # max_tensor_elements below the inline cap: tripping it is the program's fault, not a move
    async with make_client(max_tensor_elements=100, inline_max_elements=1000,
                           clock=ManualClock()) as c:
        before = parse((await c.get("/metrics")).text)
        r = await post(c, [{"name": "x", "op": "ones", "attrs": {"size": [200]}}])
        after = parse((await c.get("/metrics")).text)
    body = problem(r, "limit-exceeded", 422, "/program/0")
    assert body["limit"] == "max_tensor_elements" and body["maximum"] == 100
    assert delta(before, after, "gradserve_programs_moved_to_thread_total") == 0


async def test_a_moved_program_is_counted_once_in_metrics(make_client: Callable[..., Any]) -> None:
    async with make_client(inline_max_elements=10) as c:
        before = (await c.get("/metrics")).text
        await post(c, [{"name": "x", "op": "ones", "attrs": {"size": [20]}}])
        after = (await c.get("/metrics")).text
    b, a = parse(before), parse(after)
    assert delta(b, a, "gradserve_ops_executed_total", op="ones") == 1
    assert delta(b, a, "gradserve_programs_total", outcome="ok") == 1
    assert delta(b, a, "gradserve_programs_moved_to_thread_total") == 1
