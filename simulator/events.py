"""The organization's audit events, as ``GET /admin/v1/orgs/{orgId}/events-stream`` serves them.

Shapes (confluence-api.md §5.10; jira.js admin models ``PollingEventModel``,
``PollingEventPage``, ``EventActorModel``, ``EventObjectModel``, ``EventActionModel``):
an event is ``{id, type: "events", attributes: {time, processedAt, action, actor, context,
container, location}, links: {self}}``; a page is ``{data, meta: {next, page_size}, links:
{self, prev, next}}`` with the cursor in ``meta.next`` (``links.next`` is a URL), a cursor even
on the last page, events ordered by processing time.

Events come from the simulator's own admin actions (``simulator.actions``). Atlassian publishes
no list of action names; the ones used here are chosen (docs/simulator.md says from what) and
served by ``event-actions``.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from simulator.model import iso

# action id -> (display name, group display name). Snake-case ids like the audit log's own
# (`user_logged_in_as_user`, `project_updated`); display names, where Atlassian's audit-log
# activities database has one, are its wording.
EVENT_ACTIONS: dict[str, tuple[str, str]] = {
    "user_added_to_group": ("Added user to group", "Group management"),
    "user_removed_from_group": ("Removed user from group", "Group management"),
    "user_granted_role": ("Granted role to user", "Product access"),
    "user_revoked_role": ("Revoked role from user", "Product access"),
    "user_access_suspended": ("Suspended user access", "User management"),
    "user_access_restored": ("Restored user access", "User management"),
    "account_deactivated": ("Deactivated account", "Atlassian accounts"),
    "account_reactivated": ("Reactivated account", "Atlassian accounts"),
}
MAX_PAGE = 200
DEFAULT_PAGE = 100


@dataclass(frozen=True, slots=True)
class Event:
    """One recorded event (rendered to JSON by ``Event.to_json``)."""

    seq: int
    event_id: str
    time: datetime
    processed_at: datetime
    action: str
    actor: dict[str, Any]
    context: tuple[dict[str, Any], ...]
    container: tuple[dict[str, Any], ...]
    location: dict[str, Any] | None

    @property
    def position(self) -> tuple[int, int]:
        """Where the event sits in the stream: processing time (ms), then arrival order."""
        return (_ms(self.processed_at), self.seq)

    def to_json(self, api_base: str, org_id: str) -> dict[str, Any]:
        """The event as the stream serves it."""
        attributes: dict[str, Any] = {
            "time": iso(self.time),
            "processedAt": iso(self.processed_at),
            "action": self.action,
            "actor": self.actor,
            "context": list(self.context),
            "container": list(self.container),
        }
        if self.location is not None:
            attributes["location"] = self.location
        return {
            "id": self.event_id,
            "type": "events",
            "attributes": attributes,
            "links": {"self": f"{api_base}/admin/v1/orgs/{org_id}/events/{self.event_id}"},
        }


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


@dataclass(slots=True)
class StreamQuery:
    """Where a stream read starts and what it keeps (what a cursor carries)."""

    after: tuple[int, int] | None = None  # position of the last event delivered
    from_ms: int | None = None
    to_ms: int | None = None
    descending: bool = False
    limit: int = DEFAULT_PAGE


def encode_stream_cursor(query: StreamQuery) -> str:
    """An opaque cursor for the next read of the same stream."""
    raw = {
        "a": list(query.after) if query.after else None,
        "f": query.from_ms,
        "t": query.to_ms,
        "d": query.descending,
        "l": query.limit,
    }
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def decode_stream_cursor(cursor: str) -> StreamQuery:
    """The query in a cursor; ValueError if it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = json.loads(base64.urlsafe_b64decode(padded.encode()))
        after = raw["a"]
        return StreamQuery(
            after=(int(after[0]), int(after[1])) if after else None,
            from_ms=None if raw["f"] is None else int(raw["f"]),
            to_ms=None if raw["t"] is None else int(raw["t"]),
            descending=bool(raw["d"]),
            limit=int(raw["l"]),
        )
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise ValueError("malformed cursor") from exc


@dataclass(slots=True)
class EventLog:
    """Every event of the organization, with deterministic ids and duplicate draws."""

    seed: int = 1
    events: list[Event] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _rng: random.Random = field(init=False)
    _duplicates_queued: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(f"events:{self.seed}")

    def record(
        self,
        action: str,
        *,
        now: datetime,
        delay_seconds: float,
        actor: dict[str, Any],
        context: list[dict[str, Any]],
        container: list[dict[str, Any]],
        location: dict[str, Any] | None,
    ) -> Event:
        """Record an event that happened at ``now`` and is processed ``delay_seconds`` later."""
        if action not in EVENT_ACTIONS:
            raise ValueError(f"unknown event action {action!r}")
        with self._lock:
            event = Event(
                seq=len(self.events) + 1,
                event_id=str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
                time=now.astimezone(UTC),
                processed_at=(now + timedelta(seconds=delay_seconds)).astimezone(UTC),
                action=action,
                actor=actor,
                context=tuple(context),
                container=tuple(container),
                location=location,
            )
            self.events.append(event)
            return event

    def duplicate_next(self, pages: int = 1) -> None:
        """The next ``pages`` stream reads that follow a cursor deliver the event at the
        cursor again (a scripted at-least-once duplicate)."""
        with self._lock:
            self._duplicates_queued += pages

    def page(
        self, query: StreamQuery, *, now: datetime, duplicate_rate: float
    ) -> tuple[list[Event], StreamQuery]:
        """The events of one read (processed by ``now``) and the query of the next read."""
        now_ms = _ms(now)
        with self._lock:
            duplicate = False
            if query.after is not None:
                if self._duplicates_queued:
                    self._duplicates_queued -= 1
                    duplicate = True
                elif duplicate_rate and self._rng.random() < duplicate_rate:
                    duplicate = True
            visible = [
                e
                for e in self.events
                if e.position[0] <= now_ms
                and (query.from_ms is None or _ms(e.time) >= query.from_ms)
                and (query.to_ms is None or _ms(e.time) <= query.to_ms)
            ]
        visible.sort(key=lambda e: e.position, reverse=query.descending)
        if query.after is not None:
            after = query.after
            if query.descending:
                visible = [
                    e for e in visible if e.position < after or (duplicate and e.position == after)
                ]
            else:
                visible = [
                    e for e in visible if e.position > after or (duplicate and e.position == after)
                ]
        chunk = visible[: query.limit]
        last = chunk[-1].position if chunk else query.after
        # A cursor even on the last page: the next read continues after what was delivered.
        following = StreamQuery(last, query.from_ms, query.to_ms, query.descending, query.limit)
        return chunk, following

    def reset_scripts(self) -> None:
        """Drop scripted duplicates (``duplicate_next``)."""
        with self._lock:
            self._duplicates_queued = 0

    def clear(self) -> None:
        """Forget every event (tests that want an empty stream)."""
        with self._lock:
            self.events.clear()
            self._duplicates_queued = 0
