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
  spinning BLAS/OpenMP threads go to sleep first;
* guarded against other people's work on a shared machine: a repetition during which processes
  outside the benchmark used >= 10% of the CPU is run again (bench/cpuload.py), and the share
  they used during the kept ones is reported.

Both workers get the same environment (bench/machine.py: threads pinned to the core count, the
OpenBLAS overrides removed) and pin their thread pools the same way after setup.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench import cpuload
from bench.machine import REPO, bench_env
from bench.registry import BASELINE, GRADSERVE, Case

SETTLE_S = 0.2  # pause after each side's timed repetition (untimed)
# A repetition (both sides) measured while processes outside the benchmark used this share of the
# machine or more is run again, at most MAX_DISCARDS x reps times (bench/cpuload.py); before each
# case the driver waits up to QUIET_PATIENCE_S for a quiet second.
MAX_FOREIGN = 0.10
MAX_DISCARDS = 1
QUIET_PATIENCE_S = 10.0
# Warm-up lasts at least the case's warm-up count AND this long per side (at most MAX_WARMUP
# repetitions), so every case reaches its steady state (allocator, caches, thread pools, lazily
# initialised dispatch) whatever the length of its repetitions.
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
    result: dict[str, Any] = {"params": params, "inner": inner, "reps": n_reps, "sides": {}}
    say = log or (lambda msg: None)
    if not smoke:
        quiet = cpuload.wait_for_quiet(MAX_FOREIGN, QUIET_PATIENCE_S)
        if quiet is not None and quiet >= MAX_FOREIGN:
            say(f"  {case.name}: others still use {quiet:.0%} of the CPU; going on")
    workers: dict[str, WorkerProcess] = {}
    values: dict[str, list[float]] = {s: [] for s in sides}
    foreign: list[float] = []
    last: dict[str, dict[str, Any]] = {}
    warm_s, n_warm_done, n_discarded, i = 0.0, 0, 0, 0
    try:
        for side in sides:
            workers[side] = WorkerProcess(bench_env(case.env.get(side)))
        info = {side: workers[side].call(
            {"cmd": "setup", "case": case.name, "side": side, "params": params},
            SETUP_TIMEOUT_S)["info"] for side in sides}
        while len(values[sides[0]]) < n_reps:
            warming = not smoke and (n_warm_done < n_warm or (
                warm_s < WARMUP_MIN_S and n_warm_done < MAX_WARMUP))
            order = sides if i % 2 == 0 else sides[::-1]
            i += 1
            before = cpuload.snapshot()
            got = {}
            for side in order:
                last[side] = workers[side].call({"cmd": "run", "inner": inner}, RUN_TIMEOUT_S)
                got[side] = last[side]["value"]
                if len(sides) > 1 and not warming:
                    time.sleep(SETTLE_S)
            share = cpuload.foreign_share(before, cpuload.snapshot())
            if warming:
                n_warm_done += 1
                # a rate repetition lasts seconds: there the count alone decides
                warm_s += min(got.values()) * inner if case.metric == "time" else float("inf")
                say(f"  {case.name}: warm-up")
            elif (share is not None and share >= MAX_FOREIGN and not smoke
                  and n_discarded < MAX_DISCARDS * n_reps):
                n_discarded += 1
                say(f"  {case.name}: repeating a repetition run while others used {share:.0%} "
                    "of the CPU")
            else:
                for side in sides:
                    values[side].append(got[side])
                if share is not None:
                    foreign.append(share)
                say(f"  {case.name}: repetition {len(values[sides[0]])}/{n_reps}")
    except WorkerError as exc:
        result["error"] = str(exc)
        result["stderr_tail"] = {s: w.stderr_tail() for s, w in workers.items()}
        return result
    finally:
        for w in workers.values():
            w.close()
    result.update(warmup=n_warm_done, discarded_reps=n_discarded,
                  foreign_load=statistics.mean(foreign) if foreign else None)
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
