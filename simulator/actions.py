"""The simulator's admin actions: every change Atlassian would record in the org audit log.

``sim.actions`` is the one place access changes are made "inside Atlassian": the Admin API and
Confluence write endpoints call it, and so do the control route (``/_simulator/actions/…``), the
control CLI and tests. Each action

- checks what it needs (unknown site, group, account or directory → ``ActionError`` 404, …),
- records its event at once (``sim.events``; processed ``event_delay_seconds`` later),
- and applies its effect through ``sim.schedule``: at once, or ``lag_seconds`` later when
  read-backs lag (``sim.apply_due_writes()`` runs before every request).

Direct mutators of ``Site`` (``site.add_member``, ``site.grant_role``, …) stay what they were:
immediate ground-truth edits with no event and no lag.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol

from simulator.behaviour import Behaviour
from simulator.clock import SimClock
from simulator.events import EventLog
from simulator.model import Account, Group
from simulator.org import Directory, Organization
from simulator.roles import ORG_ADMIN, SITE_ROLES, USER, org_resource, resource_of
from simulator.site import Site


class Simulator(Protocol):
    """What the actions need of ``simulator.core.Simulator`` (which owns them)."""

    sites: dict[str, Site]
    org: Organization
    events: EventLog
    behaviour: Behaviour
    clock: SimClock

    @property
    def site(self) -> Site: ...

    def site_by_cloud_id(self, cloud_id: str) -> Site | None: ...

    def directory_account(self, account_id: str) -> tuple[Site, Account] | None: ...

    def schedule(
        self,
        apply: Callable[[], object],
        *,
        delay: float | None = None,
        intent: tuple[Hashable, bool] | None = None,
    ) -> None: ...

    def intended(self, key: Hashable, visible: bool) -> bool: ...

    def apply_due_writes(self, *, everything: bool = False, blocking: bool = True) -> int: ...


class ActionError(Exception):
    """An action refused: the HTTP status and message to answer with."""

    def __init__(self, status: int, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.key = key  # machine-readable key where Atlassian has one (user management API)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performed an action, as the event's ``actor`` and ``location`` show it."""

    account_id: str
    name: str = ""
    email: str = ""
    auth_type: str | None = None  # EventActorModel auth.authType
    token_id: str | None = None
    ip: str | None = None

    @classmethod
    def of(
        cls,
        account: Account,
        *,
        auth_type: str | None = None,
        secret: str | None = None,
        ip: str | None = None,
    ) -> Actor:
        """The actor for an account; ``secret`` (a token or key) only ever shows hashed."""
        token_id = hashlib.sha256(secret.encode()).hexdigest()[:16] if secret else None
        return cls(account.account_id, account.display_name, account.email, auth_type, token_id, ip)

    def to_json(self) -> dict[str, Any]:
        """EventActorModel: ``{id, name, email, auth?: {authType, tokenId}}``."""
        actor: dict[str, Any] = {"id": self.account_id}
        if self.name:
            actor["name"] = self.name
        if self.email:
            actor["email"] = self.email
        if self.auth_type:
            auth = {"authType": self.auth_type}
            if self.token_id:
                auth["tokenId"] = self.token_id
            actor["auth"] = auth
        return actor


IDP_ACTOR = Actor("identity-provider", "User provisioning")


def user_context(account_id: str, account: Account | None) -> dict[str, Any]:
    """An event ``context`` entry for a user (type ``users``, as in Atlassian's events)."""
    attributes: dict[str, Any] = {}
    if account is not None:
        attributes = {
            "accountType": account.account_type or "unknown",
            "email": account.email,
            "name": account.display_name,
        }
    return {"id": account_id, "type": "users", "attributes": attributes}


def group_context(group: Group) -> dict[str, Any]:
    """An event ``context`` entry for a group."""
    return {"id": group.group_id, "type": "groups", "attributes": {"name": group.name}}


def site_container(site: Site) -> dict[str, Any]:
    """An event ``container`` entry for a site (``siteHostName`` is the site it plays)."""
    host = f"https://{site.name}.atlassian.net"
    return {
        "id": site.cloud_id,
        "type": "sites",
        "attributes": {"siteHostName": host, "siteName": site.name},
        "links": {"alt": host},
    }


class Actions:
    """Admin actions of the organization (see the module docstring)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    # ----- helpers ---------------------------------------------------------------------

    def site(self, site: Site | str | None) -> Site:
        """A site by object, name or cloud id (default: the first site)."""
        if isinstance(site, Site):
            return site
        if site is None:
            return self.sim.site
        found = self.sim.sites.get(site) or self.sim.site_by_cloud_id(site)
        if found is None:
            raise ActionError(404, f"No site {site!r}")
        return found

    def _default_actor(self) -> Actor:
        site = self.sim.site
        admin = site.get_account(site.operators.get("admin", ""))
        return Actor.of(admin) if admin is not None else Actor("admin", "Organization admin")

    def _event(
        self,
        action: str,
        by: Actor | None,
        context: list[dict[str, Any]],
        container: list[dict[str, Any]],
    ) -> None:
        actor = by or self._default_actor()
        self.sim.events.record(
            action,
            now=self.sim.clock.now(),
            delay_seconds=self.sim.behaviour.event_delay_seconds,
            actor=actor.to_json(),
            context=context,
            container=container,
            location={"ip": actor.ip} if actor.ip else None,
        )

    @staticmethod
    def _group(site: Site, group: str) -> Group:
        found = site.groups.get(group) or site.group_by_name(group)
        if found is None:
            raise ActionError(404, f"No group found with id : {group}")
        return found

    def _account(self, site: Site, account_id: str) -> Account:
        account = site.get_account(account_id)
        if account is None:
            raise ActionError(404, f"No user found with accountId : {account_id}")
        return account

    def _begin(self) -> None:
        self.sim.apply_due_writes(blocking=False)

    # ----- group membership ------------------------------------------------------------

    def add_member(
        self,
        group: str,
        account_id: str,
        *,
        site: Site | str | None = None,
        by: Actor | None = None,
        from_idp: bool = True,
    ) -> bool:
        """Add an account to a group; False (no event) when it is a member already.

        ``from_idp``: for a group synced from an identity provider the change is the IdP's
        (its pushed membership follows); the Confluence API refuses such adds instead."""
        return self._set_member(group, account_id, True, site=site, by=by, from_idp=from_idp)

    def remove_member(
        self,
        group: str,
        account_id: str,
        *,
        site: Site | str | None = None,
        by: Actor | None = None,
        from_idp: bool = True,
    ) -> bool:
        """Remove an account from a group; False (no event) when it is not a member.

        For a synced group, ``from_idp`` removes it at the IdP too; otherwise (the Confluence
        API with ``idp_removal="accept"``) the next IdP push puts it back."""
        return self._set_member(group, account_id, False, site=site, by=by, from_idp=from_idp)

    def _set_member(
        self,
        group: str,
        account_id: str,
        member: bool,
        *,
        site: Site | str | None,
        by: Actor | None,
        from_idp: bool,
    ) -> bool:
        """add_member (``member``) or remove_member: an account must exist to be added only."""
        self._begin()
        target = self.site(site)
        found = self._group(target, group)
        account = self._account(target, account_id) if member else target.get_account(account_id)
        group_id = found.group_id
        key = ("member", target.name, group_id, account_id)
        if self.sim.intended(key, account_id in found.member_ids) == member:
            return False

        def apply() -> None:
            with target.lock:
                current = target.groups.get(group_id)
                if current is None:
                    return
                if _set_presence(current.member_ids, account_id, member):
                    target.touch()
                idp = current.idp_member_ids if current.synced and from_idp else None
                if idp is not None:
                    _set_presence(idp, account_id, member)

        self._event(
            "user_added_to_group" if member else "user_removed_from_group",
            by,
            [user_context(account_id, account), group_context(found)],
            [site_container(target)],
        )
        self.sim.schedule(apply, intent=(key, member))
        push_after = self.sim.behaviour.idp_push_seconds
        if not member and found.synced and not from_idp and push_after is not None:
            lag = self.sim.behaviour.lag_seconds
            self.sim.schedule(lambda: self._push_group(target, group_id), delay=lag + push_after)
        return True

    def idp_push(self, *, site: Site | str | None = None) -> int:
        """The identity provider pushes its membership of every synced group (of one site, or
        of all): members removed in Atlassian come back, others go. How many changes."""
        self._begin()
        sites = [self.site(site)] if site is not None else list(self.sim.sites.values())
        changes = 0
        for target in sites:
            for group in list(target.groups.values()):
                if group.synced:
                    changes += self._push_group(target, group.group_id)
        return changes

    def _push_group(self, site: Site, group_id: str) -> int:
        with site.lock:
            group = site.groups.get(group_id)
            if group is None or not group.synced or group.idp_member_ids is None:
                return 0
            wanted = list(group.idp_member_ids)
            added = [a for a in wanted if a not in group.member_ids]
            removed = [a for a in group.member_ids if a not in wanted]
            group.member_ids[:] = [a for a in group.member_ids if a in wanted] + added
            site.touch()
        for action, accounts in (
            ("user_added_to_group", added),
            ("user_removed_from_group", removed),
        ):
            for account_id in accounts:
                self._event(
                    action,
                    IDP_ACTOR,
                    [user_context(account_id, site.get_account(account_id)), group_context(group)],
                    [site_container(site)],
                )
        return len(added) + len(removed)

    # ----- roles -----------------------------------------------------------------------

    def grant_role(
        self,
        account_id: str,
        role: str = USER,
        *,
        site: Site | str | None = None,
        by: Actor | None = None,
    ) -> bool:
        """Grant a role directly (no group); False (no event) when already granted directly."""
        return self._set_role(account_id, role, True, site=site, by=by)

    def revoke_role(
        self,
        account_id: str,
        role: str = USER,
        *,
        site: Site | str | None = None,
        by: Actor | None = None,
    ) -> bool:
        """Revoke a directly granted role; False (no event) when there is no direct grant (a
        role held through a group stays: ``behaviour.revoke_group_role`` says what the API
        answers then)."""
        return self._set_role(account_id, role, False, site=site, by=by)

    def _set_role(
        self,
        account_id: str,
        role: str,
        granted: bool,
        *,
        site: Site | str | None,
        by: Actor | None,
    ) -> bool:
        """grant_role (``granted``) or revoke_role."""
        self._begin()
        target = self.site(site)
        if role not in SITE_ROLES:
            raise ActionError(400, f"Unknown role {role!r}")
        account = self._account(target, account_id)
        key = ("role", target.name, account_id, role)
        if self.sim.intended(key, role in target.direct_roles.get(account_id, ())) == granted:
            return False
        action = "user_granted_role" if granted else "user_revoked_role"
        self._role_event(action, target, account_id, account, role, by)
        change = target.grant_role if granted else target.revoke_role
        self.sim.schedule(lambda: change(account_id, role), intent=(key, granted))
        return True

    def set_org_admin(self, account_id: str, admin: bool, *, by: Actor | None = None) -> bool:
        """Grant (or revoke) ``atlassian/org-admin``; False (no event) when nothing changes."""
        self._begin()
        account = self._any_account(account_id)
        if account is None:
            raise ActionError(404, f"No user found with accountId : {account_id}")
        key = ("org-admin", account_id)
        if self.sim.intended(key, account_id in self.sim.org.admins) == admin:
            return False
        role_context = {
            "id": ORG_ADMIN,
            "type": "roles",
            "attributes": {"resourceId": org_resource(self.sim.org.org_id)},
        }
        self._event(
            "user_granted_role" if admin else "user_revoked_role",
            by,
            [user_context(account_id, account), role_context],
            [],
        )

        def apply() -> None:
            with self.sim.org.lock:
                if admin:
                    self.sim.org.admins.add(account_id)
                else:
                    self.sim.org.admins.discard(account_id)

        self.sim.schedule(apply, intent=(key, admin))
        return True

    def _role_event(
        self,
        action: str,
        site: Site,
        account_id: str,
        account: Account,
        role: str,
        by: Actor | None,
    ) -> None:
        role_context = {
            "id": role,
            "type": "roles",
            "attributes": {"resourceId": resource_of(role, site.cloud_id)},
        }
        self._event(
            action, by, [user_context(account_id, account), role_context], [site_container(site)]
        )

    # ----- suspension (per directory) --------------------------------------------------

    def directories_of(self, account_id: str) -> list[Directory]:
        """The directories the account is a member of."""
        in_org = self.sim.directory_account(account_id) is not None
        return self.sim.org.directories_of(account_id, in_org)

    def _directories(self, account_id: str, directory_id: str | None) -> list[Directory]:
        mine = self.directories_of(account_id)
        if directory_id is None:
            if not mine:
                raise ActionError(404, "User not found in any directory")
            return mine
        directory = self.sim.org.directories.get(directory_id)
        if directory is None:
            raise ActionError(404, "Directory not found")
        if directory not in mine:
            raise ActionError(404, "User not found in the directory")
        return [directory]

    def suspend(
        self, account_id: str, directory_id: str | None = None, *, by: Actor | None = None
    ) -> int:
        """Suspend the account in a directory (None: in every directory it is in). Returns how
        many directories changed; repeating a suspension changes nothing and records no event."""
        return self._suspension(account_id, directory_id, by, suspend=True)

    def restore(
        self, account_id: str, directory_id: str | None = None, *, by: Actor | None = None
    ) -> int:
        """Restore the account's access in a directory (None: every directory). Its roles and
        group memberships are the ones it had: suspension never removed them."""
        return self._suspension(account_id, directory_id, by, suspend=False)

    def _suspension(
        self, account_id: str, directory_id: str | None, by: Actor | None, *, suspend: bool
    ) -> int:
        self._begin()
        directories = self._directories(account_id, directory_id)
        changed = [
            d
            for d in directories
            if self.sim.intended(
                ("suspended", d.directory_id, account_id), account_id in d.suspended
            )
            != suspend
        ]
        account = self._any_account(account_id)
        for directory in changed:
            self._event(
                "user_access_suspended" if suspend else "user_access_restored",
                by,
                [
                    user_context(account_id, account),
                    {
                        "id": directory.directory_id,
                        "type": "directories",
                        "attributes": {"name": directory.name},
                    },
                ],
                [],  # organization-level: applies to every site of the directory
            )
            self.sim.schedule(
                _suspension_change(self.sim, directory, account_id, suspend),
                intent=(("suspended", directory.directory_id, account_id), suspend),
            )
        return len(changed)

    # ----- deactivation (managed accounts) ---------------------------------------------

    def _any_account(self, account_id: str) -> Account | None:
        for site in self.sim.sites.values():
            account = site.get_account(account_id)
            if account is not None:
                return account
        return None

    def is_managed(self, account_id: str) -> bool:
        """Whether the organization manages the account (email on a verified domain)."""
        return any(
            account_id in site.accounts and site.is_managed(site.accounts[account_id])
            for site in self.sim.sites.values()
        )

    def deactivate(self, account_id: str, *, by: Actor | None = None) -> bool:
        """Deactivate a managed account: ``accountStatus`` ``inactive`` everywhere. Unmanaged
        accounts → 403 ``forbidden.targetUnverified``; False when already inactive."""
        return self._lifecycle(account_id, by, enable=False)

    def reactivate(self, account_id: str, *, by: Actor | None = None) -> bool:
        """Activate a managed account again; False when already active."""
        return self._lifecycle(account_id, by, enable=True)

    def _lifecycle(self, account_id: str, by: Actor | None, *, enable: bool) -> bool:
        self._begin()
        account = self._any_account(account_id)
        if account is None:
            raise ActionError(404, f"No user found with accountId : {account_id}", "notFound")
        if not self.is_managed(account_id):
            raise ActionError(
                403, "Cannot manage an unverified target account", "forbidden.targetUnverified"
            )
        if account.account_status == "closed":
            raise ActionError(400, "The account is closed", "closed")
        wanted = "active" if enable else "inactive"
        key = ("active", account_id)
        if self.sim.intended(key, account.account_status == "active") == enable:
            return False
        now = self.sim.clock.now()
        self._event(
            "account_reactivated" if enable else "account_deactivated",
            by,
            [user_context(account_id, account)],
            [],
        )

        def apply() -> None:
            for site in self.sim.sites.values():
                with site.lock:
                    if account_id in site.accounts:
                        site.set_account_status(account_id, wanted)
            with self.sim.org.lock:
                if enable:
                    self.sim.org.deactivated_at.pop(account_id, None)
                else:
                    self.sim.org.deactivated_at[account_id] = now

        self.sim.schedule(apply, intent=(key, enable))
        return True


def _suspension_change(
    sim: Simulator, directory: Directory, account_id: str, suspend: bool
) -> Callable[[], None]:
    def apply() -> None:
        with sim.org.lock:
            if suspend:
                directory.suspended.add(account_id)
            else:
                directory.suspended.discard(account_id)

    return apply


def _set_presence(ids: list[str], item: str, present: bool) -> bool:
    """Put `item` in `ids` (at the end) or take it out; whether that changed anything."""
    if (item in ids) == present:
        return False
    if present:
        ids.append(item)
    else:
        ids.remove(item)
    return True
