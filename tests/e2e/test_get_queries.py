"""Queries over GET (GraphQL over HTTP, urql's default) under uvicorn: the same key, answers
and limits as POST; never a mutation or a subscription."""

from __future__ import annotations

import json

import httpx

from testkit.live import live_server as serving

ME = "query Me { me { role organization { name } } }"


async def test_queries_run_over_get_and_writes_are_refused() -> None:
    async with serving() as live, httpx.AsyncClient(base_url=live.url, timeout=10) as http:
        services = live.container.services
        _org, created = await services.organizations.create_organization("Acme")
        auth = {"Authorization": f"Bearer {created.secret}"}

        answer = await http.get("/graphql", params={"query": ME}, headers=auth)
        posted = await http.post("/graphql", json={"query": ME}, headers=auth)
        assert answer.status_code == 200 and answer.json() == posted.json()
        assert answer.json()["data"]["me"]["organization"]["name"] == "Acme"
        assert answer.headers["cache-control"] == "no-store"  # an answer for this key only
        assert "Authorization" in answer.headers["vary"]

        # Variables and operationName as query parameters (JSON-encoded variables).
        named = "query A { me { role } } query B($id: ID!) { check(id: $id) { id } }"
        params = {
            "query": named,
            "operationName": "B",
            "variables": json.dumps({"id": "confluence-policy-current"}),
        }
        answer = await http.get("/graphql", params=params, headers=auth)
        assert answer.json() == {"data": {"check": {"id": "confluence-policy-current"}}}

        unauthenticated = await http.get("/graphql", params={"query": ME})
        assert unauthenticated.status_code == 401

        admin = await services.api_keys.authenticate(created.secret)
        assert admin is not None
        keys_before = len(await services.api_keys.list_api_keys(admin))
        create = 'mutation { createApiKey(input: {role: ADMIN, name: "by GET"}) { secret } }'
        for query, operation in (
            (create, None),
            ("subscription { peopleChanged { totalCount } }", None),
            ("query Q { me { role } } " + create.replace("mutation", "mutation M"), "M"),
        ):
            params = {"query": query} | ({"operationName": operation} if operation else {})
            refused = await http.get("/graphql", params=params, headers=auth)
            assert refused.status_code == 405, refused.text
            assert refused.headers["allow"] == "POST"
            error = refused.json()["errors"][0]
            assert error["extensions"]["code"] == "METHOD_NOT_ALLOWED"
            assert "POST" in error["message"]
        after = await services.api_keys.list_api_keys(admin)
        assert len(after) == keys_before  # nothing was created

        # A malformed document over GET is a GraphQL error, as over POST.
        broken = await http.get("/graphql", params={"query": "{ me { "}, headers=auth)
        assert broken.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
