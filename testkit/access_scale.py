"""A large organization's access data built in memory (no sync): the 100,000-account test on
the wire server (``test_scale_wire.py``) and ``bench/evidence_size.py``."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from services.checks.access.data import AccessData
from services.identity.models import Classification, Identity, IdentityMethod
from services.integrations.models import AuthMethod, Integration, IntegrationStatus, Purpose
from services.models import AccountStatus, AccountType
from services.people.models import Person, PersonStatus
from services.reviews.models import AccessRule, CriticalSystem, SystemKind
from services.sync.models import Grant, GrantSource, SnapshotAccount

ORG = "org_scale"


USERS = Grant.via_group("confluence-users", GrantSource.GROUP_MEMBERSHIP)
ADMINS = Grant.via_group("confluence-administrators", GrantSource.ADMIN_GROUPS_SETTING)


def access_data(n: int, now: datetime, organization_id: str = ORG) -> AccessData:
    """An organization of ``n`` accounts: 90 % staff linked to people (1 % of them offboarded
    three days ago), 10 % unidentified; a third without MFA, 2 % admins; no review yet."""
    accounts, identities, people = [], {}, {}
    for i in range(n):
        account_id = f"712020:{uuid.UUID(int=i)}"
        accounts.append(
            SnapshotAccount(
                account_id=account_id,
                display_name=f"User {i:06d}",
                email=f"user{i:06d}@acme.test",
                account_type=AccountType.ATLASSIAN,
                account_status=AccountStatus.ACTIVE,
                mfa_enabled=i % 3 != 0,
                groups=("confluence-users",),
                access_via=(USERS,),
                admin_via=(ADMINS,) if i % 50 == 0 else (),
            )
        )
        if i % 10 == 9:
            continue  # unidentified
        person_id = f"per_{i:016x}"
        left = i % 100 == 0
        people[person_id] = Person(
            id=person_id,
            organization_id=organization_id,
            email=f"user{i:06d}@acme.test",
            name=f"User {i:06d}",
            status=PersonStatus.OFFBOARDED if left else PersonStatus.ACTIVE,
            job_role="Engineer",
            start_date=date(2024, 1, 2),
            offboarded_at=now - timedelta(days=3) if left else None,
            created_at=now,
            updated_at=now,
        )
        identities[account_id] = Identity(
            account_id=account_id,
            classification=Classification.STAFF,
            person_id=person_id,
            method=IdentityMethod.AUTO_EMAIL,
        )
    integration = Integration(
        id="int_scale",
        organization_id=organization_id,
        purpose=Purpose.ACCESS_REVIEW,
        auth_method=AuthMethod.API_TOKEN,
        status=IntegrationStatus.CONNECTED,
        created_at=now,
        updated_at=now,
        current_snapshot_id="snap_scale",
        current_snapshot_at=now - timedelta(minutes=5),
        has_admin_key=True,
    )
    system = CriticalSystem(
        id="sys_scale",
        organization_id=organization_id,
        system=SystemKind.CONFLUENCE,
        integration_id=integration.id,
        review_frequency_days=90,
        access_rule=AccessRule.ALL_STAFF,
        allowed_roles=(),
        admin_roles=("Engineering Manager",),
        added_at=now - timedelta(days=30),
        updated_at=now - timedelta(days=30),
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
