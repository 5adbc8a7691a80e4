#!/usr/bin/env python3
"""Write ``tests/golden/functional.json``: what torch.autograd.functional (torch 2.13) answers.

Run from the repository root with the torch environment of make_goldens.py::

    /tmp/torchvenv/bin/python scripts/goldens_functional.py

Each case names an API (jacobian, hessian, vjp, jvp, hvp, vhp), a function given as Python source
that both torch and the engine can run (operators and Tensor methods, plus ``F.einsum`` and
``F.solve``: torch.einsum / torch.linalg.solve here, engine.ops in the tests), its inputs and ``v``
(made with make_goldens.py's helpers), and keyword arguments.  The file records the result (tensors
as shape, dtype, flat data, requires_grad; tuples as lists) or, for a case that must fail, torch's
error message.  tests/engine/test_functional.py checks the engine's functional API, and its
graph-based variants (jacobian_of, ...), against it.
"""

from __future__ import annotations

import json
import sys
import types
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.autograd import functional as AF  # noqa: N812

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_goldens import DTYPE_NAMES, TensorSpec, decode_arg, encode_arg, f64, jnum, vals  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "golden" / "functional.json"

# The functions, by name. `F` is torch here and engine.ops in the tests.
FUNCS = {
    "cube_sum": "lambda x: (x ** 3).sum()",
    # the autograd tutorial's vector function: y = x * 2^k, k set by the data (9 here)
    "tutorial": ("def f(x):\n    y = x * 2\n    while y.data.norm() < 1000:\n        y = y * 2\n"
                 "    return y\n"),
    "sin_exp": "lambda x: x.sin() * x.exp()",
    "sin_exp_sum": "lambda x: (x.sin() * x.exp()).sum()",
    "pair": "lambda x, y: (x * y, x.sum() * y)",
    "pair_sum": "lambda x, y: (x * x * y).sum() + (x * y).tanh().sum()",
    "linear": "lambda x: (x * 3).sum()",
    "inverse": "lambda A: A.inverse()",
    "inverse_sum": "lambda A: (A.inverse() * A).sum()",
    "det": "lambda A: A.det()",
    "logabsdet": "lambda A: A.slogdet()[1]",
    "cholesky_gram": "lambda A: (A @ A.transpose(0, 1)).cholesky()",
    "cholesky_gram_sum": "lambda A: (A @ A.transpose(0, 1)).cholesky().sin().sum()",
    "solve": "lambda A, b: F.solve(A, b)",
    "solve_sq": "lambda A, b: (F.solve(A, b) ** 2).sum()",
    "bilinear": "lambda A, x: F.einsum('bi,ij,bj->b', x, A, x)",
    "bilinear_sum": "lambda A, x: F.einsum('bi,ij,bj->b', x, A, x).sum()",
    "trace_square": "lambda A: (A @ A).trace()",
}

M3 = [[4.0, 1.0, -0.5], [0.5, 3.0, 0.25], [-1.0, 0.5, 5.0]]
TUTORIAL_X = [293.4463 / 512, 50.6356 / 512, 1031.2501 / 512]


def g64(*shape: int) -> TensorSpec:
    return f64(*shape, grad=False)


def m3() -> TensorSpec:
    return vals(M3, "float64", grad=False)


@dataclass(frozen=True)
class G:
    id: str
    api: str
    fn: str
    inputs: Any  # a TensorSpec or a tuple of them
    v: Any = None
    kwargs: dict[str, Any] = field(default_factory=dict)


CASES = [
    # torch's own examples (shared/reference/torch-2.13/misc_probe.out)
    G("hessian_cube_sum", "hessian", "cube_sum", vals([1.0, 2.0], grad=False)),
    G("hvp_cube_sum", "hvp", "cube_sum", vals([1.0, 2.0], grad=False), vals([1.0, 1.0], grad=False)),
    G("vhp_cube_sum", "vhp", "cube_sum", vals([1.0, 2.0], grad=False), vals([1.0, 1.0], grad=False)),
    G("jacobian_cube_sum", "jacobian", "cube_sum", vals([1.0, 2.0], grad=False)),
    G("vjp_cube_sum_implicit_v", "vjp", "cube_sum", vals([1.0, 2.0], grad=False)),
    G("jvp_cube_sum", "jvp", "cube_sum", vals([1.0, 2.0], grad=False), vals([1.0, 1.0], grad=False)),
    # the tutorial's vector function
    G("jacobian_tutorial", "jacobian", "tutorial", vals(TUTORIAL_X, grad=False)),
    G("vjp_tutorial", "vjp", "tutorial", vals(TUTORIAL_X, grad=False), vals([0.1, 1.0, 0.0001], grad=False)),
    G("jvp_tutorial", "jvp", "tutorial", vals(TUTORIAL_X, grad=False), vals([1.0, -1.0, 2.0], grad=False)),
    # elementwise and tuple structure
    G("jacobian_sin_exp", "jacobian", "sin_exp", g64(3)),
    G("hessian_sin_exp_sum", "hessian", "sin_exp_sum", g64(3)),
    G("jvp_sin_exp", "jvp", "sin_exp", g64(3), g64(3)),
    G("jacobian_pair", "jacobian", "pair", (g64(3), g64(3))),
    G("vjp_pair", "vjp", "pair", (g64(3), g64(3)), (g64(3), g64(3))),
    G("jvp_pair", "jvp", "pair", (g64(3), g64(3)), (g64(3), g64(3))),
    G("hessian_pair_sum", "hessian", "pair_sum", (g64(2), g64(2))),
    G("hvp_pair_sum", "hvp", "pair_sum", (g64(2), g64(2)), (g64(2), g64(2))),
    G("vhp_pair_sum", "vhp", "pair_sum", (g64(2), g64(2)), (g64(2), g64(2))),
    G("hessian_linear_is_zero", "hessian", "linear", g64(3)),
    G("jacobian_create_graph", "jacobian", "sin_exp", g64(3), kwargs={"create_graph": True}),
    G("hvp_create_graph", "hvp", "sin_exp_sum", g64(3), g64(3), kwargs={"create_graph": True}),
    # linear algebra: first and second derivatives through the linalg ops
    G("jacobian_inverse", "jacobian", "inverse", m3()),
    G("hessian_inverse_sum", "hessian", "inverse_sum", m3()),
    G("jacobian_det", "jacobian", "det", m3()),
    G("hessian_det", "hessian", "det", m3()),
    G("jacobian_logabsdet", "jacobian", "logabsdet", m3()),
    G("hessian_logabsdet", "hessian", "logabsdet", m3()),
    G("jacobian_cholesky", "jacobian", "cholesky_gram", m3()),
    G("hessian_cholesky", "hessian", "cholesky_gram_sum", m3()),
    G("jacobian_solve", "jacobian", "solve", (m3(), g64(3))),
    G("hessian_solve", "hessian", "solve_sq", (m3(), g64(3))),
    G("jacobian_einsum_bilinear", "jacobian", "bilinear", (g64(3, 3), g64(2, 3))),
    G("hessian_einsum_bilinear", "hessian", "bilinear_sum", (g64(3, 3), g64(2, 3))),
    G("hvp_einsum_bilinear", "hvp", "bilinear_sum", (g64(3, 3), g64(2, 3)), (g64(3, 3), g64(2, 3))),
    G("hessian_trace", "hessian", "trace_square", g64(2, 2)),
    # torch's errors
    G("error_hessian_linear_strict", "hessian", "linear", g64(3), kwargs={"strict": True}),
    G("error_vjp_needs_v", "vjp", "sin_exp", g64(3)),
    G("error_jvp_v_size", "jvp", "sin_exp", g64(3), g64(2)),
    G("error_hvp_not_scalar", "hvp", "sin_exp", g64(3), g64(3)),
]


# ----------------------------------------------------------------------------------------------
def load(source: str, namespace: Any) -> Any:
    """The function a FUNCS entry defines (a lambda expression or a ``def``)."""
    scope: dict[str, Any] = {"F": namespace}
    if source.startswith("def "):
        exec(source, scope)  # noqa: S102 - the sources are this file's own
        return scope["f"]
    return eval(source, scope)  # noqa: S307


TORCH_F = types.SimpleNamespace(einsum=torch.einsum, solve=torch.linalg.solve)


def encode(spec: Any, rng: np.random.Generator) -> Any:
    if isinstance(spec, tuple):
        return [encode_arg(s, rng) for s in spec]
    return encode_arg(spec, rng)


def decode(value: Any, was_tuple: bool) -> Any:
    if was_tuple:
        return tuple(decode_arg(v, i, {}) for i, v in enumerate(value))
    return decode_arg(value, 0, {})


def result_record(value: Any) -> Any:
    if isinstance(value, tuple):
        return [result_record(v) for v in value]
    return {"shape": list(value.shape), "dtype": DTYPE_NAMES[value.dtype],
            "data": [jnum(x) for x in value.detach().reshape(-1).tolist()],
            "requires_grad": value.requires_grad}


def run_case(case: G) -> dict[str, Any]:
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    inputs = encode(case.inputs, rng)
    v = None if case.v is None else encode(case.v, rng)
    record: dict[str, Any] = {"id": case.id, "api": case.api, "fn": FUNCS[case.fn],
                              "inputs": inputs, "inputs_tuple": isinstance(case.inputs, tuple),
                              "v": v, "v_tuple": isinstance(case.v, tuple), "kwargs": case.kwargs}
    fn = load(FUNCS[case.fn], TORCH_F)
    args = [fn, decode(inputs, isinstance(case.inputs, tuple))]
    if case.api not in ("jacobian", "hessian"):
        args.append(None if v is None else decode(v, isinstance(case.v, tuple)))
    try:
        record["result"] = result_record(getattr(AF, case.api)(*args, **case.kwargs))
    except (RuntimeError, TypeError) as exc:
        record["error"] = str(exc)
    return record


def main() -> None:
    torch.manual_seed(0)
    records = [run_case(c) for c in CASES]
    header = {"torch_version": torch.__version__, "generator": "scripts/goldens_functional.py",
              "num_cases": len(records)}
    head = json.dumps(header, allow_nan=False)[:-1]
    body = ",\n".join(json.dumps(r, allow_nan=False, separators=(",", ":")) for r in records)
    OUT.write_text(f'{head}, "cases": [\n{body}\n]}}\n')
    print(f"wrote {len(records)} cases to {OUT}")


if __name__ == "__main__":
    main()
