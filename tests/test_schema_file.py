"""schema.graphql is the exported schema: it must match the code."""

from __future__ import annotations

from pathlib import Path

from resolvers.schema import export_sdl

ROOT = Path(__file__).resolve().parents[1]


def test_schema_graphql_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == export_sdl(), "schema.graphql is stale: run `make schema`"
