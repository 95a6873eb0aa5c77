"""Typed results of the Confluence and Atlassian Admin clients (parsed at the boundary)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from services.models import AccountStatus, AccountType, ClaimStatus, DirectoryStatus

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ResultPage(Generic[T]):
    """One page of results and the opaque cursor of the next page (None on the last page)."""

    items: list[T]
    next_cursor: str | None
    # What the page held but could not be used (e.g. a v1 group without an id), described
    # for a warning in the sync run.
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CurrentUser:
    """The account the credential acts as."""

    account_id: str
    display_name: str
    email: str | None
    account_type: AccountType
    is_admin: bool


@dataclass(frozen=True, slots=True)
class Group:
    """A Confluence group."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Member:
    """A member of a group (v1 user); email is None when hidden by privacy settings."""

    account_id: str
    account_type: AccountType
    display_name: str
    email: str | None


@dataclass(frozen=True, slots=True)
class BulkUser:
    """A user from the v2 bulk lookup; email is None when hidden by privacy settings."""

    account_id: str
    account_type: AccountType
    account_status: AccountStatus
    display_name: str
    email: str | None


@dataclass(frozen=True, slots=True)
class Page:
    """A Confluence page with the metadata policy checks need."""

    id: str
    title: str
    status: str
    space_id: str | None
    space_key: str | None
    space_name: str | None
    version_number: int | None
    last_modified_at: datetime | None
    last_modified_by: str | None
    created_at: datetime | None
    created_by: str | None
    labels: tuple[str, ...]
    web_url: str | None
    body_storage: str | None


@dataclass(frozen=True, slots=True)
class Space:
    """A Confluence space."""

    id: str
    key: str
    name: str
    type: str | None
    status: str | None


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """A user of an Atlassian organization directory (Admin API).

    ``account_status`` is the account's own ``accountStatus``; ``membership_status`` the
    organization-wide ``membershipStatus`` (``suspended`` only when suspended in every
    directory); ``site_access`` whether ``productAccess`` has a Confluence entry for the site
    (the account holds an access role there, whatever its status); ``platform_roles`` the
    ``platformRoles`` (org-admin, site-admin of some site) when expanded.
    """

    account_id: str
    account_type: AccountType
    account_status: AccountStatus
    display_name: str | None
    email: str | None
    mfa_enabled: bool | None
    last_active: datetime | None
    membership_status: DirectoryStatus = DirectoryStatus.UNKNOWN
    claim_status: ClaimStatus = ClaimStatus.UNKNOWN
    site_access: bool = False
    platform_roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    """One resource of an account's role assignments (Admin API, confluence-api.md §5.9):
    ``roles`` maps each role id to its assignment methods (``direct``, ``group_direct``,
    ``inferred``); ``directory_id``/``directory_status`` are the directory the resource is
    mapped to and the account's ``userDirectoryStatus`` there (None for platform roles)."""

    resource_id: str
    roles: tuple[tuple[str, tuple[str, ...]], ...]
    directory_id: str | None = None
    directory_status: DirectoryStatus | None = None

    def methods(self, role: str) -> tuple[str, ...]:
        """How ``role`` is assigned on this resource (empty: not held)."""
        return next((m for r, m in self.roles if r == role), ())
