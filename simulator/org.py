"""The simulated organization: its directories, suspensions, organization admins, Guard plan.

A site's resources are mapped to one directory (``site.directory_id``, default: the
organization's ``local-{orgId}`` directory); an account is a member of a directory when it is
in the organization's directory listing and on a site mapped to it, or was added to the
directory explicitly (``add_directory(..., members=…)``, for accounts in several directories).
Suspension is per directory; the user's ``membershipStatus`` is the organization-wide aggregate
(``suspended`` only when suspended in every directory it is in; jira.js ``MembershipStatus``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from simulator.site import Site


@dataclass(slots=True)
class Directory:
    """One directory of the organization. ``suspended`` is shared with its sites."""

    directory_id: str
    name: str
    suspended: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)  # explicit members (besides its sites')
    sites: list[Site] = field(default_factory=list)


def default_directory_id(org_id: str) -> str:
    """The organization's default (local) directory."""
    return f"local-{org_id}"


class Organization:
    """Directories, suspensions, org admins, deactivations and the Guard plan of one org."""

    def __init__(self, org_id: str, sites: Iterable[Site]) -> None:
        self.org_id = org_id
        self.lock = threading.RLock()
        self.admins: set[str] = set()  # accounts holding atlassian/org-admin
        self.guard_standard = True  # the org audit log needs Atlassian Guard Standard
        self.deactivated_at: dict[str, datetime] = {}  # managed accounts disabled via the API
        self.directories: dict[str, Directory] = {}
        default = default_directory_id(org_id)
        self.directories[default] = Directory(default, "Local directory")
        for site in sites:
            self.map_site(site)

    @property
    def default_directory(self) -> Directory:
        """The organization's default directory (first)."""
        return next(iter(self.directories.values()))

    def map_site(self, site: Site) -> Directory:
        """Map a site to its directory (creating it); the site shares its suspensions."""
        with self.lock:
            directory_id = site.directory_id or self.default_directory.directory_id
            directory = self.directories.get(directory_id)
            if directory is None:
                directory = Directory(directory_id, f"Directory {directory_id}")
                self.directories[directory_id] = directory
            directory.suspended |= site.suspended
            for other in directory.sites:
                other.suspended = directory.suspended
            site.suspended = directory.suspended
            directory.sites.append(site)
            return directory

    def add_directory(self, directory_id: str, name: str, members: Iterable[str] = ()) -> Directory:
        """Add a directory with explicit members (no site mapped to it)."""
        with self.lock:
            directory = self.directories.setdefault(directory_id, Directory(directory_id, name))
            directory.members |= set(members)
            return directory

    def directory_of(self, site: Site) -> Directory:
        """The directory the site's resources are mapped to."""
        return self.directories[site.directory_id or self.default_directory.directory_id]

    def is_member(self, directory: Directory, account_id: str, in_org: bool) -> bool:
        """Whether the account (``in_org``: listed in the org directory) is in ``directory``."""
        if account_id in directory.members:
            return True
        return in_org and any(account_id in site.accounts for site in directory.sites)

    def directories_of(self, account_id: str, in_org: bool) -> list[Directory]:
        """The directories the account is a member of, in order."""
        with self.lock:
            return [d for d in self.directories.values() if self.is_member(d, account_id, in_org)]

    def membership_status(self, account_id: str, in_org: bool) -> str:
        """``active`` | ``suspended`` (in every directory it is in) | ``no_membership``."""
        directories = self.directories_of(account_id, in_org)
        if not directories:
            return "no_membership"
        if all(account_id in d.suspended for d in directories):
            return "suspended"
        return "active"
