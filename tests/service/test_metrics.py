"""GET /metrics (service/metrics.py): Prometheus text with requests by route and status, request
durations, in-flight requests, program steps, ops by name, elements allocated and limit rejections,
summed over every worker. The contract tests run in-process and against a live server (whose
``gradserve`` runs in multi-process mode); the last tests start a server with two workers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.service.helpers import (
    ROOT,
    TEST_SETTINGS,
    free_port,
    ok,
    post,
    problem,
    settings_env,
    wait_ready,
)

pytestmark = pytest.mark.anyio

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def scrape(client: httpx.AsyncClient) -> Samples:
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse(r.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_metrics_is_prometheus_text_with_every_family(client: httpx.AsyncClient) -> None:
    await ok(client, [{"name": "x", "op": "ones", "attrs": {"size": [2]}}])
    await post(client, [{"while": True, "do": []}])
    r = await client.get("/metrics")
    names = {f.name for f in text_string_to_metric_families(r.text)}
    assert {
        "gradserve_http_requests", "gradserve_http_request_duration_seconds",
        "gradserve_http_requests_in_flight", "gradserve_programs", "gradserve_program_steps",
        "gradserve_ops_executed", "gradserve_elements_allocated", "gradserve_limit_rejections",
    } <= names, names
    types = {f.name: f.type for f in text_string_to_metric_families(r.text)}
    assert types["gradserve_http_request_duration_seconds"] == "histogram"
    assert types["gradserve_http_requests_in_flight"] == "gauge"
    assert types["gradserve_ops_executed"] == "counter"


async def test_requests_steps_ops_and_elements_are_counted(client: httpx.AsyncClient) -> None:
    program = [
        {"name": "x", "op": "ones", "attrs": {"size": [3, 4], "requires_grad": True}},
        {"name": "y", "op": "mul", "args": ["x", {"op": "mul", "args": ["x", 2]}]},
        {"op": "backward", "args": [{"op": "sum", "args": ["y"]}]},
    ]
    before = await scrape(client)
    answers = [await ok(client, program) for _ in range(3)]
    after = await scrape(client)
    stats = answers[0]["stats"]
    route = {"route": "/v1/run", "method": "POST"}
    assert delta(before, after, "gradserve_http_requests_total", status="200", **route) == 3
    assert delta(before, after, "gradserve_http_request_duration_seconds_count", **route) == 3
    assert delta(before, after, "gradserve_http_request_duration_seconds_sum", **route) > 0
    assert delta(before, after, "gradserve_http_request_duration_seconds_bucket", le="+Inf",
                 **route) == 3
    assert delta(before, after, "gradserve_programs_total", outcome="ok") == 3
    assert delta(before, after, "gradserve_program_steps_total") == 3 * stats["steps"]
    assert delta(before, after, "gradserve_ops_executed_total", op="mul") == 6
    assert delta(before, after, "gradserve_ops_executed_total", op="ones") == 3
    assert delta(before, after, "gradserve_ops_executed_total", op="backward") == 3
    assert delta(before, after, "gradserve_elements_allocated_total") == \
        3 * stats["allocated_elements"] > 0
    # the scrape before is itself counted, by its route template
    assert delta(before, after, "gradserve_http_requests_total", route="/metrics", method="GET",
                 status="200") == 1


async def test_errors_and_limit_rejections_are_counted_by_status_and_limit(
        client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    problem(await post(client, [{"while": True, "do": []}]), "limit-exceeded", 422)
    problem(await post(client, [{"name": "x", "op": "zeros", "attrs": {"size": [10**6]}}]),
            "limit-exceeded", 422)
    big = b'{"program": [' + b" " * TEST_SETTINGS.max_body_bytes + b"]}"
    r = await client.post("/v1/run", content=big, headers={"content-type": "application/json"})
    problem(r, "limit-exceeded", 413)
    problem(await post(client, [{"name": "x", "op": "nope"}]), "unknown-op", 422)
    problem(await client.get("/no/such/path"), "not-found", 404)
    after = await scrape(client)
    run = {"route": "/v1/run", "method": "POST"}
    assert delta(before, after, "gradserve_http_requests_total", status="422", **run) == 3
    assert delta(before, after, "gradserve_http_requests_total", status="413", **run) == 1
    assert delta(before, after, "gradserve_http_requests_total", route="unmatched",
                 method="GET", status="404") == 1
    for limit in ("max_loop_iterations", "max_tensor_elements", "max_body_bytes"):
        assert delta(before, after, "gradserve_limit_rejections_total", limit=limit) == 1, limit
    assert delta(before, after, "gradserve_programs_total", outcome="limit-exceeded") == 2


def held_body(program: list[Any]) -> tuple[Callable[[], AsyncIterator[bytes]], asyncio.Event]:
    """A request body sent in two halves, the second only once the event is set: the request
    stays in flight, whatever the machine's speed, until the test lets it go."""
    body = json.dumps({"program": program}).encode()
    release = asyncio.Event()

    async def chunks() -> AsyncIterator[bytes]:
        yield body[:len(body) // 2]
        await release.wait()
        yield body[len(body) // 2:]

    return chunks, release


async def test_in_flight_requests(client: httpx.AsyncClient) -> None:
    assert value(await scrape(client), "gradserve_http_requests_in_flight") >= 1  # this scrape
    chunks, release = held_body([{"print": 1}])
    held = asyncio.create_task(client.post("/v1/run", content=chunks(),
                                           headers={"content-type": "application/json"}))
    seen = 0.0
    for _ in range(500):
        seen = value(await scrape(client), "gradserve_http_requests_in_flight")
        if seen >= 2:
            break
        await asyncio.sleep(0.01)
    release.set()
    assert seen == 2  # the held request and the scrape
    assert (await held).status_code == 200
    assert value(await scrape(client), "gradserve_http_requests_in_flight") == 1


# ----- several workers -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_workers() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``python -m service`` with GRADSERVE_WORKERS=2 and its own PROMETHEUS_MULTIPROC_DIR."""
    port = free_port()
    with tempfile.TemporaryDirectory() as metrics_dir, tempfile.TemporaryFile() as log:
        env = {**os.environ, **settings_env(TEST_SETTINGS), "GRADSERVE_PORT": str(port),
               "GRADSERVE_WORKERS": "2", "GRADSERVE_LOG_LEVEL": "info",
               "GRADSERVE_ACCESS_LOG": "False", "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
               "PYTHONPATH": str(ROOT)}
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([sys.executable, "-m", "service"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(url, proc, log)
            yield url, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _workers(parent: int) -> set[int]:
    """The uvicorn workers of ``parent``: its multiprocessing-spawned children (not the
    resource tracker)."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(parent)], capture_output=True,
                         text=True, check=False).stdout
    workers = set()
    for pid in map(int, out.split()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"spawn_main" in f.read():
                    workers.add(pid)
        except OSError:
            pass
    return workers


def _wait_workers(parent: int, n: int, without: frozenset[int] | set[int] = frozenset()
                  ) -> set[int]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pids = _workers(parent)
        if len(pids) == n and not pids & without:
            return pids
        time.sleep(0.2)
    raise AssertionError(f"workers of {parent}: {_workers(parent)}")


def test_two_workers_report_one_sum(two_workers: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, _ = two_workers
    with httpx.Client(base_url=url, timeout=30) as c:
        before = parse(c.get("/metrics").text)
        for _ in range(20):
            # a new connection each time, so that both workers take some
            assert httpx.get(f"{url}/v1/ops", timeout=30).status_code == 200
        scrapes = [parse(httpx.get(f"{url}/metrics", timeout=30).text) for _ in range(6)]
    for after in scrapes:
        assert delta(before, after, "gradserve_http_requests_total", route="/v1/ops",
                     method="GET", status="200") == 20


def test_killed_workers_come_back_and_their_gauge_goes(
        two_workers: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, proc = two_workers
    before = _wait_workers(proc.pid, 2)
    for _ in range(10):
        assert httpx.get(f"{url}/v1/ops", timeout=30).status_code == 200
    ops_answered = value(parse(httpx.get(f"{url}/metrics", timeout=30).text),
                         "gradserve_http_requests_total", route="/v1/ops", method="GET",
                         status="200")
    body = json.dumps({"program": [{"print": 1}]}).encode()
    release = threading.Event()
    result: dict[str, Any] = {}

    def chunks() -> Iterator[bytes]:
        yield body[:10]
        release.wait(60)
        yield body[10:]

    def held() -> None:
        try:
            result["r"] = httpx.post(f"{url}/v1/run", content=chunks(), timeout=60,
                                     headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:
            result["r"] = exc

    t = threading.Thread(target=held)
    t.start()
    for _ in range(500):
        if value(parse(httpx.get(f"{url}/metrics", timeout=30).text),
                 "gradserve_http_requests_in_flight") >= 2:
            break
        time.sleep(0.01)
    # whichever worker holds the request dies with it: its in-flight count stays in its file
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    release.set()
    t.join(timeout=60)
    assert isinstance(result["r"], httpx.HTTPError)  # the connection was cut
    after = _wait_workers(proc.pid, 2, without=before)
    assert not after & before
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/ready", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    for _ in range(10):
        assert httpx.get(f"{url}/v1/info", timeout=30).status_code == 200
    # only the scrape is in flight: the dead workers' counts are gone, their counters stay
    samples = parse(httpx.get(f"{url}/metrics", timeout=30).text)
    assert value(samples, "gradserve_http_requests_in_flight") == 1
    assert ops_answered >= 10
    assert value(samples, "gradserve_http_requests_total", route="/v1/ops", method="GET",
                 status="200") == ops_answered  # counted by workers now dead


async def test_a_scrape_within_the_cache_interval_gets_the_same_rendering(
        make_client: Callable[..., Any]) -> None:
    # the rendering is reused: scrapers cannot make the server render hundreds of KiB each time
    async with make_client(metrics_cache_seconds=3600.0) as c:
        first = (await c.get("/metrics")).text
        assert (await c.post("/v1/run", json={"program": [{"print": 1}]})).status_code == 200
        assert (await c.get("/metrics")).text == first
    async with make_client(metrics_cache_seconds=0.0) as c:
        first = (await c.get("/metrics")).text
        assert (await c.post("/v1/run", json={"program": [{"print": 1}]})).status_code == 200
        assert (await c.get("/metrics")).text != first
