"""The fewest requests a sync can read a simulated site with: the ground truth that
``tests/sync/test_ground_truth.py`` holds the sync to and ``bench/sync_wall.py`` measures
its floor from."""

from __future__ import annotations

import math

from simulator import Simulator

GROUPS = "GET /wiki/rest/api/group"
MEMBERS = "GET /wiki/rest/api/group/{groupId}/membersByGroupId"
USERS_BULK = "POST /wiki/api/v2/users-bulk"
DIRECTORY = "POST /admin/v2/orgs/{orgId}/directories/-/users/search"
SEARCH = "GET /wiki/rest/api/content/search"
TENANT_INFO = "GET /_edge/tenant_info"


def pages_needed(n: int, size: int) -> int:
    """Pages of at most ``size`` items that ``n`` items take (an empty list still takes one)."""
    return max(1, math.ceil(n / size))


def expected_requests(sim: Simulator) -> dict[str, int]:
    """The fewest requests that can read the whole site (server page-size caps)."""
    site, config = sim.site, sim.config
    return {
        GROUPS: pages_needed(len(site.groups), config.groups_cap),
        MEMBERS: sum(
            pages_needed(len(site.members_of(g)), config.members_cap) for g in site.groups
        ),
        USERS_BULK: math.ceil(len(site.member_account_ids()) / config.users_bulk_max),
        DIRECTORY: pages_needed(len(sim.directory_accounts()), config.admin_max_limit),
        TENANT_INFO: 1,  # the API-token site's cloud id: last activity is per site (§5.8)
    }
