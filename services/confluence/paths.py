"""Endpoint paths of the Confluence and Atlassian APIs Vigil calls, relative to their base URL."""

from __future__ import annotations

# Confluence REST v1 (relative to the site or gateway base URL).
CURRENT_USER = "/wiki/rest/api/user/current"
GROUPS = "/wiki/rest/api/group"
GROUP_MEMBERS = "/wiki/rest/api/group/{group_id}/membersByGroupId"
# One account's groups (a targeted refresh of one account; confluence-api.md §5.10).
USER_MEMBER_OF = "/wiki/rest/api/user/memberof"
CONTENT_SEARCH = "/wiki/rest/api/content/search"
# The one write (remediation): remove a member from a group (v1 removeMemberFromGroupByGroupId).
GROUP_MEMBER_REMOVE = "/wiki/rest/api/group/userByGroupId"

# Confluence REST v2.
USERS_BULK = "/wiki/api/v2/users-bulk"
PAGE = "/wiki/api/v2/pages/{id}"
SPACES = "/wiki/api/v2/spaces"

# Relative to a site URL (https://{site}.atlassian.net), unauthenticated.
TENANT_INFO = "/_edge/tenant_info"

# v1 `_links.next` is relative to `_links.context`; this is the context on Confluence Cloud.
V1_CONTEXT = "/wiki"

# Atlassian OAuth: relative to the auth base (https://auth.atlassian.com) ...
OAUTH_AUTHORIZE = "/authorize"
OAUTH_TOKEN = "/oauth/token"
# ... and to the API base (https://api.atlassian.com).
ACCESSIBLE_RESOURCES = "/oauth/token/accessible-resources"
# The User Identity API (scope read:me): the signed-in person's public profile.
ME = "/me"
ADMIN_DIRECTORY_USERS_SEARCH = "/admin/v2/orgs/{org_id}/directories/-/users/search"
ADMIN_DIRECTORIES = "/admin/v2/orgs/{org_id}/directories"
ADMIN_ROLE_ASSIGNMENTS = (
    "/admin/v2/orgs/{org_id}/directories/{directory_id}/users/{account_id}/role-assignments"
)
# The organization's audit events as a polling stream, and the names of their actions (§5.10).
ADMIN_EVENTS_STREAM = "/admin/v1/orgs/{org_id}/events-stream"
ADMIN_EVENT_ACTIONS = "/admin/v1/orgs/{org_id}/event-actions"
