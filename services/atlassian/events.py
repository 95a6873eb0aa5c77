"""The organization's audit events (Admin API, confluence-api.md §5.10): what a poll returns.

``GET /admin/v1/orgs/{orgId}/events-stream`` answers ``{data: [event], meta: {next,
page_size}, links: {self, prev, next}}``. The cursor of the next read is ``meta.next`` (here
``links.next`` is a URL), present on every page — the last and the empty ones too — so a
poller continues where it stopped. An event is ``{id, type: "events", attributes: {time,
processedAt, action, actor, context: [{id, type, attributes}], container: [{id, type,
attributes}], location}}`` (jira.js admin models ``PollingEventPage``, ``PollingEventModel``,
``EventObjectModel``). Only what the change watch needs is kept: the event id (delivery is at
least once: the id deduplicates), its action, its times, the users and groups its ``context``
names (``type`` ``users`` / ``groups``) and the sites its ``container`` names (``type``
``sites``: the cloud id, and ``siteHostName`` when present).

``GET /admin/v1/orgs/{orgId}/event-actions`` lists the action names with their display names
and groups (``EventActionModel``): Atlassian publishes no list, so it is read at run time.

Undocumented, so read defensively: the ``groups`` context type (the ``users`` type and the
``sites`` container are as Atlassian's own events show them), a missing ``meta.next`` (the
previous cursor is kept), unparseable times (None), extra fields (ignored).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.confluence.errors import ConfluenceProtocolError, parse_datetime
from services.confluence.parsing import JsonObject, as_object, object_list

USERS, GROUPS, SITES = "users", "groups", "sites"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One event of the organization's audit log, as the change watch reads it."""

    id: str
    action: str
    time: datetime | None
    processed_at: datetime | None
    users: tuple[str, ...] = ()  # account ids in ``context`` (type ``users``)
    groups: tuple[str, ...] = ()  # group ids in ``context`` (type ``groups``)
    sites: tuple[str, ...] = ()  # cloud ids in ``container`` (type ``sites``)
    site_hosts: tuple[str, ...] = ()  # their ``siteHostName`` attributes

    @property
    def names_something(self) -> bool:
        """Whether the event names an account or a group (what a refresh can re-read)."""
        return bool(self.users or self.groups)


@dataclass(frozen=True, slots=True)
class EventPage:
    """One read of the stream: its events and the cursor of the next read (``meta.next``;
    None only when the answer had none, against the documentation)."""

    events: tuple[AuditEvent, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class EventAction:
    """An action name the organization's audit log uses, with its display names."""

    id: str
    display_name: str
    groups: tuple[str, ...] = ()


def parse_event_page(data: object, endpoint: str) -> EventPage:
    """An events-stream answer."""
    body = as_object(data, endpoint)
    events = tuple(parse_event(item, endpoint) for item in object_list(body, "data", endpoint))
    meta = body.get("meta")
    cursor = meta.get("next") if isinstance(meta, dict) else None
    return EventPage(events, cursor if isinstance(cursor, str) and cursor else None)


def parse_event(item: JsonObject, endpoint: str) -> AuditEvent:
    """One event (``PollingEventModel``)."""
    event_id = item.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise ConfluenceProtocolError(f"{endpoint}: an event without an id")
    attributes = item.get("attributes")
    attrs: JsonObject = attributes if isinstance(attributes, dict) else {}
    action = attrs.get("action")
    users, groups = _objects(attrs.get("context"), USERS), _objects(attrs.get("context"), GROUPS)
    containers = [c for c in _entries(attrs.get("container")) if c.get("type") == SITES]
    hosts = []
    for container in containers:
        details = container.get("attributes")
        host = details.get("siteHostName") if isinstance(details, dict) else None
        if isinstance(host, str) and host:
            hosts.append(host)
    return AuditEvent(
        id=event_id,
        action=action if isinstance(action, str) else "",
        time=parse_datetime(attrs.get("time")),
        processed_at=parse_datetime(attrs.get("processedAt")),
        users=users,
        groups=groups,
        sites=tuple(str(c["id"]) for c in containers if isinstance(c.get("id"), str)),
        site_hosts=tuple(hosts),
    )


def parse_event_actions(data: object, endpoint: str) -> list[EventAction]:
    """An event-actions answer (``EventActionModel``: ``{id, attributes: {displayName,
    groupDisplayNames}}``)."""
    body = as_object(data, endpoint)
    found = []
    for item in object_list(body, "data", endpoint):
        action_id = item.get("id")
        if not isinstance(action_id, str) or not action_id:
            continue
        attributes = item.get("attributes")
        attrs: JsonObject = attributes if isinstance(attributes, dict) else {}
        display = attrs.get("displayName")
        groups = attrs.get("groupDisplayNames")
        found.append(
            EventAction(
                id=action_id,
                display_name=display if isinstance(display, str) else "",
                groups=tuple(g for g in groups if isinstance(g, str))
                if isinstance(groups, list)
                else (),
            )
        )
    return found


def _entries(value: object) -> list[JsonObject]:
    return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []


def _objects(value: object, kind: str) -> tuple[str, ...]:
    ids = (e.get("id") for e in _entries(value) if e.get("type") == kind)
    return tuple(dict.fromkeys(i for i in ids if isinstance(i, str) and i))
