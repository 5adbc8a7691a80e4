"""Prometheus metrics and ``GET /metrics``.

The metrics live in prometheus-client's default registry. Under several uvicorn workers each worker
writes its values to files in ``PROMETHEUS_MULTIPROC_DIR`` (``gradserve`` prepares that directory
before the workers start, see service/__main__.py) and ``/metrics`` merges every worker's files, so
a scrape that lands on any worker sees the whole server. Without the variable (the app built
in-process, as the tests do) the registry is read directly.

Labels are bounded: ``route`` is the route's path template (``unmatched`` for any path no route
serves), ``op`` is a name from the op catalog, ``limit`` a setting name.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import math
import os
import re
import time
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as _mp
from prometheus_client import values as _values
from starlette.responses import Response

from service import problems

# The classic text format, which every Prometheus reads (generate_latest writes it).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# No *_created series: a multi-process server cannot give them, so neither does a single process.
disable_created_metrics()

REQUESTS = Counter(
    "gradserve_http_requests_total", "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"])
DURATION = Histogram(
    "gradserve_http_request_duration_seconds",
    "Time from the request's arrival to the end of its answer, in seconds, by route and method.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0))
IN_FLIGHT = Gauge(
    "gradserve_http_requests_in_flight", "Requests being answered now.",
    multiprocess_mode="livesum")
PROGRAMS = Counter(
    "gradserve_programs_total", "Programs run, by outcome (ok, or the problem kind they ended with).",
    ["outcome"])
STEPS = Counter(
    "gradserve_program_steps_total",
    "Program steps executed: statements, loop iterations and conditions.")
OPS = Counter(
    "gradserve_ops_executed_total", "Op and builtin calls executed by programs, by op name.", ["op"])
ELEMENTS = Counter(
    "gradserve_elements_allocated_total", "Tensor elements allocated by programs.")
MOVED_TO_THREAD = Counter(
    "gradserve_programs_moved_to_thread_total",
    "Programs that started inline on the event loop, outgrew the inline budget and ran again on "
    "a worker thread.")
LIMIT_REJECTIONS = Counter(
    "gradserve_limit_rejections_total",
    "Requests refused because a limit was reached, by the limit's setting name.", ["limit"])

_LIMIT_NAME = re.compile(r"[a-z_]{1,64}")

# prometheus-client decides once, when it is imported, whether values live in this process or in
# PROMETHEUS_MULTIPROC_DIR's files; /metrics reads them from the same place.
_MULTIPROCESS = _values.ValueClass is not _values.MutexValue


# (metric, label values) -> the metric's child: ``labels()`` validates and looks up under a lock
# each time, which for the dozen ops of a typical program, and the few labels of every request,
# cost more than the counting itself. Label values come from small fixed sets (op names, routes,
# methods, statuses, outcomes), so the table stays small.
_CHILDREN: dict[tuple[Any, ...], Any] = {}


def child(metric: Any, *values: str) -> Any:
    """``metric.labels(*values)``, looked up once."""
    key = (metric, *values)
    found = _CHILDREN.get(key)
    if found is None:
        found = _CHILDREN[key] = metric.labels(*values)
    return found


# The value behind a counter's child, which the child's ``inc`` adds to: a program counts a dozen
# or two ops, and each Counter.inc checked again, in three more Python calls, what holds for every
# one of them (a labelled child is observable; a count is never negative). Each value is the
# metric's own (MutexValue, or the multi-process file's value), so what /metrics reads is unchanged.
_VALUES: dict[tuple[Any, ...], Any] = {}


def counter_value(metric: Any, *values: str) -> Any:
    """The value behind ``child(metric, *values)`` (a counter's): its ``inc(n)`` is what the
    child's ``inc(n)`` does for a count that is never negative, without the child's checks."""
    key = (metric, *values)
    found = _VALUES.get(key)
    if found is None:
        found = _VALUES[key] = child(metric, *values)._value
    return found


# op name -> counter_value(OPS, op), looked up by the name alone (no key tuple per op counted)
_OP_VALUES: dict[str, Any] = {}
_STEPS_VALUE, _ELEMENTS_VALUE = STEPS._value, ELEMENTS._value  # (the same, unlabelled)


def record_program(steps: int, op_counts: Mapping[str, int], allocated: int, outcome: str) -> None:
    """Count one finished program (whether it succeeded or not)."""
    counter_value(PROGRAMS, outcome).inc(1)
    if steps:
        _STEPS_VALUE.inc(steps)
    values = _OP_VALUES
    for op, n in op_counts.items():
        value = values.get(op)
        if value is None:
            value = values[op] = counter_value(OPS, op)
        value.inc(n)
    if allocated:
        _ELEMENTS_VALUE.inc(allocated)


def record_limit(limit: object) -> None:
    name = limit if isinstance(limit, str) and _LIMIT_NAME.fullmatch(limit) else "other"
    LIMIT_REJECTIONS.labels(name).inc()


def multiprocess_dir() -> str | None:
    if not _MULTIPROCESS:
        return None
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return path if path and os.path.isdir(path) else None


def _forget_dead_workers(path: str) -> None:
    """Drop the live-gauge files of workers that have died (a killed worker never says so), so
    that ``in_flight`` counts only live processes. Counters of dead workers stay: they are part of
    the server's totals."""
    for f in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        pid_text = os.path.basename(f).rsplit("_", 1)[-1].removesuffix(".db")
        if not pid_text.isdigit():
            continue
        pid = int(pid_text)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            _mp.mark_process_dead(pid, path)
        except PermissionError:
            pass  # alive, owned by another user


def exposition() -> bytes:
    """Every metric in the Prometheus text format, merged across workers where there are several."""
    path = multiprocess_dir()
    if path is None:
        return bytes(generate_latest(REGISTRY))
    with contextlib.suppress(OSError):
        _forget_dead_workers(path)
    registry = CollectorRegistry()
    _mp.MultiProcessCollector(registry, path=path)
    return bytes(generate_latest(registry))


class Cache:
    """The last rendering of :func:`exposition`, served for ``max_age`` seconds. One rendering at
    a time, on a thread: with the op labels populated it is hundreds of kilobytes, and sixteen
    scrapers at once must not take turns rendering it on the event loop."""

    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        self._body = b""
        self._rendered_at = -math.inf
        self._lock = asyncio.Lock()

    async def get(self) -> bytes:
        async with self._lock:  # scrapers that arrive during a rendering get that rendering
            if time.monotonic() - self._rendered_at > self.max_age:
                self._body = await asyncio.to_thread(exposition)
                self._rendered_at = time.monotonic()
            return self._body


router = APIRouter(tags=["health"])


@router.get(
    "/metrics", response_class=Response, summary="Prometheus metrics",
    description="Requests by route and status, request durations (seconds), in-flight requests, "
    "programs by outcome, program steps, ops executed by op name, tensor elements allocated and "
    "limit rejections by limit, in the Prometheus text format, summed over every worker process "
    "(rendered at most once per metrics_cache_seconds). Needs an API key only when the server "
    "sets metrics_need_api_key.",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                     "description": "The metrics in the Prometheus text exposition format 0.0.4."},
               **problems.responses(413, 500)},
)
async def metrics(request: Request) -> Response:
    return Response(await request.app.state.metrics_cache.get(), media_type=CONTENT_TYPE)
