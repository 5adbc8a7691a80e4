"""The deployment, for real: scripts/docker_ci.sh builds the Dockerfile on a local Debian base
image, starts the compose `api` service, runs the contract suite against the container and checks
the JSON log, a killed worker's return, the nginx `lb` profile over two replicas and a graceful
SIGTERM. It needs root and Debian's packages (it installs docker.io, docker-compose and
mmdebstrap where they are missing); without a working Docker it fails, it is never skipped.

Its output, with each step's time since the start, is printed when it fails (and with ``-rP``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.service.helpers import ROOT

SCRIPT = ROOT / "scripts" / "docker_ci.sh"


@pytest.mark.timeout(1500)
def test_docker_image_compose_contract_drain_and_restart() -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    env.pop("GRADSERVE_TEST_URL", None)
    started = time.monotonic()
    proc = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=1400, check=False)
    took = time.monotonic() - started
    print(proc.stdout)
    print(f"scripts/docker_ci.sh took {took:.0f}s")
    assert proc.returncode == 0, f"scripts/docker_ci.sh failed ({proc.returncode}):\n" \
        + proc.stdout[-12000:]
    assert "=== docker CI: passed" in proc.stdout
