"""ConfluenceClient against the simulator as a real HTTP server over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from services.confluence.auth import BasicAuth, BearerAuth
from services.confluence.client import ConfluenceClient
from services.confluence.errors import (
    ConfluenceAuthError,
    ConfluenceBadRequest,
    ConfluenceNotFound,
    ConfluenceRateLimited,
    ConfluenceScopeError,
    ConfluenceUnavailable,
)
from services.confluence.models import Member
from services.confluence.retry import RetryPolicy, RetryReason, RetryStats
from services.models import AccountStatus, AccountType
from simulator import Account, Group, RunningSimulator, Simulator, Site, Space, start_simulator

from .conftest import SimSleep
from .support import collect

POLICY_CQL = 'type = page and label = "policy"'


async def test_current_user_admin_and_member(
    sim: Simulator, site_client: ConfluenceClient, net: httpx.AsyncClient, sim_policy: RetryPolicy
) -> None:
    admin = await site_client.current_user()
    assert admin.is_admin is True
    assert admin.account_id == sim.site.operators["admin"]
    member_token = sim.credentials.member_token
    auth = BasicAuth(member_token.email, member_token.token)
    reader = ConfluenceClient(net, site_client.base_url, auth, sim_policy)
    assert (await reader.current_user()).is_admin is False


async def test_tenant_info(sim: Simulator, site_client: ConfluenceClient) -> None:
    site_url = site_client.base_url
    assert await site_client.tenant_info(site_url) == sim.site.cloud_id


async def test_every_group_and_member_matches_ground_truth(
    sim: Simulator, site_client: ConfluenceClient
) -> None:
    groups = await collect(lambda c: site_client.list_groups(c))
    assert {(g.id, g.name) for g in groups} == {
        (g.group_id, g.name) for g in sim.site.groups.values()
    }
    for group in groups:
        members = await collect(lambda c, g=group.id: site_client.list_group_members(g, c))
        truth = sim.site.members_of(group.id)
        assert [m.account_id for m in members] == [a.account_id for a in truth]
        for member, account in zip(members, truth, strict=True):
            assert member.email == (account.visible_email or None)
            assert member.account_type is AccountType.parse(account.account_type)


async def test_hidden_emails_and_account_types(
    sim: Simulator, site_client: ConfluenceClient
) -> None:
    ids = sim.site.member_account_ids()
    users = []
    for start in range(0, len(ids), 250):
        users += await site_client.users_bulk(ids[start : start + 250])
    assert sorted(u.account_id for u in users) == sorted(ids)
    hidden = {a.account_id for a in sim.site.accounts.values() if not a.visible_email}
    assert hidden, "the generated site should hide some emails"
    assert {u.account_id for u in users if u.email is None} == hidden & set(ids)
    for user in users:
        account = sim.site.accounts[user.account_id]
        assert user.account_status is AccountStatus.parse(account.account_status)
        assert user.account_type is AccountType.parse(account.account_type)
    kinds = {u.account_type for u in users}
    assert {AccountType.APP, AccountType.CUSTOMER} <= kinds
    assert {u.account_status for u in users} >= {AccountStatus.ACTIVE, AccountStatus.INACTIVE}


async def test_policy_pages_via_cql_search(sim: Simulator, site_client: ConfluenceClient) -> None:
    pages = await collect(lambda c: site_client.search_content(POLICY_CQL, c))
    expected = sorted(sim.site.policy_pages(), key=lambda p: int(p.page_id))  # current only
    assert [p.id for p in pages] == [p.page_id for p in expected]
    by_id = {p.page_id: p for p in expected}
    for page in pages:
        truth = by_id[page.id]
        assert page.title == truth.title
        assert page.space_key == truth.space_key
        assert page.version_number == truth.version
        assert page.last_modified_at == truth.last_modified.replace(
            microsecond=truth.last_modified.microsecond // 1000 * 1000
        )
        assert page.created_by == truth.created_by
        assert "policy" in page.labels
        assert page.body_storage == truth.body
        assert page.web_url is not None and page.web_url.startswith(site_client.base_url)


async def test_get_page_and_spaces(sim: Simulator, site_client: ConfluenceClient) -> None:
    truth = next(iter(sim.site.iter_pages()))
    page = await site_client.get_page(truth.page_id)
    assert (page.title, page.body_storage, page.version_number) == (
        truth.title,
        truth.body,
        truth.version,
    )
    assert set(page.labels) == set(truth.labels)
    spaces = await collect(lambda c: site_client.list_spaces(c, limit=1))
    assert {s.key for s in spaces} == set(sim.site.spaces)


async def test_not_found_and_bad_request(site_client: ConfluenceClient) -> None:
    with pytest.raises(ConfluenceNotFound):
        await site_client.get_page("999999999999")
    with pytest.raises(ConfluenceNotFound):
        await site_client.list_group_members("no-such-group")
    with pytest.raises(ConfluenceBadRequest):
        await site_client.search_content("type = = page")


async def test_bad_api_token_is_auth_error(
    sim: Simulator, site_client: ConfluenceClient, net: httpx.AsyncClient, sim_policy: RetryPolicy
) -> None:
    token = sim.credentials.admin_token
    bad = ConfluenceClient(net, site_client.base_url, BasicAuth(token.email, "wrong"), sim_policy)
    with pytest.raises(ConfluenceAuthError) as caught:
        await bad.current_user()
    assert type(caught.value) is ConfluenceAuthError
    assert "wrong" not in str(caught.value)


async def test_gateway_scope_401_vs_plain_401(
    sim: Simulator, served: RunningSimulator, net: httpx.AsyncClient, sim_policy: RetryPolicy
) -> None:
    base = served.confluence_api_base()
    narrow = sim.issue_access_token(["read:confluence-user"], refresh=False)["access_token"]
    client = ConfluenceClient(net, base, BearerAuth(narrow), sim_policy)
    assert (await client.current_user()).account_id == sim.credentials.oauth_account_id
    with pytest.raises(ConfluenceScopeError):
        await client.list_groups()
    bogus = ConfluenceClient(net, base, BearerAuth("not-a-token"), sim_policy)
    with pytest.raises(ConfluenceAuthError) as caught:
        await bogus.list_groups()
    assert type(caught.value) is ConfluenceAuthError


# ----- page-size edges ------------------------------------------------------------------


def _edge_site() -> Site:
    sizes = {"empty": 0, "one": 1, "full": 200, "over": 201, "big": 1000}
    accounts = [Account("557058:admin", "Admin", email="admin@edge.example")]
    accounts += [
        Account(f"557058:u{i:04d}", f"U{i}", email=f"u{i}@edge.example", email_visible=i % 3 != 0)
        for i in range(1000)
    ]
    groups = [Group("g-admins", "confluence-administrators", ["557058:admin"])]
    groups += [
        Group(f"g-{name}", name, [f"557058:u{i:04d}" for i in range(n)])
        for name, n in sizes.items()
    ]
    return Site(
        "edge",
        "cloud-edge",
        accounts=accounts,
        groups=groups,
        spaces=[Space("1", "DOC", "Docs")],
        operators={"admin": "557058:admin"},
    )


@pytest.fixture(scope="module")
def edge() -> Iterator[tuple[str, Simulator]]:
    sim = Simulator(_edge_site(), seed=3)
    with start_simulator(sim) as running:
        yield running.site_url(), sim


@pytest.mark.parametrize(
    ("group", "size", "requests"),
    [("empty", 0, 1), ("one", 1, 1), ("full", 200, 1), ("over", 201, 2), ("big", 1000, 5)],
)
async def test_member_pagination_edges(
    edge: tuple[str, Simulator],
    net: httpx.AsyncClient,
    group: str,
    size: int,
    requests: int,
) -> None:
    base, sim = edge
    sim.counters.reset()
    token = sim.credentials.admin_token
    client = ConfluenceClient(net, base, BasicAuth(token.email, token.token), RetryPolicy())
    pages = []
    cursor: str | None = None
    while True:
        page = await client.list_group_members(f"g-{group}", cursor)
        pages.append(page)
        if (cursor := page.next_cursor) is None:
            break
    members: list[Member] = [m for p in pages for m in p.items]
    assert len(members) == size
    assert len({m.account_id for m in members}) == size
    assert len(pages) == requests
    assert all(len(p.items) <= 200 for p in pages)
    assert sum(m.email is None for m in members) == sum(i % 3 == 0 for i in range(size))
    route = "GET /wiki/rest/api/group/{groupId}/membersByGroupId"
    assert sim.counters.count(route) == requests


# ----- faults --------------------------------------------------------------------------


async def _all_memberships(client: ConfluenceClient) -> dict[str, list[str]]:
    groups = await collect(lambda c: client.list_groups(c, limit=7))

    async def members(group_id: str) -> list[str]:
        found = await collect(lambda c: client.list_group_members(group_id, c, limit=10))
        return [m.account_id for m in found]

    listed = await asyncio.gather(*(members(g.id) for g in groups))
    return dict(zip((g.id for g in groups), listed, strict=True))


async def test_faults_lose_nothing_and_retries_are_observable(
    sim: Simulator,
    site_client: ConfluenceClient,
    net: httpx.AsyncClient,
    sim_sleep: SimSleep,
    stats: RetryStats,
) -> None:
    clean = await _all_memberships(site_client)
    assert stats.retries == 0
    sim.counters.reset()
    # 20% of requests fail (429, 503, dropped connection); 5% more have truncated bodies.
    sim.faults.configure(rate_429=0.07, rate_503=0.07, rate_drop=0.06, rate_truncate=0.05)
    policy = RetryPolicy(max_attempts=10, sleep=sim_sleep, clock=sim.clock.now, observer=stats)
    token = sim.credentials.admin_token
    faulty = ConfluenceClient(
        net, site_client.base_url, BasicAuth(token.email, token.token), policy, max_concurrency=8
    )
    assert await _all_memberships(faulty) == clean
    injected = {k: sim.counters.faults(k) for k in ("429", "503", "drop", "truncate")}
    assert all(injected.values()), injected
    assert sim.counters.count() > 150
    assert stats.retries == sum(injected.values())
    reasons = {e.reason for e in stats.events}
    assert reasons == {
        RetryReason.RATE_LIMITED,
        RetryReason.UNAVAILABLE,
        RetryReason.CONNECTION,
        RetryReason.PROTOCOL,
    }
    assert stats.rate_limit_waits == injected["429"]
    assert (
        min(w for w, e in zip(sim_sleep.waits, stats.events, strict=True) if e.rate_limited) >= 1.0
    )


async def test_quota_exhaustion_pauses_until_reset(
    sim: Simulator, site_client: ConfluenceClient, sim_sleep: SimSleep, stats: RetryStats
) -> None:
    reset = sim.faults.exhaust_quota(seconds=90)  # within the policy's max_pause (120 s)
    groups = await site_client.list_groups()
    assert groups.items
    assert sim.clock.now() >= reset
    assert len(stats.events) == 1
    assert stats.events[0].reason is RetryReason.QUOTA_EXHAUSTED
    assert 88 <= sim_sleep.waits[0] <= 90


async def test_quota_exhausted_for_longer_than_max_pause_is_raised_with_its_reset(
    sim: Simulator, site_client: ConfluenceClient, sim_sleep: SimSleep
) -> None:
    reset = sim.faults.exhaust_quota(seconds=900)
    with pytest.raises(ConfluenceRateLimited) as caught:
        await site_client.list_groups()
    assert caught.value.quota_exhausted and caught.value.until is not None
    assert abs((caught.value.until - reset).total_seconds()) < 1
    assert sim_sleep.waits == []


async def test_plain_text_errors_are_tolerated(
    sim: Simulator, site_client: ConfluenceClient, stats: RetryStats
) -> None:
    sim.faults.configure(plain_text_errors=True)
    sim.faults.script("503", times=2)
    assert (await site_client.list_groups()).items
    assert stats.retries == 2
    sim.faults.script("status", status=500)
    with pytest.raises(ConfluenceUnavailable) as caught:
        await site_client.list_groups()
    assert caught.value.status == 500
