"""GraphQL types of the current snapshots: accounts (ACCESS_REVIEW) and the people they
belong to, and pages (POLICY)."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from resolvers.context import Info, principal_of
from resolvers.enums import graphql_enum
from resolvers.mapping import mapped
from resolvers.relay import Connection, Edge, Node
from services.identity.models import Classification, IdentityMethod, NotStaffKind
from services.identity.views import AccountView
from services.models import AccountStatus, AccountType, ClaimStatus, DirectoryStatus
from services.paging import Slice
from services.people import models as people
from services.people.models import PersonStatus
from services.sync import models
from services.sync.models import GrantKind, GrantSource

_FILTER_TEXT = "At most 200 characters."


graphql_enum(
    PersonStatus,
    name="PersonStatus",
    description="Whether a person still works here.",
    values={
        PersonStatus.ACTIVE: "Works here.",
        PersonStatus.OFFBOARDED: "Left at `offboardedAt`; their accounts should be closed.",
    },
)


@strawberry.type(description="A member of the workforce, from the HR source of truth.")
class Person(Node):
    id: strawberry.ID = strawberry.field(description="Opaque person id.")
    email: str = strawberry.field(
        description="Work email; identifies the person (case-insensitively) and links accounts."
    )
    name: str | None = strawberry.field(description="Full name.")
    status: PersonStatus = strawberry.field(description="Whether the person still works here.")
    job_role: str | None = strawberry.field(
        description="Job role, matched against a ROLE_BASED critical system's allowed roles."
    )
    start_date: date | None = strawberry.field(description="First working day.")
    offboarded_at: datetime | None = strawberry.field(
        description="When the person left (UTC); set exactly when OFFBOARDED."
    )
    created_at: datetime = strawberry.field(description="When Vigil first recorded the person.")
    updated_at: datetime = strawberry.field(description="When the record last changed.")

    @strawberry.field(
        description="The accounts of the current ACCESS_REVIEW snapshot linked to this person "
        "(automatically by email, or by hand), by account id; empty before the first sync."
    )
    async def accounts(self, info: Info) -> list[Account]:
        views = await info.context.services.accounts.of_person(principal_of(info), str(self.id))
        return [Account.from_view(v) for v in views]

    @classmethod
    def from_domain(cls, p: people.Person) -> Person:
        """Map the domain object."""
        return mapped(cls, p)


graphql_enum(
    Classification,
    name="IdentityClassification",
    description="Who an account belongs to (SPEC §4).",
    values={
        Classification.STAFF: "A person of the workforce.",
        Classification.NOT_STAFF: "A service, shared, system or external account (see `kind`).",
        Classification.UNIDENTIFIED: "Not yet linked to a person nor classified: needs a decision.",
    },
)


graphql_enum(
    NotStaffKind,
    name="NotStaffKind",
    description="What kind of non-staff account it is.",
    values={
        NotStaffKind.SERVICE: "Used by software of the organization (an integration, a bot).",
        NotStaffKind.SHARED: "Shared by several people.",
        NotStaffKind.SYSTEM: "An Atlassian app account (classified automatically).",
        NotStaffKind.EXTERNAL: "Someone outside the workforce (contractor, partner, customer).",
    },
)


graphql_enum(
    IdentityMethod,
    name="IdentityMethod",
    description="How an identity was decided.",
    values={
        IdentityMethod.AUTO_EMAIL: "Automatically: the account's email matches a person's.",
        IdentityMethod.AUTO_APP: "Automatically: Atlassian reports an app account (SYSTEM).",
        IdentityMethod.MANUAL: "By an ADMIN; never overwritten by automatic resolution.",
    },
)


graphql_enum(
    AccountStatus,
    name="AccountStatus",
    description="An Atlassian account's status, as Atlassian reports it.",
    values={
        AccountStatus.ACTIVE: "Can log in.",
        AccountStatus.INACTIVE: "Deactivated; cannot log in.",
        AccountStatus.CLOSED: "Deleted or closed by its owner.",
        AccountStatus.UNKNOWN: "Not reported, or a value Atlassian added later.",
    },
)


graphql_enum(
    AccountType,
    name="AccountType",
    description="An Atlassian account's type, as Atlassian reports it.",
    values={
        AccountType.ATLASSIAN: "A person's Atlassian account.",
        AccountType.APP: "An app (bot) account.",
        AccountType.CUSTOMER: "A Jira Service Management customer account.",
        AccountType.UNKNOWN: "Not reported, or a value Atlassian added later.",
    },
)


graphql_enum(
    DirectoryStatus,
    name="DirectoryStatus",
    description="An account's status in the Atlassian directory the site is mapped to (Admin "
    "API: `userDirectoryStatus`, or `membershipStatus` when the organization has one "
    "directory). Suspension is per directory and keeps the account's groups and roles.",
    values={
        DirectoryStatus.ACTIVE: "A member of the directory, not suspended.",
        DirectoryStatus.SUSPENDED: "Access suspended in the directory: no access to the site.",
        DirectoryStatus.NO_MEMBERSHIP: "Not a member of that directory.",
        DirectoryStatus.UNKNOWN: "A value Atlassian added later.",
    },
)


graphql_enum(
    ClaimStatus,
    name="ClaimStatus",
    description="Whether the Atlassian organization manages the account (Admin API `claimStatus`).",
    values={
        ClaimStatus.MANAGED: "On one of the organization's verified domains: it can be "
        "deactivated by the organization, and its MFA setting is known.",
        ClaimStatus.UNMANAGED: "Not on a verified domain: access can be suspended, not the "
        "account deactivated.",
        ClaimStatus.UNKNOWN: "A value Atlassian added later.",
    },
)


graphql_enum(
    GrantKind,
    name="AccessGrantKind",
    description="How an account holds a right on the site (Atlassian's role-assignment "
    "methods `group_direct` and `direct`).",
    values={
        GrantKind.GROUP: "Through membership of a group (`group`).",
        GrantKind.DIRECT: "Assigned to the account itself: removing it from groups leaves it.",
    },
)


graphql_enum(
    GrantSource,
    name="AccessGrantSource",
    description="Where Vigil learned of a grant (docs/access.md).",
    values={
        GrantSource.ATLASSIAN: "Atlassian's directory (Admin API key): `productAccess`, "
        "admin roles, `platformRoles`, role assignments. A group is named when every member "
        "the directory lists holds the role, never because of its name.",
        GrantSource.GROUP_MEMBERSHIP: "Group membership alone: without an Admin API key every "
        "group counts as giving access (or, with one, a group none of whose members the "
        "directory lists). Direct grants cannot be seen this way.",
        GrantSource.ADMIN_GROUPS_SETTING: "Membership of one of the integration's configured "
        "admin groups (`Integration.adminGroups`): the admin signal without an Admin API key.",
    },
)


@strawberry.type(
    description="One route by which an account holds Confluence access or admin rights."
)
class AccessGrant:
    kind: GrantKind = strawberry.field(description="Through a group, or directly.")
    source: GrantSource = strawberry.field(description="Where Vigil learned of it.")
    group: str | None = strawberry.field(
        description="The group's name for GROUP; null for DIRECT, or when Atlassian says "
        '"through a group" but no group of the snapshot could be named.'
    )
    group_id: strawberry.ID | None = strawberry.field(description="The group's Confluence id.")
    role: str | None = strawberry.field(
        description="Atlassian's role id when known: `atlassian/user`, `atlassian/admin` "
        "(Confluence admin), `atlassian/site-admin`, `atlassian/org-admin`; null when measured "
        "through membership only (and for access, which either of user and admin gives)."
    )

    @classmethod
    def from_domain(cls, g: models.Grant) -> AccessGrant:
        """Map the domain object."""
        return mapped(cls, g)


@strawberry.type(description="The persistent classification of an account and who it is.")
class AccountIdentity:
    classification: Classification = strawberry.field(
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
        person = Person.from_domain(view.person) if view.person else None
        return mapped(cls, view.identity, person=person)


@strawberry.type(description="A Confluence account as seen in the current access snapshot.")
class Account:
    account_id: strawberry.ID = strawberry.field(description="The Atlassian account id.")
    display_name: str | None = strawberry.field(description="Public name, as Atlassian shows.")
    email: str | None = strawberry.field(
        description="Email, when Atlassian discloses it (the profile's visibility setting or "
        "an admin key)."
    )
    account_type: AccountType = strawberry.field(description="Person, app or customer account.")
    account_status: AccountStatus = strawberry.field(
        description="Whether the account itself can log in (Atlassian's `accountStatus`). A "
        "suspension is not an account status: see `directoryStatus` and `hasAccess`."
    )
    has_access: bool = strawberry.field(
        description="Whether it has Confluence access on the site now — what the access checks "
        "judge: ACTIVE, not SUSPENDED in the site's directory, and holding an access role "
        "(`accessVia` not empty). Without an Admin API key, measured through group membership "
        "only (direct grants unseen)."
    )
    access_via: list[AccessGrant] = strawberry.field(
        description="How it holds Confluence access: the groups that give it and/or DIRECT; "
        "empty when it holds no access role (it may still be listed as a group member). "
        "Atlassian keeps the roles of a deactivated or suspended account, so this is what "
        "restoring it would give back."
    )
    is_admin: bool = strawberry.field(
        description="True when it holds admin rights on the site's Confluence (`adminVia` "
        "not empty)."
    )
    admin_via: list[AccessGrant] = strawberry.field(
        description="Where its admin rights come from: with an Admin API key, Atlassian's "
        "roles (`atlassian/admin`, `atlassian/site-admin`, `atlassian/org-admin`, through a "
        "group or directly); without one, membership of a configured admin group "
        "(`Integration.adminGroups`). Empty when not an admin."
    )
    directory_status: DirectoryStatus | None = strawberry.field(
        description="Its status in the directory the site is mapped to; null without an "
        "Admin API key or when the directory does not list it (app and customer accounts)."
    )
    claim_status: ClaimStatus | None = strawberry.field(
        description="Managed or unmanaged by the organization; null without an Admin API key."
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
        return mapped(
            cls,
            a,
            access_via=[AccessGrant.from_domain(g) for g in a.access_via],
            admin_via=[AccessGrant.from_domain(g) for g in a.admin_via],
            identity=AccountIdentity(classification=Classification.UNIDENTIFIED),
        )


@strawberry.input(description="Filters of `accounts`: every given filter must match.")
class AccountFilter:
    classification: Classification | None = strawberry.field(
        default=None, description="Only accounts with this identity classification."
    )
    status: AccountStatus | None = strawberry.field(
        default=None, description="Only accounts with this `accountStatus`."
    )
    admin: bool | None = strawberry.field(
        default=None, description="Only admins (true) or only non-admins (false)."
    )
    has_access: bool | None = strawberry.field(
        default=None,
        description="Only accounts with Confluence access now (true) or without (false).",
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
    person_status: PersonStatus | None = strawberry.field(
        default=None,
        description="Only accounts linked to a person with this status (e.g. OFFBOARDED: "
        "accounts of people who left); unlinked accounts never match.",
    )

    def to_domain(self) -> models.AccountFilter:
        """The service-layer filter."""
        person_status = self.person_status.value if self.person_status else None
        return mapped(models.AccountFilter, self, person_status=person_status)


@strawberry.type(description="An account and its cursor.")
class AccountEdge(Edge[Account]):
    node: Account = strawberry.field(description="The account.")


@strawberry.type(description="Accounts of the current access snapshot, by account id.")
class AccountConnection(Connection[AccountEdge]):
    @classmethod
    def of(cls, page: Slice[AccountView], after: str | None = None) -> AccountConnection:
        """Map a service-layer slice."""
        return cls.of_nodes(page, Account.from_view, after)


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
        return mapped(cls, p, id=strawberry.ID(p.page_id), url=p.web_url)


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
        return mapped(models.PageFilter, self)


@strawberry.type(description="A page and its cursor.")
class PageEdge(Edge[ConfluencePage]):
    node: ConfluencePage = strawberry.field(description="The page.")


@strawberry.type(description="Pages of the current POLICY snapshot, by page id.")
class PageConnection(Connection[PageEdge]):
    @classmethod
    def of(cls, page: Slice[models.SnapshotPage], after: str | None = None) -> PageConnection:
        """Map a service-layer slice."""
        return cls.of_nodes(page, ConfluencePage.from_domain, after)
