"""Check exceptions on both stores: rules, revocation, and the engine's filter over time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from services.check_exceptions.models import ExceptionFilter, ExceptionStatus
from services.check_exceptions.service import ExceptionService
from services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.models import Principal, Role
from services.store import Store

CHECK = "confluence-document-setup"
T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = T0
    changes: list[str] = field(default_factory=list)

    def __call__(self) -> datetime:
        return self.now

    async def changed(self, organization_id: str) -> None:
        self.changes.append(organization_id)


def _service(store: Store, clock: Clock) -> ExceptionService:
    return ExceptionService(
        store.check_exceptions,
        check_ids=lambda: {CHECK, "confluence-mfa-enabled"},
        on_exceptions_changed=clock.changed,
        clock=clock,
    )


ADMIN = Principal("org_a", Role.ADMIN, "key_admin")


@pytest.mark.parametrize(
    ("principal_role", "fields", "error", "field_name"),
    [
        (Role.REVIEWER, {}, Forbidden, None),
        (Role.VIEWER, {}, Forbidden, None),
        (Role.ADMIN, {"reason": "   "}, ValidationFailed, "reason"),
        (Role.ADMIN, {"check_id": "nope"}, NotFound, "checkId"),
        (Role.ADMIN, {"resource_id": ""}, ValidationFailed, "resourceId"),
        (Role.ADMIN, {"expires_at": T0}, ValidationFailed, "expiresAt"),
        (Role.ADMIN, {"expires_at": T0 - timedelta(days=1)}, ValidationFailed, "expiresAt"),
        (
            Role.ADMIN,
            {"expires_at": T0 + timedelta(days=365, seconds=1)},
            ValidationFailed,
            "expiresAt",
        ),
    ],
)
async def test_create_refuses_bad_input(
    store: Store,
    principal_role: Role,
    fields: dict[str, object],
    error: type[Exception],
    field_name: str | None,
) -> None:
    clock = Clock()
    args: dict[str, object] = {
        "check_id": CHECK,
        "resource_id": "ACCESS_CONTROL",
        "reason": "policy rewrite in progress",
        "expires_at": T0 + timedelta(days=30),
        **fields,
    }
    with pytest.raises(error) as raised:
        await _service(store, clock).create(Principal("org_a", principal_role, "k"), **args)  # type: ignore[arg-type]
    if field_name is not None:
        assert field_name in (getattr(raised.value, "field", None) or [])
    assert await store.check_exceptions.count(ExceptionFilter("org_a")) == 0 and clock.changes == []


async def test_lifecycle_and_filter_over_time(store: Store) -> None:
    clock = Clock()
    service = _service(store, clock)
    limit = await service.create(
        ADMIN,
        check_id=CHECK,
        resource_id="ACCESS_CONTROL",
        reason="being rewritten",
        expires_at=(T0 + timedelta(days=365)).replace(tzinfo=None),  # naive = UTC
    )
    assert limit.expires_at == T0 + timedelta(days=365) and limit.created_by == "key_admin"
    with pytest.raises(Conflict):
        await service.create(
            ADMIN,
            check_id=CHECK,
            resource_id="ACCESS_CONTROL",
            reason="again",
            expires_at=T0 + timedelta(days=2),
        )
    clock.now = T0 + timedelta(minutes=1)  # ids sort by creation time
    short = await service.create(
        ADMIN,
        check_id="confluence-mfa-enabled",
        resource_id="acc-1",
        reason="hardware key",
        expires_at=T0 + timedelta(hours=1),
    )
    assert clock.changes == ["org_a", "org_a"]
    assert await service.excepted("org_a", T0) == {
        (CHECK, "ACCESS_CONTROL"),
        ("confluence-mfa-enabled", "acc-1"),
    }
    assert await service.excepted("org_a", T0 + timedelta(hours=1)) == {(CHECK, "ACCESS_CONTROL")}
    assert await service.excepted("org_b", T0) == frozenset()
    clock.now = T0 + timedelta(hours=2)
    assert short.status(clock.now) is ExceptionStatus.EXPIRED
    active = await service.page(ADMIN, check_id=None, include_inactive=False, first=10, after=None)
    assert [e.id for _, e in active.items] == [limit.id]
    every = await service.page(ADMIN, check_id=None, include_inactive=True, first=1, after=None)
    assert every.total_count == 2 and every.has_next_page
    rest = await service.page(
        ADMIN, check_id=None, include_inactive=True, first=1, after=every.end_cursor
    )
    assert [e.id for _, e in every.items + rest.items] == [short.id, limit.id]  # newest first
    other_org = Principal("org_b", Role.ADMIN, "key_b")
    with pytest.raises(NotFound):
        await service.revoke(other_org, limit.id)
    with pytest.raises(Forbidden):
        await service.revoke(Principal("org_a", Role.REVIEWER, "key_r"), limit.id)
    revoked = await service.revoke(ADMIN, limit.id)
    assert (
        revoked.status(clock.now) is ExceptionStatus.REVOKED and revoked.revoked_by == "key_admin"
    )
    with pytest.raises(Conflict):
        await service.revoke(ADMIN, limit.id)
    assert await service.excepted("org_a", clock.now) == frozenset()
    again = await service.create(
        ADMIN,
        check_id=CHECK,
        resource_id="ACCESS_CONTROL",
        reason="new plan",
        expires_at=clock.now + timedelta(days=10),
    )
    assert again.id != limit.id


async def test_only_a_currently_failing_item_can_be_excepted(store: Store) -> None:
    clock = Clock()

    async def failing(organization_id: str, check_id: str) -> set[str]:
        return {"ACCESS_CONTROL"} if (organization_id, check_id) == ("org_a", CHECK) else set()

    service = ExceptionService(
        store.check_exceptions,
        check_ids=lambda: {CHECK},
        failing=failing,
        on_exceptions_changed=clock.changed,
        clock=clock,
    )
    ask = {"check_id": CHECK, "reason": "accepted", "expires_at": T0 + timedelta(days=30)}
    with pytest.raises(ValidationFailed) as err:
        await service.create(ADMIN, resource_id="ACCES_CONTROL", **ask)  # a typo
    assert err.value.code == "NOT_FAILING" and err.value.field == ["input", "resourceId"]
    assert clock.changes == []
    created = await service.create(ADMIN, resource_id="ACCESS_CONTROL", **ask)
    assert created.resource_id == "ACCESS_CONTROL" and clock.changes == ["org_a"]
