"""OAuth 3LO, refresh rotation, client credentials, accessible-resources, host/scope rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import pytest

from simulator import VIGIL_SCOPES, RunningSimulator, Simulator, start_simulator
from tests.simulator.support import basic_client, bearer_client

REDIRECT = "http://127.0.0.1:8000/oauth/confluence/callback"
GROUPS = "/wiki/rest/api/group"


def _params(running: RunningSimulator, scopes: tuple[str, ...] = VIGIL_SCOPES) -> dict[str, str]:
    return {
        "audience": "api.atlassian.com",
        "client_id": running.sim.credentials.oauth_client_id,
        "scope": " ".join(scopes),
        "redirect_uri": REDIRECT,
        "state": "state-123",
        "response_type": "code",
        "prompt": "consent",
    }


def consent(
    running: RunningSimulator,
    decision: str = "approve",
    *,
    scopes: tuple[str, ...] = VIGIL_SCOPES,
    sites: list[str] | None = None,
) -> dict[str, list[str]]:
    """Drive the consent page without a browser; returns the callback's query."""
    params = _params(running, scopes)
    page = httpx.get(f"{running.auth_url}/authorize?{urlencode(params, quote_via=quote)}")
    assert page.status_code == 200 and "<form" in page.text
    form: list[tuple[str, str]] = [*params.items(), ("decision", decision)]
    form += [("site", s) for s in sites or []]
    response = httpx.post(
        f"{running.auth_url}/authorize",
        content=urlencode(form),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


def token_call(
    running: RunningSimulator, body: dict[str, Any], *, form: bool = False
) -> httpx.Response:
    url = f"{running.auth_url}/oauth/token"
    return httpx.post(url, data=body) if form else httpx.post(url, json=body)


def code_exchange(running: RunningSimulator, query: dict[str, list[str]]) -> dict[str, Any]:
    """The app's token request for the code of the consent redirect's ``query``."""
    creds = running.sim.credentials
    return {
        "grant_type": "authorization_code",
        "client_id": creds.oauth_client_id,
        "client_secret": creds.oauth_client_secret,
        "code": query["code"][0],
        "redirect_uri": REDIRECT,
    }


def code_flow(running: RunningSimulator, **kw: Any) -> dict[str, Any]:
    """Consent, then exchange the code: the token response."""
    response = token_call(running, code_exchange(running, consent(running, **kw)))
    assert response.status_code == 200, response.text
    return dict(response.json())


def refresh(running: RunningSimulator, token: str) -> httpx.Response:
    creds = running.sim.credentials
    return token_call(
        running,
        {
            "grant_type": "refresh_token",
            "client_id": creds.oauth_client_id,
            "client_secret": creds.oauth_client_secret,
            "refresh_token": token,
        },
    )


def test_code_flow_gives_tokens_that_read_confluence(running: RunningSimulator) -> None:
    tokens = code_flow(running)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    assert "refresh_token" in tokens and "read:confluence-groups" in tokens["scope"].split()
    with bearer_client(running, tokens["access_token"]) as client:
        response = client.get("/wiki/rest/api/user/current", params={"expand": "operations"})
    assert response.status_code == 200
    assert {"operation": "administer", "targetType": "application"} in response.json()["operations"]


def test_state_is_echoed_and_code_is_single_use(running: RunningSimulator) -> None:
    query = consent(running)
    assert query["state"] == ["state-123"]
    body = code_exchange(running, query)
    assert token_call(running, body).status_code == 200
    again = token_call(running, body)
    assert again.status_code == 403 and again.json()["error"] == "invalid_grant"


def test_expired_code_is_refused(running: RunningSimulator) -> None:
    query = consent(running)
    running.sim.clock.advance(running.sim.tokens.policy.code_ttl + 1)
    assert token_call(running, code_exchange(running, query)).status_code == 403


def test_declined_consent_redirects_with_access_denied(running: RunningSimulator) -> None:
    query = consent(running, decision="deny")
    assert query["error"] == ["access_denied"] and query["state"] == ["state-123"]
    assert "code" not in query


def test_plus_joined_scopes_are_rejected(running: RunningSimulator) -> None:
    params = _params(running)
    url = f"{running.auth_url}/authorize?{urlencode(params)}"  # quote_plus: spaces become '+'
    assert "+" in url
    response = httpx.get(url)
    assert response.status_code == 400 and "invalid_scope" in response.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("audience", "example.com"),
        ("client_id", "nope"),
        ("response_type", "token"),
        ("redirect_uri", "not-a-url"),
        ("scope", "read:everything"),
        ("state", ""),
    ],
)
def test_authorize_validates_parameters(running: RunningSimulator, field: str, value: str) -> None:
    params = _params(running) | {field: value}
    response = httpx.get(f"{running.auth_url}/authorize?{urlencode(params, quote_via=quote)}")
    assert response.status_code == 400


def test_no_refresh_token_without_offline_access(running: RunningSimulator) -> None:
    scopes = tuple(s for s in VIGIL_SCOPES if s != "offline_access")
    tokens = code_flow(running, scopes=scopes)
    assert "refresh_token" not in tokens


def test_wrong_client_secret_is_access_denied(running: RunningSimulator) -> None:
    creds = running.sim.credentials
    response = token_call(
        running,
        {
            "grant_type": "refresh_token",
            "client_id": creds.oauth_client_id,
            "client_secret": "wrong",
            "refresh_token": "x",
        },
    )
    assert response.status_code == 401 and response.json()["error"] == "access_denied"


def test_refresh_rotates_and_old_token_works_within_window(running: RunningSimulator) -> None:
    first = code_flow(running)
    second = refresh(running, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    running.sim.clock.advance(300)  # inside the 10-minute reuse window
    reused = refresh(running, first["refresh_token"])
    assert reused.status_code == 200
    with bearer_client(running, reused.json()["access_token"]) as client:
        assert client.get(GROUPS).status_code == 200


def test_reuse_after_window_revokes_the_whole_family(running: RunningSimulator) -> None:
    first = code_flow(running)
    second = refresh(running, first["refresh_token"]).json()
    running.sim.clock.advance(601)
    reused = refresh(running, first["refresh_token"])
    assert reused.status_code == 403
    assert reused.json() == {
        "error": "invalid_grant",
        "error_description": "Unknown or invalid refresh token.",
    }
    for access in (first["access_token"], second["access_token"]):
        with bearer_client(running, access) as client:
            assert client.get(GROUPS).status_code == 401
    assert refresh(running, second["refresh_token"]).status_code == 403


def test_shorter_reuse_window_is_configurable(running: RunningSimulator) -> None:
    running.sim.tokens.policy.reuse_window = 1
    try:
        first = code_flow(running)
        refresh(running, first["refresh_token"])
        running.sim.clock.advance(2)
        assert refresh(running, first["refresh_token"]).status_code == 403
    finally:
        running.sim.tokens.policy.reuse_window = 600


def test_access_token_expires(running: RunningSimulator) -> None:
    tokens = code_flow(running)
    with bearer_client(running, tokens["access_token"]) as client:
        assert client.get(GROUPS).status_code == 200
        running.sim.clock.advance(3601)
        response = client.get(GROUPS)
    assert response.status_code == 401 and response.json() == {
        "code": 401,
        "message": "Unauthorized",
    }
    assert refresh(running, tokens["refresh_token"]).status_code == 200


def test_client_credentials_json_and_form(running: RunningSimulator) -> None:
    creds = running.sim.credentials
    body = {
        "grant_type": "client_credentials",
        "client_id": creds.cc_client_id,
        "client_secret": creds.cc_client_secret,
    }
    for form in (False, True):
        response = token_call(running, body, form=form)
        assert response.status_code == 200, response.text
        tokens = response.json()
        assert "refresh_token" not in tokens and tokens["expires_in"] == 3600
    with bearer_client(running, tokens["access_token"]) as client:
        me = client.get("/wiki/rest/api/user/current").json()
    assert me["accountId"] == creds.cc_account_id and me["accountType"] == "app"
    bad = token_call(running, body | {"client_secret": "nope"})
    assert bad.status_code == 401 and bad.json()["error"] == "access_denied"


def test_accessible_resources_single_site(running: RunningSimulator) -> None:
    tokens = code_flow(running)
    response = httpx.get(
        f"{running.api_url}/oauth/token/accessible-resources",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert response.status_code == 200
    [site] = response.json()
    assert site["id"] == running.sim.site.cloud_id and site["url"] == running.site_url()
    assert "read:confluence-user" in site["scopes"] and site["avatarUrl"]
    anonymous = httpx.get(f"{running.api_url}/oauth/token/accessible-resources")
    assert anonymous.status_code == 401


@pytest.fixture(scope="module")
def multi() -> Iterator[RunningSimulator]:
    sim = Simulator.generate(users=20, groups=4, pages=5, seed=3, site_names=("alpha", "beta"))
    with start_simulator(sim) as served:
        yield served


def test_accessible_resources_several_sites(multi: RunningSimulator) -> None:
    tokens = code_flow(multi)
    response = httpx.get(
        f"{multi.api_url}/oauth/token/accessible-resources",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    sites = response.json()
    assert [s["name"] for s in sites] == ["alpha", "beta"]
    assert [s["url"] for s in sites] == [multi.site_url("alpha"), multi.site_url("beta")]
    for site in sites:
        with bearer_client(multi, tokens["access_token"], site["id"]) as client:
            assert client.get(GROUPS).status_code == 200
    with basic_client(multi, site="beta") as client:  # one API token user on both sites
        assert client.get(GROUPS).status_code == 200
    only_beta = code_flow(multi, sites=["beta"])
    with bearer_client(multi, only_beta["access_token"], multi.sim.sites["alpha"].cloud_id) as c:
        assert c.get(GROUPS).status_code == 401


def test_bearer_on_site_host_and_basic_on_gateway_are_401(running: RunningSimulator) -> None:
    tokens = running.sim.issue_access_token()
    with httpx.Client(
        base_url=running.site_url(), headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ) as client:
        assert client.get(GROUPS).status_code == 401
    creds = running.sim.credentials.admin_token
    with httpx.Client(
        base_url=running.confluence_api_base(), auth=(creds.email, creds.token)
    ) as client:
        response = client.get(GROUPS)
    assert response.status_code == 401 and response.json()["code"] == 401


def test_invalid_api_token_and_unknown_bearer_are_401(running: RunningSimulator) -> None:
    email = running.sim.credentials.admin_token.email
    with httpx.Client(base_url=running.site_url(), auth=(email, "wrong")) as client:
        response = client.get(GROUPS)
    assert response.status_code == 401 and response.json()["statusCode"] == 401
    with bearer_client(running, "made-up") as client:
        assert client.get(GROUPS).status_code == 401


def test_missing_scope_is_gateway_401(running: RunningSimulator) -> None:
    tokens = running.sim.issue_access_token(["read:confluence-user"])
    with bearer_client(running, tokens["access_token"]) as client:
        assert client.get("/wiki/rest/api/user/current").status_code == 200
        response = client.get(GROUPS)
        v2 = client.get("/wiki/api/v2/spaces")
    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Unauthorized; scope does not match"}
    assert v2.status_code == 401 and "scope does not match" in v2.json()["message"]


def test_deactivated_user_is_401_and_refused_user_is_403(running: RunningSimulator) -> None:
    site = running.sim.site
    member = site.operators["member"]
    site.set_confluence_access(member, False)
    try:
        with basic_client(running, "member") as client:
            response = client.get(GROUPS)
        assert response.status_code == 403 and response.json()["statusCode"] == 403
    finally:
        site.set_confluence_access(member, True)
    site.set_account_status(member, "inactive")
    try:
        with basic_client(running, "member") as client:
            assert client.get(GROUPS).status_code == 401
    finally:
        site.set_account_status(member, "active")


def test_tenant_info_needs_no_auth(running: RunningSimulator) -> None:
    response = httpx.get(f"{running.site_url()}/_edge/tenant_info")
    assert response.json() == {"cloudId": running.sim.site.cloud_id}
    assert httpx.get(f"{running.base_url}/site/nope/_edge/tenant_info").status_code == 404
