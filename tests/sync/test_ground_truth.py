"""A sync of a 2,000-user / 150-group / 300-page site equals the simulator's ground truth,
reading each page of each endpoint successfully exactly once (on both stores).

The network may drop a connection and the client retry it, so the tests count successful
reads (2xx responses the client received), never attempts or retries."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

import httpx

from services.integrations.models import DEFAULT_ADMIN_GROUPS, Purpose
from services.models import AccountStatus, AccountType, ClaimStatus, DirectoryStatus
from services.store import Store
from services.sync.models import (
    Grant,
    GrantSource,
    SnapshotAccount,
    SnapshotCounts,
    SyncRun,
    SyncRunStatus,
)
from simulator import RunningSimulator, Simulator
from simulator.roles import ADMIN, ORG_ADMIN, SITE_ADMIN, USER
from simulator.site import Site
from testkit.ground_truth import SEARCH, expected_requests, in_directory, pages_needed
from testkit.static_connector import StaticConnectorFactory
from testkit.sync import connected_integration, make_runner, sync_now
from tests.conftest import served_site
from tests.sync.support import static_connectors

big_sim = served_site(users=2000, groups=150, pages=300, seed=5)


@dataclass
class ReadRecorder:
    """Records every successful response the client of a sync received: (method, URL,
    request body) -> count."""

    reads: Counter[tuple[str, str, bytes]] = field(default_factory=Counter)

    def connectors(self, running: RunningSimulator) -> StaticConnectorFactory:
        """Connectors to the simulator whose HTTP client reports to this recorder."""
        return static_connectors(running, event_hooks={"response": [self._record]})

    async def _record(self, response: httpx.Response) -> None:
        if response.is_success:
            request = response.request
            self.reads[(request.method, str(request.url), request.content)] += 1

    def assert_each_read_once(self, expected: dict[str, int], sim: Simulator) -> None:
        """Every distinct read succeeded exactly once, and per endpoint there were as many
        successful reads as the site needs (the simulator saw as many 2xx responses)."""
        twice = {read: n for read, n in self.reads.items() if n != 1}
        assert twice == {}, f"read more than once: {list(twice)[:5]}"
        for route, pages in expected.items():
            assert sim.counters.count(route, 200) == pages, (route, sim.counters.snapshot())
        assert len(self.reads) == sum(expected.values())


ATLASSIAN, MEMBERSHIP = GrantSource.ATLASSIAN, GrantSource.GROUP_MEMBERSHIP
SETTING = GrantSource.ADMIN_GROUPS_SETTING


def judged_groups(site: Site) -> set[str]:
    """The groups the directory can judge: it lists one of their members."""
    return {
        g.group_id
        for g in site.groups.values()
        if any(in_directory(site, m.account_id) for m in site.members_of(g.group_id))
    }


def expected_account(sim: Simulator, account_id: str, judged: set[str]) -> SnapshotAccount:
    """The account as Atlassian's roles make it (``groups`` sites: every group carries
    ``atlassian/user``, the admin groups admin roles; no direct grants)."""
    site = sim.site
    a = site.accounts[account_id]
    listed = in_directory(site, account_id)
    managed = listed and site.is_managed(a)
    groups = tuple(sorted(g.name for g in site.groups_of(a.account_id)))
    roles = site.role_assignments(account_id)

    def via(role: str, name: str | None) -> set[Grant]:
        """Grants of ``role`` (named ``name`` in the grant, None for access)."""
        found = set()
        for g in site.groups_granting(account_id, role):
            if g.group_id in judged:
                found.add(Grant.via_group(g.name, ATLASSIAN, group_id=g.group_id, role=name))
            elif name is None:  # access: membership only
                found.add(Grant.via_group(g.name, MEMBERSHIP, group_id=g.group_id))
            elif g.name in DEFAULT_ADMIN_GROUPS:  # admin: the configured admin groups
                found.add(Grant.via_group(g.name, SETTING, group_id=g.group_id))
        if "direct" in roles.get(role, ()):
            found.add(Grant.direct(name))
        return found

    access = via(USER, None) | via(ADMIN, None)
    admin = via(ADMIN, ADMIN) | via(SITE_ADMIN, SITE_ADMIN)
    if account_id in sim.org.admins:
        admin.add(Grant.direct(ORG_ADMIN))
    membership = sim.membership_status(account_id) if listed else None
    return SnapshotAccount(
        account_id=a.account_id,
        display_name=a.display_name,
        email=a.visible_email or None,
        account_type=AccountType.parse(a.account_type),
        account_status=AccountStatus.parse(a.account_status),
        mfa_enabled=a.mfa_enabled if managed else None,
        groups=groups,
        last_active_at=a.last_active if listed else None,
        access_via=tuple(sorted(access, key=repr)),
        admin_via=tuple(sorted(admin, key=repr)),
        directory_status=DirectoryStatus.parse(membership) if membership else None,
        directory_id=sim.org.default_directory.directory_id if listed else None,
        claim_status=(ClaimStatus.MANAGED if managed else ClaimStatus.UNMANAGED)
        if listed
        else None,
    )


def normalised(account: SnapshotAccount) -> SnapshotAccount:
    """The account with its grants in a canonical order (the order carries no meaning)."""
    return replace(
        account,
        access_via=tuple(sorted(account.access_via, key=repr)),
        admin_via=tuple(sorted(account.admin_via, key=repr)),
    )


async def _sync(
    store: Store, running: RunningSimulator, purpose: Purpose, recorder: ReadRecorder
) -> SyncRun:
    org = await store.organizations.create(name="Acme")
    integration = await connected_integration(store, org.id, purpose)
    run = await sync_now(make_runner(store, recorder.connectors(running)), integration)
    assert run is not None and run.status is SyncRunStatus.SUCCEEDED, run
    current = await store.integrations.get_by_id(integration_id=integration.id)
    assert current is not None and current.current_snapshot_id == run.snapshot_id
    return run


async def test_access_review_matches_ground_truth(store: Store, big_sim: RunningSimulator) -> None:
    sim, site = big_sim.sim, big_sim.sim.site
    sim.reset()
    recorder = ReadRecorder()
    run = await _sync(store, big_sim, Purpose.ACCESS_REVIEW, recorder)

    ids = site.member_account_ids()
    assert len(ids) > 1500
    memberships = sum(len(site.members_of(g)) for g in site.groups)
    assert run.counts == SnapshotCounts(
        accounts=len(ids), groups=len(site.groups), memberships=memberships, pages=0
    )
    stored = {
        a.account_id: a
        async for a in store.snapshot_queries.iter_accounts(snapshot_id=run.snapshot_id)
    }
    assert stored.keys() == set(ids)
    judged = judged_groups(site)
    mismatched = [i for i in ids if normalised(stored[i]) != expected_account(sim, i, judged)]
    assert mismatched == [], (stored[mismatched[0]], expected_account(sim, mismatched[0], judged))
    # The site really exercises every field.
    values = list(stored.values())
    assert {a.account_status for a in values} >= {"active", "inactive", "closed"}
    assert {a.account_type for a in values} >= {"atlassian", "app", "customer", "unknown"}
    assert {a.mfa_enabled for a in values} == {True, False, None}
    assert any(a.is_admin for a in values) and any(a.email is None for a in values)
    sources = {g.source for a in values for g in (*a.access_via, *a.admin_via)}
    assert GrantSource.ATLASSIAN in sources
    assert {g.role for a in values for g in a.admin_via} >= {ADMIN, SITE_ADMIN}

    # Each page read successfully once: the minimum the site requires, nothing read twice.
    recorder.assert_each_read_once(expected_requests(sim), sim)
    assert run.progress.requests_made >= sum(expected_requests(sim).values())


async def test_policy_pages_match_ground_truth(store: Store, big_sim: RunningSimulator) -> None:
    sim, site = big_sim.sim, big_sim.sim.site
    sim.reset()
    recorder = ReadRecorder()
    run = await _sync(store, big_sim, Purpose.POLICY, recorder)

    expected = {p.page_id: p for p in site.policy_pages()}
    assert run.counts == SnapshotCounts(pages=len(expected))
    stored = {
        p.page_id: p async for p in store.snapshot_queries.iter_pages(snapshot_id=run.snapshot_id)
    }
    assert stored.keys() == expected.keys()
    for page_id, page in expected.items():
        got = stored[page_id]
        assert (got.title, got.status, got.space_key, got.version) == (
            page.title,
            page.status,
            page.space_key,
            page.version,
        )
        assert got.labels == tuple(page.labels)
        assert got.last_modified_at == page.last_modified
        assert got.body_storage == page.body
        assert got.web_url and page_id in got.web_url
    # Bodies, versions and labels come inline: one search request per page of results.
    recorder.assert_each_read_once(
        {SEARCH: pages_needed(len(expected), sim.config.search_body_cap)}, sim
    )
