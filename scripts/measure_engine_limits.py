"""Issue 17's engine findings against a real server with the default settings: for each, the answer,
how long the program ran by its own clock (``value`` of a request_timeout problem, ``elapsed_s`` of a
200), the client's wall time, and the server's peak RSS (VmHWM, a fresh server per case).

    python scripts/measure_engine_limits.py [size] [alive] [deadline] [abandon]

Loopback only; runs ``python -m service`` from this checkout. Linux (/proc). The figures go in
issue notes; nothing here is a test.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.settings import Settings  # noqa: E402
from tests.reliability.conftest import Server  # noqa: E402


def _start() -> Server:
    """A fresh server with the default settings (its own process, so its peak RSS is the case's)."""
    server = Server(Settings())
    server.wait_ready()
    return server


def _status_mb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) // 1024
    return -1


def let(name: str, op: str, *args: Any, **attrs: Any) -> dict[str, Any]:
    return {"name": name, "op": op, "args": list(args), "attrs": attrs}


def case(label: str, program: list[Any]) -> None:
    server = _start()
    url = server.url
    base = _status_mb(server.pid, "VmRSS")
    started = time.monotonic()
    r = httpx.post(f"{url}/v1/run", json={"program": program}, timeout=300)
    wall = time.monotonic() - started
    body = r.json()
    answer = f"{r.status_code} {body.get('type', '').rsplit('/', 1)[-1]} {body.get('limit', '')}"
    if body.get("limit") == "request_timeout":
        answer += f" (ran {body['value']} s)"
    if r.status_code == 200:
        answer += f" (ran {body['stats']['elapsed_s']:.2f} s)"
    print(f"{label:52s} {answer:50s} wall {wall:6.2f} s  RSS {base} -> peak "
          f"{_status_mb(server.pid, 'VmHWM')} MB", flush=True)
    server.stop()


def jacobian(outputs: int, depth: int) -> list[Any]:
    """One long call: the jacobian of ``outputs`` values, each through ``depth`` additions."""
    program = [let("x", "ones", size=[1], requires_grad=True),
               let("y", "expand", "x", size=[outputs])]
    program += [let("y", "add", "y", 0.5) for _ in range(depth)]
    return [*program, let("J", "jacobian", "y", "x")]


def sizes() -> None:
    pixel = let("x", "ones", size=[1, 1, 1, 1])
    for label, weight, attrs in [
        ("conv2d padding 12000 stride 24001", [1, 1, 1, 1], {"padding": 12000, "stride": 24001}),
        ("conv2d padding 100000", [1, 1, 1, 1], {"padding": 100000}),
        ("conv2d same, dilation 1e6", [1, 1, 2, 2], {"padding": "same", "dilation": 1000000}),
    ]:
        case(label, [pixel, let("w", "ones", size=weight), let("y", "conv2d", "x", "w", **attrs)])
    case("conv1d padding 2**40", [let("x", "ones", size=[1, 1, 1]), let("w", "ones", size=[1, 1, 1]),
                                  let("y", "conv1d", "x", "w", padding=2**40)])
    case("arange 0 to 1e308 by 1e-308", [let("a", "arange", start=0, end=1e308, step=1e-308)])
    case("eye 2**62", [let("a", "eye", n=2**62)])
    case("repeat [2**62, 0]", [let("x", "ones", size=[1]), let("a", "repeat", "x", repeats=[2**62, 0])])


def alive() -> None:
    case("300 names, each exp of a 1M tensor",
         [let("x", "ones", size=[1000000])] + [let(f"y{i}", "exp", "x") for i in range(300)])
    program = [let("x", "ones", size=[1000000], requires_grad=True)]
    for s in range(10):
        program += [let(f"y{s}", "exp", "x")] + [let(f"y{s}", "exp", f"y{s}") for _ in range(29)]
    case("10 chains of 30 exp on 1M (saved for backward)", program)


def deadline() -> None:
    case("jacobian, 2900 outputs through 1900 adds", jacobian(2900, 1900))
    program = [let("x", "ones", size=[10], requires_grad=True), let("y", "mul", "x", 1.0)]
    program += [let("y", "mul", "y", 1.0001) for _ in range(40000)]
    program += [let("s", "sum", "y")]
    program += [{"op": "autograd.grad", "name": [f"g{i}"], "args": ["s", "x"],
                 "attrs": {"create_graph": True, "retain_graph": True}} for i in range(12)]
    case("12 create_graph grads over 40k nodes", program)


def abandon() -> None:
    server = _start()
    url, port = server.url, server.port
    body = json.dumps({"program": jacobian(2900, 1900)}).encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /v1/run HTTP/1.1\r\nhost: gradserve\r\ncontent-type: application/json\r\n"
                     b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        while httpx.get(f"{url}/health/ready").json()["in_flight"] == 0:
            time.sleep(0.01)
        time.sleep(1.0)
        asked = time.monotonic()
        live = httpx.get(f"{url}/health/live")
        live_s = time.monotonic() - asked
    left = time.monotonic()
    while httpx.get(f"{url}/health/ready").json()["in_flight"] != 0:
        time.sleep(0.01)
    print(f"abandoned jacobian: slot free {time.monotonic() - left:.2f} s after the client left; "
          f"/health/live {live.status_code} in {live_s:.3f} s while it ran", flush=True)
    server.stop()


if __name__ == "__main__":
    chosen = sys.argv[1:] or ["size", "alive", "deadline", "abandon"]
    for name, fn in [("size", sizes), ("alive", alive), ("deadline", deadline), ("abandon", abandon)]:
        if name in chosen:
            fn()
