"""The benchmark harness (bench/) cannot rot: every case runs once at tiny size through the real
driver and worker processes, gradserve's side and every baseline that needs no torch. Nothing here
asserts a time, and nothing needs torch (it is a benchmark-only dependency)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.cli import service_missing
from bench.registry import load_cases

REPO = Path(__file__).resolve().parent.parent


def test_smoke_run_covers_every_case(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    (path,) = tmp_path.glob("*-smoke.json")
    results = json.loads(path.read_text())
    rows = {row["case"]: row for row in results["cases"]}
    cases = load_cases()
    assert list(rows) == list(cases)
    service_ready = service_missing() is None
    for name, row in rows.items():
        case = cases[name]
        if case.needs == "gpu" and row["status"] == "skipped (no GPU)":
            continue
        if case.needs == "service" and not service_ready:
            assert row["status"] == "pending service", (name, row)
            continue
        assert row["status"] == "ran (smoke)", (name, row.get("error"), row.get("stderr_tail"))
        assert len(row["sides"]["gradserve"]["values"]) == 1
        assert ("baseline" in row["sides"]) == (not case.baseline_needs_torch)
    table = (tmp_path / "latest-smoke.md").read_text()
    assert all(f"| `{name}`" in table for name in cases)
    assert results["machine"]["cpu_count"] and results["machine"]["python"]


def test_harness_never_imports_torch() -> None:
    code = ("import sys, bench.cli, bench.runner, bench.worker, bench.servers, bench.loadgen; "
            "bench.registry.load_cases(); assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)


def test_numpy_baselines_compute_what_the_engine_computes() -> None:
    from bench.cases import engine_cases as ec

    p = {"batch": 4, "width": 8, "layers": 3}
    mlp = ec.EngineMLP(p)
    mlp()
    xa, ta, layers = ec.mlp_arrays(p)
    _, grads = ec.numpy_mlp_step(xa, ta, layers)()
    for got, want in zip(mlp.grads(), grads, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)

    import engine as ge

    q = {"n": 7, "width": 8}
    x = ge.tensor(ec._chain_input(q), requires_grad=True)
    y = x
    for _ in range(q["n"]):
        y = y.tanh() * 1.01
    y.sum().backward()
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.numpy(), ec.chain_numpy(q)(), rtol=1e-5)


@pytest.mark.timeout(120)
def test_load_generator_and_servers_against_the_constant_app() -> None:
    from bench.baselines.constant_app import app
    from bench.servers import AsgiClient, HttpLoad, Server

    load = HttpLoad(Server("bench.baselines.constant_app:app"), "/v1/run", b"{}", connections=2,
                    duration=0.3)
    try:
        result = load()
    finally:
        load.close()
    assert result["value"] > 0 and result["extra"]["errors"] == 0
    assert load.server.proc.poll() is not None  # closed

    client = AsgiClient(app)
    try:
        assert client.post("/v1/run", b"{}") == (200, b'{"ok":true}')
    finally:
        client.close()
