"""Prerequisites and data health of the five access checks: NOT_MONITORED and ERROR (SPEC §6)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.checks.access.gate import ADD_SYSTEM, CONNECT, FIRST_SYNC
from services.checks.health import describe_age
from services.checks.models import CheckStatus
from services.checks.registry import CHECKS
from services.integrations.models import IntegrationStatus
from tests.access.builders import NOW, account, data, integration, person, staff

GONE = person("gone@acme.test", offboarded=NOW - timedelta(days=2))
ACCESS_CHECKS = [c for c in CHECKS if c.source == "access"]
SNAPSHOT_CHECKS = [c for c in ACCESS_CHECKS if c.id != "confluence-access-review-completed"]


def _ids(checks):  # type: ignore[no-untyped-def]
    return [c.id for c in checks]


@pytest.mark.parametrize("check", ACCESS_CHECKS, ids=_ids(ACCESS_CHECKS))
def test_not_monitored_until_confluence_is_a_critical_system(check) -> None:
    outcome = check.evaluate(data([account("a1", mfa=False)], system=None))
    assert outcome.status is CheckStatus.NOT_MONITORED
    assert outcome.reason == ADD_SYSTEM == "add Confluence as a critical system"
    assert outcome.failing_items == ()


@pytest.mark.parametrize("check", ACCESS_CHECKS, ids=_ids(ACCESS_CHECKS))
@pytest.mark.parametrize("gone", [None, IntegrationStatus.DISCONNECTED])
def test_not_monitored_without_a_connected_integration(check, gone) -> None:
    connection = integration(status=gone) if gone else None
    outcome = check.evaluate(data([], integration=connection))
    assert (outcome.status, outcome.reason) == (CheckStatus.NOT_MONITORED, CONNECT)


@pytest.mark.parametrize("check", SNAPSHOT_CHECKS, ids=_ids(SNAPSHOT_CHECKS))
def test_not_monitored_before_the_first_sync(check) -> None:
    outcome = check.evaluate(data([], integration=integration(synced=None)))
    assert (outcome.status, outcome.reason) == (CheckStatus.NOT_MONITORED, FIRST_SYNC)


def _offboarded_case(**fields):  # type: ignore[no-untyped-def]
    return data([account("a1", mfa=False)], people=[GONE], identities=[staff("a1", GONE)], **fields)


@pytest.mark.parametrize("check", SNAPSHOT_CHECKS, ids=_ids(SNAPSHOT_CHECKS))
def test_needs_reauth_is_an_error_with_the_last_good_data_and_its_age(check) -> None:
    case = _offboarded_case(
        integration=integration(status=IntegrationStatus.NEEDS_REAUTH, synced=timedelta(hours=5))
    )
    outcome = check.evaluate(case)
    assert outcome.status is CheckStatus.ERROR
    assert outcome.reason is not None
    assert outcome.reason.startswith("reconnect Confluence")
    assert "5 hours old" in outcome.reason
    assert outcome.data_as_of == NOW - timedelta(hours=5)
    assert outcome.snapshot_id == "snap_1"


def test_needs_reauth_still_shows_the_items_of_the_last_good_data() -> None:
    check = next(c for c in CHECKS if c.id == "confluence-offboarded-access-removed")
    case = _offboarded_case(integration=integration(status=IntegrationStatus.NEEDS_REAUTH))
    outcome = check.evaluate(case)
    assert outcome.status is CheckStatus.ERROR
    assert [i.resource_id for i in outcome.failing_items] == ["a1"]


@pytest.mark.parametrize("check", SNAPSHOT_CHECKS, ids=_ids(SNAPSHOT_CHECKS))
def test_stale_data_is_an_error(check) -> None:
    # Three intervals of 6 hours: 18 h is still fresh, 19 h is stale.
    fresh = check.evaluate(_offboarded_case(integration=integration(synced=timedelta(hours=18))))
    assert fresh.status is not CheckStatus.ERROR
    stale = check.evaluate(_offboarded_case(integration=integration(synced=timedelta(hours=19))))
    assert stale.status is CheckStatus.ERROR
    assert stale.reason is not None and "stale" in stale.reason and "19 hours" in stale.reason


def test_integration_in_error_is_an_error() -> None:
    check = SNAPSHOT_CHECKS[0]
    broken = integration(status=IntegrationStatus.ERROR)
    assert check.evaluate(_offboarded_case(integration=broken)).status is CheckStatus.ERROR


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=20), "less than a minute"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(minutes=90), "90 minutes"),
        (timedelta(hours=30), "30 hours"),
        (timedelta(days=4, hours=3), "4 days"),
    ],
)
def test_describe_age(delta, text) -> None:
    assert describe_age(delta) == text


def test_every_check_names_its_controls() -> None:
    by_id = {c.id: {(r.framework.value, r.id) for r in c.controls} for c in CHECKS}
    assert by_id["confluence-offboarded-access-removed"] == {
        ("SOC2", "CC6.2"),
        ("SOC2", "CC6.3"),
        ("ISO27001", "A.5.18"),
        ("ISO27001", "A.6.5"),
    }
    assert by_id["confluence-user-identified"] == {
        ("SOC2", "CC6.1"),
        ("SOC2", "CC6.2"),
        ("ISO27001", "A.5.16"),
    }
    assert by_id["confluence-access-valid"] == {
        ("SOC2", "CC6.2"),
        ("SOC2", "CC6.3"),
        ("ISO27001", "A.5.18"),
    }
    assert by_id["confluence-access-review-completed"] == by_id["confluence-access-valid"]
    assert by_id["confluence-mfa-enabled"] == {("SOC2", "CC6.1"), ("ISO27001", "A.8.5")}
    assert all(c.title and c.description and c.fix for c in CHECKS)
    assert len({c.id for c in CHECKS}) == len(CHECKS)
