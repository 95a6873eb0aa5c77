"""The organization's events stream (confluence-api.md §5.10), fed by the simulator's own admin
actions: the cursor in ``meta.next`` (``links.next`` a URL) on every page, the last too; events
ordered by processing time; at-least-once delivery; Guard Standard; ``read:events:admin``."""

from __future__ import annotations

from typing import Any

import httpx

from simulator import RunningSimulator
from simulator.events import EVENT_ACTIONS
from simulator.roles import USER
from tests.simulator.support import AdminApi, basic_client, staff

REMOVE = "/wiki/rest/api/group/userByGroupId"


def _read(admin: AdminApi, params: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    response = admin.events(**params)
    assert response.status_code == 200, response.text
    page = response.json()
    cursor = page["meta"]["next"]
    assert cursor and page["meta"]["page_size"] == len(page["data"])
    assert page["links"]["next"].endswith(f"events-stream?cursor={cursor}")
    return page["data"], cursor


def _drain(admin: AdminApi, cursor: str) -> tuple[list[dict[str, Any]], str]:
    """Every event after the cursor, page by page; and the cursor to poll with next."""
    events: list[dict[str, Any]] = []
    while True:
        page, cursor = _read(admin, {"cursor": cursor})
        if not page:
            return events, cursor
        events += page


def test_every_admin_action_is_an_event_in_processing_order(fresh: RunningSimulator) -> None:
    sim, site = fresh.sim, fresh.sim.site
    a, b, c = staff(site, managed=True)[:3]
    group = site.groups_of(a)[0]
    with AdminApi(fresh) as admin:
        first, cursor = _read(admin, {"from": 0, "sortOrder": "asc", "limit": 2})
        assert first == []  # nothing yet, but a cursor to poll with
        with basic_client(fresh) as client:  # the Confluence API (a site admin's API token)
            params = {"groupId": group.group_id, "accountId": a}
            assert client.delete(REMOVE, params=params).status_code == 204
        control = httpx.post(  # the control route
            f"{fresh.base_url}/_simulator/actions/add-member",
            json={"group": group.name, "accountId": a},
        )
        assert control.json() == {"changed": 1}
        sim.actions.grant_role(b, USER)  # Python
        [directory] = admin.directory_ids(c)
        assert admin.suspend(directory, c).status_code == 204  # the Admin API
        assert admin.restore(directory, c).status_code == 204
        assert admin.lifecycle("disable", c).status_code == 204
        events, cursor = _drain(admin, cursor)
        actions = [e["attributes"]["action"] for e in events]
        assert actions == [
            "user_removed_from_group",
            "user_added_to_group",
            "user_granted_role",
            "user_access_suspended",
            "user_access_restored",
            "account_deactivated",
        ]
        assert len({e["id"] for e in events}) == len(events)
        for event in events:
            assert event["type"] == "events" and event["links"]["self"].endswith(event["id"])
            attributes = event["attributes"]
            assert attributes["time"] <= attributes["processedAt"]
            assert attributes["actor"]["id"] and attributes["context"][0]["type"] == "users"
        removed, _, granted, suspended, *_ = events
        assert removed["attributes"]["container"] == [
            {
                "id": site.cloud_id,
                "type": "sites",
                "attributes": {
                    "siteHostName": f"https://{site.name}.atlassian.net",
                    "siteName": site.name,
                },
                "links": {"alt": f"https://{site.name}.atlassian.net"},
            }
        ]
        assert removed["attributes"]["context"][1] == {
            "id": group.group_id,
            "type": "groups",
            "attributes": {"name": group.name},
        }
        actor = removed["attributes"]["actor"]
        assert actor["id"] == site.operators["admin"] and actor["auth"]["authType"] == "api-token"
        token = sim.credentials.admin_token.token
        assert token not in str(events) and sim.credentials.admin_api_key not in str(events)
        assert granted["attributes"]["context"][1]["id"] == USER
        assert suspended["attributes"]["container"] == []  # organization-wide
        assert suspended["attributes"]["context"][0]["id"] == c
        # Polling again with the last cursor: nothing new, then only what came after.
        assert _drain(admin, cursor)[0] == []
        sim.actions.revoke_role(b, USER)
        later, _ = _drain(admin, cursor)
        assert [e["attributes"]["action"] for e in later] == ["user_revoked_role"]


def test_a_late_event_is_not_missed(fresh: RunningSimulator) -> None:
    """Ordered by processing time: an event processed late comes after those processed before
    it, even though it happened first; the cursor does not skip it."""
    sim, site = fresh.sim, fresh.sim.site
    a, b = staff(site)[:2]
    with AdminApi(fresh) as admin:
        _, cursor = _read(admin, {"from": 0})
        sim.behaviour.configure(event_delay_seconds=30)
        sim.actions.grant_role(a, USER)
        sim.clock.advance(1)
        sim.behaviour.configure(event_delay_seconds=0)
        sim.actions.grant_role(b, USER)
        seen, cursor = _drain(admin, cursor)
        assert [e["attributes"]["context"][0]["id"] for e in seen] == [b]
        sim.clock.advance(31)
        late, _ = _drain(admin, cursor)
        assert [e["attributes"]["context"][0]["id"] for e in late] == [a]
        assert late[0]["attributes"]["time"] < seen[0]["attributes"]["time"]
        assert late[0]["attributes"]["processedAt"] > seen[0]["attributes"]["processedAt"]
        # Read from the start: processing order, not the order things happened in.
        everything, _ = _read(admin, {"from": 0})
        assert [e["attributes"]["context"][0]["id"] for e in everything] == [b, a]


def test_delivery_is_at_least_once(fresh: RunningSimulator) -> None:
    sim, site = fresh.sim, fresh.sim.site
    people = staff(site)[:4]
    with AdminApi(fresh) as admin:
        _, cursor = _read(admin, {"from": 0, "limit": 2})
        for account_id in people:
            sim.actions.grant_role(account_id, USER)
        page, cursor = _read(admin, {"cursor": cursor})
        sim.events.duplicate_next(1)
        again, cursor = _read(admin, {"cursor": cursor})
        assert again[0]["id"] == page[-1]["id"]  # delivered twice
        assert [e["id"] for e in page + again[1:]] == [e.event_id for e in sim.events.events[:3]]
        sim.behaviour.configure(event_duplicate_rate=1.0)
        rest, _ = _read(admin, {"cursor": cursor})
        assert rest[0]["id"] == again[-1]["id"]
        ids = {e["id"] for e in page + again + rest}
        assert ids == {e.event_id for e in sim.events.events}


def test_the_stream_needs_guard_standard_and_the_events_scope(fresh: RunningSimulator) -> None:
    sim = fresh.sim
    actions_url = f"/admin/v1/orgs/{sim.credentials.org_id}/event-actions"
    with AdminApi(fresh) as admin:
        sim.org.guard_standard = False
        for response in (admin.events(**{"from": 0}), admin.http.get(actions_url)):
            assert response.status_code == 403
            assert "Guard Standard" in response.json()["errors"][0]["detail"]
        assert httpx.post(f"{fresh.base_url}/_simulator/guard", json={"enabled": True}).is_success
        assert admin.events(**{"from": 0}).status_code == 200
    sim.credentials.add_admin_key("ATCTT-narrow", scopes=["read:directories:admin"])
    sim.credentials.add_admin_key("ATCTT-events", scopes=["read:events:admin"])
    with AdminApi(fresh, key="ATCTT-narrow") as narrow:
        refused = narrow.events(**{"from": 0})
        assert refused.status_code == 401
        assert refused.json()["message"] == "Unauthorized; scope does not match"
    with AdminApi(fresh, key="ATCTT-events") as scoped:
        assert scoped.events(**{"from": 0}).status_code == 200
    oauth = sim.issue_access_token()["access_token"]
    with AdminApi(fresh, key=oauth) as not_a_key:
        assert not_a_key.events(**{"from": 0}).status_code == 401


def test_event_actions_name_every_action_recorded(fresh: RunningSimulator) -> None:
    with AdminApi(fresh) as admin:
        response = admin.http.get(f"/admin/v1/orgs/{admin.org}/event-actions")
    assert response.status_code == 200
    body = response.json()
    assert {a["id"] for a in body["data"]} == set(EVENT_ACTIONS)
    assert body["meta"]["total"] == len(EVENT_ACTIONS)
    for action in body["data"]:
        assert action["type"] == "event_actions"
        assert action["attributes"]["displayName"]
        assert action["attributes"]["groupDisplayNames"]


def test_stream_parameters(fresh: RunningSimulator) -> None:
    sim, site = fresh.sim, fresh.sim.site
    people = staff(site)[:3]
    for account_id in people:
        sim.actions.grant_role(account_id, USER)
        sim.clock.advance(1)  # distinct times, to the millisecond
    after_first = int(sim.events.events[1].time.timestamp() * 1000)
    with AdminApi(fresh) as admin:
        since, _ = _read(admin, {"from": after_first})
        assert [e["id"] for e in since] == [e.event_id for e in sim.events.events[1:]]
        newest, _ = _read(admin, {"from": 0, "sortOrder": "desc", "limit": 500})  # capped at 200
        assert [e["id"] for e in newest] == [e.event_id for e in reversed(sim.events.events)]
        for bad in ({"sortOrder": "sideways"}, {"limit": 0}, {"from": "soon"}, {"cursor": "!"}):
            response = admin.events(**bad)
            assert response.status_code == 400, bad
