"""Nothing a caller can exhaust: results cost what they weigh, answers have a ceiling, a
socket that stops reading holds a bounded buffer, floods of bad keys and slow clients are
refused, and text that cannot be stored never reaches the store."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from api.fanout import MAX_QUEUED_BYTES, Outbox
from resolvers.limits import HeavyOperations
from services.checks.events import CHECKS_CHANNEL, result_event
from services.checks.models import CheckItem, CheckResult, CheckStatus
from services.events import topic_for
from testkit.conditions import until
from testkit.live import LiveServer, live_server
from tests.evidence.support import entry
from tests.security.schema_calls import operations
from tests.security.support import PROTOCOL, ack, closed_with, raw_ws, subscribe

CHECK = "confluence-document-setup"
RECORDS = 'evidence(checkId: "confluence-document-setup", first: 500) { edges { node { record } } }'


async def _org(live: LiveServer) -> tuple[str, str]:
    """A new organization's id and its ADMIN key."""
    org, created = await live.container.services.organizations.create_organization(
        f"Org {uuid.uuid4().hex[:6]}"
    )
    return org.id, created.secret


async def _post(
    live: LiveServer,
    key: str | None,
    body: Any,
    headers: dict[str, str] | None = None,
    http: httpx.AsyncClient | None = None,
) -> httpx.Response:
    # json.dumps escapes a lone surrogate (\ud800) as JSON allows; httpx's own would not.
    auth = {"Authorization": f"Bearer {key}"} if key else {}
    content = json.dumps(body)
    all_headers = {"content-type": "application/json", **auth, **(headers or {})}
    if http is not None:
        return await http.post(live.graphql_url, content=content, headers=all_headers)
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(live.graphql_url, content=content, headers=all_headers)


async def test_the_alias_attack_on_evidence_is_refused_before_anything_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with live_server(max_query_cost=30_000, cost_limit_per_minute=60_000) as live:
        _, key = await _org(live)
        evidence = live.container.services.evidence
        reads: list[str] = []
        original = evidence.page

        async def page(principal: Any, check_id: str, *args: Any) -> Any:
            reads.append(check_id)
            return await original(principal, check_id, *args)

        monkeypatch.setattr(evidence, "page", page)
        attack = "{ " + " ".join(f"a{i}: {RECORDS}" for i in range(30)) + " }"
        refused = await _post(live, key, {"query": attack})
        assert refused.status_code == 200
        assert refused.json()["data"] is None
        error = refused.json()["errors"][0]
        assert error["extensions"] == {
            "code": "QUERY_TOO_COMPLEX",
            "cost": 30 * (1 + 500 * (1 + 1 + 50)),
            "maxCost": 30_000,
        }
        assert "costs 780030" in error["message"] and "budget of 30000" in error["message"]
        assert reads == []  # nothing executed, nothing read
        # One page of records is within the budget; the key's budget per minute (60,000)
        # pays for two, and the third is refused before it runs.
        for _ in range(2):
            answer = await _post(live, key, {"query": "{ " + RECORDS + " }"})
            assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
        assert reads == [CHECK, CHECK]
        spent = await _post(live, key, {"query": "{ " + RECORDS + " }"})
        assert spent.status_code == 429
        assert spent.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert int(spent.headers["Retry-After"]) >= 1
        assert reads == [CHECK, CHECK]


async def test_heavy_operations_take_turns_and_cheap_ones_never_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with live_server() as live:
        _, key = await _org(live)
        evidence = live.container.services.evidence
        running, release = [0], asyncio.Event()
        original = evidence.page

        async def page(*args: Any) -> Any:
            running[0] += 1
            await release.wait()
            return await original(*args)

        monkeypatch.setattr(evidence, "page", page)
        asked, enter = [0], HeavyOperations.enter

        async def counted(self: HeavyOperations) -> None:
            asked[0] += 1
            await enter(self)

        monkeypatch.setattr(HeavyOperations, "enter", counted)
        async with httpx.AsyncClient(timeout=30) as http:
            heavy = [
                asyncio.create_task(_post(live, key, {"query": "{ " + RECORDS + " }"}, http=http))
                for _ in range(3)
            ]
            await until(lambda: asked[0] == 3 and running[0] == 2, what="three heavy asks")
            cheap = await _post(live, key, {"query": "{ me { role } }"}, http=http)
            assert cheap.json()["data"]["me"]["role"] == "ADMIN"  # while both places are taken
            assert running[0] == 2  # the third waits its turn
            release.set()
            answers = await asyncio.gather(*heavy)
        assert running[0] == 3 and all("errors" not in a.json() for a in answers)


async def test_an_answer_over_the_response_limit_is_an_error_not_a_cut_body() -> None:
    async with live_server(max_response_bytes=64 * 1024) as live:
        org_id, key = await _org(live)
        for n in range(1, 31):
            await live.container.services.evidence.record(entry(org_id, n, check_id=CHECK))
        page = f'evidence(checkId: "{CHECK}", first: 30) {{ edges {{ node {{ record canonicalJson }} }} }}'
        one = await _post(live, key, {"query": "{ " + page + " }"})
        assert len(one.json()["data"]["evidence"]["edges"]) == 30
        assert len(one.content) < 64 * 1024
        many = "{ " + " ".join(f"a{i}: {page}" for i in range(8)) + " }"
        refused = await _post(live, key, {"query": many})
        body = refused.json()  # whole JSON, not a truncated body
        assert refused.status_code == 200 and body["data"] is None
        assert body["errors"][0]["extensions"] == {
            "code": "RESPONSE_TOO_LARGE",
            "maxBytes": 64 * 1024,
        }
        async with raw_ws(live, key) as ws:  # a query on a socket: the same ceiling
            await ack(ws)
            await ws.send(subscribe("q", many))
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert message["id"] == "q" and message["type"] == "next"
            assert message["payload"]["errors"][0]["extensions"]["code"] == "RESPONSE_TOO_LARGE"


def _big_result(org_id: str, marker: int) -> dict[str, Any]:
    """A ``checkResultUpdated`` event of 500 items: a frame of about 120 KB."""
    now = datetime.now(UTC)
    items = tuple(
        CheckItem("account", f"acc-{marker}-{i}", "n" * 100, "no MFA " + "r" * 100)
        for i in range(500)
    )
    result = CheckResult(
        org_id,
        "confluence-mfa-enabled",
        CheckStatus.FAILING,
        None,
        items,
        (),
        now,
        now,
        id=f"res_big_{marker}",  # each a new result: a push repeating the last is not news
    )
    return result_event(result)


async def test_a_socket_that_stops_reading_is_closed_at_the_byte_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    overflows: list[tuple[Outbox, int, int, int]] = []  # outbox, held, of it in transport, size
    delivered = [0]
    original_overflow, original_put = Outbox._overflow, Outbox.put

    def overflow(self: Outbox, size: int) -> None:
        overflows.append((self, self.held, self.held - self._bytes, size))
        original_overflow(self, size)

    def put(self: Outbox, head: str, payload: str = "") -> bool:
        delivered[0] += 1
        return original_put(self, head, payload)

    monkeypatch.setattr(Outbox, "_overflow", overflow)
    monkeypatch.setattr(Outbox, "put", put)
    async with live_server() as live:
        org_id, key = await _org(live)
        key_id = (await live.container.services.api_keys.authenticate(key)).api_key_id  # type: ignore[union-attr]
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # reads next to nothing
        sock.connect(("127.0.0.1", int(live.url.rsplit(":", 1)[1])))
        async with connect(
            live.ws_url,
            sock=sock,
            subprotocols=[PROTOCOL],
            max_queue=1,
            max_size=None,  # type: ignore[list-item]
        ) as ws:
            await ws.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"authorization": f"Bearer {key}"}}
                )
            )
            await ack(ws)
            query = (
                "subscription { checkResultUpdated { checkId failingItems(first: 500) "
                "{ edges { node { resourceId name reason } } } } }"
            )
            await ws.send(subscribe("s", query))
            topic = topic_for(org_id, CHECKS_CHANNEL)
            await until(lambda: live.container.bus.subscriber_count(topic) >= 1, what="the stream")
            # The client reads nothing from here on; the server pushes until it gives up.
            for marker in range(1, 400):
                await live.container.bus.publish(topic, _big_result(org_id, marker))
                await until(lambda m=marker: overflows or delivered[0] >= m, what="a push")
                if overflows:
                    break
            outbox, held, in_transport, size = overflows[0]
            assert held <= MAX_QUEUED_BYTES < held + size  # closed at the bound, not beyond
            assert in_transport > 0  # what the server's transport holds counts too
            code, reason = await closed_with(ws)  # reading again: the close arrives
        assert code == 4008 and "reads too slowly" in reason
        await until(lambda: live.container.sockets.count(key_id) == 0, what="the socket to go")
        assert outbox.held == 0 and len(outbox) == 0  # its memory released


async def test_text_that_cannot_be_encoded_is_bad_user_input_in_every_operation() -> None:
    taking_text = [op for op in operations() if op.takes_text]
    assert len(taking_text) >= 25  # generated from the schema: new operations join
    async with live_server(rate_limit_per_minute=100_000) as live, httpx.AsyncClient() as http:
        _, key = await _org(live)
        for op in taking_text:
            variables = op.text_variables("\ud800")
            body = {"query": op.document(), "variables": variables}
            resp = await _post(live, key, body, http=http)
            body = resp.json()
            assert resp.status_code == 200, (op.name, resp.text)
            assert body["data"] is None, op.name
            assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], (
                op.name,
                body,
            )
        async with raw_ws(live, key) as ws:  # a subscription's variables: the same rule
            await ack(ws)
            frame = json.loads(
                subscribe(
                    "s", "subscription($id: ID) { checkResultUpdated(checkId: $id) { checkId } }"
                )
            )
            frame["payload"]["variables"] = {"id": "ok \udfff"}
            await ws.send(json.dumps(frame))
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert message["type"] == "error"
            assert message["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_flood_of_bad_keys_is_refused_per_address_before_any_key_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with live_server(
        unauthenticated_per_minute=3, rate_limit_per_minute=3, trusted_proxies="127.0.0.1"
    ) as live:
        _, key = await _org(live)
        api_keys = live.container.services.api_keys
        looked_up: list[str | None] = []
        original = api_keys.authenticate

        async def authenticate(presented: str | None) -> Any:
            looked_up.append(presented)
            return await original(presented)

        monkeypatch.setattr(api_keys, "authenticate", authenticate)
        me = {"query": "{ me { role } }"}
        attacker = {"X-Forwarded-For": "203.0.113.7"}
        async with httpx.AsyncClient(timeout=30) as http:
            assert (await _post(live, key, me, attacker, http)).status_code == 200  # a colleague
            # Ten bad keys at once: three are read (the address's budget), seven refused unread.
            flood = await asyncio.gather(
                *(_post(live, "vgl_nope", me, attacker, http) for _ in range(10))
            )
            assert sorted(r.status_code for r in flood) == [401] * 3 + [429] * 7
            assert len(looked_up) == 1 + 3
            refused = next(r for r in flood if r.status_code == 429)
            assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
            assert int(refused.headers["Retry-After"]) >= 1
            # A key authenticated lately passes the address's refusal (and is checked as
            # always); another client behind the same trusted proxy is not affected at all.
            assert (await _post(live, key, me, attacker, http)).status_code == 200
            other = await _post(live, key, me, {"X-Forwarded-For": "198.51.100.2"}, http)
            assert other.json()["data"]["me"]["role"] == "ADMIN"
            assert len(looked_up) == 6
            # That key's fourth operation is over its rate (3 a minute): refused unread too.
            over = await _post(live, key, me, {"X-Forwarded-For": "198.51.100.2"}, http)
            assert over.status_code == 429 and len(looked_up) == 6


async def test_sign_in_callbacks_that_are_not_valid_are_refused_per_address() -> None:
    async with live_server(unauthenticated_per_minute=3, trusted_proxies="127.0.0.1") as live:
        attacker = {"X-Forwarded-For": "203.0.113.9"}
        async with httpx.AsyncClient(timeout=30, follow_redirects=False) as http:

            async def callback(headers: dict[str, str]) -> httpx.Response:
                url = f"{live.url}/auth/nope/callback?state=forged&code=x"
                return await http.get(url, headers=headers)

            tried = [await callback(attacker) for _ in range(4)]
            assert [r.status_code for r in tried] == [404, 404, 404, 429]
            assert tried[-1].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
            # Another client (another address behind the same proxy) is not affected.
            assert (await callback({"X-Forwarded-For": "198.51.100.9"})).status_code == 404


async def _closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), 10)


async def test_slow_bodies_and_slow_headers_are_cut_off() -> None:
    async with live_server(body_timeout_seconds=0.3, headers_timeout_seconds=0.3) as live:
        port = int(live.url.rsplit(":", 1)[1])
        # A body that never finishes: 408 in the one error shape, and the connection closed.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"query"'
        )
        await writer.drain()
        answer = await _closed(reader)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408") and b"connection: close" in head.lower()
        assert json.loads(body)["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"
        writer.close()
        # Headers that never finish: the connection is dropped.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        await writer.drain()
        assert await _closed(reader) == b""
        writer.close()
        async with httpx.AsyncClient() as http:  # everyone else is served as before
            assert (await http.get(f"{live.url}/healthz")).status_code == 200
