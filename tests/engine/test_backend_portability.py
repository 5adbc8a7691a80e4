"""The engine suite again on the strict backend: a CuPy-like wrapper over numpy that refuses
implicit host conversion and any function CuPy lacks. It proves that nothing outside
engine/backend.py relies on numpy specifically, so the CuPy backend runs the same code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


# the whole engine suite in a subprocess: minutes on a slow machine, past the suite's default
# 300 s per test under load (seen on a loaded 2-core VM); the bound is the subprocess's own
@pytest.mark.timeout(960)
def test_engine_suite_passes_on_the_strict_backend() -> None:
    env = {**os.environ, "GRADSERVE_BACKEND": "strict"}
    cmd = [sys.executable, "-m", "pytest", "tests/engine", "-q", "-p", "no:cacheprovider",
           "--ignore", "tests/engine/test_backend_portability.py"]
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


def test_unknown_backend_is_refused_at_start() -> None:
    env = {**os.environ, "GRADSERVE_BACKEND": "tpu"}
    run = subprocess.run([sys.executable, "-c", "import engine"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "GRADSERVE_BACKEND='tpu' is not a backend" in run.stderr


def test_cupy_without_cupy_fails_loudly() -> None:
    env = {**os.environ, "GRADSERVE_BACKEND": "cupy"}
    run = subprocess.run([sys.executable, "-c", "import engine"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "GRADSERVE_BACKEND=cupy" in run.stderr
