"""What a caller may spend beyond one operation at a time.

- ``KeyCost``: the operation cost (``resolvers/limits.py``) an API key may spend per minute,
  drawn from the container's ``cost_limiter`` (a ``RateLimiter`` whose tokens are cost
  units) before the operation runs; the GraphQL context carries one per caller.
- ``AddressLimiter``: requests that present no valid API key, per client address. A failed
  authentication takes a token from the address's bucket; once the bucket is empty, every
  request of that address is refused with 429 and ``Retry-After`` *before* its key is looked
  up, so a flood of bad keys costs the database nothing — except a request presenting a key
  this process authenticated in the last ``KNOWN_KEY_SECONDS``: people behind the same
  proxy or NAT as an attacker keep working (their key is still checked as always; knowing
  it only spares them the address's refusal). Buckets are kept in this process (a flood is
  refused by each process it reaches) for at most ``MAX_ADDRESSES`` addresses and
  ``MAX_KNOWN_KEYS`` keys (by hash), the least recently seen forgotten first.
- ``AddressGate``: the same refusal as the first thing the application does for a request to
  a route that reads keys or OAuth states, before routing, body or GraphQL: a flood costs
  the process about what an unknown URL does. The refusal is answered after
  ``TARPIT_SECONDS`` (or the ``Retry-After``, when sooner; ``tarpit``, also for the 429s of
  ``api.http_requests.authenticate``): a client that knocks again as soon as it is answered
  gets one answer a second per connection instead of thousands, which spares the process
  (and the machine) the flood's pace.
- ``client_address``: the address a request comes from; behind a trusted proxy
  (``VIGIL_TRUSTED_PROXIES``) the app's ``ProxyHeadersMiddleware`` has already put the
  client named by ``X-Forwarded-For`` there.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from api.http_errors import RateLimited, error_response, request_id
from api.ratelimit import RateLimiter
from services.api_keys import hash_key

#: Addresses whose buckets are kept; beyond, the least recently seen is forgotten.
MAX_ADDRESSES = 100_000
#: The refusal of an address over its budget of failed authentications (keys, OAuth states).
TOO_MANY_FAILURES = "too many failed authentications from this address; retry later"
#: How long a flooded address waits for its refusal (at most its ``Retry-After``).
TARPIT_SECONDS = 1.0
#: Routes that read an API key or an OAuth state: the ones a flooded address is refused.
GATED_PATHS = ("/graphql", "/people/import", "/evidence/export", "/audit/", "/oauth/", "/auth/")
#: Keys (their hashes) recently authenticated, which a flooded address does not refuse.
MAX_KNOWN_KEYS = 10_000
KNOWN_KEY_SECONDS = 600.0


class KeyCost:
    """The ``CostMeter`` of one API key (``resolvers.limits.CostMeter``)."""

    def __init__(self, limiter: RateLimiter, key_id: str, on_refused: Callable[[], None]) -> None:
        self._limiter = limiter
        # The bucket's own name: a shared store keeps operations and cost apart.
        self._key = f"cost:{key_id}"
        self._on_refused = on_refused

    async def charge(self, cost: int) -> int:
        """Take ``cost`` from the key's budget: 0, or the seconds until it is there."""
        wait = await self._limiter.take(self._key, cost) if cost > 0 else 0
        if wait:
            self._on_refused()
        return wait


class AddressLimiter:
    """Failed authentications per client address: ``per_minute``, bursts as large. Each
    attempt is admitted with a token set aside (``admit``) that a success gives back
    (``succeeded``): a failure keeps it."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        # key hash → (its id, when it authenticated)
        self._known: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def refused(self, address: str, token: str | None = None) -> int:
        """Seconds until ``address`` may try again (0: it may now, or ``token`` is a key
        authenticated here lately). Reads nothing but this process's memory."""
        tokens = self._tokens(address)
        if tokens >= 1.0 or self._is_known(token):
            return 0
        return max(1, math.ceil((1.0 - tokens) / self._rate))

    def admit(self, address: str, token: str | None = None) -> int:
        """``refused``, and when admitted a token set aside for the attempt (unless ``token``
        is known), so concurrent attempts never exceed what the bucket holds."""
        wait = self.refused(address, token)
        if wait == 0 and not self._is_known(token):
            self._set(address, self._tokens(address) - 1.0)
        return wait

    def give_back(self, address: str, token: str | None = None) -> None:
        """The attempt could not be judged (the database did not answer): its token back."""
        if not self._is_known(token):
            self._set(address, self._tokens(address) + 1.0)

    def succeeded(self, address: str, token: str | None = None, key_id: str | None = None) -> None:
        """The attempt authenticated: its token back, and ``token`` (the key ``key_id``)
        known for a while."""
        self.give_back(address, token)
        if token and key_id:
            digest = hash_key(token)
            self._known[digest] = (key_id, self._clock())
            self._known.move_to_end(digest)
            while len(self._known) > MAX_KNOWN_KEYS:
                self._known.popitem(last=False)

    def _set(self, address: str, tokens: float) -> None:
        self._buckets[address] = (min(self._capacity, max(0.0, tokens)), self._clock())
        self._buckets.move_to_end(address)
        while len(self._buckets) > MAX_ADDRESSES:
            self._buckets.popitem(last=False)

    def key_id(self, token: str | None) -> str | None:
        """The id of the key ``token`` authenticated as lately in this process, if it did."""
        if not token:
            return None
        seen = self._known.get(hash_key(token))
        if seen is None or self._clock() - seen[1] >= KNOWN_KEY_SECONDS:
            return None
        return seen[0]

    def _is_known(self, token: str | None) -> bool:
        return self.key_id(token) is not None

    def _tokens(self, address: str) -> float:
        found = self._buckets.get(address)
        if found is None:
            return self._capacity
        tokens, last = found
        return min(self._capacity, tokens + (self._clock() - last) * self._rate)


async def tarpit(retry_after: int) -> None:
    """Hold a refusal back ``TARPIT_SECONDS`` (at most its ``Retry-After``) before it is sent:
    a client that asks again the moment it is refused asks once a second, not thousands of
    times (an HTTP request waiting here holds its connection and a few kilobytes)."""
    await asyncio.sleep(min(float(retry_after), TARPIT_SECONDS))


def client_address(scope: Scope) -> str:
    """The client's address (the proxy's unless it is trusted), or "unknown"."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class AddressGate:
    """Refuses a flooded address's requests to the routes of ``GATED_PATHS`` up front."""

    def __init__(self, app: ASGIApp, limiter: AddressLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 429 at once when the address is refused, else pass the request on."""
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(GATED_PATHS):
            token = _bearer(scope)
            wait = self.limiter.refused(client_address(scope), token)
            if wait:
                await tarpit(wait)
                refusal = RateLimited(wait, TOO_MANY_FAILURES)
                rid = request_id(scope)
                response = error_response(429, refusal.errors, rid, retry_after=wait)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def bearer_token(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value, else None."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _bearer(scope: Scope) -> str | None:
    """The token of the request's ``Authorization`` header, if any."""
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            return bearer_token(value.decode("latin-1"))
    return None
