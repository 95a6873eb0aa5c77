"""Small builders of access data for the pure check tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from services.checks.access.data import AccessData
from services.identity.models import Classification, Identity, IdentityMethod, NotStaffKind
from services.integrations.models import Integration, IntegrationStatus
from services.models import AccountStatus, AccountType, DirectoryStatus
from services.people.models import Person, PersonStatus, person_id
from services.reviews.models import (
    AccessDecision,
    AccessReview,
    AccessRule,
    CompletedDecisions,
    CriticalSystem,
    ReviewStatus,
    SystemKind,
)
from services.sync.models import Grant, GrantSource, SnapshotAccount
from testkit.sync import integration_at

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ADMIN_GRANT = Grant.via_group("confluence-administrators", GrantSource.ADMIN_GROUPS_SETTING)
ORG = "org_test"


def account(
    account_id: str,
    *,
    email: str | None = None,
    status: str = "active",
    type: str = "atlassian",
    admin: bool = False,
    mfa: bool | None = True,
    access: str = "group",
    directory: str | None = None,
) -> SnapshotAccount:
    """An account of ``confluence-users``. ``access``: ``group`` (that group gives it, measured
    through membership: no key), ``direct`` (in no group, a role granted directly: Atlassian's
    directory), ``none`` (in the group, which gives no access role); ``directory``: its status
    in the site's directory (read with a key), e.g. ``suspended``."""
    grants = {
        "group": (Grant.via_group("confluence-users", GrantSource.GROUP_MEMBERSHIP),),
        "direct": (Grant.direct(),),
        "none": (),
    }[access]
    return SnapshotAccount(
        account_id=account_id,
        display_name=f"Name {account_id}",
        email=email,
        account_type=AccountType.parse(type),
        account_status=AccountStatus.parse(status),
        mfa_enabled=mfa,
        groups=() if access == "direct" else ("confluence-users",),
        access_via=grants,
        admin_via=(ADMIN_GRANT,) if admin else (),
        directory_status=DirectoryStatus.parse(directory) if directory else None,
    )


def person(
    email: str, *, role: str | None = "Engineer", offboarded: datetime | None = None
) -> Person:
    return Person(
        id=person_id(ORG, email),
        organization_id=ORG,
        email=email,
        name=email.split("@")[0],
        status=PersonStatus.OFFBOARDED if offboarded else PersonStatus.ACTIVE,
        job_role=role,
        start_date=None,
        offboarded_at=offboarded,
        created_at=NOW,
        updated_at=NOW,
    )


def staff(account_id: str, who: Person, *, manual: bool = False) -> Identity:
    method = IdentityMethod.MANUAL if manual else IdentityMethod.AUTO_EMAIL
    return Identity(account_id, Classification.STAFF, person_id=who.id, method=method)


def one_staff(
    who: Person, **options: Any
) -> tuple[list[SnapshotAccount], list[Person], list[Identity]]:
    """A table case's accounts, people and identities: account ``a1`` (``options``: its
    ``account`` builder's) of the staff member ``who``."""
    return [account("a1", **options)], [who], [staff("a1", who)]


def not_staff(account_id: str, reason: str | None = "build bot") -> Identity:
    return Identity(
        account_id,
        Classification.NOT_STAFF,
        kind=NotStaffKind.SERVICE,
        reason=reason,
        method=IdentityMethod.MANUAL,
    )


def system(
    rule: AccessRule = AccessRule.ALL_STAFF,
    allowed: tuple[str, ...] = (),
    admin_roles: tuple[str, ...] = (),
    frequency: int = 365,
) -> CriticalSystem:
    return CriticalSystem(
        id="sys_1",
        organization_id=ORG,
        system=SystemKind.CONFLUENCE,
        integration_id="int_1",
        review_frequency_days=frequency,
        access_rule=rule,
        allowed_roles=allowed,
        admin_roles=admin_roles,
        added_at=NOW - timedelta(days=400),
        updated_at=NOW - timedelta(days=400),
    )


def integration(
    *,
    status: IntegrationStatus = IntegrationStatus.CONNECTED,
    synced: timedelta | None = timedelta(hours=1),
    admin_key: bool = True,
    interval: int = 360,
) -> Integration:
    return integration_at(
        NOW,
        organization_id=ORG,
        status=status,
        created_at=NOW - timedelta(days=30),
        current_snapshot_id="snap_1" if synced is not None else None,
        current_snapshot_at=NOW - synced if synced is not None else None,
        sync_interval_minutes=interval,
        has_admin_key=admin_key,
    )


def completed(decisions: dict[str, AccessDecision], *, days_ago: int = 10) -> CompletedDecisions:
    return CompletedDecisions("rev_done", NOW - timedelta(days=days_ago), decisions)


def open_review(*, due_in: timedelta | None) -> AccessReview:
    return AccessReview(
        id="rev_open",
        organization_id=ORG,
        critical_system_id="sys_1",
        status=ReviewStatus.OPEN,
        started_at=NOW - timedelta(days=20),
        started_by="key_1",
        snapshot_id="snap_1",
        entry_count=3,
        due_at=NOW + due_in if due_in is not None else None,
    )


def data(
    accounts: list[SnapshotAccount] = (),  # type: ignore[assignment]
    *,
    people: list[Person] = (),  # type: ignore[assignment]
    identities: list[Identity] = (),  # type: ignore[assignment]
    **fields: Any,
) -> AccessData:
    base = AccessData(
        now=NOW,
        system=fields.pop("system", system()),
        integration=fields.pop("integration", integration()),
        accounts=tuple(accounts),
        identities={i.account_id: i for i in identities},
        people={p.id: p for p in people},
    )
    return replace(base, **fields)
