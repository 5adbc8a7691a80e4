"""POST /v1/run: run one program."""

from __future__ import annotations

import threading
from functools import partial

from fastapi import APIRouter, Request
from starlette.responses import Response

from service import problems
from service.errors import ProgramError
from service.executor import Preempted
from service.interpreter import Interpreter
from service.jsonbody import ProgramRoute, client_gone
from service.observability import program_finished
from service.program import RunRequest, RunResponse
from service.responses import PiecesResponse, dumps_pieces

# ProgramRoute: the body is measured for depth and parsed strictly before FastAPI validates it.
router = APIRouter(tags=["run"], route_class=ProgramRoute)


@router.post(
    "/v1/run", response_model=RunResponse, responses=problems.responses(400, 413, 415, 422, 500, 503),
    summary="Run an autograd program",
    description="Runs the statements in order on the engine and answers with the output tensors "
    "(values, grad_fn, grad), the grad_fn graph reachable from them, what print statements "
    "wrote (in torch's text) and run statistics. Non-finite numbers travel as the strings "
    '"NaN", "Infinity" and "-Infinity".',
)
async def run(body: RunRequest, request: Request) -> Response:
    settings = request.app.state.settings

    def work(cancelled: threading.Event, inline: bool = False) -> list[bytes]:
        # Serialising in the worker thread too keeps large answers off the event loop.
        interpreter = Interpreter(body, settings, cancelled, inline=inline)
        outcome: str | None = "internal-error"
        try:
            answer = dumps_pieces(interpreter.run())
            outcome = "ok"
            return answer
        except ProgramError as err:
            outcome = err.kind
            raise
        except Preempted:
            outcome = None  # not finished: it runs again in the pool, and is counted there
            raise
        finally:
            if outcome is not None:
                program_finished(request.state, interpreter, outcome)

    inline = partial(work, threading.Event(), True) if settings.inline_budget_ms > 0 else None
    gone = partial(client_gone, request)
    return PiecesResponse(await request.app.state.runner.run(work, inline, gone))
