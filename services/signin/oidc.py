"""Sign-in with any OpenID Connect provider: authorization code + PKCE, discovery, the
provider's JWKS, and the ID token's signature and claims checked on every sign-in.

authlib does the protocol (ADR 019): the authorize URL (``prepare_grant_uri``), the PKCE
challenge (``create_s256_code_challenge``), the token request body and client authentication
(``prepare_token_request``, ``ClientAuth``), the discovery document's validation
(``OpenIDProviderMetadata``) and the ID token's claims (``CodeIDToken``); joserfc (authlib's
JOSE library) verifies the signature against the JWKS. Requests go through Vigil's one
injected ``httpx.AsyncClient`` (authlib's own httpx client follows the ``httpx2`` fork, which
Vigil must not install). Every ID token must have this provider's ``iss``, this client's
``aud``, the ``nonce`` of the sign-in it answers, and an ``exp`` in the future (60 s of clock
skew allowed either way).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from authlib.oidc.discovery import OpenIDProviderMetadata, get_well_known_url
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from services.signin.errors import SignInFailed
from services.users.models import VerifiedIdentity

log = logging.getLogger(__name__)

LEEWAY_SECONDS = 60
METADATA_TTL = 3600.0
MAX_BODY = 256 * 1024


@dataclass(frozen=True, slots=True)
class OidcConfig:
    """One OpenID Connect provider (``VIGIL_OIDC_*``)."""

    issuer: str
    client_id: str
    client_secret: str
    name: str = "OpenID Connect"
    scopes: tuple[str, ...] = ("openid", "email", "profile")

    def __repr__(self) -> str:
        return f"OidcConfig(issuer={self.issuer!r}, client_id={self.client_id!r})"


class OidcProvider:
    """The client side of one OpenID Connect provider."""

    id = "oidc"

    def __init__(
        self, http: httpx.AsyncClient, config: OidcConfig, *, now: Any = time.time
    ) -> None:
        self._http = http
        self.config = config
        self.name = config.name
        self._now = now
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._jwks: dict[str, Any] | None = None

    async def authorization_url(
        self, redirect_uri: str, *, state: str, nonce: str, code_verifier: str
    ) -> str:
        """Where the browser goes to sign in (code flow, PKCE S256, ``nonce``)."""
        metadata = await self.metadata()
        return str(
            prepare_grant_uri(
                metadata["authorization_endpoint"],
                client_id=self.config.client_id,
                response_type="code",
                redirect_uri=redirect_uri,
                scope=" ".join(self.config.scopes),
                state=state,
                nonce=nonce,
                code_challenge=create_s256_code_challenge(code_verifier),
                code_challenge_method="S256",
            )
        )

    async def identity(
        self, code: str, redirect_uri: str, *, nonce: str, code_verifier: str
    ) -> VerifiedIdentity:
        """Redeem the code, verify the ID token, and say who signed in."""
        metadata = await self.metadata()
        tokens = await self._redeem(metadata, code, redirect_uri, code_verifier)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("the identity provider sent no ID token")
        claims = await self.verify_id_token(id_token, nonce=nonce)
        return _identity(claims)

    async def verify_id_token(self, id_token: str, *, nonce: str) -> Mapping[str, Any]:
        """The claims of a genuine ID token for this client and this sign-in, or
        ``SignInFailed`` naming what is wrong (signature, issuer, audience, nonce, expiry)."""
        metadata = await self.metadata()
        algorithms = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in algorithms if isinstance(a, str) and a != "none"]
        try:
            token = await self._decode(id_token, algorithms)
        except JoseError as exc:
            log.warning("an ID token was refused: %s", type(exc).__name__)
            raise SignInFailed("the identity provider's ID token is not validly signed") from None
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": self.config.issuer},
            "aud": {"essential": True, "value": self.config.client_id},
            "exp": {"essential": True},
            "nonce": {"essential": True},
        }
        claims = CodeIDToken(
            token.claims,
            token.header,
            options,
            {"nonce": nonce, "client_id": self.config.client_id},
        )
        try:
            claims.validate(now=int(self._now()), leeway=LEEWAY_SECONDS)
        except JoseError as exc:
            claim = getattr(exc, "claim", None) or type(exc).__name__
            log.warning("an ID token was refused: %s (%s)", type(exc).__name__, claim)
            raise SignInFailed(f"the identity provider's ID token was refused ({claim})") from None
        return dict(claims)

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (validated; cached for an hour)."""
        fresh = self._now() - self._metadata_at < METADATA_TTL
        if self._metadata is not None and fresh:
            return self._metadata
        url = get_well_known_url(self.config.issuer, external=True)
        data = await self._get_json(url, "the discovery document")
        metadata = OpenIDProviderMetadata(data)
        try:
            metadata.validate()
        except ValueError as exc:
            raise SignInFailed(f"the identity provider's discovery document: {exc}") from None
        if metadata.get("issuer") != self.config.issuer:
            raise SignInFailed("the identity provider's discovery document names another issuer")
        self._metadata, self._metadata_at = dict(metadata), self._now()
        return self._metadata

    async def _decode(self, id_token: str, algorithms: list[str]) -> Any:
        registry = JWSRegistry(algorithms=algorithms)
        keys = await self._keys(refresh=False)
        try:
            return jwt.decode(id_token, keys, registry=registry)
        except JoseError:
            # The provider may have rotated its keys: read the JWKS again, once.
            keys = await self._keys(refresh=True)
            return jwt.decode(id_token, keys, registry=registry)

    async def _keys(self, *, refresh: bool) -> KeySet:
        if self._jwks is None or refresh:
            metadata = await self.metadata()
            self._jwks = await self._get_json(metadata["jwks_uri"], "the key set (JWKS)")
        try:
            return KeySet.import_key_set(self._jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise SignInFailed(f"the identity provider's key set cannot be read: {exc}") from None

    async def _redeem(
        self, metadata: Mapping[str, Any], code: str, redirect_uri: str, code_verifier: str
    ) -> dict[str, Any]:
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
        )
        methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        method = "client_secret_basic" if "client_secret_basic" in methods else "client_secret_post"
        auth = ClientAuth(self.config.client_id, self.config.client_secret, method)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        url, headers, body = auth.prepare("POST", metadata["token_endpoint"], headers, body)
        try:
            response = await self._http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SignInFailed(
                f"the identity provider cannot be reached ({type(exc).__name__})"
            ) from None
        data = _json(response, "the token endpoint")
        if response.status_code >= 400 or "error" in data:
            error = str(data.get("error") or response.status_code)[:60]
            raise SignInFailed(f"the identity provider refused the sign-in ({error})")
        return data

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = await self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise SignInFailed(
                f"the identity provider cannot be reached ({type(exc).__name__})"
            ) from None
        if response.status_code != 200:
            raise SignInFailed(f"the identity provider answered {response.status_code} for {what}")
        return _json(response, what)


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    if len(response.content) > MAX_BODY:
        raise SignInFailed(f"the identity provider sent too large a body for {what}")
    try:
        data = response.json()
    except ValueError:
        raise SignInFailed(f"the identity provider sent invalid JSON for {what}") from None
    if not isinstance(data, dict):
        raise SignInFailed(f"the identity provider sent a non-object for {what}")
    return data


def _identity(claims: Mapping[str, Any]) -> VerifiedIdentity:
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise SignInFailed(
            "the identity provider did not share an email address (Vigil asks for the "
            "`email` scope)"
        )
    name = claims.get("name")
    return VerifiedIdentity(
        provider="oidc",
        subject=str(claims["sub"]),
        email=email.strip().lower(),
        email_verified=claims.get("email_verified") is True,
        display_name=name.strip() if isinstance(name, str) and name.strip() else email,
    )
