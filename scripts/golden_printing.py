"""Write tests/golden/printing.json: real torch 2.13 tensor reprs.

Run with a Python that has torch 2.13 installed (never the project venv):

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0 numpy
    /tmp/torchvenv/bin/python scripts/golden_printing.py

Each case records the tensor's dtype, shape, flat data (non-finite floats as
the strings "NaN", "Infinity", "-Infinity"), its grad_fn class name or null,
requires_grad, and ``repr(tensor)``. tests/engine/test_printing.py rebuilds the
host array and checks that engine.printing.format_tensor gives the same text.
Tensors with a grad_fn are made with a real autograd op, so the suffix text is
torch's own.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

OUT = Path(__file__).resolve().parent.parent / "tests" / "golden" / "printing.json"

F32 = torch.float32
F64 = torch.float64
I64 = torch.int64
BOOL = torch.bool

cases: list[dict[str, Any]] = []


def _encode(value: Any) -> Any:
    # JSON has no nan/inf; spell them the way JavaScript's JSON would.
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):
            return "NaN"
        return "Infinity" if value > 0 else "-Infinity"
    return value


def add(case_id: str, t: torch.Tensor) -> None:
    """Record ``t`` (its repr, data and autograd state) under ``case_id``."""
    if any(c["id"] == case_id for c in cases):
        raise ValueError(f"duplicate case id {case_id}")
    if t.grad_fn is not None:
        grad_fn: str | None = type(t.grad_fn).__name__
    else:
        grad_fn = None
    cases.append(
        {
            "id": case_id,
            "dtype": str(t.dtype).removeprefix("torch."),
            "shape": list(t.shape),
            "data": [_encode(v) for v in t.detach().reshape(-1).tolist()],
            "device": "cpu",
            "grad_fn": grad_fn,
            "requires_grad": t.requires_grad,
            "repr": repr(t),
        }
    )


def tensor(data: Any, dtype: torch.dtype = F32) -> torch.Tensor:
    return torch.tensor(data, dtype=dtype)


def leaf(t: torch.Tensor) -> torch.Tensor:
    """A leaf requiring grad: prints ``requires_grad=True``."""
    return t.detach().clone().requires_grad_(True)


def with_mul(t: torch.Tensor) -> torch.Tensor:
    """Same values (x * 1 is exact, keeps -0. and nan) with grad_fn=<MulBackward0>."""
    return leaf(t) * 1


def tutorial() -> None:
    # The autograd tutorial, step by step.
    x = torch.ones(2, 2, requires_grad=True)
    add("tut_ones_requires_grad", x)
    y = x + 2
    add("tut_add_backward", y)
    z = y * y * 3
    add("tut_mul_backward", z)
    out = z.mean()
    add("tut_mean_backward", out)
    out.backward()
    assert x.grad is not None
    add("tut_grad_4_5", x.grad)

    # The vector-Jacobian example: y = x * 2**9, chosen to print the tutorial's numbers.
    x = leaf(tensor([293.4463, 50.6356, 1031.2501]) / 512)
    y = x * 2
    while y.data.norm() < 1000:
        y = y * 2
    add("tut_vector_mul_backward", y)
    y.backward(tensor([0.1, 1.0, 0.0001]))
    assert x.grad is not None
    add("tut_vector_grad_sci", x.grad)

    a = torch.tensor([[0.5, -2.0], [1.5, 3.0]])
    a = (a * 3) / (a - 1)
    a.requires_grad_(True)
    b = (a * a).sum()
    add("tut_sum_backward", b)


def float_modes() -> None:
    # Integer mode: every finite non-zero value is whole.
    add("int_mode_small", tensor([1.0, 2.0, 3.0]))
    add("int_mode_negative", tensor([-1.0, 10.0, 100.0]))
    add("int_mode_ratio_1000", tensor([1.0, 1000.0]))
    add("int_mode_ratio_over_1000_sci", tensor([1.0, 1001.0]))
    add("int_mode_1e8", tensor([1.0e8, 3.0], F64))
    add("int_mode_over_1e8_sci", tensor([1.0e9, 3.0]))
    add("int_mode_zeros", torch.zeros(3))
    add("int_mode_with_zero", tensor([0.0, 5.0, -12.0]))
    add("int_mode_huge_f32", tensor([1.0e10, 1.0]))
    add("int_mode_2d_widths", tensor([[1.0, -20.0], [300.0, 4.0]]))

    # Fixed point.
    add("fixed_basic", tensor([1.5, 2.25, -3.125]))
    add("fixed_f32_tenth", tensor([0.1]))
    add("fixed_f32_thirds", tensor([1 / 3, 2 / 3]))
    add("fixed_f32_tenths", tensor([0.1, 0.2, 0.3]))
    add("fixed_rounds_up", tensor([0.99999, 9.99996, 0.5]))
    add("fixed_widths", tensor([1.0, 10.5, -100.25]))
    add("fixed_small_and_big", tensor([0.001, 0.5]))
    add("fixed_1e_4_f64", tensor([0.0001, 0.01], F64))
    add("fixed_ratio_1000", tensor([0.5, 500.0]))

    # Scientific mode.
    add("sci_tiny", tensor([1.0e-5, 2.0e-5]))
    add("sci_1e_4_f32", tensor([0.0001, 0.01]))  # float32(1e-4) is just below 1e-4
    add("sci_ratio", tensor([0.001, 100.5]))
    add("sci_huge", tensor([1.5e9, 2.5]))
    add("sci_huge_f64", tensor([1.0e300, 1.5], F64))
    add("sci_tiny_f64", tensor([1.0e-300, 1.5], F64))
    add("sci_subnormal_f32", tensor([1.0e-45, 1.0]))
    add("sci_negative", tensor([-1.0e-5, 3.5, -2.0e3]))
    add("sci_2d", tensor([[1.0e-3, 2.0], [3.0e4, -4.5]]))


def nonfinite_and_zero() -> None:
    nan, inf = math.nan, math.inf
    add("nan_only", tensor([nan]))
    add("inf_pair", tensor([inf, -inf]))
    add("nan_inf_fixed", tensor([1.5, nan, inf]))
    add("nan_with_zero", tensor([0.0, nan]))
    add("nan_inf_int_mode", tensor([1.0, nan, -inf]))
    add("nan_sci", tensor([1.0e10, nan, 0.5]))
    add("neg_inf_fixed", tensor([0.5, -inf]))
    add("nan_inf_2d", tensor([[nan, 2.0], [-inf, 100.0]]))
    add("nan_0d", tensor(nan))
    add("neg_inf_0d", tensor(-inf))
    add("nan_f64", tensor([nan, 0.25], F64))
    add("nonfinite_all", tensor([nan, inf, -inf, nan]))

    add("neg_zero", tensor([-0.0]))
    add("neg_zero_pair", tensor([-0.0, 0.0]))
    add("neg_zero_fixed", tensor([-0.0, 1.5]))
    add("neg_zero_int_mode", tensor([-0.0, 1.0]))
    add("neg_zero_sci", tensor([-0.0, 1.0e-6]))
    add("neg_zero_0d", tensor(-0.0))
    add("neg_zero_grad_fn", with_mul(tensor([-0.0, 2.0])))


def zero_dim() -> None:
    add("0d_f32_int", tensor(27.0))
    add("0d_f32_frac", tensor(3.5))
    add("0d_f32_sci", tensor(1.0e-7))
    add("0d_f32_zero", tensor(0.0))
    add("0d_f64", tensor(2.5, F64))
    add("0d_f64_int", tensor(27.0, F64))
    add("0d_i64", tensor(7, I64))
    add("0d_i64_negative", tensor(-5, I64))
    add("0d_bool_true", tensor(True, BOOL))
    add("0d_bool_false", tensor(False, BOOL))
    add("0d_f16", tensor(0.1, torch.float16))
    add("0d_i32", tensor(42, torch.int32))
    add("0d_requires_grad", leaf(tensor(1.25)))
    add("0d_f64_grad_fn", leaf(tensor(2.0, F64)).sum())


def empty() -> None:
    add("empty_1d", torch.zeros(0))
    add("empty_0x3", torch.zeros(0, 3))
    add("empty_2x0x4", torch.zeros(2, 0, 4))
    add("empty_3x0", torch.zeros(3, 0))
    add("empty_i64", torch.zeros(0, dtype=I64))
    add("empty_bool", torch.zeros(0, dtype=BOOL))
    add("empty_f64_0x3", torch.zeros(0, 3, dtype=F64))
    add("empty_i64_2x0", torch.zeros(2, 0, dtype=I64))
    add("empty_requires_grad", leaf(torch.zeros(0, 3)))
    add("empty_grad_fn", with_mul(torch.zeros(2, 0, 4)))


def integers_and_bools() -> None:
    add("i64_basic", tensor([1, 2, 3], I64))
    add("i64_negative", tensor([-1, -100, 5], I64))
    add("i64_large", tensor([2**62, -(2**63), 0], I64))
    add("i64_big", tensor([123456789012, 7], I64))
    add("i64_2d", tensor([[1, -22], [333, 4]], I64))
    add("i64_3d", torch.arange(24, dtype=I64).reshape(2, 3, 4) - 5)
    add("i32_basic", tensor([1, 2, 3], torch.int32))
    add("bool_pair", tensor([True, False], BOOL))
    add("bool_all_true", tensor([True, True], BOOL))
    add("bool_all_false", tensor([False, False, False], BOOL))
    add("bool_2d", tensor([[True, False], [False, True]], BOOL))
    add("bool_long", torch.arange(30) % 3 == 0)


def wrapping() -> None:
    torch.manual_seed(0)
    add("wrap_f32_fixed", torch.arange(30.0) * 1.5)
    add("wrap_f32_randn", torch.randn(25))
    add("wrap_f32_sci", torch.randn(20) * 1.0e5)
    add("wrap_f32_int_mode", torch.arange(40.0) - 20)
    add("wrap_i64", torch.arange(40, dtype=I64) * 37)
    add("wrap_i64_large", tensor([10**15 + i for i in range(12)], I64))
    add("wrap_f64", torch.randn(17, dtype=F64))
    add("wrap_2d", torch.randn(3, 14))
    add("wrap_3d", torch.randn(2, 2, 15))
    add("wrap_grad_fn", with_mul(torch.randn(22)))
    add("wrap_bool", torch.arange(25) % 2 == 0)


def nesting() -> None:
    torch.manual_seed(1)
    add("2d_randn", torch.randn(3, 4))
    add("2d_column", torch.randn(4, 1))
    add("2d_row", torch.randn(1, 5))
    add("3d_randn", torch.randn(2, 3, 4))
    add("3d_int_mode", torch.arange(12.0).reshape(3, 2, 2))
    add("4d_randn", torch.randn(2, 2, 2, 3))
    add("4d_i64", torch.arange(16, dtype=I64).reshape(2, 2, 2, 2))
    add("5d_small", torch.arange(32.0).reshape(2, 2, 2, 2, 2) / 4)
    add("3d_singletons", torch.randn(1, 1, 3))
    add("2d_requires_grad", leaf(torch.randn(2, 3)))
    add("3d_grad_fn", with_mul(torch.randn(2, 2, 2)))
    add("2d_f64_grad_fn", with_mul(torch.randn(2, 3, dtype=F64)))


def summarised() -> None:
    torch.manual_seed(2)
    add("sum_1001", torch.arange(1001.0))
    add("sum_1001_fixed", torch.arange(1001.0) / 7)
    add("sum_40x40", torch.randn(40, 40))
    add("sum_3x500", torch.randn(3, 500))
    add("sum_1000x3", torch.randn(1000, 3))
    add("sum_2x2x300", torch.randn(2, 2, 300))
    add("sum_10x10x11", torch.randn(10, 10, 11))
    add("sum_i64_2000", torch.arange(2000, dtype=I64))
    add("sum_bool_1001", torch.arange(1001) % 2 == 0)
    add("sum_f64_grad_fn", with_mul(torch.randn(1001, dtype=F64)))
    add("sum_requires_grad", leaf(torch.randn(50, 30)))
    # The hidden middle must not influence the formatter: huge values only there.
    mid = torch.ones(2000)
    mid[1000] = 1.0e12
    add("sum_hidden_middle", mid)
    add("sum_not_over_1000", torch.arange(1000.0))
    add("sum_sci", torch.randn(1200) * 1.0e6)


def float64_and_suffixes() -> None:
    add("f64_basic", tensor([0.1, 0.2], F64))
    add("f64_requires_grad", leaf(tensor([1.0, 2.0], F64)))
    add("f64_grad_fn", with_mul(tensor([[1.5, -2.5], [3.0, 4.0]], F64)))
    add("f64_int_mode", tensor([1.0, 2.0], F64))
    add("f16_basic", tensor([0.1, 1000.0], torch.float16))
    add("f16_requires_grad", leaf(tensor([0.5, 1.5], torch.float16)))
    add("grad_fn_sum", leaf(torch.ones(3)).sum())
    add("grad_fn_div", leaf(torch.ones(3)) / 3)
    add("grad_fn_sub", leaf(torch.ones(2)) - 0.5)
    add("grad_fn_pow", leaf(tensor([1.0, 2.0])) ** 2)
    add("grad_fn_view", leaf(torch.ones(4)).view(2, 2))

    # Suffix wrapping: sweep the length of the last line past 80 columns.
    for n in range(5, 13):
        add(f"suffix_wrap_f64_{n}", with_mul(torch.arange(float(n), dtype=F64) * 1.25 + 100))
    for n in (8, 9, 10):
        add(f"suffix_wrap_f32_{n}", with_mul(torch.arange(float(n)) * 1.25 + 1000))
    add("suffix_wrap_2d", with_mul(torch.arange(16.0, dtype=F64).reshape(2, 8) * 1.25 + 100))


def main() -> None:
    assert torch.__version__.split("+")[0] == "2.13.0", torch.__version__
    tutorial()
    float_modes()
    nonfinite_and_zero()
    zero_dim()
    empty()
    integers_and_bools()
    wrapping()
    nesting()
    summarised()
    float64_and_suffixes()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # One case per line keeps the file diffable without one number per line.
    text = "[\n" + ",\n".join(json.dumps(c, allow_nan=False) for c in cases) + "\n]\n"
    OUT.write_text(text)
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
