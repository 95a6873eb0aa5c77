"""One logical JSON request: concurrency limit, auth headers, retries, error mapping, decoding."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import httpx

from services.confluence.auth import ConfluenceAuth, secrets_in
from services.confluence.errors import (
    ConfluenceAuthError,
    ConfluenceConnectionError,
    ConfluenceProtocolError,
    ConfluenceScopeError,
    ConfluenceTimeout,
    error_from_response,
    scrub,
)
from services.confluence.retry import RetryPolicy

DEFAULT_MAX_CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class JsonResponse:
    """A decoded 2xx response."""

    data: Any
    headers: Mapping[str, str]
    status: int = 200


@dataclass(slots=True)
class _Call:
    method: str
    url: str
    endpoint: str
    params: Mapping[str, str | int] | None
    body: Any
    auth: ConfluenceAuth
    body_optional: bool = False
    renewed: bool = False


@dataclass(eq=False, repr=False)
class Requester:
    """Sends requests for one integration; at most ``max_concurrency`` are in flight at once."""

    http: httpx.AsyncClient
    auth: ConfluenceAuth
    policy: RetryPolicy
    _: KW_ONLY
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    _slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._slots = asyncio.Semaphore(self.max_concurrency)

    async def request(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        retryable: bool = True,
        auth: ConfluenceAuth | None = None,
        body_optional: bool = False,
    ) -> JsonResponse:
        """Send with retries (when ``retryable``) and return the decoded JSON response.

        ``body_optional`` (writes): any 2xx is a success whatever its body — empty (``data``
        None), JSON, or not JSON (``data`` the text) — as Atlassian's write answers vary.
        """
        call = _Call(method, url, endpoint, params, body, auth or self.auth, body_optional)
        return await self.policy.run(
            lambda: self._attempt(call), endpoint=endpoint, retryable=retryable
        )

    async def _attempt(self, call: _Call) -> JsonResponse:
        sent = await call.auth.headers()
        try:
            return await self._exchange(call, sent)
        except ConfluenceAuthError as error:
            # A plain 401 may mean an access token expired early: renew once per call.
            if isinstance(error, ConfluenceScopeError) or call.renewed:
                raise
            call.renewed = True
            if not await call.auth.on_unauthorized(sent):
                raise
        return await self._exchange(call, await call.auth.headers())

    async def _exchange(self, call: _Call, auth_headers: Mapping[str, str]) -> JsonResponse:
        headers = {"Accept": "application/json", **auth_headers}
        secrets = secrets_in(auth_headers)
        async with self._slots:
            response = await self._send(call, headers, secrets)
        if response.status_code >= 400:
            raise error_from_response(
                response.status_code,
                response.headers,
                response.content,
                endpoint=call.endpoint,
                now=self.policy.clock(),
                secrets=secrets,
            )
        if response.status_code == 204:  # No Content (a write such as removing a member)
            return JsonResponse(None, response.headers, 204)
        if call.body_optional:
            return JsonResponse(_lenient(response), response.headers, response.status_code)
        return JsonResponse(
            _decode(response, call.endpoint), response.headers, response.status_code
        )

    async def _send(
        self, call: _Call, headers: dict[str, str], secrets: list[str]
    ) -> httpx.Response:
        try:
            return await self.http.request(
                call.method, call.url, params=call.params, json=call.body, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise ConfluenceTimeout(_describe(call, exc, secrets)) from exc
        except (httpx.ProtocolError, httpx.DecodingError) as exc:
            if _dropped(exc):
                raise ConfluenceConnectionError(_describe(call, exc, secrets)) from exc
            raise ConfluenceProtocolError(_describe(call, exc, secrets)) from exc
        except httpx.TransportError as exc:
            raise ConfluenceConnectionError(_describe(call, exc, secrets)) from exc


def _dropped(exc: Exception) -> bool:
    # httpcore reports a connection closed before any response as a RemoteProtocolError;
    # it is a dropped connection, unlike a body cut short (a truncated response).
    return isinstance(exc, httpx.RemoteProtocolError) and "without sending a response" in str(exc)


def _decode(response: httpx.Response, endpoint: str) -> Any:
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise ConfluenceProtocolError(f"{endpoint}: response body is not valid JSON") from exc


def _lenient(response: httpx.Response) -> Any:
    """A write's 2xx body: None when empty, the JSON value, else the text."""
    text = response.content.decode("utf-8", errors="replace").strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text[:500]


def _describe(call: _Call, exc: Exception, secrets: list[str]) -> str:
    detail = scrub(str(exc), secrets)
    return f"{call.method} {call.endpoint}: {type(exc).__name__}: {detail}"[:300]
