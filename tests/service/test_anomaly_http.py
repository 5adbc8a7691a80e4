"""detect_anomaly over HTTP: the first op whose forward result or backward gradient holds a NaN or
an infinity stops the program with an ``anomaly`` problem whose ``report`` names the op, its
grad_fn, the step that created it, the phase, and the summary stats of its inputs and outputs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from service.problems import AnomalyReport, Problem
from tests.service.helpers import call, let, ok, post, problem

pytestmark = pytest.mark.anyio



def stats(shape: list[int], nan: int = 0, posinf: int = 0, neginf: int = 0, lo: Any = None,
          hi: Any = None, dtype: str = "float32") -> dict[str, Any]:
    return {"shape": shape, "dtype": dtype, "nan": nan, "posinf": posinf, "neginf": neginf,
            "min": lo, "max": hi}


async def anomaly(client: httpx.AsyncClient, program: list[Any], pointer: str
                  ) -> dict[str, Any]:
    """Run ``program`` with detect_anomaly; its anomaly problem's report, checked against the
    documented schema. The same program without the detector must run to the end."""
    await ok(client, program)
    r = await post(client, program, detect_anomaly=True)
    body = problem(r, "anomaly", 422, pointer)
    Problem.model_validate(body)
    report: dict[str, Any] = body["report"]
    AnomalyReport.model_validate(report)
    assert set(report) == set(AnomalyReport.model_fields)
    assert report["grad_fn"] in body["detail"]
    return report


WHERE_SQRT = [
    let("x", "tensor", [-1.0], requires_grad=True),
    {"print": "x"},
    let("y", "where", call("gt", "x", 0), call("sqrt", "x"), 0.0),
    call("backward", call("sum", "y")),
]


async def test_where_of_sqrt_at_minus_one_stops_at_sqrts_forward(
        client: httpx.AsyncClient) -> None:
    # the famous case: where() hides sqrt(-1)'s NaN from the value, not from the gradient
    body = await ok(client, WHERE_SQRT)
    assert body["tensors"]["y"]["data"] == [0.0]
    assert body["tensors"]["x"]["grad"]["data"] == ["NaN"]
    report = await anomaly(client, WHERE_SQRT, "/program/2/args/1")
    assert report == {
        "op": "sqrt", "grad_fn": "SqrtBackward0", "phase": "forward", "index": 0, "kind": "nan",
        "step": "/program/2/args/1", "running_step": "/program/2/args/1",
        "inputs": [stats([1], lo=-1.0, hi=-1.0)],
        "outputs": [stats([1], nan=1)],
    }


async def test_the_problem_keeps_what_was_printed(client: httpx.AsyncClient) -> None:
    r = await post(client, WHERE_SQRT, detect_anomaly=True)
    body = problem(r, "anomaly", 422)
    assert body["printed"] == ["tensor([-1.], requires_grad=True)"]
    assert body["detail"] == ("Function 'SqrtBackward0' returned nan values in its 0th output in "
                              "the forward pass.")


async def test_log_of_zero_is_an_infinity_in_the_forward_pass(client: httpx.AsyncClient) -> None:
    prog = [let("x", "tensor", [0.0, 1.0, 4.0], dtype="float64", requires_grad=True),
            let("y", "log", "x"),
            let("z", "mul", "y", 2)]
    report = await anomaly(client, prog, "/program/1")
    assert report["op"] == "log" and report["grad_fn"] == "LogBackward0"
    assert report["phase"] == "forward" and report["kind"] == "inf" and report["index"] == 0
    assert report["step"] == report["running_step"] == "/program/1"
    assert report["inputs"] == [stats([3], lo=0.0, hi=4.0, dtype="float64")]
    out = report["outputs"][0]
    assert out["neginf"] == 1 and out["nan"] == 0 and out["posinf"] == 0
    assert out["min"] == 0.0 and out["max"] == pytest.approx(1.3862943611198906)


async def test_zero_over_zero_in_backward_only(client: httpx.AsyncClient) -> None:
    # forward: sqrt(0) * 0 = 0, all finite; backward: SqrtBackward0 computes 0 / (2 sqrt(0))
    prog = [let("x", "tensor", [0.0, 4.0], requires_grad=True),
            let("y", "mul", call("sqrt", "x"), 0.0),
            {"print": "y"},
            call("backward", call("sum", "y"))]
    body = await ok(client, prog)
    assert body["tensors"]["y"]["data"] == [0.0, 0.0]
    assert body["tensors"]["x"]["grad"]["data"] == ["NaN", 0.0]
    report = await anomaly(client, prog, "/program/3")
    assert report == {
        "op": "sqrt", "grad_fn": "SqrtBackward0", "phase": "backward", "index": 0, "kind": "nan",
        "step": "/program/1/args/0", "running_step": "/program/3",
        "inputs": [stats([2], lo=0.0, hi=0.0)],  # the gradient it received
        "outputs": [stats([2], nan=1, lo=0.0, hi=0.0)],  # the gradient it returned
    }


async def test_anomaly_in_a_functional_steps_backward_pass(client: httpx.AsyncClient) -> None:
    # d/dx sqrt(x) = 1 / (2 sqrt(x)) is infinite at 0: found while the hessian step runs
    prog = [let("x", "tensor", [0.0, 1.0], requires_grad=True),
            let("s", "sum", call("sqrt", "x")),
            let("H", "hessian", "s", "x")]
    report = await anomaly(client, prog, "/program/2")
    assert report["op"] == "sqrt" and report["phase"] == "backward" and report["kind"] == "inf"
    assert report["step"] == "/program/1/args/0" and report["running_step"] == "/program/2"


async def test_a_nan_given_as_input_is_reported_at_the_first_op_using_it(
        client: httpx.AsyncClient) -> None:
    prog = [let("x", "tensor", ["NaN", 2.0]), let("y", "exp", "x")]
    report = await anomaly(client, prog, "/program/1")
    assert report["op"] == "exp" and report["grad_fn"] == "ExpBackward0"
    assert report["inputs"] == [stats([2], nan=1, lo=2.0, hi=2.0)]


async def test_finite_programs_run_unchanged_under_the_detector(
        client: httpx.AsyncClient) -> None:
    prog = [let("x", "tensor", [1.0, 4.0], requires_grad=True),
            let("y", "sum", call("sqrt", "x")), call("backward", "y")]
    plain = await ok(client, prog)
    checked = await ok(client, prog, detect_anomaly=True)
    assert plain["tensors"] == checked["tensors"]
    assert checked["tensors"]["x"]["grad"]["data"] == [0.5, 0.25]


def test_the_contract_documents_the_report(app: FastAPI) -> None:
    doc = app.openapi()
    schemas = doc["components"]["schemas"]
    report = schemas["Problem"]["properties"]["report"]
    assert {"$ref": "#/components/schemas/AnomalyReport"} in report["anyOf"]
    props = schemas["AnomalyReport"]["properties"]
    assert {"op", "grad_fn", "phase", "index", "kind", "step", "running_step", "inputs",
            "outputs"} <= set(props)
    assert props["phase"]["enum"] == ["forward", "backward"]
    assert {"shape", "dtype", "nan", "posinf", "neginf", "min", "max"} <= \
        set(schemas["TensorStats"]["properties"])
    assert "detect_anomaly" in schemas["RunRequest"]["properties"]
    assert "https://gradserve.dev/problems/anomaly" in doc["info"]["description"]
