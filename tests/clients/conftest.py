"""Fixtures for the client tests: a live server (the service suite's), the TypeScript client's
npm packages (``npm ci`` from the committed lockfile, cache in build/), and a virtual environment
with the Python code generators (clients/generators.txt, in build/generators-venv). All three
are made once per session; the generators' environment and the npm cache are kept in build/
between runs, and remade when the pins change."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import anyio_backend, live_url  # noqa: F401  (the service suite's)
from tests.service.helpers import ROOT

TS_DIR = ROOT / "clients" / "typescript"
BUILD = ROOT / "build"
CONTRACT = ROOT / "openapi" / "openapi.json"
GENERATORS = ROOT / "clients" / "generators.txt"
TUTORIAL = ROOT / "examples" / "seed_tutorial.json"
WHILE_PROGRAM = Path(__file__).parent / "while_program.json"


def run(cmd: Sequence[str | Path], *, cwd: Path = ROOT, timeout: float = 600,
        env: dict[str, str] | None = None) -> str:
    """Run a command; its output, or a failure that shows it."""
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n" \
        f"{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
    return proc.stdout


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """clients/typescript/node_modules, installed with ``npm ci`` from package-lock.json."""
    npm = shutil.which("npm")
    assert npm and shutil.which("node"), "the TypeScript client tests need Node.js and npm"
    run([npm, "ci", "--cache", BUILD / "npm-cache", "--prefer-offline", "--no-audit", "--no-fund"],
        cwd=TS_DIR)
    return TS_DIR / "node_modules"


@pytest.fixture(scope="session")
def generators_python() -> Path:
    """The Python of build/generators-venv, with clients/generators.txt installed."""
    venv = BUILD / "generators-venv"
    python = venv / "bin" / "python"
    stamp = venv / "generators.txt"
    wanted = GENERATORS.read_text()
    if not python.exists() or not stamp.exists() or stamp.read_text() != wanted:
        shutil.rmtree(venv, ignore_errors=True)
        run([sys.executable, "-m", "venv", venv])
        run([python, "-m", "pip", "install", "-q", "-r", GENERATORS])
        stamp.write_text(wanted)
    return python
