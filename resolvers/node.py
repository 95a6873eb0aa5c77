"""``node(id)``: refetch any object with a global id (Relay object identification).

Ids are opaque but typed by their prefix, so one lookup finds the right service; every
lookup is scoped to the caller's organization (another organization's id is null).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry

from resolvers.context import Context, principal_of
from resolvers.evidence_types import Evidence
from resolvers.integrations import Integration
from resolvers.people_types import Person
from resolvers.relay import Node
from resolvers.review_types import AccessReview
from resolvers.sync_types import SyncRun
from resolvers.systems import CriticalSystem
from resolvers.types import ApiKey

Lookup = Callable[[strawberry.Info[Context, Any], str], Awaitable[Node | None]]


async def _integration(info: strawberry.Info[Context, Any], id: str) -> Node | None:
    found = await info.context.services.integrations.get(principal_of(info), id)
    return Integration.from_domain(found) if found else None


async def _run(info: strawberry.Info[Context, Any], id: str) -> Node | None:
    found = await info.context.services.sync.get_run(principal_of(info), id)
    return SyncRun.from_domain(found) if found else None


async def _person(info: strawberry.Info[Context, Any], id: str) -> Node | None:
    found = await info.context.services.people.get(principal_of(info), id)
    return Person.from_domain(found) if found else None


async def _review(info: strawberry.Info[Context, Any], id: str) -> Node | None:
    found = await info.context.services.reviews.get(principal_of(info), id)
    return AccessReview.from_domain(found) if found else None


async def _system(info: strawberry.Info[Context, Any], id: str) -> Node | None:
    found = await info.context.services.systems.get(principal_of(info), id)
    return CriticalSystem.from_domain(found) if found else None


async def _evidence(info: strawberry.Info[Context, Any], id: str) -> Node | None:
    found = await info.context.services.evidence.get(principal_of(info), id)
    return Evidence.from_domain(found) if found else None


async def _key(info: strawberry.Info[Context, Any], id: str) -> Node | None:
    found = await info.context.services.access.get_api_key(principal_of(info), id)
    return ApiKey.from_domain(found) if found else None


LOOKUPS: dict[str, Lookup] = {
    "int": _integration,
    "run": _run,
    "per": _person,
    "rev": _review,
    "sys": _system,
    "evd": _evidence,
    "key": _key,
}


@strawberry.type(description="Refetching any object by its id.")
class NodeQuery:
    @strawberry.field(
        description="The object with this id (Integration, SyncRun, Person, AccessReview, "
        "CriticalSystem, Evidence or ApiKey), or null when the caller's organization has "
        "none (every role; API keys other than the caller's own for ADMIN only)."
    )
    async def node(
        self,
        info: strawberry.Info[Context, Any],
        id: Annotated[strawberry.ID, strawberry.argument(description="Any object's id.")],
    ) -> Node | None:
        lookup = LOOKUPS.get(str(id).split("_", 1)[0])
        return await lookup(info, str(id)) if lookup else None
