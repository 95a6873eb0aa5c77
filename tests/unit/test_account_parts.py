"""Stored accounts are read back as written, their repeated parts (type, statuses, groups,
grants) parsed once per distinct stored form and shared (``snapshot_queries._parts_of``):
however the accounts of a snapshot mix and repeat, each reads back as its own."""

from __future__ import annotations

import random
from itertools import product

from services.models import AccountStatus, AccountType, ClaimStatus, DirectoryStatus
from services.store import snapshot_queries
from services.store.snapshot_data import account_doc
from services.store.snapshot_queries import to_account
from services.sync.models import Grant, GrantSource, SnapshotAccount, SnapshotScope

SCOPE = SnapshotScope("snap_1", "int_1", "org_1")
GRANTS = (
    Grant.via_group("confluence-users", GrantSource.GROUP_MEMBERSHIP),
    Grant.via_group("staff", GrantSource.ATLASSIAN, group_id="g-1", role="atlassian/user"),
    Grant.direct("atlassian/user"),
)
ADMIN_GRANTS = (Grant.direct("atlassian/admin"), Grant.via_group("admins", GrantSource.ATLASSIAN))


def random_account(rng: random.Random, i: int) -> SnapshotAccount:
    return SnapshotAccount(
        account_id=f"acc-{i:05d}",
        display_name=f"User {i}",
        email=f"user{i}@acme.test" if i % 7 else None,
        account_type=rng.choice(list(AccountType)),
        account_status=rng.choice(list(AccountStatus)),
        mfa_enabled=rng.choice((True, False, None)),
        groups=tuple(rng.sample(("a", "b", "c", "d"), rng.randrange(4))),
        access_via=tuple(rng.sample(GRANTS, rng.randrange(3))),
        admin_via=tuple(rng.sample(ADMIN_GRANTS, rng.randrange(2))),
        directory_status=rng.choice((None, *DirectoryStatus)),
        directory_id=rng.choice((None, "dir-1")),
        claim_status=rng.choice((None, *ClaimStatus)),
    )


def test_every_account_reads_back_as_written_whatever_repeats_before_it() -> None:
    rng = random.Random(24)
    accounts = [random_account(rng, i) for i in range(3000)]
    docs = [account_doc(SCOPE, a) for a in accounts]
    for doc in docs[::5]:
        doc["groups"] = list(reversed(doc["groups"]))  # the same set in another order
    snapshot_queries._PARTS.clear()
    read = [to_account(d) for d in docs]
    expected = [a.__class__(**{**_fields(a), "groups": tuple(sorted(a.groups))}) for a in accounts]
    assert read == expected
    assert len(snapshot_queries._PARTS) < len(docs)  # parsed once per distinct form, shared
    same = [r for r in read if r.groups == ("a", "b")]
    assert len(same) > 1 and all(r.groups is same[0].groups for r in same)


def test_legacy_accounts_with_and_without_admin_read_as_before_beside_new_ones() -> None:
    legacy = {"account_id": "acc-1", "account_type": "atlassian", "account_status": "active"}
    rows = [
        {**legacy, "groups": ["confluence-users"], "is_admin": admin}
        for admin, _ in product((True, False), range(2))
    ]
    new = account_doc(SCOPE, random_account(random.Random(1), 2))
    snapshot_queries._PARTS.clear()
    admin, admin_again, plain, plain_again, _ = [to_account(d) for d in (*rows, new)]
    assert admin == admin_again and plain == plain_again
    assert admin.is_admin and not plain.is_admin
    assert (
        admin.access_via
        == plain.access_via
        == (Grant.via_group("confluence-users", GrantSource.GROUP_MEMBERSHIP),)
    )


def test_a_part_that_cannot_be_a_key_is_parsed_and_not_remembered() -> None:
    doc = account_doc(SCOPE, random_account(random.Random(3), 3))
    doc["access_via"] = [{**g, "extra": ["a", "list"]} for g in doc["access_via"]] or [
        {"kind": "DIRECT", "source": "ATLASSIAN", "role": "atlassian/user", "extra": []}
    ]
    snapshot_queries._PARTS.clear()
    assert to_account(doc).access_via and not snapshot_queries._PARTS


def _fields(account: SnapshotAccount) -> dict[str, object]:
    return {name: getattr(account, name) for name in account.__dataclass_fields__}
