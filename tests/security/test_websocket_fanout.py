"""One-pass fan-out (issue 15): one execution per event and shared stream, the same payload
to every subscriber, nothing across organizations or to a revoked key, bounded send queues."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from graphql.execution.executor import Executor
from starlette.websockets import WebSocketState

from api.fanout import CLOSE_SLOW_CONSUMER, Outbox
from services.checks.events import CHECKS_CHANNEL, result_event
from services.checks.models import CheckItem, CheckResult, CheckStatus
from services.events import topic_for
from services.models import Role
from testkit.conditions import until
from testkit.live import LiveServer, live_server
from tests.security.support import ack, closed_with, raw_ws, subscribe

CHECK = "confluence-mfa-enabled"
UPDATED = (
    "subscription($id: ID) { checkResultUpdated(checkId: $id) "
    "{ checkId status failingItems { edges { node { resourceId name reason } } } } }"
)


def _subscribe(op_id: str, check_id: str = CHECK) -> str:
    frame = json.loads(subscribe(op_id, UPDATED))
    frame["payload"]["variables"] = {"id": check_id}
    return json.dumps(frame)


def _probe(org_id: str, marker: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    item = CheckItem("account", f"acc-{marker}", "Probe", "no MFA")
    result = CheckResult(
        org_id, CHECK, CheckStatus.FAILING, None, (item,), (), now, now, evidence_id=marker
    )
    return result_event(result)


def _count_executions(monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[int]]:
    """A probe marker, and how many times a subscription selection ran for its event."""
    marker = uuid.uuid4().hex
    count = [0]
    original = Executor.execute_operation

    def counted(self: Executor, *args: Any, **kwargs: Any) -> Any:
        if getattr(self.root_value, "evidence_id", None) == marker:
            count[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Executor, "execute_operation", counted)
    return marker, count


async def _joined(ws: Any) -> None:
    """Frames of a socket are handled in order: the pong follows the subscription's start."""
    await ws.send(json.dumps({"type": "ping"}))
    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert message["type"] == "pong", message


async def _subscribed(*sockets: Any) -> None:
    """Acknowledged, subscribed to ``UPDATED`` (as ``s1``), and the subscription started."""
    for ws in sockets:
        await ack(ws)
        await ws.send(_subscribe("s1"))
        await _joined(ws)


async def _listening(live: LiveServer, org_id: str) -> None:
    topic = topic_for(org_id, CHECKS_CHANNEL)
    await until(lambda: live.container.bus.subscriber_count(topic) >= 1, what="the stream")


async def _settled_org(live: LiveServer) -> tuple[str, str]:
    org, created = await live.container.services.organizations.create_organization(
        f"Org {uuid.uuid4().hex}"
    )
    await live.container.reevaluator.settle()  # no evaluation of its own later
    return org.id, created.secret


async def test_one_event_is_executed_once_and_the_same_payload_reaches_every_subscriber(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker, executions = _count_executions(monkeypatch)
    async with live_server() as live:
        org_a, _admin_a = await _settled_org(live)
        viewer = await live.container.services.api_keys.create_api_key_for(org_a, Role.VIEWER, "v")
        viewer2 = await live.container.services.api_keys.create_api_key_for(
            org_a, Role.VIEWER, "v2"
        )
        org_b, admin_b = await _settled_org(live)
        async with (
            raw_ws(live, viewer.secret) as a1,
            raw_ws(live, viewer.secret) as a2,
            raw_ws(live, viewer2.secret) as a3,
            raw_ws(live, viewer2.secret) as a4,
            raw_ws(live, admin_b) as b1,
        ):
            same_org = [a1, a2, a3, a4]
            await _subscribed(*same_org, b1)
            await _listening(live, org_a)
            await _listening(live, org_b)
            # Four subscribers of one organization share one bus subscription.
            assert live.container.bus.subscriber_count(topic_for(org_a, CHECKS_CHANNEL)) == 1

            await live.container.bus.publish(
                topic_for(org_a, CHECKS_CHANNEL), _probe(org_a, marker)
            )
            frames = [await asyncio.wait_for(ws.recv(), 10) for ws in same_org]

            await _joined(b1)  # the other organization's next frame is the pong: no result
        assert executions[0] == 1
        assert len(set(frames)) == 1  # byte for byte the same frame (same operation id)
        message = json.loads(frames[0])
        assert message["id"] == "s1" and message["type"] == "next"
        assert message["payload"]["data"]["checkResultUpdated"] == {
            "checkId": CHECK,
            "status": "FAILING",
            "failingItems": {
                "edges": [
                    {"node": {"resourceId": f"acc-{marker}", "name": "Probe", "reason": "no MFA"}}
                ]
            },
        }


async def test_subscribers_that_may_see_different_results_get_their_own_execution(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker, executions = _count_executions(monkeypatch)
    async with live_server() as live:
        org_id, admin = await _settled_org(live)
        viewer = await live.container.services.api_keys.create_api_key_for(org_id, Role.VIEWER, "v")
        async with raw_ws(live, admin) as by_admin, raw_ws(live, viewer.secret) as by_viewer:
            await _subscribed(by_admin, by_viewer)
            topic = topic_for(org_id, CHECKS_CHANNEL)
            await until(lambda: live.container.bus.subscriber_count(topic) == 2, what="both")
            await live.container.bus.publish(topic, _probe(org_id, marker))
            first = await asyncio.wait_for(by_admin.recv(), 10)
            second = await asyncio.wait_for(by_viewer.recv(), 10)
        assert first == second
        assert executions[0] == 2  # one per role


async def test_a_revoked_keys_sockets_close_while_the_shared_stream_serves_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker, executions = _count_executions(monkeypatch)
    async with live_server(key_recheck_seconds=3600) as live:
        org_id, _admin = await _settled_org(live)
        kept = await live.container.services.api_keys.create_api_key_for(
            org_id, Role.VIEWER, "kept"
        )
        revoked = await live.container.services.api_keys.create_api_key_for(
            org_id, Role.VIEWER, "gone"
        )
        async with raw_ws(live, kept.secret) as ws_kept, raw_ws(live, revoked.secret) as ws_gone:
            await _subscribed(ws_kept, ws_gone)
            await _listening(live, org_id)
            await live.container.services.api_keys.revoke_api_key_by_id(revoked.key.id)
            assert await closed_with(ws_gone) == (4401, "API key revoked")
            await live.container.bus.publish(
                topic_for(org_id, CHECKS_CHANNEL), _probe(org_id, marker)
            )
            message = json.loads(await asyncio.wait_for(ws_kept.recv(), 10))
        assert message["type"] == "next"
        assert executions[0] == 1


class _StuckSocket:
    """A socket whose client never reads: every send waits forever."""

    def __init__(self) -> None:
        self.application_state = WebSocketState.CONNECTED
        self.closed: tuple[int, str] | None = None
        self.sent: list[str] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(text)
        await asyncio.Event().wait()

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self.application_state = WebSocketState.DISCONNECTED


async def test_a_client_that_does_not_read_is_closed_when_its_queue_overflows() -> None:
    ws = _StuckSocket()
    outbox = Outbox(ws, max_frames=3, max_bytes=1_000_000)  # type: ignore[arg-type]
    payload = json.dumps({"data": {"x": 1}}, separators=(",", ":"))
    head = '{"id":"1","type":"next","payload":'
    assert outbox.put(head, payload)
    await until(lambda: len(ws.sent) == 1, what="the first frame to be written")
    assert all(outbox.put(head, payload) for _ in range(3))
    # One frame is being written, three wait: the next one is one too many.
    assert len(outbox) == 3
    assert not outbox.put(head, payload)
    await until(lambda: ws.closed is not None, what="the close")
    assert ws.closed is not None and ws.closed[0] == CLOSE_SLOW_CONSUMER
    assert "reads too slowly" in ws.closed[1]
    assert len(outbox) == 0  # its frames were dropped, not kept
    assert not outbox.put(head, payload)
    assert ws.sent == ['{"id":"1","type":"next","payload":{"data":{"x":1}}}']


async def test_queued_bytes_are_bounded_too() -> None:
    ws = _StuckSocket()
    outbox = Outbox(ws, max_frames=100, max_bytes=200)  # type: ignore[arg-type]
    big = json.dumps({"data": "x" * 80})  # 93 bytes with its head
    assert outbox.put("h", big)  # being written (and stuck): it still counts
    await until(lambda: len(ws.sent) == 1, what="the first frame to be written")
    assert outbox.put("h", big)  # 186 bytes unread
    assert outbox.held == 186
    assert not outbox.put("h", big)  # 279: over 200
    await until(lambda: ws.closed is not None, what="the close")
    assert ws.closed is not None and ws.closed[0] == CLOSE_SLOW_CONSUMER


async def test_errors_of_a_shared_subscription_reach_each_subscriber_as_before() -> None:
    async with live_server() as live:
        _org_id, admin = await _settled_org(live)
        async with raw_ws(live, admin) as first, raw_ws(live, admin) as second:
            for ws in (first, second):
                await ack(ws)
                # Invalid: an error message, the operation is over.
                await ws.send(subscribe("bad", "subscription { checkResultUpdated { nope } }"))
                message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert message["type"] == "error" and message["id"] == "bad", message
                assert "nope" in message["payload"][0]["message"]
            for ws in (first, second):
                # An unknown check: a NOT_FOUND result, then complete (as Strawberry does).
                await ws.send(_subscribe("unknown", "no-such-check"))
                message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert message["type"] == "next" and message["id"] == "unknown", message
                assert message["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
                done = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert done == {"id": "unknown", "type": "complete"}
