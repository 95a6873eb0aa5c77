"""A browser downloads ``/evidence/export`` by a plain link: the ``evidenceExportLink`` query
(over GraphQL, as a VIEWER), then ``GET`` of the link without any header, under uvicorn. The
link works once and only while the key that made it is valid."""

from __future__ import annotations

import httpx

from services.models import Role
from testkit.graphql_client import gql_http
from testkit.live import live_server as serving

CHECK = "confluence-policy-current"
LINK = """query($id: ID!, $format: EvidenceExportFormat) {
  evidenceExportLink(checkId: $id, format: $format) { url expiresAt } }"""


async def test_a_link_downloads_once_without_a_header() -> None:
    async with serving() as live, httpx.AsyncClient(base_url=live.url, timeout=10) as http:
        services = live.container.services
        org, admin = await services.organizations.create_organization("Acme")
        viewer = await services.api_keys.create_api_key_for(org.id, Role.VIEWER, "auditor")

        async def link(key: str, **variables: object) -> str:
            data = await gql_http(live.graphql_url, key, LINK, {"id": CHECK, **variables})
            return str(data["evidenceExportLink"]["url"])

        url = await link(viewer.secret, format="CSV")  # a read: every role
        assert url.startswith("/evidence/export?token=") and viewer.secret not in url
        first = await http.get(url)  # no Authorization header
        assert first.status_code == 200, first.text
        assert first.headers["content-type"].startswith("text/csv")
        assert f'filename="evidence-{CHECK}.csv"' in first.headers["content-disposition"]
        again = await http.get(url)
        assert again.status_code == 401
        assert again.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "already used" in again.json()["errors"][0]["message"]
        assert (await http.get("/evidence/export", params={"token": "forged"})).status_code == 401

        # JSON by default; the link names the check and format: the query cannot change them.
        url = await link(admin.secret)
        other = await http.get(f"{url}&checkId=nope&format=csv")
        assert other.status_code == 200 and other.json()["checkId"] == CHECK

        # A key revoked after making a link makes the link worthless.
        url = await link(viewer.secret)
        await services.api_keys.revoke_api_key_by_id(viewer.key.id)
        assert (await http.get(url)).status_code == 401

        # Over GET too (urql's default for queries); an unknown check is NOT_FOUND.
        auth = {"Authorization": f"Bearer {admin.secret}"}
        unknown = await http.get(
            "/graphql",
            params={"query": LINK, "variables": '{"id": "no-such-check"}'},
            headers=auth,
        )
        [error] = unknown.json()["errors"]
        assert error["extensions"]["code"] == "NOT_FOUND"
