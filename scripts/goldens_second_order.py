#!/usr/bin/env python3
"""Write ``tests/golden/second_order.json``: the graphs torch's backward records with create_graph.

torch is never a dependency of gradserve; only this script imports it (see make_goldens.py)::

    /work/torchvenv/bin/python scripts/goldens_second_order.py

The cases are the first-order golden cases, read back from ``tests/golden/ops*.json`` (their
arguments are already JSON there, with the exact values torch got), so no second list of ops is
kept. Each case whose outputs include a floating tensor that requires grad becomes a second-order
case. Its arguments are rebuilt in torch exactly as make_goldens.py does, the op is called, and:

* ``first``: ``torch.autograd.grad(roots, inputs, create_graph=True, allow_unused=True)``, where
  ``roots`` are ``out.sum()`` of every floating output that requires grad (in output order) and
  ``inputs`` every argument tensor that requires grad (in argument order). For each gradient:
  its value, requires_grad and the grad_fn graph the backward pass recorded, down to
  AccumulateGrad (names, next_functions edges with their output numbers, and which input).
* ``second``: where some first gradient requires grad, the same for
  ``autograd.grad(sum((g * w).sum()), inputs, create_graph=True)`` over those gradients ``g``,
  with fixed weights ``w`` (recorded): the graphs the VJPs of the first graph's nodes record.
* ``third``: where some second gradient requires grad, the values of
  ``autograd.grad(sum((g2 * v).sum()), inputs)`` with fixed weights ``v`` (recorded).

An error torch raises at any stage is recorded (its type and message) and ends the case.
Cases whose values depend on a random draw are skipped (see :data:`RANDOM`): their forward
cannot be replayed by the engine's generator.
"""

from __future__ import annotations

import json
import sys
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_goldens  # noqa: E402  (the first-order golden machinery: decode_arg, graph_record, ...)

sys.modules.setdefault("make_goldens", make_goldens)
import torch  # noqa: E402

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "golden"
OUT = GOLDEN / "second_order.json"

# Each family module installs torch spellings for its ops when imported; goldens_nn also replaces
# make_goldens.call_torch (its ops are torch.nn.functional's), so each file keeps its own caller.
_core_call = make_goldens.call_torch
import goldens_indexing  # noqa: E402,F401  (torch.getitem, torch.pad, torch.repeat)
import goldens_inplace  # noqa: E402,F401  (torch.add_ ... as Tensor methods, torch.setitem)
import goldens_linalg  # noqa: E402,F401  (torch.solve)
import goldens_nn  # noqa: E402

_nn_call = make_goldens.call_torch
make_goldens.call_torch = _core_call
CALLERS = {"ops_nn.json": _nn_call}

# Cases whose outputs are a random draw (make_goldens.RANDOM_OPS, goldens_nn.RANDOM_CASES).
RANDOM = {"random_ops": make_goldens.RANDOM_OPS, "random_cases": goldens_nn.RANDOM_CASES}


def _is_random(case: dict[str, Any]) -> bool:
    return case["op"] in RANDOM["random_ops"] or case["id"] in RANDOM["random_cases"]


def _weights(like: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Fixed weights of ``like``'s shape and dtype, two decimals in [-1, 1)."""
    data = np.round(rng.uniform(-1.0, 1.0, like.numel()), 2).tolist()
    return torch.tensor(data, dtype=like.dtype).reshape(like.shape)


def _grad_records(grads: tuple[Any, ...], leaves: list[tuple[Any, torch.Tensor]],
                  inputs: dict[int, Any], with_graph: bool = True) -> list[dict[str, Any]]:
    out = []
    for (path, _), g in zip(leaves, grads, strict=True):
        if g is None:
            out.append({"variable": path, "grad": None})
            continue
        # torch answers some zero derivatives (abs's second) with a storage-less "zero tensor"
        value = torch.zeros(g.shape, dtype=g.dtype) if g._is_zerotensor() else g
        rec: dict[str, Any] = {"variable": path, "grad": make_goldens.tensor_record(value)}
        if with_graph:
            rec["requires_grad"] = g.requires_grad
            rec["grad_fn"] = make_goldens.graph_record(g.grad_fn, inputs)
        out.append(rec)
    return out


def _forms(nodes: list[Any]) -> list[str]:
    """The names of the forward graph's nodes above the leaves (which grad_fn forms a case covers)."""
    names: set[str] = set()
    todo = [n for n in nodes if n is not None]
    while todo:
        node = todo.pop()
        name = type(node).__name__
        if name != "AccumulateGrad" and name not in names:
            names.add(name)
            todo += [n for n, _ in node.next_functions if n is not None]
    return sorted(names)


# Twins of first-order cases whose first argument is first passed through a function (the engine
# test applies the same one, by name):
# * "clone": an in-place case changes a tensor that does not require grad (torch refuses a leaf
#   that does); its twin makes that tensor require grad and changes its clone instead, so the
#   in-place op's own derivative is in the graph;
# * "t": the first-order cases' tensors are fresh and contiguous; reshape and contiguous record
#   other forms on a transposed (non-contiguous) input.
FIRST_ARG = {"clone": torch.Tensor.clone, "t": torch.Tensor.t}
TWINS = {"ops_inplace.json": ("clone", None), "ops.json": ("t", {"reshape", "contiguous"})}


def twin(case: dict[str, Any], how: str, ops: set[str] | None) -> dict[str, Any] | None:
    first = case["args"][0] if case["args"] else None
    if ops is not None and case["op"] not in ops:
        return None
    if not (isinstance(first, dict) and "tensor" in first):
        return None
    spec = first["tensor"]
    if spec["dtype"] not in ("float32", "float64") or (how == "t" and len(spec["shape"]) != 2):
        return None
    if how == "clone" and spec["requires_grad"]:
        return None
    args = [{"tensor": {**spec, "requires_grad": True}}, *case["args"][1:]]
    return {**case, "id": f"{case['id']}__through_{how}", "args": args, "first_arg": how}


# Twins whose incoming gradient requires grad: ``autograd.grad(outputs, inputs + seeds,
# grad_outputs=seeds)`` with fixed seed tensors that require grad (paths ["seed", k]), so each VJP's
# whole formula, the incoming gradient's part included, is in the recorded graph (with a constant
# seed those parts record nothing). For the arithmetic and reduction ops, whose VJPs are the
# building blocks of the others'.
SEEDED_OPS = {"add", "sub", "rsub", "mul", "div", "pow", "neg", "exp", "exp2", "log", "log1p",
              "expm1", "sqrt", "rsqrt", "reciprocal", "abs", "sign", "sin", "cos", "tan", "tanh",
              "sigmoid", "relu", "square", "clamp", "maximum", "minimum", "where", "sum", "mean",
              "prod", "max", "min", "amax", "amin", "var", "std", "norm", "logsumexp"}


def seeded(case: dict[str, Any]) -> dict[str, Any] | None:
    if case["op"] not in SEEDED_OPS:
        return None
    return {**case, "id": f"{case['id']}__seeded", "seeded": True}


def _error(stage: str, exc: Exception) -> dict[str, Any]:
    return {"stage": stage, "type": type(exc).__name__, "message": str(exc).split("\n")[0]}


def _weighted(grads: tuple[Any, ...], rng: np.random.Generator
              ) -> tuple[torch.Tensor | None, list[Any]]:
    """sum((g * w).sum()) over the gradients that require grad, and the weights (None elsewhere)."""
    total = None
    weights: list[Any] = []
    for g in grads:
        if g is None or not g.requires_grad:
            weights.append(None)
            continue
        w = _weights(g, rng)
        weights.append(make_goldens.tensor_record(w))
        term = (g * w).sum()
        total = term if total is None else total + term
    return total, weights


def second_order_case(case: dict[str, Any], call: Any) -> dict[str, Any] | None:
    inputs: dict[int, Any] = {}
    targs = [make_goldens.decode_arg(a, i, inputs) for i, a in enumerate(case["args"])]
    tkwargs = {k: make_goldens.decode_arg(v, k, inputs) for k, v in case["kwargs"].items()}
    leaves = [(path, x) for path, x in inputs.values() if x.requires_grad]
    if case.get("first_arg") in FIRST_ARG:
        targs[0] = FIRST_ARG[case["first_arg"]](targs[0])
    result = call(case["op"], targs, tkwargs)
    outs = list(result) if isinstance(result, (tuple, list)) else [result]
    roots = [k for k, o in enumerate(outs)
             if isinstance(o, torch.Tensor) and o.dtype.is_floating_point and o.requires_grad]
    if not roots or not leaves:
        return None
    record: dict[str, Any] = {"id": case["id"], "op": case["op"], "args": case["args"],
                              "kwargs": case["kwargs"], "roots": roots,
                              "forms": _forms([outs[k].grad_fn for k in roots]),
                              "inputs": [path for path, _ in leaves]}
    if case.get("first_arg"):
        record["first_arg"] = case["first_arg"]
    rng = np.random.default_rng(zlib.crc32(("second order " + case["id"]).encode()))
    if case.get("seeded"):
        seeds = []
        for k in roots:
            v = _weights(outs[k], rng).requires_grad_(True)
            inputs[id(v)] = (["seed", k], v)
            leaves.append((["seed", k], v))
            seeds.append(v)
        record["seeded"] = True
        record["seeds"] = [make_goldens.tensor_record(v) for v in seeds]
        record["inputs"] = [path for path, _ in leaves]
        targets, grad_outputs = [outs[k] for k in roots], seeds
    else:
        targets, grad_outputs = [outs[k].sum() for k in roots], None
    xs = [x for _, x in leaves]
    try:
        first = torch.autograd.grad(targets, xs, grad_outputs, create_graph=True,
                                    allow_unused=True)
    except RuntimeError as exc:
        record["error"] = _error("first", exc)
        return record
    record["first"] = _grad_records(first, leaves, inputs)
    total, weights = _weighted(first, rng)
    if total is None:
        return record
    record["weights"] = weights
    try:
        second = torch.autograd.grad(total, xs, create_graph=True, allow_unused=True)
    except RuntimeError as exc:
        record["error"] = _error("second", exc)
        return record
    record["second"] = _grad_records(second, leaves, inputs)
    total3, weights3 = _weighted(second, rng)
    if total3 is None:
        return record
    record["weights3"] = weights3
    try:
        third = torch.autograd.grad(total3, xs, allow_unused=True)
    except RuntimeError as exc:
        record["error"] = _error("third", exc)
        return record
    record["third"] = _grad_records(third, leaves, inputs, with_graph=False)
    return record


def main() -> None:
    warnings.simplefilter("ignore")
    torch.manual_seed(0)
    records = []
    skipped = []
    for path in sorted(GOLDEN.glob("ops*.json")):
        call = CALLERS.get(path.name, _core_call)
        for case in json.loads(path.read_text())["cases"]:
            if _is_random(case):
                skipped.append(case["id"])
                continue
            variants = [case]
            if path.name in TWINS:
                variants.append(twin(case, *TWINS[path.name]))
            if path.name == "ops.json":
                variants.append(seeded(case))
            for variant in variants:
                rec = second_order_case(variant, call) if variant is not None else None
                if rec is not None:
                    rec["family"] = path.name
                    records.append(rec)
    header = {"torch_version": torch.__version__, "numpy_version": np.__version__,
              "generator": "scripts/goldens_second_order.py", "num_cases": len(records),
              "skipped_random": skipped}
    head = json.dumps(header, allow_nan=False)[:-1]
    body = ",\n".join(json.dumps(r, allow_nan=False, separators=(",", ":")) for r in records)
    OUT.write_text(f'{head}, "cases": [\n{body}\n]}}\n')
    print(f"wrote {len(records)} cases to {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
