"""Atlassian organization Admin API client (directory users: MFA, status, last active)."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from services.atlassian.oauth import DEFAULT_API_BASE
from services.confluence import paths
from services.confluence.auth import BearerAuth
from services.confluence.models import DirectoryUser, ResultPage
from services.confluence.parsing import as_object, object_list, parse_directory_user
from services.confluence.requester import DEFAULT_MAX_CONCURRENCY, Requester
from services.confluence.retry import RetryPolicy

MAX_DIRECTORY_PAGE = 100


class AdminClient:
    """Reads an organization's directory with an org admin API key.

    Contract: like ConfluenceClient — one page per call with an opaque ``next_cursor``
    (None on the last page), the same RetryPolicy (the search POST is a read and is
    retried), the same ``ConfluenceError`` tree, typed results only.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        api_key: str,
        policy: RetryPolicy,
        *,
        api_base: str = DEFAULT_API_BASE,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    ) -> None:
        self._base = api_base.rstrip("/")
        auth = BearerAuth(api_key)
        self._requester = Requester(http, auth, policy, max_concurrency=max_concurrency)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api_base={self._base!r}, api_key='***')"

    async def search_directory_users(
        self,
        org_id: str,
        cursor: str | None = None,
        limit: int = MAX_DIRECTORY_PAGE,
        *,
        cloud_id: str | None = None,
    ) -> ResultPage[DirectoryUser]:
        """One page of the organization's directory users (confluence-api.md §5.8).

        ``productAccess`` is expanded (it is the only source of last activity); a user's
        ``last_active`` is that of the Confluence entry of site ``cloud_id`` (None without it).
        """
        if not 1 <= limit <= MAX_DIRECTORY_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_DIRECTORY_PAGE}, got {limit}")
        endpoint = paths.ADMIN_DIRECTORY_USERS_SEARCH
        url = self._base + endpoint.format(org_id=quote(org_id, safe=""))
        body: dict[str, str | int | list[str]] = {"limit": limit, "expand": ["productAccess"]}
        if cursor:
            body["cursor"] = cursor
        response = await self._requester.request("POST", url, endpoint=endpoint, body=body)
        data = as_object(response.data, endpoint)
        users = [
            parse_directory_user(item, cloud_id) for item in object_list(data, "data", endpoint)
        ]
        links = data.get("links")
        nxt = links.get("next") if isinstance(links, dict) else None
        return ResultPage(users, nxt if isinstance(nxt, str) and nxt else None)
