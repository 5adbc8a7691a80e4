"""A large /v1/run body is parsed and validated on the worker that runs its program
(``RunRoute.prepares_on_worker``, service/jsonbody.py): it answers exactly what preparing it on a
thread of its own first answers, programs and problems alike."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from service.jsonbody import OFF_LOOP_FROM
from service.routers.run import RunRoute

pytestmark = pytest.mark.anyio

_N = OFF_LOOP_FROM // 4  # float32 elements: a body of some 90 KB in base64 (the limit: 256 KiB)


def _b64_program(values: np.ndarray) -> dict[str, Any]:
    x = {"shape": [values.size], "datatype": "FP32",
         "b64": base64.b64encode(values.astype("<f4").tobytes()).decode("ascii")}
    return {"program": [
        {"name": "x", "op": "tensor", "args": [x], "attrs": {"requires_grad": True}},
        {"name": "y", "op": "mul", "args": ["x", 2]},
        {"op": "backward", "args": [{"op": "sum", "args": ["y"]}]},
    ], "outputs": ["x"], "encoding": "base64"}


def _padding() -> str:
    return "a" * OFF_LOOP_FROM  # a long string: the body is large whatever else it holds


def _bodies() -> dict[str, bytes]:
    values = np.random.default_rng(18).standard_normal(_N).astype(np.float32)
    values[:4] = [np.nan, -0.0, np.inf, 1e-45]
    good = _b64_program(values)
    bad_op = {**good, "program": [*good["program"], {"op": "no_such_op", "args": [_padding()]}]}
    bad_field = {**good, "outputs": [_padding(), 3]}
    bad_b64 = json.loads(json.dumps(good))
    bad_b64["program"][0]["args"][0]["b64"] = "!" + bad_b64["program"][0]["args"][0]["b64"][1:]
    short = json.loads(json.dumps(good))
    short["program"][0]["args"][0]["shape"] = [_N + 1]
    deep = {"program": [], "pad": _padding(), "deep": json.loads("[" * 400 + "]" * 400)}
    return {
        "ok": json.dumps(good).encode(),
        "source": json.dumps({"source": "import torch\n"
                                        "x = torch.ones(3, requires_grad=True)\n"
                                        "y = (x * 2).sum()\ny.backward()\n# " + _padding()}
                             ).encode(),
        "invalid json": json.dumps(good).encode()[:-1] + b",}",
        "NaN token": json.dumps(good).encode()[:-1] + b', "seed": NaN}',
        "duplicate key": json.dumps(good).encode()[:-1] + b', "outputs": ["x"]}',
        "not utf-8": json.dumps(good).encode()[:-2] + b'\xff"}',
        "unknown op": json.dumps(bad_op).encode(),
        "bad field": json.dumps(bad_field).encode(),
        "bad base64": json.dumps(bad_b64).encode(),
        "size mismatch": json.dumps(short).encode(),
        "too deep": json.dumps(deep).encode(),
    }


def _comparable(status: int, answer: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    answer.pop("instance", None)  # (the request's own id)
    if "stats" in answer:
        answer["stats"].pop("elapsed_s")
    return status, answer


@pytest.mark.parametrize("name", list(_bodies()))
async def test_a_large_body_answers_as_when_prepared_first(
        make_client: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    body = _bodies()[name]
    assert len(body) >= OFF_LOOP_FROM
    answers = []
    for on_worker in (False, True):
        monkeypatch.setattr(RunRoute, "prepares_on_worker", on_worker)
        async with make_client() as c:
            r = await c.post("/v1/run", content=body,
                             headers={"content-type": "application/json"})
        answers.append(_comparable(r.status_code, r.json()))
    assert answers[0] == answers[1]
    status, answer = answers[1]
    if name in ("ok", "source"):
        assert status == 200, answer
    else:
        assert 400 <= status < 500 and "pointer" in answer, answer
