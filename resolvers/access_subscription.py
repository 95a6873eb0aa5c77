"""Subscriptions about API keys."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry

from resolvers.context import Context, principal_of
from resolvers.types import ApiKey, ApiKeyChange
from services.events import topic_for


@strawberry.type
class AccessSubscription:
    """Live updates pushed over ``graphql-transport-ws``."""

    @strawberry.subscription(description="API keys of the organization created or revoked.")
    async def api_key_changed(
        self, info: strawberry.Info[Context, Any]
    ) -> AsyncGenerator[ApiKeyChange, None]:
        principal = principal_of(info)
        services = info.context.services
        events = services.bus.subscribe(topic_for(principal.organization_id, "api_keys"))
        async for event in events:
            key = await services.access.get_api_key(principal, event["key_id"])
            if key is not None:
                yield ApiKeyChange(change=event["change"], api_key=ApiKey.from_domain(key))
