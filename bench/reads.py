"""Reads over GraphQL next to the same data as plain JSON, and ``accounts(first: 100)`` per
second (issue 15).

Vigil runs under uvicorn in this process (no worker) on the chosen store: ``wire``
(SecantusDB in its own process, the default), ``embedded`` (mongomock) or ``--mongodb-url``.
It is seeded as ``bench/check_latency.py`` seeds it: a current ACCESS_REVIEW snapshot of
``--accounts`` accounts, the people of the visible and hidden emails, Confluence as a critical
system, and one evaluation of the checks. Two extra routes on the same app answer the same
data as plain JSON: the same service calls (authentication included) and ``json.dumps`` of
the same shape, so both go through the same HTTP server, client and store. Printed:

- ``checks { result { failingItems(first: 500) { … } } }`` over GraphQL ÷ plain JSON (the
  ratio is plain time ÷ GraphQL time, i.e. GraphQL's speed as a share of plain JSON's;
  target >= 0.5; the two are requested in turn), the same for ``accounts(first: 100)``;
- requests/s of ``accounts(first: 100)`` (one client, one request at a time);
- the store and the machine.

    .venv/bin/python bench/reads.py                               # 20,000 accounts, SecantusDB
    .venv/bin/python bench/reads.py --store embedded
    .venv/bin/python bench/reads.py --quick                        # 2,000 accounts, embedded
    .venv/bin/python bench/reads.py --mongodb-url mongodb://localhost:27017
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import uvicorn
from check_latency import seed
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from sync_wall import machine

from api.app import create_app
from api.container import Container
from api.http_requests import bearer_token
from api.settings import Settings
from services.crypto import generate_key
from services.identity.views import AccountView
from services.store import Store
from services.store.client import connect
from testkit.live import LiveServer
from testkit.mongo import free_port, wire_server

TARGET = 0.5
PAGE = 500  # failing items per check: the most one page may hold

CHECKS = f"""{{ checks {{ id result {{ id status failingItems(first: {PAGE}) {{ totalCount
  pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ resourceType resourceId name
  reason }} }} }} }} }} }}"""
ACCOUNTS = """{ accounts(first: 100) { totalCount pageInfo { hasNextPage endCursor } edges {
  cursor node { accountId displayName email accountType accountStatus isAdmin mfaEnabled groups
  lastActiveAt identity { classification } } } } }"""


def plain_routes(container: Container) -> list[Route]:
    """The same data as ``CHECKS`` and ``ACCOUNTS``, as plain JSON (bench only)."""

    async def principal(request: Request) -> Any:
        found = await container.services.api_keys.authenticate(
            bearer_token(request.headers.get("authorization"))
        )
        assert found is not None
        return found

    async def checks(request: Request) -> Response:
        caller = await principal(request)
        service = container.services.checks
        out = []
        for view in await service.list_checks(caller, paged=True):
            r = view.result
            result = None
            if r is not None and r.id is not None and view.failing_count is not None:
                page = await service.failing_items(caller, r.id, view.failing_count, PAGE, None)
                edges = [
                    {
                        "cursor": c,
                        "node": {
                            "resourceType": i.resource_type.upper(),
                            "resourceId": i.resource_id,
                            "name": i.name,
                            "reason": i.reason,
                        },
                    }
                    for c, i in page.items
                ]
                result = {
                    "id": r.id,
                    "status": r.status.value,
                    "failingItems": {
                        "totalCount": page.total_count,
                        "pageInfo": {
                            "hasNextPage": page.has_next_page,
                            "endCursor": page.end_cursor,
                        },
                        "edges": edges,
                    },
                }
            out.append({"id": view.check.id, "result": result})
        return JSONResponse({"data": {"checks": out}})

    async def accounts(request: Request) -> Response:
        caller = await principal(request)
        page = await container.services.accounts.accounts(caller, None, 100, None)
        edges = [{"cursor": c, "node": _account(a)} for c, a in page.items]
        info = {"hasNextPage": page.has_next_page, "endCursor": page.end_cursor}
        body = {"totalCount": page.total_count, "pageInfo": info, "edges": edges}
        return JSONResponse({"data": {"accounts": body}})

    return [
        Route("/bench/plain/checks", checks, methods=["GET"]),
        Route("/bench/plain/accounts", accounts, methods=["GET"]),
    ]


def _account(view: AccountView) -> dict[str, Any]:
    a = view.account
    return {
        "accountId": a.account_id,
        "displayName": a.display_name,
        "email": a.email,
        "accountType": (a.account_type or "unknown").upper(),
        "accountStatus": a.account_status.upper(),
        "isAdmin": a.is_admin,
        "mfaEnabled": a.mfa_enabled,
        "groups": list(a.groups),
        "lastActiveAt": a.last_active_at.isoformat() if a.last_active_at else None,
        "identity": {"classification": view.identity.classification.value},
    }


async def serve(store: Store) -> tuple[LiveServer, uvicorn.Server, asyncio.Task[None]]:
    """Vigil with the plain routes, under uvicorn on a free port (no rate limit to speak of)."""
    port = free_port()
    settings = Settings(
        host="127.0.0.1",
        port=port,
        secret_key=generate_key(),
        evidence_hmac_key=generate_key(),
        allow_insecure_urls=True,
        public_url=f"http://127.0.0.1:{port}",
        run_worker=False,
        rate_limit_per_minute=10**7,
    )
    app = create_app(settings, store=store)
    container: Container = app.state.container
    app.router.routes[0:0] = plain_routes(container)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    return LiveServer(f"http://127.0.0.1:{port}", container), server, task


async def timed(
    first: Callable[[], Awaitable[bytes]], second: Callable[[], Awaitable[bytes]], repeat: int
) -> tuple[float, int, float, int]:
    """Median seconds and response size of each of two calls, made in turn ``repeat`` times
    after one warm-up each, so that a burst of load on the machine hits both alike."""
    sizes = [len(await first()), len(await second())]
    times: list[list[float]] = [[], []]
    for _ in range(repeat):
        for i, call in enumerate((first, second)):
            started = time.perf_counter()
            await call()
            times[i].append(time.perf_counter() - started)
    return statistics.median(times[0]), sizes[0], statistics.median(times[1]), sizes[1]


async def measure(live: LiveServer, key: str, args: argparse.Namespace) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=live.url, headers=headers, timeout=120) as http:

        def graphql(query: str) -> Callable[[], Awaitable[bytes]]:
            async def call() -> bytes:
                response = await http.post("/graphql", json={"query": query})
                body = response.json()
                assert response.status_code == 200 and "errors" not in body, body
                return response.content

            return call

        def plain(path: str) -> Callable[[], Awaitable[bytes]]:
            async def call() -> bytes:
                response = await http.get(path)
                response.json()
                assert response.status_code == 200, response.text
                return response.content

            return call

        data = json.loads(await graphql(CHECKS)())["data"]["checks"]
        out["failing_items"] = {
            c["id"]: c["result"]["failingItems"]["totalCount"] for c in data if c["result"]
        }
        for name, query, path in [
            ("checks", CHECKS, "/bench/plain/checks"),
            ("accounts", ACCOUNTS, "/bench/plain/accounts"),
        ]:
            gql_s, gql_size, plain_s, plain_size = await timed(
                graphql(query), plain(path), args.repeat
            )
            out[name] = {
                "graphql_ms": round(gql_s * 1000, 1),
                "plain_json_ms": round(plain_s * 1000, 1),
                "graphql_bytes": gql_size,
                "plain_json_bytes": plain_size,
                "ratio": round(plain_s / gql_s, 3),
            }
        for name, call in [
            ("graphql", graphql(ACCOUNTS)),
            ("plain_json", plain("/bench/plain/accounts")),
        ]:
            count, started = 0, time.perf_counter()
            while time.perf_counter() - started < args.seconds:
                await call()
                count += 1
            out[f"accounts_per_s_{name}"] = round(count / (time.perf_counter() - started), 2)
    return out


def commit() -> str:
    try:
        root = Path(__file__).resolve().parents[1]
        git = ["git", "-C", str(root)]
        rev = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True)
        return rev.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


async def main(args: argparse.Namespace) -> None:
    measured_commit = commit()  # the code this process loaded, not a later one
    async with AsyncExitStack() as stack:
        if args.mongodb_url:
            label = "mongodb"
            store = Store.open(args.mongodb_url, f"vigil_bench_{uuid.uuid4().hex[:8]}")
        elif args.store == "wire":
            label = "wire (SecantusDB)"
            url = stack.enter_context(wire_server())
            store = Store.open(url, f"vigil_bench_{uuid.uuid4().hex[:8]}")
        else:
            label = "embedded (mongomock)"
            client, embedded = connect(None)
            store = Store(client, "vigil_bench", embedded=embedded)
        await store.ensure_indexes()
        live, server, task = await serve(store)
        try:
            _, key = await seed(live, store, args.accounts)
            result = await measure(live, key, args)
        finally:
            if not store.embedded:
                await store.drop()
            server.should_exit = True
            await task
    report = {
        "accounts": args.accounts,
        **result,
        "target": TARGET,
        "store": label,
        "commit": measured_commit,
        "machine": machine(),
    }
    print(json.dumps(report, indent=2))
    for name in ("checks", "accounts"):
        r = result[name]
        print(
            f"{name}: GraphQL {r['graphql_ms']} ms ({r['graphql_bytes']:,} B) vs plain JSON "
            f"{r['plain_json_ms']} ms ({r['plain_json_bytes']:,} B): ratio {r['ratio']:.2f} "
            f"(target >= {TARGET}) | store {label} | {machine()}"
        )
    print(
        f"accounts(first: 100): {result['accounts_per_s_graphql']} requests/s over GraphQL "
        f"({result['accounts_per_s_plain_json']} plain JSON) | store {label} | {machine()}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=None, help="default 20,000")
    parser.add_argument("--repeat", type=int, default=None, help="timed requests per measure")
    parser.add_argument("--seconds", type=float, default=None, help="of the requests/s loop")
    parser.add_argument("--store", choices=("embedded", "wire"), default=None)
    parser.add_argument("--mongodb-url", help="a real MongoDB (overrides --store)")
    parser.add_argument(
        "--quick", action="store_true", help="2,000 accounts on the embedded store, a few runs"
    )
    parsed = parser.parse_args()
    quick = parsed.quick
    parsed.accounts = parsed.accounts or (2000 if quick else 20_000)
    parsed.repeat = parsed.repeat or (5 if quick else 10)
    parsed.seconds = parsed.seconds or (2.0 if quick else 10.0)
    parsed.store = parsed.store or ("embedded" if quick else "wire")
    asyncio.run(main(parsed))
