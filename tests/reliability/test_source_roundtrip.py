"""program -> source -> program gives the same answer, for the program fuzzer's random programs
(tests/reliability/test_program_fuzz.py): the exporter writes each as a torch script, the
translator reads it back, and both programs answer alike (values, grads, graph, printed)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from service.errors import ProgramError
from service.source import export_program, translate
from tests.reliability.test_program_fuzz import FUZZ, Client, _post, _with_grads, http, programs

__all__ = ["http"]  # the module-scoped client fixture, shared


def _comparable(answer: dict[str, Any]) -> dict[str, Any]:
    answer = dict(answer)
    answer.pop("stats")
    return answer


@given(spec=programs(random_ops=True))
@FUZZ
def test_random_programs_round_trip_through_source(http: Client, spec: dict[str, Any]) -> None:
    program = _with_grads(spec["program"])
    first = _post(http, program, seed=spec["seed"], outputs=["x", "W", "out"])
    source = export_program(program, spec["seed"])
    again = translate(source)
    assert again.seed == spec["seed"]
    second = _post(http, again.program, seed=spec["seed"], outputs=["x", "W", "out"])
    assert _comparable(second) == _comparable(first), source


# Sources built from pieces of the subset and of what it refuses, in any order: the translator
# answers a Translation or a ProgramError, never another exception (a 500).
_PIECES = ["import torch", "import math", "x = torch.ones(2, requires_grad=True)", "y = x * 2",
           "def f(t):", "    return t ** 2", "print(f(x))", "for i in range(3):", "    y = y + i",
           "    break", "while y.sum() < 10:", "if x.grad is None:", "else:", "    pass",
           "z = y[0] if y.sum() > 0 else y[1]", "w = x.sum(dim=0, keepdim=True)", "class A:",
           "lambda t: t", "print(f'{y.sum().item():.3f}', end='')", "x.grad = None",
           "y.backward(torch.ones(2))", "q = [t for t in y]", "import os", "x[0] = 1",
           "with torch.no_grad():", "    x -= 1", "assert x.sum() > 0, 'no'", "del y", "((((",
           "torch.autograd.functional.hessian(f, x)", "x.__class__", "g = x.sum(**k)", "@"]


@given(st.lists(st.sampled_from(_PIECES), max_size=12))
@FUZZ
def test_any_mix_of_pieces_is_translated_or_refused(pieces: list[str]) -> None:
    try:
        translate("\n".join(pieces) + "\n")
    except ProgramError as err:
        assert err.pointer == "/source" and err.status in (413, 422)
