"""Extract, from Atlassian's OpenAPI descriptions, the schemas of the operations Vigil uses.

Run by hand when Atlassian's descriptions change; tests never run it and never need the
full descriptions, only the file it writes (``tests/openapi/atlassian-confluence.json``):

    python tests/openapi/extract.py V1.json V2.json [--as-of "November 2021 copy" ...]

V1.json is Atlassian's Confluence Cloud REST API v1 description, V2.json the v2 one (both
OpenAPI 3.0, published at the URLs in SOURCES). The output keeps, for each operation the
client calls and the simulator serves, its parameters, JSON request body and JSON responses,
plus every component they reference (``$ref`` closure). Names, types, formats, constraints,
``required``, ``nullable``, ``enum`` and ``default`` stay; Atlassian's prose (descriptions,
summaries, examples, external docs, vendor extensions) is dropped.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("atlassian-confluence.json")

SOURCES = {
    "v1": "https://dac-static.atlassian.com/cloud/confluence/swagger.v3.json",
    "v2": "https://dac-static.atlassian.com/cloud/confluence/openapi-v2.v3.json",
}

# (method, path as the description spells it): what services/confluence/paths.py calls.
OPERATIONS = {
    "v1": [
        ("get", "/wiki/rest/api/user/current"),
        ("get", "/wiki/rest/api/group"),
        ("get", "/wiki/rest/api/group/{groupId}/membersByGroupId"),
        ("get", "/wiki/rest/api/user/memberof"),
        ("get", "/wiki/rest/api/content/search"),
    ],
    "v2": [
        ("post", "/users-bulk"),
        ("get", "/pages/{id}"),
        ("get", "/spaces"),
    ],
}

# Keys whose value maps names to objects (so no key inside is a keyword to drop).
NAME_MAPS = {"properties", "patternProperties", "responses", "content", "schemas",
             "requestBodies", "parameters", "paths"}  # fmt: skip
# Values copied as they are (data, not schemas).
LITERALS = {"enum", "default", "required"}
PROSE = {"description", "summary", "example", "examples", "externalDocs", "title"}
# Operation/response members no conformance check uses.
UNUSED = {"security", "tags", "links", "headers", "callbacks", "servers", "deprecated"}


def _clean(node: Any, names: bool = False) -> Any:
    if isinstance(node, list):
        return [_clean(item) for item in node]
    if not isinstance(node, dict):
        return node
    if names:
        return {key: _clean(value) for key, value in node.items()}
    kept: dict[str, Any] = {}
    for key, value in node.items():
        if key in PROSE or key in UNUSED or key.startswith("x-"):
            continue
        kept[key] = value if key in LITERALS else _clean(value, key in NAME_MAPS)
    return kept


def _refs(node: Any) -> set[str]:
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
    for value in node.values():
        found |= _refs(value)
    return found


def _operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operation = spec["paths"][path][method]
    kept = {
        key: operation[key]
        for key in ("operationId", "parameters", "requestBody", "responses")
        if key in operation
    }
    json_responses = {}
    for status, response in kept.get("responses", {}).items():
        content = response.get("content", {})
        if "application/json" in content:
            json_responses[status] = {"content": {"application/json": content["application/json"]}}
        elif "$ref" in response:
            json_responses[status] = response
    kept["responses"] = json_responses
    if "requestBody" in kept and "content" in kept["requestBody"]:
        body = kept["requestBody"]
        kept["requestBody"] = {**body, "content": {"application/json": body["content"]["application/json"]}}  # fmt: skip
    cleaned: dict[str, Any] = _clean(kept)
    return cleaned


def _resolve(spec: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise SystemExit(f"external $ref not supported: {ref}")
    node: Any = spec
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def extract(spec: dict[str, Any], operations: list[tuple[str, str]]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path in operations:
        paths.setdefault(path, {})[method] = _operation(spec, method, path)
    components: dict[str, dict[str, Any]] = {}
    pending = _refs(paths)
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        seen.add(ref)
        _, _, kind, name = ref.split("/", 3)
        cleaned = _clean(_resolve(spec, ref))
        components.setdefault(kind, {})[name] = cleaned
        pending |= _refs(cleaned) - seen
    ordered = {kind: dict(sorted(items.items())) for kind, items in sorted(components.items())}
    return {"openapi": spec["openapi"], "paths": paths, "components": ordered}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("v1", type=Path, help="Confluence Cloud REST API v1 description (JSON)")
    parser.add_argument("v2", type=Path, help="Confluence Cloud REST API v2 description (JSON)")
    parser.add_argument("--v1-as-of", default="November 2021 copy")
    parser.add_argument("--v2-as-of", default="2025 copy")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    documents = {}
    for version, source, as_of in (("v1", args.v1, args.v1_as_of), ("v2", args.v2, args.v2_as_of)):
        spec = json.loads(source.read_text(encoding="utf-8"))
        documents[version] = {
            "source": SOURCES[version],
            "info_version": spec["info"]["version"],
            "as_of": as_of,
            **extract(spec, OPERATIONS[version]),
        }
    output = {
        "about": "Schemas of the Confluence operations Vigil uses, extracted by "
        "tests/openapi/extract.py from Atlassian's OpenAPI descriptions; prose dropped.",
        "extracted": datetime.now(UTC).date().isoformat(),
        "documents": documents,
    }
    args.out.write_text(json.dumps(output, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
