"""Soak, bounded for CI: mixed load at concurrency 32 against a real single-worker uvicorn on
127.0.0.1 -- 5 s of warm-up, then 30 s (and at most 200,000 requests) -- with no 5xx, no transport
error (but the resets that may answer an over-limit body, see conftest.load), and the server's
resident memory after the run within the bound below of its resident memory after the warm-up
(VmRSS from /proc/<pid>/status).

The stated bound: RSS after the run <= RSS after warm-up + max(64 MiB, 25 %). A leak of even one
answer per request (a few KiB) over the tens of thousands of requests of the run would pass it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.reliability.conftest import RELIABILITY_SETTINGS, Request, load, rss_kib, running
from tests.reliability.test_isolation import KINDS

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

CONCURRENCY = 32
WARMUP_S, SOAK_S, MAX_REQUESTS = 5.0, 30.0, 200_000
MIB = 1024


def rss_bound(warm_kib: int) -> int:
    return warm_kib + max(64 * MIB, warm_kib // 4)


def mixed_requests() -> list[Request]:
    """Answers and every kind of refusal, small and large, over every route."""
    run: list[Request] = [("POST", "/v1/run", kind(seed)) for seed in range(4) for kind in KINDS]
    heavy = {"program": [
        {"name": "a", "op": "randn", "attrs": {"size": [64, 64], "requires_grad": True}},
        {"name": "b", "op": "tanh", "args": [{"op": "matmul", "args": ["a", "a"]}]},
        {"op": "backward", "args": [{"op": "sum", "args": ["b"]}]}], "outputs": ["a"],
        "seed": 7}
    too_big = b'{"program": [], "pad": "' + b"x" * RELIABILITY_SETTINGS.max_body_bytes + b'"}'
    too_deep = b'{"program": [' + b"[" * 5000 + b"]" * 5000 + b"]}"
    return [*run, ("POST", "/v1/run", heavy), ("POST", "/v1/run", heavy),
            ("POST", "/v1/run", b'{"program": [{"op": '),  # 400
            ("POST", "/v1/run", too_big),  # 413
            ("POST", "/v1/run", too_deep),  # 422, nesting
            ("POST", "/v1/run", {"program": [{"op": "nope"}]}),  # 422, unknown op
            ("GET", "/v1/ops", None), ("GET", "/v1/info", None), ("GET", "/health/ready", None),
            ("GET", "/no/such/route", None)]  # 404


def test_the_mix_is_json_where_it_should_be() -> None:
    for _, _, body in mixed_requests():
        if body is not None and not isinstance(body, bytes):
            json.dumps(body)


async def test_soak_no_5xx_and_bounded_memory() -> None:
    requests = mixed_requests()
    with running(RELIABILITY_SETTINGS) as server:
        limit = RELIABILITY_SETTINGS.max_body_bytes
        warm = await load(server.url, requests, concurrency=CONCURRENCY, seconds=WARMUP_S,
                          max_requests=MAX_REQUESTS, over_limit=limit)
        worker = server.worker_pid()
        warm_kib = rss_kib(worker)
        counts = await load(server.url, requests, concurrency=CONCURRENCY, seconds=SOAK_S,
                            max_requests=MAX_REQUESTS, over_limit=limit)
        after_kib = rss_kib(worker)
        report: dict[str, Any] = {"warm-up": warm, "run": counts, "rss_warm_mib": warm_kib / MIB,
                                  "rss_after_mib": after_kib / MIB}
        print(report)  # visible with -s: the numbers behind the bound
        for phase in (warm, counts):
            assert not [k for k in phase if k.startswith("5") or k.startswith("error")], report
            assert {"200", "400", "404", "413", "422"} <= set(phase), report
        assert sum(counts.values()) >= len(requests), report  # it really ran
        assert after_kib <= rss_bound(warm_kib), report
        # resets only ever answer the over-limit body, and most of those still get their 413
        assert counts.get("reset", 0) < counts["413"], report
        assert server.proc.poll() is None
