"""GET /v1/ops: the catalog of callable ops."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from service import problems
from service.catalog import Catalog, catalog
from service.responses import JSONResponse, dumps

router = APIRouter(tags=["ops"])

# The registry is fixed once the engine is imported: encode the catalog once.
_CATALOG = dumps(catalog())


@router.get("/v1/ops", response_model=Catalog, responses=problems.responses(413, 500),
            summary="List every op a program can call",
            description="Generated from the engine registry and the service's accessors: inputs "
            "(positional, in args) and attrs (by name, in attrs) with kinds and defaults, whether "
            "the op is differentiable and the grad_fn names it makes.")
async def ops() -> Response:
    return JSONResponse(_CATALOG)
