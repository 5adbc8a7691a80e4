"""Runs a validated program on the engine.

The program is first compiled (service/compiler.py) into plain nodes that know their JSON pointer.
``Interpreter.run`` then executes them define-by-run: names bind as they are assigned,
``while``/``if`` evaluate their conditions on live tensors, blocks switch grad mode. Every
statement executed and every loop condition is a step; the step budget, the loop budget, the
wall-clock deadline and cancellation are checked at each one. Errors leave with the pointer of the
element that caused them.

The caller runs :meth:`Interpreter.run` in a worker thread inside a fresh ``contextvars`` context:
the engine keeps grad mode, the random generator and the allocation limits in context variables,
so nothing here is shared between requests.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import engine as ge
from engine import backend
from service import encoding
from service.answer import build_answer
from service.compiler import (
    Array,
    Block,
    Call,
    Const,
    Expr,
    If,
    Obj,
    Print,
    Ref,
    Stmt,
    While,
    compile_program,
)
from service.encoding import EncodingError
from service.errors import InternalError, ProgramError, limit_exceeded
from service.executor import Preempted
from service.pointer import Path, pointer
from service.printing import print_line
from service.program import RunRequest
from service.settings import Settings
from service.values import Size


# ----- run --------------------------------------------------------------------------------------
def _type_name(v: Any) -> str:
    if isinstance(v, ge.Node):
        return v.name()
    if isinstance(v, Size):
        return "torch.Size"
    return type(v).__name__


@dataclass
class Interpreter:
    request: RunRequest
    settings: Settings
    cancelled: threading.Event = field(default_factory=threading.Event)
    # inline: on the event loop, under the inline budget (service/executor.py); Preempted past it
    inline: bool = False
    env: dict[str, Any] = field(default_factory=dict)
    printed: list[str] = field(default_factory=list)
    steps: int = 0
    loop_iterations: int = 0
    _printed_chars: int = 0
    _deadline: float = 0.0
    _preempt_at: float = math.inf
    _ctx: Any = None  # the engine's ExecutionContext while running
    op_counts: Counter[str] = field(default_factory=Counter)  # calls by op name (/metrics)
    # detect_anomaly: the op each call's pointer names, for the anomaly report's "op"
    _ops_at: dict[str, str] = field(default_factory=dict)

    def run(self) -> dict[str, Any]:
        """Run the program; the answer as a dict for service/responses.py (tensor values Encoded)."""
        s = self.settings
        started = time.monotonic()
        self._deadline = started + s.request_timeout
        program = compile_program(self.request, s.max_nesting_depth)
        # The engine checks the deadline (and cancellation) inside long calls: backward passes,
        # jacobians, functional steps.
        limits = ge.Limits(max_tensor_elements=s.max_tensor_elements,
                           max_alive_elements=s.max_alive_elements,
                           deadline=self._deadline, timeout=s.request_timeout)
        if self.inline:
            # Inline, the engine's own limits are lowered to the inline budget; tripping one of
            # those (and not a configured limit) means "too big for the loop", not an error.
            self._preempt_at = started + s.inline_budget_ms / 1000
            cap = s.inline_max_elements
            limits = ge.Limits(max_tensor_elements=min(cap, s.max_tensor_elements),
                               max_alive_elements=min(cap, s.max_alive_elements),
                               deadline=min(self._deadline, self._preempt_at),
                               timeout=s.request_timeout)
        try:
            # (ge.execution also keeps 0/0 and overflow silent, as torch does)
            with ge.execution(seed=self.request.seed, limits=limits,
                              detect_anomaly=self.request.detect_anomaly,
                              cancelled=self.cancelled) as ctx, \
                    ge.set_grad_enabled(True):
                self._ctx = ctx
                self._block(program)
                stats = {"steps": self.steps, "loop_iterations": self.loop_iterations,
                         "elapsed_s": round(time.monotonic() - started, 6),
                         "peak_alive_elements": ctx.peak, "allocated_elements": ctx.allocated,
                         "backend": backend.NAME, "device": backend.DEVICE}
            return build_answer(self.env, self.request, self.printed, stats)
        except ProgramError as err:
            err.extra.setdefault("printed", self.printed)
            raise

    # ----- statements -------------------------------------------------------------------------
    def _tick(self, path: Path) -> None:
        self._charge(1, path)
        self._check_clock(path)
        if self.cancelled.is_set():
            raise ProgramError("cancelled", "the client went away", pointer(path), status=499)

    def _charge(self, n: int, path: Path) -> None:
        """Count ``n`` steps (a statement, or the backward passes a call is about to run)."""
        self.steps += n
        s = self.settings
        if self.steps > s.max_steps:
            raise limit_exceeded("max_steps", self.steps, s.max_steps,
                                 f"the program ran more than {s.max_steps} steps", pointer(path))

    def _check_clock(self, path: Path) -> None:
        """The deadline, and the inline budget. Checked at every statement and before every call,
        so that one statement with a wide expression cannot outrun the deadline by much
        (cancellation, which nobody waits for, only at statements)."""
        now = time.monotonic()
        if now > self._preempt_at:
            raise Preempted
        if now > self._deadline:
            s = self.settings
            elapsed = round(now - self._deadline + s.request_timeout, 3)
            raise limit_exceeded("request_timeout", elapsed, s.request_timeout,
                                 f"the program ran longer than {s.request_timeout} seconds",
                                 pointer(path))

    def _engine_error(self, err: ge.EngineError, path: Path) -> Exception:
        """The ProgramError for an engine error at ``path``, or Preempted when an inline run
        trips the lowered limit rather than the configured one."""
        if self.inline and isinstance(err, ge.DeadlineExceeded) and \
                time.monotonic() <= self._deadline:
            return Preempted()  # the inline budget's time, not the program's, ran out
        if self.inline and isinstance(err, ge.LimitExceeded):
            s = self.settings
            configured = {"max_tensor_elements": s.max_tensor_elements,
                          "max_alive_elements": s.max_alive_elements}.get(err.limit)
            if configured is not None and err.maximum < configured:
                return Preempted()
        return ProgramError.from_engine(err, pointer(path))

    def _block(self, stmts: list[Stmt]) -> None:
        for st in stmts:
            self._statement(st)

    def _statement(self, st: Stmt) -> None:
        self._tick(st.path)
        if type(st) is Call:
            self._bind(st, self._call(st))
        elif type(st) is Print:
            self._print(st)
        elif type(st) is While:
            self._while(st)
        elif isinstance(st, If):
            self._block(st.then if self._truth(st.cond) else st.orelse)
        elif isinstance(st, Block):
            with ge.set_grad_enabled(st.grad_enabled):
                self._block(st.body)

    def _while(self, st: While) -> None:
        s = self.settings
        limit, cap = ("max_loop_iterations", s.max_loop_iterations)
        if st.max_iter is not None and st.max_iter <= cap:
            limit, cap = "max_iter", st.max_iter
        n = 0
        while self._truth(st.cond):
            n += 1
            if n > cap:
                where = (*st.path, "max_iter") if limit == "max_iter" else st.path
                raise limit_exceeded(limit, n, cap, f"the while loop did not end within {cap} "
                                     "iterations", pointer(where))
            self.loop_iterations += 1
            self._block(st.body)
            self._tick(st.path)  # each further check of the condition is a step

    def _print(self, st: Print) -> None:
        line = print_line([self._eval(e) for e in st.values])
        self._printed_chars += len(line) + 1
        cap = self.settings.max_printed_chars
        if self._printed_chars > cap:
            raise limit_exceeded("max_printed_chars", self._printed_chars, cap,
                                 f"print statements produced more than {cap} characters",
                                 pointer(st.path))
        self.printed.append(line)

    def _bind(self, st: Call, value: Any) -> None:
        if st.bind is not None:
            self._unpack(st.bind, value, (*st.path, "name"))

    def _unpack(self, target: str | list[Any], value: Any, path: Path) -> None:
        """Bind ``value`` to a name, or unpack a tuple into a list of targets (nested lists
        unpack nested tuples, as Python's ``(a, b), (c, d) = value``)."""
        if isinstance(target, str):
            self.env[target] = value
            return
        if not isinstance(value, tuple) or isinstance(value, Size) or len(value) != len(target):
            got = f"{len(value)} values" if isinstance(value, tuple) else f"a {_type_name(value)}"
            raise ProgramError("type-error", f"cannot unpack {got} into {len(target)} names",
                               pointer(path))
        for k, (t, v) in enumerate(zip(target, value, strict=True)):
            self._unpack(t, v, (*path, k))

    def _truth(self, e: Expr) -> bool:
        v = self._eval(e)
        if isinstance(v, ge.Tensor):
            if v.numel() != 1:
                raise ProgramError("type-error", "Boolean value of Tensor with more than one "
                                   "value is ambiguous", pointer(e.path))
            return bool(v.item())
        return bool(v)

    # ----- expressions ------------------------------------------------------------------------
    def _eval(self, e: Expr) -> Any:
        # exact types (the compiled nodes are never subclassed), most frequent first
        if type(e) is Ref:
            try:
                return self.env[e.name]
            except KeyError:
                raise ProgramError("unknown-name", f"name {e.name!r} is not defined",
                                   pointer(e.path), name=e.name) from None
        if type(e) is Call:
            return self._call(e)
        if type(e) is Const:
            return e.value
        return self._tensor(e)  # type: ignore[arg-type]  # (an Array or an Obj: what is left)

    def _tensor(self, e: Array | Obj, dtype: str | None = None) -> ge.Tensor:
        """Decode a literal or tensor object, refusing it before allocation if over the limits."""
        try:
            if isinstance(e, Array):
                return encoding.decode_literal(e.items, dtype)
            t = e.tensor
            return encoding.decode_object(t.shape, t.datatype, t.data, t.b64)
        except EncodingError as err:
            raise ProgramError("invalid-tensor", err.message, pointer((*e.path, *err.parts))) \
                from None
        except ge.EngineError as err:
            raise self._engine_error(err, e.path) from None

    def _call(self, c: Call) -> Any:
        self._check_clock(c.path)
        values: list[Any] = []
        for i, e in enumerate(c.args):
            values.append(self._input(c, i, e, values))
        attrs = self._resolve_refs(c) if c.refs else c.attrs
        b = c.sig.builtin
        if b is not None and b.cost is not None:
            self._charge(b.cost(*values), c.path)
        if self.request.detect_anomaly:
            # engine.anomaly's reports name the program step that recorded the offending node
            self._ctx.step = here = pointer(c.path)
            self._ops_at[here] = c.sig.name
        self.op_counts[c.sig.name] += 1
        try:
            return c.sig.call(values, attrs)
        except ge.AnomalyError as err:
            # the report also names the op, as the program called it, whose step made the node
            step = err.report.get("step")
            err.report = {"op": self._ops_at.get(step) if isinstance(step, str) else None,
                          **err.report}
            raise ProgramError.from_engine(err, pointer(c.path)) from None
        except ge.EngineError as err:
            raise self._engine_error(err, c.path) from None
        except ProgramError as err:
            err.pointer = err.pointer or pointer(c.path)
            raise
        except Preempted:
            raise
        except Exception as exc:  # anything else escaping the engine is a bug: a 500 saying where
            raise InternalError(pointer(c.path)) from exc

    def _resolve_refs(self, c: Call) -> dict[str, Any]:
        """The attrs with each tensor name in an index replaced by its tensor (x[mask])."""
        attrs = dict(c.attrs)
        for key, j, name in c.refs:
            path = (*c.path, "attrs", key) if j is None else (*c.path, "attrs", key, j)
            v = self._eval(Ref(name, path))
            if not isinstance(v, ge.Tensor):
                raise self._wrong(c, key, v, "an index of ints, slices, arrays or tensors", path)
            if j is None:
                attrs[key] = v
            else:
                attrs[key] = [*attrs[key][:j], v, *attrs[key][j + 1:]]
        return attrs

    def _input(self, c: Call, i: int, e: Expr, before: list[Any]) -> Any:
        """Evaluate argument ``i`` of ``c`` (``before``: the values of the arguments before it)
        and check it is what the input's kind takes."""
        spec = c.sig.inputs[i]
        kind = spec.kind
        path = e.path
        if kind == "tensor_or_tensors":
            return self._tensor_or_tensors(c, spec, e, path, before)
        if kind == "data" and isinstance(e, (Array, Const)):
            # torch.tensor's data is decoded straight into the requested dtype (0.1 as float64
            # must not pass through float32 first).
            items = e.items if isinstance(e, Array) else e.value
            if items is None:
                raise self._wrong(c, spec.name, None, "an array, a number or a tensor", path)
            return self._tensor(Array(items, path), c.attrs.get("dtype"))
        if kind == "tensors" and isinstance(e, Array):
            return [self._element(c, spec, item, (*e.path, j)) for j, item in enumerate(e.items)]
        v = self._eval(e)
        if v is None and spec.nullable:
            return None
        if kind in ("tensor", "data"):
            if not isinstance(v, ge.Tensor):
                raise self._wrong(c, spec.name, v, "Tensor", path)
        elif kind == "operand":
            if not isinstance(v, (ge.Tensor, bool, int, float)):
                raise self._wrong(c, spec.name, v, "Tensor or Number", path)
        elif kind == "node":
            if not isinstance(v, ge.Node):
                raise self._wrong(c, spec.name, v, "a grad_fn node", path)
        elif kind == "tensors":
            if isinstance(v, ge.Tensor):
                return [v]
            if not isinstance(v, tuple) or isinstance(v, Size) or not all(
                    isinstance(x, ge.Tensor) or (x is None and spec.nullable) for x in v):
                raise self._wrong(c, spec.name, v, "a tensor or an array of tensors", path)
            return list(v)
        return v

    def _tensor_or_tensors(self, c: Call, spec: Any, e: Expr, path: Path, before: list[Any]
                           ) -> Any:
        """torch.autograd.functional's "Tensor or tuple of Tensors": an array (or a tuple value)
        gives a tuple, anything else one tensor. With ``spec.like`` (v, shaped like the inputs),
        an array is a tuple only where that earlier input is one, and a tensor literal
        otherwise."""
        many = True
        if spec.like is not None:
            j = next(k for k, s in enumerate(c.sig.inputs) if s.name == spec.like)
            many = j < len(before) and isinstance(before[j], tuple)
        if isinstance(e, Array):
            if not many:
                return self._tensor(e)
            return tuple(self._element(c, spec, item, (*e.path, k))
                         for k, item in enumerate(e.items))
        v = self._eval(e)
        if v is None and spec.nullable:
            return None
        if isinstance(v, ge.Tensor):
            return v
        if isinstance(v, tuple) and not isinstance(v, Size) and v and all(
                isinstance(x, ge.Tensor) for x in v):
            return tuple(v)
        raise self._wrong(c, spec.name, v, "a tensor or an array of tensors", path)

    def _element(self, c: Call, spec: Any, item: Any, path: Path) -> ge.Tensor | None:
        """One element of an array given for a ``tensors`` input: a name, a literal or null."""
        if isinstance(item, list):
            return self._tensor(Array(item, path))
        if item is None and spec.nullable:
            return None
        if isinstance(item, str) and item not in encoding.NONFINITE:
            v = self._eval(Ref(item, path))
            if isinstance(v, ge.Tensor):
                return v
        else:
            v = item
        raise self._wrong(c, spec.name, v, "an array of tensors", path)

    @staticmethod
    def _wrong(c: Call, arg: str, v: Any, expected: str, path: Path) -> ProgramError:
        return ProgramError("type-error", f"{c.sig.name}(): argument '{arg}' must be {expected}, "
                            f"not {_type_name(v)}", pointer(path))
