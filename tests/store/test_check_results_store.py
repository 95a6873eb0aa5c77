"""The check results store keeps items in their JSON form and reads older documents."""

from __future__ import annotations

from datetime import UTC, datetime

from services.checks.models import CheckItem, CheckResult, CheckStatus
from services.store import Store

AT = datetime(2026, 3, 1, 9, 0, 0, 123000, tzinfo=UTC)
ITEM = CheckItem("account", "a1", "Ann", "no person")


def _result() -> CheckResult:
    return CheckResult(
        organization_id="org1",
        check_id="c1",
        status=CheckStatus.FAILING,
        reason=None,
        failing_items=(ITEM,),
        excepted_items=(),
        evaluated_at=AT,
        changed_at=AT,
        id="res_1",
    )


async def test_items_are_stored_in_their_json_form(store: Store) -> None:
    assert await store.check_results.record_change(_result(), expected_version=None)
    doc = await store._db["check_results"].find_one({"organization_id": "org1"})
    assert doc["failing_items"] == [ITEM.to_json()]
    got = await store.check_results.get_latest(organization_id="org1", check_id="c1")
    assert got is not None and got.failing_items == (ITEM,)
    assert got.evaluated_at.replace(tzinfo=UTC) == AT


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
