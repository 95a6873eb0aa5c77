"""WebSocket sessions keep checking their key; frames and operations are bounded."""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx
import pytest

from services.api_keys import ApiKeyService
from services.events import topic_for
from services.events.replicated import ReplicatedEventBus
from services.models import Role
from services.store import Store
from testkit.conditions import until
from testkit.live import LiveServer, live_server
from tests.security.support import ack, closed_with, raw_ws, subscribe

SUB = "subscription { apiKeyChanged { change } }"
ME = "{ me { role } }"


async def _org(live: LiveServer) -> tuple[str, str]:
    org, created = await live.container.services.organizations.create_organization("Acme")
    return org.id, created.secret


async def _wait_subscribed(live: LiveServer, org_id: str, count: int) -> None:
    topic = topic_for(org_id, "api_keys")
    for _ in range(500):
        if live.container.bus.subscriber_count(topic) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the subscription never registered")


@pytest.mark.parametrize("kind", ["mock", "wire"])
async def test_revocation_closes_every_socket_of_the_key_with_4401(
    kind: str, request: pytest.FixtureRequest
) -> None:
    wire_url = request.getfixturevalue("wire_url") if kind == "wire" else None
    # A long re-check interval: only the revocation event can close the sockets in time.
    async with live_server(kind, wire_url, key_recheck_seconds=3600) as live:
        org_id, _admin = await _org(live)
        viewer = await live.container.services.api_keys.create_api_key_for(org_id, Role.VIEWER, "v")
        async with raw_ws(live, viewer.secret) as ws1, raw_ws(live, viewer.secret) as ws2:
            await ack(ws1)
            await ack(ws2)
            await ws1.send(subscribe("1", SUB))
            await _wait_subscribed(live, org_id, 2)  # the subscription and the key's watcher
            if kind == "wire":
                # Revoked by another process sharing the database: only the bus tells us.
                other = Store.open(wire_url, live.container.store._db.name)
                try:
                    other_keys = ApiKeyService(
                        ReplicatedEventBus(other.events),
                        organizations=other.organizations,
                        api_keys=other.api_keys,
                    )
                    await other_keys.revoke_api_key_by_id(viewer.key.id)
                finally:
                    other.close()
            else:
                await live.container.services.api_keys.revoke_api_key_by_id(viewer.key.id)
            first, second = await asyncio.gather(closed_with(ws1), closed_with(ws2))
    assert first == (4401, "API key revoked")
    assert second == (4401, "API key revoked")


async def test_a_key_revoked_without_an_event_is_refused_at_the_next_operation() -> None:
    async with live_server(key_recheck_seconds=0.001) as live:
        org_id, _admin = await _org(live)
        admin2 = await live.container.services.api_keys.create_api_key_for(org_id, Role.ADMIN, "a2")
        async with raw_ws(live, admin2.secret) as ws:
            await ack(ws)
            # Straight in the database: no event is published.
            await live.container.store.api_keys.revoke(key_id=admin2.key.id)
            await asyncio.sleep(0.01)  # longer than the re-check interval
            create = "mutation { createApiKey(input: {role: ADMIN}) { secret } }"
            with contextlib.suppress(Exception):
                await ws.send(subscribe("1", create))
            code, reason = await closed_with(ws)
        keys = await live.container.store.api_keys.list_by_organization(organization_id=org_id)
    assert (code, reason) == (4401, "API key revoked")
    assert len(keys) == 2, "no key was minted after the revocation"


async def test_websocket_operations_share_the_http_rate_limit() -> None:
    async with live_server(rate_limit_per_minute=3) as live:
        _, key = await _org(live)
        async with raw_ws(live, key) as ws:
            await ack(ws)
            for i in range(5):
                await ws.send(subscribe(str(i), ME))
            replies: dict[str, list[dict[str, object]]] = {}
            while sum(m["type"] in ("complete", "error") for r in replies.values() for m in r) < 5:
                message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                replies.setdefault(message["id"], []).append(message)
        async with httpx.AsyncClient() as http:
            resp = await http.post(
                live.graphql_url, json={"query": ME}, headers={"Authorization": f"Bearer {key}"}
            )
    errors = [m for r in replies.values() for m in r if m["type"] == "error"]
    assert len(errors) == 2
    extensions = errors[0]["payload"][0]["extensions"]  # type: ignore[index]
    assert extensions["code"] == "RATE_LIMITED" and extensions["retryAfter"] >= 1
    assert resp.status_code == 429 and int(resp.headers["retry-after"]) >= 1


async def test_sockets_per_key_are_capped() -> None:
    async with live_server(max_websockets_per_key=2) as live:
        _, created = await live.container.services.organizations.create_organization("Acme")
        key, key_id = created.secret, created.key.id
        async with raw_ws(live, key) as ws1, raw_ws(live, key) as ws2:
            await ack(ws1)
            await ack(ws2)
            async with raw_ws(live, key) as ws3:
                code, reason = await closed_with(ws3)
            assert code == 4429 and "2 open WebSockets" in reason
        # Closed sockets free their place.
        await until(lambda: live.container.sockets.count(key_id) == 0, what="the sockets to close")
        async with raw_ws(live, key) as ws4:
            await ack(ws4)


@pytest.mark.parametrize(
    "frame",
    [
        "[]",
        "null",
        "5",
        '{"type": 5}',
        '{"type": "subscribe", "id": "1", "payload": null}',
        '{"type": "subscribe", "id": 1, "payload": {"query": "{ me { role } }"}}',
        "[" * 100_000 + "]" * 100_000,
        "not json",
    ],
)
async def test_hostile_frames_close_with_4400_and_a_reason(frame: str) -> None:
    async with live_server() as live:
        _, key = await _org(live)
        async with raw_ws(live, key) as ws:
            await ack(ws)
            await ws.send(frame)
            code, reason = await closed_with(ws)
    assert code == 4400 and reason


async def test_websocket_queries_get_the_http_time_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    async with live_server(operation_timeout_seconds=0.2) as live:
        _, key = await _org(live)
        stalled = asyncio.Event()

        async def hang(principal: object) -> None:
            await stalled.wait()  # never set: only the budget ends this

        monkeypatch.setattr(live.container.services.organizations, "get_organization", hang)
        async with raw_ws(live, key) as ws:
            await ack(ws)
            await ws.send(subscribe("1", "{ me { organization { id } } }"))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
            await ws.send(subscribe("2", "{ __typename }"))  # the socket still works
            after = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert reply["type"] == "error" and reply["id"] == "1"
    assert reply["payload"][0]["extensions"]["code"] == "TIMEOUT"
    assert after["type"] == "next", after
    assert after["payload"]["data"] == {"__typename": "Query"}


async def test_database_down_at_connection_init_is_not_a_bad_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with live_server() as live:
        _, key = await _org(live)

        async def down(**_: object) -> None:
            raise ConnectionError("database unreachable")

        monkeypatch.setattr(live.container.store.api_keys, "get_by_secret_hash", down)
        async with raw_ws(live, key) as ws:
            code, reason = await closed_with(ws)
    assert code == 1013 and "retry" in reason  # graphql-ws retries 1013 (not 1011)
