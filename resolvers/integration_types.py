"""GraphQL types, inputs and payloads of integrations (SPEC §2)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.context import Info, principal_of
from resolvers.enums import graphql_enum
from resolvers.errors import payload, result_field
from resolvers.mapping import mapped
from resolvers.relay import Node
from resolvers.sync_types import SyncRun
from services.integrations import models
from services.integrations.models import AuthMethod, IntegrationStatus, Purpose
from services.watch import models as watch
from services.watch.models import IgnoredReason, WatchReason

graphql_enum(
    Purpose,
    name="IntegrationPurpose",
    description=(
        "What an integration is for; an organization has at most one connected integration "
        "per purpose."
    ),
    values={
        Purpose.ACCESS_REVIEW: (
            "Read users, groups and admin rights of the site (access checks, reviews)."
        ),
        Purpose.POLICY: "Read policy pages of the site (policy checks).",
    },
)


graphql_enum(
    AuthMethod,
    name="AuthMethod",
    description="How Vigil authenticates to Confluence.",
    values={
        AuthMethod.OAUTH: "OAuth 2.0 (3LO) consent of a site admin (`startConfluenceOAuth`).",
        AuthMethod.CLIENT_CREDENTIALS: "An Atlassian service account's OAuth client id and secret.",
        AuthMethod.API_TOKEN: "A user's email and site API token (Basic auth).",
    },
)


graphql_enum(
    IntegrationStatus,
    name="IntegrationStatus",
    description="Lifecycle of an integration.",
    values={
        IntegrationStatus.PENDING_AUTHORIZATION: (
            "OAuth started; waiting for the browser to come back from Atlassian."
        ),
        IntegrationStatus.SITE_SELECTION_REQUIRED: (
            "Several sites were authorized: call `selectConfluenceSite` with one of "
            "`availableSites`."
        ),
        IntegrationStatus.CONNECTED: "Working: syncs run every `syncIntervalMinutes`.",
        IntegrationStatus.NEEDS_REAUTH: (
            "The credential was refused (revoked or expired): connect again."
        ),
        IntegrationStatus.ERROR: "Connecting failed; `statusMessage` says why.",
        IntegrationStatus.DISCONNECTED: (
            "Disconnected by an ADMIN: credential deleted, data and evidence kept."
        ),
    },
)


graphql_enum(
    WatchReason,
    name="ChangeWatchReason",
    description="Why an integration's change watch is off.",
    values={
        WatchReason.NO_ADMIN_KEY: (
            "No Atlassian organization Admin API key: the organization's events stream needs "
            "one (`setAtlassianAdminKey`). Syncs run on their schedule as before."
        ),
        WatchReason.GUARD_STANDARD_REQUIRED: (
            "Atlassian answered 403: the organization's audit log needs an Atlassian Guard "
            "Standard subscription."
        ),
        WatchReason.MISSING_SCOPE: (
            "The Admin API key is scoped without `read:events:admin` (Atlassian: scope does "
            "not match)."
        ),
        WatchReason.NOT_CONNECTED: "The integration is not CONNECTED.",
        WatchReason.DISABLED: "The change watch is turned off on this server (VIGIL_CHANGE_WATCH).",
        WatchReason.NO_WORKER: "No worker watches the integration yet (or its worker stopped).",
        WatchReason.FAILING: "Reading the events fails; `message` says why. Retried with backoff.",
    },
)


graphql_enum(
    IgnoredReason,
    name="IgnoredEventReason",
    description="Why the change watch ignored an event of the audit log.",
    values={
        IgnoredReason.OTHER_SITE: "Its `sites` container names another site.",
        IgnoredReason.NOT_ACCESS: (
            "Its action is about something else than accounts, groups, memberships, product "
            "access or account status (sign-ins, for example)."
        ),
        IgnoredReason.NAMES_NOTHING: "About access, but it names no account or group.",
        IgnoredReason.DUPLICATE: "Delivered again (the stream delivers at least once).",
    },
)


@strawberry.type(description="How many events were ignored for one reason.")
class IgnoredEvents:
    reason: IgnoredReason = strawberry.field(description="Why.")
    count: int = strawberry.field(description="Events ignored for it since watching began.")


@strawberry.type(
    description="A full sync's snapshot compared with the one targeted runs built before it "
    "(they must agree: every difference is either explained by a later event or an error)."
)
class ChangeWatchComparison:
    at: datetime = strawberry.field(description="When the comparison was made (UTC).")
    differences: int = strawberry.field(
        description="Accounts whose access differs between the two snapshots."
    )
    unexplained: int = strawberry.field(
        description="Of those, accounts no later event explains (zero expected; each is "
        "logged as an error and counted in `/metrics`)."
    )


@strawberry.type(
    description="The change watch of an ACCESS_REVIEW integration: with an Admin API key a "
    "worker polls the Atlassian organization's audit events and refreshes only the accounts "
    "and groups they name (TARGETED sync runs), so a change shows in checks within a minute."
)
class ChangeWatch:
    enabled: bool = strawberry.field(description="Whether events are being watched now.")
    reason: WatchReason | None = strawberry.field(description="Why not; null when enabled.")
    message: str | None = strawberry.field(
        description="Why not, in words for an ADMIN; null when enabled."
    )
    last_event_at: datetime | None = strawberry.field(
        description="When the newest event about this site's access happened (UTC)."
    )
    last_polled_at: datetime | None = strawberry.field(
        description="When the events stream was last read (UTC)."
    )
    lag_seconds: float | None = strawberry.field(
        description="Seconds from the oldest change the last refresh applied (its event's "
        "time) to that refresh's commit: how far behind Atlassian the data was."
    )
    events_seen: int = strawberry.field(description="Distinct events read since watching began.")
    refreshes: int = strawberry.field(description="Refreshes the events caused that committed.")
    ignored: list[IgnoredEvents] = strawberry.field(
        description="Events that caused no refresh, counted by reason."
    )
    last_comparison: ChangeWatchComparison | None = strawberry.field(
        description="The last full sync compared with the targeted runs' snapshot; null before any."
    )

    @classmethod
    def from_domain(cls, w: watch.ChangeWatch) -> ChangeWatch:
        """Map the domain object."""
        c = w.comparison
        return mapped(
            cls,
            w,
            ignored=[IgnoredEvents(reason=r, count=n) for r, n in sorted(w.ignored.items())],
            last_comparison=mapped(ChangeWatchComparison, c, unexplained=len(c.unexplained))
            if c
            else None,
        )


@strawberry.type(description="A Confluence Cloud site.")
class ConfluenceSite:
    cloud_id: str | None = strawberry.field(
        description="Atlassian's cloud id of the site; null until known (API token connections "
        "learn it on connect)."
    )
    url: str = strawberry.field(description="The site's URL, e.g. https://acme.atlassian.net.")
    name: str | None = strawberry.field(description="The site's name as Atlassian reports it.")

    @classmethod
    def from_domain(cls, site: models.ConfluenceSite) -> ConfluenceSite:
        """Map the domain object."""
        return mapped(cls, site)


@strawberry.type(
    description="One Confluence connection of the organization. No field ever holds a secret."
)
class Integration(Node):
    id: strawberry.ID = strawberry.field(description="Opaque integration id.")
    purpose: Purpose = strawberry.field(description="What the integration is for.")
    auth_method: AuthMethod = strawberry.field(description="How Vigil authenticates.")
    status: IntegrationStatus = strawberry.field(description="Where it is in its lifecycle.")
    status_message: str | None = strawberry.field(
        description="Why the status is what it is (e.g. the refusal behind NEEDS_REAUTH)."
    )
    site: ConfluenceSite | None = strawberry.field(
        description="The connected site; null until one is chosen."
    )
    available_sites: list[ConfluenceSite] = strawberry.field(
        description="Sites the OAuth consent authorized (to choose from when "
        "SITE_SELECTION_REQUIRED); empty otherwise."
    )
    granted_scopes: list[str] = strawberry.field(
        description="OAuth scopes Atlassian granted (empty for API tokens)."
    )
    connected_at: datetime | None = strawberry.field(
        description="When the connection was made (UTC)."
    )
    connected_as: str | None = strawberry.field(
        description="The Atlassian account the credential acts as (e.g. the token's email)."
    )
    last_sync_at: datetime | None = strawberry.field(
        description="When the last successful sync committed its snapshot (UTC)."
    )
    current_snapshot_at: datetime | None = strawberry.field(
        description="When the data now shown was collected (UTC)."
    )
    sync_interval_minutes: int = strawberry.field(
        description="Minutes between scheduled syncs (default 360)."
    )
    has_admin_key: bool = strawberry.field(
        description="True when an Atlassian organization admin API key is attached "
        "(`setAtlassianAdminKey`), giving MFA, authoritative account status, and access "
        "and admin rights from Atlassian's roles (direct grants, suspensions: docs/access.md)."
    )
    admin_org_id: str | None = strawberry.field(
        description="The Atlassian organization id the admin key is for."
    )
    cql: str | None = strawberry.field(
        description="POLICY: the CQL selecting the policy pages (default `type = page and "
        'label = "policy"`); null for ACCESS_REVIEW.'
    )
    admin_groups: list[str] = strawberry.field(
        description="ACCESS_REVIEW: the names of the groups whose members count as admins "
        "when there is no Admin API key (compared case-insensitively; default "
        "`confluence-administrators`, `site-admins`, `administrators`: set your own, as "
        "Atlassian lets admins rename groups). With a key, admin rights come from Atlassian's "
        "roles and this list is used only for groups the directory cannot judge. Each "
        "account says where its admin rights come from (`Account.adminVia`). Empty for POLICY."
    )

    domain: strawberry.Private[models.Integration | None] = None

    @strawberry.field(
        description="ACCESS_REVIEW: the change watch (events of the Atlassian organization, "
        "refreshing only what they name); null for POLICY."
    )
    async def change_watch(self, info: Info) -> ChangeWatch | None:
        service = info.context.services.change_watch
        if service is None or self.domain is None:
            return None
        state = await service.state(self.domain)
        return ChangeWatch.from_domain(state) if state else None

    @strawberry.field(description="The integration's most recent sync run; null before any.")
    async def latest_sync_run(self, info: Info) -> SyncRun | None:
        run = await info.context.services.sync.latest_run(principal_of(info), str(self.id))
        return SyncRun.from_domain(run) if run else None

    @classmethod
    def from_domain(cls, i: models.Integration) -> Integration:
        """Map the domain object."""
        return mapped(
            cls,
            i,
            site=ConfluenceSite.from_domain(i.site) if i.site else None,
            available_sites=[ConfluenceSite.from_domain(s) for s in i.available_sites],
            cql=i.cql if i.purpose is models.Purpose.POLICY else None,
            admin_groups=list(i.admin_groups) if i.purpose is models.Purpose.ACCESS_REVIEW else [],
            domain=i,
        )


@strawberry.input(
    description="Start the OAuth 2.0 (3LO) flow; the caller confirms admin access to the site."
)
class StartConfluenceOAuthInput:
    purpose: Purpose = strawberry.field(description="What the integration is for.")
    confirm_admin_access: bool = strawberry.field(
        default=False,
        description="Must be true: the consenting Atlassian user is a site admin (Vigil "
        "reads admin-only data). False is a VALIDATION_FAILED userError.",
    )


@strawberry.input(description="Choose one of several sites authorized by the OAuth consent.")
class SelectConfluenceSiteInput:
    integration_id: strawberry.ID = strawberry.field(
        description="The integration in SITE_SELECTION_REQUIRED."
    )
    cloud_id: str = strawberry.field(description="`cloudId` of one of its `availableSites`.")


@strawberry.input(description="An Atlassian service account's OAuth client credentials and site.")
class ConnectClientCredentialsInput:
    purpose: Purpose = strawberry.field(description="What the integration is for.")
    client_id: str = strawberry.field(description="The service account's OAuth client id.")
    client_secret: str = strawberry.field(
        description="The service account's OAuth client secret (stored encrypted, never shown)."
    )
    site_url: str = strawberry.field(
        description="The Confluence Cloud site, e.g. `acme.atlassian.net` or its https URL."
    )


@strawberry.input(
    description="A site API token (Basic auth); the caller confirms having the credentials."
)
class ConnectApiTokenInput:
    purpose: Purpose = strawberry.field(description="What the integration is for.")
    domain: str = strawberry.field(
        description="The Confluence Cloud site, e.g. `acme.atlassian.net`."
    )
    email: str = strawberry.field(description="Email of the Atlassian account owning the token.")
    api_token: str = strawberry.field(
        description="The Atlassian API token (stored encrypted, never shown)."
    )
    confirm_credentials: bool = strawberry.field(
        default=False,
        description="Must be true: the caller may use these credentials for Vigil.",
    )


@strawberry.input(
    description="An Atlassian organization admin API key, for MFA and authoritative status."
)
class SetAtlassianAdminKeyInput:
    integration_id: strawberry.ID = strawberry.field(
        description="The ACCESS_REVIEW integration to attach the key to."
    )
    org_id: str = strawberry.field(
        description="The Atlassian organization id (admin.atlassian.com)."
    )
    api_key: str = strawberry.field(
        description="The organization admin API key (stored encrypted, never shown)."
    )


@strawberry.input(
    description="Change an integration's sync settings; omitted fields keep their value. "
    "Changes apply from the next sync."
)
class UpdateIntegrationSettingsInput:
    integration_id: strawberry.ID = strawberry.field(description="The integration.")
    sync_interval_minutes: int | None = strawberry.field(
        default=None, description="Minutes between scheduled syncs: 5 to 10080 (a week)."
    )
    cql: str | None = strawberry.field(
        default=None,
        description="POLICY only: the CQL selecting policy pages (1-1000 characters). Vigil "
        "cannot check it before the next sync; a query Confluence rejects fails that sync "
        "with Confluence's message in `SyncRun.error`.",
    )
    admin_groups: list[str] | None = strawberry.field(
        default=None,
        description="ACCESS_REVIEW only: 1 to 50 group names (1-255 characters each) whose "
        "members count as admins without an Admin API key (`Integration.adminGroups`).",
    )


@payload("An integration after a change.")
class IntegrationPayload:
    integration: Integration | None = result_field("The integration after the change")

    @classmethod
    def of(cls, integration: models.Integration) -> IntegrationPayload:
        """The payload of a successful change."""
        return cls(integration=Integration.from_domain(integration))


@payload("The pending integration and the URL to send the browser to.")
class StartConfluenceOAuthPayload:
    integration: Integration | None = result_field("The new integration in PENDING_AUTHORIZATION")
    authorization_url: str | None = strawberry.field(
        default=None,
        description="Atlassian's consent URL: navigate the browser there (top-level, not in a "
        "frame). Atlassian redirects back to /oauth/confluence/callback, which redirects to "
        "`VIGIL_FRONTEND_URL/?integration=<id>&status=<status>&message=<text>`. Single use; "
        "expires after 10 minutes.",
    )
