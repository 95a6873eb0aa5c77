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


class AdminApi:
    """A client of the simulated api.atlassian.com with the org admin API key."""

    def __init__(self, running: RunningSimulator, key: str | None = None) -> None:
        creds = running.sim.credentials
        self.running = running
        self.org = creds.org_id
        self.http = httpx.Client(
            base_url=running.api_url,
            headers={"Authorization": f"Bearer {key or creds.admin_api_key}"},
            timeout=10,
        )

    def __enter__(self) -> AdminApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def directories(self, account_id: str | None = None, **params: Any) -> httpx.Response:
        if account_id is not None:
            params["accountId"] = account_id
        return self.http.get(f"/admin/v2/orgs/{self.org}/directories", params=params)

    def directory_ids(self, account_id: str) -> list[str]:
        """Every directory of the account, following ``links.next`` cursors."""
        found: list[str] = []
        params: dict[str, Any] = {"accountId": account_id, "limit": 1}
        while True:
            page = self.http.get(f"/admin/v2/orgs/{self.org}/directories", params=params)
            assert page.status_code == 200, page.text
            body = page.json()
            found += [d["directoryId"] for d in body["data"]]
            cursor = body["links"].get("next")
            if not cursor:
                return found
            params = {"cursor": cursor}

    def user_path(self, directory_id: str, account_id: str) -> str:
        return f"/admin/v2/orgs/{self.org}/directories/{directory_id}/users/{account_id}"

    def suspend(self, directory_id: str, account_id: str) -> httpx.Response:
        return self.http.post(self.user_path(directory_id, account_id) + "/suspend")

    def restore(self, directory_id: str, account_id: str) -> httpx.Response:
        return self.http.post(self.user_path(directory_id, account_id) + "/restore")

    def role_assignments(
        self, directory_id: str, account_id: str, **params: Any
    ) -> list[dict[str, Any]]:
        response = self.http.get(
            self.user_path(directory_id, account_id) + "/role-assignments", params=params
        )
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def roles(self, action: str, account_id: str, role: str, resource: str) -> httpx.Response:
        return self.http.post(
            f"/admin/v1/orgs/{self.org}/users/{account_id}/roles/{action}",
            json={"role": role, "resource": resource},
        )

    def lifecycle(self, action: str, account_id: str, **body: Any) -> httpx.Response:
        return self.http.post(f"/users/{account_id}/manage/lifecycle/{action}", json=body or None)

    def search(self, **body: Any) -> list[dict[str, Any]]:
        """Every user of a directory search (all pages)."""
        users: list[dict[str, Any]] = []
        body = {"limit": 100, **body}
        while True:
            response = self.http.post(
                f"/admin/v2/orgs/{self.org}/directories/-/users/search", json=body
            )
            assert response.status_code == 200, response.text
            page = response.json()
            users += page["data"]
            if not page["links"].get("next"):
                return users
            body["cursor"] = page["links"]["next"]

    def user(self, account_id: str, *expand: str) -> dict[str, Any]:
        [found] = self.search(accountIds=[account_id], expand=list(expand))
        return found

    def events(self, **params: Any) -> httpx.Response:
        return self.http.get(f"/admin/v1/orgs/{self.org}/events-stream", params=params)


def staff(site: Site, *, managed: bool | None = None) -> list[str]:
    """Active atlassian accounts that are not operators (sorted), optionally (un)managed."""
    operators = set(site.operators.values())
    return sorted(
        a.account_id
        for a in site.accounts.values()
        if a.account_type == "atlassian"
        and a.account_status == "active"
        and a.account_id not in operators
        and (managed is None or site.is_managed(a) == managed)
    )
