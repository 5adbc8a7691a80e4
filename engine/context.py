"""The per-execution context: random generator, size limits, the deadline and anomaly detection.

A program (one HTTP request) runs inside ``with execution(...)``; the context is held in a
ContextVar, so concurrent programs never share a generator, a counter or a flag.  Outside any
execution context the engine has no limits and random ops use a fresh unseeded generator.

Every tensor made in a context is charged to it when it is made (:meth:`ExecutionContext.admit`)
and released when it goes, so ``alive`` counts every element a program holds: results, tensors the
graph saved for backward, gradients. ``admit`` is also where long work is interrupted: every op,
every backward node and every step of a jacobian makes tensors, so looking at the clock there
bounds how far past its deadline (or past its client's departure) any program runs to about one
op.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from time import monotonic
from typing import Any

from engine.backend import Generator, quiet
from engine.errors import Cancelled, DeadlineExceeded, LimitExceeded, ShapeError

# How often (seconds) a running program looks at its cancellation flag: the clock is read at
# every tensor made, the flag (another thread sets it) only this often.
POLL_INTERVAL = 0.05


@dataclass
class Limits:
    max_tensor_elements: int | None = None  # elements in any one tensor
    max_alive_elements: int | None = None  # elements held by all live tensors of the program
    deadline: float | None = None  # time.monotonic() past which the program stops
    timeout: float | None = None  # the seconds that deadline allows (for the message)
    # the clock ``deadline`` is on (the service injects its own, so tests control every deadline)
    clock: Callable[[], float] | None = None  # None: time.monotonic


class ExecutionContext:
    __slots__ = ("generator", "limits", "alive", "peak", "detect_anomaly", "allocated", "step",
                 "in_backward", "_max_alive", "_wake_at", "cancelled", "clock")

    def __init__(self, seed: int | None = None, limits: Limits | None = None,
                 detect_anomaly: bool = False, cancelled: threading.Event | None = None) -> None:
        self.generator = Generator(seed)
        self.limits = lim = limits or Limits()
        self.alive = 0  # elements currently held by tensors created in this context
        self.peak = 0
        self.allocated = 0  # elements allocated in total (a statistic)
        self.detect_anomaly = detect_anomaly
        self.step: str | None = None  # where the caller is in its program (a JSON pointer)
        self.in_backward = False  # the ops a backward pass runs are checked as its gradients
        self.cancelled = cancelled  # set by another thread when nobody waits for the answer
        self.clock = lim.clock or monotonic  # the clock ``lim.deadline`` is on
        self._max_alive = math.inf if lim.max_alive_elements is None else lim.max_alive_elements
        # admit() calls wake() once the clock passes this: the deadline, or the next poll of
        # ``cancelled``
        self._wake_at = math.inf
        if cancelled is not None or lim.deadline is not None:
            self._wake_at = -math.inf  # (the first tensor made sets the real time)

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
        """Charge a tensor of ``numel`` elements that was just made (every tensor is charged, so
        ``alive`` is a real bound even where no op checked before allocating); and stop the
        program here if its time is up or its client has gone."""
        alive = self.alive + numel
        if alive > self._max_alive:
            self.check_alloc(numel)  # (raises, with the message)
        self.alive = alive
        self.allocated += numel
        if alive > self.peak:
            self.peak = alive
        now = self.clock()
        if now > self._wake_at:
            self.wake(now)

    def release(self, numel: int) -> None:
        self.alive -= numel

    def wake(self, now: float | None = None) -> None:
        """Stop the program if it is past its deadline or cancelled; else note when to look
        again. Cheap enough for any loop that makes no tensors to call every few thousand
        iterations (the backward pass's graph walk does)."""
        if now is None:
            now = self.clock()
        if now < self._wake_at:
            return
        lim = self.limits
        if self.cancelled is not None and self.cancelled.is_set():
            raise Cancelled("the client went away while its program ran")
        if lim.deadline is not None and now > lim.deadline:
            timeout = lim.timeout if lim.timeout is not None else 0.0
            raise DeadlineExceeded(
                "request_timeout", round(now - lim.deadline + timeout, 3), timeout,
                f"the program ran longer than {timeout} seconds")
        deadline = math.inf if lim.deadline is None else lim.deadline
        self._wake_at = min(deadline, now + POLL_INTERVAL) if self.cancelled is not None \
            else deadline


class Charge:
    """Elements a graph node holds for its context after the tensor they were charged to has gone
    (an output saved for backward, see Tensor.__del__): given back when the node frees them or
    goes."""

    __slots__ = ("ctx", "numel")

    def __init__(self, ctx: ExecutionContext, numel: int) -> None:
        self.ctx = ctx
        self.numel = numel

    def __del__(self) -> None:
        self.ctx.alive -= self.numel


_current: ContextVar[ExecutionContext | None] = ContextVar("gradserve_execution", default=None)
current = _current.get


class execution:  # noqa: N801 (a function's name: it was one, and is called as one)
    """``with execution(seed, limits, ...) as ctx``: run the block in a new ExecutionContext,
    with floating-point errors silent (backend.quiet), as torch computes.

    A class, not a ``@contextmanager`` generator: every request enters one, and a generator's
    context manager costs an object with a frame, its generator and two resumptions."""

    __slots__ = ("ctx", "_token", "_quiet")

    def __init__(self, seed: int | None = None, limits: Limits | None = None,
                 detect_anomaly: bool = False, cancelled: threading.Event | None = None) -> None:
        self.ctx = ExecutionContext(seed, limits, detect_anomaly, cancelled)

    def __enter__(self) -> ExecutionContext:
        self._token = _current.set(self.ctx)
        try:
            self._quiet = q = quiet()
            q.__enter__()
        except BaseException:
            _current.reset(self._token)
            raise
        return self.ctx

    def __exit__(self, *exc: Any) -> None:
        try:
            self._quiet.__exit__(*exc)
        finally:
            _current.reset(self._token)


def generator() -> Generator:
    ctx = _current.get()
    return ctx.generator if ctx is not None else Generator(None)


def wake() -> None:
    """For a long loop that makes no tensors: stop here if the program's time is up."""
    ctx = _current.get()
    if ctx is not None:
        now = ctx.clock()
        if now > ctx._wake_at:
            ctx.wake(now)


_INT64_MAX = 2**63 - 1
_U64 = 2**64


def check_representable(shape: Sequence[int], itemsize: int = 8) -> int:
    """The element count of ``shape``, refusing a shape no array can have: torch's overflow
    check (its message), then the backend's own bound, which torch does not have: numpy and CuPy
    refuse an array whose non-zero sizes multiply to more bytes than an int64 holds, even when
    another size is 0 (torch's empty [2**62, 0] float tensor)."""
    n = 1
    overflowed = False
    for s in shape:  # (torch multiplies left to right in 64 bits, a 0 after an overflow too)
        n *= int(s)
        if n >= _U64:
            overflowed = True
    if overflowed or n * itemsize > _INT64_MAX:
        raise ShapeError(f"Storage size calculation overflowed with sizes=[{', '.join(map(str, shape))}]")
    if n == 0:
        span = math.prod(int(s) for s in shape if s)
        if span * itemsize > _INT64_MAX:
            raise ShapeError(
                f"a tensor of shape [{', '.join(map(str, shape))}] cannot be made here: its "
                f"non-zero sizes multiply to {span}, and this backend's arrays (unlike torch's) "
                f"cannot pass {_INT64_MAX // itemsize} along their non-zero sizes, even when "
                "another size is 0")
    return n


def check_shape(shape: Sequence[int], what: str = "tensor", itemsize: int = 8) -> None:
    """Check that a tensor of ``shape`` can exist and may be allocated in the current context."""
    n = check_representable(shape, itemsize)
    ctx = _current.get()
    if ctx is not None:
        ctx.check_alloc(n, what)
