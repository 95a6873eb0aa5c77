"""Small pure pieces: failure descriptions, the pager, the event round trip."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from services.atlassian.errors import InvalidGrant
from services.confluence import paths
from services.confluence.errors import (
    ConfluenceAuthError,
    ConfluenceNotFound,
    ConfluenceScopeError,
    ConfluenceTimeout,
    ConfluenceUnavailable,
)
from services.confluence.models import ResultPage
from services.crypto import CredentialDecryptError
from services.integrations.errors import InvalidCredentials
from services.integrations.models import Purpose
from services.integrations.tokens import (
    REFRESH_TIMEOUT_MESSAGE,
    SWAP_LOST_MESSAGE,
    CredentialUnavailable,
    ReauthRequired,
)
from services.sync.events import run_event, run_from_event
from services.sync.failures import describe
from services.sync.models import SnapshotCounts, SyncProgress, SyncRun, SyncRunStatus, SyncTrigger
from services.sync.pager import Stream, StreamFailed, run_stream, run_streams
from services.sync.progress import LeaseLost


def _failed(cause: BaseException, endpoint: str = paths.GROUPS) -> StreamFailed:
    return StreamFailed(endpoint, cause)


@pytest.mark.parametrize(
    ("exc", "reauth", "words"),
    [
        (_failed(ConfluenceAuthError(401, paths.GROUPS, "nope")), True, "reconnect Confluence"),
        (_failed(ConfluenceScopeError(401, paths.GROUPS, "scope")), True, "scope is missing"),
        (_failed(InvalidGrant("invalid_grant")), True, "reconnect Confluence"),
        (ReauthRequired("gone"), True, "reconnect Confluence"),
        (InvalidCredentials("the API token is missing: reconnect"), True, "missing"),
        (
            _failed(
                ConfluenceAuthError(401, paths.ADMIN_DIRECTORY_USERS_SEARCH, "x"),
                paths.ADMIN_DIRECTORY_USERS_SEARCH,
            ),
            True,
            "admin key",
        ),
        (_failed(ConfluenceUnavailable(503, paths.GROUPS, "down")), False, "HTTP 503"),
        (_failed(ConfluenceTimeout("GET /x: timed out")), False, "timed out"),
        (LeaseLost("taken over"), False, "taken over"),
        (_failed(CredentialUnavailable(SWAP_LOST_MESSAGE)), False, "kept changing"),
        (
            _failed(ConfluenceNotFound(404, paths.USERS_BULK, "Not Found"), paths.USERS_BULK),
            False,
            "the connected account cannot view users",
        ),
        (CredentialUnavailable(REFRESH_TIMEOUT_MESSAGE), False, "did not finish in time"),
        (_failed(CredentialDecryptError("bad tag")), False, "VIGIL_SECRET_KEY"),
        (RuntimeError("secret=abc"), False, "internal error"),
    ],
)
def test_failures_say_what_to_do(exc: BaseException, reauth: bool, words: str) -> None:
    failure = describe(exc)
    assert failure.needs_reauth is reauth
    assert words in failure.message
    assert "secret=abc" not in failure.message  # unexpected errors are not echoed
    if isinstance(exc, StreamFailed):
        assert failure.endpoint == exc.endpoint


class Counter:
    def __init__(self) -> None:
        self.pages: list[int] = []

    async def page(self, items: int) -> None:
        self.pages.append(items)


async def test_the_pager_follows_cursors_and_stops_on_a_loop() -> None:
    book = {None: ResultPage([1, 2], "a"), "a": ResultPage([3], "b"), "b": ResultPage([], None)}
    got: list[int] = []

    async def fetch(cursor: str | None) -> ResultPage[int]:
        return book[cursor]

    async def sink(items: list[int]) -> None:
        got.extend(items)

    counter = Counter()
    await run_stream(Stream("/x", fetch, sink), counter)
    assert got == [1, 2, 3] and counter.pages == [2, 1, 0]

    book["b"] = ResultPage([4], "a")  # a server that sends us round in circles
    with pytest.raises(StreamFailed, match="repeats a cursor"):
        await run_stream(Stream("/x", fetch, sink), Counter())


async def test_run_streams_is_bounded_and_reports_the_first_failure() -> None:
    active, peak = 0, 0

    def stream(i: int) -> Stream[int]:
        async def fetch(cursor: str | None) -> ResultPage[int]:
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.01)
            active -= 1
            if i == 7:
                raise ConfluenceUnavailable(503, "/members", "down")
            return ResultPage([i], None)

        async def sink(items: list[int]) -> None:
            return None

        return Stream("/members", fetch, sink)

    with pytest.raises(StreamFailed) as failed:
        await run_streams((stream(i) for i in range(20)), Counter(), concurrency=3)
    assert peak == 3 and failed.value.endpoint == "/members"


def test_run_event_round_trip() -> None:
    run = SyncRun(
        id="run_1", organization_id="org", integration_id="int", purpose=Purpose.POLICY,
        status=SyncRunStatus.SUCCEEDED, trigger=SyncTrigger.MANUAL, snapshot_id="snap_1",
        created_at=datetime(2026, 1, 1, tzinfo=UTC), started_at=datetime(2026, 1, 1, 0, 1, tzinfo=UTC),
        progress=SyncProgress("done", 3, 40, 1, 1), counts=SnapshotCounts(pages=40),
        owner="w", fence=2, follow_up=SyncTrigger.MANUAL,
        not_before=datetime(2026, 1, 1, 1, 0, tzinfo=UTC), warnings=("group 'x' skipped",),
    )  # fmt: skip
    event = run_event(run)
    assert event["integration_id"] == "int" and event["run_id"] == "run_1"
    assert run_from_event(json.loads(json.dumps(event))) == run  # JSON-safe, lossless
