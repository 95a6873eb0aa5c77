"""The Confluence Cloud client: one method per endpoint, each returning one parsed page."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar
from urllib.parse import quote, urlsplit

import httpx

from services.confluence import paths
from services.confluence.auth import ConfluenceAuth, NoAuth
from services.confluence.errors import ConfluenceProtocolError
from services.confluence.models import (
    BulkUser,
    CurrentUser,
    Group,
    Member,
    Page,
    ResultPage,
    Space,
    WriteAnswer,
)
from services.confluence.pagination import checked_cursor, v1_next_cursor, v2_next_cursor
from services.confluence.parsing import (
    JsonObject,
    answer_message,
    as_object,
    object_list,
    parse_bulk_user,
    parse_content,
    parse_current_user,
    parse_group,
    parse_member,
    parse_space,
    parse_v2_page,
)
from services.confluence.requester import DEFAULT_MAX_CONCURRENCY, Requester
from services.confluence.retry import RetryPolicy

T = TypeVar("T")

MAX_V1_PAGE = 200
MAX_V2_PAGE = 250
MAX_BULK_IDS = 250
DEFAULT_SEARCH_EXPAND = ("body.storage", "version", "space", "metadata.labels", "history")


class ConfluenceClient:
    """Reads Confluence Cloud for one integration.

    Contract: every list method returns ONE page and an opaque ``next_cursor``; pass it back
    unchanged to get the next page (None means last page) — the caller owns the loop. A
    cursor only works for the method that produced it (ValueError otherwise). Reads are
    retried per the RetryPolicy; errors are ``ConfluenceError`` subclasses; at most
    ``max_concurrency`` requests are in flight. Results are typed models, never raw JSON.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        auth: ConfluenceAuth,
        policy: RetryPolicy,
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._requester = Requester(http, auth, policy, max_concurrency=max_concurrency)

    def __repr__(self) -> str:
        return f"ConfluenceClient(base_url={self._base!r})"

    @property
    def base_url(self) -> str:
        """The base URL every endpoint path is appended to."""
        return self._base

    async def current_user(self) -> CurrentUser:
        """The account the credential acts as, with its Confluence admin flag."""
        query = {"expand": "operations"}
        data, _ = await self._fetch(paths.CURRENT_USER, paths.CURRENT_USER, None, query)
        return parse_current_user(data)

    async def list_groups(
        self, cursor: str | None = None, limit: int = MAX_V1_PAGE
    ) -> ResultPage[Group]:
        """One page of groups (v1 offset pagination).

        A v1 Group's ``id`` is nullable (v1 OpenAPI; confluence-api.md §5.3): such a group
        cannot be listed by id, so it is left out and named in ``skipped``."""
        _check_limit(limit, MAX_V1_PAGE)
        data, _ = await self._fetch(
            paths.GROUPS, paths.GROUPS, cursor, {"start": 0, "limit": limit}
        )
        groups, skipped = [], []
        for item in object_list(data, "results", paths.GROUPS):
            if item.get("id") is None:
                name = item.get("name")
                skipped.append(f"group {name!r}" if isinstance(name, str) else "a group")
                continue
            groups.append(parse_group(item))
        return ResultPage(groups, v1_next_cursor(data), tuple(skipped))

    async def list_group_members(
        self, group_id: str, cursor: str | None = None, limit: int = MAX_V1_PAGE
    ) -> ResultPage[Member]:
        """One page of a group's members (v1, at most 200 a page)."""
        _check_limit(limit, MAX_V1_PAGE)
        path = paths.GROUP_MEMBERS.format(group_id=quote(group_id, safe=""))
        return await self._v1_page(path, paths.GROUP_MEMBERS, cursor, limit, parse_member)

    async def member_of(
        self, account_id: str, cursor: str | None = None, limit: int = MAX_V1_PAGE
    ) -> ResultPage[Group]:
        """One page of an account's groups (v1 ``user/memberof``, offset pagination like the
        group list; confluence-api.md §5.10). Groups without an id are left out, as in
        ``list_groups``. An account the site does not know is a ``ConfluenceNotFound``."""
        _check_limit(limit, MAX_V1_PAGE)
        if not account_id:
            raise ValueError("account_id is required")
        path = paths.USER_MEMBER_OF
        query: dict[str, str | int] = {"accountId": account_id, "start": 0, "limit": limit}
        data, _ = await self._fetch(path, path, cursor, query)
        groups = [
            parse_group(item)
            for item in object_list(data, "results", path)
            if item.get("id") is not None
        ]
        return ResultPage(groups, v1_next_cursor(data))

    async def search_content(
        self,
        cql: str,
        cursor: str | None = None,
        limit: int = 50,
        expand: Sequence[str] = DEFAULT_SEARCH_EXPAND,
    ) -> ResultPage[Page]:
        """One page of a CQL content search; the server may return fewer than ``limit``."""
        _check_limit(limit, None)
        query: dict[str, str | int] = {"cql": cql, "limit": limit, "expand": ",".join(expand)}
        path = paths.CONTENT_SEARCH
        data, _ = await self._fetch(path, path, cursor, query)
        links = data.get("_links")
        base = links.get("base") if isinstance(links, dict) else None
        base = base if isinstance(base, str) else None
        items = [parse_content(item, base) for item in object_list(data, "results", path)]
        return ResultPage(items, v1_next_cursor(data))

    async def users_bulk(self, account_ids: Sequence[str]) -> list[BulkUser]:
        """Type, status and visible email of 1 to 250 accounts (v2 users-bulk, a read)."""
        ids = list(account_ids)
        if not 1 <= len(ids) <= MAX_BULK_IDS:
            raise ValueError(f"users_bulk takes 1 to {MAX_BULK_IDS} account ids, got {len(ids)}")
        if not all(isinstance(i, str) and i for i in ids):
            raise ValueError("account ids must be non-empty strings")
        url = self._base + paths.USERS_BULK
        response = await self._requester.request(
            "POST", url, endpoint=paths.USERS_BULK, body={"accountIds": ids}
        )
        data = as_object(response.data, paths.USERS_BULK)
        return [parse_bulk_user(item) for item in object_list(data, "results", paths.USERS_BULK)]

    async def get_page(self, page_id: str) -> Page:
        """One page with its storage-format body and labels (v2)."""
        path = paths.PAGE.format(id=quote(page_id, safe=""))
        query = {"body-format": "storage", "include-labels": "true"}
        data, _ = await self._fetch(path, paths.PAGE, None, query)
        return parse_v2_page(data)

    async def list_spaces(
        self, cursor: str | None = None, limit: int = MAX_V2_PAGE
    ) -> ResultPage[Space]:
        """One page of spaces (v2 cursor pagination)."""
        _check_limit(limit, MAX_V2_PAGE)
        data, headers = await self._fetch(paths.SPACES, paths.SPACES, cursor, {"limit": limit})
        items = [parse_space(item) for item in object_list(data, "results", paths.SPACES)]
        return ResultPage(items, v2_next_cursor(headers, data))

    async def remove_group_member(self, group_id: str, account_id: str) -> WriteAnswer:
        """Remove an account from a group (v1 ``removeMemberFromGroupByGroupId``).

        A write, but idempotent — Atlassian answers 204 whether or not the account was a
        member — so it is retried like a read. Any 2xx is success, with or without a body.
        Needs a site admin and, with OAuth, ``write:confluence-groups`` or
        ``write:group:confluence``; refusals raise the usual ``ConfluenceError``.
        """
        if not group_id or not account_id:
            raise ValueError("group_id and account_id are required")
        url = self._base + paths.GROUP_MEMBER_REMOVE
        response = await self._requester.request(
            "DELETE",
            url,
            endpoint=paths.GROUP_MEMBER_REMOVE,
            params={"groupId": group_id, "accountId": account_id},
            body_optional=True,
        )
        return WriteAnswer(response.status, answer_message(response.data))

    async def tenant_info(self, site_url: str) -> str:
        """The cloud id of the site at base URL ``site_url`` (https://x.atlassian.net); no auth."""
        parts = urlsplit(site_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("site_url must be an http(s) URL")
        url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}{paths.TENANT_INFO}"
        response = await self._requester.request(
            "GET", url, endpoint=paths.TENANT_INFO, auth=NoAuth()
        )
        cloud_id = as_object(response.data, paths.TENANT_INFO).get("cloudId")
        if not isinstance(cloud_id, str) or not cloud_id:
            raise ConfluenceProtocolError(f"{paths.TENANT_INFO}: missing 'cloudId'")
        return cloud_id

    async def _v1_page(
        self,
        path: str,
        endpoint: str,
        cursor: str | None,
        limit: int,
        parse: Callable[[JsonObject], T],
    ) -> ResultPage[T]:
        data, _ = await self._fetch(path, endpoint, cursor, {"start": 0, "limit": limit})
        items = [parse(item) for item in object_list(data, "results", endpoint)]
        return ResultPage(items, v1_next_cursor(data))

    async def _fetch(
        self, path: str, endpoint: str, cursor: str | None, query: Mapping[str, str | int]
    ) -> tuple[JsonObject, Mapping[str, str]]:
        """GET ``path`` (or the page ``cursor`` points to, which carries its own query)."""
        url = self._base + (checked_cursor(cursor, path) if cursor else path)
        response = await self._requester.request(
            "GET", url, endpoint=endpoint, params=None if cursor else query
        )
        return as_object(response.data, endpoint), response.headers


def _check_limit(limit: int, maximum: int | None) -> None:
    if limit < 1 or (maximum is not None and limit > maximum):
        raise ValueError(f"limit must be between 1 and {maximum or 'any'}, got {limit}")
