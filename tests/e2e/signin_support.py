"""Signing in through the simulator's identity providers, as a browser would.

httpx keeps no ``Secure`` cookie over plain HTTP, so the session cookie is carried by hand
(``Cookie`` header): that is also what lets the attack tests present an old one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from api.http_requests import SESSION_COOKIE, SIGNIN_COOKIE
from simulator import RunningSimulator
from tests.e2e.connect_support import Env, make_env

ME = "{ me { kind role apiKeyId user { id displayName email atlassianAccountId } } }"


def signin_settings(sim: RunningSimulator) -> dict[str, Any]:
    """Vigil's settings for both providers of the simulator."""
    idp = sim.sim.oidc
    return {
        "oidc_issuer": f"{sim.base_url}/oidc",
        "oidc_client_id": idp.client_id,
        "oidc_client_secret": idp.client_secret,
        "oidc_name": "Acme SSO",
    }


async def signin_env(request: pytest.FixtureRequest, sim: RunningSimulator) -> AsyncIterator[Env]:
    """Vigil against the simulator with Atlassian and OIDC sign-in configured."""
    async for env in make_env(request, sim, **signin_settings(sim)):
        yield env


def cookie_of(response: httpx.Response, cookie: str = SESSION_COOKIE) -> str | None:
    """The cookie (default: the session's) a response sets (None if none, or cleared)."""
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == cookie:
            value = rest.split(";", 1)[0].strip().strip('"')
            return value or None
    return None


@dataclass
class Outcome:
    """Where a sign-in ended: the new session cookie, or the refusal shown to the person."""

    cookie: str | None
    attempt_cookie: str | None
    location: str
    callback: str

    @property
    def refusal(self) -> str | None:
        """The message the console shows when the sign-in was refused."""
        query = parse_qs(urlsplit(self.location).query)
        return query["message"][0] if query.get("signin") == ["refused"] else None


async def sign_in(
    http: httpx.AsyncClient,
    env: Env,
    provider: str,
    *,
    who: str | None = None,
    current: str | None = None,
) -> Outcome:
    """Start a sign-in, answer the provider's consent page as ``who``, follow the callback
    (in a browser that holds the session ``current``, if given)."""
    started = await http.get(f"{env.live.url}/auth/{provider}/start")
    assert started.status_code == 302, started.text
    assert cookie_of(started) is None  # the session cookie is not touched
    attempt = cookie_of(started, SIGNIN_COOKIE)
    assert attempt
    consent_url = started.headers["location"]
    page = await http.get(consent_url)
    assert page.status_code == 200, page.text
    if provider == "oidc":
        form = {"decision": "approve", "user": who or "oidc-ada"}
    else:
        form = {"decision": "approve", "site": "acme"}
        if who:
            form["account_id"] = who
    answer = await http.post(consent_url, data=form)
    assert answer.status_code == 302, answer.text
    callback = answer.headers["location"]
    cookies = f"{SIGNIN_COOKIE}={attempt}" + (f"; {SESSION_COOKIE}={current}" if current else "")
    done = await http.get(callback, headers={"Cookie": cookies})
    assert done.status_code == 303, done.text
    return Outcome(cookie_of(done), attempt, done.headers["location"], callback)


async def as_person(
    http: httpx.AsyncClient,
    env: Env,
    cookie: str,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    origin: str | None = None,
    csrf: bool = True,
) -> httpx.Response:
    """POST /graphql with the session cookie only (and what a same-origin console sends)."""
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}", "Origin": origin or env.live.url}
    if csrf:
        headers["X-Vigil-CSRF"] = "1"
    return await http.post(
        env.live.graphql_url, json={"query": query, "variables": variables or {}}, headers=headers
    )


async def invite(env: Env, email: str, role: str) -> dict[str, Any]:
    """An ADMIN key invites ``email``."""
    mutation = """mutation($input: InviteMemberInput!) { inviteMember(input: $input) {
      invitation { id email role status expiresAt } userErrors { code message } } }"""
    payload = (await env.gql(mutation, {"input": {"email": email, "role": role}}))["inviteMember"]
    assert payload["userErrors"] == [], payload
    invitation: dict[str, Any] = payload["invitation"]
    return invitation


async def invited_sign_in(http: httpx.AsyncClient, env: Env, name: str, role: str) -> Outcome:
    """``name``@acme.example invited as ``role``, then signed in through the simulator's OIDC
    provider as ``oidc-<name>``."""
    await invite(env, f"{name}@acme.example", role)
    return await sign_in(http, env, "oidc", who=f"oidc-{name}")
