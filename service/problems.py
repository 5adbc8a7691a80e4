"""RFC 9457 problem details (``application/problem+json``) for every error the service returns.

Each problem has ``type`` (``https://gradserve.dev/problems/<kind>``), ``title``, ``status``,
``detail`` and ``instance`` (the request path), plus ``pointer``: a JSON Pointer to the request
element at fault, where there is one. Extension members depend on the kind: ``limit``/``value``/
``maximum`` for limits, ``errors`` for schema errors, ``op``/``suggestions`` for an unknown op,
``name`` for an unknown name, ``report`` for anomalies, ``printed`` for what a failed program had
printed.

Status codes: 400 body is not JSON; 413 body over max_body_bytes; 415 body is not sent as JSON;
422 every fault of the program, found by validation or at run time (other limits included); 503
no program slot free; 500 a bug.
"""

from __future__ import annotations

import difflib
import logging
from http import HTTPStatus
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from service import messages
from service.errors import BodyBufferFull, BodyTooLarge, InternalError, Overloaded, ProgramError
from service.pointer import from_loc
from service.responses import ProblemResponse
from service.signatures import SIGNATURES

log = logging.getLogger("gradserve")

TYPE_BASE = "https://gradserve.dev/problems/"

# kind -> (title, what it means); the README and the OpenAPI description list these.
PROBLEM_KINDS: dict[str, tuple[str, str]] = {
    "invalid-json": ("Malformed JSON", "The body is not JSON (400)."),
    "unsupported-media-type": ("Unsupported media type",
                               "The body is not sent as application/json (415)."),
    "invalid-program": ("Invalid program", "The request does not match the schema."),
    "unknown-op": ("Unknown op", "A call names an op that does not exist."),
    "unknown-name": ("Unknown name", "A name is used before anything is bound to it."),
    "invalid-tensor": ("Invalid tensor data", "A tensor literal or object cannot be decoded."),
    "type-error": ("Wrong kind of value", "A value of the wrong kind, e.g. a tuple as a tensor."),
    "autograd-error": ("Autograd error", "Autograd misuse; detail is torch's message."),
    "shape-error": ("Shape error", "Shapes that do not fit the op."),
    "dtype-error": ("Dtype error", "A dtype the op does not accept."),
    "argument-error": ("Invalid argument", "A bad static argument value."),
    "linalg-error": ("Linear algebra error", "A singular or not positive-definite matrix."),
    "anomaly": ("Anomaly detected", "detect_anomaly found a NaN or infinity; see report."),
    "assertion-error": ("Assertion failed", "An assert statement's condition was false."),
    "syntax-error": ("Syntax error", "The source is not Python, or uses Python the source "
                                     "front end does not translate; see location."),
    "engine-error": ("Engine error", "Another error of the program found by the engine."),
    "limit-exceeded": ("Limit exceeded", "A limit was reached; limit names the setting "
                                         "(413 for max_body_bytes, 422 otherwise)."),
    "cancelled": ("Cancelled", "The client went away while its program ran."),
    "unauthorized": ("Unauthorized", "No valid API key, when the server needs one (401)."),
    "not-found": ("Not found", "No such path (404)."),
    "method-not-allowed": ("Method not allowed", "The path exists but not for this method (405)."),
    "overloaded": ("Server busy", "No program slot is free; retry after Retry-After (503)."),
    "internal-error": ("Internal error", "A bug in gradserve (500)."),
}


class ProblemItem(BaseModel):
    pointer: str = Field(description="JSON Pointer into the request.")
    detail: str


class TensorStats(BaseModel):
    """Summary of a tensor (or a number) in an anomaly report."""

    shape: list[int]
    dtype: str = Field(description='"float32", "float64", "int64", "bool" (or "float"/"int" '
                       "for a Python number).")
    nan: int = Field(description="How many elements are NaN.")
    posinf: int = Field(description="How many elements are +infinity.")
    neginf: int = Field(description="How many elements are -infinity.")
    min: bool | float | None = Field(description="The smallest finite element (null if none; "
                                     "a boolean for a bool tensor).")
    max: bool | float | None = Field(description="The largest finite element (null if none; "
                                     "a boolean for a bool tensor).")


class AnomalyReport(BaseModel):
    """Where detect_anomaly found the first NaN or infinity (the ``report`` of an anomaly
    problem)."""

    op: str | None = Field(description="The op (as the program called it) whose step recorded "
                           "the offending node, e.g. sqrt; null if not known.")
    grad_fn: str = Field(description="Its grad_fn name, e.g. SqrtBackward0.")
    phase: Literal["forward", "backward"] = Field(
        description="forward: the op's result holds it; backward: a gradient its backward "
                    "function returned holds it.")
    index: int = Field(description="Which output holds it: of the op (forward), or of its "
                       "backward function, i.e. the gradient for the op's input index "
                       "(backward).")
    kind: Literal["nan", "inf"]
    step: str | None = Field(description="JSON Pointer of the program step that created the op.")
    running_step: str | None = Field(
        description="JSON Pointer of the step being run when it was found (for backward: the "
                    "backward or functional step).")
    inputs: list[TensorStats | None] = Field(
        description="The op's inputs (forward), or the gradients its backward function received "
                    "(backward; null where none).")
    outputs: list[TensorStats | None] = Field(
        description="The op's results (forward), or the gradients its backward function "
                    "returned (backward; null where none).")


class SourceLocation(BaseModel):
    """Where in a request's source a problem is (1-based; end inclusive of its last column + 1,
    as Python's ast counts)."""

    line: int = Field(description="The first line (1-based).")
    column: int = Field(description="The first column of that line (1-based).")
    end_line: int = Field(description="The last line.")
    end_column: int = Field(description="The column just past the end, on end_line (1-based).")


class Problem(BaseModel):
    """RFC 9457 problem details, with a JSON Pointer to the request element at fault."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="https://gradserve.dev/problems/<kind>; one URI per kind.")
    title: str
    status: int
    detail: str = Field(description="What went wrong; torch's message for autograd errors.")
    instance: str = Field(description="The request path.")
    pointer: str | None = Field(None, description="JSON Pointer to the request element at fault.")
    limit: str | None = Field(None, description="limit-exceeded: the setting that was hit.")
    value: float | None = Field(None, description="limit-exceeded: the value that was refused.")
    maximum: float | None = Field(None, description="limit-exceeded: the limit.")
    errors: list[ProblemItem] | None = Field(None, description="invalid-program: every error.")
    op: str | None = Field(None, description="unknown-op: the op asked for.")
    suggestions: list[str] | None = Field(None, description="unknown-op: similar op names.")
    name: str | None = Field(None, description="unknown-name: the name.")
    printed: list[str] | None = Field(None, description="Run-time errors: what was printed.")
    location: SourceLocation | None = Field(
        None, description="A request with source (pointer /source): the span of the source the "
        "problem is about -- a syntax error, a refused construct, an unknown name or op, a wrong "
        "argument, or the expression that raised a run-time error.")
    program_pointer: str | None = Field(
        None, description="A run-time problem of a source request: the JSON Pointer into the "
        "translated program (POST /v1/translate shows it).")
    report: AnomalyReport | None = Field(
        None, description="anomaly: the op, its grad_fn, the step that created it, the phase and "
        "the summary stats of its inputs and outputs.")


def problem(instance: str, kind: str, status: int, detail: str, pointer: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> ProblemResponse:
    # Kinds not listed (an engine error class added later) still get a readable title.
    title = PROBLEM_KINDS[kind][0] if kind in PROBLEM_KINDS else \
        _phrase(status) if kind.startswith("http-") else kind.replace("-", " ").capitalize()
    body: dict[str, Any] = {"type": TYPE_BASE + kind, "title": title, "status": status,
                            "detail": detail, "instance": instance}
    if pointer is not None:
        body["pointer"] = pointer
    body.update(extra)
    return ProblemResponse(body, status_code=status, headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def body_too_large(exc: BodyTooLarge, instance: str) -> ProblemResponse:
    return problem(instance, "limit-exceeded", 413, exc.detail, limit="max_body_bytes",
                   value=exc.received, maximum=exc.maximum)


# ----- exception handlers -----------------------------------------------------------------------
def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                           and media.endswith("+json"))


_ERRORS_READ, _ERRORS_SHOWN = 64, 8


async def _validation(request: Request, exc: RequestValidationError) -> ProblemResponse:
    path = request.url.path
    errors = list(exc.errors())
    ctype = request.headers.get("content-type", "")
    if any(e["type"] == "json_invalid" for e in errors):
        e = next(e for e in errors if e["type"] == "json_invalid")
        reason = (e.get("ctx") or {}).get("error", "malformed")
        return problem(path, "invalid-json", 400, f"the body is not valid JSON: {reason}", "")
    if not is_json(ctype) and isinstance(exc.body, bytes):
        return problem(path, "unsupported-media-type", 415,
                       f"send the program as application/json, not {ctype or 'untyped bytes'}", "")
    document = exc.body
    items: dict[str, list[dict[str, Any]]] = {}
    # An int past int64 fails every member of its union; only the int64 message says why.
    overflow = {from_loc([p for i, p in enumerate(e["loc"]) if i or p != "body"], document)
                for e in errors if e["type"] == "int64_overflow"}
    # The lists of a program stop at their first invalid item (service/program.py), so errors are
    # few; the answer still reads at most _ERRORS_READ of them and reports at most _ERRORS_SHOWN.
    for e in errors[:_ERRORS_READ]:
        loc = list(e["loc"])
        if loc[:1] == ["body"]:
            loc = loc[1:]
        ptr = from_loc(loc, document, missing=e["type"] == "missing")
        ctx = e.get("ctx") or {}
        if e["type"] == "union_tag_invalid" and ctx.get("discriminator") == "'op'":
            op = str(ctx.get("tag"))
            near = difflib.get_close_matches(op, list(SIGNATURES), n=3)
            hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
            return problem(path, "unknown-op", 422, f"unknown op {op!r}{hint} (GET /v1/ops lists "
                           "them)", f"{ptr}/op", op=op, suggestions=near)
        if e["type"] == "recursion_depth_exceeded":
            # pydantic's own guard against deep nesting, met before our max_nesting_depth check
            maximum = request.app.shared.settings.max_nesting_depth  # (service/deps.py's Shared)
            return problem(path, "limit-exceeded", 422, "the program nests too deeply (over the "
                           f"limit of {maximum})", ptr, limit="max_nesting_depth", maximum=maximum)
        if e["type"] == "missing" and not loc:
            ptr, e["msg"] = "", "the request needs a JSON body"
        if ptr in overflow and e["type"] != "int64_overflow":
            continue
        items.setdefault(ptr, []).append({**e, "loc": loc})
    found = [{"pointer": p, "detail": messages.explain(errs, document)}
             for p, errs in items.items()][:_ERRORS_SHOWN]
    first = found[0]
    more = f" (and {len(found) - 1} more error{'s' if len(found) > 2 else ''})" if len(found) > 1 \
        else ""
    return problem(path, "invalid-program", 422, f"{first['detail']}{more}", first["pointer"],
                   errors=found)


async def _program(request: Request, exc: ProgramError) -> ProblemResponse:
    return problem(request.url.path, exc.kind, exc.status, exc.message, exc.pointer, **exc.extra)


async def _overloaded(request: Request, exc: Overloaded) -> ProblemResponse:
    return overloaded(exc, request.url.path)


def overloaded(exc: Overloaded, instance: str) -> ProblemResponse:
    return problem(instance, "overloaded", 503, f"{exc}; retry shortly",
                   headers={"Retry-After": str(exc.retry_after)})


async def _http(request: Request, exc: HTTPException) -> ProblemResponse:
    path = request.url.path
    if isinstance(exc, BodyTooLarge):
        return body_too_large(exc, path)
    if isinstance(exc, BodyBufferFull):
        return overloaded(Overloaded(str(exc.detail)), path)
    # FastAPI raises a bare 400 only when it cannot parse the body (e.g. JSON nested deeper than
    # the parser's recursion limit).
    kind = {400: "invalid-json", 404: "not-found", 405: "method-not-allowed"}.get(
        exc.status_code, f"http-{exc.status_code}")
    return problem(path, kind, exc.status_code, str(exc.detail),
                   headers=dict(exc.headers) if exc.headers else None)


async def _internal(request: Request, exc: Exception) -> ProblemResponse:
    log.error("internal error on %s", request.url.path, exc_info=exc)
    # Connection: close: after a bug, nothing about this connection's state is trusted
    return problem(request.url.path, "internal-error", 500,
                   "an unexpected error occurred; this is a bug in gradserve",
                   getattr(exc, "pointer", None) if isinstance(exc, InternalError) else None,
                   headers={"Connection": "close"})


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(ProgramError, _program)  # type: ignore[arg-type]
    app.add_exception_handler(Overloaded, _overloaded)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _internal)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: each status documented with the Problem schema (service/
    openapi.py moves it to the application/problem+json media type)."""
    return {s: {"model": Problem, "description": _STATUS_TEXT[s]} for s in statuses}


_STATUS_TEXT = {
    400: "The body is not JSON.",
    404: "No such path.",
    405: "Method not allowed.",
    413: "The body is over max_body_bytes.",
    415: "The body is not application/json.",
    422: "The program is invalid, or failed while running (problem type says which).",
    500: "A bug in gradserve.",
    503: "No program slot is free; retry after Retry-After.",
}
