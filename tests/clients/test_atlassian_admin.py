"""Admin API directory search: request shape, cursor, parsing, retries and errors."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from services.atlassian.admin import AdminClient
from services.confluence.errors import ConfluenceAuthError
from services.confluence.retry import RetryPolicy, RetryStats
from services.models import AccountStatus

from .support import FakeSleep, Router, body_of

API = "http://127.0.0.1:8765/api"
SEARCH = "/api/admin/v2/orgs/org-1/directories/-/users/search"


@pytest.fixture
def admin(http: httpx.AsyncClient, policy: RetryPolicy) -> AdminClient:
    return AdminClient(http, "key-SECRET-5", policy, api_base=API)


def _user(i: int, **extra: object) -> dict[str, object]:
    return {"accountId": f"a{i}", "accountType": "atlassian", "accountStatus": "active",
            "status": "active", "claimStatus": "managed", "name": f"U{i}",
            "email": f"u{i}@acme.test", "mfaEnabled": i % 2 == 0} | extra  # fmt: skip


def _access(key: str, cloud_id: str, at: str) -> dict[str, str]:
    return {"key": key, "id": cloud_id, "lastActiveTimestamp": at}


async def test_search_first_and_next_page(router: Router, admin: AdminClient) -> None:
    access = [
        _access("jira-software", "cloud-1", "2026-10-05T00:00:00Z"),  # another product
        _access("confluence", "cloud-2", "2026-10-04T00:00:00Z"),  # another site
        _access("confluence", "cloud-1", "2026-10-01T00:00:00Z"),
    ]
    router.json(
        "POST",
        SEARCH,
        {"data": [_user(1), _user(2, productAccess=access)], "links": {"next": "c2"}},
        {"data": [_user(3, mfaEnabled=None)], "links": {}},  # no next: the last page
    )
    first = await admin.search_directory_users("org-1", cloud_id="cloud-1")
    assert [(u.account_id, u.mfa_enabled) for u in first.items] == [("a1", False), ("a2", True)]
    assert first.items[0].last_active is None
    assert first.items[1].last_active == datetime(2026, 10, 1, tzinfo=UTC)
    assert first.items[0].account_status is AccountStatus.ACTIVE
    assert first.next_cursor == "c2"
    second = await admin.search_directory_users("org-1", cursor=first.next_cursor, limit=50)
    assert second.items[0].mfa_enabled is None
    assert second.next_cursor is None
    assert body_of(router.requests[0]) == {"limit": 100, "expand": ["productAccess"]}
    assert body_of(router.requests[1]) == {
        "limit": 50,
        "expand": ["productAccess"],
        "cursor": "c2",
    }
    assert router.requests[0].headers["authorization"] == "Bearer key-SECRET-5"
    assert router.requests[0].headers["accept"] == "application/json"


async def test_search_is_retried_as_a_read(
    router: Router, admin: AdminClient, sleep: FakeSleep, stats: RetryStats
) -> None:
    router.sequence(
        "POST",
        SEARCH,
        httpx.Response(429, headers={"Retry-After": "2"}),
        httpx.Response(200, json={"data": [], "links": {}}),
    )
    page = await admin.search_directory_users("org-1")
    assert page.items == [] and page.next_cursor is None
    assert sleep.waits == [2.0]
    assert stats.rate_limit_waits == 1


async def test_oauth_token_refused(router: Router, admin: AdminClient) -> None:
    router.json("POST", SEARCH, {"code": 401, "message": "Unauthorized"}, status=401)
    with pytest.raises(ConfluenceAuthError) as caught:
        await admin.search_directory_users("org-1")
    assert "key-SECRET-5" not in str(caught.value)
    assert len(router.requests) == 1


@pytest.mark.parametrize("limit", [0, 101])
async def test_limit_bounds(admin: AdminClient, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        await admin.search_directory_users("org-1", limit=limit)


async def test_search_filters_and_expansions(router: Router, admin: AdminClient) -> None:
    """Issue 21: the role-filtered search (who holds a role on a resource) asks for no
    expansion; the directory's own search expands productAccess and platformRoles."""
    router.json("POST", SEARCH, {"data": [_user(1, platformRoles=["atlassian/org-admin"])]})
    found = await admin.search_directory_users(
        "org-1",
        expand=(),
        role_ids=("atlassian/admin",),
        resource_ids=("ari:cloud:confluence::site/cloud-1",),
        directory_ids=("d2",),
    )
    assert found.items[0].platform_roles == ("atlassian/org-admin",)
    assert body_of(router.requests[0]) == {
        "limit": 100,
        "roleIds": ["atlassian/admin"],
        "resourceIds": ["ari:cloud:confluence::site/cloud-1"],
        "directoryIds": ["d2"],
    }
    await admin.search_directory_users("org-1", expand=("productAccess", "platformRoles"))
    assert body_of(router.requests[1])["expand"] == ["productAccess", "platformRoles"]


async def test_directories_follow_the_cursor(router: Router, admin: AdminClient) -> None:
    path = "/api/admin/v2/orgs/org-1/directories"
    router.json(
        "GET",
        path,
        {"data": [{"directoryId": "d1", "name": "One"}], "links": {"next": "n2"}},
        {"data": [{"directoryId": "d2"}], "links": {"self": "n2", "next": None}},
    )
    first = await admin.list_directories("org-1")
    assert (first.items, first.next_cursor) == (["d1"], "n2")
    second = await admin.list_directories("org-1", first.next_cursor)
    assert (second.items, second.next_cursor) == (["d2"], None)
    assert router.requests[1].url.params["cursor"] == "n2"


async def test_role_assignments_of_one_account(router: Router, admin: AdminClient) -> None:
    path = "/api/admin/v2/orgs/org-1/directories/-/users/a1/role-assignments"
    router.json(
        "GET",
        path,
        {
            "data": [
                {
                    "resourceId": "ari:cloud:confluence::site/cloud-1",
                    "roleAssignments": [
                        {"role": "atlassian/user", "roleAssignmentMethods": ["group_direct"]}
                    ],
                    "directoryId": "d1",
                    "userDirectoryStatus": "active",
                }
            ],
            "links": {"next": None},
        },
    )
    page = await admin.role_assignments("org-1", "a1")
    [entry] = page.items
    assert entry.methods("atlassian/user") == ("group_direct",) and page.next_cursor is None
    await admin.role_assignments("org-1", "a1", resource_id="ari:cloud:confluence::site/c")
    assert router.requests[1].url.params["resourceIds"] == "ari:cloud:confluence::site/c"
