"""Baseline: a hand-written FastAPI + torch endpoint running the seed tutorial.

``POST /v1/run`` takes the same request body as gradserve's (the tutorial program), validates it
with a small pydantic model the way such an endpoint would (it only needs the seed: the program is
written in the code), runs bench/baselines/tutorial_torch.py and answers its JSON.

The endpoint is ``async def``: the program (about a millisecond of torch calls) runs on the event
loop. That is the fastest plain way to write it here, so the comparison is against a strong
baseline: the same endpoint as a sync ``def`` (FastAPI runs those in its thread pool) answered
about 290 requests/s against about 930 on this 2-core machine (8 threads contending for the GIL).

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
async def run(request: RunRequest) -> Response:
    return Response(run_tutorial(request.seed or 0), media_type="application/json")


@app.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}
