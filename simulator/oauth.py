"""auth.atlassian.com (authorize + consent, token endpoint) and accessible-resources."""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from simulator.auth import bearer_token
from simulator.context import site_url
from simulator.core import Simulator
from simulator.errors import gateway_error, json_response, oauth_error
from simulator.scopes import KNOWN_SCOPES
from simulator.tokens import TokenError

Endpoint = Callable[[Request], Awaitable[Response]]
AVATAR = "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png"
MAX_CHOICES = 50
_PAGE = "<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    """A validated authorize request."""

    client_id: str
    redirect_uri: str
    scopes: frozenset[str]
    state: str
    params: dict[str, str]


def _error_page(message: str, status: int = 400) -> HTMLResponse:
    body = f"<h1>Something went wrong</h1><p>{html.escape(message)}</p>"
    return HTMLResponse(_PAGE.format(title="Error", body=body), status_code=status)


def _validate(
    sim: Simulator, params: dict[str, str], raw_query: str
) -> AuthorizeRequest | Response:
    creds = sim.credentials
    raw_scope = parse_qs(raw_query.replace("+", "%2B")).get("scope", [""])[0]
    if "+" in raw_scope:
        return _error_page("invalid_scope: scopes must be separated by %20, not '+'.")
    if params.get("audience") != "api.atlassian.com":
        return _error_page("invalid_request: audience must be api.atlassian.com.")
    if params.get("client_id") != creds.oauth_client_id:
        return _error_page("invalid_client: unknown client_id.")
    if params.get("response_type") != "code":
        return _error_page("unsupported_response_type: response_type must be code.")
    redirect = params.get("redirect_uri", "")
    parts = urlsplit(redirect)
    allowed = not creds.oauth_redirect_uris or redirect in creds.oauth_redirect_uris
    if parts.scheme not in ("http", "https") or not parts.netloc or not allowed:
        return _error_page("invalid_request: redirect_uri does not match the app's callback URL.")
    scopes = frozenset(params.get("scope", "").split())
    if not scopes or not scopes <= KNOWN_SCOPES:
        unknown = sorted(scopes - KNOWN_SCOPES)
        return _error_page(f"invalid_scope: unknown or missing scopes {unknown}.")
    if not params.get("state"):
        return _error_page("invalid_request: state is required.")
    return AuthorizeRequest(creds.oauth_client_id, redirect, scopes, params["state"], params)


def _with_query(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def _people(sim: Simulator) -> list[tuple[str, str, str]]:
    """``(account id, name, email)`` of the active people of the first site who can consent
    (the operator admin first): the consent page's choice of test users."""
    site = sim.site
    default = sim.credentials.oauth_account_id
    people = [
        (a.account_id, a.display_name, a.email)
        for a in site.accounts.values()
        if a.account_type == "atlassian" and a.account_status == "active" and a.email
    ]
    people.sort(key=lambda p: (p[0] != default, p[1]))
    return people[:MAX_CHOICES]


def _consent_page(sim: Simulator, request: Request, auth: AuthorizeRequest) -> HTMLResponse:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in auth.params.items()
    )
    who = "".join(
        f'<option value="{html.escape(aid)}">{html.escape(name)} ({html.escape(email)})</option>'
        for aid, name, email in _people(sim)
    )
    chooser = (
        f'<label>Signed in to Atlassian as <select name="account_id">{who}</select></label><br>'
        if who and "account_id" not in auth.params
        else ""
    )
    sites = "".join(
        f'<label><input type="checkbox" name="site" value="{html.escape(s.name)}" checked>'
        f"{html.escape(s.name)}</label><br>"
        for s in sim.sites.values()
    )
    scopes = "".join(f"<li>{html.escape(s)}</li>" for s in sorted(auth.scopes))
    body = (
        f"<h1>Vigil is requesting access to your Atlassian account</h1><ul>{scopes}</ul>"
        f'<form method="post" action="{html.escape(request.url.path)}">{hidden}{chooser}{sites}'
        '<button name="decision" value="approve">Accept</button>'
        '<button name="decision" value="deny">Cancel</button></form>'
    )
    return HTMLResponse(_PAGE.format(title="Authorize", body=body))


async def _form(request: Request) -> list[tuple[str, str]]:
    raw = (await request.body()).decode("utf-8", "replace")
    if "json" in request.headers.get("content-type", ""):
        data = json.loads(raw or "{}")
        if not isinstance(data, dict):
            raise ValueError("JSON body must be an object")
        items: list[tuple[str, str]] = []
        for key, value in data.items():
            values = value if isinstance(value, list) else [value]
            items += [(str(key), str(v)) for v in values]
        return items
    return parse_qsl(raw, keep_blank_values=True)


def make_authorize(sim: Simulator) -> Endpoint:
    """GET shows the consent page; POST (decision=approve|deny) redirects to the callback."""

    async def authorize(request: Request) -> Response:
        query = list(request.query_params.multi_items())
        form = await _form(request) if request.method == "POST" else []
        items = query + form
        params = {k: v for k, v in items}
        auth = _validate(sim, params, request.url.query)
        if isinstance(auth, Response):
            return auth
        if request.method == "GET":
            return _consent_page(sim, request, auth)
        decision = params.get("decision")
        if decision == "deny":
            denied = {
                "error": "access_denied",
                "error_description": "User did not authorize",
                "state": auth.state,
            }
            return RedirectResponse(_with_query(auth.redirect_uri, denied), 302)
        if decision != "approve":
            return _error_page("decision must be approve or deny.")
        names = [v for k, v in items if k == "site"] or list(sim.sites)
        chosen = [sim.sites.get(n) or sim.site_by_cloud_id(n) for n in names]
        if any(s is None for s in chosen):
            return _error_page("unknown site.")
        code = sim.tokens.create_code(
            client_id=auth.client_id,
            redirect_uri=auth.redirect_uri,
            account_id=params.get("account_id") or sim.credentials.oauth_account_id,
            scopes=auth.scopes,
            cloud_ids=tuple(s.cloud_id for s in chosen if s is not None),
        )
        return RedirectResponse(
            _with_query(auth.redirect_uri, {"code": code, "state": auth.state}), 302
        )

    return authorize


def _token_grant(sim: Simulator, body: dict[str, Any]) -> dict[str, Any]:
    creds = sim.credentials
    grant_type = body.get("grant_type")
    client_id, secret = str(body.get("client_id", "")), str(body.get("client_secret", ""))
    if grant_type == "client_credentials":
        if (client_id, secret) != (creds.cc_client_id, creds.cc_client_secret):
            raise TokenError(401, "access_denied", "Unauthorized")
        if body.get("audience") not in (None, "api.atlassian.com"):
            raise TokenError(400, "invalid_request", "audience must be api.atlassian.com")
        return sim.tokens.client_credentials(
            client_id=client_id,
            account_id=creds.cc_account_id,
            scopes=frozenset(creds.cc_scopes),
            cloud_ids=tuple(s.cloud_id for s in sim.sites.values()),
        )
    if grant_type not in ("authorization_code", "refresh_token"):
        raise TokenError(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}")
    if (client_id, secret) != (creds.oauth_client_id, creds.oauth_client_secret):
        raise TokenError(401, "access_denied", "Unauthorized")
    if grant_type == "refresh_token":
        return sim.tokens.refresh(client_id=client_id, refresh_token=str(body.get("refresh_token")))
    return sim.tokens.exchange_code(
        client_id=client_id,
        code=str(body.get("code", "")),
        redirect_uri=str(body.get("redirect_uri", "")),
    )


def make_token(sim: Simulator) -> Endpoint:
    """POST /oauth/token (JSON or form): authorization_code, refresh_token, client_credentials."""

    async def token(request: Request) -> Response:
        try:
            body = dict(await _form(request))
        except ValueError:
            return oauth_error(400, "invalid_request", "The request body could not be parsed.")
        try:
            result = _token_grant(sim, body)
        except TokenError as exc:
            return oauth_error(exc.status, exc.error, exc.description)
        response = json_response(result)
        response.headers["Cache-Control"] = "no-store"
        return response

    return token


def make_accessible_resources(sim: Simulator) -> Endpoint:
    """GET /oauth/token/accessible-resources (Bearer) → the sites the grant covers."""

    async def resources(request: Request) -> Response:
        token = bearer_token(request)
        grant = sim.tokens.grant_for_access_token(token) if token else None
        if grant is None:
            return gateway_error(401, "Unauthorized")
        scopes = sorted(s for s in grant.scopes if s != "offline_access")
        sites = [sim.site_by_cloud_id(c) for c in grant.cloud_ids]
        return json_response(
            [
                {
                    "id": s.cloud_id,
                    "name": s.name,
                    "url": site_url(request, s),
                    "scopes": scopes,
                    "avatarUrl": AVATAR,
                }
                for s in sites
                if s is not None
            ]
        )

    return resources


def make_me(sim: Simulator) -> Endpoint:
    """GET /me (Bearer, scope ``read:me``): the consenting account's public profile, with the
    fields Atlassian documents for the User Identity API (docs/simulator.md)."""

    async def me(request: Request) -> Response:
        token = bearer_token(request)
        grant = sim.tokens.grant_for_access_token(token) if token else None
        if grant is None:
            return gateway_error(401, "Unauthorized")
        if "read:me" not in grant.scopes:
            return gateway_error(401, "Unauthorized; scope does not match")
        account = next(
            (
                s.get_account(grant.account_id)
                for s in sim.sites.values()
                if s.get_account(grant.account_id)
            ),
            None,
        )
        if account is None:
            return gateway_error(404, "Not Found")
        return json_response(
            {
                "account_type": account.account_type,
                "account_id": account.account_id,
                "email": account.email,
                "name": account.display_name,
                "picture": AVATAR,
                "account_status": account.account_status,
                "nickname": account.display_name.split(" ")[0],
                "zoneinfo": "Etc/UTC",
                "locale": "en-US",
            }
        )

    return me
