"""GraphQL types of the current snapshots: accounts (ACCESS_REVIEW) and pages (POLICY)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from resolvers.people_types import Person
from resolvers.relay import PageInfo
from services.identity.views import AccountView
from services.paging import Slice
from services.sync import models


@strawberry.enum
class IdentityClassification(Enum):
    """Who an account belongs to (SPEC §4)."""

    STAFF = "STAFF"
    NOT_STAFF = "NOT_STAFF"
    UNIDENTIFIED = "UNIDENTIFIED"


@strawberry.enum
class NotStaffKind(Enum):
    """What kind of non-staff account it is."""

    SERVICE = "SERVICE"
    SHARED = "SHARED"
    SYSTEM = "SYSTEM"
    EXTERNAL = "EXTERNAL"


@strawberry.type
class AccountIdentity:
    """The persistent classification of an account (issue 6: ``services.identity``)."""

    classification: IdentityClassification
    person: Person | None = None
    kind: NotStaffKind | None = None
    reason: str | None = None
    method: str | None = None
    decided_at: datetime | None = None

    @classmethod
    def from_view(cls, view: AccountView) -> AccountIdentity:
        """The identity (and linked person) of an account view."""
        i = view.identity
        return cls(
            classification=IdentityClassification(i.classification.value),
            person=Person.from_domain(view.person) if view.person else None,
            kind=NotStaffKind(i.kind.value) if i.kind else None,
            reason=i.reason,
            method=i.method.value if i.method else None,
            decided_at=i.decided_at,
        )


@strawberry.type
class Account:
    """A Confluence account as seen in the current access-review snapshot."""

    account_id: strawberry.ID
    display_name: str | None
    email: str | None
    account_type: str
    account_status: str
    is_admin: bool
    mfa_enabled: bool | None
    groups: list[str]
    last_active_at: datetime | None
    identity: AccountIdentity

    @classmethod
    def from_view(cls, view: AccountView) -> Account:
        """An account with its identity (``services.identity.views``)."""
        account = cls.from_domain(view.account)
        account.identity = AccountIdentity.from_view(view)
        return account

    @classmethod
    def from_domain(cls, a: models.SnapshotAccount) -> Account:
        """Map the domain object."""
        return cls(
            account_id=strawberry.ID(a.account_id),
            display_name=a.display_name,
            email=a.email,
            account_type=a.account_type,
            account_status=a.account_status,
            is_admin=a.is_admin,
            mfa_enabled=a.mfa_enabled,
            groups=list(a.groups),
            last_active_at=a.last_active_at,
            identity=AccountIdentity(classification=IdentityClassification.UNIDENTIFIED),
        )


@strawberry.input
class AccountFilter:
    """Every given filter must match; ``search`` matches display name or email."""

    classification: IdentityClassification | None = None
    status: str | None = strawberry.field(
        default=None, description="accountStatus: active, inactive, closed or unknown."
    )
    admin: bool | None = None
    group: str | None = strawberry.field(default=None, description="A group name.")
    search: str | None = None
    account_type: str | None = strawberry.field(
        default=None, description="accountType: atlassian, app, customer or unknown."
    )

    def to_domain(self) -> models.AccountFilter:
        """The service-layer filter."""
        return models.AccountFilter(
            classification=self.classification.value if self.classification else None,
            status=self.status,
            admin=self.admin,
            group=self.group,
            search=self.search,
            account_type=self.account_type,
        )


@strawberry.type
class AccountEdge:
    """An account and its cursor."""

    cursor: str
    node: Account


@strawberry.type
class AccountConnection:
    """Accounts of the current snapshot, by account id."""

    edges: list[AccountEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def of(cls, page: Slice[AccountView]) -> AccountConnection:
        """Map a service-layer slice."""
        return cls(
            edges=[AccountEdge(cursor=c, node=Account.from_view(a)) for c, a in page.items],
            page_info=PageInfo.of(page),
            total_count=page.total_count,
        )


@strawberry.type
class ConfluencePage:
    """A page of the current POLICY snapshot."""

    id: strawberry.ID
    title: str
    status: str
    space_key: str | None
    space_name: str | None
    version: int | None
    last_modified_at: datetime | None
    last_modified_by: str | None
    created_at: datetime | None
    created_by: str | None
    labels: list[str]
    url: str | None

    @classmethod
    def from_domain(cls, p: models.SnapshotPage) -> ConfluencePage:
        """Map the domain object."""
        return cls(
            id=strawberry.ID(p.page_id),
            title=p.title,
            status=p.status,
            space_key=p.space_key,
            space_name=p.space_name,
            version=p.version,
            last_modified_at=p.last_modified_at,
            last_modified_by=p.last_modified_by,
            created_at=p.created_at,
            created_by=p.created_by,
            labels=list(p.labels),
            url=p.web_url,
        )


@strawberry.input
class PageFilter:
    """Every given filter must match; ``space`` is a space key, ``search`` matches titles."""

    label: str | None = None
    space: str | None = None
    search: str | None = None

    def to_domain(self) -> models.PageFilter:
        """The service-layer filter."""
        return models.PageFilter(label=self.label, space=self.space, search=self.search)


@strawberry.type
class PageEdge:
    """A page and its cursor."""

    cursor: str
    node: ConfluencePage


@strawberry.type
class PageConnection:
    """Pages of the current POLICY snapshot, by page id."""

    edges: list[PageEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def of(cls, page: Slice[models.SnapshotPage]) -> PageConnection:
        """Map a service-layer slice."""
        return cls(
            edges=[PageEdge(cursor=c, node=ConfluencePage.from_domain(p)) for c, p in page.items],
            page_info=PageInfo.of(page),
            total_count=page.total_count,
        )
