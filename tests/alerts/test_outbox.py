"""The alert queue on both stores: one change is one alert, coalesced into one message per
channel, sent by one worker at a time, retried with backoff, then a dead letter."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.alerts.channels import ChannelSecrets
from services.alerts.models import (
    Alert,
    AlertKind,
    AttemptOutcome,
    Channel,
    ChannelSecret,
    ChannelStatus,
    Delivery,
    DeliveryFailed,
    DeliveryState,
)
from services.alerts.outbox import Dispatcher, DispatchOptions, Notifier, Wakeup
from services.alerts.service import AlertService
from services.clock import utcnow_ms
from services.crypto import KeyRing
from services.models import Principal, Role
from services.store import Store

ORG = "org_1"
ADMIN = Principal(ORG, Role.ADMIN, "key_admin")
COALESCE = timedelta(seconds=5)
LEASE = timedelta(seconds=60)
HOOK = "https://hooks.example.com/in/s3cr3t-path"


@dataclass
class Clock:
    # Near the wall clock: stored alerts and sent deliveries expire after 30 days (TTL).
    now: datetime = field(default_factory=utcnow_ms)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeSender:
    """Records what it was asked to send; fails while ``failing``; yields to the loop while
    sending, so that concurrent workers interleave."""

    failing: bool = False
    sent: list[tuple[str, str]] = field(default_factory=list)
    secrets: list[ChannelSecret] = field(default_factory=list)

    async def send(self, delivery: Delivery, channel: Channel, secret: ChannelSecret) -> None:
        await asyncio.sleep(0.001)
        if self.failing:
            raise DeliveryFailed("the receiver answered HTTP 503", retry_after=None)
        self.sent.append((delivery.id, channel.id))
        self.secrets.append(secret)


@dataclass
class Counts:
    recorded: Counter[str] = field(default_factory=Counter)
    deliveries: Counter[tuple[str, str]] = field(default_factory=Counter)

    def alert_recorded(self, kind: str) -> None:
        self.recorded[kind] += 1

    def alert_delivery(self, channel_kind: str, outcome: str) -> None:
        self.deliveries[(channel_kind, outcome)] += 1


@dataclass
class Parts:
    service: AlertService
    notifier: Notifier
    sender: FakeSender
    clock: Clock
    counts: Counts
    store: Store
    wakeup: Wakeup
    secrets: ChannelSecrets

    def dispatcher(self, owner: str = "worker-a", **options: object) -> Dispatcher:
        return Dispatcher(
            self.sender,
            self.secrets,
            alerts=self.store.alerts,
            deliveries=self.store.alert_deliveries,
            channels=self.store.alert_channels,
            wakeup=self.wakeup,
            options=DispatchOptions(
                owner=owner,
                coalesce=COALESCE,
                lease=LEASE,
                retry_base=15.0,
                **options,  # type: ignore[arg-type]
            ),
            metrics=self.counts,
            clock=self.clock,
        )


def parts(store: Store) -> Parts:
    clock, counts, wakeup = Clock(), Counts(), Wakeup()
    secrets = ChannelSecrets(store.alert_channels, KeyRing(b"k" * 32))
    service = AlertService(
        secrets,
        wakeup,
        channels=store.alert_channels,
        alert_deliveries=store.alert_deliveries,
        allow_insecure_urls=False,
        email_configured=True,
        clock=clock,
    )
    notifier = Notifier(
        alerts=store.alerts,
        channels=store.alert_channels,
        wakeup=wakeup,
        metrics=counts,
        clock=clock,
    )
    return Parts(service, notifier, FakeSender(), clock, counts, store, wakeup, secrets)


def alert(key: str, at: datetime) -> Alert:
    return Alert(
        key=key,
        organization_id=ORG,
        kind=AlertKind.CHECK_STATUS_CHANGED,
        at=at,
        summary=f"{key}: FAILING",
        fields={"checkId": key},
    )


async def test_one_change_is_one_alert_and_one_message_per_channel(store: Store) -> None:
    p = parts(store)
    assert not await p.notifier.notify(alert("check:a:res_1", p.clock()))  # no channel yet
    hook, secret = await p.service.create_webhook(ADMIN, name="ops", url=HOOK)
    mail = await p.service.create_email(ADMIN, name="mail", to=["ops@example.com"])
    off = await p.service.create_email(ADMIN, name="off", to=["x@example.com"])
    await p.service.update(ADMIN, off.id, enabled=False)

    # The same change reported again (re-published, another API process, a restart): once.
    other_process = Notifier(
        alerts=store.alerts,
        channels=store.alert_channels,
        wakeup=Wakeup(),
        metrics=p.counts,
        clock=p.clock,
    )
    first = alert("check:a:res_1", p.clock())
    reports = [p.notifier.notify(first), other_process.notify(first), p.notifier.notify(first)]
    assert sorted(await asyncio.gather(*reports)) == [False, False, True]
    p.clock.now += timedelta(seconds=1)
    assert await p.notifier.notify(alert("check:b:res_2", p.clock()))
    assert await p.notifier.notify(alert("sync:run_3", p.clock()))
    assert p.counts.recorded == Counter({"CHECK_STATUS_CHANGED": 3})

    # Nothing goes out before the coalescing window of the oldest alert has passed.
    a, b = p.dispatcher("worker-a"), p.dispatcher("worker-b")
    assert await a.tick() == p.clock() - timedelta(seconds=1) + COALESCE
    assert p.sender.sent == []

    # Then two workers at once: every alert lands in one batch, every message is sent once.
    p.clock.now += COALESCE
    await asyncio.gather(a.tick(), b.tick())
    assert sorted(channel for _, channel in p.sender.sent) == sorted([hook.id, mail.id])
    assert len({delivery for delivery, _ in p.sender.sent}) == 2
    page = await p.service.deliveries(ADMIN, state=None, channel_id=None, first=10, after=None)
    assert page.total_count == 2
    for _, sent in page.items:
        assert sent.state is DeliveryState.SENT and sent.attempts == 1
        assert [x.key for x in sent.alerts] == ["check:a:res_1", "check:b:res_2", "sync:run_3"]
    assert p.counts.deliveries == Counter({("WEBHOOK", "sent"): 1, ("EMAIL", "sent"): 1})

    # Workers find nothing more to do; the webhook got its decrypted secrets.
    assert await a.tick() is None and await b.tick() is None
    assert len(p.sender.sent) == 2
    webhook_secret = p.sender.secrets[[c for _, c in p.sender.sent].index(hook.id)]
    assert webhook_secret.url == HOOK and webhook_secret.signing_secret == secret


async def test_a_failing_channel_is_retried_with_backoff_then_dead_lettered(store: Store) -> None:
    p = parts(store)
    hook, _ = await p.service.create_webhook(ADMIN, name="ops", url=HOOK)
    worker = p.dispatcher()
    p.sender.failing = True
    await p.notifier.notify(alert("check:a:res_1", p.clock()))
    p.clock.now += COALESCE
    start = p.clock()

    await worker.tick()  # attempt 1
    [(_, queued)] = (
        await p.service.deliveries(ADMIN, state=None, channel_id=None, first=5, after=None)
    ).items
    assert queued.state is DeliveryState.PENDING and queued.attempts == 1
    assert queued.next_attempt_at == start + timedelta(seconds=15)
    assert queued.last_error == "the receiver answered HTTP 503"
    [channel] = await p.service.list_channels(ADMIN)
    assert channel.status is ChannelStatus.FAILING and channel.last_error == queued.last_error

    p.clock.now = start + timedelta(seconds=14)
    assert await worker.deliver() == []  # not due yet
    p.clock.now = start + timedelta(seconds=15)
    [second] = await worker.deliver()
    assert second.attempts == 2 and second.next_attempt_at == p.clock() + timedelta(seconds=30)
    p.clock.now += timedelta(seconds=30)
    [third] = await worker.deliver()
    assert third.state is DeliveryState.DEAD_LETTER and third.attempts == 3
    assert await worker.deliver() == []
    assert p.counts.deliveries == Counter(
        {("WEBHOOK", "failed"): 3, ("WEBHOOK", "dead_lettered"): 1}
    )

    dead = await p.service.deliveries(
        ADMIN, state=DeliveryState.DEAD_LETTER, channel_id=hook.id, first=5, after=None
    )
    [(_, letter)] = dead.items
    assert letter.last_error == "the receiver answered HTTP 503" and letter.channel_name == "ops"
    assert HOOK not in repr(letter)

    # An ADMIN retries it once the receiver is back: attempts from zero, then SENT.
    p.sender.failing = False
    retried = await p.service.retry(ADMIN, letter.id)
    assert retried.state is DeliveryState.PENDING and retried.attempts == 0
    [sent] = await worker.deliver()
    assert sent.state is DeliveryState.SENT and sent.attempts == 1
    [channel] = await p.service.list_channels(ADMIN)
    assert channel.status is ChannelStatus.ACTIVE


async def test_a_delivery_is_leased_to_one_worker_until_the_lease_expires(store: Store) -> None:
    p = parts(store)
    hook, _ = await p.service.create_webhook(ADMIN, name="ops", url=HOOK)
    test = await p.service.send_test(ADMIN, hook.id)
    repo = store.alert_deliveries
    dead_worker = await repo.claim(owner="a", ttl=LEASE, now=p.clock())
    assert dead_worker is not None and dead_worker.delivery.id == test.id
    # Other workers wait for the lease to run out instead of polling a held delivery.
    assert await repo.next_due(now=p.clock()) == p.clock() + LEASE
    assert await repo.claim(owner="b", ttl=LEASE, now=p.clock() + LEASE / 2) is None
    later = p.clock() + LEASE + timedelta(seconds=1)
    taken = await repo.claim(owner="b", ttl=LEASE, now=later)
    assert taken is not None and taken.token == dead_worker.token + 1
    # The first worker wakes up: its write is fenced out.
    late = await repo.finish(dead_worker, AttemptOutcome(DeliveryState.SENT, 1, later))
    assert late is None
    done = await repo.finish(taken, AttemptOutcome(DeliveryState.SENT, 1, later))
    assert done is not None and done.state is DeliveryState.SENT


async def test_a_batch_whose_worker_died_before_queueing_is_queued_once(store: Store) -> None:
    p = parts(store)
    await p.service.create_webhook(ADMIN, name="ops", url=HOOK)
    await p.notifier.notify(alert("check:a:res_1", p.clock()))
    p.clock.now += COALESCE
    # A worker took the alert into a batch and died before writing the deliveries.
    taken = await store.alerts.claim_batch(
        organization_id=ORG, batch_id="bat_dead", now=p.clock(), limit=100
    )
    assert [a.key for a in taken] == ["check:a:res_1"]
    worker = p.dispatcher()
    assert await worker.coalesce() == 0  # its lease has not run out yet
    p.clock.now += LEASE + timedelta(seconds=1)
    assert await asyncio.gather(worker.coalesce(), p.dispatcher("worker-b").coalesce()) in (
        [1, 0],
        [0, 1],
        [1, 1],  # both saw it unqueued: the same delivery id, written once
    )
    await worker.deliver()
    assert len(p.sender.sent) == 1
    assert await worker.coalesce() == 0


async def test_channel_secrets_are_stored_encrypted_and_never_listed(store: Store) -> None:
    p = parts(store)
    hook, secret = await p.service.create_webhook(ADMIN, name="ops", url=HOOK)
    slack = await p.service.create_slack(
        ADMIN, name="slack", webhook_url="https://hooks.slack.com/services/T0/B0/xoxslack"
    )
    raw = [d async for d in store._db["alert_channels"].find({})]
    assert len(raw) == 2
    text = repr(raw)
    assert "s3cr3t-path" not in text and secret not in text and "xoxslack" not in text
    assert {c.target for c in await p.service.list_channels(ADMIN)} == {
        "https://hooks.example.com",
        "https://hooks.slack.com",
    }
    assert (await p.secrets.load(ORG, slack.id)).url.endswith("xoxslack")  # type: ignore[union-attr]
    # Bound to its channel: another channel's envelope does not open as this one's.
    other = await store.alert_channels.envelope(organization_id=ORG, channel_id=slack.id)
    assert other is not None
    await store.alert_channels.set_envelope(organization_id=ORG, channel_id=hook.id, envelope=other)
    try:
        await p.secrets.load(ORG, hook.id)
    except Exception as exc:
        assert "xoxslack" not in str(exc)
    else:
        raise AssertionError("a copied envelope must not decrypt")


async def test_concurrent_batching_puts_each_alert_in_exactly_one_batch(store: Store) -> None:
    p = parts(store)
    await p.service.create_webhook(ADMIN, name="ops", url=HOOK)
    keys = [f"check:c{i}:res_{i}" for i in range(30)]
    for key in keys:
        assert await p.notifier.notify(alert(key, p.clock()))
    taken = await asyncio.gather(
        *(
            store.alerts.claim_batch(
                organization_id=ORG, batch_id=f"bat_{i}", now=p.clock(), limit=100
            )
            for i in range(8)
        )
    )
    assert sorted(a.key for batch in taken for a in batch) == sorted(keys)
