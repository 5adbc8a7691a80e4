"""Runs a validated program on the engine.

The program comes compiled (service/json_compiler.py, for a body read straight into that form; or
the compile cache) or is compiled first (service/compiler.py): into steps, closures that each
execute one statement (service/closures.py). ``Interpreter.run`` executes them define-by-run,
each given the interpreter, which holds the run's state and the checks they share (the tick, the
clock, the budgets, the errors' forms): names bind as they are assigned,
``while``/``if`` evaluate their conditions on live tensors, blocks switch grad mode, each argument
is read as its parameter kind says (service/param_kinds.py). Every statement executed and every
loop condition is a step; the step budget, the loop budget, the deadline (on the run's clock:
``time.monotonic``, or one a test holds) and cancellation are checked at each one. Errors carry
the pointer of the element that caused them, and ``run`` returns them in its :class:`RunReport`
with what the program did.

The caller (service/inline_policy.py) runs :meth:`Interpreter.run` on the event loop or in a
worker thread, inside a fresh ``contextvars`` context: the engine keeps grad mode, the random
generator and the allocation limits in context variables, so nothing here is shared between
requests.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import engine as ge
from engine import backend
from service import encoding, hints, inline_policy
from service.answer import build_answer
from service.closures import Array, Const, Expr, Obj, Site
from service.compiler import Program, compile_program
from service.encoding import EncodingError
from service.errors import ProgramError, limit_exceeded
from service.inline_policy import Preempted
from service.param_kinds import NOT_LITERAL, wrong_argument
from service.pointer import Path, pointer
from service.program import RunRequest
from service.settings import Settings
from service.values import Size, type_name

Clock = Callable[[], float]  # seconds, monotonic; time.monotonic unless a test holds it


@dataclass
class RunReport:
    """What one run of a program did, answered or failed: for the caller (the answer, or the
    error to raise) and for the metrics and the access log (service/observability.py)."""

    answer: dict[str, Any] | None  # for service/responses.py (tensor values Encoded)
    error: Exception | None  # a ProgramError, or a bug (any other exception: a 500)
    steps: int
    op_counts: dict[str, int]  # calls by op name
    allocated_elements: int

    @property
    def outcome(self) -> str:
        """``ok``, the problem kind of a failed program, or ``internal-error``."""
        if self.error is None:
            return "ok"
        return self.error.kind if isinstance(self.error, ProgramError) else "internal-error"

    def answer_or_raise(self) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        assert self.answer is not None
        return self.answer


@dataclass
class Interpreter:
    request: RunRequest
    settings: Settings
    # set when the client has gone (a run on a worker thread); None where nothing can cancel
    cancelled: threading.Event | None = None
    # inline: on the event loop, under the inline budget (service/inline_policy.py); Preempted
    # past it
    inline: bool = False
    clock: Clock = time.monotonic  # the deadline's and the inline budget's time
    env: dict[str, Any] = field(default_factory=dict)
    printed: list[str] = field(default_factory=list)
    steps: int = 0
    loop_iterations: int = 0
    # when the program must have ended (on the clock); None: request_timeout from its start
    deadline: float | None = None
    printed_chars: int = 0
    _deadline: float = 0.0
    _preempt_at: float = math.inf
    soonest: float = math.inf  # the earlier of the two: the clock's only test when all is well
    _max_steps: int = 0
    # settings.max_printed_chars, read once a run: a settings attribute is read through pydantic's
    # __getattr__, a lookup that never specializes (once a print otherwise)
    max_printed_chars: int = 0
    _ctx: Any = None  # the engine's ExecutionContext while running
    # calls by op name (/metrics); a defaultdict, not a Counter: made in C (a Counter's __init__
    # and its __missing__, at each op's first call, are Python frames: ~10 k instructions a run)
    op_counts: dict[str, int] = field(default_factory=partial(defaultdict, int))
    # detect_anomaly: the op each call's pointer names, for the anomaly report's "op"
    _ops_at: dict[str, str] = field(default_factory=dict)
    anomaly: bool = False  # the request's detect_anomaly
    # the compiled program: given (from the compile cache), else compiled by run(); shared
    # between runs, never changed
    program: Program | None = None
    program_cached: bool = False  # the given program came from the compile cache

    def run(self) -> RunReport:
        """Run the program: its answer, or the error it ended with, and what it did. Only
        Preempted leaves: an inline run that outgrew its budget did not finish, and runs again."""
        try:
            answer = self._run()
        except Preempted:
            raise
        except Exception as err:  # reported: the caller raises it (a bug's is a 500)
            return self._report(None, err)
        return self._report(answer, None)

    def _report(self, answer: dict[str, Any] | None, error: Exception | None) -> RunReport:
        allocated = self._ctx.allocated if self._ctx is not None else 0
        return RunReport(answer, error, self.steps, self.op_counts, allocated)

    def _run(self) -> dict[str, Any]:
        # (the request's and the settings' members each read once: pydantic's models have a
        # __getattr__, so a read of theirs is a lookup that never specializes)
        s, request = self.settings, self.request
        inputs = request.inputs
        started = self.clock()
        self._deadline = started + s.request_timeout if self.deadline is None else self.deadline
        cached = self.program_cached
        if self.program is None:
            assert request.program is not None  # (RunRequest holds one; a source became one)
            self.program = compile_program(request.program, s.max_nesting_depth)
        program = self.program
        if inputs is not None:
            _check_input_names(inputs, program)
        # The engine checks the deadline (and cancellation) inside long calls too: backward
        # passes, jacobians, functional steps.
        budget = inline_policy.budget(s, started, self.inline, self._deadline, self.clock)
        self._preempt_at = budget.preempt_at
        self.soonest = min(self._preempt_at, self._deadline)
        self._max_steps = s.max_steps
        self.max_printed_chars = s.max_printed_chars
        self.anomaly = anomaly = request.detect_anomaly
        try:
            # (ge.execution also keeps 0/0 and overflow silent, as torch does)
            with ge.execution(seed=request.seed, limits=budget.limits, detect_anomaly=anomaly,
                              cancelled=self.cancelled) as ctx, \
                    ge.set_grad_enabled(True):
                self._ctx = ctx
                if inputs:
                    self._bind_inputs(inputs)
                for step in program.body:
                    step(self)
                stats = {"steps": self.steps, "loop_iterations": self.loop_iterations,
                         "elapsed_s": round(self.clock() - started, 6),
                         "peak_alive_elements": ctx.peak, "allocated_elements": ctx.allocated,
                         "backend": backend.NAME, "device": backend.DEVICE,
                         "compile_cached": cached}
            return build_answer(self.env, request, self.printed, stats)
        except ProgramError as err:
            err.extra.setdefault("printed", self.printed)
            raise

    def _bind_inputs(self, inputs: dict[str, Any]) -> None:
        """Decode each input (within the run's element limits, before allocating) and bind it."""
        for name, given in inputs.items():
            path = ("inputs", name)
            if isinstance(given, list):
                self.env[name] = self.tensor(Array(given, path))
                continue
            tensor = self.tensor(Obj(given, path))
            if given.requires_grad:
                try:
                    tensor.requires_grad_(True)
                except ge.EngineError as err:
                    raise self.engine_error(err, (*path, "requires_grad")) from None
            self.env[name] = tensor

    # ----- what the compiled steps ask (service/closures.py) ---------------------------------
    def tick(self, path: Path) -> None:
        """A step: counted against the step budget; the clock and cancellation looked at."""
        self.steps += 1
        if self.steps > self._max_steps:
            self.charge(0, path)  # (raises: the step limit)
        # (the clock read as an attribute, then called: ``self.clock()`` looks the instance's
        # attribute up as a method would be, which never specializes -- a type lookup a step)
        clock = self.clock
        now = clock()
        if now > self.soonest:
            self.clock_passed(now, path)
        if self.cancelled is not None and self.cancelled.is_set():
            raise ProgramError("cancelled", "the client went away", pointer(path), status=499)

    def charge(self, n: int, path: Path) -> None:
        """Count ``n`` steps (a statement, or the backward passes a call is about to run)."""
        self.steps += n
        s = self.settings
        if self.steps > s.max_steps:
            raise limit_exceeded("max_steps", self.steps, s.max_steps,
                                 f"the program ran more than {s.max_steps} steps", pointer(path))

    def clock_passed(self, now: float, path: Path) -> None:
        """The clock passed ``soonest``: past the inline budget, Preempted; past the deadline,
        the request_timeout problem. (Looked at every statement and before every call, so that
        one statement with a wide expression cannot outrun the deadline by much; cancellation,
        which nobody waits for, only at statements.)"""
        if now > self._preempt_at:
            raise Preempted
        if now > self._deadline:
            s = self.settings
            elapsed = round(now - self._deadline + s.request_timeout, 3)
            raise limit_exceeded("request_timeout", elapsed, s.request_timeout,
                                 f"the program ran longer than {s.request_timeout} seconds",
                                 pointer(path))

    def engine_error(self, err: ge.EngineError, path: Path) -> Exception:
        """The ProgramError for an engine error at ``path``, or Preempted when an inline run
        trips the inline cap rather than a configured limit."""
        if self.inline and isinstance(err, ge.DeadlineExceeded) and \
                self.clock() <= self._deadline:
            return Preempted()  # the inline budget's time, not the program's, ran out
        if self.inline and isinstance(err, ge.LimitExceeded) and \
                inline_policy.outgrown(err, self.settings):
            return Preempted()
        return ProgramError.from_engine(err, pointer(path))

    def note_step(self, path: Path, op: str) -> None:
        """detect_anomaly: engine.anomaly's reports name the program step that recorded the
        offending node; the op its call named is kept for the report."""
        self._ctx.step = here = pointer(path)
        self._ops_at[here] = op

    def anomaly_error(self, err: ge.AnomalyError, path: Path) -> ProgramError:
        # the report also names the op, as the program called it, whose step made the node
        step = err.report.get("step")
        err.report = {"op": self._ops_at.get(step) if isinstance(step, str) else None,
                      **err.report}
        return ProgramError.from_engine(err, pointer(path))

    def loop_cap(self, max_iter: int | None) -> tuple[str, int]:
        """The limit a loop runs under: its own max_iter, or the settings' (the lower)."""
        s = self.settings
        if max_iter is not None and max_iter <= s.max_loop_iterations:
            return "max_iter", max_iter
        return "max_loop_iterations", s.max_loop_iterations

    def unpack(self, target: str | list[Any], value: Any, path: Path) -> None:
        """Bind ``value`` to a name, or unpack a tuple into a list of targets (nested lists
        unpack nested tuples, as Python's ``(a, b), (c, d) = value``)."""
        if isinstance(target, str):
            self.env[target] = value
            return
        if not isinstance(value, tuple) or isinstance(value, Size) or len(value) != len(target):
            got = f"{len(value)} values" if isinstance(value, tuple) else f"a {type_name(value)}"
            raise ProgramError("type-error", f"cannot unpack {got} into {len(target)} names",
                               pointer(path))
        for k, (t, v) in enumerate(zip(target, value, strict=True)):
            self.unpack(t, v, (*path, k))

    def unknown_name(self, name: str, path: Path) -> ProgramError:
        return ProgramError("unknown-name", hints.unknown_name(name, self.env), pointer(path),
                            name=name)

    def tensor(self, e: Array | Obj, dtype: str | None = None,
               resolve: encoding.Resolve | None = None) -> ge.Tensor:
        """Decode a literal or tensor object, refusing it before allocation if over the limits;
        ``resolve`` reads the names a literal may hold (torch.tensor's data)."""
        try:
            if isinstance(e, Array):
                return encoding.decode_literal(e.items, dtype, resolve)
            t = e.tensor
            return encoding.decode_object(t.shape, t.datatype, t.data, t.b64)
        except EncodingError as err:
            raise ProgramError("invalid-tensor", err.message, pointer((*e.path, *err.parts))) \
                from None
        except ge.EngineError as err:
            raise self.engine_error(err, e.path) from None

    def resolve_refs(self, c: Site) -> dict[str, Any]:
        """The attrs with each tensor name in an index replaced by its tensor (x[mask])."""
        attrs = dict(c.attrs)
        for key, j, name in c.refs:
            where = (*c.path, "attrs", key) if c.attrs_path is None else c.attrs_path
            path = where if j is None else (*where, j)
            v = self.lookup(name, path)
            # a tensor (x[mask]) or a Python int bound to the name (x[i] in a loop over range)
            if not isinstance(v, (ge.Tensor, int)):
                raise wrong_argument(c, key, v, "an index of ints, slices, arrays or tensors", path)
            if j is None:
                attrs[key] = v
            else:
                attrs[key] = [*attrs[key][:j], v, *attrs[key][j + 1:]]
        return attrs

    # ----- what the kinds' readers ask (service.param_kinds.Evaluator) -------------------------
    def literal(self, e: Expr) -> Any:
        if type(e) is Array:
            return e.items
        if type(e) is Const:
            return e.value
        return NOT_LITERAL

    def decode(self, items: Any, path: Path, dtype: str | None = None,
               resolve: encoding.Resolve | None = None) -> ge.Tensor:
        return self.tensor(Array(items, path), dtype, resolve)

    def lookup(self, name: str, path: Path) -> Any:
        try:
            return self.env[name]
        except KeyError:
            raise self.unknown_name(name, path) from None


def _check_input_names(inputs: dict[str, Any], program: Program) -> None:
    """Every input names a name the program reads and never assigns, and every such name is
    given: otherwise the problem, about /inputs."""
    free_names = program.free_names
    for name in inputs:
        if name not in free_names:
            raise program.not_an_input(name, pointer(("inputs", name)))
    for name, where in free_names.items():
        if name not in inputs:
            raise ProgramError("unknown-name", f"inputs does not give {name!r}, which the "
                               f"program reads (at {where}) and never assigns",
                               pointer(("inputs",)), name=name)
