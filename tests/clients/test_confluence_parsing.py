"""Parsing raw Confluence payloads into models: hidden emails, unknown enums, added fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.confluence.errors import ConfluenceProtocolError
from services.confluence.parsing import (
    parse_bulk_user,
    parse_content,
    parse_current_user,
    parse_directory_user,
    parse_group,
    parse_member,
    parse_role_assignment,
    parse_space,
    parse_v2_page,
)
from services.models import AccountStatus, AccountType, ClaimStatus, DirectoryStatus

V1_MEMBER = {
    "type": "known",
    "accountId": "557058:aaa",
    "accountType": "atlassian",
    "email": "jane@acme.test",
    "publicName": "J. Doe",
    "displayName": "Jane Doe",
    "profilePicture": {"path": "/x.png"},
    "_links": {"self": "https://acme.atlassian.net/wiki/rest/api/user?accountId=557058:aaa"},
}


def test_member_with_visible_email() -> None:
    member = parse_member(V1_MEMBER)
    assert member.account_id == "557058:aaa"
    assert member.account_type is AccountType.ATLASSIAN
    assert member.display_name == "Jane Doe"
    assert member.email == "jane@acme.test"


@pytest.mark.parametrize("email", ["", "   ", None])
def test_hidden_email_is_none(email: str | None) -> None:
    raw = {**V1_MEMBER, "email": email}
    assert parse_member(raw).email is None


def test_missing_email_is_none() -> None:
    raw = {k: v for k, v in V1_MEMBER.items() if k != "email"}
    assert parse_member(raw).email is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("atlassian", AccountType.ATLASSIAN),
        ("app", AccountType.APP),
        ("customer", AccountType.CUSTOMER),
        ("CUSTOMER", AccountType.CUSTOMER),
        ("", AccountType.UNKNOWN),
        (None, AccountType.UNKNOWN),
        ("robot", AccountType.UNKNOWN),
        (7, AccountType.UNKNOWN),
    ],
)
def test_account_type_normalised(raw: object, expected: AccountType) -> None:
    assert parse_member({**V1_MEMBER, "accountType": raw}).account_type is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("active", AccountStatus.ACTIVE),
        ("inactive", AccountStatus.INACTIVE),
        ("closed", AccountStatus.CLOSED),
        ("unknown", AccountStatus.UNKNOWN),
        ("suspended", AccountStatus.UNKNOWN),
        (None, AccountStatus.UNKNOWN),
    ],
)
def test_account_status_normalised(raw: object, expected: AccountStatus) -> None:
    user = parse_bulk_user({"accountId": "a1", "accountType": "app", "accountStatus": raw})
    assert user.account_status is expected
    assert user.account_type is AccountType.APP


def test_display_name_falls_back_to_public_name() -> None:
    raw = {"accountId": "a1", "publicName": "Pub"}
    assert parse_member(raw).display_name == "Pub"


def test_member_without_account_id_is_a_protocol_error() -> None:
    with pytest.raises(ConfluenceProtocolError, match="accountId"):
        parse_member({"displayName": "Ghost"})


def test_unknown_fields_are_tolerated() -> None:
    raw = {**V1_MEMBER, "brandNewField": {"nested": [1, 2]}, "isGuest": True}
    assert parse_member(raw).account_id == "557058:aaa"


def test_current_user_admin_from_operations() -> None:
    raw = {
        **V1_MEMBER,
        "operations": [
            {"operation": "use", "targetType": "application"},
            {"operation": "administer", "targetType": "application"},
        ],
    }
    user = parse_current_user(raw)
    assert user.is_admin is True
    assert user.email == "jane@acme.test"


@pytest.mark.parametrize(
    "operations",
    [None, [], [{"operation": "administer", "targetType": "space"}], "garbage", [None]],
)
def test_current_user_not_admin(operations: object) -> None:
    assert parse_current_user({**V1_MEMBER, "operations": operations}).is_admin is False


def test_group() -> None:
    group = parse_group({"type": "group", "id": "g-1", "name": "confluence-users", "_links": {}})
    assert (group.id, group.name) == ("g-1", "confluence-users")


CONTENT = {
    "id": "123",
    "type": "page",
    "status": "current",
    "title": "Access Control Policy",
    "space": {"id": 98, "key": "POL", "name": "Policies"},
    "version": {"number": 7, "when": "2026-03-01T12:00:00.000Z", "by": {"accountId": "u-2"}},
    "history": {"createdDate": "2024-01-02T08:00:00.000Z", "createdBy": {"accountId": "u-1"}},
    "metadata": {"labels": {"results": [{"name": "policy"}, {"name": "iso27001"}]}},
    "body": {"storage": {"value": "<h1>Purpose</h1><p>x</p>", "representation": "storage"}},
    "_links": {"webui": "/spaces/POL/pages/123/Access+Control+Policy"},
}


def test_v1_content() -> None:
    page = parse_content(CONTENT, "https://acme.atlassian.net/wiki")
    assert page.id == "123"
    assert page.title == "Access Control Policy"
    assert (page.space_id, page.space_key, page.space_name) == ("98", "POL", "Policies")
    assert page.version_number == 7
    assert page.last_modified_at == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert page.last_modified_by == "u-2"
    assert page.created_at == datetime(2024, 1, 2, 8, tzinfo=UTC)
    assert page.created_by == "u-1"
    assert page.labels == ("policy", "iso27001")
    assert (
        page.web_url == "https://acme.atlassian.net/wiki/spaces/POL/pages/123/Access+Control+Policy"
    )
    assert page.body_storage == "<h1>Purpose</h1><p>x</p>"


def test_v1_content_minimal() -> None:
    page = parse_content({"id": "9", "when": "not a date"}, None)
    assert page.title == ""
    assert page.status == "unknown"
    assert page.labels == ()
    assert page.body_storage is None
    assert page.web_url is None
    assert page.last_modified_at is None


def test_v2_page() -> None:
    raw = {
        "id": "123",
        "status": "current",
        "title": "T",
        "spaceId": "98",
        "authorId": "u-1",
        "createdAt": "2024-01-02T08:00:00.000Z",
        "version": {"number": 3, "createdAt": "2025-05-05T05:05:05.000Z", "authorId": "u-2"},
        "body": {"storage": {"value": "<h2>Scope</h2>", "representation": "storage"}},
        "labels": {"results": [{"id": "1", "name": "policy", "prefix": "global"}]},
        "_links": {"webui": "/spaces/POL/pages/123/T", "base": "https://acme.atlassian.net/wiki"},
    }
    page = parse_v2_page(raw)
    assert page.space_id == "98"
    assert page.space_key is None
    assert page.version_number == 3
    assert page.last_modified_by == "u-2"
    assert page.created_by == "u-1"
    assert page.labels == ("policy",)
    assert page.body_storage == "<h2>Scope</h2>"
    assert page.web_url == "https://acme.atlassian.net/wiki/spaces/POL/pages/123/T"


def test_space() -> None:
    space = parse_space({"id": "98", "key": "POL", "name": "Policies", "type": "global"})
    assert (space.id, space.key, space.name, space.type, space.status) == (
        "98",
        "POL",
        "Policies",
        "global",
        None,
    )


def test_directory_user() -> None:
    raw = {
        "accountId": "a1",
        "accountType": "atlassian",
        "accountStatus": "active",
        "status": "active",
        "claimStatus": "managed",
        "name": "Jane",
        "email": "jane@acme.test",
        "mfaEnabled": True,
        "productAccess": [
            {"key": "confluence", "id": "cloud-1", "lastActiveTimestamp": "2026-11-01T00:00:00Z"}
        ],
    }
    user = parse_directory_user(raw, "cloud-1")
    assert user.mfa_enabled is True
    assert user.last_active == datetime(2026, 11, 1, tzinfo=UTC)
    assert user.account_status is AccountStatus.ACTIVE
    assert user.display_name == "Jane"
    assert parse_directory_user(raw).last_active is None  # no cloud id: no site to pick


def test_directory_user_has_no_last_active_field() -> None:
    """Defect 3: Atlassian's directory user has no ``lastActive`` (§5.8)."""
    raw = {"accountId": "a1", "claimStatus": "managed", "lastActive": "2026-11-01T00:00:00Z"}
    assert parse_directory_user(raw, "cloud-1").last_active is None


def test_unmanaged_account_mfa_is_unknown() -> None:
    """Defect 4: ``mfaEnabled`` is documented for managed accounts only (§5.8)."""
    unmanaged = {"accountId": "a1", "claimStatus": "unmanaged", "mfaEnabled": False}
    assert parse_directory_user(unmanaged).mfa_enabled is None
    assert parse_directory_user({**unmanaged, "mfaEnabled": True}).mfa_enabled is None
    managed = {**unmanaged, "claimStatus": "managed"}
    assert parse_directory_user(managed).mfa_enabled is False


@pytest.mark.parametrize(
    ("account_status", "status", "expected"),
    [
        ("active", "active", AccountStatus.ACTIVE),
        # a suspended membership is not the account's status (membership_status, below)
        ("active", "suspended", AccountStatus.ACTIVE),
        (None, "suspended", AccountStatus.ACTIVE),
        ("inactive", "deactivated", AccountStatus.INACTIVE),
        ("active", "for_deletion", AccountStatus.INACTIVE),
        ("closed", "deactivated", AccountStatus.CLOSED),
        ("active", "not_invited", AccountStatus.ACTIVE),
        (None, "active", AccountStatus.ACTIVE),
        (None, "deactivated", AccountStatus.INACTIVE),
        (None, "not_invited", AccountStatus.UNKNOWN),
    ],
)
def test_directory_composite_status(
    account_status: str | None, status: str, expected: AccountStatus
) -> None:
    raw = {"accountId": "a1", "accountStatus": account_status, "status": status}
    assert parse_directory_user(raw).account_status is expected


def test_directory_user_unknown_mfa() -> None:
    user = parse_directory_user({"accountId": "a1", "mfaEnabled": None, "email": ""})
    assert user.mfa_enabled is None
    assert user.email is None
    assert user.last_active is None
    assert user.account_status is AccountStatus.UNKNOWN


@pytest.mark.parametrize(
    ("membership", "status", "expected"),
    [
        ("active", "active", DirectoryStatus.ACTIVE),
        ("suspended", "suspended", DirectoryStatus.SUSPENDED),
        ("no_membership", "not_invited", DirectoryStatus.NO_MEMBERSHIP),
        (None, "suspended", DirectoryStatus.SUSPENDED),  # no membershipStatus: the composite
        (None, "active", DirectoryStatus.ACTIVE),
        (None, "deactivated", DirectoryStatus.UNKNOWN),
        ("later-value", "suspended", DirectoryStatus.SUSPENDED),  # an unknown value: composite
        ("later-value", "deactivated", DirectoryStatus.UNKNOWN),
    ],
)
def test_directory_membership_status(
    membership: str | None, status: str, expected: DirectoryStatus
) -> None:
    raw = {"accountId": "a1", "accountStatus": "active", "status": status}
    if membership is not None:
        raw["membershipStatus"] = membership
    assert parse_directory_user(raw).membership_status is expected


def test_directory_user_access_on_the_site_and_platform_roles() -> None:
    """Confluence access on this site is the ``productAccess`` entry with key ``confluence``
    and the site's cloud id (§5.8): another site or another product is not it."""
    raw = {
        "accountId": "a1",
        "claimStatus": "unmanaged",
        "productAccess": [
            {"key": "jira-software", "id": "cloud-1"},
            {"key": "confluence", "id": "cloud-2"},
        ],
        "platformRoles": ["atlassian/site-admin", 7, ""],
    }
    user = parse_directory_user(raw, "cloud-1")
    assert user.site_access is False and user.claim_status is ClaimStatus.UNMANAGED
    assert user.platform_roles == ("atlassian/site-admin",)
    assert parse_directory_user(raw, "cloud-2").site_access is True
    assert parse_directory_user({"accountId": "a1"}, "cloud-2").site_access is False
    assert parse_directory_user({"accountId": "a1"}).claim_status is ClaimStatus.UNKNOWN


def test_role_assignment() -> None:
    """A role-assignments resource (§5.9): roles with their methods, the directory and the
    account's status there; platform roles have neither."""
    confluence = parse_role_assignment(
        {
            "resourceId": "ari:cloud:confluence::site/c1",
            "resourceOwner": "confluence",
            "roles": ["atlassian/user"],
            "roleAssignments": [
                {"role": "atlassian/user", "roleAssignmentMethods": ["direct", "group_direct"]},
                {"role": "atlassian/admin", "roleAssignmentMethods": []},
                {"roleAssignmentMethods": ["direct"]},
            ],
            "directoryId": "d1",
            "userDirectoryStatus": "suspended",
        }
    )
    assert confluence.methods("atlassian/user") == ("direct", "group_direct")
    assert confluence.methods("atlassian/admin") == () == confluence.methods("atlassian/guest")
    assert (confluence.directory_id, confluence.directory_status) == (
        "d1",
        DirectoryStatus.SUSPENDED,
    )
    platform = parse_role_assignment(
        {
            "resourceId": "ari:cloud:platform::site/c1",
            "roles": ["atlassian/site-admin"],
            "directoryId": None,
            "userDirectoryStatus": None,
        }
    )
    assert platform.methods("atlassian/site-admin") == ()  # deprecated list: held, no method
    assert platform.roles == (("atlassian/site-admin", ()),)
    assert (platform.directory_id, platform.directory_status) == (None, None)
