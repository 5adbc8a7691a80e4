"""The case registry: what a benchmark case is, and the list the harness runs.

A case is a pair of *side* functions, one for gradserve and one for its baseline, plus the numbers
that describe it.  A side function takes the case's parameters (``full`` or ``smoke``) and returns
the thing to time: a zero-argument callable, run in a worker process of its own.  Adding a case is
writing the two functions and one :func:`register` call, e.g.::

    def chain_gradserve(p):
        import engine as ge
        x0 = ...
        def run():
            ...  # one forward + backward
        return run

    def chain_torch(p):
        import torch  # baselines import torch inside the function: only their process loads it
        ...
        return run

    register(Case("chain", "1000 x (tanh, * 1.01) on 8 float32, fwd + bwd", chain_gradserve,
                  chain_torch, baseline_name="torch CPU eager", target=at_most(0.5),
                  full={"n": 1000}, smoke={"n": 5}))

Two metrics exist.  ``time``: the worker times ``inner`` calls of the callable and reports seconds
per call (lower is better).  ``rate``: the callable measures itself (an HTTP load run) and returns
``{"value": requests_per_second, ...}`` (higher is better).  Either kind may return a dict with
extra facts (``{"extra": {...}}``) that land in the JSON results.  A returned object with a
``close()`` method is closed when its worker ends (servers, event loops).

Side functions must not import torch at module level, and gradserve's side must never import it
(the worker checks): torch is a benchmark-only dependency.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Params = dict[str, Any]
SideFn = Callable[[Params], Any]

GRADSERVE, BASELINE = "gradserve", "baseline"
SIDES = (GRADSERVE, BASELINE)


@dataclass(frozen=True)
class Target:
    """``ratio <op> value`` must hold; ``op`` is ``<=``, ``>=``, ``completes`` (no error) or
    ``info`` (a reference row: no target)."""

    op: str
    value: float = 0.0

    def holds(self, ratio: float | None) -> bool:
        if self.op in ("completes", "info"):
            return True
        if ratio is None:
            return False
        return ratio <= self.value if self.op == "<=" else ratio >= self.value

    def __str__(self) -> str:
        if self.op == "info":
            return "(reference)"
        return "completes" if self.op == "completes" else f"{self.op} {self.value:g}"


def at_most(value: float) -> Target:
    return Target("<=", value)


def at_least(value: float) -> Target:
    return Target(">=", value)


COMPLETES = Target("completes")
REFERENCE = Target("info")


@dataclass(frozen=True)
class Case:
    name: str
    title: str  # what is measured, one line (the table's case column)
    gradserve: SideFn
    baseline: SideFn
    baseline_name: str
    target: Target
    full: Params
    smoke: Params
    metric: str = "time"  # "time" (seconds per call, lower is better) or "rate" (per second, higher)
    inner: int = 1  # calls per timed repetition at full size (a repetition should last >= ~20 ms)
    reps: int = 7  # timed repetitions per side
    warmup: int = 2  # untimed repetitions per side first
    needs: str | None = None  # None, "service" (service.app importable) or "gpu"
    baseline_needs_torch: bool = True
    gradserve_label: str = "gradserve"  # what the gradserve column holds, when it is not plainly that
    env: dict[str, dict[str, str]] = field(default_factory=dict)  # side -> extra environment
    note: str = ""  # caveats for the README / JSON

    def side(self, which: str) -> SideFn:
        return self.gradserve if which == GRADSERVE else self.baseline

    def needs_torch(self, which: str) -> bool:
        return which == BASELINE and self.baseline_needs_torch


CASES: dict[str, Case] = {}


def register(case: Case) -> Case:
    if case.name in CASES:
        raise ValueError(f"benchmark case {case.name!r} registered twice")
    if case.metric not in ("time", "rate"):
        raise ValueError(f"case {case.name!r}: metric must be 'time' or 'rate'")
    CASES[case.name] = case
    return case


def load_cases() -> dict[str, Case]:
    """Import the case modules (each registers its cases) and return the registry, in order."""
    for module in ("bench.cases.engine_cases", "bench.cases.service_cases"):
        importlib.import_module(module)
    return CASES
