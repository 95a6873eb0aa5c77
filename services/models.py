"""Domain objects shared by services, the store and resolvers (no driver types)."""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self, cast


class Role(enum.StrEnum):
    """What an API key may do: ADMIN everything, REVIEWER read + decisions, VIEWER read."""

    ADMIN = "ADMIN"
    REVIEWER = "REVIEWER"
    VIEWER = "VIEWER"

    def allows(self, required: Role) -> bool:
        """Whether this role includes the permissions of ``required``."""
        return _RANK[self] >= _RANK[required]


_RANK = {Role.VIEWER: 0, Role.REVIEWER: 1, Role.ADMIN: 2}


class _Reported(enum.StrEnum):
    """A value Atlassian reports from an open set: one it adds later is UNKNOWN."""

    @classmethod
    def parse(cls, value: object) -> Self:
        """Normalise a raw value (case-insensitive); anything unrecognised is UNKNOWN."""
        if not isinstance(value, str):
            return cls("unknown")
        return cast(Self, _parse(cls, value))


@functools.lru_cache(maxsize=1024)  # a few values each, parsed for every stored account
def _parse(kind: type[_Reported], value: str) -> _Reported:
    try:
        return kind(value.strip().lower())
    except ValueError:
        return kind("unknown")


class AccountType(_Reported):
    """An Atlassian account's type (``accountType``, confluence-api.md §5.4)."""

    ATLASSIAN = "atlassian"
    APP = "app"
    CUSTOMER = "customer"
    UNKNOWN = "unknown"


class AccountStatus(_Reported):
    """An Atlassian account's status (``accountStatus``, confluence-api.md §5.4 and §5.8): only
    ACTIVE can log in. (The Admin API's composite ``status`` is another field; the client
    folds it into this one.)"""

    ACTIVE = "active"
    INACTIVE = "inactive"
    CLOSED = "closed"
    UNKNOWN = "unknown"


class DirectoryStatus(_Reported):
    """An account's status in one directory of the Atlassian organization: the directory the
    site is mapped to (``userDirectoryStatus`` of a role-assignments read, or the organization-wide
    ``membershipStatus`` when the organization has one directory; confluence-api.md §5.8-§5.9).
    Only ACTIVE may use the site; SUSPENDED keeps its groups and roles until restored."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    NO_MEMBERSHIP = "no_membership"
    UNKNOWN = "unknown"


class ClaimStatus(_Reported):
    """Whether the organization manages the account (``claimStatus``, confluence-api.md §5.8):
    MANAGED accounts are on one of its verified domains (they can be deactivated; their MFA is
    known), UNMANAGED ones are not."""

    MANAGED = "managed"
    UNMANAGED = "unmanaged"
    UNKNOWN = "unknown"


class Framework(enum.StrEnum):
    """Compliance frameworks whose required policies Vigil tracks."""

    SOC2 = "SOC2"
    ISO27001 = "ISO27001"


@dataclass(frozen=True, slots=True)
class Organization:
    """A tenant: everything else belongs to exactly one organization."""

    id: str
    name: str
    created_at: datetime
    frameworks: tuple[Framework, ...] = ()


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """An API key to store: its organization, role and name, and its value's prefix and hash."""

    organization_id: str
    role: Role
    name: str
    prefix: str
    secret_hash: str
    owner_user_id: str | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key's stored facts (never its secret value)."""

    id: str
    organization_id: str
    role: Role
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    owner_user_id: str | None = None  # a person's key: listed under them, revoked when they leave

    @property
    def active(self) -> bool:
        """Whether the key still authenticates."""
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class Person:
    """A person signed in with a session: who they are, as their identity provider said."""

    user_id: str
    display_name: str
    email: str
    atlassian_account_id: str | None = None


class ActorKind(enum.StrEnum):
    """Who acted: a person (a session), an API key (a machine), or Vigil itself."""

    PERSON = "PERSON"
    API_KEY = "API_KEY"
    SYSTEM = "SYSTEM"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller in one organization: an API key, or a person's session.

    ``actor_id`` is what every "who acted" field stores (``decided_by``, ``created_by``,
    ...): the API key id, or the person's user id. ``credential_id`` is what can be revoked
    (the key, or the session) and what rate limits and open sockets are counted by.
    """

    organization_id: str
    role: Role
    api_key_id: str | None = None
    person: Person | None = None
    session_id: str | None = None
    key_name: str | None = None

    def __post_init__(self) -> None:
        if (self.api_key_id is None) == (self.person is None):
            raise ValueError("a principal is either an API key or a signed-in person")
        if self.person is not None and self.session_id is None:
            raise ValueError("a signed-in person acts through a session")

    @property
    def actor_id(self) -> str:
        """The id stored as who acted: the key id or the person's user id."""
        if self.person is not None:
            return self.person.user_id
        assert self.api_key_id is not None
        return self.api_key_id

    @property
    def credential_id(self) -> str:
        """The revocable credential behind the call: the session id or the key id."""
        if self.session_id is not None:
            return self.session_id
        assert self.api_key_id is not None
        return self.api_key_id

    @property
    def actor_kind(self) -> ActorKind:
        """PERSON for a session, API_KEY for a key."""
        return ActorKind.PERSON if self.person is not None else ActorKind.API_KEY

    def describe(self) -> dict[str, Any]:
        """Who this caller is, as evidence records it (format 3's ``actor``)."""
        if self.person is not None:
            return {
                "kind": ActorKind.PERSON.value,
                "id": self.person.user_id,
                "name": self.person.display_name,
                "email": self.person.email,
                "atlassianAccountId": self.person.atlassian_account_id,
            }
        return {"kind": ActorKind.API_KEY.value, "id": self.api_key_id, "name": self.key_name}


@dataclass(frozen=True, slots=True)
class Action:
    """A decision a person or key made, recorded as evidence under the check it concerns
    (an access decision, an exception, a policy approval): what, who, when, about what."""

    organization_id: str
    check_id: str
    kind: str
    actor: Mapping[str, Any]
    at: datetime
    details: Mapping[str, Any]
    subjects: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    """A freshly created key: the only time its secret value exists outside the caller."""

    key: ApiKey
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class RevisionState:
    """A per-organization revision counter (people, identities; ``services/store/revisions``).

    The latest reserved number, and whether a writer may still be writing below it.
    """

    value: int
    writing: bool
