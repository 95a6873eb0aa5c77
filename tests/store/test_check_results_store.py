"""The check results store keeps items in their JSON form, apart from the result headers, in
content-addressed chunks a one-item change mostly shares (issue 24), and reads older
documents."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import bson

from services.checks.models import CheckItem, CheckResult, CheckStatus
from services.store import Store
from services.store.check_results import ITEMS_PER_DOC, MAX_CHUNK_ITEMS

AT = datetime(2026, 3, 1, 9, 0, 0, 123000, tzinfo=UTC)
ITEM = CheckItem("account", "a1", "Ann", "no person")


def _result(**changes: object) -> CheckResult:
    values: dict[str, object] = {
        "organization_id": "org1",
        "check_id": "c1",
        "status": CheckStatus.FAILING,
        "reason": None,
        "failing_items": (ITEM,),
        "excepted_items": (),
        "evaluated_at": AT,
        "changed_at": AT,
        "id": "res_1",
    }
    return CheckResult(**(values | changes))  # type: ignore[arg-type]


async def test_items_are_stored_in_their_json_form_apart_from_the_header(store: Store) -> None:
    assert await store.check_results.record_change(_result(), expected_version=None)
    doc = await store._db["check_results"].find_one({"organization_id": "org1"})
    assert "failing_items" not in doc and doc["failing_count"] == 1
    manifest = await store._db["check_items"].find_one({"_id": doc["failing_list"]})
    [[sha, count]] = manifest["chunks"]
    chunk = await store._db["check_items"].find_one({"_id": f"org1:c:{sha}"})
    assert count == 1 and chunk["items"] == [ITEM.to_json()]
    got = await store.check_results.get_latest(organization_id="org1", check_id="c1")
    assert got is not None and got.failing_items == (ITEM,)
    assert got.evaluated_at.replace(tzinfo=UTC) == AT


async def test_a_header_stays_small_whatever_the_number_of_items(store: Store) -> None:
    n = 5 * ITEMS_PER_DOC + 7
    failing = tuple(CheckItem("account", f"acc-{i:06d}", f"User {i}", "no MFA") for i in range(n))
    excepted = (CheckItem("account", "acc-x", None, "a bot"),)
    result = _result(failing_items=failing, excepted_items=excepted)
    assert await store.check_results.record_change(result, expected_version=None)
    for name in ("check_results", "check_history"):
        header = await store._db[name].find_one({"organization_id": "org1"})
        assert len(bson.encode(header)) < 1_000, name
    repo = store.check_results
    for offset, limit in (
        (0, 5),
        (ITEMS_PER_DOC - 2, 4),
        (n - 3, 50),
        (n, 5),
        (2 * ITEMS_PER_DOC, 501),
    ):
        page = await repo.failing_page(
            organization_id="org1", result_id="res_1", offset=offset, limit=limit
        )
        assert page == list(failing[offset : offset + limit]), (offset, limit)
    assert not await repo.failing_page(organization_id="org2", result_id="res_1", offset=0, limit=5)
    assert await repo.excepted_items(organization_id="org1", result_id="res_1") == excepted
    [view] = await repo.list_latest_heads(organization_id="org1")
    assert (view.failing_count, view.excepted_count) == (n, 1)
    assert view.result.failing_items == view.result.excepted_items == ()
    whole = await repo.get_latest(organization_id="org1", check_id="c1")
    assert whole == result
    heads, total = await repo.list_history_heads(
        organization_id="org1", check_id="c1", limit=5, before=None
    )
    assert total == 1 and heads[0].failing_count == n and heads[0].result.id == "res_1"
    # A second process that loses the compare-and-set records nothing; the same items are
    # the same chunks (content-addressed), so it adds no item document either.
    stored = await store._db["check_items"].count_documents({})
    loser = replace(result, id="res_2")
    assert not await repo.record_change(loser, expected_version=None)
    assert await store._db["check_history"].find_one({"_id": "res_2"}) is None
    assert await store._db["check_items"].count_documents({}) == stored


async def test_a_result_that_changed_in_one_item_writes_a_chunk_or_two(store: Store) -> None:
    repo = store.check_results
    n = 4000
    failing = tuple(CheckItem("account", f"acc-{i:06d}", f"User {i}", "no MFA") for i in range(n))
    first = _result(failing_items=failing)
    assert await repo.record_change(first, expected_version=None)
    docs = await store._db["check_items"].count_documents({})
    written = repo.chunks_written
    assert written >= n // MAX_CHUNK_ITEMS
    changed = CheckItem("account", "acc-002000", "User 2000", "another reason")
    second = replace(first, id="res_2", failing_items=(*failing[:2000], changed, *failing[2001:]))
    assert await repo.record_change(second, expected_version=1)
    assert repo.chunks_written - written <= 2  # the chunk holding it (and maybe its neighbour)
    assert await store._db["check_items"].count_documents({}) <= docs + 3  # + one manifest
    # Both results read whole and by page: the earlier one kept its items.
    for rid, items in (("res_1", failing), ("res_2", second.failing_items)):
        page = await repo.failing_page(organization_id="org1", result_id=rid, offset=1990, limit=20)
        assert page == list(items[1990:2010])
    assert await repo.get_latest(organization_id="org1", check_id="c1") == second


async def _write_old_result(store: Store, **fields: object) -> None:
    """Result ``res_old`` of check c1, current and in the history, as an older version wrote
    it: the header every version had, with ``fields``."""
    header = {
        "organization_id": "org1",
        "check_id": "c1",
        "result_id": "res_old",
        "status": "FAILING",
        "reason": None,
        **fields,
        "evaluated_at": AT,
        "changed_at": AT,
        "digest": "d",
    }
    await store._db["check_results"].insert_one({"_id": "org1:c1", **header, "version": 1})
    await store._db["check_history"].insert_one({"_id": "res_old", **header})


async def test_results_written_with_items_in_numbered_documents_still_read(store: Store) -> None:
    items = [CheckItem("account", f"a{i:04d}", None, "x") for i in range(ITEMS_PER_DOC + 10)]
    await _write_old_result(store, items_apart=True, failing_count=len(items), excepted_count=0)
    for start in (0, ITEMS_PER_DOC):
        await store._db["check_items"].insert_one(
            {
                "_id": f"res_old:f:{start:09d}",
                "organization_id": "org1",
                "result_id": "res_old",
                "start": start,
                "items": [i.to_json() for i in items[start : start + ITEMS_PER_DOC]],
            }
        )
    repo = store.check_results
    page = await repo.failing_page(
        organization_id="org1", result_id="res_old", offset=ITEMS_PER_DOC - 2, limit=4
    )
    assert page == items[ITEMS_PER_DOC - 2 : ITEMS_PER_DOC + 2]
    whole = await repo.get_latest(organization_id="org1", check_id="c1")
    assert whole is not None and list(whole.failing_items) == items


async def test_documents_written_before_the_json_form_still_read(store: Store) -> None:
    legacy = {"resource_type": "account", "resource_id": "a1", "name": "Ann", "reason": "no person"}
    await store._db["check_results"].insert_one(
        {
            "_id": "org1:c1",
            "organization_id": "org1",
            "check_id": "c1",
            "result_id": "res_1",
            "status": "FAILING",
            "reason": None,
            "failing_items": [legacy],
            "excepted_items": [],
            "evaluated_at": AT,
            "changed_at": AT,
            "digest": "d",
            "version": 1,
        }
    )
    got = await store.check_results.get_latest(organization_id="org1", check_id="c1")
    assert got is not None and got.failing_items == (ITEM,) and got.excepted_items == ()


async def test_results_written_with_their_items_inline_still_page(store: Store) -> None:
    items = [CheckItem("account", f"a{i}", None, "x").to_json() for i in range(12)]
    await _write_old_result(
        store, failing_items=items, failing_count=12, excepted_items=[ITEM.to_json()]
    )
    repo = store.check_results
    page = await repo.failing_page(organization_id="org1", result_id="res_old", offset=10, limit=5)
    assert [i.resource_id for i in page] == ["a10", "a11"]
    assert await repo.excepted_items(organization_id="org1", result_id="res_old") == (ITEM,)
    [view] = await repo.list_latest_heads(organization_id="org1")
    assert (view.failing_count, view.excepted_count) == (12, 1)
