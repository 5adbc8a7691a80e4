"""Baseline: the bare framework. An async FastAPI endpoint that answers a constant without reading
the request: the ceiling for any FastAPI app under the same uvicorn settings.

Served by bench/servers.py: ``uvicorn bench.baselines.constant_app:app``.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI(title="bench baseline: constant")


@app.post("/v1/run")
async def run() -> dict[str, bool]:
    return {"ok": True}


@app.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}
