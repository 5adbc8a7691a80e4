"""``Client`` and ``AsyncClient``: POST a program to /v1/run, get an ``Answer`` back."""

from __future__ import annotations

import os
from typing import Any

import httpx
import numpy as np

from gradserve_client.problems import ProblemError
from gradserve_client.tensors import Answer, read_answer, tensor

DEFAULT_URL = "http://127.0.0.1:8000"


def _request(program: list[dict[str, Any]], outputs: list[str] | None, seed: int | None,
             base64: bool, extra: dict[str, Any], inputs: dict[str, Any] | None = None
             ) -> dict[str, Any]:
    body: dict[str, Any] = {"program": program, **extra}
    if inputs is not None:  # numpy arrays as typed tensor objects, anything else as given
        body["inputs"] = {name: tensor(v) if isinstance(v, np.ndarray) else v
                          for name, v in inputs.items()}
    if outputs is not None:
        body["outputs"] = outputs
    if seed is not None:
        body["seed"] = seed
    if base64:
        body["encoding"] = "base64"
    return body


def _answer(r: httpx.Response) -> Answer:
    if r.headers.get("content-type", "").startswith("application/problem+json"):
        raise ProblemError(r.json(), r.status_code)
    r.raise_for_status()
    return read_answer(r.json())


def _headers(api_key: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {api_key}"} if api_key else {}


class Client:
    """A synchronous client. ``url`` defaults to $GRADSERVE_URL, then http://127.0.0.1:8000."""

    def __init__(self, url: str | None = None, *, api_key: str | None = None,
                 timeout: float = 60.0, transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=url or os.environ.get("GRADSERVE_URL", DEFAULT_URL),
                                  headers=_headers(api_key), timeout=timeout, transport=transport)

    def run(self, program: list[dict[str, Any]], *, outputs: list[str] | None = None,
            seed: int | None = None, base64: bool = True,
            inputs: dict[str, Any] | None = None, **extra: Any) -> Answer:
        """Run ``program``; tensors come back as numpy arrays (``base64``: exactly, NaN
        included). ``inputs`` binds names the program reads and never assigns (numpy arrays, or
        ``tensor(..., requires_grad=True)``); the same program with other inputs is compiled
        once per server process. Raises ProblemError for a problem answer."""
        return _answer(self._http.post("/v1/run", json=_request(program, outputs, seed, base64,
                                                                  extra, inputs)))

    def ops(self) -> dict[str, Any]:
        r = self._http.get("/v1/ops")
        r.raise_for_status()
        return r.json()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """The same, for asyncio."""

    def __init__(self, url: str | None = None, *, api_key: str | None = None,
                 timeout: float = 60.0, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(base_url=url or os.environ.get("GRADSERVE_URL", DEFAULT_URL),
                                       headers=_headers(api_key), timeout=timeout,
                                       transport=transport)

    async def run(self, program: list[dict[str, Any]], *, outputs: list[str] | None = None,
                  seed: int | None = None, base64: bool = True,
                  inputs: dict[str, Any] | None = None, **extra: Any) -> Answer:
        r = await self._http.post("/v1/run", json=_request(program, outputs, seed, base64, extra,
                                                           inputs))
        return _answer(r)

    async def ops(self) -> dict[str, Any]:
        r = await self._http.get("/v1/ops")
        r.raise_for_status()
        return r.json()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
