"""The mongomock patches of ``services/store/mongomock_adapter.py`` still fit the installed
mongomock: each function they replace, wrap or reproduce is the one they were written against,
and what they work around is still broken there."""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import textwrap

import pytest
from pymongo import UpdateOne

from services.store.mongomock_adapter import PATCHED, embedded_client

ADAPTER = "services/store/mongomock_adapter.py"


def mongomock_source(name: str) -> tuple[str, ast.FunctionDef | None]:
    """The source file and the definition of ``name`` (``module.Class.function`` or
    ``module.function``), read from mongomock's own file, so that the patches applied in this
    process do not matter; None when mongomock no longer defines it."""
    parts = name.split(".")
    split = len(parts) - 1
    while True:
        try:
            module = importlib.import_module(".".join(parts[:split]))
            break
        except ImportError:
            split -= 1
    source = inspect.getsource(module)
    body: list[ast.stmt] = ast.parse(source).body
    found: ast.stmt | None = None
    for part in parts[split:]:
        found = next(
            (n for n in body if isinstance(n, ast.ClassDef | ast.FunctionDef) and n.name == part),
            None,
        )
        if found is None:
            return source, None
        body = found.body if isinstance(found, ast.ClassDef) else []
    return source, found if isinstance(found, ast.FunctionDef) else None


def fingerprint(name: str) -> str:
    """What ``PATCHED`` records: the first 16 hex digits of the SHA-256 of the dedented source."""
    source, node = mongomock_source(name)
    if node is None:
        return "missing"
    segment = ast.get_source_segment(source, node, padded=True) or ""
    return hashlib.sha256(textwrap.dedent(segment).encode()).hexdigest()[:16]


@pytest.mark.parametrize("name", sorted(PATCHED))
def test_each_patched_mongomock_function_is_the_one_the_patch_was_written_against(
    name: str,
) -> None:
    found = fingerprint(name)
    assert found == PATCHED[name], (
        f"mongomock changed {name} (fingerprint {found}; the patch was written against "
        f"{PATCHED[name]}), which {ADAPTER} patches or relies on. Re-read the patch against "
        "the new code; keep, adapt or drop it, then update PATCHED."
    )


def test_mongomock_issue_912_is_still_open() -> None:
    """mongomock's bulk builder refuses pymongo 4's ``sort=``: once it takes it, drop the patch."""
    for name in ("add_update", "add_replace"):
        _, node = mongomock_source(f"mongomock.collection.BulkOperationBuilder.{name}")
        assert node is not None, f"{ADAPTER}: mongomock no longer has BulkOperationBuilder.{name}"
        arguments = [a.arg for a in node.args.args + node.args.kwonlyargs]
        assert "sort" not in arguments, (
            f"mongomock's BulkOperationBuilder.{name} now takes sort= (issue 912 fixed): "
            f"drop _patch_mongomock_bulk_sort from {ADAPTER}"
        )


async def test_the_patched_client_takes_bulk_updates_with_a_sort() -> None:
    documents = embedded_client()["adapter_test"]["things"]
    update = UpdateOne({"_id": "a"}, {"$set": {"n": 1}}, upsert=True, sort={"_id": 1})
    result = await documents.bulk_write([update])
    assert result.upserted_count == 1
    assert await documents.find_one({"_id": "a"}) == {"_id": "a", "n": 1}
