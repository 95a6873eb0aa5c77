"""Issue 21: how a sync reads access and admin rights from Atlassian's roles (docs/access.md):
admin groups recognised by their roles, never their names; suspension per directory when the
organization has several; the bound on role-assignment reads; and, without an Admin API key,
group membership as the only signal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from services.models import ClaimStatus, DirectoryStatus
from services.store import Store
from services.sync.models import Grant, GrantKind, GrantSource
from simulator import Simulator, generate_site
from simulator.roles import ADMIN, SITE_ADMIN, USER
from testkit.live import fresh_store
from tests.sync.inprocess import sync_run, synced

NOW = datetime(2026, 6, 1, tzinfo=UTC)
READS = "GET /admin/v2/orgs/{orgId}/directories/{directoryId}/users/{accountId}/role-assignments"
SEARCH = "POST /admin/v2/orgs/{orgId}/directories/-/users/search"


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    """A fresh store on mongomock-motor only."""
    async with fresh_store("mock", None) as s:
        yield s


def small_site() -> Simulator:
    return Simulator(generate_site(24, 7, 0, 3, now=NOW), seed=3)


def staff(sim: Simulator, n: int) -> list[str]:
    """``n`` active atlassian accounts in some group, not the operators."""
    site = sim.site
    operators = set(site.operators.values())
    found = [
        a.account_id
        for a in site.accounts.values()
        if a.account_type == "atlassian"
        and a.account_status == "active"
        and a.visible_email
        and a.account_id not in operators
        and site.groups_of(a.account_id)
    ]
    assert len(found) >= n
    return found[:n]


async def test_admin_rights_come_from_roles_never_from_a_group_name(store: Store) -> None:
    """A renamed admin group still gives admin rights; a group keeping the old name after
    its admin role was removed does not (Atlassian: default group names "can be edited or
    deleted")."""
    sim = small_site()
    site = sim.site
    owners, outside = staff(sim, 4)[:2], staff(sim, 4)[2:]
    team = site.add_group("platform-owners", "grp-owners", owners, roles=(USER, ADMIN))
    for account_id in outside:
        site.add_member("confluence-administrators", account_id)
    site.set_group_roles("confluence-administrators", (USER,))
    named_only = [
        m
        for m in site.group_by_name("confluence-administrators").member_ids
        if not site.is_admin(m) and m not in sim.org.admins
    ]
    assert set(outside) <= set(named_only)  # members of the admin-named group, no admins
    accounts = await synced(store, sim)
    for member in team.member_ids:
        grants = accounts[member].admin_via
        assert (
            Grant.via_group(team.name, GrantSource.ATLASSIAN, group_id=team.group_id, role=ADMIN)
            in grants
        )
    for member in named_only:
        assert accounts[member].is_admin is False, accounts[member]
    admin = site.operators["admin"]  # site-admins: user + admin + site-admin roles
    assert {(g.kind, g.group, g.role) for g in accounts[admin].admin_via} >= {
        (GrantKind.GROUP, "site-admins", ADMIN),
        (GrantKind.GROUP, "site-admins", SITE_ADMIN),
    }


async def test_direct_admin_and_site_admin_roles_are_direct(store: Store) -> None:
    sim = small_site()
    product, site_admin = staff(sim, 2)
    sim.actions.grant_role(product, ADMIN)
    sim.actions.grant_role(site_admin, SITE_ADMIN)
    accounts = await synced(store, sim)
    assert Grant.direct(ADMIN) in accounts[product].admin_via
    assert accounts[site_admin].admin_via == (Grant.direct(SITE_ADMIN),)
    # the role-assignments reads: the site-admin candidate and the product admins, once each
    admins = {a for a in sim.site.accounts if ADMIN in sim.site.role_assignments(a)}
    listed = {a.account_id for _, a in sim.directory_accounts()}
    assert sim.counters.count(READS, 200) == len((admins & listed) | {site_admin})


async def test_suspension_in_the_site_directory_when_there_are_several(store: Store) -> None:
    """``membershipStatus`` is organization-wide ("suspended" only in every directory): an
    account in two directories suspended in the site's alone is read per directory."""
    sim = small_site()
    here, elsewhere, everywhere = staff(sim, 3)
    site_directory = sim.org.directory_of(sim.site).directory_id
    sim.org.add_directory("dir-2", "Second", members=[here, elsewhere, everywhere])
    sim.actions.suspend(here, site_directory)
    sim.actions.suspend(elsewhere, "dir-2")
    sim.actions.suspend(everywhere)
    assert sim.membership_status(here) == "active"  # the aggregate hides it
    truth = sim.confluence_access()
    assert (truth[here], truth[elsewhere], truth[everywhere]) == (False, True, False)

    run = await sync_run(store, sim)
    accounts = {
        a.account_id: a
        async for a in store.snapshot_queries.iter_accounts(snapshot_id=run.snapshot_id)
    }
    assert accounts[here].directory_status is DirectoryStatus.SUSPENDED
    assert accounts[here].directory_id == site_directory
    assert accounts[elsewhere].directory_status is DirectoryStatus.ACTIVE
    assert accounts[everywhere].directory_status is DirectoryStatus.SUSPENDED
    assert {a: accounts[a].has_access for a in (here, elsewhere, everywhere)} == {
        here: False,
        elsewhere: True,
        everywhere: False,
    }
    assert run.warnings == ()


async def test_bounded_role_reads_fall_back_to_the_safe_side(store: Store) -> None:
    """Beyond ``role_reads`` the run says so; an account suspended only in the site's
    directory then counts as having access (a false FAIL at worst, never a false PASS)."""
    sim = small_site()
    here = staff(sim, 1)[0]
    site_directory = sim.org.directory_of(sim.site).directory_id
    sim.org.add_directory("dir-2", "Second", members=[here])
    sim.actions.suspend(here, site_directory)
    run = await sync_run(store, sim, role_reads=0)
    assert sim.counters.count(READS) == 0
    assert any("site's could not be read" in w for w in run.warnings), run.warnings
    account = await store.snapshot_queries.get_account(snapshot_id=run.snapshot_id, account_id=here)
    assert account is not None and account.has_access is True


async def test_access_without_any_group_joins_the_snapshot(store: Store) -> None:
    sim = small_site()
    alone = staff(sim, 1)[0]
    for group in sim.site.groups_of(alone):
        sim.actions.remove_member(group.group_id, alone)
    sim.actions.grant_role(alone, USER)
    keyed = await synced(store, sim)
    account = keyed[alone]
    assert account.groups == () and account.access_via == (Grant.direct(),)
    assert account.has_access and account.directory_status is DirectoryStatus.ACTIVE
    assert account.claim_status in (ClaimStatus.MANAGED, ClaimStatus.UNMANAGED)
    assert account.email and account.display_name  # users-bulk read it too
    # without a key, group membership is the only signal: the grant is out of sight
    assert alone not in await synced(store, sim, admin_key=False)


async def test_without_a_key_groups_give_access_and_configured_groups_admin(
    store: Store,
) -> None:
    sim = small_site()
    site = sim.site
    accounts = await synced(store, sim, admin_key=False)
    member = staff(sim, 1)[0]
    assert {g.group for g in accounts[member].access_via} == {
        g.name for g in site.groups_of(member)
    }
    everyone = list(accounts.values())
    assert all(
        g.source is GrantSource.GROUP_MEMBERSHIP and g.kind is GrantKind.GROUP and g.group_id
        for a in everyone
        for g in a.access_via
    )
    admins = [a for a in everyone if a.is_admin]
    assert admins and all(
        g.source is GrantSource.ADMIN_GROUPS_SETTING
        and g.group in ("confluence-administrators", "site-admins")
        for a in admins
        for g in a.admin_via
    )
    assert all(a.directory_status is None and a.claim_status is None for a in everyone)
    assert sim.counters.count(SEARCH) == 0
