"""The OpenAPI document: FastAPI's, with every error response as application/problem+json.

FastAPI documents extra responses under the route's own media type and adds its own 422 schema
(HTTPValidationError); gradserve answers every error with the Problem schema as
application/problem+json, so both are rewritten here. ``render`` gives the committed text of
openapi/openapi.json (scripts/gen_openapi.py writes it, a test compares it).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.problems import PROBLEM_KINDS, TYPE_BASE

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def description() -> str:
    kinds = "\n".join(f"- `{TYPE_BASE}{k}`: {what}" for k, (_, what) in PROBLEM_KINDS.items())
    return (
        "Autograd as a service: POST one JSON program to /v1/run and get back values, grad_fn "
        "chains and gradients exactly as PyTorch 2.13 would print them.\n\n"
        "A request sends either `program` (the JSON statements) or `source` (PyTorch code, "
        "parsed with Python's ast and translated to the program it means; never executed). "
        "POST /v1/translate converts between the two. Problems about a source point at "
        "`/source` and carry `location` (line, column, end_line, end_column; 1-based).\n\n"
        "Non-finite floats travel in JSON as the strings \"NaN\", \"Infinity\" and "
        "\"-Infinity\" (in tensor data, attrs and scalar arguments); base64 tensor data carries "
        "them natively.\n\n"
        "Errors are RFC 9457 problem details (application/problem+json) with `pointer`, a JSON "
        "Pointer to the request element at fault. Problem types:\n\n" + kinds + "\n"
    )


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        doc = get_openapi(title=app.title, version=app.version, description=app.description,
                          routes=app.routes)
        for item in doc.get("paths", {}).values():
            for operation in item.values():
                for status, response in operation.get("responses", {}).items():
                    if int(status) >= 400:
                        response["content"] = {"application/problem+json": {"schema": _PROBLEM_REF}}
                        if response.get("description") == "Validation Error":
                            response["description"] = "The program is invalid, or failed while " \
                                                      "running (problem type says which)."
        schemas = doc.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = doc
    return app.openapi_schema


def render(doc: dict[str, Any]) -> str:
    """Deterministic text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
