"""A demo organization's audit package, made once per test session: the simulator, Vigil
seeded exactly as `vigil demo` does (api/demo.py), one remediation carried out, then the
package downloaded from GET /audit/package with the public key from GraphQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from api.demo import DemoClient, seed
from services.remediation.executor import evidence_entry
from services.remediation.models import (
    ActionState,
    ActionStep,
    CallRecord,
    Verification,
)
from simulator import Simulator, start_simulator
from simulator.generate import generate_site
from testkit.conditions import until
from testkit.connect import atlassian_settings
from testkit.live import LiveServer, live_server
from tests.remediation.builders import offboarding_action

CHECKS_QUERY = "{ checks { id result { status } } }"


@dataclass(frozen=True)
class DemoPackage:
    zip_bytes: bytes
    public_pem: bytes
    organization_id: str
    responses: dict[str, Any]


async def _remediate(live: LiveServer, org: str) -> None:
    """One action approved, carried out and read back, with its evidence record, as the
    executor leaves it (the executor's own tests drive Atlassian; here only its output)."""
    store = live.container.store
    now = datetime.now(UTC)
    action = offboarding_action(
        "rem_demo_0001", org, "int_demo", "acc-demo-1", display_name="Former Employee"
    )
    await store.remediations.approve([action], approved_by="key_admin", now=now)
    claim = await store.remediations.claim(
        organization_id=org, owner="w", ttl=timedelta(seconds=60), now=now
    )
    assert claim is not None
    call = CallRecord("DELETE", "/wiki/rest/api/group/userByGroupId", 204, None, now)
    done = await store.remediations.record(
        claim,
        ActionStep(
            ActionState.VERIFIED,
            (call,),
            read_back=Verification("GET members", True, "no longer a member", now),
        ),
        now=now,
    )
    assert done is not None
    record = await live.container.services.evidence.record(evidence_entry(done, now))
    await store.remediations.set_evidence(claim, evidence_id=record.id)


async def make_demo_package() -> DemoPackage:
    sim = Simulator(generate_site(users=24, groups=4, pages=4, seed=27))
    with start_simulator(sim) as running:
        async with live_server(
            **atlassian_settings(running),
            allow_insecure_urls=True,
            run_worker=True,
            scheduler_tick_seconds=0.2,
        ) as live:
            org, created = await live.container.services.organizations.create_organization(
                "Acme Audit"
            )
            headers = {"Authorization": f"Bearer {created.secret}"}
            async with httpx.AsyncClient(timeout=120) as http:
                client = DemoClient(http, live.graphql_url, created.secret)
                await seed(client, running, sync_timeout=60)

                async def judged() -> bool:
                    checks = (await client.run(CHECKS_QUERY))["checks"]
                    return all(c["result"] for c in checks)

                await until(judged, what="every check to have a result", timeout=60, interval=0.1)
                await _remediate(live, org.id)
                today = datetime.now(UTC).date()
                period = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}
                asked = await client.run(
                    """mutation($i: AuditPackageInput!) { requestAuditPackage(input: $i) {
                         downloadPath publicKey userErrors { code message } } }""",
                    {"i": period},
                )
                payload = asked["requestAuditPackage"]
                base = live.graphql_url.removesuffix("/graphql")
                resp = await http.get(base + payload["downloadPath"], headers=headers)
                assert resp.status_code == 200, resp.text
                responses = {
                    "bad_period": await http.get(
                        base + "/audit/package?from=2026-02-01&to=2026-01-01", headers=headers
                    ),
                    "no_key": await http.get(base + payload["downloadPath"]),
                }
                viewer = await client.run(
                    'mutation { createApiKey(input: {name: "v", role: VIEWER}) { secret } }'
                )
                responses["viewer"] = await http.get(
                    base + payload["downloadPath"],
                    headers={"Authorization": f"Bearer {viewer['createApiKey']['secret']}"},
                )
            return DemoPackage(
                zip_bytes=resp.content,
                public_pem=payload["publicKey"].encode(),
                organization_id=org.id,
                responses={k: (v.status_code, v.json()) for k, v in responses.items()},
            )
