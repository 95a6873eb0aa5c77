"""The fake credentials the simulator accepts (deterministic from a seed)."""

from __future__ import annotations

import random
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from simulator.scopes import VIGIL_SCOPES
from simulator.site import Site


@dataclass(frozen=True, slots=True)
class ApiTokenCredential:
    """An API token: Basic `email:token`. A classic token works against the site host only;
    a scoped one ("API token with scopes") only through the gateway
    `api.atlassian.com/ex/confluence/{cloudId}`, the site host answering 401 (§4), and only
    for its `scopes` (a missing one → 401 "scope does not match"; None: not limited)."""

    email: str
    token: str
    role: str  # "admin" or "member": which operator account it belongs to
    scoped: bool = False
    scopes: frozenset[str] | None = None


@dataclass(slots=True)
class Credentials:
    """Everything a client can authenticate with.

    `oauth_redirect_uris` empty means any http(s) redirect URI is accepted (Vigil's
    callback port varies in tests). `oauth_account_id` is the user who consents in the
    3LO flow (the consent POST can override it with `account_id`).
    """

    api_tokens: tuple[ApiTokenCredential, ...]
    oauth_client_id: str
    oauth_client_secret: str
    oauth_account_id: str
    cc_client_id: str
    cc_client_secret: str
    cc_account_id: str
    org_id: str
    admin_api_key: str
    cc_scopes: tuple[str, ...] = VIGIL_SCOPES
    oauth_redirect_uris: tuple[str, ...] = ()
    extra_admin_keys: dict[str, str] = field(default_factory=dict)  # key -> org id
    # Admin API keys limited to scopes (key -> scopes); unlisted keys are unscoped.
    admin_key_scopes: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def admin_token(self) -> ApiTokenCredential:
        """The classic API token of the Confluence admin operator."""
        return next(t for t in self.api_tokens if t.role == "admin" and not t.scoped)

    @property
    def scoped_admin_token(self) -> ApiTokenCredential:
        """The scoped API token of the Confluence admin operator (gateway only)."""
        return next(t for t in self.api_tokens if t.role == "admin" and t.scoped)

    @property
    def member_token(self) -> ApiTokenCredential:
        """The classic API token of the non-admin operator."""
        return next(t for t in self.api_tokens if t.role == "member" and not t.scoped)

    def api_token_for(self, email: str, token: str) -> ApiTokenCredential | None:
        """The matching API token credential, if email and token are right."""
        wanted = email.casefold()
        return next(
            (t for t in self.api_tokens if t.email.casefold() == wanted and t.token == token),
            None,
        )

    def add_api_token(
        self,
        email: str,
        token: str,
        role: str = "admin",
        *,
        scoped: bool = False,
        scopes: Iterable[str] | None = None,
    ) -> ApiTokenCredential:
        """Accept one more API token (e.g. a scoped token with write scopes, for a test)."""
        credential = ApiTokenCredential(
            email, token, role, scoped, None if scopes is None else frozenset(scopes)
        )
        self.api_tokens = (*self.api_tokens, credential)
        return credential

    def add_admin_key(
        self, key: str, org_id: str | None = None, scopes: Iterable[str] | None = None
    ) -> None:
        """Accept one more Admin API key (for ``org_id``, default this org), optionally scoped."""
        self.extra_admin_keys[key] = org_id or self.org_id
        if scopes is not None:
            self.admin_key_scopes[key] = frozenset(scopes)

    def admin_key_allows(self, key: str, scope: str) -> bool:
        """Whether an Admin API key may use an endpoint needing ``scope`` (unscoped: yes)."""
        scopes = self.admin_key_scopes.get(key)
        return scopes is None or scope in scopes

    def org_for_admin_key(self, key: str) -> str | None:
        """The organization an Admin API key belongs to."""
        if key == self.admin_api_key:
            return self.org_id
        return self.extra_admin_keys.get(key)

    @classmethod
    def default(cls, sites: Sequence[Site], seed: int = 1) -> Credentials:
        """Credentials derived from the seed, acting as the first site's operator accounts."""
        rng = random.Random(f"credentials:{seed}")
        site = sites[0]
        domain = site.verified_domains[0] if site.verified_domains else f"{site.name}.example"

        def secret(prefix: str, length: int) -> str:
            alphabet = string.ascii_letters + string.digits
            return prefix + "".join(rng.choice(alphabet) for _ in range(length))

        def email_of(role: str, fallback: str) -> str:
            account = site.get_account(site.operators.get(role, ""))
            return account.email if account is not None and account.email else fallback

        def account_of(role: str) -> str:
            return site.operators.get(role, f"557058:vigil-{role}")

        return cls(
            api_tokens=(
                ApiTokenCredential(
                    email_of("admin", f"vigil-admin@{domain}"), secret("ATATT3xFfGF0", 40), "admin"
                ),
                ApiTokenCredential(
                    email_of("member", f"vigil-reader@{domain}"),
                    secret("ATATT3xFfGF0", 40),
                    "member",
                ),
                ApiTokenCredential(
                    email_of("admin", f"vigil-admin@{domain}"),
                    secret("ATATT3xFfGF0", 40),
                    "admin",
                    scoped=True,
                    scopes=frozenset(VIGIL_SCOPES),
                ),
            ),
            oauth_client_id=secret("", 32),
            oauth_client_secret=secret("ATOA", 60),
            oauth_account_id=account_of("admin"),
            cc_client_id=secret("", 32),
            cc_client_secret=secret("ATSA", 60),
            cc_account_id=account_of("service"),
            org_id=str(rng.getrandbits(64)),
            admin_api_key=secret("ATCTT3xFfGN0", 48),
        )

    def describe(self) -> list[tuple[str, str]]:
        """(label, value) pairs of the OAuth and Admin API credentials, for the banner."""
        return [
            ("OAuth 3LO client id", self.oauth_client_id),
            ("OAuth 3LO client secret", self.oauth_client_secret),
            ("Client-credentials client id", self.cc_client_id),
            ("Client-credentials client secret", self.cc_client_secret),
            ("Admin API org id", self.org_id),
            ("Admin API key", self.admin_api_key),
        ]
