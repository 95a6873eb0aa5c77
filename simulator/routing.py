"""Normalised route names and families, shared by counters, faults and scope checks."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Confluence endpoints, relative to either Confluence base (site or api.atlassian.com/ex).
CONFLUENCE_ENDPOINTS = (
    ("GET", "/wiki/rest/api/user/current"),
    ("GET", "/wiki/rest/api/group"),
    ("GET", "/wiki/rest/api/group/{groupId}/membersByGroupId"),
    ("GET", "/wiki/rest/api/content/search"),
    ("POST", "/wiki/api/v2/users-bulk"),
    ("GET", "/wiki/api/v2/pages/{id}"),
    ("GET", "/wiki/api/v2/spaces"),
    ("DELETE", "/wiki/rest/api/group/userByGroupId"),  # remediation's group write
    ("POST", "/wiki/rest/api/group/userByGroupId"),  # add a member (tests, IdP-synced refusal)
    ("GET", "/wiki/rest/api/user/memberof"),  # an account's groups (targeted refresh, §5.10)
)
# Admin API endpoints (api.atlassian.com): directories, suspension, role assignments (§5.9).
ADMIN_DIRECTORIES = "/admin/v2/orgs/{orgId}/directories"
ADMIN_DIRECTORY_USER = "/admin/v2/orgs/{orgId}/directories/{directoryId}/users/{accountId}"
ADMIN_SUSPEND = ADMIN_DIRECTORY_USER + "/suspend"
ADMIN_RESTORE = ADMIN_DIRECTORY_USER + "/restore"
ADMIN_ROLE_ASSIGNMENTS = ADMIN_DIRECTORY_USER + "/role-assignments"
ADMIN_ROLES_ASSIGN = "/admin/v1/orgs/{orgId}/users/{accountId}/roles/assign"
ADMIN_ROLES_REVOKE = "/admin/v1/orgs/{orgId}/users/{accountId}/roles/revoke"
LIFECYCLE_DISABLE = "/users/{accountId}/manage/lifecycle/disable"
LIFECYCLE_ENABLE = "/users/{accountId}/manage/lifecycle/enable"
EVENTS_STREAM = "/admin/v1/orgs/{orgId}/events-stream"
EVENT_ACTIONS = "/admin/v1/orgs/{orgId}/event-actions"
ADMIN_REMEDIATION = (
    ("GET", ADMIN_DIRECTORIES),
    ("GET", ADMIN_DIRECTORY_USER),
    ("POST", ADMIN_SUSPEND),
    ("POST", ADMIN_RESTORE),
    ("GET", ADMIN_ROLE_ASSIGNMENTS),
    ("POST", ADMIN_ROLES_ASSIGN),
    ("POST", ADMIN_ROLES_REVOKE),
    ("POST", LIFECYCLE_DISABLE),
    ("POST", LIFECYCLE_ENABLE),
    ("GET", EVENTS_STREAM),
    ("GET", EVENT_ACTIONS),
)
WRITE_ROUTES = frozenset(
    {
        "DELETE /wiki/rest/api/group/userByGroupId",
        "POST /wiki/rest/api/group/userByGroupId",
        f"POST {ADMIN_SUSPEND}",
        f"POST {ADMIN_RESTORE}",
        f"POST {ADMIN_ROLES_ASSIGN}",
        f"POST {ADMIN_ROLES_REVOKE}",
        f"POST {LIFECYCLE_DISABLE}",
        f"POST {LIFECYCLE_ENABLE}",
    }
)
ADMIN_SEARCH = "/admin/v2/orgs/{orgId}/directories/-/users/search"
# The simulator's own control surface (not Atlassian's): never counted, never faulted.
CONTROL_PREFIX = "/_simulator"

DEFAULT_FAULT_FAMILIES = frozenset({"confluence", "admin"})


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """What a request is: normalised name (e.g. `GET /wiki/rest/api/group`), family, host."""

    name: str
    family: str
    host: str  # "auth" | "api" | "site" | "other"
    site_ref: str | None = None  # cloud id (api host) or site name (site host)


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
    return re.compile(pattern + "$")


_CONFLUENCE = [(m, t, _compile(t)) for m, t in CONFLUENCE_ENDPOINTS]
_API_PREFIX = re.compile(r"^/api/ex/confluence/([^/]+)(/.*)$")
_SITE_PREFIX = re.compile(r"^/site/([^/]+)(/.*)$")
_ADMIN = _compile("/api" + ADMIN_SEARCH)
_ADMIN_REMEDIATION = [(m, t, _compile("/api" + t)) for m, t in ADMIN_REMEDIATION]


def _confluence(method: str, rest: str, host: str, ref: str) -> RouteInfo:
    for m, template, pattern in _CONFLUENCE:
        if m == method and pattern.match(rest):
            return RouteInfo(f"{method} {template}", "confluence", host, ref)
    return RouteInfo(f"{method} (unmatched)", "confluence", host, ref)


def classify(method: str, path: str) -> RouteInfo:
    """Classify a request path of the simulator's single-port URL layout."""
    if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
        return RouteInfo(f"{method} {path}", "control", "control")
    if path.startswith("/auth/"):
        if path == "/auth/oauth/token":
            return RouteInfo("POST /oauth/token", "oauth", "auth")
        if path == "/auth/authorize":
            return RouteInfo(f"{method} /authorize", "authorize", "auth")
        return RouteInfo(f"{method} (unmatched)", "other", "auth")
    if match := _API_PREFIX.match(path):
        return _confluence(method, match.group(2), "api", match.group(1))
    if path == "/api/oauth/token/accessible-resources":
        return RouteInfo("GET /oauth/token/accessible-resources", "resources", "api")
    if _ADMIN.match(path):
        return RouteInfo(f"POST {ADMIN_SEARCH}", "admin", "api")
    for m, template, pattern in _ADMIN_REMEDIATION:
        if m == method and pattern.match(path):
            return RouteInfo(f"{method} {template}", "admin", "api")
    if match := _SITE_PREFIX.match(path):
        if match.group(2) == "/_edge/tenant_info":
            return RouteInfo("GET /_edge/tenant_info", "edge", "site", match.group(1))
        return _confluence(method, match.group(2), "site", match.group(1))
    return RouteInfo(f"{method} (unmatched)", "other", "other")
