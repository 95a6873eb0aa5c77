"""``services.sync.access``: grants from the directory's facts, group verdicts from members,
role-assignment reads that settle what the verdicts can only guess."""

from __future__ import annotations

import pytest

from services.confluence.models import RoleAssignment
from services.models import AccountStatus, AccountType, DirectoryStatus
from services.sync.access import (
    ADMIN,
    SITE_ADMIN,
    AccountRoles,
    GroupTally,
    RoleFacts,
    Verdict,
    account_access,
)
from services.sync.models import DirectoryEntry, Grant, GrantSource, SnapshotAccount

CLOUD = "c1"
HERE = f"ari:cloud:confluence::site/{CLOUD}"


def base(account_id: str, *groups: str) -> SnapshotAccount:
    return SnapshotAccount(
        account_id, None, None, AccountType.ATLASSIAN, AccountStatus.ACTIVE, None, groups
    )


def entry(account_id: str, access: bool = True, membership: str = "active") -> DirectoryEntry:
    return DirectoryEntry(
        account_id,
        AccountStatus.ACTIVE,
        None,
        None,
        DirectoryStatus.parse(membership),
        site_access=access,
    )


def facts(*members: tuple[str, tuple[str, ...], DirectoryEntry | None]) -> RoleFacts:
    """Facts tallied from (account, its groups, its directory entry)."""
    f = RoleFacts(CLOUD, has_directory=True, group_ids={"g": "id-g", "h": "id-h"})
    f.product_admins.update({"admin"})
    for _, groups, found in members:
        f.tally(groups, found)
    return f


def test_a_group_carries_a_role_when_every_listed_member_holds_it() -> None:
    assert GroupTally(listed=0).verdict(0) is Verdict.UNKNOWN
    assert GroupTally(listed=3, with_access=3).verdict(3) is Verdict.CARRIES
    assert GroupTally(listed=3, with_access=2).verdict(2) is Verdict.NOT


def test_role_assignments_of_this_site_only() -> None:
    read = AccountRoles.of(
        [
            RoleAssignment(HERE, (("atlassian/user", ("direct",)),), "d1", DirectoryStatus.ACTIVE),
            RoleAssignment(
                "ari:cloud:confluence::site/other", (("atlassian/admin", ("direct",)),), "d2"
            ),
            RoleAssignment(f"ari:cloud:platform::site/{CLOUD}", ((SITE_ADMIN, ("group_direct",)),)),
            RoleAssignment(HERE, (("atlassian/user", ("group_direct",)),), "d1"),
        ],
        CLOUD,
    )
    assert read.methods == {
        "atlassian/user": ("direct", "group_direct"),
        SITE_ADMIN: ("group_direct",),
    }
    assert (read.directory_id, read.directory_status) == ("d1", DirectoryStatus.ACTIVE)


def test_access_through_the_groups_that_carry_it_else_direct() -> None:
    a, b = entry("a"), entry("b")
    f = facts(("a", ("g", "h"), a), ("b", ("g",), b), ("x", ("h",), entry("x", access=False)))
    got = account_access(base("a", "g", "h"), a, f)
    assert got.access_via == (Grant.via_group("g", GrantSource.ATLASSIAN, group_id="id-g"),)
    alone = account_access(base("c"), entry("c"), f)
    assert alone.access_via == (Grant.direct(),) and alone.has_access
    none = account_access(base("x", "h"), entry("x", access=False), f)
    assert none.access_via == () and not none.has_access


def test_a_read_settles_a_verdict_that_holds_by_coincidence() -> None:
    """Every member of g holds access, but a's own assignments say: directly, no group."""
    a = entry("a")
    f = facts(("a", ("g",), a))
    assert account_access(base("a", "g"), a, f).access_via[0].group == "g"  # the guess
    f.reads["a"] = AccountRoles({"atlassian/user": ("direct",)}, "d1", DirectoryStatus.ACTIVE)
    assert account_access(base("a", "g"), a, f).access_via == (Grant.direct(),)


def test_the_site_directory_status_wins_over_the_organization_wide_one() -> None:
    a = entry("a", membership="active")
    f = facts(("a", ("g",), a))
    f.reads["a"] = AccountRoles({}, "d1", DirectoryStatus.SUSPENDED)
    got = account_access(base("a", "g"), a, f)
    assert got.directory_status is DirectoryStatus.SUSPENDED and got.directory_id == "d1"
    assert got.access_via and not got.has_access


def test_admin_through_a_group_atlassian_does_not_name() -> None:
    admin = entry("admin")
    f = facts(("admin", ("g",), admin), ("b", ("g",), entry("b")))  # g: not all admins
    f.reads["admin"] = AccountRoles({ADMIN: ("group_direct",)}, None, None)
    got = account_access(base("admin", "g"), admin, f)
    assert got.admin_via == (Grant.via_group(None, GrantSource.ATLASSIAN, role=ADMIN),)
    f.reads["admin"] = AccountRoles({ADMIN: ("group_direct", "direct")}, None, None)
    assert Grant.direct(ADMIN) in account_access(base("admin", "g"), admin, f).admin_via


def test_accounts_the_directory_does_not_list() -> None:
    """Apps and customers: groups the directory judges, else membership only; admin from
    the configured admin groups where the directory cannot judge."""
    f = facts(("b", ("g",), entry("b")), ("app", ("h",), None))
    f.admin_groups = frozenset({"h"})
    got = account_access(base("app", "g", "h"), None, f)
    assert got.access_via == (
        Grant.via_group("g", GrantSource.ATLASSIAN, group_id="id-g"),
        Grant.via_group("h", GrantSource.GROUP_MEMBERSHIP, group_id="id-h"),
    )
    assert got.admin_via == (
        Grant.via_group("h", GrantSource.ADMIN_GROUPS_SETTING, group_id="id-h"),
    )
    assert got.directory_status is None and got.has_access


def test_without_the_directory_membership_is_the_only_signal() -> None:
    f = RoleFacts(CLOUD, admin_groups=frozenset({"h"}), group_ids={"g": "id-g", "h": "id-h"})
    got = account_access(base("a", "g", "H"), None, f)
    assert [g.source for g in got.access_via] == [GrantSource.GROUP_MEMBERSHIP] * 2
    assert got.admin_via == (Grant.via_group("H", GrantSource.ADMIN_GROUPS_SETTING),)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("active", AccountStatus.ACTIVE),
        (" Inactive ", AccountStatus.INACTIVE),
        ("CLOSED", AccountStatus.CLOSED),
        ("suspended-by-a-new-rule", AccountStatus.UNKNOWN),
        (None, AccountStatus.UNKNOWN),
        (3, AccountStatus.UNKNOWN),
    ],
)
def test_a_reported_value_parses_case_and_space_insensitively_and_unknown_otherwise(
    raw: object, expected: AccountStatus
) -> None:
    assert AccountStatus.parse(raw) is expected
    assert AccountStatus.parse(raw) is expected  # the remembered answer is the same
    assert AccountType.parse("APP") is AccountType.APP
