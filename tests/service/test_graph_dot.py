"""The graph's drawing aids in the answer: the leaf's shape on AccumulateGrad nodes, a node's
output count where it has several, saved tensors' shapes, and ``"graph_format": "dot"``."""

from __future__ import annotations

import httpx
import pytest

from service.graph_dot import quote
from tests.service.helpers import ok, post, problem

pytestmark = pytest.mark.anyio

TUTORIAL = [
    {"name": "x", "op": "ones", "attrs": {"size": [2, 2], "requires_grad": True}},
    {"name": "y", "op": "add", "args": ["x", 2]},
    {"name": "out", "op": "mean", "args": [{"op": "mul", "args": [{"op": "mul", "args": ["y", "y"]}, 3]}]},
]


async def test_nodes_carry_leaf_shapes_and_saved_shapes(client: httpx.AsyncClient) -> None:
    answer = await ok(client, TUTORIAL, outputs=["out"])
    graph = answer["graph"]
    assert "dot" not in answer  # only when asked for
    assert graph["n4"] == {"name": "AccumulateGrad", "next": [], "variable": "x", "shape": [2, 2]}
    assert graph["n2"]["name"] == "MulBackward0" and graph["n2"]["saved"] == [[2, 2], [2, 2]]
    assert "saved" not in graph["n3"]  # AddBackward0 saves nothing
    assert all("outputs" not in n for n in graph.values())


async def test_saved_shapes_are_gone_once_backward_freed_them(client: httpx.AsyncClient) -> None:
    answer = await ok(client, [*TUTORIAL, {"op": "backward", "args": ["out"]}], outputs=["out"])
    assert all("saved" not in n for n in answer["graph"].values())


async def test_multi_output_nodes_say_how_many(client: httpx.AsyncClient) -> None:
    answer = await ok(client, [
        {"name": "x", "op": "ones", "attrs": {"size": [2, 2], "requires_grad": True}},
        {"name": ["a", "b"], "op": "unbind", "args": ["x"]},
        {"name": "y", "op": "exp", "args": ["b"]},
    ], outputs=["y"], graph_format="dot")
    graph = answer["graph"]
    assert graph["n0"]["next"] == [["n1", 1]]
    assert graph["n1"]["name"] == "UnbindBackward0" and graph["n1"]["outputs"] == 2
    assert '  n0 -> n1 [label="1"];' in answer["dot"].splitlines()


async def test_dot_has_the_pictures_labels(client: httpx.AsyncClient) -> None:
    answer = await ok(client, TUTORIAL, outputs=["out", "y"], graph_format="dot")
    lines = answer["dot"].splitlines()
    assert lines[0] == "digraph grad_fn {" and lines[-1] == "}"
    assert '  n0 [label="MeanBackward0\\nout"];' in lines
    assert '  n3 [label="AddBackward0\\ny"];' in lines
    assert '  n2 [label="MulBackward0", tooltip="saved: [2, 2], [2, 2]"];' in lines
    assert '  n4 [label="AccumulateGrad\\nx [2, 2]", fillcolor="#e6f5e6"];' in lines
    # one edge per next_functions entry that is not None (mul(y, y): two edges to the same node)
    edges = [line for line in lines if "->" in line]
    expected = sum(1 for n in answer["graph"].values() for child, _ in n["next"] if child)
    assert len(edges) == expected


async def test_graph_format_is_checked(client: httpx.AsyncClient) -> None:
    r = await post(client, TUTORIAL, graph_format="svg")
    problem(r, "invalid-program", 422, "/graph_format")


def test_dot_strings_are_quoted() -> None:
    assert quote('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
