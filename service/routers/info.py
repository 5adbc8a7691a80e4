"""GET /v1/info: version, backend and limits."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from engine import backend
from service import __version__, problems
from service.deps import SettingsDep

router = APIRouter(tags=["info"])


class Info(BaseModel):
    version: str = Field(description="gradserve's version.")
    torch_semantics: str = Field(description="The PyTorch version whose behaviour is reproduced.")
    backend: str = Field(description="The array backend (GRADSERVE_BACKEND).")
    device: str
    backend_version: str
    limits: dict[str, int | float] = Field(description="The limits programs run under, by setting name.")


@router.get("/v1/info", response_model=Info, responses=problems.responses(413, 500),
            summary="Version, backend, device and limits")
async def info(settings: SettingsDep) -> Info:
    b = backend.info()
    return Info(version=__version__, torch_semantics="2.13", backend=b["backend"],
                device=b["device"], backend_version=b["version"],
                limits=settings.limits())
