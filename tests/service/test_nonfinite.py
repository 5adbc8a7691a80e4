"""NaN and infinities both ways -- JSON strings in tensor data, literals, scalars and attrs; native
in base64 -- and base64 both ways. None of it may ever be a 500."""

from __future__ import annotations

import base64
import math

import httpx
import numpy as np
import pytest

from tests.service.helpers import ok

pytestmark = pytest.mark.anyio


async def test_nonfinite_results_come_back_as_strings(client: httpx.AsyncClient) -> None:
    body = await ok(client, [
        {"name": "z", "op": "div", "args": [[0.0, 1.0, -1.0, 2.0], 0.0]},
        {"name": "i", "op": "item", "args": [{"op": "log", "args": [[0.0]]}]},
        {"print": "z"},
    ])
    assert body["tensors"]["z"]["data"] == ["NaN", "Infinity", "-Infinity", "Infinity"]
    assert body["values"]["i"] == "-Infinity"
    assert body["printed"] == ["tensor([nan, inf, -inf, inf])"]


async def test_nonfinite_strings_are_accepted_everywhere(client: httpx.AsyncClient) -> None:
    obj = {"shape": [2], "datatype": "FP64", "data": ["NaN", "-Infinity"]}
    body = await ok(client, [
        {"name": "a", "op": "tensor", "args": [["Infinity", 1.0]]},
        {"name": "b", "op": "mul", "args": [obj, "Infinity"]},
        {"name": "c", "op": "clamp", "args": [[1e30, -1e30], "-Infinity", 5.0]},
        {"name": "d", "op": "full", "attrs": {"size": [1], "fill_value": "NaN"}},
    ])
    t = body["tensors"]
    assert t["a"]["data"] == ["Infinity", 1.0]
    assert t["b"]["data"] == ["NaN", "-Infinity"] and t["b"]["datatype"] == "FP64"
    assert t["c"]["data"] == [5.0, -1e30]
    assert t["d"]["data"] == ["NaN"]


async def test_gradients_through_nonfinite_values(client: httpx.AsyncClient) -> None:
    body = await ok(client, [
        {"name": "x", "op": "tensor", "args": [[0.0, 4.0]], "attrs": {"requires_grad": True}},
        {"op": "backward", "args": [{"op": "sum", "args": [{"op": "sqrt", "args": ["x"]}]}]},
    ])
    assert body["tensors"]["x"]["grad"]["data"] == ["Infinity", 0.25]


async def test_base64_both_ways_carries_nonfinite_natively(client: httpx.AsyncClient) -> None:
    raw = np.array([1.5, np.nan, -np.inf, 0.1], dtype="<f4")
    obj = {"shape": [2, 2], "datatype": "FP32", "b64": base64.b64encode(raw.tobytes()).decode()}
    body = await ok(client, [
        {"name": "x", "op": "tensor", "args": [obj], "attrs": {"requires_grad": True}},
        {"name": "flags", "op": "ne", "args": ["x", "x"]},
        {"op": "backward", "args": [{"op": "sum", "args": [{"op": "mul", "args": ["x", 2]}]}]},
    ], encoding="base64")
    x = body["tensors"]["x"]
    assert "data" not in x and x["shape"] == [2, 2] and x["datatype"] == "FP32"
    back = np.frombuffer(base64.b64decode(x["b64"]), dtype="<f4")
    np.testing.assert_array_equal(back, raw)
    grad = np.frombuffer(base64.b64decode(x["grad"]["b64"]), dtype="<f4")
    assert grad.tolist() == [2.0] * 4
    flags = body["tensors"]["flags"]
    assert flags["datatype"] == "BOOL"
    assert list(base64.b64decode(flags["b64"])) == [0, 1, 0, 0]


async def test_int64_and_bool_base64_inputs(client: httpx.AsyncClient) -> None:
    ints = np.array([-(2**63), 2**63 - 1], dtype="<i8")
    body = await ok(client, [
        {"name": "i", "op": "tensor", "args": [
            {"shape": [2], "datatype": "INT64", "b64": base64.b64encode(ints.tobytes()).decode()}]},
        {"name": "m", "op": "tensor", "args": [
            {"shape": [3], "datatype": "BOOL", "b64": base64.b64encode(b"\x01\x00\x01").decode()}]},
    ])
    assert body["tensors"]["i"]["data"] == [-(2**63), 2**63 - 1]
    assert body["tensors"]["m"]["data"] == [True, False, True]


async def test_json_encoding_of_float32_is_shortest_round_trip(client: httpx.AsyncClient) -> None:
    body = await ok(client, [{"name": "a", "op": "tensor", "args": [[0.1, 1e-45, 3.4e38]]}])
    data = body["tensors"]["a"]["data"]
    assert data == [0.1, 1e-45, 3.4e38]
    assert np.array(data, dtype=np.float32).tolist() == \
        np.array([0.1, 1e-45, 3.4e38], dtype=np.float32).tolist()
    assert not any(isinstance(v, float) and math.isnan(v) for v in data)
