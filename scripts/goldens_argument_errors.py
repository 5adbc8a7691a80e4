#!/usr/bin/env python3
"""The "argument errors" golden family: torch 2.13's exact answer to every misuse that a registry
op's signature admits, in two steps:

1. ``.venv/bin/python scripts/goldens_argument_errors.py export`` (gradserve's venv, no torch):
   for every registry op, takes the op's first valid call from the op goldens
   (``tests/golden/ops*.json``) and derives the wrong calls from the kind of each parameter of the
   op's signature (``engine.registry``): a tensor of the wrong rank, empty, of the wrong dtype, of
   a mismatching shape, holding out-of-range indices; a dim out of range; a negative or zero
   size; a shape of the wrong length; an unknown choice; a refused dtype; a bad index. It writes
   them, without answers, to ``tests/golden/argument_errors.json``.
2. ``/work/torchvenv/bin/python scripts/goldens_argument_errors.py`` (torch 2.13, no gradserve):
   runs each call under torch, the op called as the op goldens call it (their family modules), and
   records torch's exception class and exact message, or that torch accepted the call.

tests/engine/test_argument_error_goldens.py runs every case on the engine and compares. The cases
are derived, not picked: a kind of misuse the generator does not make is missing for every op.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_DIR = ROOT / "tests" / "golden"
OUT = GOLDEN_DIR / "argument_errors.json"

# ----------------------------------------------------------------------------------------------
# step 1: the cases, from the registry's signatures and the op goldens' valid calls

ODD = 7  # a length no op's valid shapes here use: a tensor of it fits nothing


def _tensor(shape: list[int], dtype: str, data: list[Any], grad: bool) -> dict[str, Any]:
    n = 1
    for s in shape:
        n *= s
    data = [0 if isinstance(v, str) and dtype in ("bool", "int64") else v for v in data]  # "NaN"
    if dtype == "bool":
        flat = [bool(v) for v in data] or [True]
    elif dtype == "int64":
        flat = [int(v) for v in data] or [0]
    else:
        flat = [v if isinstance(v, str) else float(v) for v in data] or [0.5]
    values = [flat[i % len(flat)] for i in range(n)]
    floating = dtype in ("float32", "float64")
    return {"tensor": {"shape": shape, "dtype": dtype, "data": values,
                       "requires_grad": grad and floating}}


def _retensor(spec: dict[str, Any], shape: list[int] | None = None, dtype: str | None = None,
              data: list[Any] | None = None) -> dict[str, Any]:
    t = spec["tensor"]
    return _tensor(list(t["shape"] if shape is None else shape), dtype or t["dtype"],
                   t["data"] if data is None else data, t["requires_grad"])


def _is_tensor(v: Any) -> bool:
    return isinstance(v, dict) and "tensor" in v


def _dim_like(name: str) -> bool:
    return "dim" in name


def _tensor_mutations(spec: dict[str, Any], several_tensors: bool) -> list[tuple[str, Any]]:
    """(kind, value) for one tensor argument."""
    t = spec["tensor"]
    shape, dtype = list(t["shape"]), t["dtype"]
    out: list[tuple[str, Any]] = []
    if shape:
        out.append(("rank0", _retensor(spec, [])))
        out.append(("rank_minus", _retensor(spec, shape[1:])))
        out.append(("empty", _retensor(spec, [0, *shape[1:]])))
    else:
        out.append(("empty", _retensor(spec, [0])))
    out.append(("rank_plus", _retensor(spec, [2, *shape])))
    if several_tensors and shape:
        out.append(("shape_mismatch", _retensor(spec, [*shape[:-1], shape[-1] + 1])))
    if dtype in ("float32", "float64"):
        out.append(("dtype_int64", _retensor(spec, dtype="int64")))
        out.append(("dtype_bool", _retensor(spec, dtype="bool")))
        if several_tensors:
            other = "float64" if dtype == "float32" else "float32"
            out.append((f"dtype_{other}", _retensor(spec, dtype=other)))
    elif dtype == "int64":
        out.append(("dtype_float32", _retensor(spec, dtype="float32")))
        out.append(("dtype_bool", _retensor(spec, dtype="bool")))
        out.append(("index_too_large", _retensor(spec, data=[v + 10 for v in t["data"]])))
        out.append(("index_too_negative", _retensor(spec, data=[v - 10 for v in t["data"]])))
    else:  # bool: a mask or condition
        out.append(("dtype_float32", _retensor(spec, dtype="float32")))
        out.append(("dtype_int64", _retensor(spec, dtype="int64")))
    return out


def _rank(args: dict[str, Any]) -> int:
    """The rank that the op's dims refer to: its first tensor argument's (or first list item's)."""
    for v in args.values():
        if _is_tensor(v):
            return len(v["tensor"]["shape"])
        if isinstance(v, list) and v and _is_tensor(v[0]):
            return len(v[0]["tensor"]["shape"])
    return 0


def _attr_mutations(p: Any, value: Any, rank: int) -> list[tuple[str, Any]]:
    """(kind, value) for one static attribute, by its kind (value: the valid call's, or None)."""
    kind = p.kind
    if kind in ("int", "dims") and _dim_like(p.name):
        out = [("dim_too_large", rank + 2), ("dim_too_negative", -(rank + 3))]
        if kind == "dims":
            out += [("dims_repeated", [0, 0]), ("dims_list_out_of_range", [0, rank + 2])]
        return out
    if kind == "ints" and _dim_like(p.name):  # a permutation, a list of dims (or tile's sizes)
        n = max(len(value or []), 1)
        return [("size_negative", [-2] * n), ("dims_too_few", list(range(n - 1))),
                ("dims_too_many", list(range(n + 1))), ("dims_repeated", [0] * n),
                ("dims_out_of_range", [rank + 2] * n)]
    if kind == "ints":  # a shape or a list of sizes
        sizes = list(value) if isinstance(value, list) else [2, 3]
        out = [("size_negative", [-2, *sizes[1:]] if sizes else [-2]),
               ("sizes_shorter", sizes[:-1]), ("sizes_longer", [*sizes, 2])]
        if sizes:
            out.append(("size_plus_one", [*sizes[:-1], sizes[-1] + 1]))
        return out
    if kind in ("int", "dims"):
        out = [("negative", -1), ("zero", 0), ("too_large", 100)]
        if kind == "dims":  # a size per spatial dim (kernel_size, stride, ...): one too many
            out.append(("list_too_long", [1 if isinstance(value, str) else value or 1] * 3
                        if not isinstance(value, list) else [*value, value[-1]]))
        return out
    if kind == "number":
        return [("negative", -1), ("zero", 0), ("infinite", "Infinity"), ("nan", "NaN")]
    if kind == "float":
        return [("negative", -0.5), ("above_one", 1.5)]
    if kind == "choice":
        return [("unknown_choice", "bogus")]
    if kind == "dtype":
        return [("dtype_int64", "int64"), ("dtype_bool", "bool")]
    if kind == "str":
        return [("empty_str", ""), ("str_first_char_dropped", (value or "x")[1:])]
    if kind == "index":
        return [("index_out_of_range", 10), ("index_too_negative", -10),
                ("too_many_indices", [0] * (rank + 1)), ("slice_step_zero", {"step": 0}),
                ("slice_step_negative", {"step": -1}),
                ("float_tensor_index", _tensor([1], "float32", [0.0], False)),
                ("mask_wrong_shape", _tensor([ODD], "bool", [True], False)),
                ("int_list_out_of_range", [[0, 10]]), ("bool_list_wrong_length", [[True] * ODD]),
                ("index_tensor_out_of_range", _tensor([2], "int64", [0, 10], False))]
    return []  # bool: every value is valid


def _arity(case: dict[str, Any]) -> int:
    return len(case["args"]) + len(case["kwargs"])


def _baselines() -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
    """op -> [(id suffix, golden family, case)]: calls torch and the engine both accept; the op's
    first golden case, and (suffix ".full") its first case with the most arguments written out
    where that is another one."""
    first: dict[str, tuple[str, dict[str, Any]]] = {}
    fullest: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in sorted(GOLDEN_DIR.glob("ops*.json")):
        family = path.stem.removeprefix("ops").removeprefix("_") or "core"
        for case in json.loads(path.read_text())["cases"]:
            first.setdefault(case["op"], (family, case))
            have = fullest.get(case["op"])
            if have is None or _arity(case) > _arity(have[1]):
                fullest[case["op"]] = (family, case)
    return {op: [("", *first[op])] + ([(".full", *fullest[op])] if fullest[op] != first[op] else [])
            for op in first}


def op_cases(op: Any, family: str, base: dict[str, Any], suffix: str = "") -> list[dict[str, Any]]:
    names = [p.name for p in op.params]
    given: dict[str, Any] = dict(zip(names, base["args"], strict=False))
    given.update(base["kwargs"])
    positional = len(base["args"])
    tensor_inputs = [p for p in op.params if p.kind in ("tensor", "operand") and _is_tensor(
        given.get(p.name))]
    several = len(tensor_inputs) > 1
    rank = _rank(given)
    cases: list[dict[str, Any]] = []

    def add(param: str, kind: str, value: Any, also: tuple[str, ...] = ()) -> None:
        args = list(base["args"])
        kwargs = dict(base["kwargs"])
        for name in (param, *also):
            index = names.index(name)
            if index < positional:
                args[index] = value
            else:
                kwargs[name] = value
        cases.append({"id": f"{op.name}.{param}.{kind}{suffix}", "op": op.name, "family": family,
                      "param": param, "kind": kind, "args": args, "kwargs": kwargs})

    for p in op.params:
        value = given.get(p.name)
        if p.kind in ("tensor", "operand"):
            if _is_tensor(value):
                for kind, v in _tensor_mutations(value, several):
                    add(p.name, kind, v)
            elif value is None and p.kind == "tensor" and p.optional or (
                    p.kind == "operand" and value is not None):  # a tensor that fits nothing
                add(p.name, "odd_vector", _tensor([ODD], "float32", [0.5], False))
        elif p.kind == "tensors" and isinstance(value, list) and value:
            first = value[0]
            add(p.name, "empty_list", [])
            add(p.name, "shape_mismatch", [first, _retensor(first, [
                *first["tensor"]["shape"][:-1], first["tensor"]["shape"][-1] + 1])])
            add(p.name, "rank_mismatch", [first, _retensor(first, [2, *first["tensor"]["shape"]])])
            add(p.name, "one_tensor", [first])
        else:
            for kind, v in _attr_mutations(p, value, rank):
                add(p.name, kind, v)
    names_given = {p.name for p in op.params}
    if "requires_grad" in names_given and "dtype" in names_given:  # an integer leaf asking for grad
        add("requires_grad", "requires_grad_int64", True, ())
        cases[-1]["kwargs"]["dtype"] = "int64"
        cases[-1]["id"] = f"{op.name}.requires_grad.with_int64{suffix}"
    pair = [p for p in op.params if p.kind == "int" and _dim_like(p.name)]
    if len(pair) >= 2:  # two dims of one op: the same one twice, and the two in reverse order
        a, b = pair[0].name, pair[1].name
        first = given.get(a, pair[0].default)
        second = given.get(b, pair[1].default)
        if isinstance(first, int) and isinstance(second, int):
            add(b, "dims_equal", first)
            cases[-1]["id"] = f"{op.name}.{a}+{b}.dims_equal{suffix}"
            add(a, "dims_swapped", second)
            cases[-1]["kwargs"][b] = first
            if names.index(b) < positional:
                cases[-1]["args"][names.index(b)] = first
                del cases[-1]["kwargs"][b]
            cases[-1]["id"] = f"{op.name}.{a}+{b}.dims_swapped{suffix}"
    optional = [p.name for p in op.params if p.kind == "operand" and p.optional]
    if optional and all(given.get(n) is not None for n in optional):  # clamp(x, None, None)
        add(optional[0], "all_optional_none", None, tuple(optional[1:]))
    return cases


def export() -> None:
    sys.path.insert(0, str(ROOT))
    from engine.registry import canonical_ops

    baselines = _baselines()
    cases: list[dict[str, Any]] = []
    missing = []
    for op in canonical_ops():
        if op.name not in baselines:
            missing.append(op.name)
            continue
        for suffix, family, base in baselines[op.name]:
            cases += op_cases(op, family, base, suffix)
    if missing:
        sys.exit(f"ops without a valid call in tests/golden/ops*.json: {missing}")
    ids = [c["id"] for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    _write({"generator": "scripts/goldens_argument_errors.py", "torch_version": None,
            "num_cases": len(cases), "cases": cases})
    print(f"wrote {len(cases)} cases (without torch's answers) to {OUT}")


def _write(data: dict[str, Any]) -> None:
    cases = data["cases"]
    head = json.dumps({k: v for k, v in data.items() if k != "cases"}, allow_nan=False)[:-1]
    body = ",\n".join(json.dumps(c, allow_nan=False, separators=(",", ":")) for c in cases)
    OUT.write_text(f'{head}, "cases": [\n{body}\n]}}\n')


# ----------------------------------------------------------------------------------------------
# step 2: torch's answers


def goldens() -> None:
    import torch

    assert torch.__version__.startswith("2.13"), torch.__version__
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_goldens

    call_torch = make_goldens.call_torch
    # importing a family module gives torch the family's missing names (getitem, solve, add_, ...)
    import goldens_indexing  # noqa: F401
    import goldens_inplace  # noqa: F401
    import goldens_linalg  # noqa: F401
    import goldens_nn

    callers = {"nn": goldens_nn._call_torch}
    torch.set_num_threads(1)  # (a parallel kernel names whichever bad element a thread met first)
    data = json.loads(OUT.read_text())
    warnings.simplefilter("ignore")
    kept = []
    for case in data["cases"]:
        inputs: dict[int, Any] = {}
        args = [make_goldens.decode_arg(a, i, inputs) for i, a in enumerate(case["args"])]
        kwargs = {k: make_goldens.decode_arg(v, k, inputs) for k, v in case["kwargs"].items()}
        torch.manual_seed(0)
        try:
            callers.get(case["family"], call_torch)(case["op"], args, kwargs)
        except Exception as err:  # noqa: BLE001 - every exception is the answer recorded
            if "received an invalid combination of arguments" in str(err):
                # torch's Python binding cannot take this call form (arange(5, step=0): a keyword
                # after the one-number overload); nothing about the argument's value to compare
                print("left out (call form torch does not take):", case["id"])
                continue
            case["torch"] = {"error": type(err).__name__, "message": str(err)}
        else:
            case["torch"] = {"accepted": True}
        kept.append(case)
    data["cases"], data["num_cases"] = kept, len(kept)
    data["torch_version"] = torch.__version__
    _write(data)
    errors = sum("error" in c["torch"] for c in data["cases"])
    print(f"wrote {data['num_cases']} cases ({errors} refused by torch) to {OUT}")


if __name__ == "__main__":
    export() if sys.argv[1:] == ["export"] else goldens()
