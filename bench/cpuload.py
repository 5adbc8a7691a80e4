"""Foreign CPU load: how much of the machine processes outside the benchmark used meanwhile.

The machine this runs on is shared (other people's test suites run beside it), and a 2-core box
with one core taken makes a threaded BLAS call up to 10x slower. So the harness measures, for each
repetition, the machine's busy CPU time (/proc/stat) less the CPU time of the benchmark's own
process tree (the driver, its workers and the servers they started, from /proc/<pid>/stat), and
repeats a repetition measured while others used more than a set share of the machine.

Linux only; elsewhere every reading is None and nothing is repeated.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

Snapshot = tuple[float, float, float]  # (monotonic time, machine busy CPU s, own tree CPU s)

_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PROC = Path("/proc")


def _machine_busy() -> float | None:
    try:
        with open(_PROC / "stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks) - idle) / _HZ


def _tree_cpu(root: int) -> float:
    """CPU seconds used so far by ``root`` and every live descendant."""
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        pid = int(entry.name)
        parent[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / _HZ  # utime + stime
    total = 0.0
    for pid, seconds in cpu.items():
        p = pid
        while p > 1 and p != root:
            p = parent.get(p, 0)
        if p == root:
            total += seconds
    return total


def snapshot() -> Snapshot | None:
    busy = _machine_busy()
    if busy is None:
        return None
    return time.monotonic(), busy, _tree_cpu(os.getpid())


def foreign_share(start: Snapshot | None, end: Snapshot | None) -> float | None:
    """Foreign CPU seconds / (wall seconds x cores) between two snapshots."""
    if start is None or end is None or end[0] <= start[0]:
        return None
    foreign = (end[1] - start[1]) - (end[2] - start[2])
    return max(0.0, foreign) / ((end[0] - start[0]) * (os.cpu_count() or 1))


def wait_for_quiet(limit: float, patience_s: float, window_s: float = 1.0) -> float | None:
    """Wait (at most ``patience_s``) for a ``window_s`` in which others use under ``limit`` of the
    machine; return the last reading."""
    deadline = time.monotonic() + patience_s
    while True:
        start = snapshot()
        time.sleep(window_s)
        share = foreign_share(start, snapshot())
        if share is None or share < limit or time.monotonic() >= deadline:
            return share
