"""The OpenAPI document: FastAPI's, with every error response as application/problem+json, and
shaped so that code generators make working clients from it.

FastAPI documents extra responses under the route's own media type and adds its own 422 schema
(HTTPValidationError); gradserve answers every error with the Problem schema as
application/problem+json, so both are rewritten here. ``render`` gives the committed text of
openapi/openapi.json (scripts/gen_openapi.py writes it, a test compares it).

For generators (openapi-typescript, openapi-python-client, datamodel-code-generator; tests/
clients run all three): an array schema that contains itself (an array literal, an index's
nested int array) is unrolled into :data:`LITERAL_DEPTH` named levels, none of which refers to
itself -- a self-referencing array is a type error in TypeScript and refused by
openapi-python-client. The depth is the server's default ``max_nesting_depth``: a deeper literal
is refused by the server anyway. Recursion through objects (a call's args holding calls, a
loop's body holding statements) stays; every generator handles that. ``servers`` names the
address ``gradserve`` listens on by default.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.problems import PROBLEM_KINDS, TYPE_BASE
from service.scalars import INTEGER_BOUNDS

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_REF = "#/components/schemas/"
LITERAL_DEPTH = 8
SERVERS = [{"url": "http://127.0.0.1:8000", "description": "gradserve started with its defaults"}]


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
                          routes=app.routes, servers=SERVERS)
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
        for name in [n for n, schema in schemas.items() if _self_array(n, schema)]:
            unroll(schemas, name, LITERAL_DEPTH)
        _integer_bounds(doc)
        _name_tokens(doc)
        app.openapi_schema = doc
    return app.openapi_schema


def _self_array(name: str, schema: dict[str, Any]) -> bool:
    """An array schema whose items refer to the schema itself."""
    return schema.get("type") == "array" and f'"{_REF}{name}"' in json.dumps(schema["items"])


def unroll(schemas: dict[str, Any], name: str, depth: int) -> None:
    """Replace the self-referencing array schema ``name`` by ``depth`` levels: ``name`` holds
    arrays of nesting up to ``depth``; ``<name>_<k>`` the ones of up to ``k`` levels; the last
    level's items keep only the scalar members."""
    template = json.dumps(schemas[name])
    self_ref = json.dumps({"$ref": _REF + name})
    for level in range(depth, 0, -1):
        key = name if level == depth else f"{name}_{level}"
        if level == 1:
            schema = json.loads(template)
            members = schema["items"]["anyOf"]
            schema["items"]["anyOf"] = [m for m in members if m != {"$ref": _REF + name}]
        else:
            lower = json.dumps({"$ref": f"{_REF}{name}_{level - 1}"})
            schema = json.loads(template.replace(self_ref, lower))
        schema["description"] = f"An array nested 1 to {level} deep" + (
            " (deeper: a tensor object)." if level == depth else ".")
        schemas[key] = schema


# FastAPI's OpenAPI model holds bounds as floats; 2**63 - 1 is not a float, so the exact integers
# the request models use are looked up by their float value.
_EXACT = {float(b): b for b in INTEGER_BOUNDS}


def _integer_bounds(node: Any) -> None:
    """Bounds of integer schemas as integers (``9223372036854775807``, not ``9.2e+18``)."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
                bound = node.get(key)
                if isinstance(bound, float):
                    node[key] = _EXACT.get(bound, int(bound))
        for value in node.values():
            _integer_bounds(value)
    elif isinstance(node, list):
        for value in node:
            _integer_bounds(value)


_TOKENS = ["NaN", "Infinity", "-Infinity"]


def _name_tokens(node: Any) -> None:
    """Member names for the enum of non-finite spellings (``x-enum-varnames``), which generators
    would otherwise name ``NaN``, ``Infinity`` and ``field_Infinity``."""
    if isinstance(node, dict):
        if node.get("enum") == _TOKENS:
            node["x-enum-varnames"] = ["NaN", "Infinity", "NegativeInfinity"]
        for value in node.values():
            _name_tokens(value)
    elif isinstance(node, list):
        for value in node:
            _name_tokens(value)


def render(doc: dict[str, Any]) -> str:
    """Deterministic text: keys sorted, except a schema's ``properties``, which keep the models'
    field order (a call's ``op`` first: openapi-python-client, which ignores the discriminator,
    tries the union's members in turn, and each one then fails on ``op`` before it reads the
    ``args`` below it); two-space indent, trailing newline."""
    return json.dumps(_ordered(doc), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _ordered(node: Any, properties: bool = False) -> Any:
    if isinstance(node, dict):
        keys = list(node) if properties else sorted(node)
        return {k: _ordered(node[k], k == "properties" and not properties) for k in keys}
    if isinstance(node, list):
        return [_ordered(v) for v in node]
    return node
