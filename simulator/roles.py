"""Atlassian's role model as the simulator plays it (confluence-api.md §5.9).

Access to Confluence is a *role* on the site's Confluence resource, granted through a group
(the group carries the role) or directly to an account. Role ids are Atlassian's canonical ones
(jira.js admin models ``RoleId`` / ``PlatformRole``, mirroring the Organizations REST API):

- product roles on ``ari:cloud:confluence::site/{cloudId}``: ``atlassian/user`` (access),
  ``atlassian/admin`` (access with product admin permissions), ``atlassian/guest``;
- platform roles: ``atlassian/site-admin`` on the site (``ari:cloud:platform::site/{cloudId}``,
  no directory) and ``atlassian/org-admin`` on the organization.

Assignment methods (``MultiDirectoryRoleAssignmentMethod``): ``direct`` (granted to the account),
``group_direct`` (through a group the account is a member of), ``inferred`` (here: an
organization admin is a site admin of every site).
"""

from __future__ import annotations

from collections.abc import Iterable

USER = "atlassian/user"
ADMIN = "atlassian/admin"
GUEST = "atlassian/guest"
SITE_ADMIN = "atlassian/site-admin"
ORG_ADMIN = "atlassian/org-admin"

PRODUCT_ROLES = (USER, ADMIN, GUEST)  # on the site's Confluence resource
ACCESS_ROLES = frozenset({USER, ADMIN})  # holding one of these = Confluence access
SITE_ROLES = frozenset({*PRODUCT_ROLES, SITE_ADMIN})  # what a site, group or account can hold
KNOWN_ROLES = frozenset({*SITE_ROLES, ORG_ADMIN})

DIRECT = "direct"
GROUP_DIRECT = "group_direct"
INFERRED = "inferred"

# Groups that say nothing about their roles (hand-built or older JSON sites) carry what the
# simulator has always treated them as: every group gives access, the admin groups admin
# rights, and `site-admins` (Atlassian's historical site-admin group) the site-admin role.
LEGACY_GROUP_ROLES: dict[str, tuple[str, ...]] = {
    "confluence-administrators": (USER, ADMIN),
    "administrators": (USER, ADMIN),
    "site-admins": (USER, ADMIN, SITE_ADMIN),
}


def default_group_roles(name: str) -> tuple[str, ...]:
    """The roles a group carries when its data does not say (see LEGACY_GROUP_ROLES)."""
    return LEGACY_GROUP_ROLES.get(name, (USER,))


def check_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """The roles, deduplicated in order; ValueError for a role a site cannot hold."""
    out = tuple(dict.fromkeys(roles))
    unknown = [r for r in out if r not in SITE_ROLES]
    if unknown:
        raise ValueError(f"unknown role(s) {unknown}; a site or group holds {sorted(SITE_ROLES)}")
    return out


def confluence_resource(cloud_id: str) -> str:
    """The ARI of a site's Confluence resource (confluence-api.md §5.8 ``resourceIds``)."""
    return f"ari:cloud:confluence::site/{cloud_id}"


def site_resource(cloud_id: str) -> str:
    """The ARI of the site itself, where the site-admin platform role is assigned."""
    return f"ari:cloud:platform::site/{cloud_id}"


def org_resource(org_id: str) -> str:
    """The ARI of the organization (org-admin)."""
    return f"ari:cloud:platform::org/{org_id}"


def resource_of(role: str, cloud_id: str) -> str:
    """Where a site role is assigned: the Confluence resource, or the site for site-admin."""
    return site_resource(cloud_id) if role == SITE_ADMIN else confluence_resource(cloud_id)
