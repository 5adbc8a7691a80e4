"""Fuzzing from the contract: schemathesis generates requests from the committed
openapi/openapi.json (schema-valid ones and, for the body of POST /v1/run, schema-invalid ones) and
sends them to the app; no answer may be a 5xx and every answer must conform to the document
(status code, content type, headers, body schema), and schema-invalid requests must be refused.

Bounded for CI: a fixed number of examples per operation and mode (at least 1,000 requests in all,
counted), derandomised (the same requests every run), no shrinking, no example database. The bulk
goes in-process (the ASGI app, which is what the real server runs); a smaller sample goes through a
real uvicorn. Each campaign runs in a child process (see ``isolated``).

``positive_data_acceptance`` is left out: a schema-valid program may still fail while it runs (a
shape mismatch, a limit), and 422 is the documented answer for that.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from service.app import create_app
from tests.reliability.conftest import RELIABILITY_SETTINGS, Server
from tests.service.helpers import ROOT

# A bound for a hang, not a speed test: the in-process campaign took ~7 min of a full CI run on a
# slow 2-core VM (5 min alone), so the bound is twice that
pytestmark = pytest.mark.timeout(1200)

CONTRACT = ROOT / "openapi" / "openapi.json"
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE


def _schema() -> Any:
    return schemathesis.openapi.from_path(CONTRACT)


def fuzz(budget: dict[GenerationMode, int], call: Any) -> tuple[Counter[str], dict[str, str]]:
    """Run every operation of the contract with up to ``budget[mode]`` generated cases per mode
    (operations without inputs have a single case). ``call(case)`` sends one case and validates
    its response. The counts by operation and status, and each distinct failure (its first
    reproduction as a curl command)."""
    counts: Counter[str] = Counter()
    failures: dict[str, str] = {}
    for result in _schema().get_all_operations():
        operation = result.ok()
        has_body = operation.method.upper() == "POST"
        for mode, examples in budget.items():
            if mode is NEGATIVE and not has_body:
                continue  # nothing to make invalid: no parameters, no body

            _fuzz_one(operation.as_strategy(generation_mode=mode), examples,
                      f"{operation.label} {mode.value}", call, counts, failures)
    return counts, failures


def _fuzz_one(strategy: Any, examples: int, label: str, call: Any, counts: Counter[str],
              failures: dict[str, str]) -> None:
    @given(case=strategy)
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], print_blob=False,
              suppress_health_check=list(HealthCheck))
    def one(case: Any) -> None:
        try:
            response = call(case)
            counts[f"{label} {response.status_code}"] += 1
        except Exception as exc:  # a check failed (or the app raised): remember it
            counts[f"{label} failed"] += 1
            key = str(exc).split("Reproduce with", 1)[0].strip()[:600]
            failures.setdefault(key, case.as_curl_command()[:2000])

    one()


def _report(counts: Counter[str], failures: dict[str, str]) -> str:
    shown = "\n\n".join(f"{why}\n  {curl}" for why, curl in list(failures.items())[:5])
    return f"{len(failures)} distinct failures:\n\n{shown}\n\ncounts: {dict(counts)}"


def campaign(positive: int, negative: int, base_url: str | None = None
             ) -> tuple[dict[str, int], dict[str, str]]:
    """One fuzzing campaign against a fresh in-process app, or against the server at
    ``base_url``. Run in a child process (``isolated``)."""
    if base_url is not None:
        counts, failures = fuzz({POSITIVE: positive, NEGATIVE: negative},
                                lambda case: case.call_and_validate(
                                    base_url=base_url, timeout=60,
                                    excluded_checks=[positive_data_acceptance]))
        return dict(counts), failures
    app = create_app(RELIABILITY_SETTINGS)
    try:
        counts, failures = fuzz({POSITIVE: positive, NEGATIVE: negative},
                                lambda case: case.call_and_validate(
                                    app=app, excluded_checks=[positive_data_acceptance]))
    finally:
        app.shared.runner.close()
    return dict(counts), failures


def isolated(*args: Any) -> tuple[Counter[str], dict[str, str]]:
    """``campaign(*args)`` in a spawned child process: schemathesis keeps process-wide state (the
    apps whose lifespans it ran, an event-loop thread, its schema caches, some 100,000 objects)
    that would otherwise stay in the test process -- and slow down every later garbage
    collection, which timing-sensitive tests elsewhere in the suite notice."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        counts, failures = pool.apply(campaign, args)
    return Counter(counts), failures


def test_contract_fuzz_in_process() -> None:
    counts, failures = isolated(900, 200)
    assert not failures, _report(counts, failures)
    total = sum(counts.values())
    assert total >= 1000, counts
    assert not [k for k in counts if k.split()[-1].startswith("5")], counts
    # every route was exercised, and the fuzzer reached both answers and refusals of /v1/run
    assert {k.rsplit(" ", 2)[0] for k in counts} >= {
        "GET /health/live", "GET /health/ready", "GET /v1/info", "GET /v1/ops", "POST /v1/run"}
    statuses = {k.split()[-1] for k in counts if k.startswith("POST /v1/run")}
    assert {"200", "422"} <= statuses, counts


def test_contract_fuzz_through_uvicorn(server: Server) -> None:
    counts, failures = isolated(60, 40, server.url)
    assert not failures, _report(counts, failures)
    assert sum(counts.values()) >= 100, counts
