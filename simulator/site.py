"""A simulated Confluence site: the ground truth tests read and mutate (never via HTTP)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from simulator.model import (
    ADMIN_GROUP_NAMES,
    POLICY_LABEL,
    Account,
    Group,
    Page,
    Space,
    iso,
    parse_time,
)
from simulator.roles import (
    ACCESS_ROLES,
    ADMIN,
    DIRECT,
    GROUP_DIRECT,
    SITE_ADMIN,
    check_roles,
)


class AccountTable(dict[str, Account]):
    """A site's accounts by id, counting its changes (``version``) so that views derived from
    them (the Admin API directory) can be cached until the next change."""

    version: int = 0

    def _changed(self) -> None:
        self.version += 1

    def __setitem__(self, key: str, value: Account) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._changed()

    def pop(self, key: str, *default: Any) -> Any:
        self._changed()
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Account]:
        self._changed()
        return super().popitem()

    def clear(self) -> None:
        super().clear()
        self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._changed()

    def setdefault(self, key: str, default: Account) -> Account:
        self._changed()
        return super().setdefault(key, default)


class Site:
    """One Confluence Cloud site (`{name}.atlassian.net`) and its data.

    `operators` maps a role (`admin`, `member`, `service`) to the account id the simulator's
    default credentials act as: the API-token admin, a non-admin API-token user, and the
    client-credentials service account.

    Access is Atlassian's role model (``simulator.roles``): groups carry roles, and
    ``direct_roles`` holds the roles granted to an account directly on this site.
    ``directory_id`` names the organization directory this site's resources are mapped to
    (None: the organization's default directory); ``suspended`` holds the accounts whose
    membership of that directory is suspended (shared with the directory by the Simulator).
    """

    def __init__(
        self,
        name: str,
        cloud_id: str,
        *,
        verified_domains: Iterable[str] = (),
        generated_at: datetime | None = None,
        accounts: Iterable[Account] = (),
        groups: Iterable[Group] = (),
        spaces: Iterable[Space] = (),
        pages: Iterable[Page] = (),
        operators: dict[str, str] | None = None,
        direct_roles: dict[str, Iterable[str]] | None = None,
        suspended: Iterable[str] = (),
        directory_id: str | None = None,
    ) -> None:
        self.name = name
        self.cloud_id = cloud_id
        self.verified_domains = [d.lower() for d in verified_domains]
        self.generated_at = generated_at
        self.accounts: dict[str, Account] = AccountTable((a.account_id, a) for a in accounts)
        self.groups: dict[str, Group] = {g.group_id: g for g in groups}
        self.spaces: dict[str, Space] = {s.key: s for s in spaces}
        self.pages: dict[str, Page] = {p.page_id: p for p in pages}
        self.operators: dict[str, str] = dict(operators or {})
        self.admin_group_names: tuple[str, ...] = ADMIN_GROUP_NAMES
        self.no_access: set[str] = set()  # accounts refused with 403 ("cannot use Confluence")
        self.direct_roles: dict[str, tuple[str, ...]] = {
            account: check_roles(roles) for account, roles in (direct_roles or {}).items() if roles
        }
        self.suspended: set[str] = set(suspended)
        self.directory_id = directory_id
        self.lock = threading.RLock()
        self._access_version = 0
        self._role_cache: tuple[tuple[int, ...], dict[str, dict[str, tuple[str, ...]]]] | None = (
            None
        )

    # ----- reading ---------------------------------------------------------------------

    def get_account(self, account_id: str) -> Account | None:
        """The account with this id, or None."""
        return self.accounts.get(account_id)

    def account_by_email(self, email: str) -> Account | None:
        """The account whose (true) email matches, case-insensitively."""
        wanted = email.casefold()
        return next((a for a in self.accounts.values() if a.email.casefold() == wanted), None)

    def group_by_name(self, name: str) -> Group | None:
        """The group with this name, or None."""
        return next((g for g in self.groups.values() if g.name == name), None)

    def members_of(self, group_id: str) -> list[Account]:
        """Accounts in the group, in the order the API lists them (unknown ids skipped)."""
        group = self.groups[group_id]
        return [self.accounts[m] for m in group.member_ids if m in self.accounts]

    def groups_of(self, account_id: str) -> list[Group]:
        """Groups the account belongs to."""
        return [g for g in self.groups.values() if account_id in g.member_ids]

    def role_assignments(self, account_id: str) -> dict[str, tuple[str, ...]]:
        """The roles the account holds on this site, each with its assignment methods
        (``direct`` first, then ``group_direct``). Account status and suspension do not matter
        here (Atlassian keeps the roles of a suspended or deactivated account)."""
        return self.role_index().get(account_id, {})

    def touch(self) -> None:
        """Say that memberships or roles changed. The Site's own mutators (and ``sim.actions``)
        do; code that edits a group's ``member_ids`` or ``roles`` in place must call it."""
        self._access_version += 1

    def _access_key(self) -> tuple[int, ...]:
        groups = self.groups.values()
        return (
            self._access_version,
            id(self.groups),
            len(self.groups),
            sum(len(g.member_ids) for g in groups),
            sum(len(g.role_set) for g in groups),
            id(self.direct_roles),
            sum(len(r) for r in self.direct_roles.values()),
        )

    def role_index(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """``role_assignments`` of every account holding a role (read-only), built in one pass
        over the memberships and kept until memberships or roles change (``touch``)."""
        with self.lock:
            key = self._access_key()
            cached = self._role_cache
            if cached is not None and cached[0] == key:
                return cached[1]
            held: dict[str, dict[str, list[str]]] = {}
            for account_id, roles in self.direct_roles.items():
                for role in roles:
                    held.setdefault(account_id, {}).setdefault(role, []).append(DIRECT)
            for group in self.groups.values():
                for account_id in dict.fromkeys(group.member_ids):
                    mine = held.setdefault(account_id, {})
                    for role in group.role_set:
                        methods = mine.setdefault(role, [])
                        if GROUP_DIRECT not in methods:
                            methods.append(GROUP_DIRECT)
            index = {a: {r: tuple(m) for r, m in roles.items()} for a, roles in held.items()}
            self._role_cache = (key, index)
            return index

    def groups_granting(self, account_id: str, role: str) -> list[Group]:
        """The account's groups that carry the role."""
        return [g for g in self.groups_of(account_id) if role in g.role_set]

    def holds_access_role(self, account_id: str) -> bool:
        """Whether the account holds a Confluence access role here (user or admin), through a
        group or directly, whatever its status."""
        return bool(ACCESS_ROLES & self.role_assignments(account_id).keys())

    def is_admin(self, account_id: str) -> bool:
        """A Confluence administrator: holds ``atlassian/admin`` on the site's Confluence or
        the site-admin role (through a group or directly). Not the same as a site admin."""
        return bool({ADMIN, SITE_ADMIN} & self.role_assignments(account_id).keys())

    def is_site_admin(self, account_id: str) -> bool:
        """Holds the ``atlassian/site-admin`` role on this site (an organization admin is one
        too: ``Simulator.is_site_admin`` adds that)."""
        return SITE_ADMIN in self.role_assignments(account_id)

    def has_confluence_access(self, account_id: str) -> bool:
        """Ground truth: the account can use Confluence on this site — it exists, its
        ``accountStatus`` is ``active``, its membership of the site's directory is not
        suspended, and it holds ``atlassian/user`` or ``atlassian/admin`` here, through a group
        or directly. (``set_confluence_access`` is a separate caller-side switch.)"""
        account = self.accounts.get(account_id)
        return (
            account is not None
            and account.account_status == "active"
            and account_id not in self.suspended
            and self.holds_access_role(account_id)
        )

    def confluence_access(self) -> dict[str, bool]:
        """``has_confluence_access`` for every account of the site (one pass)."""
        with self.lock:
            index = self.role_index()
            return {
                account_id: account.account_status == "active"
                and account_id not in self.suspended
                and bool(ACCESS_ROLES & index.get(account_id, {}).keys())
                for account_id, account in self.accounts.items()
            }

    def member_account_ids(self) -> list[str]:
        """Every account id reachable through group membership, deduplicated, in order."""
        seen: dict[str, None] = {}
        for group in self.groups.values():
            for member in group.member_ids:
                if member in self.accounts:
                    seen.setdefault(member, None)
        return list(seen)

    def is_managed(self, account: Account) -> bool:
        """True when the account's email is on one of the organization's verified domains."""
        domain = account.email.rpartition("@")[2].lower()
        return bool(domain) and domain in self.verified_domains

    def space_by_id(self, space_id: str) -> Space | None:
        """The space with this numeric id, or None."""
        return next((s for s in self.spaces.values() if s.space_id == space_id), None)

    def policy_pages(self, *, include_archived: bool = False) -> list[Page]:
        """Pages labelled `policy` (current ones unless include_archived)."""
        return [
            p
            for p in self.pages.values()
            if POLICY_LABEL in p.labels and (include_archived or p.status == "current")
        ]

    def visible_to(self, account_id: str, page: Page, *, admin: bool | None = None) -> bool:
        """Whether the account can see the page (restricted spaces: admins only)."""
        space = self.spaces.get(page.space_key)
        if space is None or not space.restricted:
            return True
        return self.is_admin(account_id) if admin is None else admin

    def iter_pages(self) -> Iterator[Page]:
        """Pages in id order (the order search returns them)."""
        return iter(sorted(self.pages.values(), key=lambda p: int(p.page_id)))

    # ----- mutating --------------------------------------------------------------------

    def add_account(self, account: Account, *, groups: Iterable[str] = ()) -> Account:
        """Add (or replace) an account, optionally into groups given by id or name."""
        with self.lock:
            self.accounts[account.account_id] = account
            for group in groups:
                self.add_member(group, account.account_id)
        return account

    def update_account(self, account_id: str, **changes: Any) -> Account:
        """Replace fields of an account (dataclass field names)."""
        with self.lock:
            updated = replace(self.accounts[account_id], **changes)
            self.accounts[account_id] = updated
        return updated

    def set_account_status(self, account_id: str, status: str) -> None:
        """Set accountStatus (`active`, `inactive`, `closed`, `unknown`)."""
        self.update_account(account_id, account_status=status)

    def set_email_visible(self, account_id: str, visible: bool) -> None:
        """Show or hide the account's email (profile privacy)."""
        self.update_account(account_id, email_visible=visible)

    def set_mfa(self, account_id: str, enabled: bool | None) -> None:
        """Set the org directory's mfaEnabled for the account."""
        self.update_account(account_id, mfa_enabled=enabled)

    def _group(self, group: str) -> Group:
        found = self.groups.get(group) or self.group_by_name(group)
        if found is None:
            raise KeyError(f"unknown group {group!r}")
        return found

    def add_group(
        self,
        name: str,
        group_id: str,
        members: Iterable[str] = (),
        *,
        roles: Iterable[str] | None = None,
        synced: bool = False,
    ) -> Group:
        """Create a group with the given id, members and roles (None: the default by name)."""
        with self.lock:
            group = Group(
                group_id,
                name,
                list(dict.fromkeys(members)),
                roles=None if roles is None else tuple(roles),
                synced=synced,
            )
            self.groups[group_id] = group
            self.touch()
        return group

    def remove_group(self, group: str) -> None:
        """Delete a group (by id or name)."""
        with self.lock:
            del self.groups[self._group(group).group_id]
            self.touch()

    def add_member(self, group: str, account_id: str) -> None:
        """Add an account to a group (by id or name); no-op if already a member."""
        with self.lock:
            target = self._group(group)
            if account_id not in target.member_ids:
                target.member_ids.append(account_id)
                self.touch()

    def remove_member(self, group: str, account_id: str) -> None:
        """Remove an account from a group (by id or name); no-op if absent."""
        with self.lock:
            target = self._group(group)
            if account_id in target.member_ids:
                target.member_ids.remove(account_id)
                self.touch()

    def set_confluence_access(self, account_id: str, allowed: bool) -> None:
        """Allow or refuse (403 on every Confluence endpoint) the account as a caller."""
        with self.lock:
            if allowed:
                self.no_access.discard(account_id)
            else:
                self.no_access.add(account_id)

    def grant_role(self, account_id: str, role: str) -> bool:
        """Grant a role directly to the account on this site; False if it already had it."""
        check_roles([role])
        with self.lock:
            held = self.direct_roles.get(account_id, ())
            if role in held:
                return False
            self.direct_roles[account_id] = (*held, role)
            self.touch()
            return True

    def revoke_role(self, account_id: str, role: str) -> bool:
        """Remove a directly granted role; False if the account had no such direct grant
        (a role that comes from a group stays: remove the membership for that)."""
        with self.lock:
            held = self.direct_roles.get(account_id, ())
            if role not in held:
                return False
            rest = tuple(r for r in held if r != role)
            if rest:
                self.direct_roles[account_id] = rest
            else:
                del self.direct_roles[account_id]
            self.touch()
            return True

    def set_group_roles(self, group: str, roles: Iterable[str]) -> None:
        """Set the roles a group (by id or name) carries."""
        with self.lock:
            self._group(group).roles = check_roles(roles)
            self.touch()

    def set_group_synced(self, group: str, synced: bool = True) -> None:
        """Mark a group (by id or name) as synced from an identity provider; its current
        members become the membership the IdP pushes."""
        with self.lock:
            target = self._group(group)
            target.synced = synced
            target.idp_member_ids = list(target.member_ids) if synced else None

    def set_suspended(self, account_id: str, suspended: bool) -> None:
        """Suspend (or restore) the account in this site's directory, as ground truth (the
        Admin API and ``sim.actions`` do the same with events and lag)."""
        with self.lock:
            if suspended:
                self.suspended.add(account_id)
            else:
                self.suspended.discard(account_id)

    def add_space(self, space: Space) -> Space:
        """Add (or replace) a space."""
        with self.lock:
            self.spaces[space.key] = space
        return space

    def add_page(self, page: Page) -> Page:
        """Add (or replace) a page."""
        with self.lock:
            self.pages[page.page_id] = page
        return page

    def update_page(
        self,
        page_id: str,
        *,
        when: datetime,
        by: str | None = None,
        body: str | None = None,
        title: str | None = None,
        labels: Iterable[str] | None = None,
    ) -> Page:
        """Publish a new version of a page (bumps the version number)."""
        with self.lock:
            old = self.pages[page_id]
            new = replace(
                old,
                body=old.body if body is None else body,
                title=old.title if title is None else title,
                labels=list(old.labels if labels is None else labels),
                version=old.version + 1,
                last_modified=when,
                last_modified_by=by or old.last_modified_by,
            )
            self.pages[page_id] = new
        return new

    def set_page_status(self, page_id: str, status: str) -> None:
        """Set a page's status (`current`, `archived`, …) without a new version."""
        with self.lock:
            self.pages[page_id] = replace(self.pages[page_id], status=status)

    def archive_page(self, page_id: str) -> None:
        """Archive a page (hidden from default search)."""
        self.set_page_status(page_id, "archived")

    def remove_page(self, page_id: str) -> None:
        """Delete a page."""
        with self.lock:
            del self.pages[page_id]

    # ----- JSON ------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The whole site as a JSON-ready dict (round-trips through from_json)."""
        return {
            "name": self.name,
            "cloudId": self.cloud_id,
            "verifiedDomains": list(self.verified_domains),
            "generatedAt": iso(self.generated_at),
            "operators": dict(self.operators),
            "accounts": [a.to_json() for a in self.accounts.values()],
            "groups": [g.to_json() for g in self.groups.values()],
            "spaces": [s.to_json() for s in self.spaces.values()],
            "pages": [p.to_json() for p in self.pages.values()],
            "directRoles": {a: list(r) for a, r in self.direct_roles.items()},
            "suspended": sorted(self.suspended),
            "directoryId": self.directory_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Site:
        """Build a site from a dict as written by to_json (most fields optional)."""
        return cls(
            name=str(data["name"]),
            cloud_id=str(data.get("cloudId") or f"cloud-{data['name']}"),
            verified_domains=[str(d) for d in data.get("verifiedDomains", [])],
            generated_at=parse_time(data.get("generatedAt")),
            accounts=[Account.from_json(a) for a in data.get("accounts", [])],
            groups=[Group.from_json(g) for g in data.get("groups", [])],
            spaces=[Space.from_json(s) for s in data.get("spaces", [])],
            pages=[Page.from_json(p) for p in data.get("pages", [])],
            operators={str(k): str(v) for k, v in data.get("operators", {}).items()},
            direct_roles={
                str(k): [str(r) for r in v] for k, v in (data.get("directRoles") or {}).items()
            },
            suspended=[str(a) for a in data.get("suspended", [])],
            directory_id=data.get("directoryId"),
        )

    def save(self, path: str | Path) -> None:
        """Write the site as JSON to path."""
        Path(path).write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")


def load_sites(path: str | Path) -> list[Site]:
    """Load one site (`{...}`) or several (`{"sites": [...]}` or `[...]`) from a JSON file."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, list):
        return [Site.from_json(d) for d in data]
    if "sites" in data:
        return [Site.from_json(d) for d in data["sites"]]
    return [Site.from_json(data)]


def load_site(path: str | Path) -> Site:
    """Load a single site from a JSON file (the first one if the file holds several)."""
    return load_sites(path)[0]
