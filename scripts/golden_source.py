#!/usr/bin/env python3
"""Goldens of the source front end (service/source/), in two steps:

1. ``.venv/bin/python scripts/golden_source.py export`` (gradserve's venv, no torch): writes each
   example program (``examples/*.json``) as the torch script gradserve exports for it, into
   ``tests/golden/exported/<name>.py``, and each example source (``examples/*.py``) translated
   and exported again into ``tests/golden/exported/source_<name>.py``. tests/service/
   test_source.py checks the exporter still writes exactly these files.
2. ``/work/torchvenv/bin/python scripts/golden_source.py`` (torch 2.13, no gradserve): runs under
   real torch every example source (``examples/*.py``) and every exported script, and records what
   each ``print`` call wrote (gradserve's ``printed`` convention: one entry per call, less one final
   newline; grad_fn addresses cut) and every top-level tensor (shape, dtype, data, requires_grad,
   grad) into ``tests/golden/source.json``. It also checks the exporter's tables of functional-only
   and method-only ops against torch.

torch is never a dependency of gradserve; only step 2 imports it. Running the examples here executes
this repository's own files with real Python: it is a developer tool, never part of the service.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXPORTED = ROOT / "tests" / "golden" / "exported"
GOLDEN = ROOT / "tests" / "golden" / "source.json"
ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")


def export() -> None:
    sys.path.insert(0, str(ROOT))
    from service.source.exporter import export_program
    from service.source.translator import translate

    EXPORTED.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "examples").glob("*.json")):
        body = json.loads(path.read_text())
        (EXPORTED / f"{path.stem}.py").write_text(export_program(body["program"],
                                                                 body.get("seed")))
        print("wrote", EXPORTED / f"{path.stem}.py")
    # each example source, translated and exported again (source -> program -> torch script)
    from service.errors import ProgramError

    for path in sorted((ROOT / "examples").glob("*.py")):
        try:
            translation = translate(path.read_text())
        except ProgramError as err:  # (its test fails too: the file it compares with is missing)
            print("NOT WRITTEN:", path.name, "does not translate:", err.message)
            continue
        target = EXPORTED / f"source_{path.stem}.py"
        target.write_text(export_program(translation.program, translation.seed))
        print("wrote", target)


def _number(v: float) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else "Infinity" if v > 0 else "-Infinity"
    return v


def _tensor(t: Any) -> dict[str, Any]:
    return {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
            "data": [_number(v) for v in t.detach().reshape(-1).tolist()],
            "requires_grad": t.requires_grad,
            "grad": None if t.grad is None else [_number(v) for v in
                                                 t.grad.reshape(-1).tolist()]}


def run(path: Path) -> dict[str, Any]:
    import torch

    printed: list[str] = []

    def capture(*args: Any, sep: str | None = " ", end: str | None = "\n", **_: Any) -> None:
        text = (" " if sep is None else sep).join(str(a) for a in args) + (
            "\n" if end is None else end)
        printed.append(ADDRESS.sub(">", text[:-1] if text.endswith("\n") else text))

    scope: dict[str, Any] = {"__name__": "__main__", "print": capture}
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in path.read_text().splitlines())
    exec(compile(code, str(path), "exec"), scope)  # noqa: S102 - our own example, under torch
    tensors = {k: _tensor(v) for k, v in scope.items()
               if isinstance(v, torch.Tensor) and not k.startswith("_")}
    return {"printed": printed, "tensors": tensors}


def check_tables() -> None:
    import torch
    import torch.nn.functional as F  # noqa: N812

    sys.path.insert(0, str(ROOT / "scripts"))
    text = (ROOT / "service" / "source" / "exporter.py").read_text()
    for table in ("FUNCTIONAL_ONLY", "METHOD_ONLY"):
        block = text.split(f"{table} = frozenset({{", 1)[1].split("})", 1)[0]
        for name in re.findall(r'"(\w+)"', block):
            assert not hasattr(torch, name), f"{name} is a torch function"
            if table == "FUNCTIONAL_ONLY":
                assert hasattr(F, name), f"{name} is not in torch.nn.functional"
            else:
                assert hasattr(torch.Tensor, name), f"{name} is not a Tensor method"


def goldens() -> None:
    import torch

    assert torch.__version__.startswith("2.13"), torch.__version__
    check_tables()
    out: dict[str, Any] = {"torch": torch.__version__, "examples": {}, "exported": {}}
    for path in sorted((ROOT / "examples").glob("*.py")):
        torch.manual_seed(2)
        out["examples"][path.stem] = run(path)
    for path in sorted(EXPORTED.glob("*.py")):
        out["exported"][path.stem] = run(path)
    GOLDEN.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", GOLDEN)


if __name__ == "__main__":
    export() if sys.argv[1:] == ["export"] else goldens()
