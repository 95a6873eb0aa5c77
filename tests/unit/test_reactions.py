"""The reactions run their steps in the listed order (``services/reactions.py``)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from services.checks.triggers import Reevaluator
from services.events import InMemoryEventBus
from services.identity.service import IdentityService
from services.integrations.changes import IntegrationChanges
from services.integrations.models import (
    Integration,
    Purpose,
)
from services.policies.service import PolicyService
from services.reactions import CheckReactions, IntegrationReactions, Reactions
from services.sync.models import SyncRun
from services.sync.service import SyncService
from testkit.sync import integration_at

ORG = "org_1"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Log(list[str]):
    """What the fakes were asked to do, in order."""


class FakeReevaluator:
    def __init__(self, log: Log) -> None:
        self.log = log

    def request(self, organization_id: str, sources: Collection[str] | None = None) -> None:
        self.log.append(f"evaluate {','.join(sorted(sources)) if sources else 'all'}")


class FakeBus(InMemoryEventBus):
    def __init__(self, log: Log) -> None:
        super().__init__()
        self.log = log

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self.log.append(f"publish {topic.rsplit(':', 1)[-1]}")


class FakeIdentities:
    def __init__(self, log: Log, changed: int = 0) -> None:
        self.log = log
        self.changed = changed

    async def resolve(
        self, organization_id: str, *, person_ids: Collection[str] | None = None
    ) -> int:
        who = "all" if person_ids is None else ",".join(sorted(person_ids))
        self.log.append(f"resolve identities of {who}")
        return self.changed


class FakePolicies:
    def __init__(self, log: Log) -> None:
        self.log = log

    async def auto_map(self, organization_id: str) -> list[object]:
        self.log.append("auto-map policies")
        return []


class FakeChanges:
    def __init__(self, log: Log) -> None:
        self.log = log

    async def announce(self, integration: Integration) -> None:
        self.log.append("announce integration")


class FakeSync:
    def __init__(self, log: Log) -> None:
        self.log = log

    async def request_initial_sync(self, integration: Integration) -> None:
        self.log.append("initial sync")

    async def collection_changed(self, integration: Integration) -> None:
        self.log.append("sync for the admin key")


def build(log: Log, identities_changed: int = 0) -> tuple[CheckReactions, Reactions]:
    reevaluator = cast(Reevaluator, FakeReevaluator(log))
    bus = FakeBus(log)
    checks = CheckReactions(reevaluator, bus)
    reactions = Reactions(
        checks,
        reevaluator,
        bus,
        identities=cast(IdentityService, FakeIdentities(log, identities_changed)),
        policies=cast(PolicyService, FakePolicies(log)),
        integrations=cast(IntegrationChanges, FakeChanges(log)),
    )
    return checks, reactions


def integration(purpose: Purpose) -> Integration:
    return integration_at(NOW, organization_id=ORG, purpose=purpose)


async def after_sync(purpose: Purpose) -> Log:
    log = Log()
    _, reactions = build(log)
    for listener in reactions.after_sync_committed():
        await listener(integration(purpose), cast(SyncRun, None))
    return log


async def test_after_a_policy_sync_policies_are_mapped_before_anything_else() -> None:
    assert await after_sync(Purpose.POLICY) == [
        "auto-map policies",
        "evaluate policy",
        "publish policies",
        "announce integration",
        "evaluate all",
    ]


async def test_after_an_access_review_sync_identities_are_resolved_before_evaluating() -> None:
    assert await after_sync(Purpose.ACCESS_REVIEW) == [
        "announce integration",
        "resolve identities of all",
        "evaluate access",
    ]


@pytest.mark.parametrize(
    ("identities_changed", "people", "expected"),
    [
        pytest.param(
            0,
            {"per_2", "per_1"},
            ["resolve identities of per_1,per_2", "evaluate access:people", "publish people"],
            id="no identity changed: only the checks that read people",
        ),
        pytest.param(
            1,
            {"per_1"},
            [
                "resolve identities of per_1",
                "evaluate access:identities,access:people",
                "publish people",
            ],
            id="identities changed: the identity checks too",
        ),
    ],
)
async def test_after_people_changed_identities_then_checks_then_subscribers(
    identities_changed: int, people: set[str], expected: list[str]
) -> None:
    log = Log()
    _, reactions = build(log, identities_changed=identities_changed)
    await reactions.after_people_changed(ORG, frozenset(people))
    assert log == expected


async def test_changes_the_checks_read_re_evaluate_what_they_concern() -> None:
    log = Log()
    checks, _ = build(log)
    await checks.after_frameworks_changed(ORG)
    await checks.after_exceptions_changed(ORG)
    await checks.after_identity_decided(ORG)
    await checks.after_systems_changed(ORG)
    await checks.after_review_changed(ORG, "rev_1")
    await checks.after_integration_changed(integration(Purpose.POLICY))
    assert log == [
        "evaluate policy",
        "publish policies",
        "evaluate all",
        "evaluate access:identities",
        "evaluate access",
        "evaluate access:reviews",
        "publish reviews",
        "evaluate all",
    ]


async def test_integration_reactions_ask_for_syncs() -> None:
    log = Log()
    syncs = IntegrationReactions(cast(SyncService, FakeSync(log)))
    await syncs.after_connected(integration(Purpose.ACCESS_REVIEW))
    await syncs.after_collection_changed(integration(Purpose.ACCESS_REVIEW))
    assert log == ["initial sync", "sync for the admin key"]
