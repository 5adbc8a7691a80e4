"""The op registry: the one place where an op's public facts are declared.

Every op the engine offers is an :class:`OpDef`: its name (torch's function name), its signature
(tensor inputs and static attributes, with kinds and defaults), the Python callable that runs it on
Tensors, the grad_fn class names torch gives it, and a one-line doc.  The HTTP catalog, the request
validator and the test-suite's coverage checks all read :data:`OPS`; nothing else lists ops.

The forward and VJP of each op live next to each other in ``engine/ops/*.py`` and are registered
with :func:`defop`, which hands the forward its declaration as ``.op``: the forward records its
result under ``<op>.op.grad_fn`` (or ``<op>.op.forms[name]`` when it declares several), so the
grad_fn names are written once, here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, Protocol

# How a parameter is passed and validated.
#   tensor     a Tensor (the service also accepts literals / names / nested calls)
#   tensors    a list of Tensors (cat, stack)
#   operand    a Tensor or a Python number (torch accepts either, e.g. `other` of add)
#   int, float, bool, str   a static Python value
#   number     int or float
#   ints       a list of ints (a shape, a permutation)
#   dims       an int or a list of ints or null (reduction dims)
#   dtype      one of engine.dtypes.NAMES
#   choice     one of ``choices``
ParamKind = Literal[
    "tensor", "tensors", "operand", "int", "float", "bool", "str", "number", "ints", "dims", "dtype",
    "choice", "index",
]

REQUIRED: Any = object()


@dataclass(frozen=True)
class Param:
    name: str
    kind: ParamKind
    default: Any = REQUIRED
    optional: bool = False  # None is accepted (e.g. dim=None, min=None)
    choices: tuple[Any, ...] = ()
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def is_input(self) -> bool:
        """Inputs are data (tensors or operands); everything else is a static attribute."""
        return self.kind in ("tensor", "tensors", "operand")


@dataclass(frozen=True)
class OpDef:
    name: str
    params: tuple[Param, ...]
    fn: Callable[..., Any]
    grad_fns: tuple[str, ...]  # torch grad_fn class names this op can produce ("" if none)
    doc: str
    category: str
    differentiable: bool = True
    outputs: tuple[str, ...] = ("out",)  # names of outputs; >1 means the op returns a tuple
    method: bool = True  # also available as a Tensor method
    creation: bool = False  # allocates from attributes alone (zeros, randn, ...)
    aliases: tuple[str, ...] = field(default_factory=tuple)
    inplace: bool = False  # changes its first input in place and returns it (add_, zero_, ...)

    # What a forward records its result with: ``record(data, add.op.grad_fn, ...)``. The name comes
    # from this declaration, so an op cannot record a grad_fn it does not declare. (Computed once:
    # after the first use each is a plain attribute lookup.)
    @cached_property
    def grad_fn(self) -> str:
        """The op's grad_fn name, for an op that declares exactly one."""
        if len(self.grad_fns) != 1:
            raise TypeError(f"op {self.name!r} declares {len(self.grad_fns)} grad_fns "
                            f"{self.grad_fns}: pick one with .forms[name]")
        return self.grad_fns[0]

    @cached_property
    def forms(self) -> Mapping[str, str]:
        """The declared grad_fn names by name, for an op that makes several kinds of node: a name
        it does not declare is a KeyError, never a node with that name."""
        return {name: name for name in self.grad_fns}

    @property
    def inputs(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.is_input)

    @property
    def attrs(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if not p.is_input)


OPS: dict[str, OpDef] = {}


class OpFunction(Protocol):
    """An op's forward as :func:`defop` returns it: the function itself, with its declaration as
    ``.op`` (so the forward records through ``<name>.op.grad_fn``)."""

    op: OpDef
    __name__: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...


def defop(
    name: str,
    params: list[Param] | tuple[Param, ...],
    *,
    grad_fns: tuple[str, ...] | str = (),
    doc: str,
    category: str,
    differentiable: bool = True,
    outputs: tuple[str, ...] = ("out",),
    method: bool = True,
    creation: bool = False,
    aliases: tuple[str, ...] = (),
    inplace: bool = False,
) -> Callable[[Callable[..., Any]], OpFunction]:
    """Register the decorated function as op ``name``; returns the function, with its
    :class:`OpDef` as ``.op``."""

    def register(fn: Callable[..., Any]) -> OpFunction:
        if name in OPS:
            raise ValueError(f"op {name!r} declared twice")
        gf = (grad_fns,) if isinstance(grad_fns, str) else tuple(grad_fns)
        op = OpDef(name, tuple(params), fn, gf, doc, category, differentiable, outputs, method,
                   creation, aliases, inplace)
        OPS[name] = op
        for alias in aliases:
            if alias in OPS:
                raise ValueError(f"alias {alias!r} clashes with an op")
            OPS[alias] = op
        fn.op = op  # type: ignore[attr-defined]
        return fn  # type: ignore[return-value]

    return register


# grad_fn names recorded by no op's own forward: the node of a VJP that is itself differentiable
# (TanhBackwardBackward0, ...) and steps torch's C++ code takes inside an op (MulBackward1 in
# cross_entropy). Each is declared once, with internal_node, where it is recorded.
INTERNAL_NODES: set[str] = set()


def internal_node(name: str) -> str:
    """Declare a grad_fn name that no op's forward records; returns it, for ``record``."""
    if name in INTERNAL_NODES:
        raise ValueError(f"internal node {name!r} declared twice")
    INTERNAL_NODES.add(name)
    return name


def canonical_ops() -> list[OpDef]:
    """Every op once (aliases folded), sorted by name."""
    seen: dict[str, OpDef] = {}
    for op in OPS.values():
        seen[op.name] = op
    return sorted(seen.values(), key=lambda o: o.name)


# Short constructors so op declarations read like signatures.
def T(name: str = "input", **kw: Any) -> Param:
    return Param(name, "tensor", **kw)


def Operand(name: str = "other", **kw: Any) -> Param:
    return Param(name, "operand", **kw)


def A(name: str, kind: ParamKind, default: Any = REQUIRED, **kw: Any) -> Param:
    return Param(name, kind, default, **kw)
