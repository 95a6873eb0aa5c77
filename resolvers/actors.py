"""Resolving who acted (an API key id or a person's user id) to a name, once per request."""

from __future__ import annotations

from resolvers.context import Info, principal_of
from resolvers.types import Actor

USER_PREFIX = "usr_"


async def actor(info: Info, actor_id: str | None) -> Actor | None:
    """The actor behind a stored "who acted" id (None for None), memoised in the request."""
    if actor_id is None:
        return None
    memo = info.context.memo
    cache_key = ("actor", actor_id)
    if cache_key not in memo:
        services, principal = info.context.services, principal_of(info)
        if actor_id.startswith(USER_PREFIX):
            member = await services.members.member(principal, actor_id)
            user = (
                member.user
                if member
                else await services.members.user_for_display(principal, actor_id)
            )
            memo[cache_key] = Actor.person(
                actor_id, user, member.membership.role if member else None
            )
        else:
            key = await services.api_keys.key_for_display(principal, actor_id)
            memo[cache_key] = Actor.of(actor_id, key)
    found: Actor = memo[cache_key]
    return found
