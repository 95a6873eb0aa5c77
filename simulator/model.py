"""Plain data records of a simulated Confluence site: accounts, groups, spaces, pages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simulator.roles import check_roles, default_group_roles

ADMIN_GROUP_NAMES = ("confluence-administrators", "site-admins", "administrators")
REQUIRED_SECTIONS = ("Purpose", "Scope", "Policy")
POLICY_LABEL = "policy"

_HEADING_RE = re.compile(r"<h([1-6])[^>]*>(.*?)</h\1>", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"<[^>]+>")


def iso(when: datetime | None) -> str | None:
    """Format a datetime the way Atlassian does (UTC, milliseconds, Z)."""
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def parse_time(value: Any) -> datetime | None:
    """Parse an ISO 8601 time (with Z or offset); None stays None."""
    if value is None or value == "":
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(slots=True)
class Account:
    """An Atlassian account as Confluence knows it (plus its org-directory facts)."""

    account_id: str
    display_name: str
    email: str = ""
    email_visible: bool = True
    account_type: str = "atlassian"
    account_status: str = "active"
    public_name: str = ""
    time_zone: str = "Etc/UTC"
    is_external_collaborator: bool = False
    mfa_enabled: bool | None = None  # None = unknown (unmanaged account)
    last_active: datetime | None = None
    added_to_org: datetime | None = None

    @property
    def visible_email(self) -> str:
        """The email an API caller sees: empty when hidden by profile privacy."""
        return self.email if self.email_visible else ""

    def to_json(self) -> dict[str, Any]:
        """Serialise for a site JSON file."""
        return {
            "accountId": self.account_id,
            "displayName": self.display_name,
            "publicName": self.public_name,
            "email": self.email,
            "emailVisible": self.email_visible,
            "accountType": self.account_type,
            "accountStatus": self.account_status,
            "timeZone": self.time_zone,
            "isExternalCollaborator": self.is_external_collaborator,
            "mfaEnabled": self.mfa_enabled,
            "lastActive": iso(self.last_active),
            "addedToOrg": iso(self.added_to_org),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Account:
        """Build from a site JSON entry; only accountId is required."""
        name = str(data.get("displayName") or data["accountId"])
        return cls(
            account_id=str(data["accountId"]),
            display_name=name,
            public_name=str(data.get("publicName") or name),
            email=str(data.get("email") or ""),
            email_visible=bool(data.get("emailVisible", True)),
            account_type=str(data.get("accountType", "atlassian") or ""),
            account_status=str(data.get("accountStatus", "active")),
            time_zone=str(data.get("timeZone", "Etc/UTC")),
            is_external_collaborator=bool(data.get("isExternalCollaborator", False)),
            mfa_enabled=data.get("mfaEnabled"),
            last_active=parse_time(data.get("lastActive")),
            added_to_org=parse_time(data.get("addedToOrg")),
        )


@dataclass(slots=True)
class Group:
    """A Confluence group with its ordered member account ids.

    ``roles``: the roles the group carries on its site (``simulator.roles``; its members hold
    them with the assignment method ``group_direct``). None means "not said": the legacy
    default by name (``simulator.roles.default_group_roles``), resolved at construction.
    ``synced``: the group is synced from an identity provider (``managedBy: EXTERNAL``);
    ``idp_member_ids`` is the membership the IdP pushes (taken from ``member_ids`` when unset).
    """

    group_id: str
    name: str
    member_ids: list[str] = field(default_factory=list)
    roles: tuple[str, ...] | None = None
    synced: bool = False
    idp_member_ids: list[str] | None = None

    def __post_init__(self) -> None:
        self.roles = check_roles(
            default_group_roles(self.name) if self.roles is None else self.roles
        )
        if self.synced and self.idp_member_ids is None:
            self.idp_member_ids = list(self.member_ids)

    @property
    def role_set(self) -> tuple[str, ...]:
        """The roles the group carries (never None after construction)."""
        return self.roles or ()

    def to_json(self) -> dict[str, Any]:
        """Serialise for a site JSON file."""
        data: dict[str, Any] = {
            "id": self.group_id,
            "name": self.name,
            "members": list(self.member_ids),
            "roles": list(self.role_set),
        }
        if self.synced:
            data["synced"] = True
            data["idpMembers"] = list(self.idp_member_ids or [])
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Group:
        """Build from a site JSON entry (``roles`` optional: the legacy default by name)."""
        roles = data.get("roles")
        idp = data.get("idpMembers")
        return cls(
            str(data["id"]),
            str(data["name"]),
            [str(m) for m in data.get("members", [])],
            roles=None if roles is None else tuple(str(r) for r in roles),
            synced=bool(data.get("synced", False)),
            idp_member_ids=None if idp is None else [str(m) for m in idp],
        )


@dataclass(slots=True)
class Space:
    """A Confluence space; restricted spaces are visible to admins only."""

    space_id: str
    key: str
    name: str
    type: str = "global"
    status: str = "current"
    restricted: bool = False
    created_at: datetime | None = None
    author_id: str = ""

    def to_json(self) -> dict[str, Any]:
        """Serialise for a site JSON file."""
        return {
            "id": self.space_id,
            "key": self.key,
            "name": self.name,
            "type": self.type,
            "status": self.status,
            "restricted": self.restricted,
            "createdAt": iso(self.created_at),
            "authorId": self.author_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Space:
        """Build from a site JSON entry."""
        return cls(
            space_id=str(data["id"]),
            key=str(data["key"]),
            name=str(data.get("name") or data["key"]),
            type=str(data.get("type", "global")),
            status=str(data.get("status", "current")),
            restricted=bool(data.get("restricted", False)),
            created_at=parse_time(data.get("createdAt")),
            author_id=str(data.get("authorId", "")),
        )


@dataclass(slots=True)
class Page:
    """A Confluence page with its storage-format body and version facts."""

    page_id: str
    title: str
    space_key: str
    body: str = ""
    status: str = "current"
    labels: list[str] = field(default_factory=list)
    version: int = 1
    last_modified: datetime = field(default_factory=lambda: datetime(2024, 1, 1, tzinfo=UTC))
    last_modified_by: str = ""
    created_at: datetime = field(default_factory=lambda: datetime(2024, 1, 1, tzinfo=UTC))
    created_by: str = ""

    @property
    def headings(self) -> list[str]:
        """The text of every <h1>…<h6> heading in the body, in order."""
        return [_TAG_RE.sub("", m.group(2)).strip() for m in _HEADING_RE.finditer(self.body)]

    def missing_sections(self, required: tuple[str, ...] = REQUIRED_SECTIONS) -> list[str]:
        """Required section headings absent from the body (case-insensitive)."""
        present = {h.casefold() for h in self.headings}
        return [s for s in required if s.casefold() not in present]

    def is_stale(self, now: datetime, max_age_days: int = 365) -> bool:
        """True when the page was last modified more than max_age_days before now."""
        return (now - self.last_modified).days > max_age_days

    def to_json(self) -> dict[str, Any]:
        """Serialise for a site JSON file."""
        return {
            "id": self.page_id,
            "title": self.title,
            "spaceKey": self.space_key,
            "status": self.status,
            "labels": list(self.labels),
            "body": self.body,
            "version": self.version,
            "lastModified": iso(self.last_modified),
            "lastModifiedBy": self.last_modified_by,
            "createdAt": iso(self.created_at),
            "createdBy": self.created_by,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Page:
        """Build from a site JSON entry."""
        default = datetime(2024, 1, 1, tzinfo=UTC)
        created = parse_time(data.get("createdAt")) or default
        return cls(
            page_id=str(data["id"]),
            title=str(data["title"]),
            space_key=str(data["spaceKey"]),
            body=str(data.get("body", "")),
            status=str(data.get("status", "current")),
            labels=[str(label) for label in data.get("labels", [])],
            version=int(data.get("version", 1)),
            last_modified=parse_time(data.get("lastModified")) or created,
            last_modified_by=str(data.get("lastModifiedBy", "")),
            created_at=created,
            created_by=str(data.get("createdBy", "")),
        )
