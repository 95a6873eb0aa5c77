"""Evidence download links (``services.evidence.downloads``): signed, short-lived, single use,
tied to the key; what a forged or altered token gets (nothing)."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from services.crypto import KeyRing, generate_key, parse_key
from services.evidence.downloads import DownloadLinks
from services.evidence.models import DownloadGrant
from services.models import Person, Principal, Role

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
CALLER = Principal(organization_id="org_1", role=Role.VIEWER, api_key_id="key_1")
ADA = Person(user_id="usr_ada", display_name="Ada", email="ada@acme.test")
SIGNED_IN = Principal(organization_id="org_1", role=Role.REVIEWER, person=ADA, session_id="ses_1")


class Used:
    def __init__(self) -> None:
        self.hashes: set[str] = set()

    async def use(self, *, token_hash: str, expires_at: datetime) -> bool:
        if token_hash in self.hashes:
            return False
        self.hashes.add(token_hash)
        return True


def links(
    keys: KeyRing,
    now: list[datetime],
    valid: set[str] | None = None,
    sessions: dict[str, Principal] | None = None,
) -> DownloadLinks:
    """``valid``: the API keys that still hold (None: every one); ``sessions``: the live
    sessions and who is signed in by each (as the container's ``link_holder``)."""
    evidence = SimpleNamespace(check_export=lambda check_id, fmt: SimpleNamespace(value=fmt))

    async def holder(grant: DownloadGrant) -> Principal | None:
        if grant.session_id is not None:
            found = (sessions or {}).get(grant.session_id)
            return found if found is not None and found.role is grant.role else None
        if grant.api_key_id is None or (valid is not None and grant.api_key_id not in valid):
            return None
        return Principal(grant.organization_id, grant.role, api_key_id=grant.api_key_id)

    return DownloadLinks(
        evidence,  # type: ignore[arg-type]
        keys,
        download_links=Used(),
        holder=holder,
        clock=lambda: now[0],
    )


def ring() -> KeyRing:
    return KeyRing(parse_key(generate_key()))


async def test_a_link_works_once_for_a_minute_as_its_maker() -> None:
    now = [T0]
    service = links(ring(), now)
    link = service.create(CALLER, "confluence-policy-current", "csv")
    assert link.expires_at == T0 + timedelta(seconds=60)
    found = await service.redeem(link.token)
    assert found is not None
    principal, grant = found
    assert principal == CALLER
    assert (grant.check_id, grant.format) == ("confluence-policy-current", "csv")
    assert await service.redeem(link.token) is None  # once
    late = service.create(CALLER, "confluence-policy-current", "csv")
    now[0] = T0 + timedelta(seconds=61)
    assert await service.redeem(late.token) is None  # expired
    assert service.create(CALLER, "c", "json").token != service.create(CALLER, "c", "json").token


async def test_forged_altered_or_revoked_links_get_nothing() -> None:
    now, keys = [T0], ring()
    service = links(keys, now, valid={"key_1"})
    token = service.create(CALLER, "c", "json").token
    data, _, tag = token.partition(".")
    raw = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    raw["r"] = "ADMIN"  # a VIEWER's link made an ADMIN's
    altered = base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")
    assert await service.redeem(f"{altered}.{tag}") is None
    assert await links(ring(), now).redeem(token) is None  # another VIGIL_SECRET_KEY
    for junk in ("", ".", "x.y", f"{data}.", f"{data}.{tag}x", "é.é"):
        assert await service.redeem(junk) is None
    revoked = links(keys, now, valid=set())
    assert await revoked.redeem(revoked.create(CALLER, "c", "json").token) is None


async def test_a_link_made_before_a_key_rotation_still_works() -> None:
    old_key, new_key = parse_key(generate_key()), parse_key(generate_key())
    now = [T0]
    token = links(KeyRing(old_key), now).create(CALLER, "c", "json").token
    rotated = links(KeyRing(new_key, [old_key]), now)
    assert await rotated.redeem(token) is not None


async def test_a_signed_in_person_s_link_holds_while_their_session_does() -> None:
    now, keys = [T0], ring()
    live = links(keys, now, sessions={"ses_1": SIGNED_IN})
    found = await live.redeem(live.create(SIGNED_IN, "c", "csv").token)
    assert found is not None and found[0] == SIGNED_IN and found[1].api_key_id is None
    ended = links(keys, now, sessions={})
    assert await ended.redeem(ended.create(SIGNED_IN, "c", "csv").token) is None
    demoted = replace(SIGNED_IN, role=Role.VIEWER)
    changed = links(keys, now, sessions={"ses_1": demoted})
    assert await changed.redeem(changed.create(SIGNED_IN, "c", "csv").token) is None
