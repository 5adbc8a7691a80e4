"""Baseline: a hand-written FastAPI + torch endpoint running the seed tutorial.

``POST /v1/run`` takes the same request body as gradserve's (the tutorial program), validates it
with a small pydantic model the way such an endpoint would (it only needs the seed: the program is
written in the code), runs bench/baselines/tutorial_torch.py and answers its JSON.  Like
gradserve, the work runs off the event loop (a sync endpoint: FastAPI's thread pool).

Served by bench/servers.py with the same uvicorn settings as gradserve:
``uvicorn bench.baselines.torch_app:app``.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from fastapi import FastAPI, Response
from pydantic import BaseModel

from bench.baselines.tutorial_torch import run_tutorial

torch.set_num_threads(int(os.environ.get("BENCH_THREADS", os.cpu_count() or 1)))

app = FastAPI(title="bench baseline: FastAPI + torch")


class RunRequest(BaseModel):
    seed: int | None = None
    program: list[Any] = []
    outputs: list[str] | None = None


@app.post("/v1/run")
def run(request: RunRequest) -> Response:
    return Response(run_tutorial(request.seed or 0), media_type="application/json")


@app.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}
