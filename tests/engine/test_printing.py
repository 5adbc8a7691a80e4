"""engine.printing.format_tensor against real torch 2.13 reprs.

The goldens in tests/golden/printing.json come from scripts/golden_printing.py,
run with real torch; torch itself is not needed here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine import printing
from engine.printing import format_tensor

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "printing.json"
CASES: list[dict[str, Any]] = json.loads(GOLDEN.read_text())

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _host_array(case: dict[str, Any]) -> np.ndarray:
    data = [_NONFINITE.get(v, v) if isinstance(v, str) else v for v in case["data"]]
    return np.array(data, dtype=case["dtype"]).reshape(case["shape"])


def test_golden_file_is_substantial() -> None:
    assert len(CASES) >= 100
    assert len({c["id"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_matches_torch(case: dict[str, Any]) -> None:
    values = _host_array(case)
    got = format_tensor(
        values,
        dtype=case["dtype"],
        device=case["device"],
        grad_fn=case["grad_fn"],
        requires_grad=case["requires_grad"],
    )
    assert got == case["repr"]


def test_tutorial_examples() -> None:
    ones = np.ones((2, 2), dtype=np.float32)
    assert (
        format_tensor(ones, dtype="float32", requires_grad=True)
        == "tensor([[1., 1.],\n        [1., 1.]], requires_grad=True)"
    )
    assert (
        format_tensor(np.float32(27.0), dtype="float32", grad_fn="MeanBackward0", requires_grad=True)
        == "tensor(27., grad_fn=<MeanBackward0>)"
    )
    grad = np.array([51.2, 512.0, 0.0512], dtype=np.float32)
    assert format_tensor(grad, dtype="float32") == "tensor([5.1200e+01, 5.1200e+02, 5.1200e-02])"


def test_float32_values_print_through_their_float32_value() -> None:
    assert format_tensor(np.array([0.1, 1 / 3], dtype=np.float32), dtype="float32") == (
        "tensor([0.1000, 0.3333])"
    )


def test_grad_fn_wins_over_requires_grad() -> None:
    x = np.array([1.0], dtype=np.float32)
    assert format_tensor(x, dtype="float32", grad_fn="AddBackward0", requires_grad=True) == (
        "tensor([1.], grad_fn=<AddBackward0>)"
    )


def test_cuda_device_suffix_comes_first() -> None:
    x = np.array([1.5, 2.0], dtype=np.float64)
    assert format_tensor(x, dtype="float64", device="cuda", requires_grad=True) == (
        "tensor([1.5000, 2.0000], device='cuda:0', dtype=torch.float64,\n       requires_grad=True)"
    )
    empty = np.zeros((0, 3), dtype=np.int64)
    assert format_tensor(empty, dtype="int64", device="cuda") == (
        "tensor([], device='cuda:0', size=(0, 3), dtype=torch.int64)"
    )


def test_cuda_suffixes_wrap_past_80_columns() -> None:
    # Last line "tensor([...])" is long enough that the device suffix fits but
    # grad_fn moves to its own line, indented under the opening bracket.
    x = np.arange(8, dtype=np.float32) * 1.25 + 1000
    got = format_tensor(x, dtype="float32", device="cuda", grad_fn="MulBackward0")
    assert got == (
        "tensor([1000.0000, 1001.2500, 1002.5000, 1003.7500, 1005.0000, 1006.2500,\n"
        "        1007.5000, 1008.7500], device='cuda:0', grad_fn=<MulBackward0>)"
    )


def test_accepts_plain_lists() -> None:
    assert format_tensor([[True, False]], dtype="bool") == "tensor([[ True, False]])"


def test_rejects_unknown_dtype() -> None:
    with pytest.raises(ValueError):
        format_tensor(np.zeros(1), dtype="complex64")


def _kept(n: int, summarize: bool) -> list[int | None]:
    """The indices a level shows: all, or its first and last EDGEITEMS around a gap (None)."""
    if summarize and n > 2 * printing.EDGEITEMS:
        return [*range(printing.EDGEITEMS), None, *range(n - printing.EDGEITEMS, n)]
    return list(range(n))


def _reference_layout(texts: np.ndarray, indent: int, summarize: bool, width: int) -> str:
    """The layout rule in its slowest, plainest form, one call per sub-list: a row pads each
    text to ``width`` and wraps after as many as fit in LINEWIDTH; a higher level joins its
    sub-lists with a comma and one newline per level below it, indented one column deeper."""
    shown = _kept(len(texts), summarize)
    if texts.ndim == 1:
        cells = [" ..." if k is None else str(texts[k]).rjust(width) for k in shown]
        fit = max(1, (printing.LINEWIDTH - indent) // (width + 2))
        lines = [", ".join(cells[k:k + fit]) for k in range(0, len(cells), fit)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    parts = ["..." if k is None else _reference_layout(texts[k], indent + 1, summarize, width)
             for k in shown]
    return "[" + ("," + "\n" * (texts.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


SHAPES = [(1,), (5,), (40,), (1, 1), (2, 2), (3, 1), (1, 7), (4, 30), (2, 3, 4), (1, 2, 1, 3),
          (3, 2, 2, 2, 2), (2000,), (9, 8), (1001, 1), (2, 700), (8, 2, 90), (7, 1, 7, 30)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_layout_is_the_plain_rule(shape: tuple[int, ...]) -> None:
    # printing._nested_str lays out every sub-list of a level once, on placeholders; it must
    # give the plain rule's text (the goldens hold torch's own for real tensors), rows wrapped
    # and middles hidden, for texts narrower than the width (padded) and wider (left as is)
    rng = np.random.default_rng(0)
    size = math.prod(shape)
    summarize = size > printing.THRESHOLD
    for width in (1, 2, 6, 10, 35):
        lengths = rng.integers(1, width + 3, size)
        texts = np.array(["x" * int(k) for k in lengths], dtype=object).reshape(shape)
        for indent in (7, 20):
            shown = printing._summarized(texts) if summarize else texts
            cut = tuple(summarize and n > 2 * printing.EDGEITEMS for n in shape)
            got = printing._nested_str(shown.reshape(-1).tolist(), shown.shape, cut, indent,
                                       width)
            assert got == _reference_layout(texts, indent, summarize, width), (width, indent)
            # (again: a small geometry's layout is then the one remembered)
            assert printing._nested_str(shown.reshape(-1).tolist(), shown.shape, cut, indent,
                                        width) == got
