"""Gradient-check cases, keyed by registry op name.

Every op in engine.registry.OPS must appear here (test_gradcheck enforces it): differentiable ops
with inputs to check to first and second order, the others with a call whose output must not enter
the graph.  Argument spellings:

* ``S(2, 3)``: a random float64 leaf that requires grad (``domain`` keeps it inside the op's domain)
* ``V([...])``: a float64 leaf with these values
* a number, list or string: passed as is
* ``I([...])``, ``B([...])``, ``F([...])``: int64 / bool / float64 constants that need no grad
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

import engine as ge


@dataclass(frozen=True)
class S:
    shape: tuple[int, ...]
    domain: str = "real"  # real | positive | unit (|x| < 1) | distinct (no ties)

    def __init__(self, *shape: int, domain: str = "real") -> None:
        object.__setattr__(self, "shape", tuple(shape))
        object.__setattr__(self, "domain", domain)


@dataclass(frozen=True)
class V:
    values: Any


@dataclass(frozen=True)
class K:
    value: Any


def I(values: Any) -> K:  # noqa: E743, N802 - reads as a constructor in the table
    return K(("int64", values))


def B(values: Any) -> K:  # noqa: N802
    return K(("bool", values))


def F(values: Any) -> K:  # noqa: N802
    return K(("float64", values))


@dataclass(frozen=True)
class Case:
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    second_order: bool = True

    @property
    def id(self) -> str:
        parts = [repr(a.shape) if isinstance(a, S) else type(a).__name__ for a in self.args]
        parts += [f"{k}={v}" for k, v in self.kwargs.items()]
        return ",".join(parts)


def C(*args: Any, second_order: bool = True, **kwargs: Any) -> Case:
    return Case(args, kwargs, second_order)


def build(arg: Any, rng: np.random.Generator) -> Any:
    """Turn one table entry into the engine value the op receives."""
    if isinstance(arg, S):
        n = int(np.prod(arg.shape))
        if arg.domain == "positive":
            data = rng.uniform(0.5, 2.0, arg.shape)
        elif arg.domain == "unit":
            data = rng.uniform(-0.9, 0.9, arg.shape)
        elif arg.domain == "distinct":
            data = (rng.permutation(n) * 0.37 - 0.4 * n + rng.uniform(0, 0.1, n)).reshape(arg.shape)
        else:
            data = rng.standard_normal(arg.shape)
            data = np.where(np.abs(data) < 0.05, 0.3, data)  # keep clear of kinks at 0
        return ge.tensor(data, dtype="float64", requires_grad=True)
    if isinstance(arg, V):
        return ge.tensor(arg.values, dtype="float64", requires_grad=True)
    if isinstance(arg, K):
        v = arg.value
        if isinstance(v, tuple) and len(v) == 2 and v[0] in ("int64", "bool", "float64"):
            return ge.tensor(v[1], dtype=v[0])
        return v
    if isinstance(arg, list) and any(isinstance(a, (S, V, K)) for a in arg):
        return [build(a, rng) for a in arg]  # a list of tensors (cat, stack, einsum)
    return arg  # plain numbers, lists and strings are passed as they are


# Cases of ops whose result must not require grad (comparisons, argmax, creation, ...).
NONDIFF: dict[str, list[Case]] = {
    "lt": [C(S(2, 3), 0.0)], "le": [C(S(3), S(3))], "gt": [C(S(2, 3), S(3))],
    "ge": [C(S(3), 0.5)], "eq": [C(S(3), S(3))], "ne": [C(S(3), 1.0)],
    "logical_not": [C(B([True, False]))], "isnan": [C(V([1.0, float("nan")]))],
    "logical_and": [C(B([True, False]), B([True, True]))],
    "logical_or": [C(B([True, False]), False)],
    "scatter_add": [C(I([[1, 2], [3, 4]]), 1, I([[0, 0], [1, 1]]), I([[5, 6], [7, 8]]))],
    "argmax": [C(S(2, 3)), C(S(2, 3), 1, True)], "argmin": [C(S(2, 3)), C(S(2, 3), 0)],
    "zeros": [C([2, 3])], "ones": [C([2])], "full": [C([2, 2], 1.5)], "eye": [C(3), C(2, 3)],
    "arange": [C(5), C(0.0, 1.0, 0.25)], "linspace": [C(0.0, 1.0, 5)],
    "rand": [C([2, 3])], "randn": [C([4])], "randint": [C(0, 10, [3])],
    "zeros_like": [C(S(2, 3))], "ones_like": [C(S(2))], "full_like": [C(S(2), 3.0)],
    "rand_like": [C(S(2, 2))], "randn_like": [C(S(3))], "randint_like": [C(I([1, 2]), 0, 5)],
}

CASES: dict[str, list[Case]] = {
    # arithmetic, with broadcasting and 0-d operands
    "add": [C(S(2, 3), S(3)), C(S(2, 1), S(1, 3), alpha=2.0), C(S(), S(2)), C(S(3), 2.5)],
    "sub": [C(S(2, 3), S(2, 3)), C(S(3), S(2, 1), alpha=0.5), C(S(3), 1.0)],
    "rsub": [C(S(2, 3), 2.0), C(S(3), S(2, 3))],
    "mul": [C(S(2, 3), S(3)), C(S(), S(2, 2)), C(S(3), 3.0), C(S(0, 3), S(3))],
    "div": [C(S(2, 3), S(3, domain="positive")), C(S(3), 2.0), C(S(2), S(2, 1, domain="positive"))],
    "neg": [C(S(2, 3)), C(S())],
    "pow": [C(S(3, domain="positive"), 2), C(S(3, domain="positive"), 0.5), C(S(3), 3),
            C(S(2, 3, domain="positive"), S(3)), C(2.0, S(3)), C(S(2), 0)],
    "exp": [C(S(2, 3))], "exp2": [C(S(3))], "log": [C(S(2, 3, domain="positive"))],
    "log1p": [C(S(3, domain="positive"))], "expm1": [C(S(3))],
    "sqrt": [C(S(2, 3, domain="positive"))], "rsqrt": [C(S(3, domain="positive"))],
    "reciprocal": [C(S(3, domain="positive"))], "square": [C(S(2, 3))],
    "abs": [C(S(2, 3))], "sign": [C(S(3))], "sin": [C(S(2, 3))], "cos": [C(S(3))],
    "tan": [C(S(3, domain="unit"))], "tanh": [C(S(2, 3))], "sigmoid": [C(S(2, 3))],
    "relu": [C(S(2, 3))],
    "clamp": [C(S(2, 3), -0.5, 0.5), C(S(4), min=0.0), C(S(4), max=0.1)],
    "maximum": [C(S(2, 3), S(3))], "minimum": [C(S(3), S(2, 3))],
    "where": [C(B([True, False, True]), S(3), S(2, 3)), C(B([[True], [False]]), S(2, 3), 0.0)],
    # reductions
    "sum": [C(S(2, 3)), C(S(2, 3), 1), C(S(2, 3, 4), [0, 2], True), C(S()), C(S(0, 3), 0)],
    "mean": [C(S(2, 3)), C(S(2, 3), 0), C(S(2, 3, 4), (0, 1), True)],
    "prod": [C(S(2, 3)), C(S(2, 3), 1), C(S(3, 2), 0, True), C(V([2.0, 0.0, 3.0])),
             C(V([[0.0, 0.0, 2.0], [1.0, 2.0, 3.0]]), 1)],
    "max": [C(S(2, 3, domain="distinct")), C(S(2, 3, domain="distinct"), 1),
            C(S(2, 3, domain="distinct"), 0, True)],
    "min": [C(S(2, 3, domain="distinct")), C(S(3, 2, domain="distinct"), 1)],
    "amax": [C(S(2, 3, domain="distinct")), C(S(2, 3, domain="distinct"), 1, True)],
    "amin": [C(S(2, 3, domain="distinct"), [0, 1])],
    "var": [C(S(2, 3)), C(S(2, 3), 1), C(S(3, 4), 0, correction=0, keepdim=True)],
    "std": [C(S(2, 3)), C(S(2, 3), 1, keepdim=True)],
    "norm": [C(S(2, 3)), C(S(2, 3), 1), C(S(2, 3), float("inf")), C(S(2, 3), 2, 1),
             C(S(2, 3), 3, (0, 1)), C(S(3), "fro", 0, True)],
    "logsumexp": [C(S(2, 3), 1), C(S(2, 3, 2), (0, 2), True)],
    # products
    "matmul": [C(S(3), S(3)), C(S(2, 3), S(3)), C(S(3), S(3, 2)), C(S(2, 3), S(3, 4)),
               C(S(2, 2, 3), S(3, 2)), C(S(2, 3), S(2, 3, 2)), C(S(2, 1, 2, 3), S(3, 3, 2)),
               C(S(3), S(2, 3, 2))],
    "mm": [C(S(2, 3), S(3, 4))], "mv": [C(S(2, 3), S(3))], "dot": [C(S(4), S(4))],
    "bmm": [C(S(2, 2, 3), S(2, 3, 2))], "outer": [C(S(3), S(2))],
    # shapes
    "t": [C(S(2, 3)), C(S(3))], "transpose": [C(S(2, 3, 4), 0, 2), C(S(2, 3), -1, 0)],
    "permute": [C(S(2, 3, 4), [2, 0, 1])],
    "reshape": [C(S(2, 3), [3, 2]), C(S(2, 3), [-1])], "view": [C(S(2, 3), [6, 1])],
    "flatten": [C(S(2, 3, 4)), C(S(2, 3, 4), 1)],
    "squeeze": [C(S(2, 1, 3)), C(S(2, 1, 3), 1), C(S(1, 2, 1), [0, 2])],
    "unsqueeze": [C(S(2, 3), 1), C(S(3), -1)],
    "expand": [C(S(3, 1), [3, 4]), C(S(3), [2, -1])], "broadcast_to": [C(S(1, 3), [2, 3])],
    "clone": [C(S(2, 3))], "contiguous": [C(S(2, 3))], "to": [C(S(3), "float64")],
    # indexing
    "gather": [C(S(2, 3), 1, I([[0, 2], [1, 1]]))],
    "scatter_add": [C(S(2, 3), 1, I([[0, 2], [1, 1]]), S(2, 2))],
}


def _merge_families() -> None:
    """The op families added later keep their cases in their own modules (cases_*.py)."""
    import importlib

    for family in ("nn", "indexing", "linalg", "inplace"):
        module = importlib.import_module(f"tests.engine.cases_{family}")
        for table, extra in ((CASES, module.CASES), (NONDIFF, module.NONDIFF)):
            clash = set(table) & set(extra)
            assert not clash, f"cases declared twice: {clash}"
            table.update(extra)


_merge_families()
