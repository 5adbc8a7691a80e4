"""Float sums and means add in torch's order (issue 13 point 3): bit for bit torch 2.13's CPU
answers (tests/golden/float_sums.json, scripts/goldens_float_sums.py), so item() prints torch's
last digit. engine/summation.py says how."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import engine
from engine.backend import DEVICE
from tests.engine.cases_float_sums import values

GOLDEN = json.loads((Path(__file__).resolve().parent.parent / "golden" / "float_sums.json")
                    .read_text())["cases"]
# On CuPy the engine adds in the GPU's order (torch's CUDA order is another again): there the
# answers are checked to within rounding instead of bit for bit.
EXACT = DEVICE == "cpu"


def _input(case: dict[str, Any]) -> engine.Tensor:
    data = np.array(values(case["seed"], math.prod(case["shape"]), case["dtype"]),
                    dtype=case["dtype"]).reshape(case["shape"])
    x = engine.tensor(data)
    return x.transpose(0, -1) if case["transpose"] else x


def _hex(t: engine.Tensor) -> list[str]:
    return [float(v).hex() for v in t.numpy().reshape(-1).tolist()]


@pytest.mark.parametrize("case", GOLDEN, ids=[
    f"{c['dtype']}-{'x'.join(map(str, c['shape']))}-{c['dims']}{'-T' if c['transpose'] else ''}"
    f"{'-keep' if c['keepdim'] else ''}" for c in GOLDEN])
def test_sum_and_mean_are_torch_s_bits(case: dict[str, Any]) -> None:
    x = _input(case)
    dims, keep = case["dims"], case["keepdim"]
    total = x.sum() if dims is None else x.sum(dims, keepdim=keep)
    mean = x.mean() if dims is None else x.mean(dims, keepdim=keep)
    assert list(total.shape) == case["out_shape"]
    if not EXACT:
        tol = 1e-4 if case["dtype"] == "float32" else 1e-10
        want = [float.fromhex(v) for v in case["sum"]]
        assert np.allclose(total.numpy().reshape(-1), want, rtol=tol, atol=tol)
        return
    assert _hex(total) == case["sum"]
    assert _hex(mean)[:len(case["mean"])] == case["mean"]
    assert repr(x.sum().item()) == case["item"]


def test_the_golden_shows_numpy_s_order_would_differ() -> None:
    # The goldens test something: numpy's pairwise sums miss torch's bits in most of them.
    missed = sum(float(np.sum(_input(c).numpy(), dtype=c["dtype"])).hex() != c["sum"][0]
                 for c in GOLDEN if c["dims"] is None and math.prod(c["shape"]) > 64)
    assert missed > 20


def test_negative_zeros_sum_to_positive_zero() -> None:
    # torch's accumulators start at +0: a sum of -0.0s is +0.0
    assert str(engine.tensor([-0.0, -0.0]).sum()) == "tensor(0.)"
    assert str(engine.tensor([[-0.0], [-0.0]]).sum(0)) == "tensor([0.])"
