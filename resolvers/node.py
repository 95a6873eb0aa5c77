"""``node(id)``: refetch any object with a global id (Relay object identification).

Ids are opaque but typed by their prefix, so one lookup finds the right service; every
lookup is scoped to the caller's organization (another organization's id is null).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry

from resolvers.context import AppServices, Info, principal_of
from resolvers.evidence_types import Evidence
from resolvers.integration_types import Integration
from resolvers.relay import Node
from resolvers.review_types import AccessReview
from resolvers.snapshot_types import Person
from resolvers.sync_types import SyncRun
from resolvers.systems import CriticalSystem
from resolvers.types import ApiKey
from services.models import Principal

Lookup = Callable[[Info, str], Awaitable[Node | None]]
Fetch = Callable[[AppServices, Principal, str], Awaitable[Any]]


def _lookup(fetch: Fetch, convert: Callable[[Any], Node]) -> Lookup:
    """Fetch through a service (scoped to the caller) and convert, or None when not found."""

    async def lookup(info: Info, id: str) -> Node | None:
        found = await fetch(info.context.services, principal_of(info), id)
        return convert(found) if found else None

    return lookup


LOOKUPS: dict[str, Lookup] = {
    "int": _lookup(lambda s, p, i: s.integrations.get(p, i), Integration.from_domain),
    "run": _lookup(lambda s, p, i: s.sync.get_run(p, i), SyncRun.from_domain),
    "per": _lookup(lambda s, p, i: s.people.get(p, i), Person.from_domain),
    "rev": _lookup(lambda s, p, i: s.reviews.get(p, i), AccessReview.from_domain),
    "sys": _lookup(lambda s, p, i: s.systems.get(p, i), CriticalSystem.from_domain),
    "evd": _lookup(lambda s, p, i: s.evidence.get(p, i), Evidence.from_domain),
    "key": _lookup(lambda s, p, i: s.api_keys.get_api_key(p, i), ApiKey.from_domain),
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
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Any object's id.")],
    ) -> Node | None:
        lookup = LOOKUPS.get(str(id).split("_", 1)[0])
        return await lookup(info, str(id)) if lookup else None
