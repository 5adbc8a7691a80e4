"""The seed tutorial written directly against torch: what bench/programs/tutorial.json asks the
service to run, as a hand-written torch endpoint would run it, answer included.

The answer has the service's shape (printed lines, the output tensors with values, flags, grad_fn
ids and grads, and the grad_fn graph), encoded to JSON bytes with orjson, so both sides of the
tutorial cases do the same work: run the program, print, and encode an answer.

Random draws come from a per-call ``torch.Generator`` (as a server must, to keep requests apart);
torch's and the engine's generators differ, so the ``while`` loop may run a different number of
times (about nine either way).
"""

from __future__ import annotations

from typing import Any

import orjson
import torch

_DATATYPES = {torch.float32: "FP32", torch.float64: "FP64", torch.int64: "INT64", torch.bool: "BOOL"}


def _values(t: torch.Tensor) -> dict[str, Any]:
    arr = t.detach().reshape(-1).numpy()
    return {"shape": list(t.shape), "datatype": _DATATYPES[t.dtype],
            "data": orjson.Fragment(orjson.dumps(arr, option=orjson.OPT_SERIALIZE_NUMPY))}


def _grad(t: torch.Tensor) -> dict[str, Any] | None:
    # a non-leaf's .grad is None unless retained (reading it anyway makes torch warn)
    g = t.grad if t.is_leaf or t.retains_grad else None
    return _values(g) if g is not None else None


def _graph(roots: list[Any], names: dict[int, str]) -> tuple[dict[str, Any], dict[int, str]]:
    """Every grad_fn node reachable from ``roots``: id -> name, next_functions, leaf name."""
    ids: dict[int, str] = {}
    graph: dict[str, Any] = {}
    stack = [r for r in roots if r is not None]
    while stack:
        node = stack.pop()
        if id(node) in ids:
            continue
        ids[id(node)] = nid = f"n{len(ids)}"
        entry: dict[str, Any] = {"name": type(node).__name__, "next": node.next_functions}
        if hasattr(node, "variable"):
            entry["variable"] = names.get(id(node.variable))
        graph[nid] = entry
        stack.extend(n for n, _ in node.next_functions if n is not None)
    for entry in graph.values():
        entry["next"] = [[ids[id(n)] if n is not None else None, i] for n, i in entry["next"]]
    return graph, ids


def answer(outputs: dict[str, torch.Tensor], printed: list[str]) -> bytes:
    names = {id(t): name for name, t in outputs.items()}
    graph, ids = _graph([t.grad_fn for t in outputs.values()], names)
    tensors = {
        name: {**_values(t), "requires_grad": t.requires_grad, "is_leaf": t.is_leaf,
               "retains_grad": t.retains_grad,
               "grad_fn": ids[id(t.grad_fn)] if t.grad_fn is not None else None,
               "grad": _grad(t)}
        for name, t in outputs.items()
    }
    return orjson.dumps({"tensors": tensors, "graph": graph, "printed": printed})


def run_tutorial(seed: int = 0, encode: bool = True) -> Any:
    """Every cell of the tutorial; returns the JSON answer (or, with ``encode=False``, only
    what it printed: bench/programs/tutorial_engine.py does the same on the engine)."""
    gen = torch.Generator().manual_seed(seed)
    printed: list[str] = []

    def show(*values: Any) -> None:
        printed.append(" ".join(str(v) for v in values))

    x = torch.ones(2, 2, requires_grad=True)
    show(x)
    y = x + 2
    show(y)
    show(y.grad_fn)
    z = y * y * 3
    out = z.mean()
    show(z, out)

    a = torch.randn(2, 2, generator=gen)
    a = (a * 3) / (a - 1)
    show(a.requires_grad)
    a.requires_grad_(True)
    show(a.requires_grad)
    b = (a * a).sum()
    show(b.grad_fn)

    out.backward()
    show(x.grad)

    v = torch.randn(3, requires_grad=True, generator=gen)
    w = v * 2
    while w.data.norm() < 1000:
        w = w * 2
    show(w)
    w.backward(torch.tensor([0.1, 1.0, 0.0001], dtype=torch.float32))
    show(v.grad)

    show(v.requires_grad)
    show((v ** 2).requires_grad)
    with torch.no_grad():
        show((v ** 2).requires_grad)
    if not encode:
        return printed
    return answer({"x": x, "out": out, "v": v}, printed)
