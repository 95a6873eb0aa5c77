"""The fewest requests a sync can read a simulated site with: the ground truth that
``tests/sync/test_ground_truth.py`` holds the sync to and ``bench/sync_wall.py`` measures
its floor from."""

from __future__ import annotations

import math

from simulator import Simulator
from simulator.roles import ADMIN, SITE_ADMIN
from simulator.site import Site

GROUPS = "GET /wiki/rest/api/group"
MEMBERS = "GET /wiki/rest/api/group/{groupId}/membersByGroupId"
USERS_BULK = "POST /wiki/api/v2/users-bulk"
DIRECTORY = "POST /admin/v2/orgs/{orgId}/directories/-/users/search"
SEARCH = "GET /wiki/rest/api/content/search"
TENANT_INFO = "GET /_edge/tenant_info"
DIRECTORIES = "GET /admin/v2/orgs/{orgId}/directories"
ROLE_ASSIGNMENTS = (
    "GET /admin/v2/orgs/{orgId}/directories/{directoryId}/users/{accountId}/role-assignments"
)


def pages_needed(n: int, size: int) -> int:
    """Pages of at most ``size`` items that ``n`` items take (an empty list still takes one)."""
    return max(1, math.ceil(n / size))


def in_directory(site: Site, account_id: str) -> bool:
    """Listed by the Admin API's directory (atlassian accounts with a known status)."""
    a = site.accounts[account_id]
    return a.account_type == "atlassian" and a.account_status != "unknown"


def product_admins(site: Site) -> list[str]:
    """Directory accounts holding atlassian/admin on the site's Confluence."""
    index = site.role_index()
    return [a for a in site.accounts if in_directory(site, a) and ADMIN in index.get(a, {})]


def site_admin_candidates(sim: Simulator) -> list[str]:
    """Directory accounts whose ``platformRoles`` has site-admin but not org-admin."""
    site = sim.site
    index = site.role_index()
    return [
        a
        for a in site.accounts
        if in_directory(site, a) and SITE_ADMIN in index.get(a, {}) and a not in sim.org.admins
    ]


def expected_requests(sim: Simulator) -> dict[str, int]:
    """The fewest requests that can read the whole site (server page-size caps)."""
    site, config = sim.site, sim.config
    admins = product_admins(site)
    reads = set(admins) | set(site_admin_candidates(sim))
    return {
        GROUPS: pages_needed(len(site.groups), config.groups_cap),
        MEMBERS: sum(
            pages_needed(len(site.members_of(g)), config.members_cap) for g in site.groups
        ),
        USERS_BULK: math.ceil(len(site.member_account_ids()) / config.users_bulk_max),
        # the directory, then the product admins of the site's Confluence (roleIds filter)
        DIRECTORY: pages_needed(len(sim.directory_accounts()), config.admin_max_limit)
        + pages_needed(len(admins), config.admin_max_limit),
        DIRECTORIES: 1,
        ROLE_ASSIGNMENTS: len(reads),  # admins and site-admin candidates: one page each
        TENANT_INFO: 1,  # the API-token site's cloud id: last activity is per site (§5.8)
    }
