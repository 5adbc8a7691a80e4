"""Argument errors over HTTP: a misuse from the "argument errors" golden family, sent as a program,
answers a problem whose detail is torch's message (tests/golden/argument_errors.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from engine.registry import OPS
from tests.service.helpers import post, problem

pytestmark = pytest.mark.anyio

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "argument_errors.json"
CASES = {c["id"]: c for c in json.loads(GOLDEN.read_text())["cases"]}


def literal(value: Any) -> Any:
    """A golden argument as the wire writes it: a tensor as its nested-list literal."""
    if isinstance(value, dict) and "tensor" in value:
        t = value["tensor"]
        return np.array(t["data"], dtype=object).reshape(t["shape"]).tolist()
    return value


def as_program(case: dict[str, Any]) -> list[Any]:
    """The golden call as one print statement: the op's inputs as args, the rest as attrs."""
    op = OPS[case["op"]]
    given = dict(zip([p.name for p in op.params], case["args"], strict=False)) | case["kwargs"]
    args = [literal(given[p.name]) for p in op.inputs if p.name in given]
    attrs = {p.name: given[p.name] for p in op.attrs if p.name in given}
    return [{"print": {"op": case["op"], "args": args, "attrs": attrs}}]


@pytest.mark.parametrize(("case_id", "kind"), [
    ("permute.dims.dims_too_few", "shape-error"),
    ("gather.index.dtype_float32", "dtype-error"),
    ("index_add.source.shape_mismatch", "shape-error"),
    ("sum.dim.dims_repeated", "shape-error"),
])
async def test_the_problem_carries_torchs_message(client: httpx.AsyncClient, case_id: str,
                                                  kind: str) -> None:
    case = CASES[case_id]
    body = problem(await post(client, as_program(case)), kind, 422, "/program/0/print")
    message = case["torch"]["message"]
    # torch's message first and whole; a hint may follow (service/hints.py)
    assert body["detail"] == message or body["detail"].startswith(message.rstrip(".") + ". ")
