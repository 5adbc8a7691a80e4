"""Write tests/golden/call_forms.json: how torch 2.13 reads sizes given in its call forms.

Run with a Python that has torch 2.13 (never the project venv):

    /work/torchvenv/bin/python scripts/golden_call_forms.py

torch lets creation functions (``ones(2, 3)``) and some Tensor methods (``x.view(2, 3)``) take
their ints as varargs as well as one sequence; other functions take only the sequence
(``full((2, 3), 1.0)``, ``randint(0, 3, (2,))``). Each case is a call, a function or method name
with positional and keyword arguments (JSON lists stand for torch's tuples), and torch's answer:
the result's shape and dtype, or the exception's type and message. tests/engine/test_call_forms.py
makes the same calls on the engine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

OUT = Path(__file__).resolve().parent.parent / "tests" / "golden" / "call_forms.json"

VARARGS_FUNCTIONS = ["ones", "zeros", "rand", "randn"]
VARARGS_METHODS = {"view": [2, 3], "reshape": [3, 2], "expand": [2, 2, 3], "broadcast_to": [2, 2, 3],
                   "repeat": [1, 2], "tile": [2, 1], "permute": [1, 0], "flip": [0, 1]}


def _calls() -> list[tuple[str, list[Any], dict[str, Any]]]:
    calls: list[tuple[str, list[Any], dict[str, Any]]] = []
    for fn in VARARGS_FUNCTIONS:
        calls += [
            (fn, [2, 3], {}), (fn, [[2, 3]], {}), (fn, [], {"size": [2, 3]}), (fn, [4], {}),
            (fn, [[]], {}), (fn, [2, 3], {"dtype": "float64", "requires_grad": True}),
            (fn, [2, [3]], {}), (fn, [[2], 3], {}), (fn, [[2], [3]], {}), (fn, [2, 3.0], {}),
            (fn, [2.0], {}), (fn, [None], {}), (fn, [True], {}), (fn, [[True, 2]], {}),
            (fn, [[2, 3.0]], {}), (fn, [2, None], {}), (fn, [2], {"size": [2]}),
            (fn, [], {"size": 2}), (fn, [], {}), (fn, [-1, 2], {}),
        ]
    calls += [
        ("full", [[2, 3], 1.5], {}), ("full", [], {"size": [2], "fill_value": 2}),
        ("full", [2, 1.5], {}), ("full", [[2, 3.0], 1.5], {}), ("full", [], {"size": 2, "fill_value": 1.0}),
        ("randint", [3, [2, 2]], {}), ("randint", [1, 3, [4]], {}), ("randint", [0, 3], {}),
        ("randint", [0, 3, [2, 2.0]], {}), ("randint", [], {"high": 3, "size": [2]}),
        ("randint", [0, 3, 2], {}),
    ]
    for method, good in VARARGS_METHODS.items():
        calls += [
            ("x." + method, good, {}), ("x." + method, [good], {}),
            ("x." + method, [good[0], good[1:]], {}), ("x." + method, [good[0], 1.0], {}),
            ("x." + method, [], {}),
        ]
    return calls


def _answer(callee: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    torch.manual_seed(0)
    kwargs = dict(kwargs)
    if "dtype" in kwargs:
        kwargs["dtype"] = getattr(torch, kwargs["dtype"])
    if callee.startswith("x."):
        receiver = torch.ones(1, 3) if callee in ("x.expand", "x.broadcast_to") else torch.ones(2, 3)
        fn = getattr(receiver, callee[2:])
    else:
        fn = getattr(torch, callee)
    try:
        out = fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - the golden records whichever error torch raises
        return {"error": type(e).__name__, "message": str(e)}
    return {"shape": list(out.shape), "dtype": str(out.dtype).removeprefix("torch."),
            "requires_grad": out.requires_grad}


def main() -> None:
    cases = [{"call": callee, "args": args, "kwargs": kwargs, **_answer(callee, args, kwargs)}
             for callee, args, kwargs in _calls()]
    OUT.write_text(json.dumps({"torch": torch.__version__, "cases": cases}, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
