"""People sign in (Atlassian 3LO + /me, or an OpenID Connect provider) through the
simulator: invitations, refusals, sessions, sign-out, removal, and the attacks a session
cookie invites (cross-site writes and sockets, fixation, forged ID tokens)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
import websockets

from api.http_requests import SESSION_COOKIE, SIGNIN_COOKIE
from services.clock import utcnow_ms
from simulator import RunningSimulator
from tests.e2e.connect_support import Env, sim  # noqa: F401 (module fixture)
from tests.e2e.signin_support import ME, as_person, invite, invited_sign_in, sign_in, signin_env

MEMBERS = "{ members { role user { id email } } }"
REMOVE = """mutation($id: ID!) { removeMember(userId: $id) { userId endedSessions
  userErrors { code message } } }"""


@pytest.fixture(params=["mock", "wire"])
async def env(request: pytest.FixtureRequest, sim: RunningSimulator) -> AsyncIterator[Env]:  # noqa: F811
    async for made in signin_env(request, sim):
        yield made


@pytest.fixture
async def mock_env(request: pytest.FixtureRequest, sim: RunningSimulator) -> AsyncIterator[Env]:  # noqa: F811
    async for made in signin_env(request, sim):
        yield made


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def test_an_invitation_then_the_first_sign_in_joins_with_the_invited_role(
    env: Env, http: httpx.AsyncClient
) -> None:
    await invite(env, "Grace@Acme.example", "REVIEWER")
    outcome = await sign_in(http, env, "oidc", who="oidc-grace")
    assert outcome.refusal is None and outcome.cookie
    assert outcome.cookie != outcome.attempt_cookie
    me = (await as_person(http, env, outcome.cookie, ME)).json()["data"]["me"]
    assert (me["kind"], me["role"], me["apiKeyId"]) == ("PERSON", "REVIEWER", None)
    assert (me["user"]["email"], me["user"]["displayName"]) == (
        "grace@acme.example",
        "Grace Hopper",
    )
    listed = await env.gql("{ invitations(includeInactive: true) { email status } }")
    assert listed["invitations"] == [{"email": "grace@acme.example", "status": "ACCEPTED"}]
    members = (await env.gql(MEMBERS))["members"]
    assert [(m["user"]["email"], m["role"]) for m in members] == [
        ("grace@acme.example", "REVIEWER")
    ]
    # A second sign-in finds the same person (no second invitation needed).
    again = await sign_in(http, env, "oidc", who="oidc-grace")
    assert again.cookie and again.refusal is None


async def test_an_uninvited_email_is_refused_with_a_clear_message(
    mock_env: Env, http: httpx.AsyncClient
) -> None:
    outcome = await sign_in(http, mock_env, "oidc", who="oidc-alan")
    assert outcome.cookie is None
    assert outcome.refusal == (
        "alan@acme.example has not been invited to Vigil. Ask an ADMIN of your organization "
        "to invite this address, then sign in again."
    )
    assert (await mock_env.gql(MEMBERS))["members"] == []


async def test_an_unverified_email_is_refused(mock_env: Env, http: httpx.AsyncClient) -> None:
    outcome = await invited_sign_in(http, mock_env, "mallory", "ADMIN")
    assert outcome.cookie is None and outcome.refusal
    assert "not a verified email address" in outcome.refusal


async def test_an_expired_invitation_is_refused_saying_so(
    mock_env: Env, http: httpx.AsyncClient
) -> None:
    invitation = await invite(mock_env, "ada@acme.example", "VIEWER")
    store = mock_env.live.container.store
    await store._db["invitations"].update_one(
        {"_id": invitation["id"]}, {"$set": {"expires_at": store_time(-60)}}
    )
    outcome = await sign_in(http, mock_env, "oidc", who="oidc-ada")
    assert outcome.cookie is None and outcome.refusal
    assert "has expired" in outcome.refusal


def store_time(seconds: float) -> datetime:
    """Now plus ``seconds``, as the store keeps times."""
    return utcnow_ms() + timedelta(seconds=seconds)


async def test_sign_in_with_atlassian_reads_me(mock_env: Env, http: httpx.AsyncClient) -> None:
    site = mock_env.sim.sim.site
    person = next(
        a
        for a in site.accounts.values()
        if a.account_type == "atlassian" and a.account_status == "active" and a.email
    )
    await invite(mock_env, person.email, "VIEWER")
    outcome = await sign_in(http, mock_env, "atlassian", who=person.account_id)
    assert outcome.refusal is None and outcome.cookie
    me = (await as_person(http, mock_env, outcome.cookie, ME)).json()["data"]["me"]
    assert me["user"]["atlassianAccountId"] == person.account_id
    assert (me["user"]["email"], me["user"]["displayName"]) == (
        person.email.lower(),
        person.display_name,
    )


async def test_the_providers_are_listed_for_the_sign_in_screen(
    mock_env: Env, http: httpx.AsyncClient
) -> None:
    listed = (await http.get(f"{mock_env.live.url}/auth/providers")).json()
    assert listed == {
        "providers": [{"id": "atlassian", "name": "Atlassian"}, {"id": "oidc", "name": "Acme SSO"}]
    }


async def test_a_session_id_from_before_sign_in_is_not_valid_after_it(
    mock_env: Env, http: httpx.AsyncClient
) -> None:
    outcome = await invited_sign_in(http, mock_env, "ada", "ADMIN")
    assert outcome.cookie and outcome.attempt_cookie and outcome.cookie != outcome.attempt_cookie
    before = await as_person(http, mock_env, outcome.attempt_cookie, ME)
    assert before.status_code == 401 and before.json()["errors"][0]["extensions"]["code"] == (
        "UNAUTHENTICATED"
    )
    # Nor can it complete the sign-in a second time (the callback is single-use).
    replay = await http.get(
        outcome.callback, headers={"Cookie": f"{SIGNIN_COOKIE}={outcome.attempt_cookie}"}
    )
    assert replay.status_code == 303 and "signin=refused" in replay.headers["location"]
    assert (await as_person(http, mock_env, outcome.cookie, ME)).status_code == 200


async def test_a_new_sign_in_ends_the_session_the_browser_held(
    mock_env: Env, http: httpx.AsyncClient
) -> None:
    first = await invited_sign_in(http, mock_env, "ada", "ADMIN")
    assert first.cookie
    # Being sent to the start of a sign-in (by any page) changes nothing yet ...
    started = await http.get(
        f"{mock_env.live.url}/auth/oidc/start",
        headers={"Cookie": f"{SESSION_COOKIE}={first.cookie}"},
    )
    assert started.status_code == 302
    assert (await as_person(http, mock_env, first.cookie, ME)).status_code == 200
    # ... completing one replaces the session the browser held with a new one.
    second = await sign_in(http, mock_env, "oidc", who="oidc-ada", current=first.cookie)
    assert second.cookie and second.cookie != first.cookie
    assert (await as_person(http, mock_env, first.cookie, ME)).status_code == 401
    assert (await as_person(http, mock_env, second.cookie, ME)).status_code == 200


async def test_a_cross_site_form_post_with_the_cookie_is_refused(
    mock_env: Env, http: httpx.AsyncClient
) -> None:
    cookie = (await invited_sign_in(http, mock_env, "ada", "ADMIN")).cookie
    assert cookie
    # What a hostile page's <form method=post> sends: the cookie, its own origin, no header.
    form = await http.post(
        mock_env.live.graphql_url,
        content='{"query": "mutation { activateFrameworks(frameworks: [ISO27001]) { userErrors { code } } }"}',
        headers={
            "Cookie": f"{SESSION_COOKIE}={cookie}",
            "Origin": "http://evil.example",
            "Content-Type": "text/plain",
        },
    )
    assert form.status_code == 403
    assert form.json()["errors"][0]["extensions"]["code"] == "CSRF_REFUSED"
    mutation = "mutation { activateFrameworks(frameworks: [ISO27001]) { userErrors { code } } }"
    foreign = await as_person(http, mock_env, cookie, mutation, origin="http://evil.example")
    assert foreign.status_code == 403
    headerless = await as_person(http, mock_env, cookie, mutation, csrf=False)
    assert headerless.status_code == 403
    organization = (await mock_env.gql("{ me { organization { frameworks } } }"))["me"]
    assert organization["organization"]["frameworks"] == []  # nothing changed
    allowed = await as_person(http, mock_env, cookie, mutation)
    assert allowed.status_code == 200 and "errors" not in allowed.json()


async def _socket(env: Env, cookie: str, origin: str) -> websockets.ClientConnection:
    return await websockets.connect(
        env.live.ws_url,
        subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
        additional_headers={"Cookie": f"{SESSION_COOKIE}={cookie}", "Origin": origin},
    )


async def _subscribe(ws: websockets.ClientConnection) -> None:
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert ack["type"] == "connection_ack", ack
    query = "subscription { peopleChanged { totalCount } }"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))


async def test_a_cross_origin_websocket_with_the_cookie_is_refused(
    mock_env: Env, http: httpx.AsyncClient
) -> None:
    cookie = (await invited_sign_in(http, mock_env, "ada", "ADMIN")).cookie
    assert cookie
    with pytest.raises(websockets.InvalidStatus) as refused:
        await _socket(mock_env, cookie, "http://evil.example")
    assert refused.value.response.status_code == 403
    # The same cookie from Vigil's own origin is accepted.
    ws = await _socket(mock_env, cookie, mock_env.live.url)
    try:
        await _subscribe(ws)
    finally:
        await ws.close()


async def test_a_removed_member_s_open_websocket_closes_within_5_seconds(
    env: Env, http: httpx.AsyncClient
) -> None:
    outcome = await invited_sign_in(http, env, "alan", "VIEWER")
    assert outcome.cookie
    ws = await _socket(env, outcome.cookie, env.live.url)
    try:
        await _subscribe(ws)
        members = (await env.gql(MEMBERS))["members"]
        user_id = next(
            m["user"]["id"] for m in members if m["user"]["email"] == "alan@acme.example"
        )
        removed = (await env.gql(REMOVE, {"id": user_id}))["removeMember"]
        assert removed["userErrors"] == [] and removed["endedSessions"] == 1
        started = time.monotonic()
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        assert time.monotonic() - started < 5
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    finally:
        await ws.close()
    assert (await as_person(http, env, outcome.cookie, ME)).status_code == 401


async def test_sign_out_and_sign_out_everywhere(mock_env: Env, http: httpx.AsyncClient) -> None:
    one = (await invited_sign_in(http, mock_env, "ada", "ADMIN")).cookie
    two = (await sign_in(http, mock_env, "oidc", who="oidc-ada")).cookie
    three = (await sign_in(http, mock_env, "oidc", who="oidc-ada")).cookie
    assert one and two and three and len({one, two, three}) == 3
    origin = {"Origin": mock_env.live.url, "X-Vigil-CSRF": "1"}
    refused = await http.post(
        f"{mock_env.live.url}/auth/logout", headers={"Cookie": f"{SESSION_COOKIE}={one}"}
    )
    assert refused.status_code == 403  # no CSRF header: not even sign-out
    out = await http.post(
        f"{mock_env.live.url}/auth/logout", headers={"Cookie": f"{SESSION_COOKIE}={one}", **origin}
    )
    assert out.status_code == 204
    assert (await as_person(http, mock_env, one, ME)).status_code == 401
    assert (await as_person(http, mock_env, two, ME)).status_code == 200
    everywhere = await http.post(
        f"{mock_env.live.url}/auth/logout-everywhere",
        headers={"Cookie": f"{SESSION_COOKIE}={two}", **origin},
    )
    assert everywhere.status_code == 204
    for cookie in (two, three):
        assert (await as_person(http, mock_env, cookie, ME)).status_code == 401


TAMPERINGS = {
    "audience": "aud",
    "issuer": "iss",
    "nonce": "nonce",
    "expired": "exp",
    "signature": "not validly signed",
}


@pytest.mark.parametrize("tamper", list(TAMPERINGS))
async def test_an_id_token_that_is_not_genuine_is_refused(
    mock_env: Env, http: httpx.AsyncClient, tamper: str
) -> None:
    await invite(mock_env, "ada@acme.example", "ADMIN")
    mock_env.sim.sim.oidc.tamper = tamper
    try:
        outcome = await sign_in(http, mock_env, "oidc", who="oidc-ada")
    finally:
        mock_env.sim.sim.oidc.tamper = None
    assert outcome.cookie is None and outcome.refusal
    assert TAMPERINGS[tamper] in outcome.refusal
    assert (await mock_env.gql(MEMBERS))["members"] == []  # nobody joined
    # The same sign-in with a genuine token works.
    assert (await sign_in(http, mock_env, "oidc", who="oidc-ada")).cookie


async def test_a_member_s_own_key_is_listed_under_them_and_revoked_when_they_leave(
    mock_env: Env, http: httpx.AsyncClient
) -> None:
    await invite(mock_env, "grace@acme.example", "REVIEWER")
    assert (await sign_in(http, mock_env, "oidc", who="oidc-grace")).cookie
    members = (await mock_env.gql(MEMBERS))["members"]
    user_id = members[0]["user"]["id"]
    created = (
        await mock_env.gql(
            """mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
              secret apiKey { id ownerUserId } userErrors { code field } } }""",
            {"input": {"role": "REVIEWER", "name": "grace's CI", "ownerUserId": user_id}},
        )
    )["createApiKey"]
    assert created["userErrors"] == [] and created["apiKey"]["ownerUserId"] == user_id
    listed = (await mock_env.gql("{ members { user { id } apiKeys { id } } }"))["members"]
    assert listed == [{"user": {"id": user_id}, "apiKeys": [{"id": created["apiKey"]["id"]}]}]
    stranger = (
        await mock_env.gql(
            """mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
              apiKey { id } userErrors { code field } } }""",
            {"input": {"role": "VIEWER", "ownerUserId": "usr_nobody"}},
        )
    )["createApiKey"]
    assert stranger["userErrors"] == [{"code": "NOT_FOUND", "field": ["input", "ownerUserId"]}]
    removed = (
        await mock_env.gql(
            """mutation($id: ID!) { removeMember(userId: $id) { revokedApiKeys { id revokedAt }
              userErrors { code } } }""",
            {"id": user_id},
        )
    )["removeMember"]
    assert [k["id"] for k in removed["revokedApiKeys"]] == [created["apiKey"]["id"]]
    refused = await http.post(
        mock_env.live.graphql_url,
        json={"query": "{ me { role } }"},
        headers={"Authorization": f"Bearer {created['secret']}"},
    )
    assert refused.status_code == 401
