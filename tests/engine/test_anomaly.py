"""detect_anomaly: the first op whose result or gradient holds a NaN or an infinity raises
AnomalyError with a JSON-able report (engine/anomaly.py)."""

from __future__ import annotations

import json
import math

import pytest

import engine as ge
from engine import ops
from engine.errors import AnomalyError


def leaf(values: list[float]) -> ge.Tensor:
    return ge.tensor(values, requires_grad=True)


def where_sqrt(x: ge.Tensor) -> ge.Tensor:
    """The famous one: ``where(x > 0, sqrt(x), 0)``."""
    return ops.where(x > 0, ops.sqrt(x), 0.0)


def test_where_sqrt_at_minus_one_stops_in_sqrt_forward() -> None:
    # sqrt(-1) makes the NaN; the forward check sees it before where() masks it
    x = leaf([-1.0, 4.0])
    with ge.execution(detect_anomaly=True) as ctx:
        ctx.step = "/steps/1"
        with pytest.raises(AnomalyError) as caught:
            where_sqrt(x)
    err = caught.value
    assert err.message == ("Function 'SqrtBackward0' returned nan values in its 0th output in the "
                           "forward pass.")
    report = err.report
    assert report["grad_fn"] == "SqrtBackward0" and report["phase"] == "forward"
    assert report["index"] == 0 and report["kind"] == "nan"
    assert report["step"] == "/steps/1" and report["running_step"] == "/steps/1"
    assert report["inputs"] == [{"shape": [2], "dtype": "float32", "nan": 0, "posinf": 0, "neginf": 0,
                                 "min": -1.0, "max": 4.0}]
    assert report["outputs"] == [{"shape": [2], "dtype": "float32", "nan": 1, "posinf": 0, "neginf": 0,
                                  "min": 2.0, "max": 2.0}]
    json.dumps(report, allow_nan=False)  # the service sends it as is


def test_where_sqrt_at_minus_one_without_detection_gives_torchs_nan_gradient() -> None:
    x = leaf([-1.0, 4.0])
    where_sqrt(x).sum().backward()
    assert x.grad is not None
    g = x.grad.tolist()
    assert math.isnan(g[0]) and g[1] == 0.25


def test_where_sqrt_at_zero_stops_in_sqrt_backward() -> None:
    # forward is finite (sqrt(0) = 0); where() sends sqrt a zero gradient and 0 / (2 * 0) is NaN
    x = leaf([0.0, 4.0])
    with ge.execution(detect_anomaly=True) as ctx:
        ctx.step = "/steps/0"
        y = where_sqrt(x).sum()
        ctx.step = "/steps/1"
        with pytest.raises(AnomalyError) as caught:
            y.backward()
    err = caught.value
    assert err.message == "Function 'SqrtBackward0' returned nan values in its 0th output."
    report = err.report
    assert report["phase"] == "backward" and report["grad_fn"] == "SqrtBackward0"
    assert report["step"] == "/steps/0"  # where sqrt was recorded
    assert report["running_step"] == "/steps/1"  # the backward step that found it
    assert report["outputs"][0]["nan"] == 1
    assert x.grad is None  # stopped before anything accumulated


def test_log_of_zero_stops_in_forward_with_minus_infinity() -> None:
    x = leaf([0.0, 1.0])
    with ge.execution(detect_anomaly=True), pytest.raises(AnomalyError) as caught:
        ops.log(x)
    report = caught.value.report
    assert caught.value.message == ("Function 'LogBackward0' returned inf values in its 0th output in the "
                                    "forward pass.")
    assert report["kind"] == "inf" and report["step"] is None
    assert report["outputs"][0] == {"shape": [2], "dtype": "float32", "nan": 0, "posinf": 0, "neginf": 1,
                                    "min": 0.0, "max": 0.0}


def test_zero_over_zero_in_backward_only_has_torchs_message() -> None:
    # torch's own example (errors.out): x.sqrt() * 0 at x = 0
    x = leaf([0.0, 1.0])
    with ge.execution(detect_anomaly=True):
        y = (ops.sqrt(x) * 0).sum()
        with pytest.raises(AnomalyError) as caught:
            y.backward()
    assert caught.value.message == "Function 'SqrtBackward0' returned nan values in its 0th output."
    outputs = caught.value.report["outputs"]
    assert outputs[0]["nan"] == 1 and outputs[0]["min"] == 0.0


def test_infinite_gradient_is_reported_too() -> None:
    # torch lets pow(0.5)'s infinite gradient at 0 through (it checks NaN only); this detector stops
    x = leaf([0.0, 1.0])
    with ge.execution(detect_anomaly=True):
        y = (x ** 0.5).sum()
        with pytest.raises(AnomalyError) as caught:
            y.backward()
    assert caught.value.message == "Function 'PowBackward0' returned inf values in its 0th output."
    assert caught.value.report["outputs"][0]["posinf"] == 1


def test_nan_already_in_an_input_is_reported_at_the_first_op_using_it() -> None:
    x = leaf([math.nan, 1.0])
    with ge.execution(detect_anomaly=True), pytest.raises(AnomalyError) as caught:
        x * 2
    report = caught.value.report
    assert report["grad_fn"] == "MulBackward0"
    assert report["inputs"][0]["nan"] == 1  # it came in with the NaN
    assert report["inputs"][1] == {"shape": [], "dtype": "int", "nan": 0, "posinf": 0, "neginf": 0,
                                   "min": 2, "max": 2}


def test_the_index_names_the_input_whose_gradient_is_bad() -> None:
    # MulBackward0 returns (g * b, g * a): with a = inf only its second output (for b) is infinite
    a, b = leaf([math.inf]), leaf([1.0])
    y = (a * b).sum()  # recorded without detection
    with ge.execution(detect_anomaly=True), pytest.raises(AnomalyError) as caught:
        y.backward()
    assert caught.value.message == "Function 'MulBackward0' returned inf values in its 1th output."
    report = caught.value.report
    assert report["index"] == 1 and report["step"] is None
    assert report["outputs"][0]["max"] == 1.0 and report["outputs"][1]["posinf"] == 1


def test_finite_programs_run_unchanged() -> None:
    x = leaf([1.0, 4.0])
    with ge.execution(detect_anomaly=True):
        (where_sqrt(x) * 3).sum().backward()
    assert x.grad is not None and x.grad.tolist() == [1.5, 0.75]


def test_without_detection_nothing_is_checked() -> None:
    x = leaf([0.0, 1.0])
    with ge.execution(detect_anomaly=False):
        (ops.sqrt(x) * 0).sum().backward()
    assert x.grad is not None and math.isnan(x.grad.tolist()[0])
