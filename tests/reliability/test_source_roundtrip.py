"""program -> source -> program gives the same answer, for the program fuzzer's random programs
(tests/reliability/test_program_fuzz.py): the exporter writes each as a torch script, the
translator reads it back, and both programs answer alike (values, grads, graph, printed)."""

from __future__ import annotations

from typing import Any

from hypothesis import given

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
