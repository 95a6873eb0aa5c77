"""What an audit event means for one site: refresh what it names, or ignore it (and why).

Atlassian publishes no list of action names (confluence-api.md §5.10), so the names come from
``event-actions`` at run time and each is judged by its words: an action is about access when
its name, display name or group speaks of groups, members, roles, product access, suspension,
(de)activation or accounts, and not of sign-ins, passwords, sessions, tokens or views (those
are frequent and change nothing a check reads). An action the map does not know yet (new since
the last read) still refreshes whatever it names. An event about access refreshes the accounts
it names — an account's refresh reads its groups too, so a membership event needs no group
read — and, when it names no account, the groups it names.

An event concerns the site when it has no ``sites`` container (an organization-wide change,
such as a suspension, applies to every site) or when one of them is the site: its cloud id, or
its host name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from services.atlassian.events import AuditEvent, EventAction
from services.sync.models import RunTargets
from services.watch.models import ActionKind, IgnoredReason

# Words of action names, display names and groups (case-insensitive substrings).
_ACCESS_WORDS = (
    "group",
    "member",
    "role",
    "access",
    "suspend",
    "restore",
    "activat",  # activated, deactivated, reactivated
    "admin",
    "permission",
    "product",
    "account",
    "user",
    "invite",
    "directory",
    "mfa",
    "two-step",
    "2fa",
)
_OTHER_WORDS = (
    "login",
    "logged",
    "log in",
    "logout",
    "log out",
    "password",
    "session",
    "api token",
    "api_token",
    "viewed",
    "searched",
    "export",
)


def classify(action: EventAction) -> ActionKind:
    """Whether an action is about access (see the module docstring)."""
    text = " ".join((action.id, action.display_name, *action.groups)).lower()
    text = text.replace("_", " ").replace("-", " ")
    if any(w.replace("_", " ") in text for w in _OTHER_WORDS):
        return ActionKind.OTHER
    if any(w.replace("-", " ") in text for w in _ACCESS_WORDS):
        return ActionKind.ACCESS
    return ActionKind.OTHER


def action_map(actions: Iterable[EventAction]) -> dict[str, ActionKind]:
    """Each action name with what it means."""
    return {a.id: classify(a) for a in actions}


@dataclass(frozen=True, slots=True)
class Site:
    """The site an integration watches: its cloud id and host name (either may be unknown)."""

    cloud_id: str | None
    url: str | None = None

    @property
    def host(self) -> str | None:
        """The site's host name, lower-cased."""
        if not self.url:
            return None
        host = urlsplit(self.url if "//" in self.url else f"https://{self.url}").hostname
        return host.lower() if host else None

    def named_by(self, event: AuditEvent) -> bool:
        """Whether an event with ``sites`` containers names this site."""
        if self.cloud_id and self.cloud_id in event.sites:
            return True
        hosts = {urlsplit(h if "//" in h else f"https://{h}").hostname for h in event.site_hosts}
        return self.host is not None and self.host in {h.lower() for h in hosts if h}


@dataclass(frozen=True, slots=True)
class Meaning:
    """What one event asks for: targets to refresh, or the reason it is ignored."""

    targets: RunTargets = field(default_factory=RunTargets)
    ignored: IgnoredReason | None = None


def meaning(event: AuditEvent, site: Site, actions: Mapping[str, ActionKind]) -> Meaning:
    """What ``event`` means for ``site`` (see the module docstring)."""
    if event.sites and not site.named_by(event):
        return Meaning(ignored=IgnoredReason.OTHER_SITE)
    if actions.get(event.action) is ActionKind.OTHER:
        return Meaning(ignored=IgnoredReason.NOT_ACCESS)
    if event.users:
        return Meaning(RunTargets(accounts=tuple(sorted(event.users))))
    if event.groups:
        return Meaning(RunTargets(groups=tuple(sorted(event.groups))))
    return Meaning(ignored=IgnoredReason.NAMES_NOTHING)
