"""The engine's layers, and the rule that keeps them layers: a module imports only modules of its
own layer or of layers below it, at module level or inside a function alike (an import moved into a
function to dodge a cycle is still a cycle). Imports under ``if TYPE_CHECKING:`` are annotations
only and do not count.

Also: an op records its result under a grad_fn name taken from a declaration (``<op>.op.grad_fn``,
``<op>.op.forms[...]`` or an ``internal_node``), never a string written at the call.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Bottom to top. A module belongs to the first layer whose prefix names it (engine.ops covers
# engine.ops.*).
LAYERS: list[tuple[str, ...]] = [
    ("engine.errors", "engine.backend", "engine.grad_mode", "engine.registry", "engine.printing",
     "engine.dims", "engine.sizes", "engine.summation"),
    ("engine.dtypes", "engine.context", "engine.versions"),
    ("engine.tensor",),  # the Tensor: data and its place in the graph, no ops
    ("engine.graph",),  # nodes, edges, saved tensors
    ("engine.anomaly",),
    ("engine.ops",),  # every op, its forward and VJP; attaches Tensor's op methods
    ("engine.autograd",),  # the backward pass (VJPs are ops); attaches Tensor.backward
    ("engine.functional", "engine.gradcheck"),
    ("engine",),  # the package's public names
    ("service",),
]


def _layer(module: str) -> int | None:
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if module == p or (p != "engine" and module.startswith(p + ".")):
                return i
    return None


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import outside ``if TYPE_CHECKING:`` blocks. ``from a
    import b`` counts as importing ``a.b`` when that is a module, else ``a``."""
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                type_only.update(id(n) for n in ast.walk(sub))
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module.split(".") if is_package else module.split(".")[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join(pkg + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield node.lineno, full if _is_module(full) else base


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _violations() -> list[str]:
    found = []
    for path in sorted([*ROOT.glob("engine/**/*.py"), *ROOT.glob("service/**/*.py")]):
        module = _module_name(path)
        own = _layer(module)
        assert own is not None, f"{module} is in no layer: add it to LAYERS"
        tree = ast.parse(path.read_text(), str(path))
        for line, imported in _imports(tree, module, path.name == "__init__.py"):
            theirs = _layer(imported)
            if theirs is not None and theirs > own:
                found.append(f"{path.relative_to(ROOT)}:{line}: {module} (layer {own}) imports "
                             f"{imported} (layer {theirs})")
    return found


def test_no_module_imports_a_higher_layer() -> None:
    found = _violations()
    assert not found, "imports against the layering:\n" + "\n".join(found)


def test_the_checker_sees_function_level_imports() -> None:
    tree = ast.parse("def f():\n    from engine.autograd import backward\n")
    assert list(_imports(tree, "engine.tensor", False)) == [(2, "engine.autograd")]
    assert _layer("engine.autograd") > _layer("engine.tensor")  # type: ignore[operator]


RECORDERS = {"record", "record_multi", "take", "_picked", "_pieces"}


def test_ops_record_declared_grad_fn_names_only() -> None:
    """A string literal as the grad_fn of a record call could drift from the op's declaration;
    every name must come from one (``add.op.grad_fn``, ``sum.op.forms[...]``, internal_node)."""
    found = []
    for path in sorted(ROOT.glob("engine/ops/*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in RECORDERS):
                continue
            for arg in node.args[1:]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) \
                        and "Backward" in arg.value:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {arg.value}")
    assert not found, "grad_fn names written at the call:\n" + "\n".join(found)
