"""Alerts end to end (issue 23), on both stores: Vigil under uvicorn with its worker, the
simulator as Atlassian, a real local HTTP server as the webhook and Slack receivers, a real
local SMTP server (aiosmtpd) for email; everything through GraphQL."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.logging import RedactingFilter
from services.checks.base import EMPTY_POPULATION, Evaluation
from services.checks.models import CheckStatus
from simulator import RunningSimulator, Simulator, generate_site, start_simulator
from testkit.conditions import until
from testkit.people import add_confluence_system, import_people, staff_people
from tests.alerts.receivers import (
    HttpReceiver,
    SmtpServer,
    http_receiver,
    smtp_server,
    verify_signature,
)
from tests.conftest import STORE_KINDS
from tests.e2e.access_support import connect_access_review, sync
from tests.e2e.connect_support import Env, make_env

OFFBOARDED = "confluence-offboarded-access-removed"
CHANNEL = "id name kind enabled status target recipients lastError lastDeliveredAt"
WEBHOOK = f"""mutation($input: CreateWebhookAlertChannelInput!) {{
  createWebhookAlertChannel(input: $input) {{ channel {{ {CHANNEL} }} signingSecret
    userErrors {{ field code message }} }} }}"""
SLACK = f"""mutation($input: CreateSlackAlertChannelInput!) {{
  createSlackAlertChannel(input: $input) {{ channel {{ {CHANNEL} }}
    userErrors {{ field code message }} }} }}"""
EMAIL = f"""mutation($input: CreateEmailAlertChannelInput!) {{
  createEmailAlertChannel(input: $input) {{ channel {{ {CHANNEL} }}
    userErrors {{ field code message }} }} }}"""
CHANNELS = f"{{ alertChannels {{ {CHANNEL} }} }}"
DELIVERY = """id channelId channelName channelKind state attempts lastError nextAttemptAt sentAt
  deadLetteredAt alerts { id kind summary checkId status previousStatus }"""
DELIVERIES = f"""query($state: AlertDeliveryState, $channel: ID) {{
  alertDeliveries(state: $state, channelId: $channel, first: 50) {{ totalCount
    edges {{ node {{ {DELIVERY} }} }} }} }}"""
TEST = f"""mutation($id: ID!) {{ sendTestAlert(channelId: $id) {{ delivery {{ {DELIVERY} }}
  userErrors {{ field code message }} }} }}"""
RETRY = f"""mutation($id: ID!) {{ retryAlertDelivery(id: $id) {{ delivery {{ {DELIVERY} }}
  userErrors {{ field code message }} }} }}"""
ACCOUNTS = """{ accounts(filter: {classification: STAFF, status: ACTIVE}, first: 500) {
  edges { node { accountId identity { method person { id } } } } } }"""
OFFBOARD = """mutation($input: OffboardPersonInput!) { offboardPerson(input: $input) {
  person { id status } userErrors { code message } } }"""
VIEWER_KEY = """mutation { createApiKey(input: {role: VIEWER, name: "auditor"}) {
  secret userErrors { code } } }"""


@pytest.fixture(scope="module")
def alert_sim() -> Iterator[RunningSimulator]:
    sim = Simulator(generate_site(users=16, groups=3, pages=2, seed=23))
    with start_simulator(sim) as running:
        yield running


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver() as running:
        yield running


@pytest.fixture(params=STORE_KINDS)
async def env(
    request: pytest.FixtureRequest, alert_sim: RunningSimulator, smtp: SmtpServer
) -> AsyncIterator[Env]:
    settings: dict[str, Any] = {
        "run_worker": True,
        "scheduler_tick_seconds": 3600,
        "offboarding_grace_hours": 0,
        "alert_coalesce_seconds": 0.3,
        "alert_poll_seconds": 0.2,
        "alert_retry_base_seconds": 0.2,
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_security": "none",
        "smtp_from": "vigil@example.com",
    }
    async for e in make_env(request, alert_sim, **settings):
        yield e


async def create(env: Env, mutation: str, field: str, **input: Any) -> dict[str, Any]:
    payload = (await env.gql(mutation, {"input": input}))[field]
    assert payload["userErrors"] == [], payload
    return payload  # type: ignore[no-any-return]


async def deliveries(env: Env, **variables: Any) -> list[dict[str, Any]]:
    data = await env.gql(DELIVERIES, variables)
    return [e["node"] for e in data["alertDeliveries"]["edges"]]


async def prepare(env: Env) -> str:
    """Connected, synced, Confluence a critical system, HR's people imported; the person id
    of an active, auto-identified account that is not Vigil's own operator."""
    integration_id = await connect_access_review(env)
    await sync(env, integration_id)
    await add_confluence_system(env)
    site = env.sim.sim.site
    await import_people(env, staff_people(site))
    operators = set(site.operators.values())
    staff = [e["node"] for e in (await env.gql(ACCOUNTS))["accounts"]["edges"]]
    target = next(
        a
        for a in staff
        if a["identity"]["method"] == "AUTO_EMAIL" and a["accountId"] not in operators
    )
    await env.live.container.reevaluator.settle()  # what the set-up changed is evaluated
    return str(target["identity"]["person"]["id"])


async def quiet(env: Env) -> None:
    """Wait until no evaluation runs and the worker has nothing left to coalesce or send."""
    container = env.live.container

    async def idle() -> bool:
        await container.reevaluator.settle()
        return await container.alerts.dispatcher.next_due() is None

    await until(idle, what="the alert worker to be idle", timeout=20, interval=0.05)


async def test_a_check_turning_failing_alerts_each_channel_once_signed_within_10_s(
    env: Env, receiver: HttpReceiver, smtp: SmtpServer
) -> None:
    person_id = await prepare(env)
    hook = await create(
        env, WEBHOOK, "createWebhookAlertChannel", name="ops hook", url=f"{receiver.url}/hook"
    )
    secret = hook["signingSecret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    await create(
        env, SLACK, "createSlackAlertChannel", name="slack", webhookUrl=f"{receiver.url}/slack"
    )
    to = f"sec-{env.org_id}@example.com"
    await create(env, EMAIL, "createEmailAlertChannel", name="mail", recipients=[to])

    started = time.monotonic()
    left = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    done = await env.gql(OFFBOARD, {"input": {"personId": person_id, "offboardedAt": left}})
    assert done["offboardPerson"]["userErrors"] == []
    [first] = await until(lambda: receiver.posts("/hook"), what="the webhook alert", timeout=10)
    assert time.monotonic() - started < 10

    # Signed: verified here with the secret shown once, as a receiver would (docs/alerts.md).
    assert verify_signature(secret, first, now=time.time())
    body = first.json()
    assert first.headers["Vigil-Delivery"] == body["id"]
    [offboarded] = [a for a in body["alerts"] if a.get("checkId") == OFFBOARDED]
    assert offboarded["kind"] == "CHECK_STATUS_CHANGED" and offboarded["status"] == "FAILING"
    assert offboarded["previousStatus"] == "PASSING" and offboarded["failingCount"] == 1

    # Slack got Slack's format, email the right subject and body.
    [slack] = await until(lambda: receiver.posts("/slack"), what="the Slack alert", timeout=10)
    message = slack.json()
    assert set(message) == {"text", "blocks"} and "Vigil" in message["text"]
    sections = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    assert any("FAILING (was PASSING)" in s for s in sections)
    mails = await until(
        lambda: [m for rcpt, m in smtp.received() if rcpt == [to]], what="the email", timeout=10
    )
    # The same alerts as the webhook's first message (one batch, one message per channel).
    alerts = body["alerts"]
    subject = mails[0]["Subject"]
    if len(alerts) == 1:
        assert subject == f"[Vigil] {offboarded['summary']}"
    else:
        assert subject.startswith(f"[Vigil] {len(alerts)} alerts: ")
    assert mails[0]["From"] == "vigil@example.com" and mails[0]["To"] == to
    text = mails[0].get_content()
    assert all(a["summary"] in text and a["id"] in text for a in alerts)
    assert "Delivery dlv_" in text  # its own delivery (one per channel)

    # One change, one alert on each channel: nothing else about it arrives once all is quiet.
    await quiet(env)
    hook_alerts = [a["id"] for r in receiver.posts("/hook") for a in r.json()["alerts"]]
    slack_posts = receiver.posts("/slack")
    mails = [m for rcpt, m in smtp.received() if rcpt == [to]]
    assert hook_alerts.count(offboarded["id"]) == 1
    assert len(slack_posts) == len(receiver.posts("/hook")) == len(mails)
    sent = await deliveries(env, state="SENT")
    assert len(sent) == 3 * len(slack_posts) and {d["attempts"] for d in sent} == {1}

    # The same change reported again (as a replay of the engine's report would): no second
    # alert.
    container = env.live.container
    stored = await container.store.check_results.get_latest(
        organization_id=env.org_id, check_id=OFFBOARDED
    )
    check = container.engine.definition(OFFBOARDED)
    assert stored is not None and check is not None and offboarded["id"].endswith(str(stored.id))
    before = replace(stored, status=CheckStatus.PASSING, id="res_before")
    replay = Evaluation(check, stored, before, EMPTY_POPULATION, True, True)
    await container.alerts.reactions.after_result_changed(replay)
    await quiet(env)
    assert len(receiver.posts("/hook")) == len(slack_posts)


async def test_a_failing_receiver_gets_retries_then_a_dead_letter_an_admin_retries(
    env: Env, receiver: HttpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    url = f"{receiver.url}/down/tok3n-in-path"
    hook = await create(env, WEBHOOK, "createWebhookAlertChannel", name="down", url=url)
    channel_id = hook["channel"]["id"]
    receiver.fail_first = 3
    queued = (await env.gql(TEST, {"id": channel_id}))["sendTestAlert"]
    assert queued["userErrors"] == [] and queued["delivery"]["state"] == "PENDING"
    delivery_id = queued["delivery"]["id"]

    dead = await until(
        lambda: deliveries(env, state="DEAD_LETTER"), what="a dead letter", timeout=20
    )
    assert [d["id"] for d in dead] == [delivery_id]
    letter = dead[0]
    assert letter["attempts"] == 3 and letter["channelName"] == "down"
    assert letter["lastError"] == "the receiver answered HTTP 500"
    assert letter["deadLetteredAt"] and letter["nextAttemptAt"] is None
    attempts = receiver.posts("/down/tok3n-in-path")
    assert len(attempts) == 3 and {r.headers["Vigil-Delivery"] for r in attempts} == {delivery_id}
    [channel] = (await env.gql(CHANNELS))["alertChannels"]
    assert channel["status"] == "FAILING" and channel["lastError"] == letter["lastError"]

    retried = (await env.gql(RETRY, {"id": delivery_id}))["retryAlertDelivery"]
    assert retried["userErrors"] == [] and retried["delivery"]["state"] == "PENDING"
    assert retried["delivery"]["attempts"] == 0
    sent = await until(lambda: deliveries(env, state="SENT"), what="the retried delivery")
    assert [d["id"] for d in sent] == [delivery_id] and sent[0]["attempts"] == 1
    assert len(receiver.posts("/down/tok3n-in-path")) == 4
    assert await deliveries(env, state="DEAD_LETTER") == []
    again = (await env.gql(RETRY, {"id": delivery_id}))["retryAlertDelivery"]
    assert again["userErrors"][0]["code"] == "NOT_DEAD_LETTER"

    # Neither the secret nor the URL's path reached a log line as the server writes it.
    redactor = RedactingFilter()
    for record in caplog.records:
        redactor.filter(record)
        assert hook["signingSecret"] not in record.getMessage()
        assert "tok3n-in-path" not in record.getMessage()


async def test_only_an_admin_configures_and_no_role_reads_a_secret(
    env: Env, receiver: HttpReceiver
) -> None:
    viewer = (await env.gql(VIEWER_KEY))["createApiKey"]["secret"]
    slack_url = f"{receiver.url}/services/T0/B0/sl4ck-secret"
    refused = (await env.gql(SLACK, {"input": {"name": "x", "webhookUrl": slack_url}}, key=viewer))[
        "createSlackAlertChannel"
    ]
    assert refused["channel"] is None and refused["userErrors"][0]["code"] == "FORBIDDEN"

    hook = await create(
        env, WEBHOOK, "createWebhookAlertChannel", name="hook", url=f"{receiver.url}/h/s3cr3t"
    )
    slack = await create(env, SLACK, "createSlackAlertChannel", name="slack", webhookUrl=slack_url)
    taken = (await env.gql(WEBHOOK, {"input": {"name": "hook", "url": receiver.url}}))[
        "createWebhookAlertChannel"
    ]
    assert taken["userErrors"] == [
        {
            "field": ["input", "name"],
            "code": "NAME_TAKEN",
            "message": taken["userErrors"][0]["message"],
        }
    ]
    bad = (await env.gql(WEBHOOK, {"input": {"name": "bad", "url": "ftp://x"}}))[
        "createWebhookAlertChannel"
    ]
    assert bad["userErrors"][0]["field"] == ["input", "url"]
    assert bad["userErrors"][0]["code"] == "VALIDATION_FAILED"

    for key in (None, viewer):
        listed = await env.gql(CHANNELS, key=key)
        text = repr(listed)
        assert "s3cr3t" not in text and "sl4ck-secret" not in text
        assert hook["signingSecret"] not in text
        assert [(c["name"], c["kind"], c["status"]) for c in listed["alertChannels"]] == [
            ("hook", "WEBHOOK", "ACTIVE"),
            ("slack", "SLACK", "ACTIVE"),
        ]
        assert listed["alertChannels"][1]["target"] == receiver.url
    assert "sl4ck-secret" not in repr(slack)

    test = (await env.gql(TEST, {"id": hook["channel"]["id"]}, key=viewer))["sendTestAlert"]
    assert test["userErrors"][0]["code"] == "FORBIDDEN"
    missing = (await env.gql(TEST, {"id": "chn_nope"}))["sendTestAlert"]
    assert missing["userErrors"][0]["code"] == "NOT_FOUND"
    assert missing["userErrors"][0]["field"] == ["channelId"]
