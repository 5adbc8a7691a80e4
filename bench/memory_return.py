"""Memory given back after a large program, and what it costs small ones (issue 17, finding 4).

``python -m bench.memory_return`` starts ``python -m service`` (one worker, loopback) under each
allocator configuration below, and for each:

* runs a large program (``--tensors`` float64 tensors of 1M elements alive at once, then a
  refusal: the program ends in a 422, as the worst case of the finding did) ``--large`` times and
  reads the worker's RSS (VmRSS) after each;
* times ``--small`` runs of a 256x1024 MLP step (forward, backward) and reports the median.

Configurations: the allocator setting of service/allocator.py with malloc_trim after large
programs (the default), the same setting without the trim, and glibc's defaults (no setting, no
trim). The numbers go to stdout as a markdown table; nothing asserts them.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from service.allocator import GLIBC_TUNABLES

ROOT = Path(__file__).resolve().parent.parent

CONFIGS: dict[str, dict[str, str]] = {
    "tunables + trim (default)": {"GLIBC_TUNABLES": GLIBC_TUNABLES},
    "tunables, no trim": {"GLIBC_TUNABLES": GLIBC_TUNABLES, "GRADSERVE_TRIM_AFTER_ELEMENTS": "0"},
    "glibc defaults, no trim": {"GLIBC_TUNABLES": "", "GRADSERVE_TRIM_AFTER_ELEMENTS": "0"},
}


def large_program(tensors: int) -> dict[str, Any]:
    program: list[Any] = [{"name": f"t{i}", "op": "randn",
                           "attrs": {"size": [1000, 1000], "dtype": "float64"}}
                          for i in range(tensors)]
    program.append({"print": "a_name_never_bound"})  # a 422 once every tensor is alive
    return {"program": program}


MLP = {"seed": 1, "program": [
    {"name": "x", "op": "randn", "attrs": {"size": [256, 1024]}},
    {"name": "w", "op": "randn", "attrs": {"size": [1024, 256], "requires_grad": True}},
    {"name": "h", "op": "tanh", "args": [{"op": "matmul", "args": ["x", "w"]}]},
    {"op": "backward", "args": [{"op": "sum", "args": ["h"]}]},
], "outputs": []}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def worker_pid(supervisor: int) -> int:
    """The one uvicorn worker under ``supervisor`` (the biggest child: not the resource
    tracker)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        kids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == supervisor:
                    kids.append(int(entry.name))
        if kids:
            return max(kids, key=rss_mib)
        time.sleep(0.1)
    raise RuntimeError("no worker")


def measure(env_extra: dict[str, str], tensors: int, large: int, small: int) -> dict[str, Any]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADSERVE_PORT": str(port), "GRADSERVE_HOST": "127.0.0.1",
           "GRADSERVE_ACCESS_LOG": "false", "GRADSERVE_LOG_LEVEL": "warning",
           "GRADSERVE_MAX_ALIVE_ELEMENTS": str((tensors + 2) * 1_000_000),
           "GRADSERVE_MAX_STEPS": "1000000", "GRADSERVE_REQUEST_TIMEOUT": "120",
           "PYTHONPATH": str(ROOT), **env_extra}
    proc = subprocess.Popen([sys.executable, "-m", "service"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=300) as c:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if c.get("/health/live").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not start")
                time.sleep(0.1)
            pid = worker_pid(proc.pid)
            for _ in range(20):
                c.post("/v1/run", json=MLP)
            idle = rss_mib(pid)
            after = []
            for _ in range(large):
                r = c.post("/v1/run", json=large_program(tensors))
                assert r.status_code == 422, r.text
                time.sleep(0.2)
                after.append(rss_mib(pid))
            times = []
            for _ in range(small):
                started = time.perf_counter()
                assert c.post("/v1/run", json=MLP).status_code == 200
                times.append(time.perf_counter() - started)
            return {"idle_mib": idle, "after_large_mib": after,
                    "mlp_median_ms": 1000 * statistics.median(times), "final_mib": rss_mib(pid)}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tensors", type=int, default=150)
    parser.add_argument("--large", type=int, default=3)
    parser.add_argument("--small", type=int, default=100)
    args = parser.parse_args()
    print("| allocator | RSS idle (MiB) | RSS after each large program (MiB) | MLP step median "
          "(ms) | RSS after the MLP runs (MiB) |")
    print("|---|---|---|---|---|")
    for name, env in CONFIGS.items():
        m = measure(env, args.tensors, args.large, args.small)
        after = ", ".join(f"{x:.0f}" for x in m["after_large_mib"])
        print(f"| {name} | {m['idle_mib']:.0f} | {after} | {m['mlp_median_ms']:.1f} | "
              f"{m['final_mib']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
