"""GraphQL types of the current snapshots: accounts (ACCESS_REVIEW) and pages (POLICY)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from resolvers.people_types import Person
from resolvers.relay import CURSOR, EDGES, PAGE_INFO, TOTAL_COUNT, PageInfo, wire
from services.identity.views import AccountView
from services.paging import Slice
from services.sync import models

_FILTER_TEXT = "At most 200 characters."


@strawberry.enum(description="Who an account belongs to (SPEC §4).")
class IdentityClassification(Enum):
    STAFF = strawberry.enum_value("STAFF", description="A person of the workforce.")
    NOT_STAFF = strawberry.enum_value(
        "NOT_STAFF", description="A service, shared, system or external account (see `kind`)."
    )
    UNIDENTIFIED = strawberry.enum_value(
        "UNIDENTIFIED", description="Not yet linked to a person nor classified: needs a decision."
    )


@strawberry.enum(description="What kind of non-staff account it is.")
class NotStaffKind(Enum):
    SERVICE = strawberry.enum_value(
        "SERVICE", description="Used by software of the organization (an integration, a bot)."
    )
    SHARED = strawberry.enum_value("SHARED", description="Shared by several people.")
    SYSTEM = strawberry.enum_value(
        "SYSTEM", description="An Atlassian app account (classified automatically)."
    )
    EXTERNAL = strawberry.enum_value(
        "EXTERNAL", description="Someone outside the workforce (contractor, partner, customer)."
    )


@strawberry.enum(description="How an identity was decided.")
class IdentityMethod(Enum):
    AUTO_EMAIL = strawberry.enum_value(
        "AUTO_EMAIL", description="Automatically: the account's email matches a person's."
    )
    AUTO_APP = strawberry.enum_value(
        "AUTO_APP", description="Automatically: Atlassian reports an app account (SYSTEM)."
    )
    MANUAL = strawberry.enum_value(
        "MANUAL", description="By an ADMIN; never overwritten by automatic resolution."
    )


@strawberry.enum(description="An Atlassian account's status, as Atlassian reports it.")
class AccountStatus(Enum):
    ACTIVE = strawberry.enum_value("active", description="Can log in.")
    INACTIVE = strawberry.enum_value("inactive", description="Deactivated; cannot log in.")
    CLOSED = strawberry.enum_value("closed", description="Deleted or closed by its owner.")
    UNKNOWN = strawberry.enum_value(
        "unknown", description="Not reported, or a value Atlassian added later."
    )


@strawberry.enum(description="An Atlassian account's type, as Atlassian reports it.")
class AccountType(Enum):
    ATLASSIAN = strawberry.enum_value("atlassian", description="A person's Atlassian account.")
    APP = strawberry.enum_value("app", description="An app (bot) account.")
    CUSTOMER = strawberry.enum_value(
        "customer", description="A Jira Service Management customer account."
    )
    UNKNOWN = strawberry.enum_value(
        "unknown", description="Not reported, or a value Atlassian added later."
    )


def account_status(value: str) -> AccountStatus:
    """The enum for a stored status; values Atlassian adds later are UNKNOWN."""
    try:
        return AccountStatus(value)
    except ValueError:
        return AccountStatus.UNKNOWN


def account_type(value: str | None) -> AccountType:
    """The enum for a stored type; values Atlassian adds later are UNKNOWN."""
    try:
        return AccountType(value)
    except ValueError:
        return AccountType.UNKNOWN


@strawberry.type(description="The persistent classification of an account and who it is.")
class AccountIdentity:
    classification: IdentityClassification = strawberry.field(
        description="Staff, not staff, or still unidentified."
    )
    person: Person | None = strawberry.field(
        default=None, description="The linked person when STAFF; null otherwise."
    )
    kind: NotStaffKind | None = strawberry.field(
        default=None, description="What kind of account when NOT_STAFF; null otherwise."
    )
    reason: str | None = strawberry.field(
        default=None, description="Why it was classified NOT_STAFF (required then)."
    )
    method: IdentityMethod | None = strawberry.field(
        default=None, description="How it was decided; null when UNIDENTIFIED."
    )
    decided_at: datetime | None = strawberry.field(
        default=None, description="When it was decided (UTC); null when UNIDENTIFIED."
    )

    @classmethod
    def from_view(cls, view: AccountView) -> AccountIdentity:
        """The identity (and linked person) of an account view."""
        i = view.identity
        return cls(
            classification=IdentityClassification(i.classification.value),
            person=Person.from_domain(view.person) if view.person else None,
            kind=NotStaffKind(i.kind.value) if i.kind else None,
            reason=i.reason,
            method=IdentityMethod(i.method.value) if i.method else None,
            decided_at=i.decided_at,
        )


@strawberry.type(description="A Confluence account as seen in the current access snapshot.")
class Account:
    account_id: strawberry.ID = strawberry.field(description="The Atlassian account id.")
    display_name: str | None = strawberry.field(description="Public name, as Atlassian shows.")
    email: str | None = strawberry.field(
        description="Email, when Atlassian discloses it (the profile's visibility setting or "
        "an admin key)."
    )
    account_type: AccountType = strawberry.field(description="Person, app or customer account.")
    account_status: AccountStatus = strawberry.field(description="Whether it can log in.")
    is_admin: bool = strawberry.field(
        description="True when in one of the site's admin groups (`Integration` admin groups)."
    )
    mfa_enabled: bool | None = strawberry.field(
        description="Whether two-step verification is on; null without an admin key."
    )
    groups: list[str] = strawberry.field(description="Names of the groups it belongs to.")
    last_active_at: datetime | None = strawberry.field(
        description="Last activity reported by the admin directory (UTC); null without one."
    )
    identity: AccountIdentity = strawberry.field(
        description="Who the account belongs to (staff person, not staff, unidentified)."
    )

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
            account_type=account_type(a.account_type),
            account_status=account_status(a.account_status),
            is_admin=a.is_admin,
            mfa_enabled=a.mfa_enabled,
            groups=list(a.groups),
            last_active_at=a.last_active_at,
            identity=AccountIdentity(classification=IdentityClassification.UNIDENTIFIED),
        )


@strawberry.input(description="Filters of `accounts`: every given filter must match.")
class AccountFilter:
    classification: IdentityClassification | None = strawberry.field(
        default=None, description="Only accounts with this identity classification."
    )
    status: AccountStatus | None = strawberry.field(
        default=None, description="Only accounts with this `accountStatus`."
    )
    admin: bool | None = strawberry.field(
        default=None, description="Only admins (true) or only non-admins (false)."
    )
    group: str | None = strawberry.field(
        default=None, description=f"Only members of the group with this exact name. {_FILTER_TEXT}"
    )
    search: str | None = strawberry.field(
        default=None,
        description=f"Case-insensitive substring of display name or email. {_FILTER_TEXT}",
    )
    account_type: AccountType | None = strawberry.field(
        default=None, description="Only accounts with this `accountType`."
    )

    def to_domain(self) -> models.AccountFilter:
        """The service-layer filter."""
        return models.AccountFilter(
            classification=wire(self.classification) if self.classification else None,
            status=wire(self.status) if self.status else None,
            admin=self.admin,
            group=self.group,
            search=self.search,
            account_type=wire(self.account_type) if self.account_type else None,
        )


@strawberry.type(description="An account and its cursor.")
class AccountEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: Account = strawberry.field(description="The account.")


@strawberry.type(description="Accounts of the current access snapshot, by account id.")
class AccountConnection:
    edges: list[AccountEdge] = strawberry.field(description=EDGES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)
    total_count: int = strawberry.field(description=TOTAL_COUNT)

    @classmethod
    def of(cls, page: Slice[AccountView], after: str | None = None) -> AccountConnection:
        """Map a service-layer slice."""
        return cls(
            edges=[AccountEdge(cursor=c, node=Account.from_view(a)) for c, a in page.items],
            page_info=PageInfo.of(page, after),
            total_count=page.total_count,
        )


@strawberry.type(description="A page of the current POLICY snapshot.")
class ConfluencePage:
    id: strawberry.ID = strawberry.field(description="The Confluence page id.")
    title: str = strawberry.field(description="The page title.")
    status: str = strawberry.field(
        description="`current`, `archived`, `draft`… as Confluence reports it (open set)."
    )
    space_key: str | None = strawberry.field(description="Key of the page's space.")
    space_name: str | None = strawberry.field(description="Name of the page's space.")
    version: int | None = strawberry.field(description="The page's version number.")
    last_modified_at: datetime | None = strawberry.field(
        description="When the page's current version was made (UTC)."
    )
    last_modified_by: str | None = strawberry.field(
        description="Atlassian account id of the current version's author."
    )
    created_at: datetime | None = strawberry.field(description="When the page was created (UTC).")
    created_by: str | None = strawberry.field(description="Atlassian account id of its author.")
    labels: list[str] = strawberry.field(description="The page's labels.")
    url: str | None = strawberry.field(description="Link to the page in Confluence.")

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


@strawberry.input(description="Filters of `confluencePages`: every given filter must match.")
class PageFilter:
    label: str | None = strawberry.field(
        default=None, description=f"Only pages with this label. {_FILTER_TEXT}"
    )
    space: str | None = strawberry.field(
        default=None, description=f"Only pages of the space with this key. {_FILTER_TEXT}"
    )
    search: str | None = strawberry.field(
        default=None, description=f"Case-insensitive substring of the title. {_FILTER_TEXT}"
    )

    def to_domain(self) -> models.PageFilter:
        """The service-layer filter."""
        return models.PageFilter(label=self.label, space=self.space, search=self.search)


@strawberry.type(description="A page and its cursor.")
class PageEdge:
    cursor: str = strawberry.field(description=CURSOR)
    node: ConfluencePage = strawberry.field(description="The page.")


@strawberry.type(description="Pages of the current POLICY snapshot, by page id.")
class PageConnection:
    edges: list[PageEdge] = strawberry.field(description=EDGES)
    page_info: PageInfo = strawberry.field(description=PAGE_INFO)
    total_count: int = strawberry.field(description=TOTAL_COUNT)

    @classmethod
    def of(cls, page: Slice[models.SnapshotPage], after: str | None = None) -> PageConnection:
        """Map a service-layer slice."""
        return cls(
            edges=[PageEdge(cursor=c, node=ConfluencePage.from_domain(p)) for c, p in page.items],
            page_info=PageInfo.of(page, after),
            total_count=page.total_count,
        )
