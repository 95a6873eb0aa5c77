"""OAuth scopes the simulator knows and what each Confluence endpoint requires."""

from __future__ import annotations

CLASSIC_SCOPES = frozenset(
    {
        "read:confluence-user",
        "read:confluence-groups",
        "read:content-details:confluence",
        "search:confluence",
        "read:confluence-content.summary",
        "read:confluence-content.all",
        "read:confluence-space.summary",
        "read:confluence-props",
        "write:confluence-content",
        "manage:confluence-configuration",
        "write:confluence-groups",
    }
)
GRANULAR_SCOPES = frozenset(
    {
        "read:user:confluence",
        "read:group:confluence",
        "read:space:confluence",
        "read:page:confluence",
        "read:content:confluence",
        "read:label:confluence",
        "read:attachment:confluence",
        "read:comment:confluence",
        "write:group:confluence",
    }
)
IDENTITY_SCOPES = frozenset({"offline_access", "read:me", "read:account"})
KNOWN_SCOPES = CLASSIC_SCOPES | GRANULAR_SCOPES | IDENTITY_SCOPES

# What Vigil requests (SPEC §2.1); also what the service account is granted by default.
VIGIL_SCOPES = (
    "offline_access",
    "read:confluence-user",
    "read:confluence-groups",
    "read:content-details:confluence",
    "read:user:confluence",
    "read:group:confluence",
    "read:space:confluence",
    "read:page:confluence",
)

# Route name -> alternatives; a token passes when it holds every scope of one alternative.
# Classic scopes serve the v1 endpoints, granular ones the v2 endpoints (SPEC §2.1).
ENDPOINT_SCOPES: dict[str, tuple[frozenset[str], ...]] = {
    "GET /wiki/rest/api/user/current": (
        frozenset({"read:confluence-user"}),
        frozenset({"read:user:confluence"}),
    ),
    "GET /wiki/rest/api/group": (
        frozenset({"read:confluence-groups"}),
        frozenset({"read:group:confluence"}),
    ),
    "GET /wiki/rest/api/group/{groupId}/membersByGroupId": (
        frozenset({"read:confluence-groups"}),
        frozenset({"read:group:confluence"}),
    ),
    "GET /wiki/rest/api/content/search": (
        frozenset({"read:content-details:confluence"}),
        frozenset({"search:confluence"}),
    ),
    "POST /wiki/api/v2/users-bulk": (frozenset({"read:user:confluence"}),),
    "GET /wiki/api/v2/pages/{id}": (frozenset({"read:page:confluence"}),),
    "GET /wiki/api/v2/spaces": (frozenset({"read:space:confluence"}),),
    # v1 reference, user/memberof: classic read:confluence-user (the 2021 OpenAPI); the
    # granular alternative is the group read scope (docs/simulator.md).
    "GET /wiki/rest/api/user/memberof": (
        frozenset({"read:confluence-user"}),
        frozenset({"read:group:confluence"}),
    ),
    # v1 reference, add/remove member by group id: classic write:confluence-groups, granular
    # write:group:confluence (confluence-api.md §5.9).
    "DELETE /wiki/rest/api/group/userByGroupId": (
        frozenset({"write:confluence-groups"}),
        frozenset({"write:group:confluence"}),
    ),
    "POST /wiki/rest/api/group/userByGroupId": (
        frozenset({"write:confluence-groups"}),
        frozenset({"write:group:confluence"}),
    ),
}


def scopes_allow(route: str, granted: frozenset[str]) -> bool:
    """Whether granted scopes satisfy one alternative the route requires."""
    alternatives = ENDPOINT_SCOPES.get(route)
    if alternatives is None:
        return True
    return any(alt <= granted for alt in alternatives)
