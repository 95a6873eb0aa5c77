"""Reads over GraphQL next to the same data as plain JSON, ``accounts(first: 100)`` per
second and its latency, and GraphQL's fixed cost (issues 15 and 24).

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
- latency of ``accounts(first: 100)`` pages, p50 / p99 over ``--pages`` requests walking the
  snapshot with ``after`` cursors (target at 100,000 accounts on the wire store: p99 < 100 ms),
  and the same for a status filter and a text search (no target: the search filters the
  cached snapshot in memory, ADR 017);
- ``{ me { role apiKeyId organization { id name } } }`` over GraphQL next to a plain JSON
  route doing what Vigil's plain routes do (authenticate, take a rate-limit token, the same
  service call), and next to one that does not take a token: requests/s of each, one request
  at a time, in turn (target: GraphQL >= 0.6 of plain); and the rate limiter's own cost;
- the store and the machine.

    .venv/bin/python bench/reads.py                               # 20,000 accounts, SecantusDB
    .venv/bin/python bench/reads.py --accounts 100000             # the issue-24 size
    .venv/bin/python bench/reads.py --store embedded
    .venv/bin/python bench/reads.py --quick                        # 2,000 accounts, embedded
    .venv/bin/python bench/reads.py --mongodb-url mongodb://localhost:27017
    .venv/bin/python bench/reads.py --profile-me                   # + cProfile of `me`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from check_latency import accounts, seed
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from sync_wall import machine

from api.container import Container
from api.http_requests import bearer_token
from services.identity.views import AccountView
from services.integrations.models import Purpose
from services.paging import encode_cursor
from services.store import Store
from services.sync.models import AccountFilter, SnapshotScope
from testkit.live import LiveServer, bench_server
from testkit.sync import connected_integration

TARGET = 0.5
ME_TARGET = 0.6
PAGE_P99_TARGET_MS = 100.0  # accounts(first: 100) at 100,000 accounts on the wire store
PAGE = 500  # failing items per check: the most one page may hold

CHECKS = f"""{{ checks {{ id result {{ id status failingItems(first: {PAGE}) {{ totalCount
  pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ resourceType resourceId name
  reason }} }} }} }} }} }}"""
ACCOUNTS = """{ accounts(first: 100) { totalCount pageInfo { hasNextPage endCursor } edges {
  cursor node { accountId displayName email accountType accountStatus isAdmin mfaEnabled groups
  lastActiveAt identity { classification } } } } }"""
PAGED = """query($after: String, $filter: AccountFilter) { accounts(first: 100, after: $after,
  filter: $filter) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node {
  accountId displayName email accountType accountStatus isAdmin mfaEnabled groups lastActiveAt
  identity { classification } } } } }"""
ME = "{ me { role apiKeyId organization { id name } } }"


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

    async def me_of(request: Request, *, limited: bool) -> Response:
        caller = await principal(request)
        if limited and await container.rate_limiter.take(caller.api_key_id):
            return JSONResponse({"errors": [{"message": "rate limited"}]}, status_code=429)
        org = await container.services.organizations.get_organization(caller)
        body = {
            "role": caller.role.value,
            "apiKeyId": caller.api_key_id,
            "organization": {"id": org.id, "name": org.name},
        }
        return JSONResponse({"data": {"me": body}})

    async def me(request: Request) -> Response:  # as /people/import: with a token
        return await me_of(request, limited=True)

    async def me_unlimited(request: Request) -> Response:  # authentication and the call only
        return await me_of(request, limited=False)

    return [
        Route("/bench/plain/checks", checks, methods=["GET"]),
        Route("/bench/plain/accounts", accounts, methods=["GET"]),
        Route("/bench/plain/me", me, methods=["GET"]),
        Route("/bench/plain/me-unlimited", me_unlimited, methods=["GET"]),
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
        for name, account_filter in [
            ("pages", None),
            ("pages_by_status", {"status": "ACTIVE"}),
            ("pages_by_search", {"search": "user 1"}),
        ]:
            out[name] = await page_latencies(http, account_filter, args.pages)
        out["page_breakdown"] = await page_breakdown(live, http, key, args.pages)
        out["me"] = await me_rate(graphql(ME), plain("/bench/plain/me"), args.seconds)
        out["me_unlimited"] = await me_rate(
            graphql(ME), plain("/bench/plain/me-unlimited"), args.seconds
        )
        if args.profile_me:
            out["me_profile"] = await profile(graphql(ME), args.repeat * 20)
    out["rate_limit_take_ms"] = await limiter_cost(live, args.repeat * 20)
    return out


async def seed_accounts(live: LiveServer, store: Store, n: int) -> str:
    """``--pages-only``: an organization with a current snapshot of ``n`` accounts (committed
    with its counts and orders, as a run does) and no people; its ADMIN key."""
    org, created = await live.container.services.organizations.create_organization("Bench")
    integration = await connected_integration(store, org.id, has_admin_key=True)
    scope = SnapshotScope("snap_pages", integration.id, org.id)
    rows = accounts(n)
    started = time.perf_counter()
    for start in range(0, n, 1000):
        await store.snapshot_data.insert_accounts(scope, rows[start : start + 1000])
    await store.snapshot_data.record_counts(scope.snapshot_id)
    await store.integrations.update(
        integration_id=integration.id,
        current_snapshot_id=scope.snapshot_id,
        current_snapshot_at=datetime.now(UTC),
    )
    took = time.perf_counter() - started
    print(f"snapshot of {n} accounts (and its orders) written in {took:.1f} s")
    return created.secret


async def measure_pages(live: LiveServer, key: str, args: argparse.Namespace) -> dict[str, Any]:
    """``--pages-only``: the page latencies and where a page's time goes."""
    headers = {"Authorization": f"Bearer {key}"}
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=live.url, headers=headers, timeout=120) as http:
        for name, account_filter in [("pages", None), ("pages_by_status", {"status": "ACTIVE"})]:
            out[name] = await page_latencies(http, account_filter, args.pages)
        out["page_breakdown"] = await page_breakdown(live, http, key, args.pages)
    return out


async def page_latencies(
    http: httpx.AsyncClient, account_filter: dict[str, str] | None, count: int
) -> dict[str, Any]:
    """``count`` pages of ``accounts(first: 100)``, walking the list with ``after`` (back to
    the first page at the end): p50 / p99 latency in ms."""
    times: list[float] = []
    after: str | None = None
    total = 0
    for _ in range(count + 1):  # the first one warms up
        started = time.perf_counter()
        response = await http.post(
            "/graphql",
            json={"query": PAGED, "variables": {"after": after, "filter": account_filter}},
        )
        times.append(time.perf_counter() - started)
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        page = body["data"]["accounts"]
        total = page["totalCount"]
        after = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None
    measured = sorted(times[1:])
    return {
        "p50_ms": round(statistics.median(measured) * 1000, 1),
        "p99_ms": round(percentile(measured, 0.99) * 1000, 1),
        "requests": len(measured),
        "total_count": total,
    }


async def page_breakdown(
    live: LiveServer, http: httpx.AsyncClient, key: str, count: int
) -> dict[str, dict[str, float]]:
    """Where the time of an ``accounts(first: 100)`` page goes, each part timed alone in turn
    on the same pages (ms, p50 / p99): one round trip to the database (``ping``), the store's
    page (orders and items by id), the service's page (+ the integration lookup and the
    identity and people joins from the caches), and the whole GraphQL request."""
    container = live.container
    principal = await container.services.api_keys.authenticate(key)
    assert principal is not None
    store = container.store
    snapshot = await container.services.snapshots.current_snapshot(
        principal.organization_id, Purpose.ACCESS_REVIEW
    )
    assert snapshot is not None
    parts: dict[str, list[float]] = {"ping": [], "store": [], "service": [], "graphql": []}
    after: str | None = None
    for _ in range(count):
        started = time.perf_counter()
        await store.ping()
        parts["ping"].append(time.perf_counter() - started)
        started = time.perf_counter()
        rows, _ = await store.snapshot_queries.list_accounts(
            snapshot_id=snapshot, filter=AccountFilter(), limit=101, after=after
        )
        parts["store"].append(time.perf_counter() - started)
        started = time.perf_counter()
        await container.services.accounts.accounts(principal, None, 100, encode(after))
        parts["service"].append(time.perf_counter() - started)
        started = time.perf_counter()
        response = await http.post(
            "/graphql", json={"query": PAGED, "variables": {"after": encode(after)}}
        )
        parts["graphql"].append(time.perf_counter() - started)
        assert response.status_code == 200
        after = rows[99].account_id if len(rows) > 100 else None
    out = {}
    for name, times in parts.items():
        ordered = sorted(times)
        out[name] = {
            "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(percentile(ordered, 0.99) * 1000, 1),
        }
    return out


def encode(after: str | None) -> str | None:
    return None if after is None else encode_cursor(after)


def percentile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of sorted values (linear interpolation)."""
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


async def me_rate(
    graphql: Callable[[], Awaitable[bytes]], plain: Callable[[], Awaitable[bytes]], seconds: float
) -> dict[str, Any]:
    """Requests/s of each, one request at a time, the two in turn (time spent in each)."""
    spent = [0.0, 0.0]
    counts = [0, 0]
    for call in (graphql, plain):  # warm-up
        await call()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for i, call in enumerate((graphql, plain)):
            started = time.perf_counter()
            await call()
            spent[i] += time.perf_counter() - started
            counts[i] += 1
    graphql_rate, plain_rate = counts[0] / spent[0], counts[1] / spent[1]
    return {
        "graphql_per_s": round(graphql_rate, 1),
        "plain_json_per_s": round(plain_rate, 1),
        "ratio": round(graphql_rate / plain_rate, 3),
        "requests_each": counts[0],
    }


async def limiter_cost(live: LiveServer, count: int) -> dict[str, float]:
    """Median ms of one rate-limit take, alone (a key of its own)."""
    limiter = live.container.rate_limiter
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await limiter.take("bench-limiter-cost")
        times.append(time.perf_counter() - started)
    times.sort()
    return {
        "p50": round(statistics.median(times) * 1000, 2),
        "p99": round(percentile(times, 0.99) * 1000, 2),
    }


async def profile(call: Callable[[], Awaitable[bytes]], count: int) -> str:
    """cProfile of ``count`` GraphQL ``me`` requests (client and server share this process:
    read the server's rows), the top 25 by cumulative time."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        await call()
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
    return text.getvalue()


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
    # The plain routes beside GraphQL, and no rate limit to speak of.
    server = bench_server(
        args.mongodb_url, args.store, extra_routes=plain_routes, rate_limit_per_minute=10**7
    )
    async with server as (live, store, label):
        if args.pages_only:
            key = await seed_accounts(live, store, args.accounts)
            result = await measure_pages(live, key, args)
        else:
            _, key = await seed(live, store, args.accounts)
            result = await measure(live, key, args)
    profiled = result.pop("me_profile", None)
    report = {
        "accounts": args.accounts,
        **result,
        "target": TARGET,
        "store": label,
        "commit": measured_commit,
        "machine": machine(),
    }
    print(json.dumps(report, indent=2))
    for name in ("checks", "accounts") if not args.pages_only else ():
        r = result[name]
        print(
            f"{name}: GraphQL {r['graphql_ms']} ms ({r['graphql_bytes']:,} B) vs plain JSON "
            f"{r['plain_json_ms']} ms ({r['plain_json_bytes']:,} B): ratio {r['ratio']:.2f} "
            f"(target >= {TARGET}) | store {label} | {machine()}"
        )
    if args.pages_only:
        print_pages(result, label)
        return
    print(
        f"accounts(first: 100): {result['accounts_per_s_graphql']} requests/s over GraphQL "
        f"({result['accounts_per_s_plain_json']} plain JSON) | store {label} | {machine()}"
    )
    print_pages(result, label)
    for name, plain_is in (("me", "with a rate-limit token"), ("me_unlimited", "without")):
        me = result[name]
        print(
            f"me: GraphQL {me['graphql_per_s']} requests/s vs plain JSON ({plain_is}) "
            f"{me['plain_json_per_s']}: ratio {me['ratio']:.2f} (target >= {ME_TARGET}) | "
            f"store {label} | {machine()}"
        )
    print(f"rate-limit take p50 / p99: {result['rate_limit_take_ms']} ms | store {label}")
    if profiled:
        print(profiled)


def print_pages(result: dict[str, Any], label: str) -> None:
    """The page latencies (target beside the unfiltered ones) and where a page's time goes."""
    for name in ("pages", "pages_by_status", "pages_by_search"):
        if name not in result:
            continue
        r = result[name]
        target = f" (target p99 < {PAGE_P99_TARGET_MS:g} ms at 100,000)" if name == "pages" else ""
        print(
            f"accounts(first: 100) {name}: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms over "
            f"{r['requests']} pages of {r['total_count']:,}{target} | store {label} | {machine()}"
        )
    parts = result["page_breakdown"]
    print(
        "accounts(first: 100) page, where the time goes (p50 / p99 ms): "
        + ", ".join(f"{n} {p['p50_ms']} / {p['p99_ms']}" for n, p in parts.items())
        + f" | store {label}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=None, help="default 20,000")
    parser.add_argument("--repeat", type=int, default=None, help="timed requests per measure")
    parser.add_argument("--seconds", type=float, default=None, help="of the requests/s loop")
    parser.add_argument("--store", choices=("embedded", "wire"), default=None)
    parser.add_argument("--mongodb-url", help="a real MongoDB (overrides --store)")
    parser.add_argument("--pages", type=int, default=None, help="accounts pages timed (200)")
    parser.add_argument("--profile-me", action="store_true", help="cProfile GraphQL `me`")
    parser.add_argument(
        "--pages-only",
        action="store_true",
        help="only the accounts pages: a snapshot without people, no evaluation (quicker seed)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="2,000 accounts on the embedded store, a few runs"
    )
    parsed = parser.parse_args()
    quick = parsed.quick
    parsed.accounts = parsed.accounts or (2000 if quick else 20_000)
    parsed.repeat = parsed.repeat or (5 if quick else 10)
    parsed.seconds = parsed.seconds or (2.0 if quick else 10.0)
    parsed.store = parsed.store or ("embedded" if quick else "wire")
    parsed.pages = parsed.pages or (20 if quick else 200)
    asyncio.run(main(parsed))
