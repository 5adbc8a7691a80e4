"""GET /health/live and /health/ready."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from service import problems
from service.deps import RunnerDep, SettingsDep
from service.errors import Overloaded

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    in_flight: int | None = None
    capacity: int | None = None


@router.get("/health/live", response_model=Health, response_model_exclude_none=True,
            responses=problems.responses(413, 500),
            summary="The process is up")
async def live() -> Health:
    return Health(status="ok")


@router.get("/health/ready", response_model=Health, responses=problems.responses(413, 500, 503),
            summary="The server takes programs (503 while a program sent now could not start "
            "within request_timeout: every slot taken, or the threads held by long programs)")
async def ready(runner: RunnerDep, settings: SettingsDep) -> Health:
    runner.check_free()
    timeout = settings.request_timeout
    if not runner.admission.ready(timeout):
        raise Overloaded(f"a program sent now could not start within {timeout} seconds")
    return Health(status="ready", in_flight=runner.in_flight, capacity=runner.capacity)
