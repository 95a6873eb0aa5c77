"""Recording alerts, and the worker that turns them into deliveries and sends them.

``Notifier.notify`` (called by the reactions, in whichever process saw the change) records
an alert once per key — a duplicate key is ignored, in MongoDB, so a result published twice,
two API processes or a restart never make two alerts — and wakes this process's dispatcher.

``Dispatcher`` runs in the worker (``tick`` every ``poll`` seconds at most, sooner when woken
or when something falls due), in as many processes as run a worker:

1. **Coalesce.** Once an organization's oldest unbatched alert is ``coalesce`` old, its
   unbatched alerts (at most ``batch_limit``) become one batch — several checks turning at
   once are one message — and the batch becomes one PENDING delivery per enabled channel.
2. **Deliver.** ``concurrency`` loops claim due deliveries under a lease (one process sends a
   given delivery at a time), send them, and record the outcome under the lease's token:
   SENT; or, after a failure, another attempt ``retry_base * 2**(attempts-1)`` seconds later
   (or the receiver's ``Retry-After`` when longer) until ``max_attempts``, then DEAD_LETTER.

A process that dies while sending leaves its lease to expire; the delivery is sent again by
the next claim (at least once: receivers deduplicate on the delivery id, the same on every
attempt).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from services.alerts.models import (
    Alert,
    AttemptOutcome,
    Channel,
    ChannelSecret,
    Delivery,
    DeliveryClaim,
    DeliveryFailed,
    DeliveryState,
)
from services.clock import Clock, utcnow_ms
from services.ids import new_id

log = logging.getLogger(__name__)


class Wakeup:
    """Wakes this process's dispatcher early (an alert recorded, a retry asked for)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def kick(self) -> None:
        """Make the next (or current) ``wait`` return now."""
        self._event.set()

    async def wait(self, timeout: float) -> None:
        """Return after ``timeout`` seconds or when kicked, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()


class AlertMetrics(Protocol):
    """Counters of alerts and deliveries (``api/metrics.py``)."""

    def alert_recorded(self, kind: str) -> None: ...
    def alert_delivery(self, channel_kind: str, outcome: str) -> None: ...


class NullAlertMetrics:
    """Counts nothing (tests, tools)."""

    def alert_recorded(self, kind: str) -> None:
        """Nothing."""

    def alert_delivery(self, channel_kind: str, outcome: str) -> None:
        """Nothing."""


class RecordRepo(Protocol):
    """The ``AlertRepository`` method ``Notifier`` calls."""

    async def record(self, alert: Alert, *, now: datetime) -> bool: ...


class EnabledRepo(Protocol):
    """The ``AlertChannelRepository`` method ``Notifier`` calls."""

    async def has_enabled(self, *, organization_id: str) -> bool: ...


@dataclass(eq=False, repr=False)
class Notifier:
    """Records alerts once per key, for organizations with an enabled channel."""

    _: KW_ONLY
    alerts: RecordRepo
    channels: EnabledRepo
    wakeup: Wakeup
    metrics: AlertMetrics = field(default_factory=NullAlertMetrics)
    clock: Clock = utcnow_ms

    async def notify(self, alert: Alert | None) -> bool:
        """Record ``alert``; False when there is none, no channel wants it, or it is known."""
        if alert is None:
            return False
        if not await self.channels.has_enabled(organization_id=alert.organization_id):
            return False
        if not await self.alerts.record(alert, now=self.clock()):
            log.info("alert %s of %s was already recorded", alert.key, alert.organization_id)
            return False
        self.metrics.alert_recorded(alert.kind.value)
        self.wakeup.kick()
        return True


class BatchRepo(Protocol):
    """The ``AlertRepository`` methods ``Dispatcher`` calls."""

    async def oldest_unbatched(self) -> datetime | None: ...
    async def due_organizations(self, *, recorded_before: datetime) -> list[str]: ...
    async def claim_batch(
        self, *, organization_id: str, batch_id: str, now: datetime, limit: int
    ) -> list[Alert]: ...
    async def batch(self, *, organization_id: str, batch_id: str) -> list[Alert]: ...
    async def mark_queued(self, *, batch_id: str) -> None: ...
    async def unqueued_batches(self, *, batched_before: datetime) -> list[tuple[str, str]]: ...


class QueueRepo(Protocol):
    """The ``AlertDeliveryRepository`` methods ``Dispatcher`` calls."""

    async def enqueue(self, deliveries: Sequence[Delivery]) -> None: ...
    async def claim(self, *, owner: str, ttl: timedelta, now: datetime) -> DeliveryClaim | None: ...
    async def finish(self, claim: DeliveryClaim, outcome: AttemptOutcome) -> Delivery | None: ...
    async def next_due(self, *, now: datetime) -> datetime | None: ...


class ChannelsRepo(Protocol):
    """The ``AlertChannelRepository`` methods ``Dispatcher`` calls."""

    async def list(self, *, organization_id: str) -> list[Channel]: ...
    async def get(self, *, organization_id: str, channel_id: str) -> Channel | None: ...
    async def record_outcome(self, *, channel_id: str, at: datetime, error: str | None) -> None: ...


class SecretSource(Protocol):
    """Decrypts a channel's secrets (``ChannelSecrets``)."""

    async def load(self, organization_id: str, channel_id: str) -> ChannelSecret: ...


class Sender(Protocol):
    """Sends one delivery to its channel (``ChannelSender``)."""

    async def send(self, delivery: Delivery, channel: Channel, secret: ChannelSecret) -> None: ...


@dataclass(frozen=True, slots=True)
class DispatchOptions:
    """Tunables (from settings: ``VIGIL_ALERT_*``)."""

    owner: str
    coalesce: timedelta = timedelta(seconds=5)
    poll: float = 2.0
    max_attempts: int = 3
    retry_base: float = 15.0
    lease: timedelta = timedelta(seconds=60)
    concurrency: int = 4
    batch_limit: int = 100


def delivery_id(batch_id: str, channel_id: str) -> str:
    """The id of a batch's delivery to one channel: the same whoever writes it."""
    digest = hashlib.sha256(f"{batch_id}\x1f{channel_id}".encode()).hexdigest()
    return f"dlv_{digest[:24]}"


def pending(
    channel: Channel, alerts: Sequence[Alert], *, delivery_id: str, now: datetime
) -> Delivery:
    """A new PENDING delivery of ``alerts`` to ``channel``, due now."""
    return Delivery(
        id=delivery_id,
        organization_id=channel.organization_id,
        channel_id=channel.id,
        channel_name=channel.name,
        channel_kind=channel.kind,
        alerts=tuple(alerts),
        state=DeliveryState.PENDING,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
        updated_at=now,
    )


@dataclass(eq=False, repr=False)
class Dispatcher:
    """The worker side: coalesces alerts into deliveries and sends them (module docstring)."""

    sender: Sender
    secrets: SecretSource
    _: KW_ONLY
    alerts: BatchRepo
    deliveries: QueueRepo
    channels: ChannelsRepo
    wakeup: Wakeup
    options: DispatchOptions
    metrics: AlertMetrics = field(default_factory=NullAlertMetrics)
    clock: Clock = utcnow_ms

    async def run_forever(self) -> None:
        """``tick`` until cancelled; sleep until something falls due (``poll`` at most)."""
        while True:
            due: datetime | None = None
            try:
                due = await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the alert dispatcher failed; retrying")
            wait = self.options.poll
            if due is not None:
                wait = min(wait, max((due - self.clock()).total_seconds(), 0.01))
            await self.wakeup.wait(wait)

    async def tick(self) -> datetime | None:
        """Coalesce due alerts, send due deliveries; when the next thing falls due."""
        await self.coalesce()
        await self.deliver()
        return await self.next_due()

    async def next_due(self) -> datetime | None:
        """The earliest of: the next batch to coalesce, the next delivery to attempt (a
        delivery another worker is sending counts when its lease would expire)."""
        times = []
        oldest = await self.alerts.oldest_unbatched()
        if oldest is not None:
            times.append(oldest + self.options.coalesce)
        due = await self.deliveries.next_due(now=self.clock())
        if due is not None:
            times.append(due)
        return min(times) if times else None

    async def coalesce(self) -> int:
        """Batch the organizations whose oldest unbatched alert is old enough; queue batches a
        dead dispatcher left unqueued. How many deliveries were queued."""
        now = self.clock()
        queued = 0
        for org in await self.alerts.due_organizations(recorded_before=now - self.options.coalesce):
            while True:
                batch_id = new_id("bat")
                taken = await self.alerts.claim_batch(
                    organization_id=org, batch_id=batch_id, now=now, limit=self.options.batch_limit
                )
                if not taken:
                    break
                queued += await self._queue(org, batch_id, taken, now)
                if len(taken) < self.options.batch_limit:
                    break
        for org, batch_id in await self.alerts.unqueued_batches(
            batched_before=now - self.options.lease
        ):
            taken = await self.alerts.batch(organization_id=org, batch_id=batch_id)
            log.warning("queueing alert batch %s left unqueued by a stopped worker", batch_id)
            queued += await self._queue(org, batch_id, taken, now)
        return queued

    async def _queue(self, org: str, batch_id: str, alerts: Sequence[Alert], now: datetime) -> int:
        channels = [c for c in await self.channels.list(organization_id=org) if c.enabled]
        deliveries = [
            pending(c, alerts, delivery_id=delivery_id(batch_id, c.id), now=now) for c in channels
        ]
        await self.deliveries.enqueue(deliveries)
        await self.alerts.mark_queued(batch_id=batch_id)
        return len(deliveries)

    async def deliver(self) -> list[Delivery]:
        """Send due deliveries until none is claimable; the attempts recorded."""
        done: list[Delivery] = []
        await asyncio.gather(*(self._worker(done) for _ in range(self.options.concurrency)))
        return done

    async def _worker(self, done: list[Delivery]) -> None:
        while True:
            claim = await self.deliveries.claim(
                owner=self.options.owner, ttl=self.options.lease, now=self.clock()
            )
            if claim is None:
                return
            finished = await self.attempt(claim)
            if finished is not None:
                done.append(finished)

    async def attempt(self, claim: DeliveryClaim) -> Delivery | None:
        """Send one claimed delivery and record the outcome (None: the lease was lost)."""
        delivery = claim.delivery
        kind = delivery.channel_kind.value
        attempts = delivery.attempts + 1
        channel = await self.channels.get(
            organization_id=delivery.organization_id, channel_id=delivery.channel_id
        )
        if channel is None or not channel.enabled:  # no point in trying again
            why = "the channel was deleted" if channel is None else "the channel is disabled"
            return await self._failed(claim, attempts, DeliveryFailed(why), kind, final=True)
        try:
            secret = await self.secrets.load(delivery.organization_id, channel.id)
            await self.sender.send(delivery, channel, secret)
        except DeliveryFailed as exc:
            return await self._failed(claim, attempts, exc, kind)
        except Exception:
            log.exception("sending alert delivery %s failed unexpectedly", delivery.id)
            failure = DeliveryFailed("internal error while sending; it is logged")
            return await self._failed(claim, attempts, failure, kind)
        now = self.clock()
        finished = await self.deliveries.finish(
            claim, AttemptOutcome(DeliveryState.SENT, attempts, now)
        )
        self.metrics.alert_delivery(kind, "sent")
        await self.channels.record_outcome(channel_id=delivery.channel_id, at=now, error=None)
        log.info("alert delivery %s sent to channel %s", delivery.id, delivery.channel_id)
        return finished

    async def _failed(
        self,
        claim: DeliveryClaim,
        attempts: int,
        failure: DeliveryFailed,
        kind: str,
        *,
        final: bool = False,
    ) -> Delivery | None:
        delivery = claim.delivery
        now = self.clock()
        self.metrics.alert_delivery(kind, "failed")
        if final or attempts >= self.options.max_attempts:
            finished = await self.deliveries.finish(
                claim, AttemptOutcome(DeliveryState.DEAD_LETTER, attempts, now, failure.message)
            )
            self.metrics.alert_delivery(kind, "dead_lettered")
            log.warning(
                "alert delivery %s to channel %s is a dead letter after %d attempt(s): %s",
                delivery.id,
                delivery.channel_id,
                attempts,
                failure.message,
            )
        else:
            delay = self.options.retry_base * 2 ** (attempts - 1)
            if failure.retry_after is not None:
                delay = max(delay, failure.retry_after)
            finished = await self.deliveries.finish(
                claim,
                AttemptOutcome(
                    DeliveryState.PENDING,
                    attempts,
                    now,
                    error=failure.message,
                    next_attempt_at=now + timedelta(seconds=delay),
                ),
            )
            log.warning(
                "alert delivery %s to channel %s failed (attempt %d of %d, next in %g s): %s",
                delivery.id,
                delivery.channel_id,
                attempts,
                self.options.max_attempts,
                delay,
                failure.message,
            )
        await self.channels.record_outcome(
            channel_id=delivery.channel_id, at=now, error=failure.message
        )
        return finished
