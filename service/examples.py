"""The example programs of examples/, for the playground's menu.

examples/ ships inside the Python package as ``service.examples`` (setup.py maps the folder), so
an installed server has them; in a checkout (an editable install) they are read from the
repository's examples/ folder itself. Only the folder's own files are read, by a listing made
when the server starts: no request names a path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# the menu's formats by file suffix: a JSON request body, or PyTorch source (the "source" form)
FORMATS = {".json": "json", ".py": "source"}


def examples_dir() -> Path:
    installed = Path(__file__).parent / "examples"
    return installed if installed.is_dir() else Path(__file__).resolve().parents[1] / "examples"


def load_examples(folder: Path | None = None) -> list[dict[str, Any]]:
    """Every program file in the folder, by name: ``{"name", "format", "text"}``."""
    folder = folder or examples_dir()
    return [{"name": p.name, "format": FORMATS[p.suffix], "text": p.read_text(encoding="utf-8")}
            for p in sorted(folder.iterdir()) if p.is_file() and p.suffix in FORMATS]
