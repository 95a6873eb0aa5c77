"""A browser downloads ``/evidence/export`` by a plain link: ``createEvidenceExportLink`` over
GraphQL, then ``GET`` of the link without any header, under uvicorn. The link works once, for
a minute, and only while the key that made it is valid."""

from __future__ import annotations

from datetime import timedelta

import httpx

from services.clock import utcnow_ms
from services.evidence.downloads import DownloadLinks
from services.models import Role
from tests.e2e.server_support import serving
from tests.graphql_client import gql_http

CHECK = "confluence-policy-current"
LINK = """mutation($input: CreateEvidenceExportLinkInput!) { createEvidenceExportLink(input: $input) {
  url expiresAt userErrors { field code message } } }"""


async def test_a_link_downloads_once_without_a_header() -> None:
    async with serving() as live, httpx.AsyncClient(base_url=live.url, timeout=10) as http:
        services = live.container.services
        org, admin = await services.organizations.create_organization("Acme")
        viewer = await services.api_keys.create_api_key_for(org.id, Role.VIEWER, "auditor")

        async def link(key: str, **input: object) -> dict[str, object]:
            data = await gql_http(live.graphql_url, key, LINK, {"input": input})
            payload: dict[str, object] = data["createEvidenceExportLink"]
            return payload

        made = await link(viewer.secret, checkId=CHECK, format="CSV")  # a read: every role
        assert made["userErrors"] == [] and str(made["url"]).startswith("/evidence/export?token=")
        assert viewer.secret not in str(made["url"])
        first = await http.get(str(made["url"]))  # no Authorization header
        assert first.status_code == 200, first.text
        assert first.headers["content-type"].startswith("text/csv")
        assert f'filename="evidence-{CHECK}.csv"' in first.headers["content-disposition"]
        again = await http.get(str(made["url"]))
        assert again.status_code == 401
        assert again.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "already used" in again.json()["errors"][0]["message"]
        forged = await http.get("/evidence/export", params={"token": "not-a-token"})
        assert forged.status_code == 401

        # JSON by default; the link names the check and format: the query cannot change them.
        made = await link(admin.secret, checkId=CHECK)
        other = await http.get(f"{made['url']}&checkId=nope&format=csv")
        assert other.status_code == 200 and other.json()["checkId"] == CHECK

        # A key revoked after making a link makes the link worthless.
        made = await link(viewer.secret, checkId=CHECK)
        await services.api_keys.revoke_api_key_by_id(viewer.key.id)
        assert (await http.get(str(made["url"]))).status_code == 401

        refused = await link(admin.secret, checkId="no-such-check")
        assert refused["url"] is None
        assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [  # type: ignore[union-attr]
            (["input", "checkId"], "NOT_FOUND")
        ]


async def test_a_link_expires_after_a_minute() -> None:
    async with serving() as live, httpx.AsyncClient(base_url=live.url, timeout=10) as http:
        services = live.container.services
        _org, admin = await services.organizations.create_organization("Acme")
        principal = await services.api_keys.authenticate(admin.secret)
        assert principal is not None
        stale = DownloadLinks(
            services.evidence,
            download_links=live.container.store.download_links,
            key_valid=services.api_keys.key_still_valid,
            clock=lambda: utcnow_ms() - timedelta(seconds=61),
        )
        made = await stale.create(principal, CHECK, "json")
        assert made.expires_at < utcnow_ms()
        response = await http.get("/evidence/export", params={"token": made.token})
        assert response.status_code == 401
