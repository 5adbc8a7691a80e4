#!/usr/bin/env python3
"""Checks of a running gradserve container, for scripts/docker_ci.sh (stdlib + httpx only).

    deploy_checks.py ci-env IMAGE                       # the compose override the CI runs with
    deploy_checks.py log URL CONTAINER                  # a request's JSON log line and request id
    deploy_checks.py worker-restart URL CONTAINER       # kill -9 a worker: it comes back
    deploy_checks.py drain URL -- STOP-COMMAND...       # SIGTERM drains a request in flight
    deploy_checks.py lb URL REPLICA-URL...              # nginx spreads requests over the replicas

Each prints what it saw and exits non-zero on the first thing that is wrong.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def fail(message: str) -> NoReturn:
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def say(message: str) -> None:
    print(message, flush=True)


def slow_program(iterations: int) -> dict[str, Any]:
    """Work that takes a while within the test settings' limits: ``iterations`` (at most 800) of
    a loop whose body holds four statements of twelve nested 300x300 matmuls (6 steps an
    iteration, 5000 allowed; nesting 14 of 16)."""
    product: Any = "a"
    for _ in range(12):
        product = {"op": "matmul", "args": ["a", product]}
    work = {"name": "y", "op": product["op"], "args": product["args"]}
    return {"program": [
        {"name": "a", "op": "randn", "attrs": {"size": [300, 300]}},
        {"name": "a", "op": "div", "args": ["a", 300]},  # keeps the powers of a small and finite
        {"name": "i", "op": "tensor", "args": [0]},
        {"no_grad": [{"while": {"op": "lt", "args": ["i", iterations]}, "do": [
            {"name": "i", "op": "add", "args": ["i", 1]}, work, work, work, work,
        ]}]},
    ], "outputs": ["i"]}


def calibrate(url: str, seconds: float) -> int:
    """Iterations of slow_program that take about ``seconds`` on this server."""
    r = httpx.post(f"{url}/v1/run", json=slow_program(10), timeout=60)
    if r.status_code != 200:
        fail(f"the calibration run answered {r.status_code}: {r.text[:300]}")
    per_iteration = max(r.json()["stats"]["elapsed_s"], 1e-3) / 10
    iterations = max(5, min(800, round(seconds / per_iteration)))
    say(f"{per_iteration * 1000:.1f} ms an iteration: {iterations} iterations "
        f"(about {iterations * per_iteration:.1f}s)")
    return iterations


def metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_in_flight(url: str, at_least: int, done: threading.Event) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not done.is_set():
        if metric(url, "gradserve_http_requests_in_flight") >= at_least:
            return
        time.sleep(0.05)
    fail("the slow request never showed as in flight")


def ci_env(image: str) -> None:
    """The compose override: the image just built, the contract tests' settings, two workers and
    a fast healthcheck. JSON is YAML, so compose reads it as an override file."""
    from tests.service.helpers import TEST_SETTINGS, settings_env

    env = {k: v for k, v in settings_env(TEST_SETTINGS).items()
           if k not in ("GRADSERVE_HOST", "GRADSERVE_PORT")}
    env.update(GRADSERVE_WORKERS="2", GRADSERVE_SHUTDOWN_TIMEOUT="30", GRADSERVE_ACCESS_LOG="true")
    print(json.dumps({"services": {"api": {
        "image": image, "environment": env,
        "healthcheck": {"interval": "2s", "timeout": "5s", "retries": 3, "start_period": "30s"},
    }}}, indent=2))


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def log_line(url: str, container: str) -> None:
    rid = f"ci-log-{int(time.time())}"
    r = httpx.post(f"{url}/v1/run", headers={"X-Request-ID": rid}, timeout=30, json={"program": [
        {"name": "x", "op": "tensor", "args": [[4242.125, 1717.5]]}, {"print": "x"}]})
    if r.status_code != 200 or r.headers.get("x-request-id") != rid:
        fail(f"run answered {r.status_code} with request id {r.headers.get('x-request-id')!r}")
    time.sleep(0.5)
    logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True).stdout
    lines = [json.loads(x) for x in logs.splitlines() if x.startswith("{") and rid in x]
    if len(lines) != 1:
        fail(f"expected one log line with request id {rid}, found {len(lines)}")
    line = lines[0]
    for key, want in (("route", "/v1/run"), ("status", 200), ("steps", 2), ("backend", "numpy")):
        if line.get(key) != want:
            fail(f"log line {key}={line.get(key)!r}, expected {want!r}: {line}")
    if "4242.125" in logs or "1717.5" in logs:
        fail("tensor data reached the log")
    say(f"log: {json.dumps(line)}")


def worker_pids(container: str) -> dict[int, int]:
    """Host pid -> parent pid of the uvicorn workers (multiprocessing spawn children)."""
    out = docker("top", container, "-o", "pid,ppid,args")
    pids = {}
    for row in out.splitlines()[1:]:
        pid, ppid, args = row.split(None, 2)
        if "spawn_main" in args:
            pids[int(pid)] = int(ppid)
    return pids


def worker_restart(url: str, container: str) -> None:
    before = worker_pids(container)
    if len(before) != 2:
        fail(f"expected 2 workers, found {before}")
    victim = min(before)
    say(f"workers {sorted(before)}: kill -9 {victim}")
    subprocess.run(["kill", "-9", str(victim)], check=True)
    deadline = time.monotonic() + 60
    after: dict[int, int] = {}
    while time.monotonic() < deadline:
        after = worker_pids(container)
        if len(after) == 2 and victim not in after:
            break
        time.sleep(0.2)
    else:
        fail(f"the killed worker was not replaced: {after}")
    if set(after.values()) != set(before.values()):
        fail(f"the workers' parent changed: {before} -> {after}")
    say(f"workers {sorted(after)}: {victim} was replaced by {sorted(set(after) - set(before))}")
    # every request succeeds again, spread over both workers (a new connection each time)
    for _ in range(20):
        r = httpx.post(f"{url}/v1/run", json={"program": [{"print": 1}]}, timeout=30)
        if r.status_code != 200:
            fail(f"after the restart a run answered {r.status_code}: {r.text[:300]}")
    state = docker("inspect", "-f", "{{.State.Status}} {{.State.Health.Status}} {{.RestartCount}}",
                   container).split()
    if state[0] != "running" or state[2] != "0":
        fail(f"the container itself restarted or stopped: {state}")
    gauge = metric(url, "gradserve_http_requests_in_flight")
    if gauge != 1:
        fail(f"in-flight gauge is {gauge} with only the scrape in flight")
    say(f"20 runs answered 200 after the restart; container {' '.join(state[:2])}")


def drain(url: str, stop: list[str]) -> None:
    """A request is in flight when SIGTERM comes: its body is still on its way (the rest is sent
    only once the stop has begun, so the order never depends on the machine's speed), and then
    its program runs for about a second. It must still be answered 200, in full."""
    iterations = calibrate(url, 1.0)
    body = json.dumps(slow_program(iterations)).encode()
    half = len(body) // 2
    go = threading.Event()
    result: dict[str, Any] = {}

    def chunks() -> Any:
        yield body[:half]
        go.wait(60)
        yield body[half:]

    def send() -> None:
        try:
            result["r"] = httpx.post(f"{url}/v1/run", content=chunks(), timeout=120,
                                     headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:
            result["r"] = exc
        result["t"] = time.monotonic()

    t = threading.Thread(target=send)
    t.start()
    done = threading.Event()
    wait_in_flight(url, 2, done)  # the request and this scrape
    say(f"request in flight (half its body sent); stopping: {' '.join(stop)}")
    stopped_at = time.monotonic()
    proc = subprocess.Popen(stop, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(2.0)  # SIGTERM has reached every worker by now
    if proc.poll() is not None:
        fail(f"the server stopped with a request in flight: {proc.stdout.read() if proc.stdout else ''}")
    go.set()
    t.join(timeout=120)
    output = proc.communicate(timeout=120)[0]
    stop_took = time.monotonic() - stopped_at
    r = result.get("r")
    if not isinstance(r, httpx.Response):
        fail(f"the request in flight did not complete: {r!r}")
    if r.status_code != 200:
        fail(f"the request in flight answered {r.status_code}: {r.text[:300]}")
    answer = r.json()
    if answer["tensors"]["i"]["data"] != [iterations]:
        fail(f"the request in flight answered a wrong result: {answer['tensors']}")
    if proc.returncode != 0:
        fail(f"stop failed: {output}")
    say(f"the request in flight answered 200 {result['t'] - stopped_at:.1f}s after SIGTERM (its "
        f"program ran {answer['stats']['elapsed_s']:.1f}s); the stop took {stop_took:.1f}s")
    try:
        httpx.get(f"{url}/health/live", timeout=5)
    except httpx.TransportError:
        say("after the stop the port refuses connections")
    else:
        fail("the server still answers after the stop")


def runs_answered(url: str) -> float:
    """POST /v1/run requests this server (all its workers) has answered 200."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "gradserve_http_requests_total" and s.labels.get("route") == "/v1/run"
               and s.labels.get("status") == "200")


def lb(url: str, replicas: list[str]) -> None:
    before = [runs_answered(u) for u in replicas]
    for i in range(60):
        r = httpx.post(f"{url}/v1/run", headers={"X-Request-ID": f"lb-{i}"}, timeout=30,
                       json={"program": [{"print": 1}]})
        if r.status_code != 200 or r.headers.get("x-request-id") != f"lb-{i}":
            fail(f"through nginx: {r.status_code} {dict(r.headers)} {r.text[:200]}")
    spread = [runs_answered(u) - b for u, b in zip(replicas, before, strict=True)]
    if sum(spread) != 60 or min(spread) == 0:
        fail(f"60 runs through nginx were answered by the replicas as {spread}")
    say(f"60 runs through nginx answered 200, by replica: {[int(x) for x in spread]}")


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ci-env")
    p.add_argument("image")
    p = sub.add_parser("log")
    p.add_argument("url")
    p.add_argument("container")
    p = sub.add_parser("worker-restart")
    p.add_argument("url")
    p.add_argument("container")
    p = sub.add_parser("drain")
    p.add_argument("url")
    p.add_argument("stop", nargs=argparse.REMAINDER)
    p = sub.add_parser("lb")
    p.add_argument("url")
    p.add_argument("replicas", nargs="+")
    args = parser.parse_args()
    if args.cmd == "ci-env":
        ci_env(args.image)
    elif args.cmd == "log":
        log_line(args.url.rstrip("/"), args.container)
    elif args.cmd == "worker-restart":
        worker_restart(args.url.rstrip("/"), args.container)
    elif args.cmd == "drain":
        stop = args.stop[1:] if args.stop[:1] == ["--"] else args.stop
        drain(args.url.rstrip("/"), stop)
    else:
        lb(args.url.rstrip("/"), [u.rstrip("/") for u in args.replicas])


if __name__ == "__main__":
    main()
