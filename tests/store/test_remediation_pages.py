"""Remediation actions page newest approval first, ties by id, strictly before the cursor:
every action once, whatever the page size (``RemediationRepository.list_actions``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.remediation.models import RemediationAction
from services.store import Store
from tests.remediation.builders import offboarding_action

ORG = "org_pages"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def action(i: int) -> RemediationAction:
    return offboarding_action(
        f"rem_{i:03d}", ORG, "int_pages", f"acc-{i}", display_name=f"Account {i}"
    )


@pytest.mark.parametrize("size", [1, 2, 4])
async def test_pages_hold_every_action_once_newest_first_ties_by_id(
    store: Store, size: int
) -> None:
    # three approvals at one instant (a tie), others a minute apart
    times = [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=1), T0 + timedelta(minutes=1)]
    times += [T0 + timedelta(minutes=2), T0 - timedelta(minutes=5)]
    for i, at in enumerate(times):
        await store.remediations.approve([action(i)], approved_by="key_admin", now=at)
    await store.remediations.approve([action(9)], approved_by="key_admin", now=T0)  # ties rem_000
    seen: list[str] = []
    before = None
    while True:
        page, total = await store.remediations.list_actions(
            organization_id=ORG, limit=size, before=before
        )
        assert total == 7
        if not page:
            break
        assert len(page) <= size
        seen += [a.id for a in page]
        last = page[-1]
        assert last.approved_at is not None
        before = (last.approved_at, last.id)
    expected = ["rem_004", "rem_003", "rem_002", "rem_001", "rem_009", "rem_000", "rem_005"]
    assert seen == expected
