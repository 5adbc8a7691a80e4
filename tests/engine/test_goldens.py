"""The engine against real PyTorch 2.13, case by case, from ``tests/golden/ops.json``.

The golden file is written by ``scripts/make_goldens.py`` (which needs torch; these tests do not).
Each case rebuilds its inputs with the engine, calls the op through the registry with the same
arguments torch got, and compares every output (values, shape, dtype, requires_grad, is_leaf, the
grad_fn graph with its next_functions and AccumulateGrad variables), then calls backward with the
recorded seed gradient and compares each input's ``.grad``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import engine as ge
from engine.registry import OPS
from service.spellings import converters

# ops.json holds the core ops; ops_<family>.json each later family (scripts/make_goldens.py FAMILY).
GOLDEN_FILES = sorted((Path(__file__).resolve().parents[1] / "golden").glob("ops*.json"))
GOLDEN_DATA: list[dict[str, Any]] = [json.loads(p.read_text()) for p in GOLDEN_FILES]
CASES: list[dict[str, Any]] = [c for data in GOLDEN_DATA for c in data["cases"]]

NP_DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "bool": np.bool_}
NONFINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
TOLERANCES = {"float32": {"rtol": 1e-5, "atol": 1e-6}, "float64": {"rtol": 1e-10, "atol": 1e-12}}


# ----------------------------------------------------------------------------------------------
# helpers


def golden_array(rec: dict[str, Any]) -> np.ndarray:
    """``{"shape", "dtype", "data"}`` -> numpy array."""
    data = [NONFINITE.get(x, x) if isinstance(x, str) else x for x in rec["data"]]
    return np.array(data, dtype=NP_DTYPES[rec["dtype"]]).reshape(rec["shape"])


def build_arg(value: Any, path: Any, inputs: dict[str, Any]) -> Any:
    """JSON argument -> engine value; every tensor built is kept in ``inputs`` under its path."""
    if isinstance(value, dict) and "tensor" in value:
        spec = value["tensor"]
        t = ge.tensor(golden_array(spec), dtype=spec["dtype"], requires_grad=spec["requires_grad"])
        inputs[json.dumps(path)] = t
        return t
    if isinstance(value, list):
        prefix = path if isinstance(path, list) else [path]
        return [build_arg(v, [*prefix, i], inputs) for i, v in enumerate(value)]
    if isinstance(value, str) and value in NONFINITE:
        return NONFINITE[value]
    return value


def host(t: Any) -> np.ndarray:
    return np.asarray(t.detach().numpy())


def assert_tensor(actual: Any, expected: dict[str, Any], what: str, precision: str | None = None
                  ) -> None:
    """``precision`` overrides the dtype's tolerance: a float64 grad that flowed through float32
    arithmetic carries float32 rounding (and torch's float32 summation order is not ours)."""
    assert tuple(actual.shape) == tuple(expected["shape"]), f"{what}: shape"
    assert actual.dtype.name == expected["dtype"], f"{what}: dtype"
    if expected["data"] is None:  # random op: values are not comparable with torch's
        return
    got, want = host(actual), golden_array(expected)
    assert got.shape == want.shape, f"{what}: host array shape"
    if expected["dtype"] in TOLERANCES:
        np.testing.assert_allclose(got, want, equal_nan=True, err_msg=what,
                                   **TOLERANCES[precision or expected["dtype"]])
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def node_name(node: Any) -> str:
    return node.name().removeprefix("torch::autograd::")


def assert_graph(node: Any, expected: Any, inputs: dict[str, Any], where: str) -> None:
    if expected is None:
        assert node is None, f"{where}: expected no node, got {node_name(node)}"
        return
    assert node is not None, f"{where}: expected {expected['name']}, got None"
    name = node_name(node)
    assert name == expected["name"], f"{where}: node name"
    if name == "AccumulateGrad":
        leaf = inputs[json.dumps(expected["variable"])]
        assert node.variable is leaf, f"{where}: AccumulateGrad.variable is not input {expected['variable']}"
        return
    nexts = tuple(node.next_functions)
    got_shape = [(None if n is None else node_name(n), i) for n, i in nexts]
    want_shape = [(None if n is None else n["name"], i) for n, i in expected["next"]]
    assert got_shape == want_shape, f"{where}: next_functions of {name}"
    for k, ((child, _), (want, _)) in enumerate(zip(nexts, expected["next"], strict=True)):
        assert_graph(child, want, inputs, f"{where}.next[{k}]")


def run_case(case: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    inputs: dict[str, Any] = {}
    op = OPS[case["op"]]
    args = [build_arg(a, i, inputs) for i, a in enumerate(case["args"])]
    kwargs = {k: build_arg(v, k, inputs) for k, v in case["kwargs"].items()}
    # the JSON spellings of slices, Ellipsis and infinity, read as the service reads them
    spelled = converters(op.attrs)
    names = [p.name for p in op.params]
    args = [spelled[names[i]](a) if i < len(names) and names[i] in spelled else a
            for i, a in enumerate(args)]
    kwargs = {k: spelled[k](v) if k in spelled else v for k, v in kwargs.items()}
    # a second-order twin passes its first argument through clone or t (goldens_second_order.py)
    if case.get("first_arg"):
        args[0] = getattr(args[0], case["first_arg"])()
    result = op.fn(*args, **kwargs)
    outs = list(result) if isinstance(result, (tuple, list)) else [result]
    return outs, inputs


# ----------------------------------------------------------------------------------------------
# tests


@pytest.mark.parametrize("data", GOLDEN_DATA, ids=[p.name for p in GOLDEN_FILES])
def test_golden_header(data: dict[str, Any]) -> None:
    assert data["torch_version"].startswith("2.13.")
    assert data["num_cases"] == len(data["cases"])


def test_golden_ids_unique() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_golden_case(case: dict[str, Any]) -> None:
    if case["op"] not in OPS:
        pytest.fail(f"op {case['op']!r} is not in the registry")
    outs, inputs = run_case(case)
    assert len(outs) == len(case["outputs"]), "number of outputs"
    for k, (out, want) in enumerate(zip(outs, case["outputs"], strict=True)):
        what = f"output {k}"
        assert_tensor(out, want, what, precision=_case_precision(case))
        assert out.requires_grad == want["requires_grad"], f"{what}: requires_grad"
        assert out.is_leaf == want["is_leaf"], f"{what}: is_leaf"
        if want["same_object_as"] is not None:
            assert out is inputs[json.dumps(want["same_object_as"])], f"{what}: should be the input itself"
        else:
            assert all(out is not t for t in inputs.values()), f"{what}: should be a new tensor"
        assert_graph(out.grad_fn, want["grad_fn"], inputs, f"{what}.grad_fn")

    if "seed" not in case:
        return
    seed = ge.tensor(golden_array(case["seed"]), dtype=case["seed"]["dtype"])
    outs[0].backward(gradient=seed)
    for entry in case["grads"]:
        leaf = inputs[json.dumps(entry["variable"])]
        what = f"grad of input {entry['variable']}"
        if entry["grad"] is None:
            assert leaf.grad is None, f"{what}: expected None"
        else:
            assert leaf.grad is not None, f"{what}: missing"
            assert_tensor(leaf.grad, entry["grad"], what, precision=_case_precision(case))


def _case_precision(case: dict[str, Any]) -> str:
    """float32 if any tensor of the case is float32, else float64."""
    text = json.dumps([case["args"], case["kwargs"], case.get("outputs")])
    return "float32" if '"dtype": "float32"' in text or '"dtype":"float32"' in text else "float64"


def test_golden_ops_exist_in_registry() -> None:
    missing = sorted({c["op"] for c in CASES} - set(OPS))
    assert not missing, f"ops used by golden cases but not in the registry: {missing}"


def test_every_registry_op_has_a_golden_case() -> None:
    covered = {c["op"] for c in CASES}
    uncovered = sorted({op.name for op in OPS.values()} - covered)
    assert not uncovered, f"registry ops without a golden case: {uncovered}"
