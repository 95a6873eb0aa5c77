"""The Simulator: sites, credentials, tokens, faults, counters and clock in one object."""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from simulator.actions import Actions
from simulator.behaviour import Behaviour, BehaviourConfig
from simulator.clock import SimClock
from simulator.counters import Counters
from simulator.credentials import Credentials
from simulator.events import EventLog
from simulator.faults import FaultConfig, Faults
from simulator.generate import generate_site
from simulator.model import Account
from simulator.oidc import OidcIdP
from simulator.org import Organization
from simulator.ratelimit import QuotaTracker
from simulator.routing import RouteInfo
from simulator.scopes import VIGIL_SCOPES
from simulator.site import AccountTable, Site
from simulator.tokens import TokenPolicy, TokenStore

DIRECTORY_STATUSES = ("active", "inactive", "closed")  # Admin API accountStatus (§5.8)


@dataclass(slots=True)
class SimulatorConfig:
    """Server-side page-size caps (mutable at runtime)."""

    members_cap: int = 200  # v1 membersByGroupId
    memberof_cap: int = 200  # v1 user/memberof
    directories_default_limit: int = 20  # Admin API directories (limit and cursor)
    directories_max_limit: int = 100
    groups_cap: int = 200  # v1 group
    search_cap: int = 50  # v1 content/search without body expansion
    search_body_cap: int = 25  # v1 content/search with body.storage expanded
    search_default_limit: int = 25
    v2_max_limit: int = 250  # v2 spaces (1-250, default 25)
    v2_default_limit: int = 25
    users_bulk_max: int = 250  # v2 users-bulk ids per call
    admin_max_limit: int = 100  # Admin API users/search (1-100, default 50)
    admin_default_limit: int = 50


@dataclass(frozen=True, slots=True)
class DirectoryView:
    """The organization directory as built once: by account id, and in listing order."""

    index: dict[str, tuple[Site, Account]]
    entries: tuple[tuple[Site, Account], ...]


@dataclass(slots=True)
class RequestMeta:
    """Per-request facts the handlers share with the middleware (via scope["vigil"])."""

    route: RouteInfo
    tenant: str | None = None  # cloud id, once authenticated
    points: int = 0  # extra quota points (per returned object)


class Simulator:
    """A Confluence Cloud + Atlassian auth/admin simulator.

    Ground truth lives in `sites` (read and mutate them directly) and `org` (directories,
    suspensions, organization admins); `faults`, `counters`, `clock`, `tokens.policy`,
    `config` and `behaviour` may be changed while the server runs. `actions` makes the changes
    an admin makes in Atlassian (with events in `events` and, when set, lagging read-backs).
    """

    def __init__(
        self,
        sites: Site | Sequence[Site] | None = None,
        *,
        seed: int = 1,
        credentials: Credentials | None = None,
        config: SimulatorConfig | None = None,
        faults: FaultConfig | None = None,
        token_policy: TokenPolicy | None = None,
        clock: SimClock | None = None,
        behaviour: BehaviourConfig | None = None,
    ) -> None:
        if sites is None:
            sites = [generate_site(seed=seed)]
        elif isinstance(sites, Site):
            sites = [sites]
        if not sites:
            raise ValueError("a simulator needs at least one site")
        self.sites: dict[str, Site] = {s.name: s for s in sites}
        self.seed = seed
        self.clock = clock or SimClock()
        self.credentials = credentials or Credentials.default(list(self.sites.values()), seed)
        self.config = config or SimulatorConfig()
        self.tokens = TokenStore(self.clock, token_policy)
        self.faults = Faults(self.clock, seed, faults)
        self.counters = Counters()
        self.quota = QuotaTracker(self.clock)
        self.behaviour = Behaviour(behaviour)
        self.org = Organization(self.credentials.org_id, self.sites.values())
        self.events = EventLog(seed)
        self.actions = Actions(self)
        self.oidc = OidcIdP(self.clock, seed)
        self._pending: list[tuple[datetime, int, Callable[[], object]]] = []
        self._pending_seq = itertools.count()
        self._pending_lock = threading.Lock()
        self._intents: dict[Hashable, tuple[int, bool, datetime]] = {}
        self._apply_lock = threading.Lock()
        self._directory_cache: tuple[tuple[tuple[int, int, int], ...], DirectoryView] | None = None

    @classmethod
    def generate(
        cls,
        users: int = 200,
        groups: int = 20,
        pages: int = 60,
        seed: int = 1,
        *,
        site_names: Iterable[str] = ("acme",),
        **kwargs: Any,
    ) -> Simulator:
        """A simulator over freshly generated site(s) (same seed → same data)."""
        names = list(site_names)
        domain = f"{names[0]}.example"
        sites = [generate_site(users, groups, pages, seed, name=n, domain=domain) for n in names]
        return cls(sites, seed=seed, **kwargs)

    @property
    def site(self) -> Site:
        """The first (default) site."""
        return next(iter(self.sites.values()))

    def site_by_cloud_id(self, cloud_id: str) -> Site | None:
        """The site with this cloud id, or None."""
        return next((s for s in self.sites.values() if s.cloud_id == cloud_id), None)

    def issue_access_token(
        self,
        scopes: Iterable[str] = VIGIL_SCOPES,
        *,
        account_id: str | None = None,
        sites: Iterable[str] | None = None,
        refresh: bool = True,
    ) -> dict[str, Any]:
        """Test shortcut: a 3LO token response (as from /oauth/token) without consent."""
        names = list(sites) if sites is not None else list(self.sites)
        return self.tokens.issue_for_test(
            account_id=account_id or self.credentials.oauth_account_id,
            scopes=frozenset(scopes),
            cloud_ids=tuple(self.sites[n].cloud_id for n in names),
            client_id=self.credentials.oauth_client_id,
            refresh=refresh,
        )

    def directory_accounts(self) -> list[tuple[Site, Account]]:
        """The organization directory: `atlassian` accounts of every site, deduplicated.

        Accounts whose status is outside the Admin API's ``accountStatus`` enum (the
        generator's few ``unknown`` ones) are not in it. Built once and kept until an account
        of a site changes (so paging through it costs a slice per page, not a rebuild)."""
        return list(self._directory().entries)

    def directory_page(self, offset: int, limit: int) -> tuple[list[tuple[Site, Account]], int]:
        """``limit`` directory entries from ``offset``, and how many there are in all."""
        entries = self._directory().entries
        return list(entries[offset : offset + limit]), len(entries)

    def directory_account(self, account_id: str) -> tuple[Site, Account] | None:
        """The directory's entry for ``account_id``, or None when it is not in the directory."""
        return self._directory().index.get(account_id)

    def _directory(self) -> DirectoryView:
        key = self._directory_key()
        cached = self._directory_cache
        if key is not None and cached is not None and cached[0] == key:
            return cached[1]
        seen: dict[str, tuple[Site, Account]] = {}
        for site in self.sites.values():
            with site.lock:
                for account in site.accounts.values():
                    if account.account_type == "atlassian" and account.account_status in (
                        DIRECTORY_STATUSES
                    ):
                        seen.setdefault(account.account_id, (site, account))
        # The key was taken before the build: a change during it only forces another build.
        view = DirectoryView(seen, tuple(seen.values()))
        self._directory_cache = (key, view) if key is not None else None
        return view

    def _directory_key(self) -> tuple[tuple[int, int, int], ...] | None:
        """What the directory was built from (None when a site's accounts cannot tell)."""
        key = []
        for site in self.sites.values():
            accounts = site.accounts
            if not isinstance(accounts, AccountTable):
                return None
            key.append((id(site), id(accounts), accounts.version))
        return tuple(key)

    # ----- roles, suspension, ground truth ---------------------------------------------

    @property
    def suspended(self) -> set[str]:
        """Accounts whose ``membershipStatus`` is ``suspended`` (suspended in every directory
        they are in). A copy: suspend and restore with ``actions`` (or ``site.set_suspended``)."""
        with self.org.lock:
            candidates = set().union(*(d.suspended for d in self.org.directories.values()))
        return {
            a
            for a in candidates
            if self.org.membership_status(a, self.directory_account(a) is not None) == "suspended"
        }

    def membership_status(self, account_id: str) -> str:
        """The account's organization-wide ``membershipStatus``."""
        return self.org.membership_status(
            account_id, self.directory_account(account_id) is not None
        )

    def is_site_admin(self, site: Site, account_id: str) -> bool:
        """Holds ``atlassian/site-admin`` on the site, or is an organization admin."""
        return account_id in self.org.admins or site.is_site_admin(account_id)

    def has_confluence_access(self, account_id: str, site: Site | str | None = None) -> bool:
        """Ground truth: ``Site.has_confluence_access`` of the site (default: the first)."""
        return self.actions.site(site).has_confluence_access(account_id)

    def confluence_access(self, site: Site | str | None = None) -> dict[str, bool]:
        """Ground truth for every account of the site: ``Site.confluence_access``."""
        return self.actions.site(site).confluence_access()

    # ----- lagging writes ----------------------------------------------------------------

    def schedule(
        self,
        apply: Callable[[], object],
        *,
        delay: float | None = None,
        intent: tuple[Hashable, bool] | None = None,
    ) -> None:
        """Apply a write's effect now, or ``delay`` seconds later on the simulator's clock
        (default: ``behaviour.lag_seconds``); later ones are applied, in order, by
        ``apply_due_writes`` (run before every request). ``intent`` (key, value) records what
        a lagging write will make true, so later writes are judged against it (``intended``),
        and keeps writes to the same key in order even when the lag changes between them."""
        lag = max(0.0, self.behaviour.lag_seconds if delay is None else delay)
        now = self.clock.now()
        due = now + timedelta(seconds=lag)
        key = intent[0] if intent is not None else None
        with self._pending_lock:
            earlier = self._intents.get(key) if key is not None else None
            if earlier is not None:
                due = max(due, earlier[2])  # never visible before an earlier write to the key
            if due <= now:
                immediate = True
            else:
                immediate = False
                seq = next(self._pending_seq)
                if intent is not None:
                    self._intents[intent[0]] = (seq, intent[1], due)
                heapq.heappush(self._pending, (due, seq, self._run(apply, key, seq)))
        if immediate:
            apply()

    def _run(
        self, apply: Callable[[], object], key: Hashable | None, seq: int
    ) -> Callable[[], None]:
        def run() -> None:
            apply()
            if key is not None:
                with self._pending_lock:
                    entry = self._intents.get(key)
                    if entry is not None and entry[0] == seq:
                        del self._intents[key]

        return run

    def intended(self, key: Hashable, visible: bool) -> bool:
        """What a state will be once the writes still lagging are applied (else ``visible``)."""
        with self._pending_lock:
            entry = self._intents.get(key)
        return visible if entry is None else entry[1]

    def apply_due_writes(self, *, everything: bool = False, blocking: bool = True) -> int:
        """Apply the writes whose lag is over (all of them with ``everything``); how many.

        One thread applies at a time, in order. ``blocking=False`` (used while a site lock may
        be held) skips when another thread is applying, so locks are never waited on in a
        cycle."""
        if not self._apply_lock.acquire(blocking=blocking):
            return 0
        applied = 0
        try:
            while True:
                with self._pending_lock:
                    if not self._pending or not (
                        everything or self._pending[0][0] <= self.clock.now()
                    ):
                        return applied
                    _, _, apply = heapq.heappop(self._pending)
                apply()
                applied += 1
        finally:
            self._apply_lock.release()

    def pending_writes(self) -> int:
        """Writes made but not yet visible to reads."""
        with self._pending_lock:
            return len(self._pending)

    def reset(self) -> None:
        """Clear faults, counters, quota usage, simulated clock offset and behaviour switches;
        apply any write still lagging (the data itself stays)."""
        self.apply_due_writes(everything=True)
        self.faults.clear()
        self.counters.reset()
        self.quota.reset()
        self.clock.reset()
        self.behaviour.reset()
        self.org.guard_standard = True
        self.events.reset_scripts()
        self.oidc.reset()
