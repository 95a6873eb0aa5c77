"""A large organization's access data, built directly (no simulated sync): in memory for the
100,000-account test on the wire server (``test_scale_wire.py``) and ``bench/evidence_size.py``,
or written to a store for ``bench/scale.py`` and the per-account tests (``seed``).

Account ``i`` (ids ``712020:<uuid of i>``, sorted like ``i``): every one has Confluence access
through ``confluence-users``; a third have MFA off, 2 % are admins; 90 % are staff linked to
a person (``i % 10 != 9``; 1 % of those people offboarded three days ago), 10 % unidentified.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from services.checks.access.data import AccessData
from services.identity.models import Classification, Identity, IdentityMethod, ResolutionMark
from services.integrations.models import Integration
from services.models import AccountStatus, AccountType
from services.people.models import Person, PersonRecord, PersonStatus, person_id
from services.reviews.models import AccessRule, CriticalSystem, SystemKind, SystemSettings
from services.store import Store
from services.sync.models import Grant, GrantSource, SnapshotAccount, SnapshotScope
from testkit.sync import connected_integration, integration_at

ORG = "org_scale"
SNAPSHOT = "snap_scale"


USERS = Grant.via_group("confluence-users", GrantSource.GROUP_MEMBERSHIP)
ADMINS = Grant.via_group("confluence-administrators", GrantSource.ADMIN_GROUPS_SETTING)


def account_id(i: int) -> str:
    """The id of account ``i``."""
    return f"712020:{uuid.UUID(int=i)}"


def email(i: int) -> str:
    """The email of account ``i`` and of its person."""
    return f"user{i:07d}@acme.test"


def identified(i: int) -> bool:
    """Whether account ``i`` is staff linked to a person (else UNIDENTIFIED)."""
    return i % 10 != 9


def account(i: int) -> SnapshotAccount:
    """Account ``i`` of the snapshot."""
    return SnapshotAccount(
        account_id=account_id(i),
        display_name=f"User {i:07d}",
        email=email(i),
        account_type=AccountType.ATLASSIAN,
        account_status=AccountStatus.ACTIVE,
        mfa_enabled=i % 3 != 0,
        groups=("confluence-users",),
        access_via=(USERS,),
        admin_via=(ADMINS,) if i % 50 == 0 else (),
    )


def record(i: int, now: datetime) -> PersonRecord:
    """The person of account ``i`` as HR gives it."""
    left = i % 100 == 0
    return PersonRecord(
        email=email(i),
        name=f"User {i:07d}",
        status=PersonStatus.OFFBOARDED if left else PersonStatus.ACTIVE,
        job_role="Engineer",
        start_date=date(2024, 1, 2),
        offboarded_at=now - timedelta(days=3) if left else None,
    )


def identity(i: int, organization_id: str) -> Identity:
    """The identity resolution gives account ``i`` (by email)."""
    return Identity(
        account_id=account_id(i),
        classification=Classification.STAFF,
        person_id=person_id(organization_id, email(i)),
        method=IdentityMethod.AUTO_EMAIL,
    )


# Confluence as a critical system, in memory and as seeded: all staff allowed, admins must be
# engineering managers.
CONFLUENCE_SETTINGS = SystemSettings(
    review_frequency_days=90,
    access_rule=AccessRule.ALL_STAFF,
    allowed_roles=(),
    admin_roles=("Engineering Manager",),
)
CONFLUENCE_SYSTEM: dict[str, Any] = {"system": SystemKind.CONFLUENCE, **asdict(CONFLUENCE_SETTINGS)}


def access_data(n: int, now: datetime, organization_id: str = ORG) -> AccessData:
    """The organization of ``n`` accounts in memory (no review yet)."""
    accounts, identities, people = [], {}, {}
    for i in range(n):
        accounts.append(account(i))
        if not identified(i):
            continue
        r = record(i, now)
        pid = person_id(organization_id, r.email)
        people[pid] = Person(
            id=pid,
            organization_id=organization_id,
            email=r.email,
            name=r.name,
            status=r.status,
            job_role=r.job_role,
            start_date=r.start_date,
            offboarded_at=r.offboarded_at,
            created_at=now,
            updated_at=now,
        )
        identities[account_id(i)] = identity(i, organization_id)
    integration = integration_at(
        now,
        id="int_scale",
        organization_id=organization_id,
        current_snapshot_id=SNAPSHOT,
        current_snapshot_at=now - timedelta(minutes=5),
        has_admin_key=True,
    )
    system = CriticalSystem(
        id="sys_scale",
        organization_id=organization_id,
        integration_id=integration.id,
        added_at=now - timedelta(days=30),
        updated_at=now - timedelta(days=30),
        **CONFLUENCE_SYSTEM,
    )
    return AccessData(
        now=now,
        system=system,
        integration=integration,
        accounts=tuple(accounts),
        identities=identities,
        people=people,
    )


class Given:
    """The access data source: the data built above."""

    def __init__(self, data: AccessData) -> None:
        self.data = data

    async def load(self, organization_id: str, now: datetime) -> AccessData:
        return self.data


@dataclass(frozen=True)
class Seeded:
    """What ``seed`` wrote, and how long each part took (seconds)."""

    integration: Integration
    accounts: int
    people: int
    seconds: dict[str, float]


def _batches(n: int, size: int) -> Iterator[range]:
    for start in range(0, n, size):
        yield range(start, min(start + size, n))


async def seed(
    store: Store, organization_id: str, n: int, now: datetime, *, batch: int = 2000
) -> Seeded:
    """Write the organization of ``n`` accounts to ``store`` as a sync and identity
    resolution would leave it — a connected ACCESS_REVIEW integration with an admin key and
    a current snapshot, the people, their identities — and Confluence as a critical system
    (all staff allowed); written in batches, never all in memory."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    integration = await connected_integration(store, organization_id, has_admin_key=True)
    scope = SnapshotScope(SNAPSHOT, integration.id, organization_id)
    for part in _batches(n, batch):
        await store.snapshot_data.insert_accounts(scope, [account(i) for i in part])
    await store.snapshot_data.record_counts(SNAPSHOT)
    updated = await store.integrations.update(
        integration_id=integration.id,
        current_snapshot_id=SNAPSHOT,
        current_snapshot_at=now - timedelta(minutes=5),
    )
    assert updated is not None
    seconds["snapshot"] = time.perf_counter() - started
    started = time.perf_counter()
    people = 0
    for part in _batches(n, batch):
        records = [record(i, now) for i in part if identified(i)]
        await store.people.write(organization_id=organization_id, records=records, existing={})
        people += len(records)
    seconds["people"] = time.perf_counter() - started
    started = time.perf_counter()
    for part in _batches(n, batch):
        found = [identity(i, organization_id) for i in part if identified(i)]
        await store.identities.write_automatic(
            organization_id=organization_id, identities=found, stored=()
        )
    # what a sync commit's whole resolution records (these identities are what it decides)
    revision = await store.people.revision(organization_id=organization_id)
    mark = ResolutionMark(SNAPSHOT, revision.value)
    await store.identities.mark_resolved(organization_id=organization_id, mark=mark)
    seconds["identities"] = time.perf_counter() - started
    await store.critical_systems.create(
        organization_id=organization_id,
        system=SystemKind.CONFLUENCE,
        integration_id=integration.id,
        settings=CONFLUENCE_SETTINGS,
    )
    return Seeded(updated, n, people, seconds)
