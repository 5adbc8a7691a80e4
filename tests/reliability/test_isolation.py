"""Isolation: 200 concurrent requests mixing programs -- grad and no_grad, enable_grad inside
no_grad, different seeds, random ops, base64 answers, anomaly detection, some failing in
different ways after printing -- each return exactly what they return alone (the same status and
the same body, but for the measured ``elapsed_s`` and ``compile_cached``, which says whether the
program was compiled before). Run in-process and against a real uvicorn, with
room for all 200 (queue_size 256)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]


def grad_program(seed: int) -> dict[str, Any]:
    return {"seed": seed, "program": [
        {"name": "x", "op": "randn", "attrs": {"size": [3], "requires_grad": True}},
        {"name": "y", "op": "mul", "args": ["x", "x"]},
        {"op": "backward", "args": [{"op": "sum", "args": ["y"]}]},
        {"print": {"op": "requires_grad", "args": ["y"]}},
        {"print": {"op": "grad", "args": ["x"]}}]}


def no_grad_program(seed: int) -> dict[str, Any]:
    # many steps with recording off, overlapping the grad programs beside it
    return {"seed": seed, "program": [
        {"name": "x", "op": "randn", "attrs": {"size": [3], "requires_grad": True}},
        {"name": "i", "op": "tensor", "args": [0]},
        {"no_grad": [
            {"while": {"op": "lt", "args": ["i", 150 + seed]}, "do": [
                {"name": "i", "op": "add", "args": ["i", 1]},
                {"name": "y", "op": "mul", "args": ["x", "x"]}]},
            {"print": {"op": "requires_grad", "args": ["y"]}},
            {"enable_grad": [{"name": "z", "op": "mul", "args": ["x", 3]},
                             {"print": {"op": "requires_grad", "args": ["z"]}}]}]},
        {"print": {"op": "requires_grad", "args": [{"op": "mul", "args": ["x", "x"]}]}}]}


def random_ops_program(seed: int) -> dict[str, Any]:
    return {"seed": seed, "encoding": "base64", "program": [
        {"name": "u", "op": "rand", "attrs": {"size": [2, 3]}},
        {"name": "d", "op": "dropout", "args": [{"op": "ones", "attrs": {"size": [8]}}],
         "attrs": {"p": 0.5}},
        {"name": "k", "op": "randint", "attrs": {"high": 100, "size": [4]}},
        {"print": {"values": ["u", "k"]}}]}


def second_order_program(seed: int) -> dict[str, Any]:
    return {"seed": seed, "program": [
        {"name": "x", "op": "randn", "attrs": {"size": [2], "requires_grad": True}},
        {"name": ["g"], "op": "autograd.grad",
         "args": [{"op": "sum", "args": [{"op": "pow", "args": ["x", 3]}]}, ["x"]],
         "attrs": {"create_graph": True}},
        {"op": "backward", "args": [{"op": "sum", "args": ["g"]}]},
        {"print": {"op": "grad", "args": ["x"]}}], "outputs": ["x", "g"]}


def unknown_name_program(seed: int) -> dict[str, Any]:
    return {"seed": seed, "program": [{"print": {"op": "randn", "attrs": {"size": [2]}}},
                                      {"print": "missing"}]}


def shape_error_program(seed: int) -> dict[str, Any]:
    return {"seed": seed, "program": [
        {"name": "a", "op": "randn", "attrs": {"size": [2, 3]}},
        {"print": "a"},
        {"print": {"op": "matmul", "args": ["a", "a"]}}]}


def step_limit_program(seed: int) -> dict[str, Any]:
    return {"seed": seed, "program": [
        {"name": "x", "op": "randn", "attrs": {"size": [2]}},
        {"print": "x"},
        {"while": True, "do": [{"name": "x", "op": "mul", "args": ["x", 1.0]}],
         "max_iter": 1000}, ]}


def anomaly_program(seed: int) -> dict[str, Any]:
    return {"seed": seed, "detect_anomaly": True, "program": [
        {"name": "x", "op": "tensor", "args": [[0.0, float(seed)]], "attrs": {"requires_grad": True}},
        {"name": "y", "op": "sqrt", "args": ["x"]},
        {"op": "backward", "args": [{"op": "sum", "args": [{"op": "mul", "args": ["y", 0.0]}]}]}]}


KINDS: tuple[Callable[[int], dict[str, Any]], ...] = (
    grad_program, no_grad_program, random_ops_program, second_order_program,
    unknown_name_program, shape_error_program, step_limit_program, anomaly_program)

REQUESTS = [KINDS[i % len(KINDS)](i // len(KINDS)) for i in range(200)]


def outcome(r: httpx.Response) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = r.json()
    body.get("stats", {}).pop("elapsed_s", None)
    body.get("stats", {}).pop("compile_cached", None)  # (the first of each program: False)
    return r.status_code, body


def test_the_mix_covers_answers_and_each_kind_of_failure() -> None:
    assert len(REQUESTS) == 200 and len({str(r) for r in REQUESTS}) == 200


async def test_two_hundred_concurrent_requests_answer_as_they_do_alone(
        client: httpx.AsyncClient) -> None:
    alone = [outcome(await client.post("/v1/run", json=req)) for req in REQUESTS]
    assert {status for status, _ in alone} == {200, 422}
    kinds = {body["type"].rsplit("/", 1)[1] for status, body in alone if status == 422}
    assert kinds == {"unknown-name", "shape-error", "limit-exceeded", "anomaly"}

    together = await asyncio.gather(*(client.post("/v1/run", json=req) for req in REQUESTS))
    for i, (req, r) in enumerate(zip(REQUESTS, together, strict=True)):
        assert outcome(r) == alone[i], (i, req)
    # and all of it again, in the reverse order of arrival
    again = await asyncio.gather(*(client.post("/v1/run", json=req) for req in reversed(REQUESTS)))
    assert [outcome(r) for r in reversed(again)] == alone
