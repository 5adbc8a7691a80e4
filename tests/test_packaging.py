"""The wheel holds what an installed server needs beyond the code: the built playground
(service/static, so `pip install .` needs no node) and examples/ as service.examples (the
playground's menu). Built from a copy of the files the Dockerfile copies, as pip builds it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from service.examples import FORMATS

ROOT = Path(__file__).resolve().parents[1]
# what the image's build context holds (.dockerignore): the wheel must build from exactly these
SOURCES = ["pyproject.toml", "setup.py", "README.md", "engine", "service", "examples"]


@pytest.mark.timeout(600)
def test_wheel_ships_the_playground_and_the_examples(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, src / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                           str(tmp_path / "dist"), str(src)], capture_output=True, text=True,
                          timeout=540, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (wheel,) = (tmp_path / "dist").glob("gradserve-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    static = ROOT / "service" / "static"
    for path in static.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            assert f"service/static/{path.relative_to(static).as_posix()}" in names, path
    examples = [p.name for p in (ROOT / "examples").iterdir() if p.suffix in FORMATS]
    assert examples and all(f"service/examples/{name}" in names for name in examples)
    assert "service/routers/playground.py" in names and "engine/ops/core.py" in names
