"""The access checks' population is rebuilt only where accounts or identities changed, and
always equals the population built from scratch (issue 15)."""

from __future__ import annotations

import random

from services.checks.access.population import PopulationCache, build_population
from services.identity.models import Classification, Identity, IdentityMethod, NotStaffKind
from services.models import AccountStatus, AccountType
from services.sync.models import Grant, GrantSource, SnapshotAccount


def account(i: int) -> SnapshotAccount:
    return SnapshotAccount(
        account_id=f"acc-{i:04d}",
        display_name=f"User {i}",
        email=f"user{i}@acme.test",
        account_type=AccountType.ATLASSIAN,
        account_status=AccountStatus.ACTIVE if i % 9 else AccountStatus.INACTIVE,
        mfa_enabled=None if i % 5 == 0 else i % 2 == 0,
        groups=("confluence-users",),
        access_via=(Grant.via_group("confluence-users", GrantSource.GROUP_MEMBERSHIP),),
        admin_via=(Grant.direct("atlassian/admin"),) if i % 13 == 0 else (),
    )


def random_identity(rng: random.Random, account_id: str) -> Identity:
    pick = rng.randrange(3)
    if pick == 0:
        return Identity(account_id)
    if pick == 1:
        person = f"per_{rng.randrange(20)}"
        return Identity(account_id, Classification.STAFF, person, method=IdentityMethod.MANUAL)
    return Identity(account_id, Classification.NOT_STAFF, kind=NotStaffKind.SERVICE, reason="x")


def test_the_cached_population_equals_a_full_build_after_random_changes() -> None:
    rng = random.Random(15)
    accounts = tuple(account(i) for i in range(200))
    identities = {a.account_id: random_identity(rng, a.account_id) for a in accounts[::2]}
    cache = PopulationCache()
    first = cache.population("org_1", accounts, identities)
    assert first == build_population(accounts, identities) and cache.built_items == 200
    assert cache.population("org_1", accounts, identities) is first  # nothing changed
    for _ in range(25):
        identities = dict(identities)  # a new map after a change, as the Directory gives
        touched = rng.sample(accounts, rng.randrange(1, 4))
        for a in touched:
            if rng.random() < 0.2:
                identities.pop(a.account_id, None)
            else:
                identities[a.account_id] = random_identity(rng, a.account_id)
        before = cache.built_items
        population = cache.population("org_1", accounts, identities)
        assert population == build_population(accounts, identities)
        assert cache.built_items - before <= len(touched)
    # A new snapshot (new account objects) rebuilds every item.
    resynced = tuple(account(i) for i in range(150))
    before = cache.built_items
    assert cache.population("org_1", resynced, identities) == build_population(resynced, identities)
    assert cache.built_items - before == 150


def test_a_population_row_reads_the_same_values_as_the_record_evidence_keeps() -> None:
    admin = account(13)
    staff = Identity(admin.account_id, Classification.STAFF, "per_1", method=IdentityMethod.MANUAL)
    bot = Identity("acc-0009", Classification.NOT_STAFF, kind=NotStaffKind.SERVICE, reason="x")
    rows = build_population(
        (admin, account(9), account(10)), {admin.account_id: staff, "acc-0009": bot}
    )
    expected = [
        {
            "accountId": "acc-0013",
            "accountStatus": "active",
            "hasAccess": True,
            "accessVia": ("GROUP:confluence-users",),
            "isAdmin": True,
            "adminVia": ("DIRECT:atlassian/admin",),
            "mfaEnabled": False,
            "classification": "STAFF",
            "personId": "per_1",
            "kind": None,
            "method": "MANUAL",
        },
        {
            "accountId": "acc-0009",
            "accountStatus": "inactive",
            "hasAccess": False,
            "accessVia": ("GROUP:confluence-users",),
            "isAdmin": False,
            "adminVia": (),
            "mfaEnabled": False,
            "classification": "NOT_STAFF",
            "personId": None,
            "kind": "SERVICE",
            "method": None,
        },
        {
            "accountId": "acc-0010",
            "accountStatus": "active",
            "hasAccess": True,
            "accessVia": ("GROUP:confluence-users",),
            "isAdmin": False,
            "adminVia": (),
            "mfaEnabled": None,
            "classification": "UNIDENTIFIED",
            "personId": None,
            "kind": None,
            "method": None,
        },
    ]
    assert [dict(row) for row in rows.items] == expected
    assert [list(row) for row in rows.items] == [list(e) for e in expected]  # the keys' order
