"""JSON renderings of site records in Confluence's v1 and v2 shapes."""

from __future__ import annotations

import json
import zlib
from typing import Any
from urllib.parse import quote

from simulator.model import Account, Group, Page, Space, iso
from simulator.site import Site

USER_OPERATIONS = (("use", "application"), ("create_space", "application"))
ADMIN_OPERATIONS = (("administer", "application"), ("administer", "space"))


def _avatar(account: Account) -> dict[str, Any]:
    return {
        "path": f"/wiki/aa-avatar/{account.account_id}",
        "width": 48,
        "height": 48,
        "isDefault": False,
    }


def v1_user(
    account: Account, base: str, *, operations: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """A v1 User: email "" when hidden; accountType "" when unknown."""
    user: dict[str, Any] = {
        "type": "known",
        "accountId": account.account_id,
        "accountType": account.account_type,
        "email": account.visible_email,
        "publicName": account.public_name or account.display_name,
        "profilePicture": _avatar(account),
        "displayName": account.display_name,
        "isExternalCollaborator": account.is_external_collaborator,
        "_expandable": {"operations": "", "personalSpace": ""},
        "_links": {"self": f"{base}/wiki/rest/api/user?accountId={account.account_id}"},
    }
    if operations is not None:
        user["operations"] = operations
        del user["_expandable"]["operations"]
    return user


def v1_operations(admin: bool) -> list[dict[str, str]]:
    """The current user's operations; admins get administer/application."""
    pairs = USER_OPERATIONS + (ADMIN_OPERATIONS if admin else ())
    return [{"operation": op, "targetType": target} for op, target in pairs]


def v1_group(group: Group, base: str, *, management: bool = True) -> dict[str, Any]:
    """A v1 Group. With ``management``: ``usageType`` (``USERBASE_GROUP``, a group of users
    created in Atlassian Administration) and ``managedBy`` (``EXTERNAL`` for a group synced
    from an identity provider, else ``ADMINS``), as Atlassian's current v1 reference shows."""
    rendered: dict[str, Any] = {
        "type": "group",
        "name": group.name,
        "id": group.group_id,
    }
    if management:
        rendered["usageType"] = "USERBASE_GROUP"
        rendered["managedBy"] = "EXTERNAL" if group.synced else "ADMINS"
    rendered["_links"] = {"self": f"{base}/wiki/rest/api/group/by-id?id={group.group_id}"}
    return rendered


def v1_space(space: Space, base: str) -> dict[str, Any]:
    """A v1 Space (collapsed fields listed in _expandable)."""
    return {
        "id": int(space.space_id),
        "key": space.key,
        "name": space.name,
        "type": space.type,
        "status": space.status,
        "_expandable": {
            "settings": "",
            "metadata": "",
            "operations": "",
            "lookAndFeel": "",
            "permissions": "",
            "icon": "",
            "description": "",
            "theme": "",
            "history": "",
            "homepage": "",
        },
        "_links": {
            "webui": f"/spaces/{space.key}",
            "self": f"{base}/wiki/rest/api/space/{space.key}",
        },
    }


def _user_or_unknown(site: Site, account_id: str, base: str) -> dict[str, Any]:
    account = site.get_account(account_id)
    if account is None:
        return {
            "type": "unknown",
            "accountId": account_id,
            "accountType": "",
            "email": "",
            "publicName": "Unknown user",
            "displayName": "Unknown user",
            "_links": {},
        }
    return v1_user(account, base)


def _label(name: str) -> dict[str, Any]:
    return {"prefix": "global", "name": name, "id": str(zlib.crc32(name.encode())), "label": name}


def v1_content(page: Page, site: Site, base: str, expand: set[str]) -> dict[str, Any]:
    """A v1 Content for a page with the requested expansions; others collapsed."""
    self_link = f"{base}/wiki/rest/api/content/{page.page_id}"
    content: dict[str, Any] = {
        "id": page.page_id,
        "type": "page",
        "status": page.status,
        "title": page.title,
    }
    expandable: dict[str, str] = {
        "container": f"/rest/api/space/{page.space_key}",
        "operations": "",
        "children": "",
        "restrictions": "",
        "ancestors": "",
        "descendants": "",
    }
    space = site.spaces.get(page.space_key)
    if "space" in expand and space is not None:
        content["space"] = v1_space(space, base)
    else:
        expandable["space"] = f"/rest/api/space/{page.space_key}"
    if "history" in expand:
        content["history"] = {
            "latest": True,
            "createdBy": _user_or_unknown(site, page.created_by, base),
            "createdDate": iso(page.created_at),
            "_expandable": {
                "lastUpdated": "",
                "previousVersion": "",
                "contributors": "",
                "nextVersion": "",
            },
            "_links": {"self": f"{self_link}/history"},
        }
    else:
        expandable["history"] = f"/rest/api/content/{page.page_id}/history"
    if "version" in expand:
        content["version"] = {
            "by": _user_or_unknown(site, page.last_modified_by, base),
            "when": iso(page.last_modified),
            "friendlyWhen": iso(page.last_modified),
            "message": "",
            "number": page.version,
            "minorEdit": False,
            "_expandable": {"content": f"/rest/api/content/{page.page_id}", "collaborators": ""},
            "_links": {"self": f"{self_link}/version/{page.version}"},
        }
    else:
        expandable["version"] = ""
    if "metadata.labels" in expand:
        labels = [_label(name) for name in page.labels]
        content["metadata"] = {
            "labels": {
                "results": labels,
                "start": 0,
                "limit": 200,
                "size": len(labels),
                "_links": {"self": f"{self_link}/label"},
            },
            "_expandable": {
                "currentuser": "",
                "comments": "",
                "properties": "",
                "frontend": "",
                "likes": "",
            },
        }
    else:
        expandable["metadata"] = ""
    if "body.storage" in expand or "body" in expand:
        body: dict[str, Any] = {
            "_expandable": {
                k: ""
                for k in (
                    "editor",
                    "view",
                    "export_view",
                    "styled_view",
                    "dynamic",
                    "editor2",
                    "anonymous_export_view",
                    "atlas_doc_format",
                    "wiki",
                )
            }
        }
        if "body.storage" in expand:
            body["storage"] = {
                "value": page.body,
                "representation": "storage",
                "embeddedContent": [],
                "_expandable": {"content": f"/rest/api/content/{page.page_id}"},
            }
        else:
            body["_expandable"]["storage"] = ""
        content["body"] = body
    else:
        expandable["body"] = ""
    content["extensions"] = {"position": int(page.page_id) % 1000}
    content["_expandable"] = expandable
    slug = quote(page.title.replace(" ", "+"), safe="+")
    content["_links"] = {
        "webui": f"/spaces/{page.space_key}/pages/{page.page_id}/{slug}",
        "edit": f"/pages/resumedraft.action?draftId={page.page_id}",
        "tinyui": f"/x/{page.page_id}",
        "self": self_link,
    }
    return content


def v2_user(account: Account) -> dict[str, Any]:
    """A v2 User; a hidden email is absent or "" (alternating by account id)."""
    user: dict[str, Any] = {
        "accountId": account.account_id,
        "accountType": account.account_type or "unknown",
        "accountStatus": account.account_status,
        "displayName": account.display_name,
        "publicName": account.public_name or account.display_name,
        "timeZone": account.time_zone,
        "isExternalCollaborator": account.is_external_collaborator,
        "profilePicture": {"path": f"/wiki/aa-avatar/{account.account_id}", "isDefault": False},
    }
    if account.visible_email or zlib.crc32(account.account_id.encode()) % 2:
        user["email"] = account.visible_email
    return user


def v2_body(page: Page, fmt: str) -> dict[str, Any]:
    """The v2 `body` object for the requested body-format ("" = none)."""
    if not fmt:
        return {}
    if fmt == "atlas_doc_format":
        doc = {
            "type": "doc",
            "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": page.title}]}],
        }
        return {fmt: {"representation": fmt, "value": json.dumps(doc)}}
    return {fmt: {"representation": fmt, "value": page.body}}


def v2_page(page: Page, site: Site, fmt: str, *, labels: bool = False) -> dict[str, Any]:
    """A v2 page (PageSingle)."""
    space = site.spaces.get(page.space_key)
    result: dict[str, Any] = {
        "id": page.page_id,
        "status": page.status,
        "title": page.title,
        "spaceId": space.space_id if space else "",
        "parentType": "page",
        "position": int(page.page_id) % 1000,
        "authorId": page.created_by,
        "ownerId": page.created_by,
        "lastOwnerId": None,
        "createdAt": iso(page.created_at),
        "version": {
            "createdAt": iso(page.last_modified),
            "message": "",
            "number": page.version,
            "minorEdit": False,
            "authorId": page.last_modified_by,
        },
        "body": v2_body(page, fmt),
        "_links": {
            "webui": f"/spaces/{page.space_key}/pages/{page.page_id}",
            "editui": f"/pages/resumedraft.action?draftId={page.page_id}",
            "tinyui": f"/x/{page.page_id}",
        },
    }
    if labels:
        result["labels"] = {
            "results": [
                {"id": _label(n)["id"], "name": n, "prefix": "global"} for n in page.labels
            ],
            "meta": {"hasMore": False, "cursor": ""},
            "_links": {"self": f"/wiki/api/v2/pages/{page.page_id}/labels"},
        }
    return result


def v2_space(space: Space) -> dict[str, Any]:
    """A v2 space (SpaceBulk)."""
    result: dict[str, Any] = {
        "id": space.space_id,
        "key": space.key,
        "name": space.name,
        "type": space.type,
        "status": space.status,
        "authorId": space.author_id,
        "homepageId": str(int(space.space_id) + 1),
        "_links": {"webui": f"/spaces/{space.key}"},
    }
    if space.created_at is not None:
        result["createdAt"] = iso(space.created_at)
    return result
