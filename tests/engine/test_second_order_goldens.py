"""The graphs the engine's backward records with create_graph, against torch 2.13's.

``tests/golden/second_order.json`` is written by ``scripts/goldens_second_order.py`` (which needs
torch; these tests do not) from the first-order golden cases. Each case rebuilds its inputs and
calls its op as tests/engine/test_goldens.py does, then:

* ``first``: ``grad([out.sum() for each floating output that requires grad], inputs,
  create_graph=True, allow_unused=True)``: each gradient's value, requires_grad and the grad_fn
  graph the backward pass recorded (names, next_functions with output numbers, AccumulateGrad's
  variable);
* ``second``: the same for the gradient of ``sum((g * w).sum())`` over those first gradients
  that require grad, with the recorded weights ``w``;
* ``third``: the values of the gradient of ``sum((g2 * v).sum())`` over the second gradients.

A "seeded" case gives the outputs themselves recorded gradients that require grad (grad_outputs,
inputs ["seed", k] of their own), so the parts of each VJP that act on the incoming gradient are
recorded too.

Where torch raised, the engine must raise at the same stage with the same message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import engine as ge
from engine.registry import canonical_ops
from tests.engine.test_goldens import _case_precision, assert_graph, assert_tensor, golden_array, run_case

GOLDEN_FILE = Path(__file__).resolve().parents[1] / "golden" / "second_order.json"
GOLDEN = json.loads(GOLDEN_FILE.read_text())
CASES: list[dict[str, Any]] = GOLDEN["cases"]

# Differentiable ops ("op") and grad_fn forms ("op:Form") without a second-order case, each with
# the reason.
NO_SECOND_ORDER_CASE: dict[str, str] = {
    "pow_:PowBackward2": "pow's scalar-base form: pow_ changes its first argument, always a tensor, "
                        "so it cannot record it (it shares pow's declaration)",
    "smooth_l1_loss:SumBackward0": "recorded only with beta=0 and reduction='sum', which no "
                                   "first-order case has; those nodes are l1_loss's (AbsBackward0, "
                                   "SumBackward0), whose second-order cases cover them",
}


def _weighted(grads: tuple[Any, ...], weights: list[Any]) -> Any:
    """sum((g * w).sum()) over the gradients with weights, summed left to right as the script does."""
    total = None
    for g, w in zip(grads, weights, strict=True):
        if w is None:
            continue
        term = (g * ge.tensor(golden_array(w), dtype=w["dtype"])).sum()
        total = term if total is None else total + term
    return total


def _check_grads(grads: tuple[Any, ...], expected: list[dict[str, Any]], inputs: dict[str, Any],
                 stage: str, precision: str) -> None:
    assert len(grads) == len(expected), f"{stage}: number of gradients"
    for g, want in zip(grads, expected, strict=True):
        what = f"{stage} grad of input {want['variable']}"
        if want["grad"] is None:
            assert g is None, f"{what}: expected None"
            continue
        assert g is not None, f"{what}: missing"
        assert_tensor(g, want["grad"], what, precision=precision)
        if "requires_grad" in want:
            assert g.requires_grad == want["requires_grad"], f"{what}: requires_grad"
            assert_graph(g.grad_fn, want["grad_fn"], inputs, f"{what}.grad_fn")


def _stage(case: dict[str, Any], stage: str, run: Any) -> Any:
    """Run one stage; where torch raised at it, the engine must raise the same message."""
    error = case.get("error")
    if error is None or error["stage"] != stage:
        return run()
    with pytest.raises(Exception) as info:  # noqa: PT011 - the message is what is compared
        run()
    assert str(info.value).split("\n")[0] == error["message"], f"{stage}: error message"
    return None


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_second_order_case(case: dict[str, Any]) -> None:
    outs, inputs = run_case(case)
    precision = _case_precision(case)
    seeds = None
    if case.get("seeded"):  # the incoming gradient requires grad: an input of its own
        seeds = [ge.tensor(golden_array(v), dtype=v["dtype"], requires_grad=True)
                 for v in case["seeds"]]
        for k, v in zip(case["roots"], seeds, strict=True):
            inputs[json.dumps(["seed", k])] = v
        roots = [outs[k] for k in case["roots"]]
    else:
        roots = [outs[k].sum() for k in case["roots"]]
    xs = [inputs[json.dumps(p)] for p in case["inputs"]]

    first = _stage(case, "first", lambda: ge.grad(roots, xs, seeds, create_graph=True,
                                                  allow_unused=True))
    if first is None:
        return
    _check_grads(first, case["first"], inputs, "first", precision)
    if "weights" not in case:
        return
    total = _weighted(first, case["weights"])
    second = _stage(case, "second", lambda: ge.grad(total, xs, create_graph=True, allow_unused=True))
    if second is None:
        return
    _check_grads(second, case["second"], inputs, "second", precision)
    if "weights3" not in case:
        return
    total3 = _weighted(second, case["weights3"])
    third = _stage(case, "third", lambda: ge.grad(total3, xs, allow_unused=True))
    if third is None:
        return
    _check_grads(third, case["third"], inputs, "third", precision)


def test_second_order_header() -> None:
    assert GOLDEN["torch_version"].startswith("2.13.")
    assert GOLDEN["num_cases"] == len(CASES)
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"


def test_every_differentiable_registry_op_has_a_second_order_case() -> None:
    """The twin of test_goldens.test_every_registry_op_has_a_golden_case: every differentiable op,
    and each grad_fn form it declares, has a second-order case, or a reason written above."""
    forms_seen: dict[str, set[str]] = {}
    for c in CASES:
        forms_seen.setdefault(c["op"], set()).update(c["forms"])
    missing = []
    for op in canonical_ops():
        if not op.differentiable or not any(op.grad_fns) or op.name in NO_SECOND_ORDER_CASE:
            continue
        uncovered = [f for f in op.grad_fns if f and f not in forms_seen.get(op.name, set())
                     and f"{op.name}:{f}" not in NO_SECOND_ORDER_CASE]
        if uncovered:
            missing.append(f"{op.name}: {uncovered}")
    assert not missing, f"differentiable ops / grad_fn forms without a second-order case: {missing}"


def test_exemptions_name_real_ops() -> None:
    names = {op.name for op in canonical_ops()}
    stale = [k for k in NO_SECOND_ORDER_CASE if k.split(":")[0] not in names]
    assert not stale, f"exemptions for ops that are not in the registry: {stale}"
