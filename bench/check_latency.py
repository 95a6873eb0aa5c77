"""Latency from an API change to the ``checkResultUpdated`` push on a 20,000-account site
(SPEC §6: "a change made through the API is … pushed to subscribers within a second").

Vigil runs under uvicorn in this process on the embedded store (mongomock, the slowest
one), on SecantusDB (``--wire``) or on ``--mongodb-url``. The store is seeded directly with
a current ACCESS_REVIEW snapshot of ``--accounts`` accounts (90 % staff with visible emails,
5 % hidden emails, 5 % app accounts), the matching people (CSV import through the service)
and Confluence as a critical system. A ``gql`` client subscribes over WebSocket; each
sample is one mutation over HTTP and the wait until its result change arrives.

    .venv/bin/python bench/check_latency.py --accounts 20000 --samples 10
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gql import GraphQLRequest

from services.models import AccountStatus, AccountType, Principal, Role
from services.reviews.models import SystemKind
from services.reviews.systems import SystemSettings
from services.store import Store
from services.sync.models import Grant, GrantSource, SnapshotAccount, SnapshotScope
from testkit.graphql_client import failing_items, gql_http, gql_ws
from testkit.live import LiveServer, bench_server
from testkit.sync import connected_integration

OFFBOARD = """mutation($input: OffboardPersonInput!) { offboardPerson(input: $input) {
  person { id } userErrors { message } } }"""
LINK = """mutation($input: LinkAccountInput!) { linkAccount(input: $input) {
  account { accountId } userErrors { message } } }"""
UPDATED = """subscription($id: ID) { checkResultUpdated(checkId: $id) {
  checkId status failingItems(first: 500) { totalCount edges { node { resourceId } } } } }"""


def accounts(n: int) -> list[SnapshotAccount]:
    """Staff with visible emails, then hidden emails, then app accounts."""
    staff, hidden = int(n * 0.9), int(n * 0.95)
    rows = []
    for i in range(n):
        email = f"user{i:06d}@acme.test" if i < staff or i >= hidden else None
        kind = "app" if i >= hidden else "atlassian"
        rows.append(
            SnapshotAccount(
                account_id=f"acc-{i:06d}",
                display_name=f"User {i}",
                email=email if kind != "app" else None,
                account_type=AccountType(kind),
                account_status=AccountStatus.ACTIVE,
                mfa_enabled=i % 7 != 0,
                groups=("confluence-users",),
                access_via=(Grant.via_group("confluence-users", GrantSource.GROUP_MEMBERSHIP),),
                admin_via=(Grant.direct("atlassian/admin"),) if i % 50 == 0 else (),
            )
        )
    return rows


def people_csv(n: int) -> bytes:
    header = "email,name,status,job_role,start_date,offboarded_at\n"
    rows = [f"user{i:06d}@acme.test,User {i},ACTIVE,Engineer,2024-01-02,\n" for i in range(n)]
    return (header + "".join(rows)).encode()


async def seed(live: LiveServer, store: Store, n: int) -> tuple[str, str]:
    """An organization with a current snapshot of ``n`` accounts, people, a critical system."""
    container = live.container
    org, created = await container.services.organizations.create_organization("Bench")
    admin = Principal(org.id, Role.ADMIN, created.key.id)
    integration = await connected_integration(store, org.id, has_admin_key=True)
    started = time.perf_counter()
    scope = SnapshotScope("snap_bench", integration.id, org.id)
    rows = accounts(n)
    for start in range(0, n, 1000):
        await store.snapshot_data.insert_accounts(scope, rows[start : start + 1000])
    await store.snapshot_data.record_counts(scope.snapshot_id)  # as a run does at its commit
    await store.integrations.update(
        integration_id=integration.id, current_snapshot_id="snap_bench",
        current_snapshot_at=datetime.now(UTC),
    )  # fmt: skip
    print(f"snapshot of {n} accounts written in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    staff, created_people = people_csv(int(n * 0.95)).splitlines(keepends=True), 0
    for start in range(1, len(staff), 40_000):  # at most 50,000 people per import
        chunk = b"".join([staff[0], *staff[start : start + 40_000]])
        created_people += (await container.services.people.import_csv(admin, chunk)).created
    print(
        f"{created_people} people imported (+ identities) in {time.perf_counter() - started:.1f} s"
    )
    await container.services.systems.add(admin, SystemKind.CONFLUENCE, SystemSettings())
    started = time.perf_counter()
    await container.reevaluator.settle()
    print(f"first evaluation (cold caches) in {time.perf_counter() - started:.2f} s")
    return org.id, created.secret


@asynccontextmanager
async def subscription(
    live: LiveServer, key: str, check_id: str
) -> AsyncIterator[asyncio.Queue[Any]]:
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def pump() -> None:
        async with gql_ws(live.ws_url, key) as session:
            request = GraphQLRequest(UPDATED, variable_values={"id": check_id})
            async for event in session.subscribe(request):
                queue.put_nowait((time.perf_counter(), event["checkResultUpdated"]))

    task = asyncio.create_task(pump())
    await asyncio.sleep(0.5)
    try:
        yield queue
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def sample(
    live: LiveServer,
    key: str,
    queue: asyncio.Queue[Any],
    mutation: str,
    variables: dict[str, Any],
    done: Callable[[dict[str, Any]], bool],
) -> tuple[float, float]:
    """(mutation response time, time until the matching push) in seconds."""
    started = time.perf_counter()
    await gql_http(live.graphql_url, key, mutation, variables)
    answered = time.perf_counter() - started
    while True:
        at, result = await asyncio.wait_for(queue.get(), 30)
        if done(result):
            return answered, at - started


def report(name: str, samples: list[tuple[float, float]]) -> None:
    pushed = sorted(p for _, p in samples)
    answered = sorted(a for a, _ in samples)
    print(
        f"{name}: push after mutation p50 {statistics.median(pushed) * 1000:.0f} ms, "
        f"max {pushed[-1] * 1000:.0f} ms; mutation response p50 "
        f"{statistics.median(answered) * 1000:.0f} ms ({len(samples)} samples)"
    )


def _listing(account: str, *, present: bool) -> Callable[[dict[str, Any]], bool]:
    """A predicate: the pushed result lists (or no longer lists) ``account``."""

    def done(result: dict[str, Any]) -> bool:
        return (account in {i["resourceId"] for i in failing_items(result)}) is present

    return done


Take = Callable[
    [asyncio.Queue[Any], str, dict[str, Any], Callable[[dict[str, Any]], bool]],
    Awaitable[tuple[float, float]],
]


async def scenarios(
    live: LiveServer, key: str, n: int, count: int, take: Take
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """``count`` samples of offboardPerson and of linkAccount, each taken by ``take(queue,
    mutation, variables, done)``."""
    query = f"{{ people(first: {count}) {{ edges {{ node {{ id email }} }} }} }}"
    people = await gql_http(live.graphql_url, key, query)
    targets = [e["node"] for e in people["people"]["edges"]]
    left = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    offboard, link = [], []
    async with subscription(live, key, "confluence-offboarded-access-removed") as queue:
        for person in targets:
            account = "acc-" + person["email"][4:10]
            variables = {"input": {"personId": person["id"], "offboardedAt": left}}
            offboard.append(await take(queue, OFFBOARD, variables, _listing(account, present=True)))
    hidden = range(int(n * 0.9), int(n * 0.9) + count)
    async with subscription(live, key, "confluence-user-identified") as queue:
        for i, person in zip(hidden, targets, strict=False):
            account = f"acc-{i:06d}"
            variables = {"input": {"accountId": account, "personId": person["id"]}}
            link.append(await take(queue, LINK, variables, _listing(account, present=False)))
    return offboard, link


async def measure(live: LiveServer, key: str, n: int, count: int) -> None:
    offboard, link = await scenarios(live, key, n, count, functools.partial(sample, live, key))
    report("offboardPerson → confluence-offboarded-access-removed", offboard)
    report("linkAccount → confluence-user-identified", link)


async def main(args: argparse.Namespace) -> None:
    kind = "wire" if args.wire else "embedded"
    async with bench_server(args.mongodb_url, kind) as (live, store, _):
        _, key = await seed(live, store, args.accounts)
        await measure(live, key, args.accounts, args.samples)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--wire", action="store_true", help="SecantusDB instead of mongomock")
    parser.add_argument("--mongodb-url", help="a real MongoDB instead of mongomock")
    asyncio.run(main(parser.parse_args()))
