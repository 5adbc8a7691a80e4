"""Argument errors: the engine against torch 2.13's exact messages, from
``tests/golden/argument_errors.json`` (written by ``scripts/goldens_argument_errors.py``).

Every case is a registry op called with one wrong argument that its signature admits. Where torch
refused the call, the engine must refuse it with torch's message verbatim and an error class of
the same family; where torch accepted it, the engine must accept it too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.errors import ArgumentError, AutogradError, DTypeError, EngineError, ShapeError
from engine.registry import OPS
from tests.engine.test_goldens import run_case

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "argument_errors.json"
DATA: dict[str, Any] = json.loads(GOLDEN.read_text())
CASES: list[dict[str, Any]] = DATA["cases"]

# torch's exception class -> the engine classes that stand for it (the service maps each engine
# class to a problem type; torch's class is the family the engine's must belong to)
FAMILIES: dict[str, tuple[type[EngineError], ...]] = {
    "RuntimeError": (ShapeError, DTypeError, ArgumentError, AutogradError),
    "IndexError": (ShapeError, ArgumentError, DTypeError),  # (a float index tensor is one)
    "ValueError": (ArgumentError, ShapeError),
    "TypeError": (DTypeError, ArgumentError),
    "NotImplementedError": (DTypeError, ArgumentError),  # (pad's unknown mode is one)
    "AssertionError": (ArgumentError,),
}

# Ops that no misuse their signature admits makes torch refuse: each with the reason.
UNREFUSABLE = {
    **dict.fromkeys(
        ("cos", "erf", "exp", "exp2", "expm1", "log", "log1p", "reciprocal", "rsqrt", "sigmoid",
         "sign", "sin", "sqrt", "square", "tan", "tanh", "isnan", "logical_not"),
        "unary elementwise: any rank, an empty tensor and every dtype are valid (ints and bools "
        "are promoted or compared)"),
    **dict.fromkeys(("clone", "contiguous", "zero_"),
                    "one tensor of any shape and dtype, no other argument"),
    "to": "every dtype converts to every other",
}


def test_header() -> None:
    assert DATA["torch_version"].startswith("2.13."), "run the torch step of the generator"
    assert DATA["num_cases"] == len(CASES)
    assert all("torch" in c for c in CASES), "cases without torch's answer"


# Cases where gradserve knowingly answers otherwise than torch: each with the reason.
_CHOLESKY_EMPTY = ("torch.cholesky returns a 0x3 input unchanged (its emptiness check comes "
                   "before the square check); gradserve refuses a matrix that is not square, "
                   "empty or not")
KNOWN_DIFFERENCES = {
    "cholesky.input.empty": _CHOLESKY_EMPTY,
    "cholesky.input.empty.full": _CHOLESKY_EMPTY,
}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_argument_error(case: dict[str, Any]) -> None:
    want = case["torch"]
    if case["id"] in KNOWN_DIFFERENCES:
        with pytest.raises(EngineError):  # the difference is still there (else drop the entry)
            run_case(case)
        return
    try:
        run_case(case)
    except EngineError as err:
        assert "error" in want, f"torch accepts this call; the engine refused: {err.message}"
        assert err.message == want["message"]
        family = FAMILIES[want["error"]]
        assert isinstance(err, family), (
            f"torch raises {want['error']}; the engine's {type(err).__name__} is not one of "
            f"{[c.__name__ for c in family]}")
    else:
        assert "error" not in want, f"torch refuses: {want['error']}: {want['message']}"


def test_known_differences_name_cases() -> None:
    assert KNOWN_DIFFERENCES.keys() <= {c["id"] for c in CASES}


def test_every_registry_op_has_an_argument_error_case() -> None:
    refused = {c["op"] for c in CASES if "error" in c["torch"]}
    ops = {op.name for op in OPS.values()}
    missing = sorted(ops - refused - UNREFUSABLE.keys())
    assert not missing, f"registry ops without an argument-error case: {missing}"
    stale = sorted(UNREFUSABLE.keys() & refused)
    assert not stale, f"exempted, but they have cases now: {stale}"
