"""Per-request GraphQL context and the services resolvers may call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import strawberry

from services.access import AccessService
from services.errors import Forbidden
from services.events import EventBus
from services.integrations.oauth_flow import OAuthFlow
from services.integrations.service import IntegrationService
from services.models import Principal


@dataclass
class AppServices:
    """The services the GraphQL layer calls (built by the composition root)."""

    access: AccessService
    bus: EventBus
    integrations: IntegrationService
    oauth: OAuthFlow


@dataclass
class Context:
    """What every resolver sees: services, the caller and a request id."""

    services: AppServices
    request_id: str
    principal: Principal | None = None
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] = field(default_factory=dict)


def principal_of(info: strawberry.Info[Context, Any]) -> Principal:
    """The authenticated caller (the transport refuses unauthenticated requests)."""
    principal = info.context.principal
    if principal is None:
        raise Forbidden("not authenticated")
    return principal
