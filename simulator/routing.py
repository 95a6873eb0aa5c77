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
    ("DELETE", "/wiki/rest/api/group/userByGroupId"),  # remediation's one write
)
# Admin API directory endpoints of remediation, relative to api.atlassian.com.
ADMIN_DIRECTORIES = "/admin/v2/orgs/{orgId}/directories"
ADMIN_DIRECTORY_USER = "/admin/v2/orgs/{orgId}/directories/{directoryId}/users/{accountId}"
ADMIN_SUSPEND = ADMIN_DIRECTORY_USER + "/suspend"
ADMIN_RESTORE = ADMIN_DIRECTORY_USER + "/restore"
ADMIN_REMEDIATION = (
    ("GET", ADMIN_DIRECTORIES),
    ("GET", ADMIN_DIRECTORY_USER),
    ("POST", ADMIN_SUSPEND),
    ("POST", ADMIN_RESTORE),
)
WRITE_ROUTES = frozenset(
    {
        "DELETE /wiki/rest/api/group/userByGroupId",
        f"POST {ADMIN_SUSPEND}",
        f"POST {ADMIN_RESTORE}",
    }
)
ADMIN_SEARCH = "/admin/v2/orgs/{orgId}/directories/-/users/search"

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
