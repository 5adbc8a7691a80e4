"""Running one case: its two sides in two worker processes, repetitions alternating between them.

Process model. Each side of a case gets ONE long-lived worker process (bench/worker.py), and the
driver feeds the two workers repetitions alternately, one at a time (A B, B A, A B, ...):

* separate processes, because numpy's BLAS threads and torch's thread pool in one process slow
  each other down (torch's MLP took 2x longer beside numpy than alone);
* long-lived rather than a fresh process per repetition, because a fresh process would put the
  import of torch (seconds), first-call dispatch setup, BLAS thread start-up and cold caches into
  every sample; the cases measure a warm, steady-state call, which is what a server sees;
* alternating, one side at a time, so both sides see the same machine state (drift, other load,
  frequency) and never compete for the cores; the order flips every repetition so neither side
  always runs right after the other; a short pause between repetitions lets the idle side's
  spinning BLAS/OpenMP threads go to sleep first.

Both workers get the same environment (bench/machine.py: threads pinned to the core count, the
OpenBLAS overrides removed) and pin their thread pools the same way after setup.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench.machine import REPO, bench_env
from bench.registry import BASELINE, GRADSERVE, Case

SETTLE_S = float(os.environ.get("BENCH_SETTLE_S", "0.05"))  # pause between repetitions (untimed)
# Warm-up lasts at least the case's warm-up count AND this long per side (at most MAX_WARMUP reps):
# on this VM the first hundreds of milliseconds of a process that allocates megabytes per call run
# up to 10x slower (fresh pages faulting in) than its steady state.
WARMUP_MIN_S = 1.0
MAX_WARMUP = 30
SETUP_TIMEOUT_S = 300.0
RUN_TIMEOUT_S = 600.0


class WorkerError(RuntimeError):
    pass


class WorkerProcess:
    """The driver's handle on one worker subprocess."""

    def __init__(self, env: dict[str, str]) -> None:
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.worker"], cwd=REPO, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
        )
        self._sel = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)

    def call(self, msg: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise WorkerError(f"worker exited ({self.proc.poll()}): {self.stderr_tail()}") from None
        if not self._sel.select(timeout):
            self.kill()
            raise WorkerError(f"worker gave no answer to {msg['cmd']!r} within {timeout:.0f} s")
        line = self.proc.stdout.readline()
        if not line:
            raise WorkerError(f"worker exited ({self.proc.wait()}): {self.stderr_tail()}")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise WorkerError(reply.get("error", "unknown error"))
        return reply

    def stderr_tail(self, chars: int = 3000) -> str:
        self._stderr.seek(0)
        return self._stderr.read()[-chars:]

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(WorkerError, OSError, ValueError):
                self.call({"cmd": "close"}, timeout=60)
        self.kill()
        self._stderr.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class ForeignLoad:
    """How much CPU processes other than the benchmark's own used while a case ran (Linux): the
    machine's busy time from /proc/stat less the CPU time of this process and its children (the
    workers and their servers, counted once they have exited). Reported per case as a share of
    the machine, so a row measured beside someone else's test run can be recognised."""

    def __init__(self) -> None:
        self.start = self._snapshot()

    @staticmethod
    def _snapshot() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat") as f:
                fields = f.readline().split()[1:]
        except OSError:
            return None
        ticks = [int(f) for f in fields]
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
        busy = (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")
        own = sum(getattr(resource.getrusage(who), f) for who in
                  (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime"))
        return time.monotonic(), busy, own

    def share(self) -> float | None:
        """Foreign CPU time / (wall time x cores) since construction; None where unknown."""
        end = self._snapshot()
        if self.start is None or end is None:
            return None
        wall = end[0] - self.start[0]
        foreign = (end[1] - self.start[1]) - (end[2] - self.start[2])
        return max(0.0, foreign) / (wall * (os.cpu_count() or 1)) if wall > 0 else None


def _summary(values: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "values": values}


def run_case(case: Case, smoke: bool, sides: list[str], reps: int | None = None,
             warmup: int | None = None, log: Any = None) -> dict[str, Any]:
    """Run ``sides`` of ``case``; the result holds per-side medians (or an error) and the ratio."""
    params = case.smoke if smoke else case.full
    inner = 1 if smoke else case.inner
    n_reps = 1 if smoke else (reps or case.reps)
    n_warm = 0 if smoke else (case.warmup if warmup is None else warmup)
    result: dict[str, Any] = {"params": params, "inner": inner, "reps": n_reps, "warmup": n_warm,
                              "sides": {}}
    load = ForeignLoad()
    workers: dict[str, WorkerProcess] = {}
    values: dict[str, list[float]] = {s: [] for s in sides}
    last: dict[str, dict[str, Any]] = {}
    try:
        for side in sides:
            workers[side] = WorkerProcess(bench_env(case.env.get(side)))
        info = {}
        for side in sides:
            info[side] = workers[side].call(
                {"cmd": "setup", "case": case.name, "side": side, "params": params},
                SETUP_TIMEOUT_S)["info"]
        warm_s = 0.0
        i = n_done = 0
        while n_done < n_reps:
            warming = not smoke and (i < n_warm or (warm_s < WARMUP_MIN_S and i < MAX_WARMUP))
            order = sides if i % 2 == 0 else sides[::-1]
            for side in order:
                reply = workers[side].call({"cmd": "run", "inner": inner}, RUN_TIMEOUT_S)
                last[side] = reply
                if not warming:
                    values[side].append(reply["value"])
                if len(sides) > 1:
                    time.sleep(SETTLE_S)
            if warming and case.metric == "time":
                warm_s += min(last[s]["value"] * inner for s in sides)
            elif warming:
                warm_s = float("inf")  # a rate repetition lasts seconds: the count alone decides
            else:
                n_done += 1
            i += 1
            if log:
                log(f"  {case.name}: " + ("warm-up" if warming else f"repetition {n_done}/{n_reps}"))
        result["warmup"] = i - n_reps
    except WorkerError as exc:
        tails = {s: w.stderr_tail() for s, w in workers.items()}
        result["error"] = str(exc)
        result["stderr_tail"] = tails
        return result
    finally:
        for w in workers.values():
            w.close()
        result["foreign_load"] = load.share()
    for side in sides:
        result["sides"][side] = {**_summary(values[side]), "info": info[side],
                                 "extra": last[side].get("extra"),
                                 "maxrss_mb": last[side].get("maxrss_mb")}
    if GRADSERVE in sides and BASELINE in sides:
        g, b = values[GRADSERVE], values[BASELINE]
        result["ratio"] = statistics.median(g) / statistics.median(b)
        # the ratio within each adjacent pair of repetitions: robust to drift across the run
        result["paired_ratio_median"] = statistics.median(x / y for x, y in zip(g, b, strict=True))
    return result
