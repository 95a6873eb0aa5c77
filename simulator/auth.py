"""Authentication of Confluence calls: Basic on the site host, Bearer on api.atlassian.com."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from simulator.core import Simulator
from simulator.credentials import ApiTokenCredential
from simulator.errors import error_for_route, gateway_error
from simulator.model import Account
from simulator.routing import RouteInfo
from simulator.scopes import scopes_allow
from simulator.site import Site

SCOPE_MISMATCH = "Unauthorized; scope does not match"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the account the credential acts as, its scopes and its admin roles.

    ``confluence_admin``: a Confluence administrator (``atlassian/admin`` or site admin; gets
    ``administer/application``, sees restricted spaces). ``site_admin``: holds the site-admin
    role (or is an organization admin) — what group writes need. Not the same thing: a member
    of ``confluence-administrators`` is not a site admin.
    """

    kind: str  # "api_token" | "3lo" | "client_credentials"
    account: Account
    scopes: frozenset[str] | None  # None: not scope-limited (classic API token)
    confluence_admin: bool
    site_admin: bool
    secret: str = ""  # the token the caller used (only ever shown hashed, in events)

    @property
    def auth_type(self) -> str:
        """The event actor's ``auth.authType`` for this kind of credential."""
        return {"api_token": "api-token", "3lo": "auth-token-for-3LO"}.get(
            self.kind, "auth-token-for-2LO"
        )


def _synthetic(account_id: str, email: str = "") -> Account:
    """A stand-in for a credential user the site does not list."""
    return Account(account_id, email or account_id, email=email)


def bearer_token(request: Request) -> str | None:
    """The Bearer token of the request, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    email, sep, token = decoded.partition(":")
    return (email, token) if sep else None


def _unauthorized(route: RouteInfo) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="protected-area"'}
    return error_for_route(
        route.name, 401, "Client must be authenticated to access this resource.", **headers
    )


def _site_principal(
    sim: Simulator, site: Site, request: Request, route: RouteInfo
) -> Principal | Response:
    creds = _basic(request)
    token = sim.credentials.api_token_for(*creds) if creds else None
    if token is None or token.scoped:  # a scoped token works through the gateway only
        return _unauthorized(route)
    return _token_principal(sim, site, token, route)


def _token_principal(
    sim: Simulator, site: Site, token: ApiTokenCredential, route: RouteInfo
) -> Principal | Response:
    account = site.account_by_email(token.email)
    if account is None:
        fallback = site.operators.get(token.role, f"557058:vigil-{token.role}")
        account = site.get_account(fallback) or _synthetic(fallback, token.email)
    if account.account_status != "active":
        return _unauthorized(route)
    return _principal(sim, site, "api_token", account, token.scopes, token.token)


def _principal(
    sim: Simulator,
    site: Site,
    kind: str,
    account: Account,
    scopes: frozenset[str] | None,
    secret: str,
) -> Principal:
    account_id = account.account_id
    site_admin = sim.is_site_admin(site, account_id)
    confluence_admin = site_admin or site.is_admin(account_id)
    return Principal(kind, account, scopes, confluence_admin, site_admin, secret)


def _api_principal(
    sim: Simulator, site: Site, request: Request, route: RouteInfo
) -> Principal | Response:
    if (creds := _basic(request)) is not None:  # only scoped API tokens, never classic ones
        api_token = sim.credentials.api_token_for(*creds)
        if api_token is None or not api_token.scoped:
            return gateway_error(401, "Unauthorized")
        # A scoped token is limited to its scopes, like an OAuth grant (§4, §6).
        if api_token.scopes is not None and not scopes_allow(route.name, api_token.scopes):
            return gateway_error(401, SCOPE_MISMATCH)
        return _token_principal(sim, site, api_token, route)
    token = bearer_token(request)
    grant = sim.tokens.grant_for_access_token(token) if token else None
    if grant is None or site.cloud_id not in grant.cloud_ids:
        return gateway_error(401, "Unauthorized")
    if not scopes_allow(route.name, grant.scopes):
        return gateway_error(401, SCOPE_MISMATCH)
    account = site.get_account(grant.account_id) or _synthetic(grant.account_id)
    if account.account_status != "active":
        return gateway_error(401, "Unauthorized")
    return _principal(sim, site, grant.kind, account, grant.scopes, token or "")


def authenticate(
    sim: Simulator, request: Request, route: RouteInfo
) -> tuple[Site, Principal] | Response:
    """Resolve the site and the caller of a Confluence request, or the error to send."""
    if route.host == "site":
        site = sim.sites.get(route.site_ref or "")
        if site is None:
            return error_for_route(route.name, 404, "Site not found")
        result = _site_principal(sim, site, request, route)
    else:
        found = sim.site_by_cloud_id(route.site_ref or "")
        if found is None:
            return gateway_error(404, "Cloud id not found")
        site = found
        result = _api_principal(sim, site, request, route)
    if isinstance(result, Response):
        return result
    if result.account.account_id in site.no_access:
        return error_for_route(route.name, 403, "User does not have permission to use Confluence")
    return site, result
