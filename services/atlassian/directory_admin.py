"""Admin API writes for remediation: find an account's directories, suspend its
access, read its membership status back. Shapes and what is unconfirmed: docs/remediation.md.
"""

from __future__ import annotations

from urllib.parse import quote

from services.atlassian.admin import AdminClient
from services.confluence.errors import ConfluenceProtocolError
from services.confluence.parsing import as_object, object_list

DIRECTORIES = "/admin/v2/orgs/{org_id}/directories"
DIRECTORY_USER = "/admin/v2/orgs/{org_id}/directories/{directory_id}/users/{account_id}"
SUSPEND = DIRECTORY_USER + "/suspend"
RESTORE = DIRECTORY_USER + "/restore"
MAX_DIRECTORY_PAGES = 20


class DirectoryAdminClient(AdminClient):
    """The Admin API client with the calls remediation makes: an account's directories,
    suspend / restore its access, its membership status (same key, retries and errors).

    Suspend and restore set a state, so repeating one is harmless; the read-back decides.
    """

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

    async def suspend(self, org_id: str, directory_id: str, account_id: str) -> int:
        """Suspend the account's access in a directory; the status code (2xx)."""
        return await self._post(SUSPEND, org_id, directory_id, account_id)

    async def restore(self, org_id: str, directory_id: str, account_id: str) -> int:
        """Restore the account's access in a directory; the status code (2xx)."""
        return await self._post(RESTORE, org_id, directory_id, account_id)

    async def membership_status(self, org_id: str, directory_id: str, account_id: str) -> str:
        """The account's ``membershipStatus`` (or ``status``) in the directory, lower case."""
        url = self._base + _path(DIRECTORY_USER, org_id, directory_id, account_id)
        response = await self._requester.request("GET", url, endpoint=DIRECTORY_USER)
        user = as_object(as_object(response.data, DIRECTORY_USER).get("data"), DIRECTORY_USER)
        status = user.get("membershipStatus") or user.get("status")
        if not isinstance(status, str) or not status:
            raise ConfluenceProtocolError(f"{DIRECTORY_USER}: no membershipStatus")
        return status.lower()

    async def _post(self, template: str, org_id: str, directory_id: str, account_id: str) -> int:
        url = self._base + _path(template, org_id, directory_id, account_id)
        response = await self._requester.request("POST", url, endpoint=template)
        return response.status


def _path(template: str, org_id: str, directory_id: str, account_id: str) -> str:
    return template.format(
        org_id=quote(org_id, safe=""),
        directory_id=quote(directory_id, safe=""),
        account_id=quote(account_id, safe=""),
    )
