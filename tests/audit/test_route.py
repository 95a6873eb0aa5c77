"""GET /audit/package refuses a broken evidence chain: 409 CONFLICT as JSON, never a zip."""

from __future__ import annotations

import httpx

from testkit.live import LiveServer
from tests.evidence.support import entry, raw


async def test_a_broken_chain_is_refused_with_409_and_no_package(
    live: LiveServer, http: httpx.AsyncClient
) -> None:
    services = live.container.services
    org, created = await services.organizations.create_organization("Acme")
    for n in range(1, 4):
        await services.evidence.record(entry(org.id, n))
    auth = {"Authorization": f"Bearer {created.secret}"}
    url = f"{live.url}/audit/package"
    period = {"from": "2025-12-31", "to": "2026-01-02"}  # entry() records on 2026-01-01
    store = live.container.store
    await raw(store).update_one(
        {"organization_id": org.id, "sequence": 2}, {"$set": {"check_id": "forged"}}
    )

    refused = await http.get(url, params=period, headers=auth)

    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/json")
    [error] = refused.json()["errors"]
    assert error["extensions"]["code"] == "CONFLICT"
    assert "broken at #2" in error["message"]
