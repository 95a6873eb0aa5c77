"""Validating responses against Atlassian's OpenAPI 3.0 schemas with jsonschema.

The schemas come from ``tests/openapi/atlassian-confluence.json``, extracted from Atlassian's
published descriptions by ``tests/openapi/extract.py`` (run by hand, never by the tests).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SCHEMAS = Path(__file__).resolve().parents[1] / "openapi" / "atlassian-confluence.json"
SPECS = ("v1", "v2")
V2_PREFIX = "/wiki/api/v2"

# Documented deviations from the 2021 v1 description (which "may miss newer fields"):
# confluence-api.md §5.3 says v1 users' accountType may also be `customer`.
V1_ACCOUNT_TYPES = ["atlassian", "app", "customer", ""]


def _convert(node: Any) -> Any:
    """OpenAPI 3.0 schema → JSON Schema: `nullable: true` becomes `anyOf [..., null]`."""
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _convert(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@cache
def _extracted() -> dict[str, Any]:
    extracted: dict[str, Any] = json.loads(SCHEMAS.read_text(encoding="utf-8"))
    return extracted


def v2_request_body_schema(path: str, method: str = "post") -> dict[str, Any]:
    """The JSON schema of a v2 operation's request body (`path` as the description spells it)."""
    spec = _extracted()["documents"]["v2"]
    ref = spec["paths"][path][method]["requestBody"]["$ref"]
    body = spec["components"]["requestBodies"][ref.rsplit("/", 1)[1]]
    schema: dict[str, Any] = _convert(body["content"]["application/json"]["schema"])
    return schema


@cache
def _document(version: str) -> dict[str, Any]:
    spec = json.loads(json.dumps(_extracted()["documents"][version]))
    if version == "v1":
        spec["components"]["schemas"]["User"]["properties"]["accountType"]["enum"] = (
            V1_ACCOUNT_TYPES
        )
    converted: dict[str, Any] = _convert(spec)
    return converted


def _uri(version: str) -> str:
    return f"urn:atlassian-openapi:{version}"


@cache
def _registry() -> Registry:
    resources = [
        (_uri(v), Resource.from_contents(_document(v), default_specification=DRAFT4)) for v in SPECS
    ]
    return Registry().with_resources(resources)


def _spec_path(version: str, path: str) -> str:
    return path.removeprefix(V2_PREFIX) if version == "v2" else path


def _pointer_escape(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


def response_schema_pointer(method: str, path: str, status: int = 200) -> tuple[str, str]:
    """(version, JSON pointer) of the operation's JSON response schema."""
    version = "v2" if path.startswith(V2_PREFIX) else "v1"
    spec_path = _spec_path(version, path)
    operation = _document(version)["paths"][spec_path][method.lower()]
    assert "schema" in operation["responses"][str(status)]["content"]["application/json"]
    pointer = "/".join(
        [
            "",
            "paths",
            _pointer_escape(spec_path),
            method.lower(),
            "responses",
            str(status),
            "content",
            _pointer_escape("application/json"),
            "schema",
        ]
    )
    return version, pointer


def _leaves(error: ValidationError) -> list[ValidationError]:
    """The causes of an anyOf/oneOf failure, from its most specific branch (never `null`)."""
    if not error.context:
        return [error]
    branches: dict[object, list[ValidationError]] = {}
    for cause in error.context:
        branches.setdefault(cause.relative_schema_path[0], []).append(cause)
    real = [
        b for b in branches.values() if not any(e.schema == {"type": "null"} for e in b)
    ] or list(branches.values())
    best = max(real, key=lambda b: max(len(e.absolute_path) for e in b))
    return [leaf for cause in best for leaf in _leaves(cause)]


def validation_errors(method: str, path: str, body: Any, status: int = 200) -> list[str]:
    """Every schema violation of `body`, each naming the operation and the field."""
    version, pointer = response_schema_pointer(method, path, status)
    validator = Draft4Validator({"$ref": f"{_uri(version)}#{pointer}"}, registry=_registry())
    problems = []
    for error in validator.iter_errors(body):
        for leaf in _leaves(error):
            field = "/".join(str(p) for p in leaf.absolute_path) or "(root)"
            problems.append(f"{method} {path} [{status}] field {field}: {leaf.message[:300]}")
    return problems
