"""Issue 17's engine findings, as requests: sizes an op needs inside it (conv's padding),
degenerate arguments (torch's message where torch refuses, the limit named where it would try),
the alive limit charged for every result and every tensor the graph keeps, and the deadline and
the client's departure seen inside one long call, not only between statements.

Each size case runs against the app in-process and a real uvicorn (``client``); the deadline and
cancellation cases give the request a clock that runs fast (a test never waits for real time to
pass) and so run in-process; the abandoned-program case needs a real server and a real disconnect.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import httpx
import pytest

from service.app import create_app
from service.errors import ProgramError
from service.interpreter import Interpreter
from service.program import RunRequest
from tests.reliability.conftest import RELIABILITY_SETTINGS as S
from tests.reliability.conftest import Server
from tests.service.helpers import problem

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


def call(op: str, *args: Any, **attrs: Any) -> dict[str, Any]:
    return {"op": op, "args": list(args), "attrs": attrs}


def let(name: str, op: str, *args: Any, **attrs: Any) -> dict[str, Any]:
    return {"name": name, **call(op, *args, **attrs)}


async def run(client: httpx.AsyncClient, program: list[Any]) -> httpx.Response:
    return await client.post("/v1/run", json={"program": program})


def limit(body: dict[str, Any], name: str, maximum: float) -> None:
    assert body["limit"] == name, body
    assert body["maximum"] == maximum
    assert body["value"] > body["maximum"]


ONE_PIXEL = let("x", "ones", size=[1, 1, 1, 1])


# ----- sizes inside an op ---------------------------------------------------------------------
@pytest.mark.parametrize(("weight", "attrs"), [
    ([1, 1, 1, 1], {"padding": 12000, "stride": 24001}),  # once a 2.15 GiB padded copy
    ([1, 1, 2, 2], {"padding": "same", "dilation": 1000000}),  # once a 500
])
async def test_a_wide_padding_costs_what_the_output_does(
        client: httpx.AsyncClient, weight: list[int], attrs: dict[str, Any]) -> None:
    """torch's answer (one zero: every window reads padding), with no padded copy made."""
    r = await run(client, [ONE_PIXEL, let("w", "ones", size=weight),
                           let("y", "conv2d", "x", "w", **attrs)])
    assert r.status_code == 200, r.text
    y = r.json()["tensors"]["y"]
    assert y["shape"] == [1, 1, 1, 1]
    assert y["data"] == [0.0]


@pytest.mark.parametrize(("program"), [
    [ONE_PIXEL, let("w", "ones", size=[1, 1, 1, 1]), let("y", "conv2d", "x", "w", padding=100000)],
    [let("x", "ones", size=[1, 1, 1]), let("w", "ones", size=[1, 1, 1]),
     let("y", "conv1d", "x", "w", padding=2**40)],
])
async def test_windows_past_the_limit_are_refused_before_they_are_made(
        client: httpx.AsyncClient, program: list[Any]) -> None:
    """A wide padding without a stride to match: the output itself is too large (once a 500
    or a dropped connection)."""
    body = problem(await run(client, program), "limit-exceeded", 422, "/program/2")
    limit(body, "max_tensor_elements", S.max_tensor_elements)


# ----- degenerate arguments -------------------------------------------------------------------
@pytest.mark.parametrize(("program", "kind", "detail"), [
    ([let("a", "arange", start=0, end=1e308, step=1e-308)], "argument-error",
     "invalid size, possible overflow?"),
    ([let("e", "eye", n=2**62)], "shape-error", "numel: integer multiplication overflow"),
    ([let("e", "zeros", size=[2**62, 2**62, 0])], "shape-error",
     "Storage size calculation overflowed with sizes=[4611686018427387904, 4611686018427387904, 0]"),
])
async def test_sizes_torch_refuses_get_torchs_message(
        client: httpx.AsyncClient, program: list[Any], kind: str, detail: str) -> None:
    body = problem(await run(client, program), kind, 422, "/program/0")
    assert body["detail"] == detail


async def test_repeat_to_an_empty_shape_the_backend_cannot_hold(client: httpx.AsyncClient) -> None:
    """torch answers an empty [2**62, 0] tensor; numpy cannot make it: a 422 saying why."""
    r = await run(client, [let("x", "ones", size=[1]), let("r", "repeat", "x", repeats=[2**62, 0])])
    body = problem(r, "shape-error", 422, "/program/1")
    assert "[4611686018427387904, 0] cannot be made here" in body["detail"]
    r = await run(client, [let("x", "ones", size=[1]), let("r", "repeat", "x", repeats=[2**40, 0])])
    assert r.status_code == 200, r.text
    assert r.json()["tensors"]["r"]["shape"] == [2**40, 0]


# ----- alive memory ---------------------------------------------------------------------------
async def test_every_result_counts_toward_the_alive_limit(client: httpx.AsyncClient) -> None:
    """300 names each bound to a unary result of a large tensor: refused at the result that
    passes the limit (it once kept 301 of them alive)."""
    n = S.max_tensor_elements
    program = [let("x", "ones", size=[n])] + [let(f"y{i}", "exp", "x") for i in range(300)]
    body = problem(await run(client, program), "limit-exceeded", 422)
    limit(body, "max_alive_elements", S.max_alive_elements)
    assert body["pointer"] == f"/program/{S.max_alive_elements // n}"


async def test_tensors_kept_only_by_the_graph_count(client: httpx.AsyncClient) -> None:
    """A chain of exp rebinding one name: each output is saved for backward by the next node."""
    n = S.max_tensor_elements
    program = [let("x", "ones", size=[n], requires_grad=True), let("y", "exp", "x")]
    program += [let("y", "exp", "y") for _ in range(30)]
    body = problem(await run(client, program), "limit-exceeded", 422)
    limit(body, "max_alive_elements", S.max_alive_elements)


# ----- the deadline and the client inside one call ---------------------------------------------
class FastClock:
    """A request's clock (the interpreter's and the engine's), running a second ahead at every
    reading."""

    def __init__(self) -> None:
        self.ahead = 0.0
        self.readings = 0
        self.on_reading: Any = None

    def __call__(self) -> float:
        self.ahead += 1.0
        self.readings += 1
        if self.on_reading is not None:
            self.on_reading(self.readings)
        return time.monotonic() + self.ahead


@pytest.fixture
def fast_clock() -> FastClock:
    return FastClock()


def jacobian_program(outputs: int, depth: int) -> list[Any]:
    """One long call: the jacobian of ``outputs`` values, each through ``depth`` additions."""
    program = [let("x", "ones", size=[1], requires_grad=True),
               let("y", "expand", "x", size=[outputs])]
    program += [let("y", "add", "y", 0.5) for _ in range(depth)]
    return [*program, let("J", "jacobian", "y", "x")]


async def test_a_call_stops_at_the_deadline(fast_clock: FastClock) -> None:
    """The program's last call overruns the deadline: 422 at that call, not a late 200."""
    app = create_app(S, clock=fast_clock)
    program = jacobian_program(400, 3)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gradserve") as client:
            r = await run(client, program)
    finally:
        app.shared.runner.close()
    body = problem(r, "limit-exceeded", 422, f"/program/{len(program) - 1}")
    limit(body, "request_timeout", S.request_timeout)
    # (about one second of the engine's clock past the deadline: the first reading past it)
    assert body["value"] < S.request_timeout + 2


def test_a_cancelled_program_stops_inside_its_call(fast_clock: FastClock) -> None:
    """The client goes away while the jacobian runs (its last statement): the program stops
    inside it, at the next look at the flag."""
    cancelled = threading.Event()
    program = jacobian_program(400, 3)
    fast_clock.on_reading = lambda n: n == 50 and cancelled.set()
    interpreter = Interpreter(RunRequest.model_validate({"program": program}),
                              S.model_copy(update={"request_timeout": 1e6}), cancelled,
                              clock=fast_clock)
    with pytest.raises(ProgramError) as err:
        interpreter.run().answer_or_raise()
    assert err.value.status == 499
    assert err.value.kind == "cancelled"
    assert err.value.pointer == f"/program/{len(program) - 1}"
    assert fast_clock.readings < 60


def _in_flight(server: Server) -> int:
    return int(httpx.get(f"{server.url}/health/ready", timeout=10).json()["in_flight"])


def test_an_abandoned_program_gives_its_slot_back(server: Server) -> None:
    """A client sends a jacobian of some 20 seconds' work and leaves: the slot is free again
    within a few seconds (it was held until the work ended), and /health/live answered while
    it ran (the run that started inline handed over to a thread instead of holding the loop)."""
    program = jacobian_program(2900, 1900)
    body = json.dumps({"program": program}).encode()
    assert len(body) < S.max_body_bytes
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        sock.sendall(b"POST /v1/run HTTP/1.1\r\nhost: gradserve\r\ncontent-type: application/json"
                     b"\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        deadline = time.monotonic() + 30
        while _in_flight(server) == 0:  # running in a thread
            assert time.monotonic() < deadline, "the program never reached a thread"
            time.sleep(0.05)
        started = time.monotonic()
        live = httpx.get(f"{server.url}/health/live", timeout=10)
        assert live.status_code == 200
        assert time.monotonic() - started < 5
    finally:
        sock.close()
    left = time.monotonic()
    while _in_flight(server) != 0:
        assert time.monotonic() - left < 5, "the abandoned program still holds its slot"
        time.sleep(0.05)
