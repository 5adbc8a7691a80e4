"""openapi/openapi.json is the contract: generated from the app by scripts/gen_openapi.py, and
this test fails when the committed file and the app disagree."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from fastapi import FastAPI

from service.openapi import render
from tests.service.helpers import ROOT

COMMITTED = ROOT / "openapi" / "openapi.json"


def test_committed_contract_matches_the_app(app: FastAPI) -> None:
    assert COMMITTED.read_text() == render(app.openapi()), \
        "openapi/openapi.json is stale: run scripts/gen_openapi.py"


def test_generator_check_mode_agrees() -> None:
    r = subprocess.run([sys.executable, "scripts/gen_openapi.py", "--check"], cwd=ROOT,
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr


def test_every_error_response_is_a_problem(app: FastAPI) -> None:
    doc: dict[str, Any] = app.openapi()
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            codes = {int(c) for c in operation["responses"]}
            assert {413, 500} <= codes, (path, method)
            for code, response in operation["responses"].items():
                if int(code) >= 400:
                    assert response["content"] == {"application/problem+json": {
                        "schema": {"$ref": "#/components/schemas/Problem"}}}, (path, code)
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "Problem" in schemas
    assert {"422", "503", "400", "415"} <= set(doc["paths"]["/v1/run"]["post"]["responses"])


def test_every_op_is_in_the_contract(app: FastAPI) -> None:
    from service.signatures import SIGNATURES

    mapping = app.openapi()["components"]["schemas"]["Call"]["discriminator"]["mapping"]
    assert set(mapping) == set(SIGNATURES)
