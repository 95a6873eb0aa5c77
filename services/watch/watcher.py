"""One integration's change watch: poll the events stream, refresh what events name (ADR 020).

A ``Watcher`` runs in the worker that holds the integration's watch lease (``Watchers``). Each
``step``:

1. renews the lease (a lost lease stops the watcher) and reads the integration (one that is no
   longer connected, or lost its key, stops it);
2. learns what happened to the run it asked for: committed (a refresh done), failed (its
   events are pending again) or still going — and the committed position, which moves only
   when a run's snapshot becomes current (in the same write) or past events that need none;
3. every ``poll_seconds``, reads the stream from where it stands (``meta.next``), a few pages
   at most: each event not seen before (delivery is at least once) is judged
   (``services.watch.events``) and either ignored, with its reason counted, or kept pending;
4. when events have been pending for ``coalesce_seconds``, hands them to the ``RunQueue`` as
   one TARGETED run carrying the position after them (a queued run is joined instead; while
   one runs, the events wait); with nothing pending, moves the position past what it read;
5. after a full sync that followed targeted runs, once ``settle_seconds`` have passed, compares
   the two snapshots: differences no event explains are logged loudly and counted.

A crash anywhere loses nothing: the next holder starts from the committed position, reads
the same events again, and finds the ones a committed run already applied among the mark's
event ids (so none is applied twice).
"""

from __future__ import annotations

import collections
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from services.atlassian.admin import MAX_EVENTS_PAGE, AdminClient
from services.atlassian.events import AuditEvent
from services.clock import Clock, utcnow
from services.confluence.errors import (
    ConfluenceAuthError,
    ConfluenceError,
    ConfluenceForbidden,
    ConfluenceScopeError,
)
from services.confluence.retry import RetryEvent
from services.integrations.models import Integration, IntegrationStatus, Purpose
from services.sync.compare import Difference, differences
from services.sync.connector import ConnectorFactory
from services.sync.models import (
    RunTargets,
    SnapshotAccount,
    SnapshotManifest,
    SyncRun,
    SyncRunKind,
    SyncRunStatus,
    WatchMark,
)
from services.watch.events import Site, action_map, meaning
from services.watch.models import ActionKind, Comparison, IgnoredReason, WatchReason

log = logging.getLogger(__name__)

GUARD_MESSAGE = (
    "Atlassian answered 403 to the organization's events: its audit log needs an Atlassian "
    "Guard Standard subscription."
)
SCOPE_MESSAGE = (
    "The Admin API key lacks the read:events:admin scope (Atlassian: scope does not match): "
    "create a key with it, or an unscoped key."
)
KEY_REFUSED = "Atlassian refused the Admin API key for the organization's events."
RECENT_IDS = 500  # event ids a mark keeps (a redelivered event is found among them)
HISTORY = 20_000  # events kept in memory to explain a comparison's differences


class StopWatching(Exception):
    """The integration can no longer be watched here: ``reason`` says why."""

    def __init__(self, reason: WatchReason | None, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class WatchIntegrationsRepo(Protocol):
    """The ``IntegrationRepository`` method the watcher calls."""

    async def get_by_id(self, *, integration_id: str) -> Integration | None: ...


class WatchStateRepo(Protocol):
    """The ``WatchRepository`` methods the watcher calls."""

    async def renew(
        self, *, integration_id: str, token: int, ttl: timedelta, now: datetime
    ) -> bool: ...
    async def record(
        self,
        *,
        integration_id: str,
        token: int,
        fields: Mapping[str, object] | None = None,
        increments: Mapping[str, int] | None = None,
    ) -> bool: ...
    async def committed(self, *, integration_id: str) -> WatchMark | None: ...
    async def advance(self, *, integration_id: str, token: int, mark: WatchMark) -> bool: ...


class WatchRunsRepo(Protocol):
    """The ``SyncRunRepository`` methods the watcher calls."""

    async def get(self, *, run_id: str) -> SyncRun | None: ...
    async def get_by_snapshot(self, *, snapshot_id: str) -> SyncRun | None: ...


class WatchQueue(Protocol):
    """The ``RunQueue`` method the watcher calls."""

    async def submit_targeted(
        self, integration: Integration, targets: RunTargets, watch: WatchMark
    ) -> SyncRun | None: ...


class WatchSnapshots(Protocol):
    """Manifests (``SnapshotLayers``) and accounts (``SnapshotQueryRepository``) of snapshots."""

    async def manifest(self, snapshot_id: str) -> SnapshotManifest | None: ...
    def iter_accounts(self, *, snapshot_id: str) -> AsyncIterator[SnapshotAccount]: ...


class WatchMetrics(Protocol):
    """Where the watch's counters go (Prometheus in the worker)."""

    def watch_events(self, seen: int, ignored: Mapping[str, int]) -> None:
        """Events read (distinct), and those ignored by reason."""

    def watch_refresh(self, outcome: str) -> None:
        """A refresh the watch asked for ended (SUCCEEDED, FAILED)."""

    def watch_comparison(self, differences: int, unexplained: int) -> None:
        """A full sync was compared with the targeted runs' snapshot."""


class NullWatchMetrics:
    """Metrics that go nowhere."""

    def watch_events(self, seen: int, ignored: Mapping[str, int]) -> None:
        """Ignored."""

    def watch_refresh(self, outcome: str) -> None:
        """Ignored."""

    def watch_comparison(self, differences: int, unexplained: int) -> None:
        """Ignored."""


@dataclass
class WatchOptions:
    """Tunables of the change watch (from settings)."""

    owner: str
    poll_seconds: float = 20.0
    coalesce_seconds: float = 3.0
    start_back: timedelta = timedelta(minutes=5)  # where the first read starts
    lease_ttl: timedelta = timedelta(seconds=60)
    actions_max_age: timedelta = timedelta(days=1)  # event-actions are read again after
    settle_seconds: float = 120.0  # after a full sync, before comparing (event freshness)
    max_pages: int = 10  # stream pages read per poll
    backoff_max: float = 300.0
    clock: Clock = utcnow


@dataclass(frozen=True, slots=True)
class WatchDeps:
    """What a watcher works with (built once by the composition root)."""

    integrations: WatchIntegrationsRepo
    watch: WatchStateRepo
    runs: WatchRunsRepo
    queue: WatchQueue
    connectors: ConnectorFactory
    snapshots: WatchSnapshots
    dispatch: Callable[[str], object] | None = None
    metrics: WatchMetrics = field(default_factory=NullWatchMetrics)


@dataclass(slots=True)
class _Inflight:
    """The run the watcher asked for, the position it commits, the events it applies."""

    run_id: str
    mark: WatchMark
    events: list[AuditEvent]
    targets: dict[str, RunTargets]


@dataclass(frozen=True, slots=True)
class _Named:
    """What an applied event named, kept to explain a comparison's differences."""

    processed_at: datetime | None
    time: datetime | None
    users: tuple[str, ...]
    groups: tuple[str, ...]


@dataclass(slots=True)
class _Comparing:
    """A full sync to compare with the targeted snapshot before it, once settled."""

    full: SyncRun
    previous: SnapshotManifest
    due: datetime


class Watcher:
    """Watches one integration's events while this process holds its watch lease."""

    def __init__(
        self, integration: Integration, token: int, deps: WatchDeps, options: WatchOptions
    ) -> None:
        self.integration = integration
        self.token = token
        self._deps = deps
        self._options = options
        self._position: str | None = None
        self._committed: WatchMark | None = None
        self._started = False
        self._recent: collections.deque[str] = collections.deque(maxlen=RECENT_IDS)
        self._seen: set[str] = set()
        self._pending: dict[str, AuditEvent] = {}
        self._targets: dict[str, RunTargets] = {}  # what each pending event names
        self._pending_since: datetime | None = None
        self._inflight: _Inflight | None = None
        self._last_processed: datetime | None = None
        self._next_poll: datetime | None = None
        self._failures = 0  # refreshes failed in a row
        self._poll_failures = 0
        self._retry_at: datetime | None = None
        self._actions: dict[str, ActionKind] = {}
        self._actions_at: datetime | None = None
        self._snapshot: str | None = integration.current_snapshot_id
        self._history: collections.deque[_Named] = collections.deque(maxlen=HISTORY)
        self._history_from: datetime | None = None
        self._comparing: _Comparing | None = None
        self.polls = 0

    @property
    def integration_id(self) -> str:
        """The watched integration."""
        return self.integration.id

    async def step(self) -> float:
        """One round (see the module docstring); how long to wait before the next."""
        now = self._options.clock()
        integration = await self._integration()
        renewed = await self._deps.watch.renew(
            integration_id=integration.id, token=self.token, ttl=self._options.lease_ttl, now=now
        )
        if not renewed:
            raise StopWatching(None, "another worker took over the watch")
        if not self._started:
            await self._start(now)
        await self._settle_inflight()
        await self._adopt(await self._deps.watch.committed(integration_id=integration.id))
        await self._observe_snapshot(integration, now)
        if self._next_poll is None or now >= self._next_poll:
            polled = await self._poll(integration, now)
            self._next_poll = now + timedelta(seconds=self._wait_after(polled))
        await self._submit_or_advance(integration, self._options.clock())
        await self._compare_if_due(self._options.clock())
        return self._wait(self._options.clock())

    # ----- the run it asked for, and the committed position ------------------------------

    async def _integration(self) -> Integration:
        found = await self._deps.integrations.get_by_id(integration_id=self.integration.id)
        if found is None or found.status is not IntegrationStatus.CONNECTED:
            raise StopWatching(WatchReason.NOT_CONNECTED, "the integration is not connected")
        if found.purpose is not Purpose.ACCESS_REVIEW or not found.has_admin_key:
            raise StopWatching(
                WatchReason.NO_ADMIN_KEY, "the events stream needs an organization Admin API key"
            )
        self.integration = found
        return found

    async def _start(self, now: datetime) -> None:
        committed = await self._deps.watch.committed(integration_id=self.integration_id)
        self._committed = committed
        if committed is not None:
            self._position = committed.cursor
            self._remember(committed.event_ids)
            self._history_from = committed.processed_at
        else:
            self._history_from = now - self._options.start_back
        self._started = True

    async def _settle_inflight(self) -> None:
        inflight = self._inflight
        if inflight is None:
            return
        run = await self._deps.runs.get(run_id=inflight.run_id)
        if run is not None and run.active:
            return
        self._inflight = None
        if run is not None and run.status is SyncRunStatus.SUCCEEDED:
            self._failures = 0
            self._committed = inflight.mark
            oldest = min((e.time for e in inflight.events if e.time), default=None)
            finished = run.finished_at or self._options.clock()
            fields: dict[str, object] = {"last_refresh_at": finished}
            if oldest is not None:
                fields["lag_seconds"] = max(0.0, (finished - oldest).total_seconds())
            await self._record(fields, {"refreshes": 1})
            self._deps.metrics.watch_refresh(SyncRunStatus.SUCCEEDED.value)
            log.info(
                "change watch of %s: %s run %s applied %d event(s)",
                self.integration_id,
                run.kind.value,
                run.id,
                len(inflight.events),
            )
            return
        # Failed (or gone): its events are pending again, and are retried after a pause.
        for event in inflight.events:
            self._pending.setdefault(event.id, event)
            self._targets.setdefault(event.id, inflight.targets[event.id])
        self._pending_since = self._pending_since or self._options.clock()
        self._failures += 1
        pause = min(self._options.backoff_max, self._options.poll_seconds * 2**self._failures)
        self._retry_at = self._options.clock() + timedelta(seconds=pause)
        self._deps.metrics.watch_refresh(SyncRunStatus.FAILED.value)
        log.warning(
            "change watch of %s: refresh run %s failed (%s); retrying in %.0f s",
            self.integration_id,
            inflight.run_id,
            run.error if run else "run not found",
            pause,
        )

    async def _adopt(self, committed: WatchMark | None) -> None:
        """Another run committed a position (the replacement of a run whose worker died, a
        run this watcher's predecessor asked for): the events it covers are applied."""
        if committed is None or committed == self._committed:
            return
        self._committed = committed
        self._remember(committed.event_ids)
        covered = set(committed.event_ids)
        for event_id in [e for e in self._pending if e in covered]:
            del self._pending[event_id]
            self._targets.pop(event_id, None)
        if not self._pending:
            self._pending_since = None

    # ----- reading the stream ---------------------------------------------------------

    async def _poll(self, integration: Integration, now: datetime) -> int:
        """Read the stream (at most ``max_pages`` pages); how many events came."""
        site = await self._site(integration)
        came = 0
        seen = 0
        ignored: collections.Counter[str] = collections.Counter()
        try:
            async with self._deps.connectors.open(integration, _ignore_retry) as connector:
                admin, org_id = connector.admin, connector.admin_org_id
                if admin is None or not org_id:
                    raise StopWatching(WatchReason.NO_ADMIN_KEY, "no Admin API key")
                await self._read_actions(admin, org_id, now)
                for _ in range(self._options.max_pages):
                    since = None if self._position else now - self._options.start_back
                    page = await admin.poll_events(org_id, self._position, since=since)
                    self.polls += 1
                    came += len(page.events)
                    for event in page.events:
                        outcome = self._take(event, site, now)
                        if outcome is None:
                            seen += 1
                        elif outcome is IgnoredReason.DUPLICATE:
                            ignored[outcome.value] += 1
                        else:
                            seen += 1
                            ignored[outcome.value] += 1
                    if page.next_cursor:
                        self._position = page.next_cursor
                    if len(page.events) < MAX_EVENTS_PAGE:
                        break
        except ConfluenceScopeError:
            await self._off(WatchReason.MISSING_SCOPE, SCOPE_MESSAGE, now)
            return 0
        except ConfluenceForbidden:
            await self._off(WatchReason.GUARD_STANDARD_REQUIRED, GUARD_MESSAGE, now)
            return 0
        except ConfluenceAuthError:
            await self._off(WatchReason.FAILING, KEY_REFUSED, now)
            return 0
        except ConfluenceError as exc:
            await self._off(WatchReason.FAILING, f"reading the events failed: {exc}", now)
            return 0
        self._poll_failures = 0
        fields: dict[str, object] = {
            "watching": True,
            "reason": None,
            "message": None,
            "last_polled_at": now,
        }
        last = max((e.time for e in self._pending.values() if e.time), default=None)
        if last is not None:
            fields["last_event_at"] = last
        increments = {"events_seen": seen, **{f"ignored.{k}": v for k, v in ignored.items()}}
        await self._record(fields, {k: v for k, v in increments.items() if v})
        if seen or ignored:
            self._deps.metrics.watch_events(seen, ignored)
        return came

    def _take(self, event: AuditEvent, site: Site, now: datetime) -> IgnoredReason | None:
        """Judge one delivered event: None when it is pending, else why it is ignored."""
        if event.id in self._seen:
            return IgnoredReason.DUPLICATE
        self._remember((event.id,))
        if event.processed_at is not None:
            self._last_processed = max(
                self._last_processed or event.processed_at, event.processed_at
            )
        what = meaning(event, site, self._actions)
        if what.ignored is not None:
            return what.ignored
        self._pending[event.id] = event
        self._targets[event.id] = what.targets
        self._pending_since = self._pending_since or now
        self._history.append(_Named(event.processed_at, event.time, event.users, event.groups))
        return None

    def _remember(self, event_ids: Iterable[str]) -> None:
        for event_id in event_ids:
            if event_id in self._seen:
                continue
            if len(self._recent) == self._recent.maxlen:
                self._seen.discard(self._recent[0])
            self._recent.append(event_id)
            self._seen.add(event_id)

    async def _read_actions(self, admin: AdminClient, org_id: str, now: datetime) -> None:
        """The action names, once per ``actions_max_age`` (Atlassian publishes no list)."""
        if self._actions_at is not None and now - self._actions_at < self._options.actions_max_age:
            return
        self._actions = action_map(await admin.event_actions(org_id))
        self._actions_at = now
        await self._record({"actions": dict(self._actions), "actions_read_at": now})

    async def _site(self, integration: Integration) -> Site:
        cloud_id = integration.site.cloud_id if integration.site else None
        if not cloud_id and integration.current_snapshot_id:
            manifest = await self._deps.snapshots.manifest(integration.current_snapshot_id)
            cloud_id = manifest.facts.cloud_id if manifest and manifest.facts else None
        return Site(cloud_id or None, integration.site.url if integration.site else None)

    async def _off(self, reason: WatchReason, message: str, now: datetime) -> None:
        """Polling failed: say why, and try again later (more slowly each time)."""
        self._poll_failures += 1
        pause = min(self._options.backoff_max, self._options.poll_seconds * 2**self._poll_failures)
        self._next_poll = now + timedelta(seconds=pause)
        await self._record(
            {"watching": False, "reason": reason, "message": message, "last_polled_at": now}
        )
        log.warning("change watch of %s is off: %s", self.integration_id, message)

    # ----- refreshing -----------------------------------------------------------------

    def _mark(self) -> WatchMark:
        assert self._position is not None
        times = [e.time for e in self._pending.values() if e.time]
        return WatchMark(
            cursor=self._position,
            event_ids=tuple(self._recent),
            processed_at=self._last_processed,
            event_time=max(times) if times else None,
        )

    async def _submit_or_advance(self, integration: Integration, now: datetime) -> None:
        if self._inflight is not None or self._position is None:
            return
        if not self._pending:
            committed = self._committed
            if committed is None or committed.cursor != self._position:
                mark = self._mark()
                if await self._deps.watch.advance(
                    integration_id=integration.id, token=self.token, mark=mark
                ):
                    self._committed = mark
            return
        assert self._pending_since is not None
        if now - self._pending_since < timedelta(seconds=self._options.coalesce_seconds):
            return
        if self._retry_at is not None and now < self._retry_at:
            return
        # A run this watcher did not ask for (its predecessor's, completed by another worker
        # after a crash) may have committed these events since this step began: adopt first,
        # so they are not refreshed again (the window left is this read to the create below).
        await self._adopt(await self._deps.watch.committed(integration_id=integration.id))
        if not self._pending:
            return
        targets = RunTargets()
        for event_id in self._pending:
            targets = targets.merged(self._targets[event_id])
        mark = self._mark()
        run = await self._deps.queue.submit_targeted(integration, targets, mark)
        if run is None:
            return  # a run is running: it may have read before these events; next round
        self._inflight = _Inflight(run.id, mark, list(self._pending.values()), dict(self._targets))
        self._pending = {}
        self._targets = {}
        self._pending_since = None
        self._retry_at = None
        if run.status is SyncRunStatus.QUEUED and self._deps.dispatch is not None:
            self._deps.dispatch(integration.id)

    def _wait_after(self, came: int) -> float:
        """Seconds to the next poll: at once while the stream has more, else the interval."""
        return (
            0.0
            if came >= MAX_EVENTS_PAGE * self._options.max_pages
            else (self._options.poll_seconds)
        )

    def _wait(self, now: datetime) -> float:
        waits = [(self._next_poll - now).total_seconds()] if self._next_poll else [0.0]
        if self._pending and self._inflight is None and self._pending_since is not None:
            due = self._pending_since + timedelta(seconds=self._options.coalesce_seconds)
            if self._retry_at is not None:
                due = max(due, self._retry_at)
            waits.append((due - now).total_seconds())
        if self._inflight is not None:
            waits.append(0.5)  # the run's end is read from the store
        if self._comparing is not None:
            waits.append((self._comparing.due - now).total_seconds())
        return max(0.05, min(waits))

    # ----- comparing a full sync with the targeted runs -------------------------------

    async def _observe_snapshot(self, integration: Integration, now: datetime) -> None:
        current = integration.current_snapshot_id
        if current is None or current == self._snapshot:
            return
        self._snapshot = current
        snapshots = self._deps.snapshots
        manifest = await snapshots.manifest(current)
        if manifest is None or manifest.layered:
            return
        run = await self._deps.runs.get_by_snapshot(snapshot_id=current)
        if run is None or run.kind is not SyncRunKind.FULL or not run.previous_snapshot_id:
            return
        previous = await snapshots.manifest(run.previous_snapshot_id)
        if previous is None or not previous.layered:
            return  # nothing targeted to compare with
        finished = run.finished_at or now
        due = finished + timedelta(seconds=self._options.settle_seconds)
        self._comparing = _Comparing(run, previous, due)

    async def _compare_if_due(self, now: datetime) -> None:
        comparing = self._comparing
        if comparing is None or now < comparing.due:
            return
        self._comparing = None
        previous, full = comparing.previous, comparing.full
        horizon = previous.events_until
        if horizon is None or self._history_from is None or horizon < self._history_from:
            log.info(
                "change watch of %s: full sync %s not compared (the events since %s are not "
                "all known to this worker)",
                self.integration_id,
                full.id,
                previous.snapshot_id,
            )
            return
        snapshots = self._deps.snapshots
        found = await differences(
            snapshots.iter_accounts(snapshot_id=previous.snapshot_id),
            snapshots.iter_accounts(snapshot_id=full.snapshot_id),
        )
        unexplained = self._unexplained(found, horizon, full.finished_at or now)
        comparison = Comparison(
            at=now,
            full_snapshot_id=full.snapshot_id,
            targeted_snapshot_id=previous.snapshot_id,
            differences=len(found),
            unexplained=tuple(d.account_id for d in unexplained),
        )
        await self._record({"comparison": comparison})
        self._deps.metrics.watch_comparison(len(found), len(unexplained))
        if unexplained:
            log.error(
                "change watch of %s: full sync %s differs from the snapshot targeted runs "
                "built (%s) on %d account(s) that no event explains: %s",
                self.integration_id,
                full.id,
                previous.snapshot_id,
                len(unexplained),
                "; ".join(d.describe() for d in unexplained[:20]),
                extra={"differences": len(unexplained), "integration_id": self.integration_id},
            )
        else:
            log.info(
                "change watch of %s: full sync %s agrees with the targeted snapshot %s "
                "(%d difference(s), all explained by later events)",
                self.integration_id,
                full.id,
                previous.snapshot_id,
                len(found),
            )

    def _unexplained(
        self, found: list[Difference], horizon: datetime, finished: datetime
    ) -> list[Difference]:
        """The differences no event explains: a change not applied by the targeted runs yet
        (processed after their last event) and made before the full sync finished."""
        latest = finished + timedelta(seconds=self._options.settle_seconds)
        accounts: set[str] = set()
        group_ids: set[str] = set()
        for named in self._history:
            if named.processed_at is not None and named.processed_at < horizon:
                continue
            if named.time is not None and named.time > latest:
                continue
            accounts.update(named.users)
            group_ids.update(named.groups)
        names = self._group_names(group_ids, found)
        return [d for d in found if d.account_id not in accounts and not (d.groups & names)]

    @staticmethod
    def _group_names(group_ids: set[str], found: list[Difference]) -> set[str]:
        names: set[str] = set()
        for d in found:
            for account in (d.before, d.after):
                if account is None:
                    continue
                for grant in (*account.access_via, *account.admin_via):
                    if grant.group_id in group_ids and grant.group:
                        names.add(grant.group)
        return names

    async def _record(
        self, fields: Mapping[str, object], increments: Mapping[str, int] | None = None
    ) -> None:
        await self._deps.watch.record(
            integration_id=self.integration_id,
            token=self.token,
            fields=fields,
            increments=increments,
        )


def _ignore_retry(event: RetryEvent) -> None:
    """Retries of a poll are not a sync run's: nothing counts them."""


__all__ = ["StopWatching", "WatchDeps", "WatchOptions", "Watcher"]
