"""Raw JSON payloads → typed models; tolerant of added or missing optional fields."""

from __future__ import annotations

from typing import Any

from services.confluence.errors import ConfluenceProtocolError, parse_datetime
from services.confluence.models import (
    BulkUser,
    CurrentUser,
    DirectoryUser,
    Group,
    Member,
    Page,
    RoleAssignment,
    Space,
)
from services.models import AccountStatus, AccountType, ClaimStatus, DirectoryStatus

JsonObject = dict[str, Any]


def as_object(value: object, what: str) -> JsonObject:
    """Return ``value`` as a JSON object or raise ConfluenceProtocolError."""
    if not isinstance(value, dict):
        raise ConfluenceProtocolError(f"{what}: expected a JSON object")
    return value


def object_list(data: JsonObject, key: str, what: str) -> list[JsonObject]:
    """Return ``data[key]`` as a list of JSON objects or raise ConfluenceProtocolError."""
    items = data.get(key)
    if not isinstance(items, list):
        raise ConfluenceProtocolError(f"{what}: expected a list in {key!r}")
    return [as_object(item, what) for item in items]


def _obj(data: JsonObject, key: str) -> JsonObject:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _opt_str(data: JsonObject, key: str) -> str | None:
    value = data.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None


def _req_str(data: JsonObject, key: str, what: str) -> str:
    value = _opt_str(data, key)
    if value is None:
        raise ConfluenceProtocolError(f"{what}: missing {key!r}")
    return value


def _opt_int(data: JsonObject, key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _opt_bool(data: JsonObject, key: str) -> bool | None:
    value = data.get(key)
    return value if isinstance(value, bool) else None


def _email(data: JsonObject) -> str | None:
    email = _opt_str(data, "email")
    return (email.strip() or None) if email else None


def _display_name(data: JsonObject) -> str:
    return _opt_str(data, "displayName") or _opt_str(data, "publicName") or ""


def _is_admin(user: JsonObject) -> bool:
    operations = user.get("operations")
    if not isinstance(operations, list):
        return False
    return any(
        isinstance(op, dict)
        and op.get("operation") == "administer"
        and op.get("targetType") == "application"
        for op in operations
    )


def parse_current_user(data: JsonObject) -> CurrentUser:
    """Parse a v1 User expanded with ``operations``."""
    return CurrentUser(
        account_id=_req_str(data, "accountId", "current user"),
        display_name=_display_name(data),
        email=_email(data),
        account_type=AccountType.parse(data.get("accountType")),
        is_admin=_is_admin(data),
    )


def parse_group(data: JsonObject) -> Group:
    """Parse a v1 Group."""
    return Group(id=_req_str(data, "id", "group"), name=_req_str(data, "name", "group"))


def parse_member(data: JsonObject) -> Member:
    """Parse a v1 User listed as a group member."""
    return Member(
        account_id=_req_str(data, "accountId", "group member"),
        account_type=AccountType.parse(data.get("accountType")),
        display_name=_display_name(data),
        email=_email(data),
    )


def parse_bulk_user(data: JsonObject) -> BulkUser:
    """Parse a v2 User from users-bulk."""
    return BulkUser(
        account_id=_req_str(data, "accountId", "user"),
        account_type=AccountType.parse(data.get("accountType")),
        account_status=AccountStatus.parse(data.get("accountStatus")),
        display_name=_display_name(data),
        email=_email(data),
    )


def _labels(data: JsonObject) -> tuple[str, ...]:
    raw = data.get("results")
    items = raw if isinstance(raw, list) else []
    return tuple(name for i in items if isinstance(i, dict) and (name := _opt_str(i, "name")))


def _web_url(data: JsonObject, base: str | None) -> str | None:
    webui = _opt_str(_obj(data, "_links"), "webui")
    if webui is None or base is None or webui.startswith(("http://", "https://")):
        return webui
    return base.rstrip("/") + webui


def _storage(data: JsonObject) -> str | None:
    value = _obj(_obj(data, "body"), "storage").get("value")
    return value if isinstance(value, str) else None


def parse_content(data: JsonObject, base: str | None) -> Page:
    """Parse v1 Content from a CQL search (expand=body.storage,version,space,labels,history)."""
    space, version, history = _obj(data, "space"), _obj(data, "version"), _obj(data, "history")
    return Page(
        id=_req_str(data, "id", "content"),
        title=_opt_str(data, "title") or "",
        status=_opt_str(data, "status") or "unknown",
        space_id=_opt_str(space, "id"),
        space_key=_opt_str(space, "key"),
        space_name=_opt_str(space, "name"),
        version_number=_opt_int(version, "number"),
        last_modified_at=parse_datetime(version.get("when")),
        last_modified_by=_opt_str(_obj(version, "by"), "accountId"),
        created_at=parse_datetime(history.get("createdDate")),
        created_by=_opt_str(_obj(history, "createdBy"), "accountId"),
        labels=_labels(_obj(_obj(data, "metadata"), "labels")),
        web_url=_web_url(data, base),
        body_storage=_storage(data),
    )


def parse_v2_page(data: JsonObject) -> Page:
    """Parse a v2 Page (body-format=storage, include-labels=true)."""
    version = _obj(data, "version")
    return Page(
        id=_req_str(data, "id", "page"),
        title=_opt_str(data, "title") or "",
        status=_opt_str(data, "status") or "unknown",
        space_id=_opt_str(data, "spaceId"),
        space_key=None,
        space_name=None,
        version_number=_opt_int(version, "number"),
        last_modified_at=parse_datetime(version.get("createdAt")),
        last_modified_by=_opt_str(version, "authorId"),
        created_at=parse_datetime(data.get("createdAt")),
        created_by=_opt_str(data, "authorId"),
        labels=_labels(_obj(data, "labels")),
        web_url=_web_url(data, _opt_str(_obj(data, "_links"), "base")),
        body_storage=_storage(data),
    )


def parse_space(data: JsonObject) -> Space:
    """Parse a v2 Space."""
    return Space(
        id=_req_str(data, "id", "space"),
        key=_req_str(data, "key", "space"),
        name=_opt_str(data, "name") or "",
        type=_opt_str(data, "type"),
        status=_opt_str(data, "status"),
    )


# The Admin API's composite ``status`` (§5.8) when it says the account itself is gone: a
# deactivated account, or one scheduled for deletion. A ``suspended`` membership is not the
# account's status: it is ``membership_status`` (per directory, see ``RoleAssignment``).
_ACCOUNT_GONE = {"deactivated", "for_deletion"}


def parse_directory_user(data: JsonObject, cloud_id: str | None = None) -> DirectoryUser:
    """Parse a user from the Admin API directory search (confluence-api.md §5.8).

    - ``mfa_enabled`` only for ``claimStatus: managed`` accounts (documented only for them);
      unknown (None) for unmanaged ones, whatever the field says;
    - ``last_active`` from the ``productAccess`` entry whose ``key`` is ``confluence`` and
      whose ``id`` is the site's ``cloud_id`` (there is no ``lastActive`` field);
    - ``account_status`` from ``accountStatus``, made ``inactive`` when the composite
      ``status`` says the account is deactivated or being deleted;
    - ``membership_status`` from ``membershipStatus`` (the organization-wide aggregate), or
      from the composite ``status`` (``suspended``/``active``) when it is missing;
    - ``site_access``: ``productAccess`` holds that Confluence entry (an access role there);
    - ``platform_roles`` from ``platformRoles`` (only with that expansion).
    """
    claim = ClaimStatus.parse(data.get("claimStatus"))
    entry = _confluence_entry(data.get("productAccess"), cloud_id)
    return DirectoryUser(
        account_id=_req_str(data, "accountId", "directory user"),
        account_type=AccountType.parse(data.get("accountType")),
        account_status=_account_status(data),
        display_name=_opt_str(data, "name") or _opt_str(data, "displayName"),
        email=_email(data),
        mfa_enabled=_opt_bool(data, "mfaEnabled") if claim is ClaimStatus.MANAGED else None,
        last_active=parse_datetime(entry.get("lastActiveTimestamp")) if entry else None,
        membership_status=_membership_status(data),
        claim_status=claim,
        site_access=entry is not None,
        platform_roles=_strings(data.get("platformRoles")),
    )


def _account_status(data: JsonObject) -> AccountStatus:
    status = AccountStatus.parse(data.get("accountStatus"))
    composite = data.get("status")
    if composite in _ACCOUNT_GONE and status is not AccountStatus.CLOSED:
        return AccountStatus.INACTIVE
    if status is AccountStatus.UNKNOWN and composite in ("active", "suspended"):
        return AccountStatus.ACTIVE
    return status


def _membership_status(data: JsonObject) -> DirectoryStatus:
    status = DirectoryStatus.parse(data.get("membershipStatus"))
    if status is DirectoryStatus.UNKNOWN and data.get("status") in ("active", "suspended"):
        return DirectoryStatus.parse(data.get("status"))
    return status


def _confluence_entry(access: object, cloud_id: str | None) -> JsonObject | None:
    """The ``productAccess`` entry of Confluence on the site ``cloud_id`` (other sites and
    other products have their own entries and timestamps)."""
    if cloud_id is None or not isinstance(access, list):
        return None
    for entry in access:
        if (
            isinstance(entry, dict)
            and entry.get("key") == "confluence"
            and entry.get("id") == cloud_id
        ):
            return entry
    return None


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str) and v)


def parse_role_assignment(data: JsonObject) -> RoleAssignment:
    """One resource of a role-assignments page (confluence-api.md §5.9): the roles with their
    ``roleAssignmentMethods`` (the deprecated ``roles`` list, without methods, when that is
    all there is), ``directoryId`` and ``userDirectoryStatus`` (null for platform roles)."""
    roles: dict[str, tuple[str, ...]] = {}
    assignments = data.get("roleAssignments")
    if isinstance(assignments, list):
        for item in assignments:
            if isinstance(item, dict) and isinstance(item.get("role"), str):
                roles[item["role"]] = _strings(item.get("roleAssignmentMethods"))
    else:
        roles = {role: () for role in _strings(data.get("roles"))}
    status = data.get("userDirectoryStatus")
    return RoleAssignment(
        resource_id=_req_str(data, "resourceId", "role assignment"),
        roles=tuple(roles.items()),
        directory_id=_opt_str(data, "directoryId"),
        directory_status=DirectoryStatus.parse(status) if isinstance(status, str) else None,
    )
