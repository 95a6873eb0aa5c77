"""Helpers for simulator tests: clients per auth method and small hand-built sites."""

from __future__ import annotations

from typing import Any

import httpx

from simulator import RunningSimulator, Site

ADMIN_ID = "557058:tiny-admin"


def basic_client(
    running: RunningSimulator, role: str = "admin", site: str | None = None
) -> httpx.Client:
    """A client of the site host with an API token (Basic email:token)."""
    creds = running.sim.credentials
    token = creds.admin_token if role == "admin" else creds.member_token
    return httpx.Client(
        base_url=running.site_url(site),
        auth=(token.email, token.token),
        headers={"Accept": "application/json"},
        timeout=10,
    )


def bearer_client(
    running: RunningSimulator, access_token: str, cloud_id: str | None = None
) -> httpx.Client:
    """A client of api.atlassian.com/ex/confluence/{cloudId} with a Bearer token."""
    return httpx.Client(
        base_url=running.confluence_api_base(cloud_id),
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        timeout=10,
    )


def follow_v1(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of a v1 list, following `_links.next` relative to `_links.context`."""
    pages: list[dict[str, Any]] = []
    response = client.get(path, params=params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body)
        next_link = body["_links"].get("next")
        if not next_link:
            return pages
        context = body["_links"]["context"]
        response = client.get(context + next_link)


def small_site_json(group_sizes: dict[str, int], *, name: str = "tiny") -> dict[str, Any]:
    """A site whose groups have exactly the given member counts (plus an admin group)."""
    count = max(group_sizes.values(), default=0)
    accounts: list[dict[str, Any]] = [
        {"accountId": ADMIN_ID, "displayName": "Tiny Admin", "email": f"admin@{name}.example"}
    ]
    accounts += [
        {
            "accountId": f"557058:user-{i:05d}",
            "displayName": f"User {i}",
            "email": f"user{i}@{name}.example",
            "emailVisible": i % 3 != 0,
            "accountType": ["atlassian", "app", "customer", ""][i % 4],
        }
        for i in range(count)
    ]
    groups = [{"id": "g-admins", "name": "confluence-administrators", "members": [ADMIN_ID]}]
    groups += [
        {"id": f"g-{group}", "name": group, "members": [f"557058:user-{i:05d}" for i in range(n)]}
        for group, n in group_sizes.items()
    ]
    return {
        "name": name,
        "cloudId": f"cloud-{name}",
        "verifiedDomains": [f"{name}.example"],
        "operators": {"admin": ADMIN_ID},
        "accounts": accounts,
        "groups": groups,
        "spaces": [{"id": "1", "key": "DOC", "name": "Docs"}],
        "pages": [],
    }


def small_site(group_sizes: dict[str, int], *, name: str = "tiny") -> Site:
    """small_site_json as a Site."""
    return Site.from_json(small_site_json(group_sizes, name=name))
