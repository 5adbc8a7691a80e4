"""The per-execution context: random generator, size limits and anomaly detection.

A program (one HTTP request) runs inside ``with execution(...)``; the context is held in a
ContextVar, so concurrent programs never share a generator, a counter or a flag.  Outside any
execution context the engine has no limits and random ops use a fresh unseeded generator.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from engine.backend import Generator, quiet
from engine.errors import LimitExceeded


@dataclass
class Limits:
    max_tensor_elements: int | None = None  # elements in any one tensor
    max_alive_elements: int | None = None  # elements held by all live tensors of the program


class ExecutionContext:
    __slots__ = ("generator", "limits", "alive", "peak", "detect_anomaly", "allocated", "step",
                 "in_backward")

    def __init__(self, seed: int | None = None, limits: Limits | None = None,
                 detect_anomaly: bool = False) -> None:
        self.generator = Generator(seed)
        self.limits = limits or Limits()
        self.alive = 0  # elements currently held by tensors created in this context
        self.peak = 0
        self.allocated = 0  # elements allocated in total (a statistic)
        self.detect_anomaly = detect_anomaly
        self.step: str | None = None  # where the caller is in its program (a JSON pointer)
        self.in_backward = False  # the ops a backward pass runs are checked as its gradients

    def check_alloc(self, numel: int, what: str = "tensor") -> None:
        """Refuse an allocation of ``numel`` elements before it happens."""
        lim = self.limits
        if lim.max_tensor_elements is not None and numel > lim.max_tensor_elements:
            raise LimitExceeded(
                "max_tensor_elements", numel, lim.max_tensor_elements,
                f"a {what} of {numel} elements exceeds the limit of {lim.max_tensor_elements} "
                "elements per tensor",
            )
        if lim.max_alive_elements is not None and self.alive + numel > lim.max_alive_elements:
            raise LimitExceeded(
                "max_alive_elements", self.alive + numel, lim.max_alive_elements,
                f"allocating {numel} more elements would hold {self.alive + numel} elements alive, "
                f"over the limit of {lim.max_alive_elements}",
            )

    def admit(self, numel: int) -> None:
        self.alive += numel
        self.allocated += numel
        if self.alive > self.peak:
            self.peak = self.alive


_current: ContextVar[ExecutionContext | None] = ContextVar("gradserve_execution", default=None)
current = _current.get


@contextmanager
def execution(seed: int | None = None, limits: Limits | None = None,
              detect_anomaly: bool = False) -> Iterator[ExecutionContext]:
    ctx = ExecutionContext(seed, limits, detect_anomaly)
    token = _current.set(ctx)
    try:
        with quiet():
            yield ctx
    finally:
        _current.reset(token)


def generator() -> Generator:
    ctx = _current.get()
    return ctx.generator if ctx is not None else Generator(None)


def check_shape(shape: Sequence[int], what: str = "tensor") -> None:
    """Check that a tensor of ``shape`` may be allocated in the current context."""
    ctx = _current.get()
    if ctx is not None:
        ctx.check_alloc(math.prod(shape), what)
