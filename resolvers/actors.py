"""Resolving who acted (an API key id) to its name and role, once per request."""

from __future__ import annotations

from typing import Any

import strawberry

from resolvers.context import Context, principal_of
from resolvers.types import Actor


async def actor(info: strawberry.Info[Context, Any], key_id: str | None) -> Actor | None:
    """The actor behind an API key id (None for None), memoised in the request."""
    if key_id is None:
        return None
    memo = info.context.memo
    cache_key = ("actor", key_id)
    if cache_key not in memo:
        key = await info.context.services.api_keys.key_for_display(principal_of(info), key_id)
        memo[cache_key] = Actor.of(key_id, key)
    found: Actor = memo[cache_key]
    return found
