"""The ground truth ("has Confluence access on this site") agrees, for every account in the
organization's directory, with what the Admin API says — over random sites (groups with and
without access roles, direct grants, admin and site-admin roles, IdP-synced groups,
suspensions) and random admin actions on them. The product's own property test compares
Vigil with the same ground truth."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import Simulator, Site, create_simulator_app, generate_site
from simulator.roles import ADMIN, USER
from tests.sync.test_access_property import ACTIONS, act

NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def _api_view(sim: Simulator) -> dict[str, bool]:
    """Access as the Admin API shows it (the app served in-process): a Confluence
    ``productAccess`` entry for the site, ``accountStatus`` active, membership not suspended."""
    transport = httpx.ASGITransport(app=create_simulator_app(sim))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        return await _pages(sim, client)


async def _pages(sim: Simulator, client: httpx.AsyncClient) -> dict[str, bool]:
    site = sim.site
    creds = sim.credentials
    headers = {"Authorization": f"Bearer {creds.admin_api_key}"}
    url = f"/api/admin/v2/orgs/{creds.org_id}/directories/-/users/search"
    body: dict[str, Any] = {"limit": 100, "expand": ["productAccess"]}
    seen: dict[str, bool] = {}
    while True:
        page = (await client.post(url, json=body, headers=headers)).json()
        for user in page["data"]:
            confluence = [
                e
                for e in user["productAccess"]
                if e["key"] == "confluence" and e["id"] == site.cloud_id
            ]
            seen[user["accountId"]] = (
                bool(confluence)
                and user["accountStatus"] == "active"
                and user["membershipStatus"] == "active"
            )
        if not page["links"].get("next"):
            return seen
        body["cursor"] = page["links"]["next"]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10_000),
    users=st.integers(4, 24),
    groups=st.integers(3, 7),
    steps=st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 1_000)), max_size=8),
)
def test_ground_truth_matches_the_admin_api(
    seed: int, users: int, groups: int, steps: list[tuple[str, int]]
) -> None:
    site = generate_site(users, groups, 0, seed, now=NOW, access="varied")
    sim = Simulator(site, seed=seed)
    listed = [a.account_id for _, a in sim.directory_accounts()]
    for action, pick in steps:
        act(sim, action, listed[pick % len(listed)], pick)
    api = asyncio.run(_api_view(sim))
    truth = sim.confluence_access()
    assert set(api) == set(listed)
    assert {a: truth[a] for a in listed} == api
    # Independently of the API: access needs an access role, an active account and no
    # suspension — through a group or directly.
    for account_id, has in truth.items():
        account = site.accounts[account_id]
        held = site.role_assignments(account_id)
        expected = (
            account.account_status == "active"
            and account_id not in site.suspended
            and bool({USER, ADMIN} & held.keys())
        )
        assert has == expected


def test_varied_sites_hold_every_kind_of_grant() -> None:
    """The generator's ``varied`` option really varies: on a mid-size site there are direct
    grants, groups without access, synced groups, suspensions and access without any group."""
    site = generate_site(200, 12, 0, 3, now=NOW, access="varied")
    assert site.direct_roles and site.suspended
    assert any(not g.role_set for g in site.groups.values())
    assert any(g.synced for g in site.groups.values())
    direct_only = [
        a
        for a in site.accounts
        if site.has_confluence_access(a)
        and set(m for ms in site.role_assignments(a).values() for m in ms) == {"direct"}
    ]
    assert direct_only
    in_groups_without_access = [
        a for a in site.member_account_ids() if not site.holds_access_role(a)
    ]
    assert in_groups_without_access
    assert generate_site(200, 12, 0, 3, now=NOW, access="varied").to_json() == site.to_json()
    # Roles, synced groups and suspensions survive a JSON round trip (site files, --site-json).
    copy = Site.from_json(json.loads(json.dumps(site.to_json())))
    assert copy.to_json() == site.to_json()
    assert copy.confluence_access() == site.confluence_access()
    assert {g.group_id for g in copy.groups.values() if g.synced} == {
        g.group_id for g in site.groups.values() if g.synced
    }
