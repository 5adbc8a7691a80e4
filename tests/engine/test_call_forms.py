"""torch's call forms for sizes (issue 13 point 5): every creation function that torch lets take
its size as varargs (``ones(2, 3)``) takes it so here too, as well as one sequence or a keyword, and
the mixed forms fail with torch's TypeError. The answers are torch's, from
tests/golden/call_forms.json (scripts/golden_call_forms.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.errors import EngineError
from engine.registry import OPS

GOLDEN = json.loads((Path(__file__).resolve().parent.parent / "golden" / "call_forms.json")
                    .read_text())["cases"]

# The errors torch raises that are not about the call form: raised by the engine as its own
# EngineError classes, with torch's message.
ENGINE_CLASSES = {"TypeError": TypeError, "RuntimeError": EngineError}


def _call(case: dict[str, Any]) -> Any:
    kwargs = dict(case["kwargs"])
    if case["call"].startswith("x."):
        receiver = engine.ones(1, 3) if case["call"] in ("x.expand", "x.broadcast_to") \
            else engine.ones(2, 3)
        return getattr(receiver, case["call"][2:])(*case["args"], **kwargs)
    with engine.execution(seed=0):
        return getattr(engine, case["call"])(*case["args"], **kwargs)


@pytest.mark.parametrize("case", GOLDEN, ids=[
    f"{c['call']}({', '.join(map(str, c['args']))}{''.join(f', {k}={v}' for k, v in c['kwargs'].items())})"
    for c in GOLDEN])
def test_call_form_answers_as_torch(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(ENGINE_CLASSES[case["error"]]) as caught:
            _call(case)
        assert str(caught.value) == case["message"]
    else:
        out = _call(case)
        assert [list(out.shape), out.dtype.name, out.requires_grad] == \
            [case["shape"], case["dtype"], case["requires_grad"]]


def test_every_varargs_creation_op_is_in_the_golden() -> None:
    # Each creation op whose first parameter is a size is called in both forms in the golden.
    sized = {name for name, op in OPS.items() if op.creation and op.params
             and op.params[0].name == "size"}
    both = {c["call"] for c in GOLDEN if "error" not in c and len(c["args"]) == 2
            and all(isinstance(a, int) for a in c["args"])} & \
        {c["call"] for c in GOLDEN if "error" not in c and len(c["args"]) == 1
         and isinstance(c["args"][0], list)}
    assert sized <= both | {"full"}  # (torch's full takes its size as one sequence only)
    assert "full" in {c["call"] for c in GOLDEN}


def test_the_seed_tutorial_first_line_runs_as_written() -> None:
    x = engine.ones(2, 2, requires_grad=True)
    out = ((x + 2) * (x + 2) * 3).mean()
    out.backward()
    assert x.grad is not None and x.grad.tolist() == [[4.5, 4.5], [4.5, 4.5]]


def test_a_call_form_error_is_a_type_error_and_an_engine_error() -> None:
    # Python callers catch it as torch's TypeError; the service maps it to a type-error problem.
    with pytest.raises(TypeError) as caught:
        engine.zeros(2, (3,))
    assert isinstance(caught.value, EngineError) and caught.value.kind == "type-error"
