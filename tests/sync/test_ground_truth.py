"""A sync of a 2,000-user / 150-group / 300-page site equals the simulator's ground truth,
reading each page of each endpoint successfully exactly once (on both stores).

The network may drop a connection and the client retry it, so the tests count successful
reads (2xx responses the client received), never attempts or retries."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest

from services.atlassian.admin import AdminClient
from services.confluence.auth import BasicAuth
from services.confluence.client import ConfluenceClient
from services.confluence.retry import RetryObserver
from services.integrations.models import DEFAULT_ADMIN_GROUPS, Integration, Purpose
from services.models import AccountStatus, AccountType
from services.store import Store
from services.sync.connector import Clients, Connector
from services.sync.models import (
    Grant,
    GrantSource,
    SnapshotAccount,
    SnapshotCounts,
    SyncRun,
    SyncRunStatus,
)
from simulator import RunningSimulator, Simulator, generate_site, start_simulator
from simulator.site import Site
from tests.sync.support import connected_integration, fast_policy, make_runner, sync_now

GROUPS = "GET /wiki/rest/api/group"
MEMBERS = "GET /wiki/rest/api/group/{groupId}/membersByGroupId"
USERS_BULK = "POST /wiki/api/v2/users-bulk"
DIRECTORY = "POST /admin/v2/orgs/{orgId}/directories/-/users/search"
SEARCH = "GET /wiki/rest/api/content/search"
TENANT_INFO = "GET /_edge/tenant_info"


@pytest.fixture(scope="module")
def big_sim() -> Iterator[RunningSimulator]:
    sim = Simulator(generate_site(users=2000, groups=150, pages=300, seed=5))
    with start_simulator(sim) as running:
        yield running


@dataclass
class ReadRecorder:
    """Connectors to the simulator (as ``static_connectors``) whose HTTP client records every
    successful response it received: (method, URL, request body) -> count."""

    running: RunningSimulator
    reads: Counter[tuple[str, str, bytes]] = field(default_factory=Counter)

    def open(
        self, integration: Integration, observer: RetryObserver
    ) -> AbstractAsyncContextManager[Connector]:
        return self._open(observer)

    async def _record(self, response: httpx.Response) -> None:
        if response.is_success:
            request = response.request
            self.reads[(request.method, str(request.url), request.content)] += 1

    @asynccontextmanager
    async def _open(self, observer: RetryObserver) -> AsyncIterator[Connector]:
        creds, policy = self.running.sim.credentials, fast_policy().with_observer(observer)
        hooks = {"response": [self._record]}
        async with httpx.AsyncClient(timeout=30, event_hooks=hooks) as http:
            auth = BasicAuth(creds.admin_token.email, creds.admin_token.token)
            confluence = ConfluenceClient(http, self.running.site_url(), auth, policy)
            admin = AdminClient(http, creds.admin_api_key, policy, api_base=self.running.api_url)
            yield Clients(confluence, admin, creds.org_id)

    def assert_each_read_once(self, expected: dict[str, int], sim: Simulator) -> None:
        """Every distinct read succeeded exactly once, and per endpoint there were as many
        successful reads as the site needs (the simulator saw as many 2xx responses)."""
        twice = {read: n for read, n in self.reads.items() if n != 1}
        assert twice == {}, f"read more than once: {list(twice)[:5]}"
        for route, pages in expected.items():
            assert sim.counters.count(route, 200) == pages, (route, sim.counters.snapshot())
        assert len(self.reads) == sum(expected.values())


def _pages_needed(n: int, size: int) -> int:
    return max(1, math.ceil(n / size))


def expected_requests(sim: Simulator) -> dict[str, int]:
    """The fewest requests that can read the whole site (server page-size caps)."""
    site, config = sim.site, sim.config
    return {
        GROUPS: _pages_needed(len(site.groups), config.groups_cap),
        MEMBERS: sum(
            _pages_needed(len(site.members_of(g)), config.members_cap) for g in site.groups
        ),
        USERS_BULK: math.ceil(len(site.member_account_ids()) / config.users_bulk_max),
        DIRECTORY: _pages_needed(len(sim.directory_accounts()), config.admin_max_limit),
        TENANT_INFO: 1,  # the API-token site's cloud id: last activity is per site (§5.8)
    }


def expected_account(site: Site, account_id: str) -> SnapshotAccount:
    a = site.accounts[account_id]
    in_directory = a.account_type == "atlassian" and a.account_status != "unknown"
    managed = in_directory and site.is_managed(a)
    groups = tuple(sorted(g.name for g in site.groups_of(a.account_id)))
    return SnapshotAccount(
        account_id=a.account_id,
        display_name=a.display_name,
        email=a.visible_email or None,
        account_type=AccountType.parse(a.account_type),
        account_status=AccountStatus.parse(a.account_status),
        mfa_enabled=a.mfa_enabled if managed else None,
        groups=groups,
        last_active_at=a.last_active if in_directory else None,
        access_via=tuple(Grant.via_group(g, GrantSource.GROUP_MEMBERSHIP) for g in groups),
        admin_via=tuple(
            Grant.via_group(g, GrantSource.ADMIN_GROUPS_SETTING)
            for g in groups
            if g in DEFAULT_ADMIN_GROUPS
        ),
    )


async def _sync(
    store: Store, running: RunningSimulator, purpose: Purpose, recorder: ReadRecorder
) -> SyncRun:
    org = await store.organizations.create(name="Acme")
    integration = await connected_integration(store, org.id, purpose)
    run = await sync_now(make_runner(store, recorder), integration)
    assert run is not None and run.status is SyncRunStatus.SUCCEEDED, run
    current = await store.integrations.get_by_id(integration_id=integration.id)
    assert current is not None and current.current_snapshot_id == run.snapshot_id
    return run


async def test_access_review_matches_ground_truth(store: Store, big_sim: RunningSimulator) -> None:
    sim, site = big_sim.sim, big_sim.sim.site
    sim.reset()
    recorder = ReadRecorder(big_sim)
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
    mismatched = [i for i in ids if stored[i] != expected_account(site, i)]
    assert mismatched == [], (stored[mismatched[0]], expected_account(site, mismatched[0]))
    # The site really exercises every field.
    values = list(stored.values())
    assert {a.account_status for a in values} >= {"active", "inactive", "closed"}
    assert {a.account_type for a in values} >= {"atlassian", "app", "customer", "unknown"}
    assert {a.mfa_enabled for a in values} == {True, False, None}
    assert any(a.is_admin for a in values) and any(a.email is None for a in values)

    # Each page read successfully once: the minimum the site requires, nothing read twice.
    recorder.assert_each_read_once(expected_requests(sim), sim)
    assert run.progress.requests_made >= sum(expected_requests(sim).values())


async def test_policy_pages_match_ground_truth(store: Store, big_sim: RunningSimulator) -> None:
    sim, site = big_sim.sim, big_sim.sim.site
    sim.reset()
    recorder = ReadRecorder(big_sim)
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
        {SEARCH: _pages_needed(len(expected), sim.config.search_body_cap)}, sim
    )
