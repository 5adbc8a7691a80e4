"""The code base stays lint- and type-clean: ruff over everything, mypy over the packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_ruff_is_clean() -> None:
    run = _run("ruff", "check", ".")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-1000:]


def test_mypy_is_clean() -> None:
    run = _run("mypy", "engine", "service")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-1000:]
