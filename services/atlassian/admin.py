"""Atlassian organization Admin API client: directory users (MFA, status, last active, product
access, platform roles), directories, role assignments, and the audit events stream."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote

import httpx

from services.atlassian.events import (
    EventAction,
    EventPage,
    parse_event_actions,
    parse_event_page,
)
from services.atlassian.oauth import DEFAULT_API_BASE
from services.confluence import paths
from services.confluence.auth import BearerAuth
from services.confluence.errors import ConfluenceProtocolError
from services.confluence.models import DirectoryUser, ResultPage, RoleAssignment
from services.confluence.parsing import (
    as_object,
    object_list,
    parse_directory_user,
    parse_role_assignment,
)
from services.confluence.requester import DEFAULT_MAX_CONCURRENCY, Requester
from services.confluence.retry import RetryPolicy

MAX_DIRECTORY_PAGE = 100
MAX_EVENTS_PAGE = 200  # events-stream ``limit`` (confluence-api.md §5.10: limit ≤ 200)
PRODUCT_ACCESS, PLATFORM_ROLES = "productAccess", "platformRoles"


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
        expand: Sequence[str] = (PRODUCT_ACCESS,),
        role_ids: Sequence[str] = (),
        resource_ids: Sequence[str] = (),
        directory_ids: Sequence[str] = (),
        account_ids: Sequence[str] = (),
    ) -> ResultPage[DirectoryUser]:
        """One page of the organization's directory users (confluence-api.md §5.8).

        ``productAccess`` is expanded by default (it is the only source of last activity and
        of product access); a user's ``last_active`` and ``site_access`` are those of the
        Confluence entry of site ``cloud_id``. ``role_ids``, ``resource_ids``,
        ``directory_ids`` and ``account_ids`` are the search's filters (a cursor stays bound
        to them; ``accountIds`` is how a targeted refresh reads a few accounts, §5.10).
        """
        if not 1 <= limit <= MAX_DIRECTORY_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_DIRECTORY_PAGE}, got {limit}")
        endpoint = paths.ADMIN_DIRECTORY_USERS_SEARCH
        url = self._base + endpoint.format(org_id=quote(org_id, safe=""))
        body: dict[str, str | int | list[str]] = {"limit": limit}
        for name, values in (
            ("expand", expand),
            ("roleIds", role_ids),
            ("resourceIds", resource_ids),
            ("directoryIds", directory_ids),
            ("accountIds", account_ids),
        ):
            if values:
                body[name] = list(values)
        if cursor:
            body["cursor"] = cursor
        response = await self._requester.request("POST", url, endpoint=endpoint, body=body)
        data = as_object(response.data, endpoint)
        users = [
            parse_directory_user(item, cloud_id) for item in object_list(data, "data", endpoint)
        ]
        return ResultPage(users, _next(data.get("links")))

    async def list_directories(self, org_id: str, cursor: str | None = None) -> ResultPage[str]:
        """One page of the organization's directory ids (``links.next`` is the cursor)."""
        endpoint = paths.ADMIN_DIRECTORIES
        url = self._base + endpoint.format(org_id=quote(org_id, safe=""))
        params = {"cursor": cursor} if cursor else None
        response = await self._requester.request("GET", url, endpoint=endpoint, params=params)
        data = as_object(response.data, endpoint)
        ids = []
        for item in object_list(data, "data", endpoint):
            directory_id = item.get("directoryId")
            if not isinstance(directory_id, str) or not directory_id:
                raise ConfluenceProtocolError(f"{endpoint}: a directory without an id")
            ids.append(directory_id)
        return ResultPage(ids, _next(data.get("links")))

    async def role_assignments(
        self,
        org_id: str,
        account_id: str,
        cursor: str | None = None,
        *,
        directory_id: str = "-",
        resource_id: str | None = None,
    ) -> ResultPage[RoleAssignment]:
        """One page of an account's role assignments (``-``: every directory), optionally for
        one resource (confluence-api.md §5.9)."""
        endpoint = paths.ADMIN_ROLE_ASSIGNMENTS
        url = self._base + endpoint.format(
            org_id=quote(org_id, safe=""),
            directory_id=quote(directory_id, safe=""),
            account_id=quote(account_id, safe=""),
        )
        params: dict[str, str | int] = {}
        if cursor:
            params["cursor"] = cursor  # "all other parameters are discarded"
        elif resource_id:
            params["resourceIds"] = resource_id
        response = await self._requester.request(
            "GET", url, endpoint=endpoint, params=params or None
        )
        data = as_object(response.data, endpoint)
        found = [parse_role_assignment(i) for i in object_list(data, "data", endpoint)]
        return ResultPage(found, _next(data.get("links")))

    async def poll_events(
        self,
        org_id: str,
        cursor: str | None = None,
        *,
        since: datetime | None = None,
        limit: int = MAX_EVENTS_PAGE,
    ) -> EventPage:
        """One read of the organization's events stream (confluence-api.md §5.10).

        The first read passes ``since`` (``from`` in epoch milliseconds, ascending, ``limit``
        at most 200); every later one only the ``cursor`` of the previous answer
        (``meta.next``, returned on every page). A 403 is Atlassian Guard Standard missing
        (the org audit log needs it); a 401 "scope does not match" a key without
        ``read:events:admin`` — both raised as the usual errors for the caller to report.
        """
        if not 1 <= limit <= MAX_EVENTS_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_EVENTS_PAGE}, got {limit}")
        endpoint = paths.ADMIN_EVENTS_STREAM
        url = self._base + endpoint.format(org_id=quote(org_id, safe=""))
        params: dict[str, str | int]
        if cursor:
            params = {"cursor": cursor}
        else:
            params = {"sortOrder": "asc", "limit": limit}
            if since is not None:
                params["from"] = int(since.timestamp() * 1000)
        response = await self._requester.request("GET", url, endpoint=endpoint, params=params)
        return parse_event_page(response.data, endpoint)

    async def event_actions(self, org_id: str) -> list[EventAction]:
        """The action names the organization's audit log uses (Atlassian publishes no list)."""
        endpoint = paths.ADMIN_EVENT_ACTIONS
        url = self._base + endpoint.format(org_id=quote(org_id, safe=""))
        response = await self._requester.request("GET", url, endpoint=endpoint)
        return parse_event_actions(response.data, endpoint)


def _next(links: object) -> str | None:
    """The next page's cursor in ``links.next`` (absent, null or empty on the last page)."""
    nxt = links.get("next") if isinstance(links, dict) else None
    return nxt if isinstance(nxt, str) and nxt else None
