"""POST /v1/run: run one program."""

from __future__ import annotations

import threading
from contextlib import suppress
from functools import partial
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from service import allocator, inline_policy, problems
from service.base64_lift import LIFT_FROM, lift
from service.compile_cache import Found, find_json, find_source, find_text, program_text
from service.deps import shared_of
from service.errors import ProgramError
from service.interpreter import Interpreter
from service.json_compiler import read_request
from service.jsonbody import (
    ProgramRoute,
    client_gone,
    deeper_than,
    max_json_depth,
    parse,
    parse_unchecked,
    prepared,
    read_body,
    same_members,
)
from service.observability import program_finished
from service.program import RunRequest, RunResponse, note, noted
from service.responses import PiecesResponse, dumps_pieces
from service.source.request import about_source, program_request


class RunRoute(ProgramRoute):
    """ProgramRoute (the body measured for depth, parsed strictly, and the endpoint called
    without FastAPI's dependency solving), whose program is taken from the app's compile cache
    when it was compiled before (only the rest of the body is validated then), else validated
    straight into its compiled form where service/json_compiler.py takes it, else by the
    request models (which then say what is wrong, if anything). A large body is prepared on the
    worker that runs its program (``prepares_on_worker``)."""

    prepares_on_worker = True

    def prepare(self, body: bytes, state: Any) -> Any:
        # A body's long base64 texts are read from its bytes, not by the parser
        # (service/base64_lift.py); any doubt, and any problem, goes the general way, which
        # answers it as it always has. (Only texts longer than any program the compile cache
        # keeps: a cached program never holds the body's bytes.) A body shorter than the
        # shortest text lifted has none, and is not looked at: the usual body, on every
        # request's path (no lift call, no look-up of the cache's bound in the app's Shared).
        if len(body) < LIFT_FROM:
            value = self._prepare_found(body, state)
            if value is None:
                value = self._prepare_counted(body, state)
            return value if value is not None else super().prepare(body, state)
        lifted = lift(body, max(LIFT_FROM, state.programs.longest_json))
        if lifted is not None:
            with suppress(ProgramError, RequestValidationError):
                document = lifted.place(read_body(lifted.body, state.settings.max_nesting_depth))
                if document is not None:
                    return self.validate_body(document, state, len(body))
        return super().prepare(body, state)

    def _prepare_found(self, body: bytes, state: Any) -> Any:
        """The general path's value for a body whose program the compile cache holds under the
        program's own text, found in the body's bytes (service/compile_cache.py find_text), or
        None (then the counted read, or the general path, answers as it always has).

        The program's text came whole, within the depth limit and compiled in another body, so
        the body is what its rest is, with that program: the rest (the body with ``[]`` in the
        program's place: its inputs, a few hundred bytes) is measured and parsed strictly, and
        validated as a cached program's body always is. Any problem of the rest's parse goes the
        general way, whose detail and place are about the whole body."""
        found = find_text(state.programs, body)
        if found is None:
            return None
        found_program, rest = found
        if deeper_than(rest, max_json_depth(state.settings.max_nesting_depth)):
            return None
        try:
            document = parse(rest)
        except ProgramError:
            return None
        if type(document) is not dict or document.get("program") != [] or "source" in document:
            return None  # (as find_json: a source beside a program is the models' to refuse)
        return self._validate_found(document, state, len(body), found_program)

    def _prepare_counted(self, body: bytes, state: Any) -> Any:
        """The general path's value for a body with a JSON program, reached with less work, or
        None (then the general path answers, problems included, as it always has).

        The general path measures the body's depth from its bytes, then parses it looking for
        keys given twice; half of a cached request's reading went there. Here jiter parses
        without that look, and the body's members (its colons outside strings) are counted
        instead: a key given twice is a member the document lacks. And a program found in the
        compile cache came in a body within the depth limit (the same process, the same
        settings), so only the rest of the body can be too deep, and its depth is read from
        the few bytes of it alone."""
        try:
            document = parse_unchecked(body)
        except ValueError:
            return None
        found = find_json(state.programs, document, len(body))
        if found is None:
            return None
        try:
            rest = orjson.dumps({k: v for k, v in document.items() if k != "program"})
        except orjson.JSONEncodeError:  # (an integer past 64 bits: the models refuse it)
            return None
        # (found.key: the program's canonical JSON; 1: the program's own member)
        if not same_members(body, (found.key, rest), 1):
            return None  # a key twice in an object
        if deeper_than(rest if found.program is not None else body,
                       max_json_depth(state.settings.max_nesting_depth)):
            return None
        if found.program is None:  # compiled afresh: kept under its text too (_prepare_found)
            found.text = program_text(body)
        return self._validate_found(document, state, len(body), found)

    def validate_body(self, document: Any, state: Any, size: int | None = None) -> Any:
        return self._validate_found(document, state, size,
                                    find_json(state.programs, document, size))

    def _validate_found(self, document: Any, state: Any, size: int | None,
                        found: Found | None) -> Any:
        body: Any
        if found is not None and found.program is not None:
            if len(document) == 1:  # only the program: the rest of the request is its defaults
                body = _DEFAULTS.model_copy(update={"program": []})
            else:
                body = super().validate_body({**document, "program": []}, state, size)
        else:
            body = read_request(document, state.settings.max_nesting_depth)
            if body is None:
                body = super().validate_body(document, state, size)
        note(body, "found", found)
        return body


# A request of a program alone, validated: what such a body is once its program is found in the
# compile cache (a copy per request: each notes its own found)
_DEFAULTS = RunRequest.model_validate({"program": []})

router = APIRouter(tags=["run"], route_class=RunRoute)


@router.post(
    "/v1/run", response_model=RunResponse, responses=problems.responses(400, 413, 415, 422, 500, 503),
    summary="Run an autograd program",
    description="Runs the statements in order on the engine (or, with source instead of "
    "program, the PyTorch code translated to them) and answers with the output tensors "
    "(values, grad_fn, grad), the grad_fn graph reachable from them, what print statements "
    "wrote (in torch's text) and run statistics. Non-finite numbers travel as the strings "
    '"NaN", "Infinity" and "-Infinity".',
)
async def run(body: RunRequest, request: Request) -> Response:
    # (called by ProgramRoute without FastAPI's dependency solving: service/deps.py)
    shared = shared_of(request)
    settings, runner, clock = shared.settings, shared.runner, shared.clock
    # The deadline runs from here: time spent waiting for a thread (and, for a large body,
    # parsing and validating it there) counts toward it.
    deadline = clock() + settings.request_timeout

    def work(cancelled: threading.Event | None, inline: bool) -> list[bytes]:
        # (Preempted leaves run(): the program did not finish, and is counted where it does)
        # A large body comes Unprepared (ProgramRoute): parsed and validated here, on the worker
        # (always a thread: inline_policy never runs such a body inline); its problems raise.
        request_body = prepared(body)
        program, translation = request_body, None
        if request_body.source is not None:  # translated here too: long sources stay off the loop
            program, translation = program_request(request_body, settings, shared.translations)
        programs = shared.programs
        found = noted(request_body, "found") if translation is None else \
            find_source(programs, request_body, translation)
        cached = found.program if found is not None else None
        # (a program validated straight into its compiled form comes compiled: RunRoute)
        interpreter = Interpreter(program, settings, cancelled, inline=inline, clock=clock,
                                  deadline=deadline,
                                  program=cached or noted(request_body, "compiled"),
                                  program_cached=cached is not None)
        report = interpreter.run()
        if found is not None and cached is None and interpreter.program is not None:
            programs.keep(found, interpreter.program)
        try:
            # Serialising in the worker thread too keeps large answers off the event loop.
            return dumps_pieces(report.answer_or_raise())
        except ProgramError as err:
            if translation is not None:  # a problem of the translated program: about the source
                raise about_source(err, translation) from None
            raise
        except Exception as err:
            report.error = report.error or err  # failing to serialise an answer: a bug
            raise
        finally:
            program_finished(request.state, report)
            threshold = settings.trim_after_elements
            if threshold and report.allocated_elements >= threshold:
                interpreter.env.clear()  # its tensors go before the heap is trimmed
                allocator.trim()

    gone = partial(client_gone, request)
    return PiecesResponse(await inline_policy.run(
        runner, settings, work, gone, body_bytes=len(await request.body()), deadline=deadline,
        clock=clock))
