"""The answer of a finished program: its output tensors and values, the grad_fn graph reachable
from them, what it printed and its statistics -- as a dict for orjson."""

from __future__ import annotations

from collections import deque
from typing import Any

import engine as ge
from service.encoding import Encoding, encode_tensor, json_number
from service.errors import ProgramError
from service.graph_dot import to_dot
from service.pointer import pointer
from service.printing import to_repr
from service.program import RunRequest, noted
from service.values import Size


class _Graph:
    """Node ids (``n0``, ``n1``, ... in breadth-first order of discovery) and node entries."""

    def __init__(self, names: dict[int, str]) -> None:
        self.names = names  # id(tensor) -> the first name bound to it
        self.ids: dict[ge.Node, str] = {}
        self.nodes: dict[str, dict[str, Any]] = {}

    def id_of(self, root: ge.Node) -> str:
        """``root``'s id, after adding every node reachable from it (iteratively: graphs built by
        long loops are deep)."""
        ids = self.ids
        if root in ids:
            return ids[root]
        rid = ids[root] = f"n{len(ids)}"
        queue: deque[ge.Node] = deque((root,))
        while queue:
            node = queue.popleft()
            # (a loop, not a comprehension calling a method for each new node: no frames)
            nxt: list[list[Any]] = []
            for child, nr in node.next_functions:
                cid = None
                if child is not None:
                    cid = ids.get(child)
                    if cid is None:  # a new node: its id now, its entry when it is dequeued
                        cid = ids[child] = f"n{len(ids)}"
                        queue.append(child)
                nxt.append([cid, nr])
            entry: dict[str, Any] = {"name": node.name(), "next": nxt}
            if isinstance(node, ge.AccumulateGrad):
                entry["variable"] = self.names.get(id(node.variable))
                entry["shape"] = list(node.variable.shape)
            if len(node.out_meta) > 1:
                entry["outputs"] = len(node.out_meta)
            saved = node.saved_shapes()
            if saved:
                entry["saved"] = [list(shape) for shape in saved]
            self.nodes[ids[node]] = entry
        return rid


def build_answer(env: dict[str, Any], request: RunRequest, printed: list[str],
                 stats: dict[str, Any]) -> dict[str, Any]:
    # (the request's members read once: a pydantic model's __getattr__ keeps each read of them
    # a lookup that never specializes)
    outputs, encoding = request.outputs, request.encoding
    explicit = outputs is not None
    hidden = noted(request, "hidden_names")
    names = outputs if outputs is not None else \
        [n for n in env if n not in hidden] if hidden else list(env)
    bound: dict[int, str] = {}
    for name, v in env.items():
        if isinstance(v, ge.Tensor):
            bound.setdefault(id(v), name)
    graph = _Graph(bound)
    tensors: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for i, name in enumerate(names):
        if name not in env:
            raise ProgramError("unknown-name", f"output {name!r} is not bound at the end of the "
                               "program", pointer(("outputs", i)), name=name)
        v = env[name]
        if isinstance(v, ge.Tensor):
            tensors[name] = _tensor_out(v, encoding, graph)
        elif isinstance(v, tuple) and not isinstance(v, Size):
            if explicit:
                raise ProgramError("type-error", f"output {name!r} is a tuple; bind its elements "
                                   "to a list of names and return those", pointer(("outputs", i)))
        else:
            values[name] = _value(v, graph)
    answer = {"tensors": tensors, "values": values, "graph": graph.nodes, "printed": printed,
              "stats": stats}
    if request.graph_format == "dot":
        answer["dot"] = to_dot(graph.nodes, tensors)
    return answer


def _tensor_out(t: ge.Tensor, encoding: Encoding, graph: _Graph) -> dict[str, Any]:
    out = encode_tensor(t, encoding)
    fn = t.grad_fn  # (a property, a call: read once; is_leaf is whether it is None)
    out["requires_grad"] = t.requires_grad
    out["is_leaf"] = fn is None
    out["retains_grad"] = t.retains_grad
    out["grad_fn"] = graph.id_of(fn) if fn is not None else None
    grad = t.grad
    out["grad"] = encode_tensor(grad, encoding) if grad is not None else None
    return out


def _value(v: Any, graph: _Graph) -> Any:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (bool, int, float)):
        return json_number(v)
    if isinstance(v, Size):
        return list(v)
    if isinstance(v, ge.Node):
        return {"node": graph.id_of(v)}
    return to_repr(v)  # a dtype: "torch.float32"
