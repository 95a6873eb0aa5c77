"""Syncing end to end: GraphQL over HTTP and WebSocket → Vigil (in-process worker) → the
simulator as a real server, through the real connector of stored credentials; both stores."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from gql import GraphQLRequest
from gql.transport.exceptions import TransportQueryError

from services.events import topic_for
from services.models import Role
from services.sync.progress import SYNC_CHANNEL
from testkit.conditions import until
from testkit.connect import Env
from testkit.graphql_client import gql_ws
from tests.conftest import STORE_KINDS, served_site
from tests.e2e.access_support import connect_api_token, set_admin_key
from tests.e2e.connect_support import worker_env_fixture

RUN_FIELDS = """id integrationId status trigger snapshotId error errorEndpoint
  progress { phase requestsMade itemsFetched retries rateLimitWaits }
  counts { accounts groups memberships pages }"""
TRIGGER = f"""mutation($id: ID!) {{ triggerSync(integrationId: $id) {{
  syncRun {{ {RUN_FIELDS} }} userErrors {{ field code message }} }} }}"""
PROGRESS = f"subscription($id: ID!) {{ syncProgress(integrationId: $id) {{ {RUN_FIELDS} }} }}"
RUNS = f"""query($id: ID!, $first: Int, $after: String) {{
  syncRuns(integrationId: $id, first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ {RUN_FIELDS} }} }} }} }}"""
ACCOUNTS = """query($filter: AccountFilter, $first: Int, $after: String) {
  accounts(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { accountId displayName email accountType accountStatus isAdmin
      mfaEnabled groups lastActiveAt identity { classification } } } } }"""
PAGES = """query($filter: PageFilter, $first: Int, $after: String) {
  confluencePages(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id title status spaceKey spaceName version lastModifiedAt labels url } } } }"""


sync_sim = served_site(users=150, groups=14, pages=40, seed=9)
env = worker_env_fixture("sync_sim", params=STORE_KINDS)


async def connect(env: Env, purpose: str = "ACCESS_REVIEW", admin_key: bool = True) -> str:
    integration_id = await connect_api_token(env, purpose)
    # Connecting queued the first sync (SPEC §2.1.4), which the in-process worker ran.
    await env.live.container.sync.scheduler.drain()
    expected = [("INITIAL", "SUCCEEDED")]
    if admin_key:  # an admin key changes what a sync collects: it starts one
        expected.insert(0, ("MANUAL", "SUCCEEDED"))
        await set_admin_key(env, integration_id)
        await env.live.container.sync.scheduler.drain()
    runs = (await env.gql(RUNS, {"id": integration_id}))["syncRuns"]["edges"]
    assert [(r["node"]["trigger"], r["node"]["status"]) for r in runs] == expected
    return integration_id


async def sync_and_watch(env: Env, integration_id: str) -> list[dict[str, Any]]:
    """Trigger a sync while subscribed to its progress; every state until it finished."""
    seen: list[dict[str, Any]] = []
    topic = topic_for(env.org_id, SYNC_CHANNEL)
    async with gql_ws(env.live.ws_url, env.key) as session:
        stream = session.subscribe(GraphQLRequest(PROGRESS, variable_values={"id": integration_id}))
        first = asyncio.ensure_future(anext(stream))
        await until(lambda: env.live.container.bus.subscriber_count(topic), what="a listener")
        trigger = (await env.gql(TRIGGER, {"id": integration_id}))["triggerSync"]
        assert trigger["userErrors"] == []
        run_id = trigger["syncRun"]["id"]
        event = await asyncio.wait_for(first, 20)
        while True:
            run = event["syncProgress"]
            if run["id"] == run_id:
                seen.append(run)
                if run["status"] in ("SUCCEEDED", "FAILED"):
                    break
            event = await asyncio.wait_for(anext(stream), 20)
        await stream.aclose()
    return seen


async def test_sync_progress_over_websocket_then_snapshot_queries(env: Env) -> None:
    site = env.sim.sim.site
    env.sim.sim.faults.configure(latency_ms=5)  # a run of several dozen steps
    try:
        integration_id = await connect(env)
        states = await sync_and_watch(env, integration_id)
    finally:
        env.sim.sim.faults.clear()

    final = states[-1]
    assert final["status"] == "SUCCEEDED", final
    assert len(states) >= 10
    requests = [s["progress"]["requestsMade"] for s in states]
    items = [s["progress"]["itemsFetched"] for s in states]
    assert requests == sorted(requests) and items == sorted(items) and items[-1] > items[0]
    phases = [s["progress"]["phase"] for s in states]
    assert {"MEMBERS", "USERS"} <= set(phases) and phases[-1] == "DONE"
    # The directory is fetched alongside groups and members; "directory" is the phase only
    # while the run still waits for it after the members, so it may be too short to see.
    # Phases never go back.
    order = ["QUEUED", "STARTING", "GROUPS", "MEMBERS", "DIRECTORY", "ROLES", "USERS", "COMMITTING"]
    order.append("DONE")
    seen = [order.index(p) for p in phases]
    assert seen == sorted(seen), phases
    ids = site.member_account_ids()
    assert final["counts"]["accounts"] == len(ids)
    assert final["counts"]["groups"] == len(site.groups)

    runs = (await env.gql(RUNS, {"id": integration_id, "first": 1}))["syncRuns"]
    assert runs["totalCount"] == 3 and runs["edges"][0]["node"]["id"] == final["id"]
    assert runs["pageInfo"]["hasNextPage"]
    older = await env.gql(RUNS, {"id": integration_id, "after": runs["pageInfo"]["endCursor"]})
    assert [e["node"]["trigger"] for e in older["syncRuns"]["edges"]] == ["MANUAL", "INITIAL"]

    everyone = await _all_accounts(env, None, page=40)
    assert sorted(a["accountId"] for a in everyone) == sorted(ids)
    # No people imported: app accounts are NOT_STAFF (SYSTEM), every other one UNIDENTIFIED.
    apps = {i for i in ids if site.accounts[i].account_type == "app"}
    assert {
        a["accountId"] for a in everyone if a["identity"]["classification"] == "NOT_STAFF"
    } == apps
    admins = await _all_accounts(env, {"admin": True})
    assert sorted(a["accountId"] for a in admins) == sorted(i for i in ids if site.is_admin(i))
    inactive = await _all_accounts(env, {"status": "INACTIVE"})
    assert len(inactive) == sum(site.accounts[i].account_status == "inactive" for i in ids)
    group = site.group_by_name("site-admins")
    assert group is not None
    in_group = await _all_accounts(env, {"group": "site-admins"})
    assert sorted(a["accountId"] for a in in_group) == sorted(
        a.account_id for a in site.members_of(group.group_id)
    )
    someone = site.accounts[ids[3]]
    found = await _all_accounts(env, {"search": someone.display_name.upper()})
    assert someone.account_id in {a["accountId"] for a in found}
    assert await _all_accounts(env, {"classification": "STAFF"}) == []
    unidentified = await _all_accounts(env, {"classification": "UNIDENTIFIED", "admin": True})
    assert sorted(a["accountId"] for a in unidentified) == sorted(
        a["accountId"] for a in admins if a["accountId"] not in apps
    )


async def _all_accounts(
    env: Env, filter: dict[str, Any] | None, page: int = 500
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = None
    while True:
        data = (await env.gql(ACCOUNTS, {"filter": filter, "first": page, "after": after}))[
            "accounts"
        ]
        found += [e["node"] for e in data["edges"]]
        assert data["totalCount"] >= len(found)
        if not data["pageInfo"]["hasNextPage"]:
            assert data["totalCount"] == len(found)
            return found
        after = data["pageInfo"]["endCursor"]


async def test_policy_pages_are_queryable(env: Env) -> None:
    site = env.sim.sim.site
    integration_id = await connect(env, "POLICY", admin_key=False)
    states = await sync_and_watch(env, integration_id)
    assert states[-1]["status"] == "SUCCEEDED"
    expected = site.policy_pages()
    data = (await env.gql(PAGES, {"first": 500}))["confluencePages"]
    assert data["totalCount"] == len(expected)
    titles = {e["node"]["title"] for e in data["edges"]}
    assert titles == {p.title for p in expected}
    pol = (await env.gql(PAGES, {"filter": {"space": "POL"}}))["confluencePages"]
    assert pol["totalCount"] == sum(p.space_key == "POL" for p in expected)
    labelled = (await env.gql(PAGES, {"filter": {"label": "policy"}}))["confluencePages"]
    assert labelled["totalCount"] == len(expected)
    word = expected[0].title.split()[0]
    searched = (await env.gql(PAGES, {"filter": {"search": word.lower()}}))["confluencePages"]
    assert searched["totalCount"] == sum(word.lower() in p.title.lower() for p in expected)
    # Nothing of the POLICY run leaks into accounts.
    assert (await env.gql(ACCOUNTS, {}))["accounts"]["totalCount"] == 0


async def test_trigger_returns_the_running_run_and_guards_access(env: Env) -> None:
    integration_id = await connect(env, admin_key=False)
    env.sim.sim.faults.configure(latency_ms=20)
    try:
        first = (await env.gql(TRIGGER, {"id": integration_id}))["triggerSync"]["syncRun"]
        second = (await env.gql(TRIGGER, {"id": integration_id}))["triggerSync"]["syncRun"]
        assert second["id"] == first["id"] and first["status"] in ("QUEUED", "RUNNING")
    finally:
        env.sim.sim.faults.clear()

    viewer = await env.live.container.services.api_keys.create_api_key_for(
        env.org_id, Role.VIEWER, "v"
    )
    denied = (await env.gql(TRIGGER, {"id": integration_id}, key=viewer.secret))["triggerSync"]
    assert denied["syncRun"] is None and denied["userErrors"][0]["code"] == "FORBIDDEN"

    _, other = await env.live.container.services.organizations.create_organization("Other")
    missing = (await env.gql(TRIGGER, {"id": integration_id}, key=other.secret))["triggerSync"]
    assert missing["userErrors"][0]["code"] == "NOT_FOUND"
    with pytest.raises(TransportQueryError, match="not found"):
        await env.gql(RUNS, {"id": integration_id}, key=other.secret)
    assert (await env.gql(ACCOUNTS, {}, key=other.secret))["accounts"]["totalCount"] == 0

    await env.live.container.sync.scheduler.drain()
    await env.gql(
        "mutation($id: ID!) { disconnectIntegration(id: $id) { userErrors { code } } }",
        {"id": integration_id},
    )
    refused = (await env.gql(TRIGGER, {"id": integration_id}))["triggerSync"]
    assert refused["userErrors"][0]["code"] == "NOT_CONNECTED"
    assert refused["userErrors"][0]["field"] == ["integrationId"]


async def test_subscription_to_another_orgs_integration_is_refused(env: Env) -> None:
    integration_id = await connect(env, admin_key=False)
    _, other = await env.live.container.services.organizations.create_organization("Other")
    async with gql_ws(env.live.ws_url, other.secret) as session:
        stream = session.subscribe(GraphQLRequest(PROGRESS, variable_values={"id": integration_id}))
        with pytest.raises(TransportQueryError, match="not found"):
            await asyncio.wait_for(anext(stream), 5)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"first": 501}, "first must be between 1 and 500"),
        ({"first": 0}, "first must be between 1 and 500"),
        ({"after": "%%%not-a-cursor"}, "after is not a valid cursor"),
        ({"filter": {"search": "x" * 201}}, "at most 200"),
    ],
)
async def test_bad_paging_input_is_an_error_not_a_500(
    env: Env, variables: dict[str, Any], message: str
) -> None:
    with pytest.raises(TransportQueryError, match=message):
        await env.gql(ACCOUNTS, variables)


async def test_metrics_count_runs_and_confluence_calls(env: Env) -> None:
    integration_id = await connect(env, admin_key=False)
    states = await sync_and_watch(env, integration_id)
    assert states[-1]["status"] == "SUCCEEDED"
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{env.live.url}/metrics")).text
    assert 'vigil_sync_runs_total{outcome="SUCCEEDED",purpose="ACCESS_REVIEW"} 2.0' in text
    assert 'vigil_confluence_calls_total{status="200"}' in text
    assert "vigil_rate_limit_waits_total 0.0" in text


async def test_a_refused_credential_marks_the_integration_needs_reauth(env: Env) -> None:
    integration_id = await connect(env, admin_key=False)
    site = env.sim.sim.site
    operator = site.operators["admin"]
    statuses: list[dict[str, Any]] = []
    changed = "subscription { integrationStatusChanged { id status statusMessage } }"
    site.set_account_status(operator, "inactive")  # Atlassian now answers 401
    try:
        async with gql_ws(env.live.ws_url, env.key) as session:
            stream = session.subscribe(GraphQLRequest(changed))
            first = asyncio.ensure_future(anext(stream))
            topic = topic_for(env.org_id, "integrations")
            await until(lambda: env.live.container.bus.subscriber_count(topic), what="a listener")
            run = (await env.gql(TRIGGER, {"id": integration_id}))["triggerSync"]["syncRun"]
            statuses.append((await asyncio.wait_for(first, 20))["integrationStatusChanged"])
            await stream.aclose()
    finally:
        site.set_account_status(operator, "active")
    await env.live.container.sync.scheduler.drain()
    assert statuses == [
        {
            "id": integration_id,
            "status": "NEEDS_REAUTH",
            "statusMessage": statuses[0]["statusMessage"],
        }
    ]
    assert "reconnect Confluence" in statuses[0]["statusMessage"]
    runs = (await env.gql(RUNS, {"id": integration_id, "first": 1}))["syncRuns"]["edges"]
    failed = runs[0]["node"]
    assert failed["id"] == run["id"] and failed["status"] == "FAILED"
    assert failed["errorEndpoint"] == "/wiki/rest/api/group"
    # Queries keep answering from the last good snapshot.
    data = (await env.gql(ACCOUNTS, {"first": 1}))["accounts"]
    assert data["totalCount"] == len(site.member_account_ids())
    again = (await env.gql(TRIGGER, {"id": integration_id}))["triggerSync"]
    assert again["userErrors"][0]["code"] == "NOT_CONNECTED"


async def test_a_successful_sync_announces_the_new_last_sync_at(env: Env) -> None:
    integration_id = await connect(env, admin_key=False)
    before = await env.gql(
        "query($id: ID!) { integration(id: $id) { lastSyncAt } }", {"id": integration_id}
    )
    changed = "subscription { integrationStatusChanged { id status lastSyncAt currentSnapshotAt } }"
    async with gql_ws(env.live.ws_url, env.key) as session:
        stream = session.subscribe(GraphQLRequest(changed))
        first = asyncio.ensure_future(anext(stream))
        topic = topic_for(env.org_id, "integrations")
        await until(lambda: env.live.container.bus.subscriber_count(topic), what="a listener")
        assert (await env.gql(TRIGGER, {"id": integration_id}))["triggerSync"]["userErrors"] == []
        event = (await asyncio.wait_for(first, 20))["integrationStatusChanged"]
        await stream.aclose()
    assert event["id"] == integration_id and event["status"] == "CONNECTED"
    assert event["lastSyncAt"] > before["integration"]["lastSyncAt"]
    assert event["currentSnapshotAt"] == event["lastSyncAt"]
