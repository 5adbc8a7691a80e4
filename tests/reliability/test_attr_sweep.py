"""Every registry op, called with an extreme value for each of its attributes (0, negative, 2**62,
1e308, empty and huge lists, ...), then differentiated: each answer is 200 or a 4xx problem, never
a 500, and no call allocates much more than the program's element limits allow (what the engine
allocates inside an op -- padded copies, unfolded windows, index arrays, backward temporaries -- is
checked before it is allocated, like the op's result).

The programs run through the app in-process (the same route, validation and interpreter as a real
server, without the sockets); each op's ordinary arguments come from the gradient-check cases
(tests/engine/op_cases.py), so the sweep follows the registry as it grows. Memory is measured with
tracemalloc, which sees numpy's buffers: a refused request allocates next to nothing, an admitted
one stays within a bound set by the limits.
"""

from __future__ import annotations

import inspect
import itertools
import math
import resource
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from engine.registry import OpDef, canonical_ops
from service.app import create_app
from tests.engine.op_cases import CASES, NONDIFF, K, S, V
from tests.service.helpers import TEST_SETTINGS

pytestmark = pytest.mark.timeout(300)

BIG = 2**62
EXTREMES: dict[str, list[Any]] = {
    "int": [0, -1, -BIG, BIG, 2**63 - 1],
    "float": [0.0, -1.0, 1e308, -1e308, 1e-308, "NaN", "Infinity", "-Infinity", BIG],
    "number": [0, -1, 1e308, -1e308, 1e-308, "NaN", "Infinity", "-Infinity", BIG, -BIG],
    "ints": [[], [0], [-1], [BIG], [BIG, 0], [0, BIG], [-BIG], [1] * 64, [2] * 40, [BIG] * 64,
             [1] * 65, BIG, 0, -1],
    "dims": [[], [0], [-1], [BIG], [BIG, 0], [-BIG], [1] * 64, [BIG] * 64, BIG, -BIG, 0, None],
    "str": ["", "..." * 20, "i" * 64 + "->", "a,b,c,d,e,f,g,h->abcdefgh"],
    "index": [BIG, -BIG, [BIG], {"start": -BIG, "stop": BIG, "step": BIG}, {"step": 0},
              {"step": -1}, [None] * 64, ["...", "..."], [[0] * 300, [[0]] * 300],
              [[True] * 1000]],
}
# The element limits of the sweep: small, so that a call that would allocate much more than
# they allow is easy to see. tracemalloc's peak for one request stays under BYTES_BOUND: the
# alive limit in float64 elements, twice over (an op's operands and its intermediates), and room
# for the answer and the interpreter's own objects.
SETTINGS = TEST_SETTINGS.model_copy(update={"max_tensor_elements": 50_000,
                                            "max_alive_elements": 200_000, "queue_size": 4})
BYTES_BOUND = 2 * 8 * SETTINGS.max_alive_elements + 24 * 2**20


def _operand(arg: Any, stmts: list[dict[str, Any]]) -> Any:
    """A gradient-check case's argument as a program value: tensors become statements."""
    name = f"t{len(stmts)}"
    if isinstance(arg, S):
        attrs = {"size": list(arg.shape), "dtype": "float64", "requires_grad": True}
        if arg.domain == "positive":  # (0.5, 1.5)
            stmts.append({"name": name, "op": "add", "args": [{"op": "rand", "attrs": attrs}, 0.5]})
        elif arg.domain == "unit":  # (0, 0.9)
            stmts.append({"name": name, "op": "mul", "args": [{"op": "rand", "attrs": attrs}, 0.9]})
        else:
            stmts.append({"name": name, "op": "randn", "attrs": attrs})
        return name
    if isinstance(arg, V):
        stmts.append({"name": name, "op": "tensor", "args": [_wire(arg.values)],
                      "attrs": {"dtype": "float64", "requires_grad": True}})
        return name
    if isinstance(arg, K):
        dtype, values = arg.value
        stmts.append({"name": name, "op": "tensor", "args": [_wire(values)], "attrs": {"dtype": dtype}})
        return name
    if isinstance(arg, list) and any(isinstance(a, (S, V, K)) for a in arg):
        return [_operand(a, stmts) for a in arg]
    return _wire(arg)


def _wire(value: Any) -> Any:
    """A plain argument in the JSON spelling programs use (the cases may spell an index, an
    infinite p, as Python does)."""
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    if isinstance(value, slice):
        return {k: v for k, v in (("start", value.start), ("stop", value.stop),
                                  ("step", value.step)) if v is not None}
    if value is Ellipsis:
        return "..."
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    return value


def _base(op: OpDef) -> tuple[list[dict[str, Any]], list[Any], dict[str, Any]]:
    """Statements making the op's ordinary inputs, its args and its attrs (from its first case)."""
    case = (CASES.get(op.name) or NONDIFF[op.name])[0]
    sig = inspect.signature(op.fn)
    bound = dict(sig.bind(*case.args, **case.kwargs).arguments)
    for name, param in sig.parameters.items():  # einsum's operands may come one by one
        if param.kind is param.VAR_POSITIONAL and bound.get(name):
            tensors = next(p.name for p in op.params if p.kind == "tensors")
            first = bound[tensors]
            bound[tensors] = [*(first if isinstance(first, list) else [first]), *bound.pop(name)]
    stmts: list[dict[str, Any]] = []
    args: list[Any] = []
    attrs: dict[str, Any] = {}
    for p in op.params:
        if p.name in bound:
            value = _operand(bound[p.name], stmts)
            if p.is_input:
                args.append(value)
            else:
                attrs[p.name] = value
    if op.inplace and args and isinstance(args[0], str):
        # an in-place op changes a clone (torch refuses a leaf that requires grad)
        stmts.append({"name": "target", "op": "clone", "args": [args[0]]})
        args[0] = "target"
    return stmts, args, attrs


# Values given to two integer attributes of an op at once: sizes that only hurt together (a
# wide padding with a long stride pads a 1-pixel input to billions for a 1-pixel output).
TOGETHER = [10**4, 10**6, 2**40, -(10**4)]
INTEGER_KINDS = ("int", "ints", "dims", "number")


def _programs() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(label, program) for every op, attribute and extreme value (and every pair of its integer
    attributes large at once): the call, then a backward pass through its result (where
    it has one: otherwise that statement is the 422)."""
    back = {"op": "backward", "args": [{"op": "sum", "args": ["out"]}]}
    for op in canonical_ops():
        stmts, args, attrs = _base(op)
        for p in op.attrs:
            for value in EXTREMES.get(p.kind, []):
                call = {"name": "out", "op": op.name, "args": args,
                        "attrs": {**attrs, p.name: value}}
                yield f"{op.name}.{p.name}={str(value)[:40]}", [*stmts, call, back]
        integers = [p.name for p in op.attrs if p.kind in INTEGER_KINDS]
        for pair in itertools.combinations(integers, 2):
            for value in TOGETHER:
                call = {"name": "out", "op": op.name, "args": args,
                        "attrs": {**attrs, **dict.fromkeys(pair, value)}}
                yield f"{op.name}.{'+'.join(pair)}={value}", [*stmts, call, back]


def test_sweep_covers_every_op_with_attributes() -> None:
    swept = {label.split(".")[0] for label, _ in _programs()}
    with_attrs = {op.name for op in canonical_ops()
                  if any(p.kind in EXTREMES for p in op.attrs)}
    assert swept == with_attrs
    assert len(swept) > 60


@pytest.mark.anyio
async def test_each_ops_ordinary_call_answers_200() -> None:
    """The sweep starts from calls that work: each extreme value is then the only thing wrong."""
    app = create_app(SETTINGS)
    failed: list[str] = []
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gradserve") as client:
            for op in canonical_ops():
                stmts, args, attrs = _base(op)
                call = {"name": "out", "op": op.name, "args": args, "attrs": attrs}
                r = await client.post("/v1/run", json={"program": [*stmts, call], "seed": 0})
                if r.status_code != 200:
                    failed.append(f"{op.name}: {r.status_code} {r.text[:200]}")
    finally:
        app.shared.runner.close()
    assert not failed, "\n".join(failed)


@contextmanager
def _address_space_capped(extra: int = 4 * 2**30) -> Iterator[None]:
    """Cap this process's address space a few GiB above its present size while the sweep runs:
    should an op ever allocate without checking again, it fails at once (a 500 the sweep
    reports) instead of filling the machine's memory."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as statm:
        size = int(statm.read().split()[0]) * resource.getpagesize()
    cap = size + extra if hard == resource.RLIM_INFINITY else min(size + extra, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.mark.anyio
async def test_every_op_with_extreme_attributes_answers_without_a_500() -> None:
    app = create_app(SETTINGS)
    bad: list[str] = []
    heavy: list[str] = []
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    tracemalloc.start()
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gradserve") as client:
            with _address_space_capped():
                for label, program in _programs():
                    tracemalloc.reset_peak()
                    before = tracemalloc.get_traced_memory()[0]
                    r = await client.post("/v1/run", json={"program": program, "seed": 0})
                    peak = tracemalloc.get_traced_memory()[1] - before
                    if not (r.status_code == 200 or 400 <= r.status_code < 500):
                        bad.append(f"{label}: {r.status_code} {r.text[:200]}")
                    elif r.status_code != 200 and \
                            r.headers["content-type"] != "application/problem+json":
                        bad.append(f"{label}: {r.status_code} is not a problem")
                    if peak > BYTES_BOUND:
                        heavy.append(f"{label}: {peak / 2**20:.0f} MiB ({r.status_code})")
    finally:
        tracemalloc.stop()
        app.shared.runner.close()
    assert not bad, "\n".join(bad)
    assert not heavy, "\n".join(heavy)
