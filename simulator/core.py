"""The Simulator: sites, credentials, tokens, faults, counters and clock in one object."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.clock import SimClock
from simulator.counters import Counters
from simulator.credentials import Credentials
from simulator.faults import FaultConfig, Faults
from simulator.generate import generate_site
from simulator.model import Account
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

    Ground truth lives in `sites` (read and mutate them directly); `faults`, `counters`,
    `clock`, `tokens.policy` and `config` may be changed while the server runs.
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
        self.suspended: set[str] = set()  # accounts suspended via the Admin API
        self.quota = QuotaTracker(self.clock)
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

    def reset(self) -> None:
        """Clear faults, counters, quota usage and simulated clock offset (not the data)."""
        self.faults.clear()
        self.counters.reset()
        self.quota.reset()
        self.clock.reset()
