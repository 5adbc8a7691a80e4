"""The in-place scenarios (tests/engine/inplace_scenarios.py) on the engine, against what torch
2.13 observed in each (tests/golden/inplace_scenarios.json, from
scripts/goldens_inplace_scenarios.py): values, dtypes, flags, versions, grad_fn chains, grads and
error messages."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

import engine as ge
from tests.engine.inplace_scenarios import SCENARIOS

GOLDEN = json.loads((Path(__file__).resolve().parents[1] / "golden" / "inplace_scenarios.json")
                    .read_text())


def test_golden_header() -> None:
    assert GOLDEN["torch_version"].startswith("2.13.")
    assert set(GOLDEN["scenarios"]) == set(SCENARIOS)


def _same(got: Any, want: Any, where: str) -> None:
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        assert math.isclose(got, want, rel_tol=1e-5, abs_tol=1e-6), f"{where}: {got} != {want}"
    elif isinstance(want, list) and isinstance(got, list):
        assert len(got) == len(want), f"{where}: length {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _same(g, w, f"{where}[{i}]")
    elif isinstance(want, dict) and isinstance(got, dict):
        assert set(got) == set(want), f"{where}: keys {sorted(got)} != {sorted(want)}"
        for k in want:
            _same(got[k], want[k], f"{where}.{k}")
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(name: str) -> None:
    want = GOLDEN["scenarios"][name]
    try:
        got = SCENARIOS[name](ge)
    except Exception as exc:  # noqa: BLE001 - torch's answer may be an error too
        got = {"uncaught": str(exc)}
    _same(got, want, name)
