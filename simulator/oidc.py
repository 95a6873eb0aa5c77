"""A small OpenID Connect provider under ``/oidc``, so sign-in runs offline.

Discovery (``/oidc/.well-known/openid-configuration``), the key set (``/oidc/jwks``), an
authorize endpoint whose consent page offers a choice of test users (authorization code flow
with PKCE S256 and ``nonce`` required), and a token endpoint (``client_secret_basic`` or
``client_secret_post``) answering signed RS256 ID tokens. ``tamper`` makes the next ID tokens
wrong in one way (``audience``, ``issuer``, ``nonce``, ``signature``, ``expired``) so a client's
refusals can be tested; ``reset`` clears it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import random
import secrets
import string
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from simulator.clock import SimClock

Endpoint = Callable[[Request], Awaitable[Response]]
TAMPERINGS = ("audience", "issuer", "nonce", "signature", "expired")
_PAGE = "<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"


@dataclass(frozen=True, slots=True)
class OidcUser:
    """A test user of the provider."""

    subject: str
    name: str
    email: str
    email_verified: bool = True


@dataclass(slots=True)
class _Code:
    client_id: str
    redirect_uri: str
    user: OidcUser
    nonce: str
    challenge: str
    expires_at: Any
    used: bool = False


@dataclass(slots=True)
class OidcIdP:
    """The provider's state: its client, test users, signing key, codes and switches."""

    clock: SimClock
    seed: int = 1
    client_id: str = ""
    client_secret: str = ""
    users: list[OidcUser] = field(default_factory=list)
    tamper: str | None = None
    id_token_ttl: float = 300.0
    _key: RSAKey | None = None
    _codes: dict[str, _Code] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        rng = random.Random(f"oidc:{self.seed}")
        alphabet = string.ascii_letters + string.digits
        self.client_id = self.client_id or "vigil-" + "".join(
            rng.choice(alphabet) for _ in range(12)
        )
        self.client_secret = self.client_secret or "".join(rng.choice(alphabet) for _ in range(40))
        if not self.users:
            self.users = [
                OidcUser("oidc-ada", "Ada Lovelace", "ada@acme.example"),
                OidcUser("oidc-grace", "Grace Hopper", "grace@acme.example"),
                OidcUser("oidc-alan", "Alan Turing", "alan@acme.example"),
                OidcUser("oidc-mallory", "Mallory Unverified", "mallory@acme.example", False),
            ]
        self._key = RSAKey.generate_key(2048, parameters={"kid": f"sim-{self.seed}", "use": "sig"})

    def add_user(self, subject: str, name: str, email: str, *, verified: bool = True) -> OidcUser:
        """One more test user on the consent page."""
        user = OidcUser(subject, name, email, verified)
        self.users.append(user)
        return user

    def user(self, subject: str) -> OidcUser | None:
        """A test user by subject."""
        return next((u for u in self.users if u.subject == subject), None)

    def jwks(self) -> dict[str, Any]:
        """The public key set."""
        assert self._key is not None
        return {"keys": [self._key.as_dict(private=False)]}

    def reset(self) -> None:
        """Stop tampering; forget codes."""
        self.tamper = None
        with self._lock:
            self._codes.clear()

    def create_code(
        self, *, client_id: str, redirect_uri: str, user: OidcUser, nonce: str, challenge: str
    ) -> str:
        """A single-use authorization code (valid 5 minutes)."""
        code = "oidc-code-" + secrets.token_urlsafe(24)
        expires = self.clock.now() + timedelta(minutes=5)
        with self._lock:
            self._codes[code] = _Code(client_id, redirect_uri, user, nonce, challenge, expires)
        return code

    def redeem(
        self, *, client_id: str, code: str, redirect_uri: str, verifier: str, issuer: str
    ) -> dict[str, Any] | None:
        """The token response for a genuine code and PKCE verifier, else None."""
        with self._lock:
            entry = self._codes.get(code)
            if (
                entry is None
                or entry.used
                or entry.expires_at <= self.clock.now()
                or entry.client_id != client_id
                or entry.redirect_uri != redirect_uri
                or _s256(verifier) != entry.challenge
            ):
                return None
            entry.used = True
        return {
            "access_token": "oidc-at-" + secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.id_token(entry.user, client_id, entry.nonce, issuer),
        }

    def id_token(self, user: OidcUser, audience: str, nonce: str, issuer: str) -> str:
        """A signed ID token for ``user`` (wrong in the way ``tamper`` says)."""
        now = int(self.clock.now().timestamp())
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": user.subject,
            "aud": audience,
            "iat": now,
            "exp": now + int(self.id_token_ttl),
            "nonce": nonce,
            "email": user.email,
            "email_verified": user.email_verified,
            "name": user.name,
        }
        key = self._key
        if self.tamper == "audience":
            claims["aud"] = "someone-else"
        elif self.tamper == "issuer":
            claims["iss"] = issuer + "-impostor"
        elif self.tamper == "nonce":
            claims["nonce"] = "not-the-nonce"
        elif self.tamper == "expired":
            claims["iat"], claims["exp"] = now - 3600, now - 600
        elif self.tamper == "signature":
            key = RSAKey.generate_key(2048, parameters={"kid": f"sim-{self.seed}"})
        assert key is not None
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _issuer(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/oidc"


def _error_page(message: str, status: int = 400) -> HTMLResponse:
    body = f"<h1>Sign-in error</h1><p>{html.escape(message)}</p>"
    return HTMLResponse(_PAGE.format(title="Error", body=body), status_code=status)


def _with_query(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def routes(idp: OidcIdP) -> list[Route]:
    """The provider's routes, mounted at the simulator's root."""

    async def discovery(request: Request) -> Response:
        issuer = _issuer(request)
        return JSONResponse(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "jwks_uri": f"{issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "code_challenge_methods_supported": ["S256"],
                "claims_supported": ["sub", "email", "email_verified", "name"],
            }
        )

    async def jwks(request: Request) -> Response:
        return JSONResponse(idp.jwks())

    async def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update(await _form(request))
        problem = _authorize_problem(idp, params)
        if problem:
            return _error_page(problem)
        redirect = params["redirect_uri"]
        if request.method == "GET":
            return _consent(idp, request, params)
        if params.get("decision") == "deny":
            denied = {"error": "access_denied", "state": params["state"]}
            return RedirectResponse(_with_query(redirect, denied), 302)
        user = idp.user(params.get("user", ""))
        if user is None:
            return _error_page("choose a user")
        code = idp.create_code(
            client_id=params["client_id"],
            redirect_uri=redirect,
            user=user,
            nonce=params["nonce"],
            challenge=params["code_challenge"],
        )
        return RedirectResponse(
            _with_query(redirect, {"code": code, "state": params["state"]}), 302
        )

    async def token(request: Request) -> Response:
        form = await _form(request)
        client_id, secret = _client(request, form)
        if (client_id, secret) != (idp.client_id, idp.client_secret):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("grant_type") != "authorization_code":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        answer = idp.redeem(
            client_id=client_id,
            code=form.get("code", ""),
            redirect_uri=form.get("redirect_uri", ""),
            verifier=form.get("code_verifier", ""),
            issuer=_issuer(request),
        )
        if answer is None:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    return [
        Route("/oidc/.well-known/openid-configuration", discovery, methods=["GET"]),
        Route("/oidc/jwks", jwks, methods=["GET"]),
        Route("/oidc/authorize", authorize, methods=["GET", "POST"]),
        Route("/oidc/token", token, methods=["POST"]),
    ]


def _authorize_problem(idp: OidcIdP, params: dict[str, str]) -> str | None:
    if params.get("client_id") != idp.client_id:
        return "invalid_client: unknown client_id"
    if params.get("response_type") != "code":
        return "unsupported_response_type: response_type must be code"
    if "openid" not in params.get("scope", "").split():
        return "invalid_scope: the openid scope is required"
    if not params.get("redirect_uri", "").startswith(("http://", "https://")):
        return "invalid_request: redirect_uri"
    for name in ("state", "nonce", "code_challenge"):
        if not params.get(name):
            return f"invalid_request: {name} is required"
    if params.get("code_challenge_method") != "S256":
        return "invalid_request: code_challenge_method must be S256"
    return None


def _consent(idp: OidcIdP, request: Request, params: dict[str, str]) -> HTMLResponse:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
    )
    choices = "".join(
        f'<label><input type="radio" name="user" value="{html.escape(u.subject)}"'
        f"{' checked' if i == 0 else ''}> {html.escape(u.name)} &lt;{html.escape(u.email)}&gt;"
        f"</label><br>"
        for i, u in enumerate(idp.users)
    )
    body = (
        "<main><h1>Sign in to the test identity provider</h1>"
        f'<form method="post" action="{html.escape(request.url.path)}">{hidden}'
        f"<fieldset><legend>Sign in as</legend>{choices}</fieldset>"
        '<button name="decision" value="approve">Continue</button> '
        '<button name="decision" value="deny">Cancel</button></form></main>'
    )
    return HTMLResponse(_PAGE.format(title="Test identity provider", body=body))


async def _form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (no multipart parser needed)."""
    raw = (await request.body()).decode("utf-8", "replace")
    return dict(parse_qsl(raw, keep_blank_values=True))


def _client(request: Request, form: dict[str, str]) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip()).decode()
        except (ValueError, UnicodeDecodeError):
            return "", ""
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret)
    return form.get("client_id", ""), form.get("client_secret", "")
