"""Admin API writes for remediation and their read-backs (confluence-api.md §5.9).

Writes: suspend / restore an account's access in a directory, revoke a role granted
directly, deactivate / reactivate a managed account (user management API). Reads: an
account's directories, its directory user (``accountStatus``, the organization-wide
``membershipStatus``, the composite ``status``); its role assignments (per directory
``userDirectoryStatus``, each role with its assignment methods) are ``AdminClient``'s.
Any 2xx answers a write, with or without a body (v2's success answer is undocumented; v1's
moved from 204 to 200 + ``{"message"}``). Shapes and what is unconfirmed: docs/remediation.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from services.atlassian.admin import AdminClient
from services.confluence import paths
from services.confluence.errors import ConfluenceProtocolError
from services.confluence.models import WriteAnswer
from services.confluence.parsing import answer_message, as_object, object_list

DIRECTORIES = "/admin/v2/orgs/{org_id}/directories"
DIRECTORY_USER = "/admin/v2/orgs/{org_id}/directories/{directory_id}/users/{account_id}"
SUSPEND = DIRECTORY_USER + "/suspend"
RESTORE = DIRECTORY_USER + "/restore"
ROLE_ASSIGNMENTS = paths.ADMIN_ROLE_ASSIGNMENTS
ROLE_REVOKE = "/admin/v1/orgs/{org_id}/users/{account_id}/roles/revoke"
LIFECYCLE_DISABLE = "/users/{account_id}/manage/lifecycle/disable"
LIFECYCLE_ENABLE = "/users/{account_id}/manage/lifecycle/enable"
ANY_DIRECTORY = "-"
MAX_DIRECTORY_PAGES = 20


def confluence_resource(cloud_id: str) -> str:
    """The ARI of a site's Confluence (the resource of ``atlassian/user`` and
    ``atlassian/admin``; the ``resourceIds`` of the Admin API's filters)."""
    return f"ari:cloud:confluence::site/{cloud_id}"


@dataclass(frozen=True, slots=True)
class DirectoryUserState:
    """The status fields of a directory user, as Atlassian names them (lower case).

    ``membership_status`` is ``membershipStatus``: an organization-wide aggregate
    ("suspended" only when suspended in every directory), not one directory's value."""

    account_status: str | None
    membership_status: str | None
    status: str | None


class DirectoryAdminClient(AdminClient):
    """The Admin API client with the calls remediation makes (same key, retries and errors).

    Every write here sets a state, so repeating one is harmless; the read-back decides."""

    async def directories_of(self, org_id: str, account_id: str) -> list[str]:
        """The ids of the directories the account is a member of (followed across pages)."""
        url = self._base + DIRECTORIES.format(org_id=quote(org_id, safe=""))
        params: dict[str, str | int] = {"accountId": account_id}
        found: list[str] = []
        for _ in range(MAX_DIRECTORY_PAGES):
            response = await self._requester.request(
                "GET", url, endpoint=DIRECTORIES, params=params
            )
            data = as_object(response.data, DIRECTORIES)
            for item in object_list(data, "data", DIRECTORIES):
                directory_id = item.get("directoryId")
                if not isinstance(directory_id, str) or not directory_id:
                    raise ConfluenceProtocolError(f"{DIRECTORIES}: a directory without an id")
                found.append(directory_id)
            links = data.get("links")
            cursor = links.get("next") if isinstance(links, dict) else None
            if not isinstance(cursor, str) or not cursor:
                return found
            params = {"cursor": cursor}  # "all other parameters are discarded" with a cursor
        raise ConfluenceProtocolError(f"{DIRECTORIES}: too many pages")

    async def suspend(self, org_id: str, directory_id: str, account_id: str) -> WriteAnswer:
        """Suspend the account's access in a directory."""
        return await self._write(_path(SUSPEND, org_id, directory_id, account_id), SUSPEND)

    async def restore(self, org_id: str, directory_id: str, account_id: str) -> WriteAnswer:
        """Restore the account's access in a directory."""
        return await self._write(_path(RESTORE, org_id, directory_id, account_id), RESTORE)

    async def revoke_role(
        self, org_id: str, account_id: str, role: str, resource: str
    ) -> WriteAnswer:
        """Revoke a role granted to the account directly (``{"role", "resource"}``)."""
        path = ROLE_REVOKE.format(
            org_id=quote(org_id, safe=""), account_id=quote(account_id, safe="")
        )
        return await self._write(path, ROLE_REVOKE, {"role": role, "resource": resource})

    async def deactivate(self, account_id: str, message: str | None = None) -> WriteAnswer:
        """Deactivate a managed account (user management API; optional ``{"message"}``)."""
        path = LIFECYCLE_DISABLE.format(account_id=quote(account_id, safe=""))
        return await self._write(path, LIFECYCLE_DISABLE, {"message": message} if message else None)

    async def reactivate(self, account_id: str) -> WriteAnswer:
        """Reactivate an account deactivated through the user management API."""
        path = LIFECYCLE_ENABLE.format(account_id=quote(account_id, safe=""))
        return await self._write(path, LIFECYCLE_ENABLE)

    async def directory_user(
        self, org_id: str, account_id: str, directory_id: str = ANY_DIRECTORY
    ) -> DirectoryUserState:
        """The account's status fields in the organization's directory (``-``: any)."""
        url = self._base + _path(DIRECTORY_USER, org_id, directory_id, account_id)
        response = await self._requester.request("GET", url, endpoint=DIRECTORY_USER)
        user = as_object(as_object(response.data, DIRECTORY_USER).get("data"), DIRECTORY_USER)
        state = DirectoryUserState(
            account_status=_lower(user.get("accountStatus")),
            membership_status=_lower(user.get("membershipStatus")),
            status=_lower(user.get("status")),
        )
        if state == DirectoryUserState(None, None, None):
            raise ConfluenceProtocolError(f"{DIRECTORY_USER}: no status field")
        return state

    async def _write(self, path: str, endpoint: str, body: Any = None) -> WriteAnswer:
        response = await self._requester.request(
            "POST", self._base + path, endpoint=endpoint, body=body, body_optional=True
        )
        return WriteAnswer(response.status, answer_message(response.data))


def _lower(value: object) -> str | None:
    return value.lower() if isinstance(value, str) and value else None


def _path(template: str, org_id: str, directory_id: str, account_id: str) -> str:
    return template.format(
        org_id=quote(org_id, safe=""),
        directory_id=quote(directory_id, safe=""),
        account_id=quote(account_id, safe=""),
    )
