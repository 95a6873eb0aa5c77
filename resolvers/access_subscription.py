"""Subscriptions about API keys."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry

from resolvers.context import Context, principal_of
from resolvers.types import ApiKey, ApiKeyChange, ApiKeyChangeKind
from services.events import topic_for


@strawberry.type(description="Live updates about API keys.")
class AccessSubscription:
    @strawberry.subscription(
        description="API keys of the organization created or revoked (ADMIN sees every key; "
        "other roles only their own)."
    )
    async def api_key_changed(
        self, info: strawberry.Info[Context, Any]
    ) -> AsyncGenerator[ApiKeyChange, None]:
        principal = principal_of(info)
        services = info.context.services
        events = services.bus.subscribe(topic_for(principal.organization_id, "api_keys"))
        async for event in events:
            key = await services.api_keys.get_api_key(principal, event["key_id"])
            if key is not None:
                yield ApiKeyChange(
                    change=ApiKeyChangeKind(event["change"]), api_key=ApiKey.from_domain(key)
                )
