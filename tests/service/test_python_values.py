"""The program format's Python values and control flow, sent as JSON: for/break/continue/assert
statements, print's sep and end, and the py.* calls (service/python_builtins.py)."""

from __future__ import annotations

import httpx
import pytest

from tests.service.helpers import call, let, ok, post, problem

pytestmark = pytest.mark.anyio


async def test_for_break_continue_and_print_options(client: httpx.AsyncClient) -> None:
    program = [
        let("n", "py.value", 0),
        {"for": "i", "in": call("py.call", 10, function="range"), "do": [
            {"if": call("py.operator", "i", 2, operator="lt"), "then": [{"continue": True}]},
            {"if": call("py.operator", "i", 5, operator="ge"), "then": [{"break": True}]},
            let("n", "py.operator", "n", "i", operator="iadd"),
        ]},
        {"print": {"values": ["n", call("py.format", 3.14159, template="{:.2f}")],
                   "sep": " | ", "end": "!"}},
        {"for": ["a", "b"], "in": call("py.list", call("py.tuple", 1, 2), call("py.tuple", 3, 4)),
         "do": [{"print": {"values": ["a", "b"], "sep": ""}}]},
        {"assert": call("py.operator", "n", 9, operator="eq"), "message": "n"},
    ]
    answer = await ok(client, program)
    assert answer["printed"] == ["9 | 3.14!", "12", "34"]
    assert answer["values"]["n"] == 9


async def test_break_outside_a_loop_is_refused(client: httpx.AsyncClient) -> None:
    problem(await post(client, [{"break": True}]), "invalid-program", 422, "/program/0")


async def test_assert_failure(client: httpx.AsyncClient) -> None:
    r = await post(client, [{"assert": False, "message": call("py.format", template="no")}])
    body = problem(r, "assertion-error", 422, "/program/0")
    assert body["detail"] == "AssertionError: no"


async def test_python_errors_are_problems(client: httpx.AsyncClient) -> None:
    r = await post(client, [let("q", "py.operator", 1, 0, operator="truediv")])
    assert problem(r, "argument-error", 422, "/program/0")["detail"] == "division by zero"
    r = await post(client, [let("q", "py.operator", call("py.format", template="a"), 2,
                                operator="mul")])
    problem(r, "type-error", 422, "/program/0")
    r = await post(client, [let("q", "py.index", call("py.tuple", 1), 3)])
    problem(r, "argument-error", 422, "/program/0")
